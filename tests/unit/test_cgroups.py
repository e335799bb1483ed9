"""Cgroup managers against the recording Host: layout detection, paths, file writes, cleanup."""

import errno
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakes import RecordingHost, cgroupfs_on_mkdir, install_layout  # noqa: E402
from runtime import cgroups, errors  # noqa: E402
from runtime.cgroups import devices, layout, resources  # noqa: E402

CG = "/sys/fs/cgroup"


def host_for(kind, own="/", v2_controllers="hugetlb", root=None):
    h = RecordingHost(root)
    install_layout(h, kind, own=own, v2_controllers=v2_controllers)
    h.on_mkdir = cgroupfs_on_mkdir
    return h


def opened(kind, cfg=None, cid="c1", **kw):
    h = host_for(kind, **kw)
    m = cgroups.open_manager(cid, cfg or {}, host=h)
    h.calls.clear()
    return h, m


# -- detection ---------------------------------------------------------------

MOUNTINFO_HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""


def test_parse_mountinfo_and_detect(subtests):
    cases = [
        ("hybrid", MOUNTINFO_HYBRID, "hybrid", ["cpu,cpuacct", "memory", "name=systemd"], "/sys/fs/cgroup/unified"),
        ("v2", "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n", "v2", [], "/sys/fs/cgroup"),
        ("v1", "32 31 0:29 / /cg/mem\\040ory rw - cgroup cgroup rw,memory\n", "v1", ["memory"], None),
        (
            "named only + v2",
            "40 1 0:37 / /x rw - cgroup cgroup rw,name=systemd\n41 1 0:38 / /y rw - cgroup2 cgroup2 rw\n",
            "v2",
            [],
            "/y",
        ),
    ]
    for name, text, kind, v1, v2 in cases:
        with subtests.test(name):
            h = RecordingHost()
            h.add_file("/proc/self/mountinfo", text)
            h.add_file("/proc/self/cgroup", "0::/\n")
            lay = layout.detect(h)
            assert lay.kind == kind
            assert [",".join(x.controllers) for x in lay.v1] == v1
            assert (lay.v2.mountpoint if lay.v2 else None) == v2
    with subtests.test("escaped mountpoint"):
        assert layout.parse_mountinfo(cases[2][1])[0][2] == "/cg/mem ory"
    with subtests.test("no cgroups at all"):
        h = RecordingHost()
        h.add_file("/proc/self/mountinfo", "1 0 0:1 / / rw - ext4 /dev/sda rw\n")
        h.add_file("/proc/self/cgroup", "")
        with pytest.raises(errors.OciError, match="no cgroup hierarchy"):
            layout.detect(h)


def test_proc_cgroup_parse():
    own = layout.parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/c\n1:name=systemd:/s\n0::/u\n")
    assert own == {"memory": "/a/b", "cpu": "/c", "cpuacct": "/c", "name=systemd": "/s", "": "/u"}


def test_dir_for_mount_root_subtree():
    h = layout.Hierarchy(1, ("memory",), "/sys/fs/cgroup/memory", "/docker/abc")
    assert h.dir_for("/docker/abc/x") == "/sys/fs/cgroup/memory/x"
    assert h.dir_for("/other") == "/sys/fs/cgroup/memory/other"


# -- cgroupsPath ---------------------------------------------------------------


def test_cgroups_path(subtests):
    cases = [
        ("default", None, "/", CG + "/memory/ocirun/c1", CG + "/unified/ocirun/c1"),
        ("absolute", "/a/b", "/runtime/parent", CG + "/memory/a/b", CG + "/unified/a/b"),
        (
            "relative under our own cgroup",
            "a/b",
            "/runtime/parent",
            CG + "/memory/runtime/parent/a/b",
            CG + "/unified/runtime/parent/a/b",
        ),
        ("dots and slashes", "//a/./b/", "/", CG + "/memory/a/b", CG + "/unified/a/b"),
    ]
    for name, path, own, mem, uni in cases:
        with subtests.test(name):
            cfg = {"cgroupsPath": path} if path is not None else {}
            h, m = opened("hybrid", cfg, own=own)
            assert m.v1.group("memory").dir == mem
            assert m.v2.group.dir == uni
    for bad in ("../x", "/a/../../b", "/", "slice:prefix:name"):
        with subtests.test(bad=bad):
            with pytest.raises(errors.OciError, match=r"linux\.cgroupsPath"):
                opened("hybrid", {"cgroupsPath": bad})


