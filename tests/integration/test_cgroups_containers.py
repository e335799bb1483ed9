"""Cgroups through the real binary: containers created with limits, then paused, updated, listed, killed.

Uses $OCIRUN (default /usr/local/bin/ocirun; `hack/install` builds it from
the checkout) and a busybox bundle from hack/mkbundle. Every test deletes its
containers and checks that their cgroups are gone from every hierarchy.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

from runtime.cgroups import layout
from runtime.host import LINUX

OCIRUN = os.environ.get("OCIRUN", "/usr/local/bin/ocirun")
HERE = os.path.dirname(os.path.abspath(__file__))
MKBUNDLE = os.path.join(HERE, "..", "..", "hack", "mkbundle")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.access(OCIRUN, os.X_OK), reason="no ocirun binary at %s" % OCIRUN),
]

LAYOUT = layout.detect(LINUX)
PARENT = "/ocirun-itest-%d" % os.getpid()


def ocirun(root, *args, input=None, timeout=60, env=None):
    """Run the binary; output goes through files, since a container keeps an inherited pipe open."""
    import tempfile

    argv = [OCIRUN, "--root", str(root)] + [str(a) for a in args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run(argv, stdout=out, stderr=err, text=True, input=input, timeout=timeout, env=env).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, rc, out.read(), err.read())


def hierarchy_dirs(path):
    """Where a container with cgroupsPath `path` has its cgroup, in every hierarchy here."""
    out = [h.mountpoint + path for h in LAYOUT.v1]
    if LAYOUT.v2 is not None:
        out.append(LAYOUT.v2.mountpoint + path)
    return out


def v1_dir(ctrl, path):
    h = LAYOUT.v1_for(ctrl)
    return h.mountpoint + path if h else None


@pytest.fixture(scope="module")
def base_bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundle")
    subprocess.run([MKBUNDLE, str(d)], check=True, capture_output=True)
    return d


class Box:
    """A state root and bundles under tmp; every container made here is deleted at the end."""

    def __init__(self, tmp_path, base):
        self.root = tmp_path / "root"
        self.tmp = tmp_path
        self.base = base
        self.ids = []

    def bundle(self, name, args, resources=None, cgroups_path=None, **linux):
        b = self.tmp / name
        shutil.copytree(self.base, b, symlinks=True)
        with open(b / "config.json") as f:
            cfg = json.load(f)
        cfg["process"]["args"] = args
        cfg["linux"]["resources"] = resources or {}
        cfg["linux"]["cgroupsPath"] = cgroups_path or "%s/%s" % (PARENT, name)
        cfg["linux"].update(linux)
        with open(b / "config.json", "w") as f:
            json.dump(cfg, f)
        return b

    def create(self, cid, args, resources=None, gflags=(), **kw):
        b = self.bundle(cid, args, resources, **kw)
        self.ids.append(cid)
        return ocirun(self.root, *gflags, "create", "--bundle", b, cid)

    def start(self, cid):
        return ocirun(self.root, "start", cid)

    def state(self, cid):
        r = ocirun(self.root, "state", cid)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def cleanup(self):
        for cid in self.ids:
            st = self.state(cid)
            r = ocirun(self.root, "delete", "--force", cid, timeout=30)
            if st is not None and st["pid"] and r.returncode != 0:
                # A container we made: end its init ourselves before removing what is left.
                try:
                    os.kill(st["pid"], 9)
                except ProcessLookupError:
                    pass


@pytest.fixture
def box(tmp_path, base_bundle):
    b = Box(tmp_path, base_bundle)
    yield b
    b.cleanup()
    left = [d for d in hierarchy_dirs(PARENT) if os.path.exists(d)]
    # Remove leftovers so one failure does not spill into the next test, then fail.
    for d in left:
        for dirpath, _dirnames, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    assert left == [], "cgroups left behind"


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_create_applies_limits_and_delete_removes_them(box):
    res = {"memory": {"limit": 64 << 20}, "pids": {"limit": 32}, "cpu": {"shares": 256}}
    r = box.create("lim", ["sleep", "300"], res)
    assert r.returncode == 0, r.stderr
    path = PARENT + "/lim"
    if v1_dir("memory", path):
        assert read(v1_dir("memory", path) + "/memory.limit_in_bytes") == str(64 << 20)
    if v1_dir("pids", path):
        assert read(v1_dir("pids", path) + "/pids.max") == "32"
    if v1_dir("cpu", path):
        assert read(v1_dir("cpu", path) + "/cpu.shares") == "256"
    pid = box.state("lim")["pid"]
    own = layout.parse_proc_cgroup(read("/proc/%d/cgroup" % pid))
    assert all(own[h.controllers[0]] == path for h in LAYOUT.v1)
    r = ocirun(box.root, "delete", "--force", "lim", timeout=30)
    assert r.returncode == 0, r.stderr
    assert [d for d in hierarchy_dirs(path) if os.path.exists(d)] == []


def test_bad_resource_fails_create_and_leaves_nothing(box, subtests):
    cases = [
        ({"memory": {"swappiness": 500}}, "linux.resources.memory.swappiness"),
        ({"cpu": {"period": 10}}, "cpu.cfs_period_us"),
    ]
    for res, needle in cases:
        with subtests.test(res=res):
            cid = "bad%d" % len(box.ids)
            r = box.create(cid, ["true"], res)
            assert r.returncode == 1 and needle in r.stderr and r.stderr.count("\n") == 1, r.stderr
            assert box.state(cid) is None
            assert [d for d in hierarchy_dirs(PARENT + "/" + cid) if os.path.exists(d)] == []


def test_pause_resume_ps_events_update(box):
    assert box.create("pr", ["sleep", "300"], {"pids": {"limit": 50}}).returncode == 0
    assert box.start("pr").returncode == 0
    pid = box.state("pr")["pid"]
    r = ocirun(box.root, "pause", "pr")
    assert r.returncode == 0, r.stderr
    assert box.state("pr")["status"] == "paused"
    if v1_dir("freezer", PARENT + "/pr"):
        assert read(v1_dir("freezer", PARENT + "/pr") + "/freezer.state") == "FROZEN"
    assert ocirun(box.root, "resume", "pr").returncode == 0
    assert box.state("pr")["status"] == "running"

    r = ocirun(box.root, "ps", "--format", "json", "pr")
    assert r.returncode == 0 and json.loads(r.stdout) == [pid]
    r = ocirun(box.root, "ps", "pr")
    assert r.returncode == 0 and str(pid) in r.stdout.splitlines()[1].split()

    r = ocirun(box.root, "events", "--stats", "pr")
    ev = json.loads(r.stdout)
    assert ev["type"] == "stats" and ev["id"] == "pr" and ev["data"]["pids"]["limit"] == 50

    r = ocirun(box.root, "update", "--pids-limit", "60", "--memory", "128M", "pr")
    assert r.returncode == 0, r.stderr
    if v1_dir("pids", PARENT + "/pr"):
        assert read(v1_dir("pids", PARENT + "/pr") + "/pids.max") == "60"
    if v1_dir("memory", PARENT + "/pr"):
        assert read(v1_dir("memory", PARENT + "/pr") + "/memory.limit_in_bytes") == str(128 << 20)
    r = ocirun(box.root, "update", "--resources", "-", "pr", input='{"pids": {"limit": 70}}')
    assert r.returncode == 0, r.stderr
    r = ocirun(box.root, "events", "--stats", "pr")
    assert json.loads(r.stdout)["data"]["pids"]["limit"] == 70


def test_update_cpu_share_runc_spelling(box):
    # runc spells it --cpu-share; --cpu-shares stays as an alias.
    assert box.create("cs", ["sleep", "300"], {"cpu": {"shares": 256}}).returncode == 0
    for flag, value in (("--cpu-share", "700"), ("--cpu-shares", "600")):
        r = ocirun(box.root, "update", flag, value, "cs")
        assert r.returncode == 0, r.stderr
        if v1_dir("cpu", PARENT + "/cs"):
            assert read(v1_dir("cpu", PARENT + "/cs") + "/cpu.shares") == value
        with open(box.root / "cs" / "state.json") as f:
            assert json.load(f)["resources"]["cpu"]["shares"] == int(value)


def test_update_starts_from_the_config_create_was_given(box):
    # The resources in force are the ones create was given (--config here),
    # recorded in the state: never the bundle's config.json, read again.
    b = box.bundle("uc", ["sleep", "300"], {"cpu": {"shares": 300}, "pids": {"limit": 50}})
    with open(b / "config.json") as f:
        cfg = json.load(f)
    cfg["linux"]["resources"] = {"cpu": {"shares": 512}, "pids": {"limit": 40}}
    with open(b / "alt.json", "w") as f:
        json.dump(cfg, f)
    box.ids.append("uc")
    r = ocirun(box.root, "create", "--bundle", b, "--config", "alt.json", "uc")
    assert r.returncode == 0, r.stderr
    r = ocirun(box.root, "update", "--pids-limit", "30", "uc")
    assert r.returncode == 0, r.stderr
    with open(box.root / "uc" / "state.json") as f:
        assert json.load(f)["resources"] == {"cpu": {"shares": 512}, "pids": {"limit": 30}}
    if v1_dir("cpu", PARENT + "/uc"):
        assert read(v1_dir("cpu", PARENT + "/uc") + "/cpu.shares") == "512"
    if v1_dir("pids", PARENT + "/uc"):
        assert read(v1_dir("pids", PARENT + "/uc") + "/pids.max") == "30"


def test_kill_all(box):
    # Without a pid namespace the init's children outlive it: kill --all reaches them.
    ns = [n for n in json.load(open(box.base / "config.json"))["linux"]["namespaces"] if n["type"] != "pid"]
    assert box.create("ka", ["sh", "-c", "sleep 300 & sleep 300 & wait"], namespaces=ns).returncode == 0
    assert box.start("ka").returncode == 0
    deadline = time.monotonic() + 10
    while len(json.loads(ocirun(box.root, "ps", "--format", "json", "ka").stdout)) < 3:
        assert time.monotonic() < deadline, "the container's children did not appear"
        time.sleep(0.05)
    r = ocirun(box.root, "kill", "--all", "ka", "KILL")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while json.loads(ocirun(box.root, "ps", "--format", "json", "ka").stdout):
        assert time.monotonic() < deadline, "processes survived kill --all"
        time.sleep(0.05)


@pytest.mark.skipif(LAYOUT.v1_for("memory") is None, reason="no v1 memory controller")
def test_memory_limit_oom_kills_the_hog(box):
    # `tail` of a file without newlines keeps all of it in memory.
    res = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    r = box.create("oom", ["tail", "/dev/zero"], res)
    assert r.returncode == 0, r.stderr
    d = v1_dir("memory", PARENT + "/oom")
    assert box.start("oom").returncode == 0
    deadline = time.monotonic() + 30
    while "oom_kill 0" in read(d + "/memory.oom_control"):
        assert time.monotonic() < deadline, "no OOM kill"
        time.sleep(0.05)
    assert "oom_kill 1" in read(d + "/memory.oom_control")


@pytest.mark.skipif(LAYOUT.v1_for("pids") is None, reason="no v1 pids controller")
def test_pids_limit_stops_a_fork_bomb(box):
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100 & done 2>/dev/null; sleep 100"
    r = box.create("fb", ["sh", "-c", script], {"pids": {"limit": 4}})
    assert r.returncode == 0, r.stderr
    assert box.start("fb").returncode == 0
    d = v1_dir("pids", PARENT + "/fb")
    deadline = time.monotonic() + 10
    # pids.events counts the forks the limit refused.
    while read(d + "/pids.events") == "max 0":
        assert time.monotonic() < deadline, "no fork was refused"
        time.sleep(0.05)
    assert int(read(d + "/pids.current")) <= 4


def test_cgroup_manager_disabled_and_systemd(box, subtests):
    with subtests.test("disabled"):
        r = box.create("nocg", ["sleep", "300"], {"pids": {"limit": 5}}, gflags=("--cgroup-manager", "disabled"))
        assert r.returncode == 0, r.stderr
        assert [d for d in hierarchy_dirs(PARENT + "/nocg") if os.path.exists(d)] == []
    # The systemd driver itself is tested against a real systemd in tests/systemd;
    # here: with no systemd to talk to, it fails in one line and leaves nothing.
    nobus = str(box.root) + "/no-such-bus"
    for flags in (("--systemd-cgroup",), ("--cgroup-manager", "systemd")):
        with subtests.test(flags=flags):
            cid = "sd%d" % len(box.ids)
            box.ids.append(cid)
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + nobus)
            b = box.bundle(cid, ["true"], None, cgroups_path="system.slice:ocirun-itest:" + cid)
            r = ocirun(box.root, *flags, "create", "--bundle", b, cid, env=env)
            assert r.returncode == 1
            assert (
                r.stderr == "cannot connect to systemd at `unix:path=%s`: ENOENT (No such file or directory)\n" % nobus
            )
            assert box.state(cid) is None
            # A cgroupfs path is not systemd's slice:prefix:name.
            b = box.bundle(cid + "p", ["true"], None)
            r = ocirun(box.root, *flags, "create", "--bundle", b, cid + "p", env=env)
            assert r.returncode == 1
            assert r.stderr == "invalid linux.cgroupsPath `%s/%sp`: the systemd driver wants slice:prefix:name\n" % (
                PARENT,
                cid,
            )
            assert box.state(cid + "p") is None


@pytest.mark.skipif(LAYOUT.v1_for("memory") is None and LAYOUT.kind != "v2", reason="no memory controller")
def test_events_reports_the_oom(box):
    r = box.create("evoom", ["tail", "/dev/zero"], {"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    assert r.returncode == 0, r.stderr
    ev = subprocess.Popen(
        [OCIRUN, "--root", str(box.root), "events", "--interval", "1s", "evoom"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(ev.stdout.readline())  # watching: the OOM notification is registered
        assert first["type"] == "stats"
        assert box.start("evoom").returncode == 0
        # The hog is the init: once it is OOM-killed the container stops and events ends.
        out, err = ev.communicate(timeout=60)
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait()
    types = [json.loads(l)["type"] for l in out.splitlines()]
    assert "oom" in types, (out, err)
    assert ev.returncode == 0


def test_pause_a_created_container_resumes_to_created(box):
    assert box.create("pc", ["sleep", "300"]).returncode == 0
    assert ocirun(box.root, "pause", "pc").returncode == 0
    assert box.state("pc")["status"] == "paused"
    assert ocirun(box.root, "resume", "pc").returncode == 0
    assert box.state("pc")["status"] == "created"
    r = ocirun(box.root, "resume", "pc")
    assert (r.returncode, r.stderr) == (1, "container not paused\n")
    assert ocirun(box.root, "pause", "nosuch").stderr == "container does not exist\n"
