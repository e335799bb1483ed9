"""The systemd cgroup driver against a real systemd (see conftest.py): transient
scopes, their properties and files, update, delete, nested slices, unwinding.

Every test runs with systemd in each cgroup layout (conftest.py: hybrid, the
host's; unified, cgroup2 alone; legacy, v1 alone) unless it names its modes.
Paths here are the host's: the scope is at /sys/fs/cgroup/<hierarchy>/<path>
whatever systemd sees. In unified mode cgroup2 on this host offers hugetlb
alone (the other controllers are bound to v1 hierarchies): the limits there
are hugetlb's, and a limit of a missing controller must fail closed."""

import glob
import json
import os

import pytest

import helpers

CG = "/sys/fs/cgroup"
MIB = 1 << 20

V1_MODES = pytest.mark.parametrize("systemd", ["hybrid", "legacy"], indirect=True)
V2_MODES = pytest.mark.parametrize("systemd", ["unified"], indirect=True)
# What does not depend on the layout (parsing, the bus) runs once.
ANY_MODE = pytest.mark.parametrize("systemd", ["hybrid"], indirect=True)


def unified_dir(systemd):
    """The host's cgroup2 mount (the hierarchy systemd has as /sys/fs/cgroup in unified mode)."""
    return CG + "/" + systemd.kernel_before.unified_mount()


def tracked(systemd):
    """How /proc/PID/cgroup names the hierarchy systemd tracks units in."""
    return "0::" if systemd.mode == "unified" else ":name=systemd:"


def small_limit(systemd):
    """(resources, host file below the scope's cgroup, its value): one limit this layout can take."""
    if systemd.mode == "unified":
        return (
            {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MIB}]},
            unified_dir(systemd) + "/%s/hugetlb.2MB.max",
            str(4 * MIB),
        )
    return {"pids": {"limit": 10}}, CG + "/pids/%s/pids.max", "10"


def expected_scope_dirs(systemd, path):
    """The scope's directories on the host: in every hierarchy systemd's view has."""
    if systemd.mode == "unified":
        return [unified_dir(systemd) + path]
    hs = [m[0] for m in systemd.kernel_before.mounts if m[1] == "cgroup"]
    if systemd.mode == "hybrid":
        hs.append(unified_dir(systemd))
    return sorted(h + path for h in hs)


def scope_dirs(unit):
    """Every directory of the unit's cgroup, in every hierarchy (the root slice or
    up to four nested slices). Only *.slice directories are walked: other tests'
    cgroup trees (deep ones included) are none of this test's business."""
    found = set()
    for depth in range(5):
        found.update(glob.glob(CG + "/*" + "/*.slice" * depth + "/" + unit))
    return sorted(found)


def read(path):
    with open(path) as f:
        return f.read().strip()


def show(systemd, unit, *props):
    return systemd.show(unit, *props)


def unit_gone(systemd, unit):
    return show(systemd, unit, "LoadState")["LoadState"] == "not-found"


def run_detached(sd_ocirun, bundle, cid, *gflags, resources=None, args=("sleep", "600"), path=None):
    bundle.set_args(*args)
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    if path is not None:
        bundle.config["linux"]["cgroupsPath"] = path
    bundle.write()
    return sd_ocirun(*(gflags or ("--systemd-cgroup",)), "run", "-d", "--bundle", bundle.path, cid)