def test_drivers(subtests):
    with subtests.test("disabled"):
        assert cgroups.open_manager("c1", {}, "disabled") is None
    with subtests.test("systemd without a bus"):
        old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/ocirun-test-bus"
        try:
            with pytest.raises(
                errors.OciError,
                match="^cannot connect to systemd at `unix:path=/nonexistent/"
                "ocirun-test-bus`: ENOENT \\(No such file or directory\\)$",
            ):
                cgroups.open_manager("c1", {}, "systemd")
        finally:
            if old is None:
                del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old
    with subtests.test("--systemd-cgroup"):
        assert cgroups.check_driver("cgroupfs", systemd_flag=True) == "systemd"
        assert cgroups.check_driver("systemd") == "systemd"
    with subtests.test("unknown"):
        with pytest.raises(errors.UsageError, match="cgroup-manager `bogus`"):
            cgroups.open_manager("c1", {}, "bogus")


# -- create / join / destroy -------------------------------------------------------


def test_hybrid_join_writes_every_hierarchy():
    h, m = opened("hybrid")
    m.create()
    h.calls.clear()
    m.join(4242)
    procs = [p for p, v in h.writes() if p.endswith("/cgroup.procs")]
    assert sorted(procs) == sorted(
        [
            "%s/%s/ocirun/c1/cgroup.procs" % (CG, c)
            for c in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
        ]
        + [CG + "/unified/ocirun/c1/cgroup.procs"]
    )
    assert {v for p, v in h.writes()} == {"4242"}


def test_to_dict_before_create_lists_what_create_makes():
    h, m = opened("hybrid")
    d = m.to_dict()
    made = [x for g in d["v1"]["groups"] for x in g["made"]] + d["v2"]["made"]
    assert CG + "/memory/ocirun" in made and CG + "/memory/ocirun/c1" in made
    assert not any(n == "mkdir" for n in h.names())
    # A crash right after this point: destroy from the saved dict removes nothing that is not there.
    cgroups.from_dict(d, host=h).destroy()


def test_destroy_removes_only_what_create_made(subtests):
    for kind in ("v1", "v2", "hybrid"):
        with subtests.test(kind):
            h = host_for(kind)
            # An engine's parent cgroup exists already: it is not ours to remove.
            lay = layout.detect(h)
            for hier in lay.v1 + ([lay.v2] if lay.v2 else []):
                h.add_dir(hier.mountpoint + "/engine")
                cgroupfs_on_mkdir(h, hier.mountpoint + "/engine")
            if kind != "v2":
                h.files[CG + "/cpuset/engine/cpuset.cpus"] = b"0-3\n"
            m = cgroups.open_manager("c1", {"cgroupsPath": "/engine/c1"}, host=h)
            saved = m.to_dict()
            m.create()
            made = [a[0] for a in h.names("mkdir")]
            assert made and all(p.endswith("/engine/c1") for p in made)
            cgroups.from_dict(saved, host=h).destroy()
            assert sorted(a[0] for a in h.names("rmdir")) == sorted(made)
            assert all(h.isdir(hier.mountpoint + "/engine") for hier in lay.v1 + ([lay.v2] if lay.v2 else []))


def test_crash_mid_create_then_destroy():
    h = host_for("hybrid")
    m = cgroups.open_manager("c1", {}, host=h)
    saved = m.to_dict()
    h.fail["mkdir"] = (errno.ENOSPC, "/freezer/")
    with pytest.raises(errors.OciError, match=r"cannot create cgroup `/sys/fs/cgroup/freezer/ocirun`: ENOSPC"):
        m.create()
    # create undid itself; destroy from the record made before create is still safe.
    assert not [d for d in h.dirs if "/ocirun" in d]
    del h.fail["mkdir"]
    cgroups.from_dict(saved, host=h).destroy()


