"""Checks for the OCI runtime-spec 1.3.0 JSON Schemas in ``oci-schemas/``.

* every schema file is a valid draft-04 schema, keyed by its own file name;
* every ``$ref`` is a relative reference to a definition inside the directory;
* only the agreed draft-04 keyword subset is used (so a second, smaller
  validator can agree with jsonschema);
* resolution never leaves the local registry (no network);
* every case of ``tests/schema_cases.py`` validates exactly as expected.
"""

import json
import pathlib
import re
import sys

import jsonschema
import pytest
import referencing
import referencing.exceptions
from referencing.jsonschema import DRAFT4

HERE = pathlib.Path(__file__).resolve().parent
SCHEMA_DIR = HERE.parent / "oci-schemas"
sys.path.insert(0, str(HERE))

import schema_cases  # noqa: E402

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.json"))
SCHEMAS = {p.name: json.loads(p.read_text()) for p in SCHEMA_FILES}

REQUIRED_FILES = {
    "config-schema.json",
    "config-linux.json",
    "defs.json",
    "defs-linux.json",
    "state-schema.json",
    "features-schema.json",
}

# keywords a schema object may use (the subset agreed with the fast validator)
ALLOWED_KEYWORDS = {
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
    "minItems",
    "maxItems",
    "uniqueItems",
    "$ref",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "description",
    "id",
    "$schema",
    "definitions",
}
REF_RE = re.compile(r"^(?P<file>[A-Za-z0-9_.-]+\.json)?#/definitions/(?P<name>[A-Za-z0-9_]+)$")


class _NoNetwork(Exception):
    pass


def _refuse(uri):
    raise _NoNetwork(f"schema resolution tried to retrieve {uri!r}")


def make_registry():
    """Local registry: every schema under its file name (which is also its id)."""
    resources = {}
    for name, doc in SCHEMAS.items():
        resources[name] = DRAFT4.create_resource(doc)
        if "id" in doc:
            resources[doc["id"]] = DRAFT4.create_resource(doc)
    return referencing.Registry(retrieve=_refuse).with_resources(resources.items())


REGISTRY = make_registry()


def validator(schema_file):
    return jsonschema.Draft4Validator(SCHEMAS[schema_file], registry=REGISTRY)


