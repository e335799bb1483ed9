"""Constants and checks the rootless tests share.

A module of its own, not conftest: tests/security also has a conftest, and
`from conftest import` would find whichever was imported first.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
SUB_START, SUB_COUNT = 300000, 65536


def one_line(r, *words):
    """A clean failure: exit 1, one line on stderr, no traceback, naming `words`."""
    assert r.returncode != 0, r
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]