def test_create_remakes_a_parent_that_vanished():
    """Another container's delete removes the shared `ocirun` group between
    our plan (it existed) and our mkdir: create makes it again, as ours."""
    h = host_for("v1")
    h.add_dir(CG + "/memory/ocirun")
    cgroupfs_on_mkdir(h, CG + "/memory/ocirun")
    m = cgroups.open_manager("c1", {"cgroupsPath": "ocirun/c1"}, host=h)
    assert m.group("memory").made == [CG + "/memory/ocirun/c1"]
    for d in [d for d in h.dirs if d.startswith(CG + "/memory/ocirun")]:
        h.dirs.discard(d)
    m.create()
    assert h.isdir(CG + "/memory/ocirun/c1")
    assert m.group("memory").made == [CG + "/memory/ocirun", CG + "/memory/ocirun/c1"]
    m.destroy()
    assert not [d for d in h.dirs if "/ocirun" in d]


def test_destroy_also_removes_cgroups_the_container_made_inside():
    h, m = opened("v2")
    m.create()
    h.add_dir(CG + "/ocirun/c1/sub/subsub")
    m.destroy()
    assert not [d for d in h.dirs if "/ocirun" in d]


def test_destroy_tolerates_missing():
    h, m = opened("v1")
    m.create()
    for d in list(h.dirs):
        if "/ocirun" in d:
            h.dirs.discard(d)
    m.destroy()


# -- resources: v1 -----------------------------------------------------------------

V1_CASES = [
    ("memory limit", {"memory": {"limit": 1 << 20}}, [("memory/ocirun/c1/memory.limit_in_bytes", "1048576")]),
    (
        "memory and swap below the unlimited memsw: memory first",
        {"memory": {"limit": 100, "swap": 300}},
        [("memory/ocirun/c1/memory.limit_in_bytes", "100"), ("memory/ocirun/c1/memory.memsw.limit_in_bytes", "300")],
    ),
    (
        "unlimited memory: unlimited memsw too",
        {"memory": {"limit": -1}},
        [("memory/ocirun/c1/memory.memsw.limit_in_bytes", "-1"), ("memory/ocirun/c1/memory.limit_in_bytes", "-1")],
    ),
    (
        "reservation swappiness oom hierarchy",
        {"memory": {"reservation": 5, "swappiness": 0, "disableOOMKiller": True, "useHierarchy": True}},
        [
            ("memory/ocirun/c1/memory.soft_limit_in_bytes", "5"),
            ("memory/ocirun/c1/memory.swappiness", "0"),
            ("memory/ocirun/c1/memory.oom_control", "1"),
            ("memory/ocirun/c1/memory.use_hierarchy", "1"),
        ],
    ),
    ("kernelTCP", {"memory": {"kernelTCP": 4096}}, [("memory/ocirun/c1/memory.kmem.tcp.limit_in_bytes", "4096")]),
    ("kernel: warned, not written", {"memory": {"kernel": 4096}}, []),
    ("zero means unset", {"memory": {"limit": 0, "swap": 0, "reservation": 0}}, []),
    (
        "cpu",
        {
            "cpu": {
                "shares": 512,
                "quota": 50000,
                "period": 100000,
                "burst": 1000,
                "realtimePeriod": 1000000,
                "realtimeRuntime": 950000,
                "idle": 1,
                "cpus": "0-1",
                "mems": "0",
            }
        },
        [
            ("cpu/ocirun/c1/cpu.shares", "512"),
            ("cpu/ocirun/c1/cpu.cfs_period_us", "100000"),
            ("cpu/ocirun/c1/cpu.cfs_quota_us", "50000"),
            ("cpu/ocirun/c1/cpu.cfs_burst_us", "1000"),
            ("cpu/ocirun/c1/cpu.rt_period_us", "1000000"),
            ("cpu/ocirun/c1/cpu.rt_runtime_us", "950000"),
            ("cpu/ocirun/c1/cpu.idle", "1"),
            ("cpuset/ocirun/c1/cpuset.cpus", "0-1"),
            ("cpuset/ocirun/c1/cpuset.mems", "0"),
        ],
    ),
    (
        "blkio on BFQ",
        {
            "blockIO": {
                "weight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}],
            }
        },
        [
            ("blkio/ocirun/c1/blkio.bfq.weight", "300"),
            ("blkio/ocirun/c1/blkio.bfq.weight_device", "8:0 200"),
            ("blkio/ocirun/c1/blkio.throttle.read_bps_device", "8:0 1000"),
            ("blkio/ocirun/c1/blkio.throttle.write_iops_device", "8:16 0"),
        ],
    ),
    ("pids", {"pids": {"limit": 10}}, [("pids/ocirun/c1/pids.max", "10")]),
    ("pids unlimited", {"pids": {"limit": -1}}, [("pids/ocirun/c1/pids.max", "max")]),
    (
        "devices",
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rw"},
            ]
        },
        [
            ("devices/ocirun/c1/devices.deny", "a"),
            ("devices/ocirun/c1/devices.allow", "c 10:200 rw"),
            ("devices/ocirun/c1/devices.allow", "c *:* m"),
            ("devices/ocirun/c1/devices.allow", "b *:* m"),
            ("devices/ocirun/c1/devices.allow", "c 1:3 rwm"),
        ],
    ),
]


