"""Fuzz the config path: config.json bytes -> spec.load_config (schema and
semantic checks) -> plan.build (the C plan, nothing spawned) -> the cgroup
manager's apply (on an in-memory cgroupfs) -> the pty size.

Whatever the input, the answer is a plan or OciError lines, one line each:
never another exception type (an "internal error" at the CLI), never a hang.

CI runs a bounded, derandomized number of examples (OCIRUN_FUZZ_EXAMPLES,
default below); `hack/fuzz` runs many more with a random seed.
"""

import copy
import json
import os
import pty
import sys
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import seeds as seedmod  # noqa: E402

from fakes import RecordingHost, cgroupfs_on_mkdir, install_layout  # noqa: E402
from helpers import OCIRUN  # noqa: E402
from runtime import errors, plan as planmod, spec, terminal  # noqa: E402

EXAMPLES = int(os.environ.get("OCIRUN_FUZZ_EXAMPLES", "0") or 0)
RANDOM = os.environ.get("OCIRUN_FUZZ_RANDOM") == "1"


def fuzz_settings(ci_examples):
    return settings(
        max_examples=EXAMPLES or ci_examples,
        derandomize=not RANDOM,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


SEEDS = seedmod.all_seeds(OCIRUN)
SEED_NAMES = sorted(SEEDS)

# -- strategies ---------------------------------------------------------------

HUGE = [
    2**64,
    2**64 - 1,
    2**63,
    2**63 - 1,
    2**32,
    2**31,
    -1,
    -(2**63),
    -(2**63) - 1,
    65536,
    70000,
    0,
    1e308,
    -0.5,
    1.5,
    10**40,
]
WEIRD_TEXT = [
    "",
    "\x00",
    "a\x00b",
    "/\x00",
    "²",
    "٣",
    "é",
    "\ud800",
    "\U0001f600",
    "\n",
    "a\nb",
    "..",
    "../..",
    "/",
    "//",
    "/proc/self/ns/net",
    "-1",
    "rslave",
    "SCMP_ACT_ALLOW",
    "CAP_SYS_ADMIN",
    "RLIMIT_NOFILE",
    "x" * 5000,
    "memory.max",
    "cgroup.procs",
    "0-1023",
    "1024",
    "0-",
    "-",
    "a=b",
    "=",
    " ",
]

text = st.one_of(
    st.sampled_from(WEIRD_TEXT),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12).map(lambda s: "/" + s),
)
numbers = st.one_of(st.sampled_from(HUGE), st.integers(), st.floats(allow_nan=False, allow_infinity=False))
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(text, inner, max_size=5)),
    max_leaves=25,
)


def _paths(v):
    """Paths in a JSON tree (the root included), at most 2000."""
    out, todo = [], [((), v)]
    while todo and len(out) < 2000:
        path, v = todo.pop()
        out.append(path)
        if isinstance(v, dict):
            todo.extend((path + (k,), x) for k, x in v.items())
        elif isinstance(v, list):
            todo.extend((path + (i,), x) for i, x in enumerate(v[:3]))  # long lists: their first items
    return sorted(out, key=repr)


def _get(v, path):
    for p in path:
        v = v[p]
    return v