def in_container(sd_ocirun, cid, script):
    r = sd_ocirun("exec", cid, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_systemd_made_no_cgroup_hierarchy(systemd, sd_ocirun, bundle, cid):
    """The booted systemd mounted no hierarchy of its own (perf_event, net_cls,net_prio,
    hugetlb taken from cgroup2...): those outlive it, kernel-global (conftest.py).
    A container (its cgroups go to every hierarchy mounted) changes nothing either.
    systemd runs in the layout asked for: it put itself in init.scope where it tracks units."""
    r = run_detached(sd_ocirun, bundle, cid)
    assert r.returncode == 0, r.stderr
    assert systemd.hierarchy_changes() == []
    r = systemd.run("grep", " - cgroup", "/proc/self/mountinfo")
    inside = sorted((l.split()[4], l.split(" - ")[1].split()[0]) for l in r.stdout.splitlines())
    v1 = sorted((m[0], m[1]) for m in systemd.kernel_before.mounts if m[1] == "cgroup")
    want = {"hybrid": sorted(v1 + [(unified_dir(systemd), "cgroup2")]), "legacy": v1, "unified": [(CG, "cgroup2")]}[
        systemd.mode
    ]
    assert inside == want, r.stdout
    own = systemd.run("cat", "/proc/1/cgroup").stdout.splitlines()
    assert ("0::/init.scope" in own) == (systemd.mode != "legacy"), own
    assert any(l.endswith(":name=systemd:/init.scope") for l in own) == (systemd.mode != "unified"), own


@V1_MODES
def test_limits_in_the_unit_and_the_container_then_update(systemd, sd_ocirun, bundle, cid):
    unit = "ocirun-%s.scope" % cid
    res = {
        "memory": {"limit": 64 * MIB},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 42},
    }
    r = run_detached(sd_ocirun, bundle, cid, "--cgroup-manager", "systemd", resources=res)
    assert r.returncode == 0, r.stderr
    p = show(
        systemd,
        unit,
        "ActiveState",
        "Delegate",
        "Slice",
        "ControlGroup",
        "MemoryLimit",
        "CPUShares",
        "CPUQuotaPerSecUSec",
        "TasksMax",
        "DevicePolicy",
    )
    assert p == {
        "ActiveState": "active",
        "Delegate": "yes",
        "Slice": "system.slice",
        "ControlGroup": "/system.slice/" + unit,
        "MemoryLimit": str(64 * MIB),
        "CPUShares": "512",
        "CPUQuotaPerSecUSec": "500ms",
        "TasksMax": "42",
        "DevicePolicy": "strict",
    }
    # The container sees its own cgroup (the scope's) and the limits in it.
    out = in_container(
        sd_ocirun,
        cid,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
        "/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
        "/proc/self/cgroup",
    )
    lines = out.splitlines()
    assert lines[:4] == [str(64 * MIB), "42", "512", "50000"]
    assert "4:memory:/system.slice/%s" % unit in lines or any(
        l.endswith(":memory:/system.slice/" + unit) for l in lines
    ), out
    # ps and pause/resume work on the scope's cgroup.
    r = sd_ocirun("events", "--stats", cid)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)["data"]
    assert stats["memory"]["usage"]["limit"] == 64 * MIB and stats["pids"]["current"] >= 1, stats
    r = sd_ocirun("ps", "--format", "json", cid)
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 1, r.stdout + r.stderr
    assert sd_ocirun("pause", cid).returncode == 0
    assert read(CG + "/freezer/system.slice/%s/freezer.state" % unit) == "FROZEN"
    assert sd_ocirun("resume", cid).returncode == 0
    assert read(CG + "/freezer/system.slice/%s/freezer.state" % unit) == "THAWED"

    r = sd_ocirun(
        "update", "--memory", "128M", "--pids-limit", "50", "--cpu-quota", "25000", "--cpu-shares", "256", cid
    )
    assert r.returncode == 0, r.stderr
    p = show(systemd, unit, "MemoryLimit", "TasksMax", "CPUQuotaPerSecUSec", "CPUShares")
    assert p == {"MemoryLimit": str(128 * MIB), "TasksMax": "50", "CPUQuotaPerSecUSec": "250ms", "CPUShares": "256"}
    out = in_container(
        sd_ocirun,
        cid,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares",
    )
    assert out.split() == [str(128 * MIB), "50", "25000", "256"]


@V1_MODES
def test_cgroup_namespace_and_cgroup_mount(systemd, sd_ocirun, bundle, cid):
    """With a cgroup namespace, the `cgroup` mount shows every hierarchy at the
    scope's cgroup as its root. (Under systemd's /sys/fs/cgroup with the host's
    mounts still beneath it, each hierarchy was listed twice in mountinfo and
    the second mount failed: EBUSY on /sys/fs/cgroup/blkio.)"""
    unit = "ocirun-%s.scope" % cid
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    assert any(m["type"] == "cgroup" for m in bundle.config["mounts"])
    r = run_detached(sd_ocirun, bundle, cid, resources={"memory": {"limit": 48 * MIB}})
    assert r.returncode == 0, r.stderr
    out = in_container(
        sd_ocirun,
        cid,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /proc/self/cgroup; "
        "grep ' /sys/fs/cgroup/' /proc/self/mountinfo",
    )
    lines = out.splitlines()
    assert lines[0] == str(48 * MIB), out
    own = [l for l in lines[1:] if l.count(":") >= 2 and " " not in l]
    assert own and all(l.endswith(":/") for l in own), out
    mounted = [l.split()[4] for l in lines[1:] if " /sys/fs/cgroup/" in l]
    assert sorted(mounted) == sorted(set(mounted)) and "/sys/fs/cgroup/blkio" in mounted, out
    assert show(systemd, unit, "ActiveState")["ActiveState"] == "active"


