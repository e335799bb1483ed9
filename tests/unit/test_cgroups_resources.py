"""linux.resources parsed once, before anything is made: validation names a bad
value, the factory refuses what this host cannot take, and the managers write
the typed values they were opened with. Also the package's shape: no import
cycle, and each manager answers for its own directories."""

import ast
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakes import RecordingHost, cgroupfs_on_mkdir, install_layout  # noqa: E402
from runtime import cgroups, errors, validation  # noqa: E402
from runtime.cgroups import resources  # noqa: E402
from runtime.cli.spec import default_config  # noqa: E402

CG = "/sys/fs/cgroup"
PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "runtime", "cgroups")


def host_for(kind):
    h = RecordingHost()
    install_layout(h, kind)
    h.on_mkdir = cgroupfs_on_mkdir
    return h


def config_with(resources_, bundle):
    os.makedirs(os.path.join(bundle, "rootfs"), exist_ok=True)
    cfg = default_config()
    cfg["linux"]["resources"] = resources_
    return cfg


# Values the schema lets through and the resource parser refuses: before this
# change they were first found by the manager, after the setup process existed.
PARSER_ONLY = [
    (
        {"memory": {"limit": 100, "swap": 50}},
        "linux.resources.memory.swap",
        "invalid value `50`: memory+swap must be at least the memory limit 100",
    ),
    ({"blockIO": {"weight": 5000}}, "linux.resources.blockIO.weight", "invalid value `5000`: must be at most 1000"),
    (
        {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 2000}]}},
        "linux.resources.blockIO.weightDevice[0].leafWeight",
        "must be at most 1000",
    ),
    ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle", "invalid value `2`: must be at most 1"),
    (
        {"unified": {"cgroup.procs": "1"}},
        "linux.resources.unified",
        "invalid value `cgroup.procs`: not a settable cgroup v2 file",
    ),
    (
        {"network": {"priorities": [{"name": "", "priority": 1}]}},
        "linux.resources.network.priorities[0]",
        "want a name and a priority",
    ),
]


def test_validation_names_the_bad_resource(subtests, tmp_path):
    for res, path, why in PARSER_ONLY:
        with subtests.test(res=res):
            lines = validation.problems(config_with(res, str(tmp_path)), str(tmp_path))
            assert len(lines) == 1 and lines[0].startswith(path + ": ") and why in lines[0], lines


def test_one_line_when_the_schema_refuses_it_too(tmp_path):
    # The parser spells paths as validation does, so the schema's line is the only one.
    lines = validation.problems(config_with({"unified": {"memory.high": 5}}, str(tmp_path)), str(tmp_path))
    assert len(lines) == 1 and lines[0].startswith('linux.resources.unified["memory.high"]: '), lines


def test_validation_passes_good_resources(tmp_path):
    res = {
        "memory": {"limit": 1 << 30, "swap": 2 << 30, "reservation": 0, "swappiness": 10},
        "cpu": {"shares": 1024, "quota": -1, "period": 100000, "cpus": "0", "idle": 0},
        "blockIO": {
            "weight": 10,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
        },
        "pids": {"limit": -1},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
        "network": {"classID": 7, "priorities": [{"name": "eth0", "priority": 1}]},
        "rdma": {"mlx5_0": {"hcaHandles": 1}},
        "unified": {"memory.high": "max"},
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3}],
    }
    assert validation.problems(config_with(res, str(tmp_path)), str(tmp_path)) == []


