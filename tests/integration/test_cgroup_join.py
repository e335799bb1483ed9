"""The setup process joins its cgroup by itself (core/spawn.c, the plan's cgroup fields).

A pid written to cgroup.procs takes the kernel's global threadgroup lock for
writing, which waits out an RCU grace period (8-20 ms on this kind of host):
on v1 and hybrid hosts create writes no pid at all. The setup process writes
"0" to each v1 hierarchy's `tasks` file and, on a hybrid host, is cloned
straight into the unified directory (clone3 CLONE_INTO_CGROUP). These tests
check the mechanism (with strace, no timing), that every process of the
container ends up in the container's cgroup in every hierarchy, and that a
refused join fails the create with one line and leaves nothing behind.
"""

import os
import re
import shutil
import subprocess

import pytest

import helpers
from runtime.cgroups import layout
from runtime.host import LINUX

LAYOUT = layout.detect(LINUX)
V1_HOST = bool(LAYOUT.v1)

pytestmark = pytest.mark.skipif(not V1_HOST, reason="the self-join is for v1 and hybrid hosts (cgroupfs)")


def _hierarchies():
    out = [h.mountpoint for h in LAYOUT.v1]
    if LAYOUT.v2 is not None:
        out.append(LAYOUT.v2.mountpoint)
    return out


def test_create_writes_no_pid_into_cgroup_procs(run_ocirun, bundle, cid, root, tmp_path):
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace)"
    bundle.set_args("true")
    bundle.write()
    log = tmp_path / "strace.log"
    argv = [
        strace,
        "-f",
        "-qq",
        "-y",
        "-s",
        "64",
        "-o",
        str(log),
        "-e",
        "trace=write,clone3",
        helpers.OCIRUN,
        "--root",
        root,
        "run",
        "--bundle",
        bundle.path,
        cid,
    ]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        run_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    mine = "/ocirun/%s/" % cid
    procs = [l for l in lines if "write(" in l and mine + "cgroup.procs>" in l]
    assert not procs, "a pid was written into the container's cgroup.procs:\n" + "\n".join(procs)
    tasks = [l for l in lines if re.search(r'write\(\d+<[^>]*%stasks>, "0", 1\) = 1' % re.escape(mine), l)]
    assert len(tasks) == len(LAYOUT.v1), "want one `0` written to `tasks` per v1 hierarchy, got:\n" + "\n".join(tasks)
    if LAYOUT.v2 is not None:
        # (strace names no path for the fd inside clone_args: the next test
        # checks where the processes landed)
        into = [l for l in lines if "clone3(" in l and "CLONE_INTO_CGROUP" in l]
        assert into, "the setup process was not cloned into the unified cgroup:\n" + "\n".join(lines[-40:])


def test_every_process_is_in_the_containers_cgroup(run_ocirun, bundle, cid, root):
    bundle.set_args("sleep", "1000")
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    pid = helpers.state(root, cid)["pid"]
    with open("/proc/%d/cgroup" % pid) as f:
        lines = f.read().splitlines()
    paths = {l.split(":", 2)[1]: l.split(":", 2)[2] for l in lines}
    assert len(paths) == len(_hierarchies()), lines
    wrong = {k: v for k, v in paths.items() if v != "/ocirun/" + cid}
    assert not wrong, "the init is outside its cgroup in: %s" % wrong


def test_a_refused_join_fails_create_and_leaves_nothing(run_ocirun, bundle, cid, root):
    cpuset = LAYOUT.v1_for("cpuset")
    if cpuset is None:
        pytest.skip("no v1 cpuset hierarchy here")
    parent = "/ocirun-joinfail-%d" % os.getpid()
    path = parent + "/" + cid
    # A v1 cpuset made by someone else and left without cpus: no task may join it.
    pre = cpuset.mountpoint + path
    os.makedirs(pre)
    try:
        bundle.config["linux"]["cgroupsPath"] = path
        bundle.set_args("true")
        bundle.write()
        r = run_ocirun("create", "--bundle", bundle.path, cid)
        assert r.returncode != 0
        err = r.stderr.strip()
        assert len(err.splitlines()) == 1, err
        assert "tasks" in err and "No space left on device" in err, err
        assert not os.path.exists(os.path.join(root, cid)), "state dir left behind"
        left = [m + path for m in _hierarchies() if m != cpuset.mountpoint and os.path.exists(m + path)]
        assert not left, "cgroups left behind: %s" % left
        with open(pre + "/tasks") as f:
            assert f.read().strip() == ""
    finally:
        run_ocirun("delete", "--force", cid)
        for m in _hierarchies():
            for d in (m + path, m + parent):
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