def test_delete_leaves_no_unit_and_no_cgroup(systemd, sd_ocirun, bundle, cid):
    unit = "ocirun-%s.scope" % cid
    res, limit_file, value = small_limit(systemd)
    r = run_detached(sd_ocirun, bundle, cid, resources=res)
    assert r.returncode == 0, r.stderr
    assert read(limit_file % ("system.slice/" + unit)) == value
    # systemd's hierarchies and the ones we made for it (freezer, cpuset... on v1);
    # in unified mode cgroup2 alone: nothing in a v1 hierarchy systemd's namespace does not see.
    dirs = scope_dirs(unit)
    assert dirs == expected_scope_dirs(systemd, "/system.slice/" + unit), dirs
    # The container nests a cgroup of its own (Delegate=yes): delete removes it too.
    os.mkdir(os.path.dirname(limit_file % ("system.slice/" + unit)) + "/inner")
    r = sd_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert unit_gone(systemd, unit)
    assert scope_dirs(unit) == []
    # Where systemd does not manage the hierarchy, we made system.slice too (no other container is there).
    if systemd.mode != "unified":
        for h in ("freezer", "cpuset"):
            assert not os.path.exists("%s/%s/system.slice" % (CG, h)), h
    assert sd_ocirun("state", cid).returncode != 0


def test_stopped_container_delete(systemd, sd_ocirun, bundle, cid):
    """The scope ends when its processes do; delete of a stopped container still cleans up."""
    unit = "ocirun-%s.scope" % cid
    r = run_detached(sd_ocirun, bundle, cid, args=("true",))
    assert r.returncode == 0, r.stderr
    import time

    deadline = time.monotonic() + 30
    while json.loads(sd_ocirun("state", cid).stdout)["status"] != "stopped":
        assert time.monotonic() < deadline, "the container did not stop"
        time.sleep(0.05)
    r = sd_ocirun("delete", cid)
    assert r.returncode == 0, r.stderr
    assert unit_gone(systemd, unit)
    assert scope_dirs(unit) == []


def test_nested_slice_path(systemd, sd_ocirun, bundle, cid):
    slice_ = "ocirunt-a-b.slice"
    unit = "pfx-%s.scope" % cid
    res, limit_file, value = small_limit(systemd)
    r = run_detached(sd_ocirun, bundle, cid, path="%s:pfx:%s" % (slice_, cid), resources=res)
    try:
        assert r.returncode == 0, r.stderr
        cg = "/ocirunt.slice/ocirunt-a.slice/ocirunt-a-b.slice/" + unit
        assert show(systemd, unit, "Slice", "ControlGroup") == {"Slice": slice_, "ControlGroup": cg}
        assert read(limit_file % cg.lstrip("/")) == value
        assert scope_dirs(unit) == expected_scope_dirs(systemd, cg)
        st = json.loads(sd_ocirun("state", cid).stdout)
        r = systemd.run("cat", "/proc/%d/cgroup" % st["pid"])
        assert tracked(systemd) + cg in r.stdout.splitlines() or any(
            l.endswith(tracked(systemd) + cg) for l in r.stdout.splitlines()
        ), r.stdout
        assert sd_ocirun("delete", "--force", cid).returncode == 0
        assert unit_gone(systemd, unit)
        assert scope_dirs(unit) == []
    finally:
        systemd.systemctl("stop", "ocirunt.slice")


def test_root_slice(systemd, sd_ocirun, bundle, cid):
    unit = "%s.scope" % cid
    r = run_detached(sd_ocirun, bundle, cid, path="-::%s" % cid)
    assert r.returncode == 0, r.stderr
    assert show(systemd, unit, "Slice", "ControlGroup") == {"Slice": "-.slice", "ControlGroup": "/" + unit}
    assert sorted(glob.glob(CG + "/*/" + unit)) == expected_scope_dirs(systemd, "/" + unit)
    assert sd_ocirun("delete", "--force", cid).returncode == 0
    assert unit_gone(systemd, unit) and scope_dirs(unit) == []


