"""A small JSON Schema (draft-04) validator for oci-schemas/.

`jsonschema` costs ~100 ms of imports, which `create` would pay on every
container. This module implements the draft-04 keywords our schemas use, with
nothing but the standard library, and reports every error with its JSON path.
tests/unit/test_schema_agreement.py checks that its verdict equals jsonschema's
on the corpus of configs; a schema using a keyword not handled here fails
loudly at load (UnsupportedKeyword), so the two cannot silently drift apart.
"""

import os

from . import fastjson

# Keywords this validator understands; anything else in a schema is an error.
KNOWN = frozenset(
    (
        "type",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "items",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "$ref",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
        "minProperties",
        "maxProperties",
        # annotations only
        "description",
        "id",
        "$schema",
        "definitions",
        "title",
        "default",
        "examples",
    )
)


class UnsupportedKeyword(Exception):
    pass


# -- patterns without `re` ------------------------------------------------------
# `import re` costs 10-18 ms, paid by every create. The schemas use a dozen
# patterns; each one below is matched by hand, exactly as re.search would
# (tests/unit/test_schema_patterns.py compares them on thousands of strings).
# A pattern missing here still works: it falls back to `re`.

_DIGITS = frozenset("0123456789")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM_HYPHEN = _DIGITS | _UPPER | frozenset("abcdefghijklmnopqrstuvwxyz-")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class _Matcher:
    __slots__ = ("search",)

    def __init__(self, fn, dollar=False):
        if dollar:
            # re's `$` also matches just before one final newline
            self.search = lambda t: fn(t) or (t.endswith("\n") and fn(t[:-1]))
        else:
            self.search = fn


def _numeric(t):
    """0|[1-9][0-9]*"""
    return t == "0" or (t != "" and t[0] != "0" and _DIGITS.issuperset(t))


def _semver(t):
    core, plus, build = t.partition("+")
    if plus and not all(x and _ALNUM_HYPHEN.issuperset(x) for x in build.split(".")):
        return False
    core, dash, pre = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3 or not all(_numeric(x) for x in parts):
        return False
    if dash:
        for x in pre.split("."):
            if not x or not _ALNUM_HYPHEN.issuperset(x):
                return False
            if _DIGITS.issuperset(x) and not _numeric(x):
                return False  # all digits: no leading zero
    return True


def _cpu_list(t):
    if t == "":
        return True
    for part in t.split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(e and _DIGITS.issuperset(e) for e in ends):
            return False
    return True


def _page_size(t):
    if not t.endswith("B"):
        return False
    n = t[:-1]
    if n and n[-1] in "KMGTPE":
        n = n[:-1]
    return n != "" and n[0] != "0" and _DIGITS.issuperset(n)


_HEX = frozenset("0123456789abcdefABCDEF")


def _volume_guid_path(t):
    """\\\\?\\Volume{8-4-4-4-12 hex}, optionally with a final backslash."""
    prefix = "\\\\?\\Volume{"
    if not t.startswith(prefix):
        return False
    rest = t[len(prefix) :]
    if rest.endswith("\\"):
        rest = rest[:-1]
    if not rest.endswith("}"):
        return False
    groups = rest[:-1].split("-")
    return [len(g) for g in groups] == [8, 4, 4, 4, 12] and all(_HEX.issuperset(g) for g in groups)


FAST_PATTERNS = {
    "^\\\\\\\\\\?\\\\Volume\\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\}\\\\?$": _Matcher(
        _volume_guid_path, True
    ),
    "^/": _Matcher(lambda t: t.startswith("/")),
    "^MB:": _Matcher(lambda t: t.startswith("MB:")),
    "[\\n\\r]": _Matcher(lambda t: "\n" in t or "\r" in t),
    "^[^=]+=": _Matcher(lambda t: t.find("=") > 0),
    "^CAP_[A-Z_]+$": _Matcher(
        lambda t: t.startswith("CAP_") and len(t) > 4 and (_UPPER | {"_"}).issuperset(t[4:]), True
    ),
    "^RLIMIT_[A-Z]+$": _Matcher(lambda t: t.startswith("RLIMIT_") and len(t) > 7 and _UPPER.issuperset(t[7:]), True),
    "^[rwm]*$": _Matcher(lambda t: frozenset("rwm").issuperset(t), True),
    "^[1-9][0-9]*[KMGTPE]?B$": _Matcher(_page_size, True),
    "^(/|[A-Za-z]:[\\\\/]|\\\\\\\\)": _Matcher(
        lambda t: t.startswith(("/", "\\\\")) or (len(t) >= 3 and t[0] in _LETTERS and t[1] == ":" and t[2] in "\\/")
    ),
    "^([0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)?$": _Matcher(_cpu_list, True),
    "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
    "(\\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$": _Matcher(
        _semver, True
    ),
}