def _short(writes, devices=False):
    """Writes as (path below /sys/fs/cgroup, value); the default device rules left out."""
    return [
        (p[len(CG) + 1 :], v)
        for p, v in writes
        if not p.endswith("/cgroup.procs") and (devices or "/devices." not in p)
    ]


def test_v1_resources(subtests):
    for name, res, want in V1_CASES:
        with subtests.test(name):
            h, m = opened("v1")
            m.create()
            h.calls.clear()
            m.apply(res)
            got = _short(h.writes(), devices=(name == "devices"))
            if name == "devices":
                got = got[:5]
            assert got == want


def test_v1_memory_and_memsw_order(subtests):
    # memsw may never be below the memory limit, at any moment.
    mem, memsw = "memory/ocirun/c1/memory.limit_in_bytes", "memory/ocirun/c1/memory.memsw.limit_in_bytes"
    table = [
        ("memsw grows: memsw first", b"200\n", {"limit": 150, "swap": 300}, [(memsw, "300"), (mem, "150")]),
        ("memsw shrinks: memory first", b"1000\n", {"limit": 100, "swap": 500}, [(mem, "100"), (memsw, "500")]),
        ("to unlimited: memsw first", b"1000\n", {"limit": -1, "swap": -1}, [(memsw, "-1"), (mem, "-1")]),
    ]
    for name, current, res, want in table:
        with subtests.test(name):
            h, m = opened("v1")
            m.create()
            h.files[CG + "/" + memsw] = current
            h.calls.clear()
            m.apply({"memory": res})
            assert _short(h.writes()) == want


def test_v1_unified_is_an_error():
    h, m = opened("v1")
    m.create()
    with pytest.raises(errors.OciError, match=r"linux\.resources\.unified `memory.high`: needs cgroup v2"):
        m.apply({"unified": {"memory.high": "1"}})


def test_refused_write_names_field_file_and_value():
    h, m = opened("v1")
    m.create()
    h.fail["write"] = (errno.EINVAL, "memory.limit_in_bytes")
    with pytest.raises(errors.OciError) as e:
        m.apply({"memory": {"limit": 12}})
    assert str(e.value) == (
        "write linux.resources.memory.limit `12` to "
        "`/sys/fs/cgroup/memory/ocirun/c1/memory.limit_in_bytes`: EINVAL (Invalid argument)"
    )


BAD_INPUT = [
    ({"memory": {"limit": "1G"}}, r"invalid linux\.resources\.memory\.limit `1G`: want an integer"),
    ({"memory": {"swappiness": 101}}, r"invalid linux\.resources\.memory\.swappiness `101`: must be at most 100"),
    ({"memory": {"limit": 100, "swap": 50}}, r"invalid linux\.resources\.memory\.swap `50`"),
    ({"memory": {"disableOOMKiller": "yes"}}, r"disableOOMKiller `yes`: want true or false"),
    ({"cpu": {"shares": -1}}, r"cpu\.shares `-1`: must be at least 0"),
    ({"cpu": []}, r"invalid linux\.resources\.cpu `\[\]`: want a JSON object"),
    ({"pids": {"limit": 1.5}}, r"pids\.limit `1.5`: want an integer"),
    ({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}, r"pageSize `2M`"),
    ({"blockIO": {"weight": 5000}}, r"blockIO\.weight `5000`: must be at most 1000"),
    ({"devices": [{"allow": True, "access": "rwx"}]}, r"devices\[0\]\.access `rwx`"),
    ({"devices": [{"type": "c"}]}, r"devices\[0\]\.allow"),
    ({"devices": [{"allow": True, "type": "z"}]}, r"devices\[0\]\.type `z`"),
]


