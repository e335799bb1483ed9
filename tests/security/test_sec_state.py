"""Container id and bundle path traversal, state dir permissions, hostile
config.json: a clean one-line error, exit 1, no traceback, nothing left
behind (no state dir entry, no cgroup, no file outside --root)."""

import json
import os
import stat

from sec_common import one_line_error

import helpers


def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def assert_nothing_left(root, parent_before, parent):
    assert listing(root) in (None, []), "left in the state dir: %s" % listing(root)
    extra = set(listing(parent)) - set(parent_before) - {os.path.basename(root)}
    assert not extra, "created next to the state dir: %s" % sorted(extra)


BAD_IDS = [
    "../x",
    "../../../tmp/escape",
    "a/b",
    "/abs",
    ".",
    "..",
    "x" * 1024,
    "a\nb",
    "a\rb",
    "-",
    "",
    "a b",
    "\x1b[31mred",
]


def test_container_id_traversal(bundle, tmp_path, subtests):
    """State-dir traversal: ids like `../x`, `a/b`, `..`, 1 KiB long or with
    control characters are refused with one line on stderr (the id never
    splits it), and nothing is created inside or outside --root. (An id with
    a NUL byte cannot be passed through argv at all.)"""
    parent = str(tmp_path / "p")
    os.mkdir(parent)
    root = os.path.join(parent, "root")
    bundle.set_args("true").write()
    before = listing(parent)
    for bad in BAD_IDS:
        with subtests.test(cid=bad):
            for cmd in (
                ["create", "-b", bundle.path, bad],
                ["run", "-b", bundle.path, bad],
                ["state", bad],
                ["delete", "--force", bad],
                ["kill", bad],
            ):
                r = helpers.ocirun(root, *cmd)
                one_line_error(r)
                assert_nothing_left(root, before, parent)
    assert not os.path.exists(os.path.join(str(tmp_path), "x"))
    assert not os.path.exists("/tmp/escape")


def test_bundle_paths(bundle, tmp_path, cid, subtests):
    """Bundle path tricks: missing, a file, `..`-laden, config.json a symlink
    to /etc/shadow (its content must never be echoed), config.json a
    directory or a fifo: one line, exit 1, nothing left."""
    root = str(tmp_path / "root")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "file").write_text("x")
    shadow = tmp_path / "shadowb"
    shadow.mkdir()
    os.symlink("/etc/shadow", str(shadow / "config.json"))
    dirb = tmp_path / "dirb"
    (dirb / "config.json").mkdir(parents=True)
    fifob = tmp_path / "fifob"
    fifob.mkdir()
    os.mkfifo(str(fifob / "config.json"))
    with open("/etc/shadow") as f:
        secret = [l.split(":")[0] + ":" + l.split(":")[1] for l in f if l.count(":") > 2][:3]
    for name, b in [
        ("missing", str(tmp_path / "nope")),
        ("file", str(odd / "file")),
        ("dotdot", str(odd) + "/../../../../nope"),
        ("shadow", str(shadow)),
        ("dir", str(dirb)),
        ("fifo", str(fifob)),
    ]:
        with subtests.test(bundle=name):
            r = helpers.ocirun(root, "create", "-b", b, cid, timeout=5)
            one_line_error(r)
            for s in secret:
                assert s not in r.stderr and s not in r.stdout
            assert listing(root) in (None, [])
            assert helpers.cgroup_dirs(cid) == []


def test_state_dir_permissions(bundle, tmp_path, cid):
    """State dir permissions: with umask 000, --root is 0700, the container
    dir 0700 and state.json 0600, all owned by root."""
    root = str(tmp_path / "fresh" / "root")
    bundle.set_args("sleep", "30").write()
    old = os.umask(0)
    try:
        r = helpers.ocirun(root, "create", "-b", bundle.path, cid)
    finally:
        os.umask(old)
    try:
        assert r.returncode == 0, r.stderr
        for p, mode in [
            (root, 0o700),
            (os.path.join(root, cid), 0o700),
            (os.path.join(root, cid, "state.json"), 0o600),
        ]:
            st = os.lstat(p)
            assert (stat.S_IMODE(st.st_mode), st.st_uid) == (mode, 0), "%s is %o" % (p, stat.S_IMODE(st.st_mode))
        for n in os.listdir(os.path.join(root, cid)):
            st = os.lstat(os.path.join(root, cid, n))
            assert not st.st_mode & 0o002 or stat.S_ISFIFO(st.st_mode), "%s is world-writable" % n
    finally:
        helpers.ocirun(root, "delete", "--force", cid)