def schema_dir():
    """oci-schemas/ as installed in the package, or beside the package in a checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "oci-schemas"), os.path.join(os.path.dirname(here), "oci-schemas")):
        if os.path.isdir(d):
            return d
    raise FileNotFoundError("oci-schemas directory not found near %s" % here)


class Schemas:
    """Every *.json of a schema directory, by file name; $refs resolve among them."""

    def __init__(self, directory=None, check=False):
        self.dir = directory or schema_dir()
        self.docs = {}
        for name in os.listdir(self.dir):
            if name.endswith(".json"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    self.docs[name] = fastjson.loads(f.read())
        self._patterns = {}
        if check:
            # The tests load with check=True; create need not walk the schemas each time.
            for name, doc in self.docs.items():
                _check_keywords(doc, name)

    def resolve(self, ref, base):
        """(schema, file) for a $ref like 'defs.json#/definitions/X' seen in file `base`."""
        file, _, pointer = ref.partition("#")
        file = os.path.basename(file) if file else base
        node = self.docs[file]
        for part in pointer.strip("/").split("/") if pointer.strip("/") else ():
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node, file

    def regex(self, pattern):
        """An object with .search(text), for `pattern` as jsonschema reads it (re.search)."""
        r = self._patterns.get(pattern)
        if r is None:
            r = FAST_PATTERNS.get(pattern)
            if r is None:
                import re  # ~10-18 ms on create: only for patterns without a fast matcher

                r = re.compile(pattern)
            self._patterns[pattern] = r
        return r

    def validate(self, instance, root="config-schema.json"):
        """Every error as (path, message), path a list of keys and indexes."""
        errs = []
        _validate(self, self.docs[root], root, instance, [], errs)
        return errs


def _check_keywords(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("properties", "patternProperties", "definitions"):
                for sub in v.values():
                    _check_keywords(sub, where)
            elif k in ("enum", "required", "examples", "default", "description", "id", "$schema", "title"):
                continue
            elif k not in KNOWN:
                raise UnsupportedKeyword("%s: keyword %r is not supported by runtime/schema.py" % (where, k))
            else:
                _check_keywords(v, where)
    elif isinstance(node, list):
        for sub in node:
            _check_keywords(sub, where)


def _is_type(value, t):
    if t == "string":
        return isinstance(value, str)
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        # draft-04: 1.0 is a number, not an integer (as jsonschema's Draft4Validator)
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "null":
        return value is None
    return True  # "any" and unknown types accept everything, as jsonschema does


def _same(a, b):
    """JSON equality: true is not 1, but 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) in (int, float) and type(b) in (int, float) and a == b or (type(a) is type(b) and a == b)


def short_repr(value, limit=80):
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _validate(S, schema, base, inst, path, errs):
    if schema is True or schema == {}:
        return
    if schema is False:
        errs.append((list(path), "False schema does not allow %s" % short_repr(inst)))
        return
    ref = schema.get("$ref")
    if ref is not None:
        # draft-04: a $ref replaces every sibling keyword
        sub, sub_base = S.resolve(ref, base)
        _validate(S, sub, sub_base, inst, path, errs)
        return

    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_is_type(inst, x) for x in types):
            errs.append((list(path), "%s is not of type %s" % (short_repr(inst), ", ".join(repr(x) for x in types))))
            return  # the other keywords would only repeat this

    if "enum" in schema:
        if not any(_same(inst, e) for e in schema["enum"]):
            errs.append((list(path), "%s is not one of %s" % (short_repr(inst), short_repr(schema["enum"], 200))))

    if isinstance(inst, dict):
        _validate_object(S, schema, base, inst, path, errs)
    elif isinstance(inst, list):
        _validate_array(S, schema, base, inst, path, errs)
    elif isinstance(inst, str):
        if "pattern" in schema and not S.regex(schema["pattern"]).search(inst):
            errs.append((list(path), _pattern_message(schema, inst)))
        if "minLength" in schema and len(inst) < schema["minLength"]:
            errs.append((list(path), "%s is too short" % short_repr(inst)))
        if "maxLength" in schema and len(inst) > schema["maxLength"]:
            errs.append((list(path), "%s is too long" % short_repr(inst)))
    elif isinstance(inst, (int, float)) and not isinstance(inst, bool):
        if "minimum" in schema and inst < schema["minimum"]:
            errs.append((list(path), "%s is less than the minimum of %s" % (inst, schema["minimum"])))
        if "maximum" in schema and inst > schema["maximum"]:
            errs.append((list(path), "%s is greater than the maximum of %s" % (inst, schema["maximum"])))

    for sub in schema.get("allOf", ()):
        _validate(S, sub, base, inst, path, errs)
    if "anyOf" in schema:
        branches = [_errors(S, sub, base, inst, path) for sub in schema["anyOf"]]
        if all(branches):
            errs.extend(_best(branches, path, inst))
    if "oneOf" in schema:
        branches = [_errors(S, sub, base, inst, path) for sub in schema["oneOf"]]
        n = sum(1 for b in branches if not b)
        if n == 0:
            errs.extend(_best(branches, path, inst))
        elif n > 1:
            errs.append((list(path), "%s is valid under more than one of the given schemas" % short_repr(inst)))
    if "not" in schema and _valid(S, schema["not"], base, inst):
        errs.append((list(path), "%s should not be valid under %s" % (short_repr(inst), short_repr(schema["not"]))))


