"""JSON without the `json` package.

`import json` pulls in `re` and `enum`, which cost ~15 ms on every call of a
hot command (`state`, `kill`, `start`, `delete`). The C accelerator `_json`
that `json` itself uses needs neither, so the hot path talks to it directly.
Output is identical to `json.dumps(obj)` / `json.dumps(obj, indent=N)`.
"""

import _json

_encode_str = _json.encode_basestring_ascii


class _ScanContext:
    # The attributes `_json.make_scanner` reads from a `json.JSONDecoder`.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        raise ValueError("invalid constant " + name)


_scan = _json.make_scanner(_ScanContext())
_compact = _json.make_encoder(None, None, _encode_str, None, ": ", ", ", False, False, True)
_tight = _json.make_encoder(None, None, _encode_str, None, ":", ",", False, False, True)
_canonical = _json.make_encoder(None, None, _encode_str, None, ":", ",", True, False, True)
_WS = " \t\n\r"


class JSONError(ValueError):
    """Malformed JSON, with the position of the fault."""

    def __init__(self, msg, doc, pos):
        line = doc.count("\n", 0, pos) + 1
        col = pos - doc.rfind("\n", 0, pos)
        super().__init__("%s: line %d column %d (char %d)" % (msg, line, col, pos))
        self.lineno, self.colno, self.pos = line, col, pos


def loads(text):
    """Parse one JSON document; raises JSONError with line and column."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    pos = 0
    n = len(text)
    while pos < n and text[pos] in _WS:
        pos += 1
    try:
        obj, end = _scan(text, pos)
    except StopIteration as e:
        raise JSONError("expecting value", text, e.value) from None
    except RecursionError:
        raise JSONError("nested too deeply", text, 0) from None
    except (ValueError, SystemError):
        # _json formats its errors with json.decoder, which it expects loaded
        # (SystemError when it is not); on this error path, let json say it.
        import json

        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            raise JSONError(e.msg.lower(), text, e.pos) from None
        except ValueError as e:
            raise JSONError(str(e), text, 0) from None
        raise
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise JSONError("extra data", text, end)
    return obj


def dumps(obj, indent=None, tight=False):
    """Serialize like json.dumps(obj) or json.dumps(obj, indent=indent).

    tight=True leaves out the spaces after ':' and ',' (as Go's encoder does).
    """
    if tight:
        return "".join(_tight(obj, 0))
    if indent is None:
        return "".join(_compact(obj, 0))
    out = []
    _pretty(obj, " " * indent if isinstance(indent, int) else indent, 0, out)
    return "".join(out)


def canonical(obj):
    """One spelling per value (sorted keys, no spaces): for content hashes."""
    return "".join(_canonical(obj, 0))


def _pretty(obj, unit, depth, out):
    if isinstance(obj, dict) and obj:
        pad = "\n" + unit * (depth + 1)
        out.append("{")
        first = True
        for k, v in obj.items():
            out.append(pad if first else "," + pad)
            first = False
            out.append(_encode_str(str(k)) + ": ")
            _pretty(v, unit, depth + 1, out)
        out.append("\n" + unit * depth + "}")
    elif isinstance(obj, (list, tuple)) and obj:
        pad = "\n" + unit * (depth + 1)
        out.append("[")
        for i, v in enumerate(obj):
            out.append(pad if i == 0 else "," + pad)
            _pretty(v, unit, depth + 1, out)
        out.append("\n" + unit * depth + "]")
    else:
        out.append("".join(_compact(obj, 0)))