@pytest.mark.parametrize("how", ["bad-executable", "failing-createRuntime-hook"])
def test_failing_start_unwinds_the_unit(systemd, sd_ocirun, bundle, cid, how):
    unit = "ocirun-%s.scope" % cid
    if how == "bad-executable":
        bundle.set_args("/no/such/program")
    else:
        bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
        bundle.set_args("sleep", "600")
    bundle.config["linux"]["resources"] = small_limit(systemd)[0]
    bundle.write()
    log = os.path.join(os.path.dirname(bundle.path), "ocirun.log")
    r = sd_ocirun("--debug", "--log", log, "--systemd-cgroup", "run", "-d", "--bundle", bundle.path, cid)
    assert r.returncode != 0
    # The unwinding itself went through: systemd stopped the unit without complaint.
    with open(log) as f:
        text = f.read()
    assert "cleanup" not in text or "systemd:" not in text, text
    assert unit_gone(systemd, unit)
    assert scope_dirs(unit) == []
    assert sd_ocirun("state", cid).returncode != 0


def test_unit_exists_is_refused_and_left_alone(systemd, sd_ocirun, bundle, cid):
    unit = "ocirun-%s.scope" % cid
    r = systemd.run("systemd-run", "--scope", "--unit", unit, "--", "sh", "-c", "sleep 600 >/dev/null 2>&1 & exit 0")
    assert r.returncode == 0, r.stderr
    try:
        # sleep keeps the other scope alive
        assert show(systemd, unit, "ActiveState")["ActiveState"] == "active"
        r = run_detached(sd_ocirun, bundle, cid)
        assert r.returncode == 1
        assert (
            r.stderr == "systemd: unit `%s` already exists: it is not this container's\n" % unit
            or r.stderr
            == (
                "systemd: start unit `%s`: Unit %s was already loaded or has a fragment file "
                "(org.freedesktop.systemd1.UnitExists)\n" % (unit, unit)
            )
            or r.stderr
            == (
                "systemd: start unit `%s`: Unit %s already exists (org.freedesktop.systemd1.UnitExists)\n"
                % (unit, unit)
            )
        ), r.stderr
        # Not ours: still there, still running.
        assert show(systemd, unit, "ActiveState")["ActiveState"] == "active"
        assert sd_ocirun("state", cid).returncode != 0
    finally:
        systemd.systemctl("stop", unit)


@ANY_MODE
@pytest.mark.parametrize(
    "path,msg",
    [
        ("a/b.slice:p:n", "slice `a/b.slice` is not a valid slice name (want NAME.slice)"),
        ("a--b.slice:p:n", "slice `a--b.slice` is not a valid slice name"),
        ("system:p:n", "slice `system` is not a valid slice name (want NAME.slice)"),
        ("system.slice:p", "the systemd driver wants slice:prefix:name"),
        ("system.slice:p:", "the name part is empty"),
    ],
)
def test_bad_paths_fail_in_one_line(systemd, sd_ocirun, bundle, cid, path, msg):
    r = run_detached(sd_ocirun, bundle, cid, path=path)
    assert r.returncode == 1
    assert r.stderr == "invalid linux.cgroupsPath `%s`: %s\n" % (path, msg)
    assert sd_ocirun("state", cid).returncode != 0


def test_features_says_systemd_when_its_bus_answers(systemd, sd_ocirun, root):
    r = sd_ocirun("features")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["linux"]["cgroup"]["systemd"] is True
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=%s/no-bus" % root)
    r = sd_ocirun("features", env=env)
    assert json.loads(r.stdout)["linux"]["cgroup"]["systemd"] is False


