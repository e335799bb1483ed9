"""Cgroup managers against this machine's kernel, without containers.

Each test makes its own cgroups under /ocirun-test-<pid>/, puts a helper
process of its own in them, and removes both afterwards. The v1 tests need
the v1 controllers mounted; the v2 tests use the cgroup2 mount (on a hybrid
host, /sys/fs/cgroup/unified) directly. No timing assertions: effects are
observed in files and in how the helper process ends.
"""

import errno
import os
import re
import subprocess
import sys
import textwrap

import pytest

from runtime import cgroups, errors
from runtime.cgroups import devices, layout, v2
from runtime.host import LINUX

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make cgroups")

try:
    LAYOUT = layout.detect(LINUX)
except errors.OciError:
    LAYOUT = None

needs_v1 = pytest.mark.skipif(LAYOUT is None or not LAYOUT.v1, reason="no cgroup v1 hierarchies here")
needs_v2 = pytest.mark.skipif(LAYOUT is None or LAYOUT.v2 is None, reason="no cgroup2 mount here")

PARENT = "/ocirun-test-%d" % os.getpid()


def v1_has(ctrl):
    return LAYOUT is not None and LAYOUT.v1_for(ctrl) is not None


# -- helpers ------------------------------------------------------------------------

HELPER = textwrap.dedent("""
    import os, sys
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    what = sys.stdin.readline().strip()
    if what == "hog":
        chunks = []
        while True:
            chunks.append(bytearray(1 << 20))   # touched: really resident
    elif what == "forks":
        ok = failed = 0
        kids = []
        for _ in range(40):
            try:
                pid = os.fork()
            except BlockingIOError:
                failed += 1
                continue
            if pid == 0:
                os.read(0, 1)   # wait for the parent's stdin to close
                os._exit(0)
            ok += 1
            kids.append(pid)
        sys.stdout.write("%d %d\\n" % (ok, failed)); sys.stdout.flush()
        for k in kids:
            os.kill(k, 9)
            os.waitpid(k, 0)
    elif what.startswith("open "):
        try:
            os.close(os.open(what[5:], os.O_RDONLY))
            sys.stdout.write("ok\\n")
        except OSError as e:
            sys.stdout.write("%d\\n" % e.errno)
        sys.stdout.flush()
        sys.stdin.readline()
    else:
        sys.stdin.readline()
""")