def test_bad_input_is_one_line_naming_field_and_value(subtests):
    for kind in ("v1", "v2"):
        for res, pat in BAD_INPUT:
            with subtests.test(kind=kind, res=res):
                h, m = opened(kind)
                m.create()
                with pytest.raises(errors.OciError, match=pat) as e:
                    m.apply(res)
                assert "\n" not in str(e.value)


# -- resources: v2 ------------------------------------------------------------------

V2_CASES = [
    (
        "memory",
        {"memory": {"limit": 1000, "swap": 3000, "reservation": 500}},
        [("memory.max", "1000"), ("memory.swap.max", "2000"), ("memory.low", "500")],
    ),
    ("memory unlimited", {"memory": {"limit": -1}}, [("memory.max", "max"), ("memory.swap.max", "max")]),
    ("memory zero means unset", {"memory": {"limit": 0, "swap": 0, "reservation": 0}}, []),
    ("swap unlimited", {"memory": {"limit": 1000, "swap": -1}}, [("memory.max", "1000"), ("memory.swap.max", "max")]),
    (
        "swap equal to limit: no swap",
        {"memory": {"limit": 1000, "swap": 1000}},
        [("memory.max", "1000"), ("memory.swap.max", "0")],
    ),
    (
        "v1-only memory knobs: warned",
        {"memory": {"swappiness": 10, "disableOOMKiller": True, "kernel": 1, "kernelTCP": 1}},
        [],
    ),
    ("cpu shares to weight", {"cpu": {"shares": 1024}}, [("cpu.weight", "39")]),
    ("cpu shares min and max", {"cpu": {"shares": 2}}, [("cpu.weight", "1")]),
    ("cpu quota and period", {"cpu": {"quota": 50000, "period": 200000}}, [("cpu.max", "50000 200000")]),
    ("cpu unlimited quota", {"cpu": {"quota": -1}}, [("cpu.max", "max 100000")]),
    ("cpu period alone keeps the quota", {"cpu": {"period": 50000}}, [("cpu.max", "max 50000")]),
    (
        "cpu burst idle cpuset",
        {"cpu": {"burst": 10, "idle": 1, "cpus": "1", "mems": "0"}},
        [("cpu.max.burst", "10"), ("cpu.idle", "1"), ("cpuset.cpus", "1"), ("cpuset.mems", "0")],
    ),
    (
        "io weight",
        {"blockIO": {"weight": 1000, "weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}},
        [("io.weight", "default 10000"), ("io.weight", "8:0 1")],
    ),
    (
        "io throttles",
        {
            "blockIO": {
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 7}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 9}],
            }
        },
        [("io.max", "8:0 rbps=100"), ("io.max", "8:0 wbps=max"), ("io.max", "8:0 riops=7"), ("io.max", "8:0 wiops=9")],
    ),
    (
        "hugetlb with rsvd",
        {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]},
        [("hugetlb.2MB.max", "4194304"), ("hugetlb.2MB.rsvd.max", "4194304")],
    ),
    ("hugetlb without rsvd", {"hugepageLimits": [{"pageSize": "1GB", "limit": 0}]}, [("hugetlb.1GB.max", "0")]),
    ("pids", {"pids": {"limit": 3}}, [("pids.max", "3")]),
    (
        "rdma",
        {"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}},
        [("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")],
    ),
    ("unified", {"unified": {"memory.high": "1000", "pids.max": "5"}}, [("memory.high", "1000"), ("pids.max", "5")]),
    ("network: warned", {"network": {"classID": 1}}, []),
]


def test_v2_resources(subtests):
    for name, res, want in V2_CASES:
        with subtests.test(name):
            h, m = opened("v2")
            m.create()
            if name == "unified":
                h.add_file(CG + "/ocirun/c1/memory.high", "")
            h.calls.clear()
            m.apply(res)
            got = [(p.rsplit("/", 1)[1], v) for p, v in h.writes() if not p.endswith("cgroup.procs")]
            assert got == want
            assert bool(m.warnings) == ("warned" in name)


