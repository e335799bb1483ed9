"""The readers of linux.resources' JSON values, shared by resources.py (the
sections) and devices.py (the device rules): each returns the typed value or
None when absent, or raises a ResourceError naming the field and the value.
"""

from .. import errors

PREFIX = "linux.resources"

INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
UINT32_MAX = (1 << 32) - 1


class ResourceError(errors.OciError):
    """A bad value: `field` is its JSON path, `why` what is wrong with `value`."""

    def __init__(self, field, value, why):
        super().__init__("invalid %s `%s`: %s" % (field, show(value), why))
        self.field, self.value, self.why = field, value, why


def bad(field, value, why):
    return ResourceError(field, value, why)


def key_path(prefix, key):
    """The JSON path of a map entry, spelled as validation spells paths: a.b, or a["b.c"]."""
    if key and (key[0].isalpha() or key[0] == "_") and all(c.isalnum() or c == "_" for c in key):
        return prefix + "." + key
    return '%s["%s"]' % (prefix, key.replace("\\", "\\\\").replace('"', '\\"'))


def show(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def section(sec, key, field, kind=dict):
    """sec[key], or None when absent (JSON null counts as absent); a wrong JSON type is an error."""
    v = sec.get(key)
    if v is None:
        return None
    if not isinstance(v, kind):
        raise bad(field, v, "want a JSON %s" % ("object" if kind is dict else "array"))
    return v


def integer(sec, key, field, lo=-INT64_MAX - 1, hi=UINT64_MAX):
    """sec[key] as an int within [lo, hi], or None when absent (JSON null counts as absent)."""
    v = sec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad(field, v, "want an integer")
    if v < lo:
        raise bad(field, v, "must be at least %d" % lo)
    if v > hi:
        raise bad(field, v, "must be at most %d" % hi)
    return v


def boolean(sec, key, field):
    v = sec.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise bad(field, v, "want true or false")
    return v


def string(sec, key, field):
    v = sec.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise bad(field, v, "want a string")
    return v