class Helper:
    """A process of ours that waits on stdin until told what to do."""

    def __init__(self):
        self.p = subprocess.Popen(
            [sys.executable, "-S", "-c", HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.p.stdout.readline() == "ready\n"
        self.pid = self.p.pid

    def do(self, what):
        self.p.stdin.write(what + "\n")
        self.p.stdin.flush()

    def line(self):
        return self.p.stdout.readline().strip()

    def end(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def made():
    """Managers opened through this fixture are destroyed (and checked gone) at the end."""
    managers, helpers = [], []

    def open_(name, cfg=None, **kw):
        cfg = dict(cfg or {}, cgroupsPath="%s/%s" % (PARENT, name))
        m = cgroups.open_manager(name, cfg, **kw)
        managers.append(m)
        return m

    def helper():
        h = Helper()
        helpers.append(h)
        return h

    open_.helper = helper
    yield open_
    for h in helpers:
        h.end()
    dirs = []
    # Last opened first: an earlier manager made the shared parent and removes it last.
    for m in reversed(managers):
        for g in _groups(m):
            dirs.append(g.dir)
        m.destroy()
    assert [d for d in dirs if os.path.exists(d)] == []
    for h in (LAYOUT.v1 if LAYOUT else []) + ([LAYOUT.v2] if LAYOUT and LAYOUT.v2 else []):
        assert not os.path.exists(h.mountpoint + PARENT), "left behind: " + h.mountpoint + PARENT


def _groups(m):
    if m.layout == "hybrid":
        return m.v1.groups + m.v2.groups
    return m.groups


def v2_manager(name):
    """A bare v2 manager on this host's cgroup2 mount (the unified one on a hybrid host)."""
    mount = LAYOUT.v2.mountpoint
    return v2.V2Manager(LINUX, mount + PARENT + "/" + name, mount)


@pytest.fixture
def core(tmp_path_factory):
    """The C core's device filter: the built runtime._core, else this checkout's devices_bpf.c (and error.c)."""
    import runtime.core

    try:
        ffi, lib = runtime.core.load()
        if hasattr(lib, "ocirun_devices_attach"):
            yield ffi, lib
            return
    except errors.OciError:
        pass
    from cffi import FFI

    here = os.path.join(os.path.dirname(runtime.core.__file__), "core")
    text = open(os.path.join(here, "devices_bpf.h")).read()
    cdef = text[text.index("/* CDEF-BEGIN */") + 16 : text.index("/* CDEF-END */")]
    error_struct = re.search(r"struct ocirun_error \{.*?\};", open(os.path.join(here, "ocirun.h")).read(), re.S)
    b = FFI()
    b.cdef(error_struct.group(0) + cdef)
    b.set_source(
        "_ocirun_bpf_test",
        '#include "devices_bpf.h"\n',
        sources=[os.path.join(here, f) for f in ("devices_bpf.c", "error.c")],
        include_dirs=[here],
        extra_compile_args=["-D_GNU_SOURCE"],
    )
    out = tmp_path_factory.mktemp("bpf")
    b.compile(tmpdir=str(out))
    sys.path.insert(0, str(out))
    try:
        import _ocirun_bpf_test as mod

        saved = runtime.core.load
        runtime.core.load = lambda: (mod.ffi, mod.lib)
        yield mod.ffi, mod.lib
        runtime.core.load = saved
    finally:
        sys.path.remove(str(out))


def read(path):
    with open(path) as f:
        return f.read().strip()


# -- layout ----------------------------------------------------------------------------


def test_this_machine_layout():
    text = open("/proc/self/mountinfo").read()
    kinds = {fst for fst, _, _, _ in layout.parse_mountinfo(text)}
    assert LAYOUT is not None
    if "cgroup" in kinds and "cgroup2" in kinds:
        assert LAYOUT.kind == "hybrid"
    elif "cgroup2" in kinds:
        assert LAYOUT.kind == "v2"
    for h in LAYOUT.v1 + ([LAYOUT.v2] if LAYOUT.v2 else []):
        assert os.path.isdir(h.mountpoint)


# -- v1 (and hybrid, which is what this machine runs) ----------------------------------------------


def _block_device():
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram")):
            return tuple(int(x) for x in read("/sys/block/%s/dev" % name).split(":"))
    return None


@needs_v1
def test_v1_files_per_controller(made, subtests):
    m = made("files")
    m.create()
    h = made.helper()
    m.join(h.pid)
    dev = _block_device()
    table = [
        (
            "memory",
            {
                "memory": {
                    "limit": 64 << 20,
                    "reservation": 32 << 20,
                    "swappiness": 10,
                    "disableOOMKiller": True,
                    "kernelTCP": 16 << 20,
                }
            },
            [
                ("memory.limit_in_bytes", str(64 << 20)),
                ("memory.soft_limit_in_bytes", str(32 << 20)),
                ("memory.swappiness", "10"),
                ("memory.kmem.tcp.limit_in_bytes", str(16 << 20)),
            ],
        ),
        (
            "memory swap",
            {"memory": {"limit": 64 << 20, "swap": 128 << 20}},
            [("memory.memsw.limit_in_bytes", str(128 << 20))],
        ),
        (
            "cpu",
            {"cpu": {"shares": 512, "period": 200000, "quota": 100000, "burst": 1000, "idle": 0}},
            [
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "200000"),
                ("cpu.cfs_quota_us", "100000"),
                ("cpu.cfs_burst_us", "1000"),
                ("cpu.idle", "0"),
            ],
        ),
        ("cpu realtime period", {"cpu": {"realtimePeriod": 500000}}, [("cpu.rt_period_us", "500000")]),
        ("cpuset", {"cpu": {"cpus": "0", "mems": "0"}}, [("cpuset.cpus", "0"), ("cpuset.mems", "0")]),
        ("pids", {"pids": {"limit": 42}}, [("pids.max", "42")]),
        ("pids unlimited", {"pids": {"limit": -1}}, [("pids.max", "max")]),
    ]
    if dev:
        table.append(
            (
                "blkio throttle",
                {
                    "blockIO": {
                        "throttleReadBpsDevice": [{"major": dev[0], "minor": dev[1], "rate": 1 << 20}],
                        "throttleWriteIOPSDevice": [{"major": dev[0], "minor": dev[1], "rate": 100}],
                    }
                },
                [
                    ("blkio.throttle.read_bps_device", "%d:%d %d" % (dev[0], dev[1], 1 << 20)),
                    ("blkio.throttle.write_iops_device", "%d:%d 100" % dev),
                ],
            )
        )
    for name, res, want in table:
        ctrl = {"cpuset": "cpuset", "blkio throttle": "blkio"}.get(name, name.split()[0])
        if not v1_has(ctrl):
            continue
        with subtests.test(name):
            m.update(res)
            g = m.v1.group(ctrl) if m.layout == "hybrid" else m.group(ctrl)
            for f, v in want:
                assert read(g.path(f)) == v, f
            if name == "memory":
                assert "oom_kill_disable 1" in read(g.path("memory.oom_control"))


@needs_v1
@pytest.mark.skipif(not v1_has("devices"), reason="no v1 devices controller")
def test_v1_devices_list_and_effect(made):
    m = made("devices")
    m.create()
    h = made.helper()
    m.join(h.pid)
    m.apply(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"},
            ]
        }
    )
    g = m.v1.group("devices") if m.layout == "hybrid" else m.group("devices")
    listed = read(g.path("devices.list")).splitlines()
    assert "c 1:11 r" in listed and "c 1:3 rwm" in listed and "a *:* rwm" not in listed
    h.do("open /dev/full")  # c 1:7, a default device: allowed
    assert h.line() == "ok"