def test_parse_gives_typed_sections():
    r = resources.parse(
        {
            "memory": {"limit": 0, "swap": -5},
            "cpu": {},
            "pids": {"limit": 3},
            "blockIO": {"throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 9}]},
            "hugepageLimits": [{"pageSize": "1GB", "limit": 2}],
            "devices": [],
        }
    )
    assert r.memory.limit is None and r.memory.swap == -1  # 0: unset; negative: unlimited
    assert r.cpu is None and r.network is None and r.unified is None  # empty or absent
    assert r.pids.limit == 3 and r.devices == []
    assert r.blockio.throttles == [
        ("throttleWriteIOPSDevice", "write_iops_device", 8, 16, 9, "linux.resources.blockIO.throttleWriteIOPSDevice[0]")
    ]
    assert r.hugepages == [("1GB", 2, "linux.resources.hugepageLimits[0]")]
    assert resources.parse(r) is r
    assert resources.parse(None).devices is None


@pytest.mark.parametrize(
    "kind,res,pat",
    [
        ("v1", {"unified": {"memory.high": "1"}}, r"linux\.resources\.unified `memory.high`: needs cgroup v2"),
        ("v2", {"cpu": {"realtimeRuntime": 1000}}, r"cpu\.realtimeRuntime `1000`: cgroup v2 has no realtime"),
        ("v2", {"memory": {"swap": 1000}}, r"memory\.swap `1000`: a swap limit needs a memory limit"),
    ],
)
def test_open_manager_refuses_what_this_host_cannot_take(kind, res, pat):
    h = host_for(kind)
    with pytest.raises(errors.OciError, match=pat) as e:
        cgroups.open_manager("c1", {"resources": res}, host=h)
    assert "\n" not in str(e.value)
    assert not [c for c in h.calls if c[0] in ("mkdir", "write")], h.calls


def test_open_manager_refuses_a_bad_value_before_the_layout():
    h = host_for("v2")
    with pytest.raises(errors.OciError, match=r"invalid linux\.resources\.cpu\.idle `2`"):
        cgroups.open_manager("c1", {"resources": {"cpu": {"idle": 2}}}, host=h)
    assert h.calls == []


def test_hybrid_takes_unified_on_its_cgroup2_side():
    h = host_for("hybrid")
    m = cgroups.open_manager("c1", {"resources": {"unified": {"hugetlb.2MB.max": "0"}}}, host=h)
    assert m.layout == "hybrid"


def test_apply_writes_what_the_manager_was_opened_with(subtests):
    for kind, pids_max in (
        ("v1", CG + "/pids/ocirun/c1/pids.max"),
        ("v2", CG + "/ocirun/c1/pids.max"),
        ("hybrid", CG + "/pids/ocirun/c1/pids.max"),
    ):
        with subtests.test(kind):
            h = host_for(kind)
            m = cgroups.open_manager("c1", {"resources": {"pids": {"limit": 7}}}, host=h)
            m.create()
            h.calls.clear()
            m.apply()
            assert (pids_max, "7") in h.writes()


def test_device_allowances_come_at_construction():
    h = host_for("v1")
    m = cgroups.open_manager(
        "c1",
        {
            "devices": [{"type": "c", "major": 10, "minor": 200, "path": "/dev/net/tun"}],
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        },
        host=h,
    )
    m.create()
    h.calls.clear()
    m.apply()
    assert (CG + "/devices/ocirun/c1/devices.allow", "c 10:200 rwm") in h.writes()


# -- directories ----------------------------------------------------------------------


def test_each_manager_answers_for_its_directories(subtests):
    want = {
        "v1": {"cpu": CG + "/cpu/ocirun/c1", "memory": CG + "/memory/ocirun/c1"},
        "v2": {"": CG + "/ocirun/c1"},
        "hybrid": {"unified": CG + "/unified/ocirun/c1", "memory": CG + "/memory/ocirun/c1"},
    }
    for kind, some in want.items():
        with subtests.test(kind):
            h = host_for(kind)
            m = cgroups.open_manager("c1", {}, host=h)
            dirs = m.dirs()
            assert {k: dirs[k] for k in some} == some, dirs
            assert len(dirs) == len(m.all_groups())
            assert cgroups.from_dict(m.to_dict(), host=h).dirs() == dirs
            assert cgroups.dirs_of(m.to_dict()) == dirs
            hs = m.hierarchies()
            assert [g.dir for g, _ in hs] == [g.dir for g in m.all_groups()]
            assert [c for _, c in hs if c is None] == ([] if kind == "v1" else [None])  # the cgroup2 one
            assert all("memory" in c for g, c in hs if g.dir == dirs.get("memory"))
    with subtests.test("systemd record"):
        h = host_for("v2")
        inner = cgroups.open_manager("c1", {"cgroupsPath": "/system.slice/ocirun-c1.scope"}, host=h)
        d = {
            "driver": "systemd",
            "layout": "v2",
            "bus": "unix:path=/nonexistent",
            "slice": "system.slice",
            "unit": "ocirun-c1.scope",
            "root": "",
            "started": True,
            "fs": inner.to_dict(),
        }
        assert cgroups.from_dict(d, host=h).dirs() == {"": CG + "/system.slice/ocirun-c1.scope"}
    with subtests.test("nothing, or nothing readable"):
        assert cgroups.dirs_of(None) == {} and cgroups.dirs_of({"layout": "v9"}) == {}


# -- the package's shape ----------------------------------------------------------------


def _imports(path):
    """Sibling modules a module of runtime/cgroups imports (anywhere in it: lazy imports count)."""
    tree = ast.parse(open(path).read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_no_import_cycle_in_the_package():
    mods = {f[:-3]: _imports(os.path.join(PKG, f)) for f in os.listdir(PKG) if f.endswith(".py")}
    # `from . import x` names module x; a name from the package itself would be __init__.
    graph = {m: {d if d in mods else "__init__" for d in deps} - {m} for m, deps in mods.items()}
    assert graph["v2"].isdisjoint({"v1"}), "v2 imports v1"
    assert graph["fs"].isdisjoint({"v1", "v2", "hybrid", "systemd", "__init__"}), graph["fs"]

    def cycle_from(m, path):
        for d in graph.get(m, ()):
            if d in path:
                return path[path.index(d) :] + [d]
            c = cycle_from(d, path + [d])
            if c:
                return c
        return None

    for m in graph:
        assert cycle_from(m, [m]) is None, cycle_from(m, [m])


def test_systemd_check_refuses_a_cpu_list_systemd_cannot_take():
    # Found before the scope is started (the old code met it in StartTransientUnit's properties).
    from runtime.cgroups import systemd as sd

    h = host_for("v2")
    inner = cgroups.open_manager(
        "c1", {"cgroupsPath": "/system.slice/ocirun-c1.scope", "resources": {"cpu": {"cpus": "1-x"}}}, host=h
    )
    m = sd.SystemdManager(h, "unix:path=/nonexistent", "system.slice", "ocirun-c1.scope", "", inner)
    with pytest.raises(errors.OciError, match=r"^invalid linux\.resources\.cpu\.cpus `1-x`"):
        m.check()
    m.check({"cpu": {"cpus": "0-1"}})