def _mutations():
    """Wrong types everywhere: (name, path, value)."""
    return [
        ("process-int", ["process"], 5),
        ("args-str", ["process", "args"], "sh"),
        ("args-ints", ["process", "args"], [1, 2]),
        ("args-empty", ["process", "args"], []),
        ("uid-str", ["process", "user", "uid"], "0"),
        ("uid-neg", ["process", "user", "uid"], -1),
        ("uid-huge", ["process", "user", "uid"], 2**64),
        ("uid-float", ["process", "user", "uid"], 1.5),
        ("env-dict", ["process", "env"], {"A": "b"}),
        ("cwd-rel", ["process", "cwd"], "rel"),
        ("cwd-int", ["process", "cwd"], 0),
        ("root-list", ["root"], []),
        ("root-path-null", ["root", "path"], None),
        ("mounts-dict", ["mounts"], {}),
        ("mount-str", ["mounts"], ["proc"]),
        ("mount-dst-int", ["mounts"], [{"destination": 1, "type": "tmpfs", "source": "x"}]),
        ("ns-str", ["linux", "namespaces"], "pid"),
        ("ns-bad", ["linux", "namespaces"], [{"type": "evil"}]),
        ("hooks-int", ["hooks"], 1),
        ("prestart-str", ["hooks", "prestart"], "x"),
        ("ociVersion-int", ["ociVersion"], 1),
        ("caps-str", ["process", "capabilities", "bounding"], "CAP_KILL"),
        # (an unknown capability name is a warning, as with runc: not here)
        ("rlimit-bad", ["process", "rlimits"], [{"type": "RLIMIT_NOFILE", "hard": "x", "soft": 1}]),
        ("sysctl-list", ["linux", "sysctl"], ["a"]),
        ("masked-int", ["linux", "maskedPaths"], [1]),
        ("annotations-list", ["annotations"], [1]),
        ("linux-str", ["linux"], "x"),
        ("seccomp-str", ["linux", "seccomp"], "x"),
        ("resources-num", ["linux", "resources"], 5),
        ("config-list", [], [1, 2]),
        ("config-str", [], "x"),
        ("config-null", [], None),
    ]


def _set(cfg, path, value):
    if not path:
        return value
    cur = cfg
    for k in path[:-1]:
        cur = cur.setdefault(k, {})
    cur[path[-1]] = value
    return cfg


def test_hostile_config(bundle, tmp_path, cid, subtests):
    """Hostile config.json: wrong types everywhere, 50 MB of annotations,
    100k levels of nesting, non-UTF-8, truncated, duplicate keys of mixed
    types: one line, exit 1, no traceback, nothing left behind."""
    root = str(tmp_path / "root")
    base = json.loads(json.dumps(bundle.config))
    cfg_path = os.path.join(bundle.path, "config.json")
    raw_cases = []
    for name, path, value in _mutations():
        raw_cases.append((name, json.dumps(_set(json.loads(json.dumps(base)), path, value)).encode()))
    big = json.loads(json.dumps(base))
    big["annotations"] = {"k%d" % i: "v" * 5000 for i in range(10000)}  # 50 MB
    raw_cases.append(("50MB-annotations-bad-args", json.dumps(_set(big, ["process", "args"], 7)).encode()))
    raw_cases.append(
        ("nested-100k", b'{"ociVersion": "1.3.0", "annotations": {"a": ' + b"[" * 100000 + b"]" * 100000 + b"}}")
    )
    raw_cases.append(("nested-100k-objects", b'{"x": ' * 100000 + b"1" + b"}" * 100000))
    raw_cases.append(
        ("non-utf8", json.dumps(base).replace('"sh"', '"\\u00ff"').encode().replace(b"\\u00ff", b"\xff\xfe"))
    )
    raw_cases.append(("utf16-bom", b"\xff\xfe" + json.dumps(base).encode("utf-16-le")))
    raw_cases.append(("truncated", json.dumps(base).encode()[:-10]))
    raw_cases.append(("empty", b""))
    raw_cases.append(("nul-in-string", json.dumps(base).replace('"sh"', '"s\\u0000h"').encode()))
    try:
        for name, data in raw_cases:
            with subtests.test(config=name):
                with open(cfg_path, "wb") as f:
                    f.write(data)
                r = helpers.ocirun(root, "create", "-b", bundle.path, cid, timeout=60)
                if r.returncode == 0:
                    helpers.ocirun(root, "delete", "--force", cid)
                one_line_error(r)
                assert len(r.stderr) < 2000, "error line of %d bytes" % len(r.stderr)
                assert listing(root) in (None, []), listing(root)
                assert helpers.cgroup_dirs(cid) == []
    finally:
        helpers.ocirun(root, "delete", "--force", cid)