def test_v2_errors(subtests):
    cases = [
        ({"cpu": {"realtimeRuntime": 1000}}, r"realtimeRuntime `1000`: cgroup v2 has no realtime"),
        ({"memory": {"swap": 1000}}, r"memory\.swap `1000`: a swap limit needs a memory limit"),
        ({"unified": {"cgroup.procs": "1"}}, r"unified `cgroup.procs`: not a settable"),
        ({"unified": {"../x": "1"}}, r"not a settable"),
        ({"unified": {"memory.high": 1}}, r'unified\["memory\.high"\] `1`: want a string'),
        (
            {"unified": {"nosuch.file": "1"}},
            r'write linux\.resources\.unified\["nosuch\.file"\] `1` to `.*nosuch\.file`: ENOENT',
        ),
    ]
    for res, pat in cases:
        with subtests.test(res=res):
            h, m = opened("v2")
            m.create()
            with pytest.raises(errors.OciError, match=pat):
                m.apply(res)


def test_v2_create_delegates_controllers():
    h, m = opened("v2")
    m.create()
    sub = [(p, v) for p, v in h.writes() if p.endswith("cgroup.subtree_control")]
    parents = {p for p, _ in sub}
    assert parents == {CG + "/cgroup.subtree_control", CG + "/ocirun/cgroup.subtree_control"}
    assert ("%s/cgroup.subtree_control" % CG, "+memory") in sub


