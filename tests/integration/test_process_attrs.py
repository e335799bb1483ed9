"""Process attributes a container asks for and gets, where runc and crun
give them: real-time scheduling in its own cpu cgroup, the idle io class,
device node owners, HOME from the image's /etc/passwd, hook environments,
the uts sysctls and the NUMA memory policy."""

import json
import os
import shutil

import pytest


def _run(bundle, run_ocirun, cid, script):
    bundle.set_args("sh", "-c", script).write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _stat_policy(stat_line):
    # field 41 of /proc/PID/stat is the policy; fields after comm start at 3
    return int(stat_line.rsplit(")", 1)[1].split()[41 - 3])


@pytest.mark.parametrize("policy,number", [("SCHED_FIFO", 1), ("SCHED_RR", 2)])
def test_realtime_scheduler_in_own_cpu_cgroup(bundle, run_ocirun, cid, policy, number):
    bundle.process["scheduler"] = {"policy": policy, "priority": 5}
    bundle.config["linux"]["cgroupsPath"] = "ocirun/" + cid
    # no cgroup namespace: /proc/self/cgroup then shows the real path
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "cgroup"]
    out = _run(bundle, run_ocirun, cid, "cat /proc/self/stat; cat /proc/self/cgroup")
    assert _stat_policy(out.splitlines()[0]) == number, out
    # the process is in the container's own cpu cgroup, not the root one
    assert "/ocirun/" + cid in [l.split(":", 2)[2] for l in out.splitlines()[1:] if l.split(":")[1] == "cpu"], out


def test_realtime_scheduler_for_exec(bundle, run_ocirun, cid, tmp_path):
    """A container made without a real-time policy: exec asks for one."""
    bundle.config["linux"]["cgroupsPath"] = "ocirun/" + cid
    bundle.set_args("sleep", "60").write()
    assert run_ocirun("run", "-d", "-b", bundle.path, cid).returncode == 0
    proc = dict(bundle.process, args=["cat", "/proc/self/stat"], scheduler={"policy": "SCHED_FIFO", "priority": 3})
    (tmp_path / "p.json").write_text(json.dumps(proc))
    r = run_ocirun("exec", "--process", str(tmp_path / "p.json"), cid)
    assert r.returncode == 0, r.stderr
    assert _stat_policy(r.stdout) == 1, r.stdout


def test_realtime_budget_given_or_shared(bundle, run_ocirun, cid):
    """realtimeRuntime, when given, is the budget; without it the container
    gets a part of what its parent has, not all of it (siblings need some)."""
    bundle.process["scheduler"] = {"policy": "SCHED_RR", "priority": 1}
    bundle.config["linux"]["cgroupsPath"] = "ocirun/" + cid
    bundle.config["linux"]["resources"]["cpu"] = {"realtimeRuntime": 20000}
    assert _run(bundle, run_ocirun, cid, "cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us").strip() == "20000"
    del bundle.config["linux"]["resources"]["cpu"]
    parent = int(open("/sys/fs/cgroup/cpu/ocirun/cpu.rt_runtime_us").read())
    run_ocirun("delete", "--force", cid)
    got = int(_run(bundle, run_ocirun, cid, "cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us"))
    assert 0 < got < parent


def test_realtime_no_budget_to_spare(bundle, run_ocirun, cid):
    """A parent whose real-time budget is all taken: one line naming the field,
    nothing of the container left."""
    top = "/sys/fs/cgroup/cpu/%s-rt" % cid
    os.mkdir(top)
    try:
        with open(top + "/cpu.rt_runtime_us", "w") as f:
            f.write("1000")
        os.mkdir(top + "/taken")
        with open(top + "/taken/cpu.rt_runtime_us", "w") as f:
            f.write("1000")
        bundle.process["scheduler"] = {"policy": "SCHED_FIFO", "priority": 1}
        bundle.config["linux"]["cgroupsPath"] = "%s-rt/%s" % (cid, cid)
        bundle.set_args("true").write()
        r = run_ocirun("run", "-b", bundle.path, cid)
        assert r.returncode == 1
        assert r.stderr.startswith("process.scheduler.policy: ") and r.stderr.count("\n") == 1, r.stderr
        assert not os.path.exists(top + "/" + cid)
        assert run_ocirun("state", cid).returncode != 0
    finally:
        for d in (top + "/" + cid, top + "/taken", top):
            if os.path.isdir(d):
                os.rmdir(d)