def test_hot_commands_of_a_systemd_container_do_not_load_dbus(systemd, sd_ocirun, bundle, cid, root):
    """state, start and kill never talk to systemd: jeepney stays unloaded (delete needs it: StopUnit)."""
    bundle.set_args("sleep", "600").write()
    r = sd_ocirun("--systemd-cgroup", "create", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    py, _ = helpers.launcher_paths(os.environ.get("OCIRUN", "/usr/local/bin/ocirun"))
    site = helpers.launcher_site_line(os.environ.get("OCIRUN", "/usr/local/bin/ocirun"))
    for argv in (["state", cid], ["start", cid], ["kill", cid, "9"]):
        script = (
            "import sys\n%s\nsys.argv=['ocirun','--root',%r]+%r\nfrom runtime.__main__ import main\n"
            "rc = main()\nprint(rc, [m for m in ('jeepney', 'runtime.cgroups.systemd') if m in sys.modules])"
            % (site, root, argv)
        )
        r = systemd.run(py, "-I", "-S", "-c", script)
        assert r.returncode == 0 and r.stdout.splitlines()[-1] == "0 []", (argv, r.stdout, r.stderr)


@ANY_MODE
def test_first_call_on_a_new_connection_is_answered(systemd):
    """systemd leaves a call that arrived with the authentication's BEGIN unread
    until the socket is readable again (seen: 35 of 40 fresh connections hung):
    the driver nudges it. 30 fresh connections, each must get its answer."""
    py, _ = helpers.launcher_paths(os.environ.get("OCIRUN", "/usr/local/bin/ocirun"))
    site = helpers.launcher_site_line(os.environ.get("OCIRUN", "/usr/local/bin/ocirun"))
    script = (
        "import sys\n%s\nfrom runtime.cgroups import sdbus, systemd as s\nsdbus.CALL_TIMEOUT = 3.0\nbad = []\n"
        "for i in range(30):\n"
        "    b = s.Bus('unix:path=/run/systemd/private')\n"
        "    try:\n        b.call('GetUnit', 's', 'init.scope')\n"
        "    except Exception as e:\n        bad.append(str(e))\n"
        "    b.close()\n"
        "print(bad[:1], len(bad))\n" % site
    )
    r = systemd.run(py, "-I", "-S", "-c", script, timeout=200)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[] 0"


@ANY_MODE
def test_refused_from_another_pid_namespace(systemd, bundle, cid, root):
    """From the host, systemd (through its bus daemon) would read our pids in its own
    namespace: other processes. ocirun refuses before asking for anything."""
    import subprocess

    bus = "unix:path=/proc/%d/root/run/dbus/system_bus_socket" % systemd.pid
    bundle.set_args("sleep", "600").write()
    r = subprocess.run(
        [
            os.environ.get("OCIRUN", "/usr/local/bin/ocirun"),
            "--root",
            root,
            "--systemd-cgroup",
            "create",
            "--bundle",
            bundle.path,
            cid,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus),
    )
    assert r.returncode == 1
    assert r.stderr == (
        "systemd at `%s` runs in another pid namespace than ocirun: run ocirun in systemd's pid namespace\n" % bus
    )
    assert unit_gone(systemd, "ocirun-%s.scope" % cid)
    assert not os.path.exists(os.path.join(root, cid))


# -- unified (v2) mode: the scope in cgroup2 alone ------------------------------------


@V2_MODES
def test_unified_scope_limits_pause_update_delete(systemd, sd_ocirun, bundle, cid):
    """cgroup2 only: the scope holds the container, hugetlb limits (what cgroup2 has
    here) are written into it and updated, systemd's device policy goes with it,
    pause and resume go through cgroup.freeze; ps, events and exec see the scope."""
    unit = "ocirun-%s.scope" % cid
    uni = unified_dir(systemd) + "/system.slice/" + unit
    res = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MIB}], "devices": [{"allow": False, "access": "rwm"}]}
    r = run_detached(sd_ocirun, bundle, cid, resources=res)
    assert r.returncode == 0, r.stderr
    assert show(systemd, unit, "ActiveState", "Delegate", "Slice", "ControlGroup", "DevicePolicy") == {
        "ActiveState": "active",
        "Delegate": "yes",
        "Slice": "system.slice",
        "ControlGroup": "/system.slice/" + unit,
        "DevicePolicy": "strict",
    }
    assert read(uni + "/hugetlb.2MB.max") == str(4 * MIB)
    st = json.loads(sd_ocirun("state", cid).stdout)
    assert st["status"] == "running"
    assert str(st["pid"]) in systemd.run("cat", "/sys/fs/cgroup/system.slice/%s/cgroup.procs" % unit).stdout.split()
    # The container is in the scope in cgroup2; /dev/null works under both device programs
    # (systemd's, for DevicePolicy, and ours).
    out = in_container(sd_ocirun, cid, "cat /proc/self/cgroup; echo x > /dev/null && echo devnull-ok")
    assert "0::/system.slice/" + unit in out.splitlines() and "devnull-ok" in out, out
    r = sd_ocirun("ps", "--format", "json", cid)
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 1, r.stdout + r.stderr
    r = sd_ocirun("events", "--stats", cid)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)["data"]
    assert stats["hugetlb"]["2MB"]["usage"] == 0, stats

    assert sd_ocirun("pause", cid).returncode == 0
    assert read(uni + "/cgroup.freeze") == "1" and "frozen 1" in read(uni + "/cgroup.events").splitlines()
    assert json.loads(sd_ocirun("state", cid).stdout)["status"] == "paused"
    assert sd_ocirun("resume", cid).returncode == 0
    assert read(uni + "/cgroup.freeze") == "0"

    upd = os.path.join(os.path.dirname(bundle.path), "update.json")
    with open(upd, "w") as f:
        json.dump({"hugepageLimits": [{"pageSize": "2MB", "limit": 8 * MIB}]}, f)
    r = sd_ocirun("update", "-r", upd, cid)
    assert r.returncode == 0, r.stderr
    assert read(uni + "/hugetlb.2MB.max") == str(8 * MIB)

    r = sd_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert unit_gone(systemd, unit)
    assert scope_dirs(unit) == []