@needs_v1
@pytest.mark.skipif(not v1_has("devices"), reason="no v1 devices controller")
def test_v1_device_not_allowed_is_eperm(made):
    m = made("devdeny")
    m.create()
    h = made.helper()
    m.join(h.pid)
    m.apply({"devices": [{"allow": False, "access": "rwm"}]})
    h.do("open /dev/kmsg")  # c 1:11, not among the defaults
    assert h.line() == str(errno.EPERM)


@needs_v1
@pytest.mark.skipif(not v1_has("memory"), reason="no v1 memory controller")
def test_v1_memory_limit_oom_kills_a_hog(made):
    m = made("oom")
    m.create()
    h = made.helper()
    m.join(h.pid)
    # memsw equal to the limit: no swap to escape to.
    m.apply({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    kind, d = m.oom_source()
    assert kind == "v1"
    from runtime.ops.events import OomWatch

    watch = OomWatch((kind, d), LINUX)
    try:
        h.do("hog")
        assert h.p.wait() == -9
        assert watch.wait(30) >= 1
    finally:
        watch.close()
    assert "oom_kill 1" in read(d + "/memory.oom_control")
    usage = m.stats()["memory"]["usage"]
    assert usage["limit"] == 32 << 20 and usage["max"] > 16 << 20  # it got near the limit


@needs_v1
@pytest.mark.skipif(not v1_has("pids"), reason="no v1 pids controller")
def test_v1_pids_limit_stops_a_fork_bomb(made):
    m = made("forks")
    m.create()
    h = made.helper()
    m.join(h.pid)
    m.apply({"pids": {"limit": 5}})
    h.do("forks")
    ok, failed = map(int, h.line().split())
    assert ok + failed == 40 and ok <= 4 and failed > 0  # the helper itself is one of the five
    s = m.stats()["pids"]
    assert s["limit"] == 5


@needs_v1
@pytest.mark.skipif(not v1_has("freezer"), reason="no v1 freezer controller")
def test_v1_freeze_thaw(made):
    m = made("freeze")
    m.create()
    h = made.helper()
    m.join(h.pid)
    m.freeze()
    assert m.frozen()
    g = m.v1.group("freezer") if m.layout == "hybrid" else m.group("freezer")
    assert read(g.path("freezer.state")) == "FROZEN"
    # A frozen task sits in the refrigerator, which /proc shows as D.
    state = [l for l in open("/proc/%d/status" % h.pid) if l.startswith("State:")][0]
    assert state.split()[1] == "D"
    m.thaw()
    assert not m.frozen()
    h.do("echo")  # it runs again: it reads this, then waits for one more line
    h.p.stdin.write("\n")
    h.p.stdin.flush()
    assert h.p.wait() == 0


@needs_v1
def test_kill_all_reaches_every_process(made, subtests):
    for sig in (15, 9):
        with subtests.test(sig=sig):
            m = made("kill%d" % sig)
            m.create()
            hs = [made.helper() for _ in range(3)]
            for h in hs:
                m.join(h.pid)
            assert m.pids() == sorted(h.pid for h in hs)
            m.kill_all(sig)
            assert [h.p.wait() for h in hs] == [-sig] * 3


@needs_v1
def test_hybrid_join_puts_the_pid_everywhere(made):
    m = made("join")
    m.create()
    h = made.helper()
    m.join(h.pid)
    own = layout.parse_proc_cgroup(open("/proc/%d/cgroup" % h.pid).read())
    for hier in LAYOUT.v1:
        assert own[hier.controllers[0]].endswith(PARENT + "/join")
    if LAYOUT.v2 is not None and m.layout == "hybrid":
        assert own[""].endswith(PARENT + "/join")


@needs_v1
def test_refused_value_names_file_and_value_and_create_is_undone(made):
    m = made("refused")
    m.create()
    with pytest.raises(errors.OciError) as e:
        # cpu.cfs_period_us must be at least 1000 (1 ms).
        m.apply({"cpu": {"period": 10}})
    assert str(e.value).startswith("write linux.resources.cpu.period `10` to `")
    assert "cpu.cfs_period_us`: EINVAL" in str(e.value)
    dirs = [g.dir for g in _groups(m)]
    m.destroy()  # what the lifecycle does when apply fails
    assert not [d for d in dirs if os.path.exists(d)]


@needs_v1
def test_destroy_keeps_an_existing_parent(made):
    mount = LAYOUT.v1[0].mountpoint
    parent = mount + PARENT
    os.makedirs(parent + "/engine")
    try:
        m = cgroups.open_manager("x", {"cgroupsPath": PARENT + "/engine/x"})
        m.create()
        assert os.path.isdir(parent + "/engine/x")
        m.destroy()
        assert not os.path.exists(parent + "/engine/x")
        assert os.path.isdir(parent + "/engine")
    finally:
        for d in (parent + "/engine", parent):
            if os.path.isdir(d):
                os.rmdir(d)
        # The other hierarchies got the whole path made by us, and removed.
        for h in LAYOUT.v1[1:] + ([LAYOUT.v2] if LAYOUT.v2 else []):
            assert not os.path.exists(h.mountpoint + PARENT)


@needs_v1
def test_stats_shape(made):
    m = made("stats")
    m.create()
    h = made.helper()
    m.join(h.pid)
    m.apply({"pids": {"limit": 9}, "memory": {"limit": 1 << 30}})
    s = m.stats()
    assert set(s["cpu"]) == {"usage", "throttling"}
    if v1_has("cpuacct"):
        assert len(s["cpu"]["usage"]["percpu"]) == os.cpu_count()
    if v1_has("memory"):
        assert s["memory"]["usage"]["limit"] == 1 << 30 and "raw" in s["memory"]
    if v1_has("pids"):
        assert s["pids"] == {"current": 1, "limit": 9}
    from runtime import fastjson

    fastjson.dumps(s)  # JSON-able as it is


# -- v2 on the cgroup2 mount -----------------------------------------------------------------------


@pytest.fixture
def v2m():
    managers = []

    def open_(name):
        m = v2_manager(name)
        managers.append(m)
        return m

    yield open_
    for m in reversed(managers):
        try:
            m.kill_all(9)
        except errors.OciError:
            pass
        m.destroy()
        assert not os.path.exists(m.group.dir)
    assert not os.path.exists(LAYOUT.v2.mountpoint + PARENT)


@needs_v2
def test_v2_freeze_kill_procs(v2m):
    m = v2m("core")
    m.create()
    hs = [Helper(), Helper()]
    try:
        for h in hs:
            m.join(h.pid)
        assert m.pids() == sorted(h.pid for h in hs)
        m.freeze()
        assert m.frozen()
        assert read(m.group.path("cgroup.freeze")) == "1"
        m.thaw()
        assert not m.frozen()
        m.kill_all(9)  # cgroup.kill
        assert [h.p.wait() for h in hs] == [-9, -9]
    finally:
        for h in hs:
            h.end()


@needs_v2
def test_v2_controllers_available_here(v2m):
    m = v2m("ctl")
    m.create()
    avail = set(m.available())
    if "hugetlb" in avail:
        m.update({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]})
        assert read(m.group.path("hugetlb.2MB.max")) == str(2 << 20)
    if "pids" in avail:
        m.update({"pids": {"limit": 7}})
        assert read(m.group.path("pids.max")) == "7"
    if "memory" not in avail:
        # No memory controller delegated: a memory limit fails naming the file.
        with pytest.raises(errors.OciError, match=r"memory\.max`: ENOENT"):
            m.update({"memory": {"limit": 1 << 20}})


@needs_v2
def test_v2_device_filter_denies_dev_null(v2m, core):
    m = v2m("bpf")
    m.create()
    h = Helper()
    try:
        m.join(h.pid)
        LINUX.attach_device_filter(m.group.dir, [devices.DeviceRule(False)])
        h.do("open /dev/null")
        assert h.line() == str(errno.EPERM)
    finally:
        h.end()


@needs_v2
def test_v2_device_rules_through_the_manager(v2m, core, subtests):
    ffi, lib = core
    m = v2m("bpf2")
    m.create()
    m.apply({"devices": [{"allow": False, "access": "rwm"}]})
    m.apply({"devices": [{"allow": False, "access": "rwm"}]})  # replaces, never piles up
    assert _attached(m.group.dir) == 1
    for path, want in (("/dev/null", "ok"), ("/dev/zero", "ok"), ("/dev/kmsg", str(errno.EPERM))):
        with subtests.test(path):
            h = Helper()
            try:
                m.join(h.pid)
                h.do("open " + path)
                assert h.line() == want
            finally:
                h.end()


def _attached(d):
    """How many device programs are attached to cgroup dir d (BPF_PROG_QUERY)."""
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        ids = (ctypes.c_uint32 * 64)()
        attr = ctypes.create_string_buffer(128)
        # target_fd, attach_type (BPF_CGROUP_DEVICE = 6), query_flags, attach_flags, prog_ids, prog_cnt
        struct.pack_into("<IIIIQI", attr, 0, fd, 6, 0, 0, ctypes.addressof(ids), 64)
        assert libc.syscall(321, 16, attr, 128) == 0, os.strerror(ctypes.get_errno())
        return struct.unpack_from("<I", attr, 24)[0]
    finally:
        os.close(fd)


def test_prog_build_counts(core):
    ffi, lib = core
    rules = ffi.new("struct ocirun_dev_rule[]", 2)
    rules[0].type, rules[0].major, rules[0].minor, rules[0].access, rules[0].allow = ord("a"), -1, -1, 7, 0
    rules[1].type, rules[1].major, rules[1].minor, rules[1].access, rules[1].allow = ord("c"), 1, 3, 6, 1
    # prologue 6 + rule 1 (type, major, minor, 3 access, 2) + the catch-all deny rule 2
    assert lib.ocirun_devices_prog_build(rules, 2, ffi.NULL, 1000) == 6 + 8 + 2
    assert lib.ocirun_devices_prog_build(rules, 2, ffi.NULL, 3) == -1


class V2OnlyHost(type(LINUX)):
    """The real kernel, but /proc/self/mountinfo shows only the cgroup2 mount: a pure v2 host."""

    def read(self, path):
        if path == "/proc/self/mountinfo":
            text = super().read(path).decode()
            return "".join(l + "\n" for l in text.splitlines() if " - cgroup " not in l).encode()
        if path == "/proc/self/cgroup":
            return b"".join(l + b"\n" for l in super().read(path).splitlines() if l.startswith(b"0::"))
        return super().read(path)


@needs_v2
def test_pure_v2_layout_end_to_end(core):
    m = cgroups.open_manager("purev2", {"cgroupsPath": PARENT + "/purev2"}, host=V2OnlyHost())
    assert m.layout == "v2" and m.group.dir == LAYOUT.v2.mountpoint + PARENT + "/purev2"
    saved = m.to_dict()
    m.create()
    h = Helper()
    try:
        m.join(h.pid)
        res = {"devices": [{"allow": False, "access": "rwm"}]}
        if "hugetlb" in m.available():
            res["hugepageLimits"] = [{"pageSize": "2MB", "limit": 0}]
        m.apply(res)
        assert _attached(m.group.dir) == 1
        m.freeze()
        assert m.frozen()
        m.thaw()
        h.do("open /dev/kmsg")
        assert h.line() == str(errno.EPERM)
        m.kill_all(9)
        assert h.p.wait() == -9
    finally:
        h.end()
    cgroups.from_dict(saved).destroy()
    assert not os.path.exists(LAYOUT.v2.mountpoint + PARENT)


@needs_v1
def test_destroy_after_a_crash_mid_create():
    """Only the record saved before create: destroy finds and removes whatever create got to make."""
    m = cgroups.open_manager("crash", {"cgroupsPath": PARENT + "/crash"})
    saved = m.to_dict()
    groups = _groups(m)
    # The crash: the first half of the hierarchies got their directories.
    half = groups[: len(groups) // 2]
    for g in half:
        for d in g.made:
            os.mkdir(d)
    try:
        cgroups.from_dict(saved).destroy()
    finally:
        left = [g.dir for g in groups if os.path.exists(g.dir)]
        for g in half:
            for d in reversed(g.made):
                if os.path.isdir(d):
                    os.rmdir(d)
    assert left == []


@needs_v1
@pytest.mark.skipif(not v1_has("cpu"), reason="no v1 cpu controller")
def test_v1_cpu_quota_and_burst_in_either_order(made):
    m = made("burst")
    m.create()
    g = m.v1.group("cpu") if m.layout == "hybrid" else m.group("cpu")
    if not g.has("cpu.cfs_burst_us"):
        pytest.skip("no cpu.cfs_burst_us on this kernel")
    m.update({"cpu": {"period": 100000, "quota": 100000, "burst": 50000}})
    # Lowering both: the quota cannot go below the burst in place, so the burst goes first.
    m.update({"cpu": {"quota": 20000, "burst": 10000}})
    assert (read(g.path("cpu.cfs_quota_us")), read(g.path("cpu.cfs_burst_us"))) == ("20000", "10000")


@needs_v1
@pytest.mark.skipif(not v1_has("freezer"), reason="no v1 freezer controller")
def test_kill_all_sigkill_ends_a_paused_container(made):
    m = made("pausedkill")
    m.create()
    hs = [made.helper(), made.helper()]
    for h in hs:
        m.join(h.pid)
    m.freeze()
    m.kill_all(9)
    assert [h.p.wait() for h in hs] == [-9, -9]