def test_ioprio_idle(bundle, run_ocirun, cid):
    bundle.process["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    out = _run(bundle, run_ocirun, cid, "ionice -p $$")
    assert out.strip() == "idle", out


def test_ioprio_best_effort_level(bundle, run_ocirun, cid):
    bundle.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    out = _run(bundle, run_ocirun, cid, "ionice -p $$")
    assert out.strip() == "best-effort: prio 6", out


def test_device_owner_and_mode(bundle, run_ocirun, cid):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/owned", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 1234, "gid": 4321},
        {"path": "/dev/rootowned", "type": "c", "major": 1, "minor": 5},
    ]
    out = _run(bundle, run_ocirun, cid, "stat -c '%u %g %a %t:%T' /dev/owned /dev/rootowned")
    assert out.split("\n")[:2] == ["1234 4321 620 1:3", "0 0 666 1:5"], out


def _userns(bundle):
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    # root stays host root (the session's bundle lives under 0700 pytest dirs)
    for m in ("uidMappings", "gidMappings"):
        bundle.config["linux"][m] = [
            {"containerID": 0, "hostID": 0, "size": 1},
            {"containerID": 1, "hostID": 100001, "size": 65535},
        ]
    # cgroup v1 cannot be mounted from a user namespace
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["type"] != "cgroup"]


def test_device_owner_and_mode_in_user_namespace(bundle, run_ocirun, cid):
    """No mknod in a user namespace; the node still has the owners and mode
    asked for (crun does the same), and it works."""
    _userns(bundle)
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/owned", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 1234, "gid": 4321},
        {"path": "/dev/rootowned", "type": "c", "major": 1, "minor": 5},
    ]
    out = _run(
        bundle,
        run_ocirun,
        cid,
        "stat -c '%u %g %a %t:%T %F' /dev/owned /dev/rootowned; "
        "echo x > /dev/rootowned && head -c 4 /dev/rootowned | od -An -tx1",
    )
    assert out.splitlines() == [
        "1234 4321 620 1:3 character special file",
        "0 0 666 1:5 character special file",
        " 00 00 00 00",
    ], out


def test_device_owner_not_mapped(bundle, run_ocirun, cid, root):
    _userns(bundle)
    bundle.config["linux"]["devices"] = [{"path": "/dev/owned", "type": "c", "major": 1, "minor": 3, "uid": 70000}]
    bundle.set_args("true").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 1
    assert r.stderr == "linux.devices[0].uid: 70000 is not mapped in the container's user namespace\n", r.stderr
    assert run_ocirun("state", cid).returncode != 0


def _no_home(bundle):
    bundle.process["env"] = [e for e in bundle.process["env"] if not e.startswith("HOME=")]


@pytest.mark.parametrize("uid,home", [(0, "/root"), (65534, "/nonexistent"), (4242, "/")])
def test_home_from_passwd(bundle, run_ocirun, cid, uid, home):
    _no_home(bundle)
    bundle.process["user"] = {"uid": uid, "gid": uid}
    assert _run(bundle, run_ocirun, cid, "echo $HOME").strip() == home


def test_home_given_is_kept(bundle, run_ocirun, cid):
    bundle.process["env"] = bundle.process["env"] + ["HOME=/given"]
    assert _run(bundle, run_ocirun, cid, "echo $HOME").strip() == "/given"


def test_home_for_exec(bundle, run_ocirun, cid, root, tmp_path):
    _no_home(bundle)
    bundle.set_args("sleep", "60").write()
    assert run_ocirun("run", "-d", "-b", bundle.path, cid).returncode == 0
    r = run_ocirun("exec", cid, "sh", "-c", "echo $HOME")
    assert (r.returncode, r.stdout.strip()) == (0, "/root"), r.stderr
    r = run_ocirun("exec", "--user", "65534:65534", cid, "sh", "-c", "echo $HOME")
    assert (r.returncode, r.stdout.strip()) == (0, "/nonexistent"), r.stderr
    r = run_ocirun("exec", "--user", "777", "-e", "HOME=/mine", cid, "sh", "-c", "echo $HOME")
    assert (r.returncode, r.stdout.strip()) == (0, "/mine"), r.stderr
    proc = dict(bundle.process, args=["sh", "-c", "echo $HOME"], user={"uid": 4242, "gid": 4242})
    (tmp_path / "p.json").write_text(json.dumps(proc))
    r = run_ocirun("exec", "--process", str(tmp_path / "p.json"), cid)
    assert (r.returncode, r.stdout.strip()) == (0, "/"), r.stderr


def test_home_passwd_symlink_out_of_rootfs(own_bundle, run_ocirun, cid, tmp_path):
    """/etc/passwd is read inside the rootfs: a symlink to a host path is
    resolved in the container's root, never on the host."""
    outside = tmp_path / "hostpasswd"
    outside.write_text("root:x:0:0:root:/from-host:/bin/sh\n")
    passwd = os.path.join(own_bundle.rootfs, "etc", "passwd")
    os.unlink(passwd)
    os.symlink(str(outside), passwd)
    _no_home(own_bundle)
    assert _run(own_bundle, run_ocirun, cid, "echo $HOME").strip() == "/"