@V2_MODES
def test_unified_cgroup_namespace(systemd, sd_ocirun, bundle, cid):
    """With a cgroup namespace the container's cgroup2 mount has the scope as its root."""
    unit = "ocirun-%s.scope" % cid
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    r = run_detached(sd_ocirun, bundle, cid)
    assert r.returncode == 0, r.stderr
    out = in_container(
        sd_ocirun,
        cid,
        "grep '^0::' /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; cat /sys/fs/cgroup/cgroup.procs",
    )
    lines = out.splitlines()
    assert lines[0] == "0::/", out
    assert " - cgroup2 " in lines[1] and lines[1].split()[3] == "/", out
    st = json.loads(sd_ocirun("state", cid).stdout)
    procs = set(read(unified_dir(systemd) + "/system.slice/%s/cgroup.procs" % unit).split())
    assert str(systemd.host_pid(st["pid"])) in procs, (procs, out)


@V2_MODES
@pytest.mark.parametrize(
    "limit,file",
    [
        ({"memory": {"limit": 64 * MIB}}, "memory.max"),
        ({"pids": {"limit": 42}}, "pids.max"),
        ({"cpu": {"shares": 512}}, "cpu.weight"),
    ],
)
def test_unified_missing_controller_fails_closed(systemd, sd_ocirun, bundle, cid, limit, file):
    """cgroup2 here lacks the controllers bound to v1: a limit of one fails in one line
    naming its file, and the unit systemd started for it is stopped again."""
    unit = "ocirun-%s.scope" % cid
    r = run_detached(sd_ocirun, bundle, cid, resources=limit)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and file in r.stderr, r.stderr
    assert unit_gone(systemd, unit)
    assert scope_dirs(unit) == []
    assert sd_ocirun("state", cid).returncode != 0


@V2_MODES
def test_unified_update_of_a_missing_controller_fails_in_one_line(systemd, sd_ocirun, bundle, cid):
    """A limit cgroup2 cannot take fails the update in one line, and systemd is not
    told it either (it was, when SetUnitProperties came before the files)."""
    unit = "ocirun-%s.scope" % cid
    r = run_detached(sd_ocirun, bundle, cid)
    assert r.returncode == 0, r.stderr
    before = show(systemd, unit, "TasksMax")
    r = sd_ocirun("update", "--pids-limit", "50", cid)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "pids.max" in r.stderr, r.stderr
    assert json.loads(sd_ocirun("state", cid).stdout)["status"] == "running"
    assert show(systemd, unit, "ActiveState", "TasksMax") == dict(before, ActiveState="active")