def _retype(v):
    """The same value in another JSON type."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return {str(i): x for i, x in enumerate(v)}
    if isinstance(v, dict):
        return list(v.values())
    return 0


@st.composite
def mutated_config(draw):
    """A seed config with 1-4 mutations: drop, replace, retype, huge numbers,
    NUL and non-ASCII strings, deep nesting, long lists."""
    cfg = copy.deepcopy(SEEDS[draw(st.sampled_from(SEED_NAMES))])
    for _ in range(draw(st.integers(1, 4))):
        paths = [q for q in _paths(cfg) if q]
        # half the time a number's place: the plan's C fields are narrower than JSON's
        nums = [q for q in paths if type(_get(cfg, q)) is int]
        if nums and draw(st.booleans()):
            paths = nums
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(cfg, path[:-1]), path[-1]
        old = parent[key]
        if isinstance(old, bool) or old is None:
            ops = ["drop", "replace", "retype", "key"]
        elif isinstance(old, (int, float)):
            ops = ["number", "number", "number", "drop", "retype", "key"]
        elif isinstance(old, str):
            ops = ["string", "string", "string", "drop", "retype", "key"]
        else:
            ops = ["drop", "replace", "retype", "nest", "long", "key"]
        op = draw(st.sampled_from(ops))
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "retype":
            parent[key] = _retype(old)
        elif op == "number":
            parent[key] = draw(numbers)
        elif op == "string":
            if isinstance(old, str) and old and draw(st.booleans()):
                i = draw(st.integers(0, len(old)))
                parent[key] = old[:i] + draw(st.sampled_from(["\x00", "²", "\ud800", "é", "\n", "/.."])) + old[i:]
            else:
                parent[key] = draw(text)
        elif op == "nest":
            v = old
            for _ in range(draw(st.sampled_from([2, 50, 400]))):
                v = [v] if draw(st.booleans()) else {"a": v}
            parent[key] = v
        elif op == "long":
            # long lists of scalars; of whole objects only as many as keep an example fast
            big = 70000 if not isinstance(old, (dict, list)) else 200
            parent[key] = [old] * draw(st.sampled_from([2, big]))
        elif op == "key" and isinstance(parent, dict):
            parent[draw(text)] = parent.pop(key)
    return cfg


# -- the pipeline under test --------------------------------------------------


class _OsLikeHost(RecordingHost):
    """The in-memory cgroupfs of tests/fakes.py, refusing what os.* refuses:
    a path with a NUL byte or one that cannot be encoded."""

    def _rec(self, name, *args):
        for a in args:
            if isinstance(a, str):
                if "\x00" in a:
                    raise ValueError("embedded null byte")
                a.encode()
        super()._rec(name, *args)


@pytest.fixture(scope="module")
def work():
    from runtime import core

    ffi, _lib = core.load()
    d = tempfile.mkdtemp(prefix="ocirun-fuzz-")
    bundle = os.path.join(d, "bundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    cache = os.path.join(d, "cache")
    os.makedirs(cache)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    yield {"ffi": ffi, "bundle": bundle, "cache": cache, "null": null}
    os.close(null)
    import shutil

    shutil.rmtree(d, ignore_errors=True)


def _one_line(e):
    assert isinstance(e, errors.OciError), "%s: %s" % (type(e).__name__, e)
    assert e.lines, "an error with no line"
    for line in e.lines:
        assert isinstance(line, str) and line and "\n" not in line, "not one line: %r" % (line,)


def pipeline(w, raw):
    """raw bytes of config.json through everything create does before clone."""
    with open(os.path.join(w["bundle"], "config.json"), "wb") as f:
        f.write(raw)
    try:
        cfg = spec.load_config(w["bundle"])
    except errors.OciError as e:
        _one_line(e)
        return "invalid"
    linux = cfg.get("linux") or {}
    p = None
    try:
        p = planmod.build(
            w["ffi"],
            cfg,
            w["bundle"],
            "fuzz",
            sync_fd=w["null"],
            parent_sync_fd=w["null"],
            fifo_fd=w["null"],
            cache_dir=w["cache"],
        )
        from runtime import cgroups

        for kind in ("v1", "hybrid", "v2"):
            # each host kind on its own: v1 refuses what v2 takes (unified) and the reverse
            h = _OsLikeHost()
            install_layout(h, kind)
            h.on_mkdir = cgroupfs_on_mkdir
            try:
                m = cgroups.open_manager("fuzz", linux, host=h)
                m.to_dict()
                m.create()
                m.apply(linux.get("resources") or {})
            except errors.OciError as e:
                _one_line(e)
        if (cfg.get("process") or {}).get("terminal"):
            master, slave = pty.openpty()
            try:
                terminal.set_size(master, cfg["process"].get("consoleSize"))
            finally:
                os.close(master)
                os.close(slave)
    except errors.OciError as e:
        _one_line(e)
        return "refused: " + e.lines[0]
    finally:
        if p is not None:
            p.close()
    return "plan"


def _dumps(cfg):
    return json.dumps(cfg).encode()


# -- the targets --------------------------------------------------------------


def test_seeds_make_plans(work):
    """Every unmutated seed is a valid config: the mutations start from real shapes."""
    got = {name: pipeline(work, _dumps(cfg)) for name, cfg in SEEDS.items()}
    assert {"docker", "containerd-cri", "cri-o", "podman", "ocirun spec", "runc spec"} <= set(got)
    assert got == {name: "plan" for name in got}, got


def _seed_with(name, edit):
    cfg = copy.deepcopy(SEEDS[name])
    edit(cfg)
    return cfg


# Tracebacks this fuzzer found (or was told of), pinned so every run tries them.
PINNED = [
    _seed_with("podman", lambda c: c["process"]["consoleSize"].update(height=70000)),
    _seed_with("containerd-cri", lambda c: c["linux"]["resources"]["unified"].update({"memory.h\x00igh": "1"})),
    _seed_with("docker", lambda c: c["linux"].update(cgroupsPath="/docker/a\x00b")),
    _seed_with("docker", lambda c: c["process"].update(args=["sh", "\ud800"])),
    _seed_with("cri-o", lambda c: c["process"]["user"].update(umask=2**31)),
    _seed_with("docker", lambda c: c["hooks"].update({"": None})),
    _seed_with("podman", lambda c: c["linux"]["devices"][0].update(minor=2**63 - 1)),
]


@fuzz_settings(1000)  # unpinned, 1000 derandomized examples found the NUL and surrogate faults
@given(cfg=mutated_config())
@example(cfg=PINNED[0])
@example(cfg=PINNED[1])
@example(cfg=PINNED[2])
@example(cfg=PINNED[3])
@example(cfg=PINNED[4])
@example(cfg=PINNED[5])
@example(cfg=PINNED[6])
def test_mutated_configs(work, cfg):
    try:
        raw = _dumps(cfg)
    except RecursionError:
        return  # deeper than Python's json can write; the raw-bytes target covers deep nesting
    pipeline(work, raw)


@fuzz_settings(150)
@given(
    raw=st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(
                ["ociVersion", "process", "root", "linux", "mounts", "hooks", "hostname", "annotations", "domainname"]
            ),
            json_values,
        ).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.sampled_from(
            [
                b'{"ociVersion": "1.0.0", "annotations": {"a": ' + b"[" * 20000 + b"]" * 20000 + b"}}",
                b'{"ociVersion": "1.0.0", "process": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
                b"[" * 100000,
                b'{"a":' * 50000,
                b"\xff\xfe",
                b"\x00",
                b'{"ociVersion": "1.0.0"}',
                b'"\\ud800"',
                b"1e999999",
                b"-" + b"9" * 5000,
            ]
        ),
    )
)
@example(raw=b"[" * 100000)
def test_arbitrary_json(work, raw):
    pipeline(work, raw)