def test_v2_devices_go_to_the_bpf_filter():
    h, m = opened("v2", {"devices": [{"type": "c", "major": 10, "minor": 229, "path": "/dev/fuse"}]})
    m.create()
    m.apply({"devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "b", "major": 8, "access": "r"}]})
    ((d, rules),) = h.names("attach_device_filter")
    assert d == CG + "/ocirun/c1"
    assert rules[0] == devices.DeviceRule(False)
    assert devices.DeviceRule(True, "b", 8, -1, "r") in rules
    assert devices.DeviceRule(True, "c", 10, 229, "rwm") in rules  # linux.devices
    assert devices.DeviceRule(True, "c", 1, 3, "rwm") in rules  # the spec's defaults
    h.calls.clear()
    m.update({"devices": [{"allow": True, "access": "rwm"}]})
    assert not h.names("attach_device_filter")


def test_v2_bpf_failure_is_one_line():
    h, m = opened("v2")
    m.create()
    h.fail["attach_device_filter"] = errno.EPERM
    with pytest.raises(errors.OciError, match=r"^cannot attach the device filter to `/sys/fs/cgroup/ocirun/c1`: EPERM"):
        m.apply({"devices": []})


def test_check_before_update(subtests):
    for kind, usage_file in (
        ("v1", CG + "/memory/ocirun/c1/memory.usage_in_bytes"),
        ("v2", CG + "/ocirun/c1/memory.current"),
    ):
        with subtests.test(kind):
            h, m = opened(kind)
            m.create()
            h.files[usage_file] = b"5000\n"
            with pytest.raises(errors.OciError, match=r"limit `4000`: below the current usage 5000"):
                m.update({"memory": {"limit": 4000, "checkBeforeUpdate": True}})
            m.update({"memory": {"limit": 4000}})  # without the check the kernel decides


# -- hybrid routing ------------------------------------------------------------------


def test_hybrid_routes_hugetlb_to_unified_and_the_rest_to_v1():
    h, m = opened("hybrid")
    m.create()
    h.calls.clear()
    m.apply(
        {
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "memory": {"limit": 100},
            "pids": {"limit": 5},
            "devices": [],
        }
    )
    w = _short(h.writes(), devices=True)
    assert ("unified/ocirun/c1/hugetlb.2MB.max", "0") in w
    assert ("memory/ocirun/c1/memory.limit_in_bytes", "100") in w
    assert ("pids/ocirun/c1/pids.max", "5") in w
    assert ("devices/ocirun/c1/devices.deny", "a") in w
    assert not h.names("attach_device_filter")  # the v1 device controller is the one in force


def test_hybrid_unified_keys_go_to_unified():
    h, m = opened("hybrid")
    m.create()
    h.add_file(CG + "/unified/ocirun/c1/hugetlb.2MB.max", "")
    h.calls.clear()
    m.apply({"unified": {"hugetlb.2MB.max": "0"}})
    assert _short(h.writes()) == [("unified/ocirun/c1/hugetlb.2MB.max", "0")]


def test_missing_controller_is_a_warning(subtests):
    h = RecordingHost()
    install_layout(h, "v1")
    # No pids hierarchy on this fake host.
    h.files["/proc/self/mountinfo"] = b"\n".join(
        l for l in h.files["/proc/self/mountinfo"].split(b"\n") if b"pids" not in l
    )
    h.on_mkdir = cgroupfs_on_mkdir
    m = cgroups.open_manager("c1", {}, host=h)
    m.create()
    m.apply({"pids": {"limit": 4}, "network": {"classID": 7}})
    assert any("pids controller is not mounted" in w for w in m.warnings)
    assert any("net_cls controller is not mounted" in w for w in m.warnings)


# -- freeze / kill ------------------------------------------------------------------------


def test_v1_freeze_thaw_and_kill_all():
    h, m = opened("v1")
    m.create()
    state = CG + "/freezer/ocirun/c1/freezer.state"
    h.files[CG + "/pids/ocirun/c1/cgroup.procs"] = b"10\n11\n"
    orig_write = h.write

    def kernel_write(path, data, create=False):  # the fake freezer settles at once
        orig_write(path, data, create)
        if path == state:
            h.files[state] = data + b"\n"

    h.write = kernel_write
    m.kill_all(15)
    w = [v for p, v in h.writes() if p == state]
    assert w == ["FROZEN", "THAWED"]
    assert h.killed == [(10, 15), (11, 15)]
    assert not m.frozen()


def test_v2_kill_all_uses_cgroup_kill_for_sigkill(subtests):
    with subtests.test("v2"):
        h, m = opened("v2")
        m.create()
        h.calls.clear()
        m.kill_all(9)
        assert h.writes() == [(CG + "/ocirun/c1/cgroup.kill", "1")]
    with subtests.test("hybrid"):
        h, m = opened("hybrid")
        m.create()
        h.calls.clear()
        m.kill_all(9)
        assert h.writes() == [(CG + "/unified/ocirun/c1/cgroup.kill", "1")]


def test_v2_freeze_waits_for_frozen():
    h, m = opened("v2")
    m.create()
    ev = CG + "/ocirun/c1/cgroup.events"
    h.files[ev] = b"populated 1\nfrozen 1\n"
    m.freeze()
    assert (CG + "/ocirun/c1/cgroup.freeze", "1") in h.writes()
    assert m.frozen()


def test_pids_include_nested_cgroups():
    h, m = opened("v2")
    m.create()
    h.files[CG + "/ocirun/c1/cgroup.procs"] = b"5\n"
    h.add_file(CG + "/ocirun/c1/inner/cgroup.procs", "7\n6\n")
    assert m.pids() == [5, 6, 7]


def test_from_dict_round_trip(subtests):
    from runtime import fastjson

    for kind in ("v1", "v2", "hybrid"):
        with subtests.test(kind):
            h, m = opened(kind)
            d = fastjson.loads(fastjson.dumps(m.to_dict()))
            m2 = cgroups.from_dict(d, host=h)
            assert m2.to_dict() == m.to_dict()
            assert m2.layout == kind
    with subtests.test("nothing stored"):
        assert cgroups.from_dict(None) is None and cgroups.from_dict({}) is None


# -- conversions and parsing ----------------------------------------------------------------


def test_conversions(subtests):
    table = [
        (resources.shares_to_weight, 2, 1),
        (resources.shares_to_weight, 1024, 39),
        (resources.shares_to_weight, 262144, 10000),
        (resources.shares_to_weight, 10**7, 10000),
        (resources.blkio_weight_to_io_weight, 10, 1),
        (resources.blkio_weight_to_io_weight, 500, 4950),
        (resources.blkio_weight_to_io_weight, 1000, 10000),
    ]
    for fn, arg, want in table:
        with subtests.test(fn=fn.__name__, arg=arg):
            assert fn(arg) == want


def test_device_rules_order_and_v1_lines():
    rules = devices.effective_devices(
        devices.parse_device_rules(
            [
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "mwr"},
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "a", "access": "r"},
            ]
        )
    )
    # Rules before the last "deny all" cannot matter; the defaults come last.
    assert rules[0] == devices.DeviceRule(False)
    assert rules[1] == devices.DeviceRule(True, "a", -1, -1, "r")
    assert rules[1].v1_lines() == ["b *:* r", "c *:* r"]
    assert rules[-1].v1_lines() == ["c 136:* rwm"]