@V1_MODES
def test_hugetlb_limit_where_the_layout_has_it(systemd, sd_ocirun, bundle, cid):
    """hugetlb lives on cgroup2 on this host: in hybrid mode the limit goes to the
    scope's cgroup2 directory; in legacy mode no hierarchy in view has it, and the
    driver does what the cgroupfs one does there: one warning line, limit ignored."""
    unit = "ocirun-%s.scope" % cid
    r = run_detached(sd_ocirun, bundle, cid, resources={"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MIB}]})
    assert r.returncode == 0, r.stderr
    if systemd.mode == "hybrid":
        assert r.stderr == ""
        assert read(unified_dir(systemd) + "/system.slice/%s/hugetlb.2MB.max" % unit) == str(4 * MIB)
    else:
        assert r.stderr == "warning: linux.resources.hugepageLimits: the hugetlb controller is not mounted; ignored\n"
        assert not os.path.exists(unified_dir(systemd) + "/system.slice/" + unit)
    assert show(systemd, unit, "ActiveState")["ActiveState"] == "active"


@V1_MODES
def test_update_the_kernel_refuses_is_not_told_to_systemd(systemd, sd_ocirun, bundle, cid):
    """A CFS quota below the kernel's 1 ms minimum: the file write fails, in one line,
    and the unit keeps its CPUQuotaPerSecUSec (it got 10ms, systemd rounding up, when
    SetUnitProperties came first)."""
    unit = "ocirun-%s.scope" % cid
    r = run_detached(sd_ocirun, bundle, cid, resources={"cpu": {"quota": 50000, "period": 100000}})
    assert r.returncode == 0, r.stderr
    before = show(systemd, unit, "CPUQuotaPerSecUSec")
    r = sd_ocirun("update", "--cpu-quota", "500", cid)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "cpu.cfs_quota_us" in r.stderr and "EINVAL" in r.stderr, r.stderr
    assert show(systemd, unit, "CPUQuotaPerSecUSec") == before == {"CPUQuotaPerSecUSec": "500ms"}
    st = json.loads(sd_ocirun("state", cid).stdout)
    assert st["status"] == "running"
    assert read(CG + "/cpu/system.slice/%s/cpu.cfs_quota_us" % unit) == "50000"


# What the driver sends for each resource, in the names of the layout (v2 names
# in unified mode, v1 names otherwise). The limits a container can take on this
# host are tested above; here systemd itself must accept every property and its
# D-Bus type, for the controllers this kernel does not give cgroup2 as well.
UNIT_PROPERTY_SCRIPT = r"""
import subprocess, sys
%(site)s
from runtime.cgroups import systemd as s
res = {"memory": {"limit": 64 << 20}, "pids": {"limit": 42}, "blockIO": {"weight": 500},
       "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
       "devices": [{"allow": False, "access": "rwm"},
                   {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}
p = subprocess.Popen(["sleep", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
b = s.Bus("unix:path=/run/systemd/private")
try:
    props = [("Description", ("s", "unit properties")), ("PIDs", ("au", [p.pid])), ("Delegate", ("b", True))]
    props += s.unit_properties(res, %(kind)r, ())
    b.subscribe()
    job = b.call("StartTransientUnit", "ssa(sv)a(sa(sv))", %(unit)r, "fail", props, [], what="start")[0]
    print(b.wait_job(job, %(unit)r, "start"))
finally:
    b.close()
"""


def test_unit_properties_are_accepted_by_systemd(systemd, cid):
    unit = "ocirunprops-%s.scope" % cid
    v2 = systemd.mode == "unified"
    site = helpers.launcher_site_line(os.environ.get("OCIRUN", "/usr/local/bin/ocirun"))
    py, _ = helpers.launcher_paths(os.environ.get("OCIRUN", "/usr/local/bin/ocirun"))
    script = UNIT_PROPERTY_SCRIPT % {"site": site, "kind": "v2" if v2 else "v1", "unit": unit}
    try:
        r = systemd.run(py, "-I", "-S", "-c", script, timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (0, "done\n", "")
        common = {
            "TasksMax": "42",
            "CPUQuotaPerSecUSec": "500ms",
            "CPUQuotaPeriodUSec": "100ms",
            "DevicePolicy": "strict",
            "DeviceAllow": "/dev/char/1:3 rwm",
        }
        if v2:
            want = dict(
                common,
                MemoryMax=str(64 * MIB),
                CPUWeight="20",
                IOWeight="4950",
                AllowedCPUs="0",
                AllowedMemoryNodes="0",
            )
        else:
            want = dict(common, MemoryLimit=str(64 * MIB), CPUShares="512", BlockIOWeight="500")
        assert show(systemd, unit, *want) == want
    finally:
        systemd.systemctl("stop", unit)
    assert unit_gone(systemd, unit)