def walk_schemas(node, where):
    """Yield (json-path, schema-object) for every subschema position."""
    if not isinstance(node, dict):
        raise AssertionError(f"{where}: schema is {type(node).__name__}, not an object")
    yield where, node
    for key in ("properties", "patternProperties", "definitions"):
        for name, sub in node.get(key, {}).items():
            yield from walk_schemas(sub, f"{where}/{key}/{name}")
    for key in ("items", "not"):
        if key in node:
            yield from walk_schemas(node[key], f"{where}/{key}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk_schemas(node["additionalProperties"], f"{where}/additionalProperties")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key, [])):
            yield from walk_schemas(sub, f"{where}/{key}/{i}")


def all_subschemas():
    for name, doc in SCHEMAS.items():
        yield from ((name, path, sub) for path, sub in walk_schemas(doc, "#"))


# --------------------------------------------------------------------------
# the schema files themselves
# --------------------------------------------------------------------------


def test_required_files_present():
    assert REQUIRED_FILES <= set(SCHEMAS), sorted(REQUIRED_FILES - set(SCHEMAS))


def test_schema_files_are_draft4(subtests):
    for name, doc in SCHEMAS.items():
        with subtests.test(schema=name):
            jsonschema.Draft4Validator.check_schema(doc)
            assert doc.get("$schema") == "http://json-schema.org/draft-04/schema#"
            assert doc.get("id") == name, "id must be the (relative) file name"


def test_only_agreed_keywords(subtests):
    for name, path, sub in all_subschemas():
        extra = set(sub) - ALLOWED_KEYWORDS
        if extra:
            with subtests.test(schema=name, at=path):
                pytest.fail(f"keywords outside the subset: {sorted(extra)}")
        if "$ref" in sub and len(sub) > 1:
            with subtests.test(schema=name, at=path):
                pytest.fail(f"$ref has sibling keywords: {sorted(set(sub) - {'$ref'})}")
        if path != "#" and ("id" in sub or "$schema" in sub):
            with subtests.test(schema=name, at=path):
                pytest.fail("id/$schema only at the top of a file")


def test_refs_stay_inside_directory(subtests):
    for name, path, sub in all_subschemas():
        if "$ref" not in sub:
            continue
        ref = sub["$ref"]
        with subtests.test(schema=name, at=path, ref=ref):
            m = REF_RE.match(ref)
            assert m, f"not a relative '#/definitions/X' or 'file.json#/definitions/X' ref: {ref}"
            target = m.group("file") or name
            assert target in SCHEMAS, f"{ref}: no such file in oci-schemas/"
            assert m.group("name") in SCHEMAS[target].get("definitions", {}), f"{ref}: dangling"


def test_every_definition_is_used_or_exported():
    used = set()
    for name, _path, sub in all_subschemas():
        if "$ref" in sub:
            m = REF_RE.match(sub["$ref"])
            used.add((m.group("file") or name, m.group("name")))
    unused = [(f, d) for f, doc in SCHEMAS.items() for d in doc.get("definitions", {}) if (f, d) not in used]
    # integer kinds are a public vocabulary even when no schema needs them
    unused = [u for u in unused if not re.fullmatch(r"u?int(8|16|32|64)", u[1])]
    assert not unused, unused


def test_brief_snippet_resolves_locally():
    """The loading recipe other code uses: registry keyed by file name only."""
    res = {p.name: DRAFT4.create_resource(json.loads(p.read_text())) for p in SCHEMA_FILES}
    reg = referencing.Registry().with_resources(res.items())
    v = jsonschema.Draft4Validator(SCHEMAS["config-schema.json"], registry=reg)
    assert not list(v.iter_errors(schema_cases.FULL_CONFIG))
    assert list(v.iter_errors({"ociVersion": 1}))


def test_no_network_during_resolution(monkeypatch):
    import socket
    import urllib.request

    def boom(*a, **k):
        raise _NoNetwork("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", boom)
    monkeypatch.setattr(socket, "create_connection", boom)
    monkeypatch.setattr(socket.socket, "connect", boom)
    for schema_file, doc in (
        ("config-schema.json", schema_cases.FULL_CONFIG),
        ("config-schema.json", schema_cases.WINDOWS_CONFIG),
        ("config-schema.json", schema_cases.VM_CONFIG),
        ("config-schema.json", schema_cases.SOLARIS_CONFIG),
        ("config-schema.json", schema_cases.ZOS_CONFIG),
        ("config-schema.json", schema_cases.FREEBSD_CONFIG),
        ("state-schema.json", schema_cases.BASE_STATE),
        ("features-schema.json", schema_cases.FULL_FEATURES),
    ):
        assert not [e.message for e in validator(schema_file).iter_errors(doc)]


def test_every_ref_resolves():
    for name, path, sub in all_subschemas():
        if "$ref" in sub:
            resolver = REGISTRY.resolver(base_uri=name)
            resolved = resolver.lookup(sub["$ref"])
            assert isinstance(resolved.contents, dict), (name, path)


def test_unknown_file_ref_is_not_fetched():
    v = jsonschema.Draft4Validator({"$ref": "missing.json#/definitions/X"}, registry=REGISTRY)
    with pytest.raises((_NoNetwork, referencing.exceptions.Unresolvable)):
        v.is_valid({})


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------


def _check(subtests, schema_file, cases):
    v = validator(schema_file)
    assert len({name for name, _, _ in cases}) == len(cases), "duplicate case names"
    for name, doc, expect in cases:
        with subtests.test(case=name):
            errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in v.iter_errors(doc)]
            if expect:
                assert not errors, errors
            else:
                assert errors, "expected a validation error, got none"


def test_corpus_size():
    assert len(schema_cases.CONFIG_CASES) >= 300
    assert len(schema_cases.STATE_CASES) >= 20
    assert len(schema_cases.FEATURES_CASES) >= 50
    for cases in (schema_cases.CONFIG_CASES, schema_cases.STATE_CASES, schema_cases.FEATURES_CASES):
        assert any(ok for _, _, ok in cases) and any(not ok for _, _, ok in cases)


def test_config_cases(subtests):
    _check(subtests, "config-schema.json", schema_cases.CONFIG_CASES)


def test_state_cases(subtests):
    _check(subtests, "state-schema.json", schema_cases.STATE_CASES)


def test_features_cases(subtests):
    _check(subtests, "features-schema.json", schema_cases.FEATURES_CASES)


def test_mutate_does_not_touch_its_input():
    before = json.dumps(schema_cases.FULL_CONFIG, sort_keys=True)
    schema_cases.mutate(schema_cases.FULL_CONFIG, "linux.seccomp.defaultAction", "X")
    schema_cases.mutate(schema_cases.FULL_CONFIG, "process.args", schema_cases.DELETE)
    assert json.dumps(schema_cases.FULL_CONFIG, sort_keys=True) == before