def test_home_passwd_fifo_does_not_hang(own_bundle, run_ocirun, cid):
    """A fifo (or any non-regular file) at /etc/passwd is not read: HOME=/."""
    passwd = os.path.join(own_bundle.rootfs, "etc", "passwd")
    os.unlink(passwd)
    os.mkfifo(passwd)
    _no_home(own_bundle)
    assert _run(own_bundle, run_ocirun, cid, "echo $HOME").strip() == "/"


def test_home_passwd_missing(own_bundle, run_ocirun, cid):
    os.unlink(os.path.join(own_bundle.rootfs, "etc", "passwd"))
    _no_home(own_bundle)
    assert _run(own_bundle, run_ocirun, cid, "echo $HOME").strip() == "/"


# what a shell adds by itself; busybox sh sets its own default PATH when none is given
_SHELL_MADE = ("PWD=", "SHLVL=", "_=", "OLDPWD=")
_BUSYBOX_PATH = "PATH=/sbin:/usr/sbin:/bin:/usr/bin"


@pytest.mark.parametrize("declared", [["ONLY=this", "AND=that", "PATH=/declared"], None])
@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "poststart", "createContainer", "startContainer"])
def test_hooks_get_exactly_their_env(bundle, run_ocirun, cid, tmp_path, kind, declared, monkeypatch):
    out = tmp_path / "env.out"
    if kind == "startContainer":
        # runs in the container, after pivot_root: write through a bind mount
        bundle.config["mounts"].append(
            {"destination": "/hookout", "type": "bind", "source": str(tmp_path), "options": ["rbind", "rw"]}
        )
        target = "/hookout/env.out"
    else:
        target = str(out)  # the host's paths (createContainer: before pivot_root)
    envbin = "/bin/env" if kind == "startContainer" else shutil.which("env")
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "exec %s > %s" % (envbin, target)]}
    if declared is not None:
        hook["env"] = declared
    bundle.config["hooks"] = {kind: [hook]}
    monkeypatch.setenv("OCIRUN_LEAK_CHECK", "leaked")
    _run(bundle, run_ocirun, cid, "true")
    lines = sorted(l for l in out.read_text().splitlines() if not l.startswith(_SHELL_MADE) and l != _BUSYBOX_PATH)
    assert lines == sorted(declared or []), out.read_text()


@pytest.mark.parametrize("key,value", [("kernel.hostname", "sysctlhost"), ("kernel.domainname", "example.test")])
def test_uts_sysctls(bundle, run_ocirun, cid, key, value):
    bundle.config["linux"]["sysctl"] = {key: value}
    out = _run(bundle, run_ocirun, cid, "cat /proc/sys/" + key.replace(".", "/"))
    assert out.strip() == value


def _numa(out):
    return out.split()[1]


@pytest.mark.parametrize(
    "policy,expect",
    [
        ({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
        ({"mode": "MPOL_PREFERRED", "nodes": "0"}, "prefer:0"),
        ({"mode": "MPOL_INTERLEAVE", "nodes": "0"}, "interleave:0"),
        ({"mode": "MPOL_DEFAULT"}, "default"),
        ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "bind=static:0"),
    ],
)
def test_memory_policy(bundle, run_ocirun, cid, policy, expect):
    bundle.config["linux"]["memoryPolicy"] = policy
    out = _run(bundle, run_ocirun, cid, "grep -m1 stack /proc/self/numa_maps")
    assert _numa(out) == expect, out


def test_memory_policy_refused_by_kernel(bundle, run_ocirun, cid):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "7"}
    bundle.set_args("true").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode != 0
    assert "linux.memoryPolicy" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


ALL_MODES = [
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
]
ALL_FLAGS = ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]


def test_features_list_the_memory_policies_that_run(bundle, run_ocirun, cid):
    """features names exactly the modes and flags a container gets."""
    r = run_ocirun("features")
    assert r.returncode == 0, r.stderr
    mp = json.loads(r.stdout)["linux"]["memoryPolicy"]
    assert set(mp["modes"]) <= set(ALL_MODES) and set(mp["flags"]) <= set(ALL_FLAGS), mp
    assert "MPOL_BIND" in mp["modes"] and "MPOL_DEFAULT" in mp["modes"], mp
    bundle.set_args("true")
    cases = [
        ({"mode": m} if m in ("MPOL_DEFAULT", "MPOL_LOCAL") else {"mode": m, "nodes": "0"}, m in mp["modes"])
        for m in ALL_MODES
    ]
    cases += [({"mode": "MPOL_BIND", "nodes": "0", "flags": [f]}, f in mp["flags"]) for f in ALL_FLAGS]
    for policy, listed in cases:
        bundle.config["linux"]["memoryPolicy"] = policy
        bundle.write()
        r = run_ocirun("run", "-b", bundle.path, cid)
        assert (r.returncode == 0) == listed, (policy, listed, r.stderr)
        run_ocirun("delete", "--force", cid)
