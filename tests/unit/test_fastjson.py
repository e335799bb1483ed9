"""fastjson must read and write exactly what the json module does."""

import json

import pytest

from runtime import fastjson

DOCS = [
    {"a": [1, 2, {"b": None}], "c": 'é"x\\\n', "d": True, "e": 1.5, "f": {}, "g": []},
    [],
    {},
    "x",
    3,
    -0.25,
    None,
    False,
    [[[]]],
    {"k": {"k": {"k": [1, "2", 3.0]}}},
    "\u2028 \U0001f600 tab\t",
    10**20,
]


def test_dumps_matches_json(subtests):
    for doc in DOCS:
        with subtests.test(doc=doc):
            assert fastjson.dumps(doc) == json.dumps(doc)
            assert fastjson.dumps(doc, indent=2) == json.dumps(doc, indent=2)
            assert fastjson.dumps(doc, indent="\t") == json.dumps(doc, indent="\t")
            assert fastjson.dumps(doc, tight=True) == json.dumps(doc, separators=(",", ":"))


def test_loads_round_trips(subtests):
    for doc in DOCS:
        with subtests.test(doc=doc):
            assert fastjson.loads(json.dumps(doc, indent=1)) == doc
            assert fastjson.loads(json.dumps(doc).encode()) == doc


BAD = [
    ("{", 1, 2),
    ('{"a":1,}', 1, 8),
    ("[1 2]", 1, 4),
    ("", 1, 1),
    ('  {"a": 1} x', 1, 12),
    ("nul", 1, 1),
    ('"abc', 1, 1),
    ('{\n  "a": [1,\n  2,,]}', 3, 5),
]


def test_loads_reports_line_and_column(subtests):
    for text, line, col in BAD:
        with subtests.test(text=text):
            with pytest.raises(fastjson.JSONError) as e:
                fastjson.loads(text)
            assert (e.value.lineno, e.value.colno) == (line, col)
            assert "line %d column %d" % (line, col) in str(e.value)