def test_parse_bytes(subtests):
    table = [
        ("100M", 100 << 20),
        ("1g", 1 << 30),
        ("512kb", 512 << 10),
        ("1.5GiB", 3 << 29),
        ("1024", 1024),
        ("-1", -1),
        ("10 MB", 10 << 20),
    ]
    for text, want in table:
        with subtests.test(text):
            assert resources.parse_bytes(text, "memory") == want
    for text in ("", "abc", "-5", "10X", "M"):
        with subtests.test(bad=text):
            with pytest.raises(errors.UsageError, match="--memory"):
                resources.parse_bytes(text, "memory")


def test_merge():
    assert resources.merge(
        {"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 3}}, {"memory": {"limit": 5}, "cpu": {"shares": 2}}
    ) == {"memory": {"limit": 5, "swap": 2}, "pids": {"limit": 3}, "cpu": {"shares": 2}}


def test_import_cost():
    """`kill`, `delete` and `state` import runtime.cgroups: nothing heavy may come with it."""
    import subprocess

    code = (
        "import sys; import runtime.cgroups, runtime.cgroups.fs, runtime.cgroups.v1, runtime.cgroups.v2, "
        "runtime.cgroups.hybrid; print(sorted(m for m in ('json', 're', 'subprocess', 'enum', 'signal') "
        "if m in sys.modules))"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, %r); " % root + code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_v2_on_a_fake_cgroupfs_tree(tmp_path, subtests):
    """The v2 manager on a temp-dir tree that plays cgroupfs: what lands in each file."""
    h = host_for("v2", root=str(tmp_path))
    m = cgroups.open_manager("c1", {}, host=h)
    m.create()
    m.join(99)
    m.apply(
        {
            "memory": {"limit": 1 << 30, "swap": 2 << 30, "reservation": 1 << 29},
            "cpu": {"shares": 2048, "quota": 20000, "period": 100000, "cpus": "0"},
            "blockIO": {"weight": 100, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 5}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "pids": {"limit": 64},
            "unified": {"memory.max": "2147483648"},
        }
    )
    d = tmp_path / "sys/fs/cgroup/ocirun/c1"
    want = {
        "cgroup.procs": "99",
        "memory.max": "2147483648",
        "memory.swap.max": str(1 << 30),
        "memory.low": str(1 << 29),
        "cpu.weight": "79",
        "cpu.max": "20000 100000",
        "cpuset.cpus": "0",
        "io.weight": "default 910",
        "io.max": "8:0 rbps=5",
        "hugetlb.2MB.max": "0",
        "hugetlb.2MB.rsvd.max": "0",
        "pids.max": "64",
    }
    for f, v in want.items():
        with subtests.test(f):
            assert (d / f).read_text() == v
    with subtests.test("delegation"):
        assert (tmp_path / "sys/fs/cgroup/ocirun/cgroup.subtree_control").read_text().startswith("+")
    m.destroy()
    assert not (tmp_path / "sys/fs/cgroup/ocirun").exists()


def test_v1_leaf_weight_on_bfq_is_a_warning():
    h, m = opened("v1")
    m.create()
    h.calls.clear()
    m.apply({"blockIO": {"leafWeight": 300, "weightDevice": [{"major": 8, "minor": 0, "leafWeight": 20}]}})
    assert not [p for p, v in h.writes() if "leaf" in p]
    assert len([w for w in m.warnings if "leafWeight" in w]) == 2


def test_v1_kill_all_on_a_paused_container(subtests):
    for sig, thawed in ((15, False), (9, True)):
        with subtests.test(sig=sig):
            h, m = opened("v1")
            m.create()
            state = CG + "/freezer/ocirun/c1/freezer.state"
            h.files[state] = b"FROZEN\n"
            h.files[CG + "/pids/ocirun/c1/cgroup.procs"] = b"10\n"
            orig = h.write

            def kernel_write(path, data, create=False):
                orig(path, data, create)
                if path == state:
                    h.files[state] = data + b"\n"

            h.write = kernel_write
            m.kill_all(sig)
            assert h.killed == [(10, sig)]
            # Paused stays paused, unless the signal is SIGKILL, which a frozen v1 task never sees.
            assert [v for p, v in h.writes() if p == state] == (["THAWED"] if thawed else [])


def test_oom_watch_v2_counts_memory_events(tmp_path):
    from runtime.ops.events import OomWatch

    ev = tmp_path / "memory.events"
    ev.write_text("low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n")
    w = OomWatch(("v2", str(tmp_path)), RecordingHost())
    try:
        assert w.last == 0
        ev.write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
        assert w._count() == 2
    finally:
        w.close()
