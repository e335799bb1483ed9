"""Parsers and checks the security tests share.

A module of its own, not conftest: several test directories have a conftest,
and `from conftest import` would find whichever was imported first.
"""


def parse(out):
    """sectool lines -> list of field lists (other lines are ignored)."""
    return [l.split() for l in out.splitlines() if l[:2] in ("W ", "H ", "D ", "F ", "C ", "U ", "P ", "L ", "R ")]


def writable_opens(out):
    """The paths sectool managed to open for writing (must be empty)."""
    return [f[1] for f in parse(out) if f[0] == "W" and f[-1] == "0"]


def one_line_error(r, code=1):
    """A clean failure: exit 1 (`exec`'s own failures: 255, as runc's), no
    traceback, one line on stderr. The one documented exception
    (runtime/spec.py): an invalid config.json gets one complete
    `config.json: <path>: <problem>` line per problem."""
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.endswith("\n"), repr(r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 or all(l.startswith("config.json: ") for l in lines), repr(r.stderr)