def _pattern_message(schema, inst):
    """'x' is not an absolute path: the schema's description says what a pattern means."""
    d = schema.get("description", "")
    if d.startswith(("A ", "An ")):
        return "%s is not %s" % (short_repr(inst), d[0].lower() + d[1:].rstrip("."))
    return "%s does not match %r" % (short_repr(inst), schema["pattern"])


def _valid(S, schema, base, inst):
    e = []
    _validate(S, schema, base, inst, [], e)
    return not e


def _errors(S, schema, base, inst, path):
    e = []
    _validate(S, schema, base, inst, list(path), e)
    return e


def _best(branches, path, inst):
    """The errors of the alternative that came closest, to say what is wrong.

    Closest: the fewest errors, then the deepest (a branch that got as far as
    `process.args` explains more than one that wanted another type at the top).
    When every alternative fails right here, say so in one line.
    """

    def depth(b):
        # A missing property is a fault one level below its object; a value
        # outside an enum usually means "this alternative is for another kind"
        # (a discriminator such as a device's type), so it counts one level up.
        return max(len(p) + m.endswith("is a required property") - (" is not one of " in m) for p, m in b)

    best = min(branches, key=lambda b: (-depth(b), len(b)))
    if depth(best) > len(path) or len(best) == 1:
        return best
    return [(list(path), "%s is not valid under any of the given schemas" % short_repr(inst, 40))]


def _validate_object(S, schema, base, inst, path, errs):
    for key in schema.get("required", ()):
        if key not in inst:
            errs.append((list(path), "%r is a required property" % key))
    if "minProperties" in schema and len(inst) < schema["minProperties"]:
        errs.append((list(path), "%s does not have enough properties" % short_repr(inst)))
    if "maxProperties" in schema and len(inst) > schema["maxProperties"]:
        errs.append((list(path), "%s has too many properties" % short_repr(inst)))
    props = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extra = schema.get("additionalProperties", True)
    unexpected = []
    for key, value in inst.items():
        matched = False
        if key in props:
            matched = True
            path.append(key)
            _validate(S, props[key], base, value, path, errs)
            path.pop()
        for pat, sub in patterns.items():
            if S.regex(pat).search(key):
                matched = True
                path.append(key)
                _validate(S, sub, base, value, path, errs)
                path.pop()
        if not matched:
            if extra is False:
                unexpected.append(key)
            elif isinstance(extra, dict):
                path.append(key)
                _validate(S, extra, base, value, path, errs)
                path.pop()
    if unexpected:
        errs.append(
            (
                list(path),
                "Additional properties are not allowed (%s %s unexpected)"
                % (", ".join(repr(k) for k in unexpected), "was" if len(unexpected) == 1 else "were"),
            )
        )


def _validate_array(S, schema, base, inst, path, errs):
    if "minItems" in schema and len(inst) < schema["minItems"]:
        errs.append((list(path), "%s is too short" % short_repr(inst)))
    if "maxItems" in schema and len(inst) > schema["maxItems"]:
        errs.append((list(path), "%s is too long" % short_repr(inst)))
    if schema.get("uniqueItems"):
        for i in range(len(inst)):
            j = next((j for j in range(i) if _same(inst[i], inst[j])), None)
            if j is not None:
                errs.append(
                    (list(path), "has non-unique elements: [%d] repeats [%d] (%s)" % (i, j, short_repr(inst[i], 60)))
                )
                break
    items = schema.get("items")
    if isinstance(items, dict):
        for i, v in enumerate(inst):
            path.append(i)
            _validate(S, items, base, v, path, errs)
            path.pop()
    elif isinstance(items, list):
        for i, (v, sub) in enumerate(zip(inst, items)):
            path.append(i)
            _validate(S, sub, base, v, path, errs)
            path.pop()


class ReferenceSchemas:
    """The same interface as schema.Schemas, backed by the jsonschema library."""

    def __init__(self, directory=None):
        try:
            import jsonschema
            import referencing
            from referencing.jsonschema import DRAFT4
        except ImportError as e:
            from . import errors

            raise errors.OciError("--reference needs the jsonschema package: %s" % e) from None
        base = Schemas(directory)
        self._base = base
        resources = [(name, DRAFT4.create_resource(doc)) for name, doc in base.docs.items()]
        self._registry = referencing.Registry().with_resources(resources)
        self._jsonschema = jsonschema
        self._validators = {}

    def validate(self, instance, root="config-schema.json"):
        v = self._validators.get(root)
        if v is None:
            v = self._validators[root] = self._jsonschema.Draft4Validator(
                self._base.docs[root], registry=self._registry
            )
        errs = sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path).__repr__())
        return [(list(e.absolute_path), e.message) for e in errs]


def format_path(path):
    """['linux', 'namespaces', 1, 'type'] -> 'linux.namespaces[1].type'."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += "[%d]" % p
        elif p and (p[0].isalpha() or p[0] == "_") and all(c.isalnum() or c == "_" for c in p):
            out += ("." if out else "") + p
        else:
            out += "[%s]" % fastjson.dumps(p)
    return out
