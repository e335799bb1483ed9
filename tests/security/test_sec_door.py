"""Attacks on the C front door (runtime/core/door.c) from inside a container.

A container given a writable cgroup mount (cgroup namespace, `rw`) makes
cgroups of its own below its cgroup, as many and as deep as it likes:
`delete` must still remove them all and answer with one line at most,
never crash.
"""

import json
import os
import signal
import subprocess

import pytest

import helpers

LEVELS = 2000  # cgroups below the container's own, one level each


def _writable_cgroups(bundle):
    for m in bundle.config["mounts"]:
        if m["type"] == "cgroup":
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    if not any(n["type"] == "cgroup" for n in bundle.config["linux"]["namespaces"]):
        bundle.config["linux"]["namespaces"].append({"type": "cgroup"})


def test_delete_removes_a_deep_cgroup_tree_the_container_made(run_ocirun, bundle, root, cid):
    """The container nests LEVELS cgroups in its pids hierarchy and exits;
    delete removes them and its own cgroup: exit 0, nothing left. (The
    door's recursive removal, a 4 KiB path per level, overflowed its stack:
    a segfault, the container undeletable.)"""
    _writable_cgroups(bundle)
    bundle.set_args(
        "sh",
        "-c",
        "cd /sys/fs/cgroup/pids && i=0 && while [ $i -lt %d ]; do mkdir a && cd a || exit 3; i=$((i+1)); done" % LEVELS,
    )
    bundle.write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(root, cid, "state.json")) as f:
        groups = json.load(f)["cgroup"]["v1"]["groups"]
    pids_dir = next(g["dir"] for g in groups if g["controllers"] == ["pids"])
    r = run_ocirun("start", cid)
    assert r.returncode == 0, r.stderr
    helpers.wait_for(lambda: helpers.state(root, cid)["status"] == "stopped", 240, "the container to exit")
    # it made them all: the deepest one, reached level by level (its host path is past PATH_MAX)
    fd = os.open(pids_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(LEVELS):
            nfd = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        assert not os.path.exists("/proc/self/fd/%d/a" % fd)
    finally:
        os.close(fd)
    r = run_ocirun("delete", cid, timeout=120)
    assert (r.returncode, r.stderr) == (0, ""), (r.returncode, r.stderr)
    assert not os.path.exists(pids_dir)
    assert not os.path.exists(os.path.join(root, cid))


def test_run_removes_a_deep_cgroup_tree_the_container_made(run_ocirun, bundle, root, cid):
    """The same tree made by a container started with `run`, whose delete
    is Python's (cgroups/fs.py): exit 0, nothing left (its recursive walk
    died of a RecursionError, `internal error`, the container left behind)."""
    _writable_cgroups(bundle)
    bundle.set_args(
        "sh",
        "-c",
        "cd /sys/fs/cgroup/pids && i=0 && while [ $i -lt %d ]; do "
        "mkdir a && cd a || exit 3; i=$((i+1)); done; echo made $i" % LEVELS,
    )
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid, timeout=300)
    assert (r.returncode, r.stderr) == (0, ""), (r.returncode, r.stderr)
    assert r.stdout == "made %d\n" % LEVELS
    assert not os.path.exists(os.path.join(root, cid))
    assert helpers.cgroup_dirs(cid) == []


def test_delete_force_thaws_a_cgroup_the_container_froze_below_its_own(run_ocirun, bundle, root, cid):
    """The container puts a child in a cgroup of its own below its freezer
    cgroup, freezes it, and its init exits: the init cannot finish exiting
    (its pid namespace waits for the frozen task, which SIGKILL cannot take
    while frozen). `delete --force` removes everything: exit 0, no process,
    no cgroup, no state (thawing only the container's own cgroup left the
    container undeletable: `container init still running` forever)."""
    _writable_cgroups(bundle)
    bundle.set_args(
        "sh",
        "-c",
        "cd /sys/fs/cgroup/freezer && mkdir f && (sleep 600 & echo $! > f/cgroup.procs) "
        "&& echo FROZEN > f/freezer.state && exit 0",
    )
    bundle.write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    st = helpers.state(root, cid)
    with open(os.path.join(root, cid, "state.json")) as f:
        groups = json.load(f)["cgroup"]["v1"]["groups"]
    frozen = os.path.join(next(g["dir"] for g in groups if g["controllers"] == ["freezer"]), "f")
    r = run_ocirun("start", cid)
    assert r.returncode == 0, r.stderr

    def _frozen_pids():
        try:
            with open(os.path.join(frozen, "freezer.state")) as f:
                if f.read().strip() != "FROZEN":
                    return None
            with open(os.path.join(frozen, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return None

    child = helpers.wait_for(_frozen_pids, 60, "the container's own frozen cgroup")
    assert helpers.pid_alive(st["pid"])  # the init is held in its exit
    r = run_ocirun("delete", "--force", cid, timeout=120)
    assert (r.returncode, r.stderr) == (0, ""), (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(root, cid))
    assert helpers.cgroup_dirs(cid) == []
    helpers.wait_for(lambda: not any(helpers.pid_alive(p) for p in child + [st["pid"]]), 60, "the processes to go")


# ------------------------------------------------- delete and a reused pid

_SIGNAL_CALLS = {"x86_64": (62, 434), "aarch64": (129, 434)}  # kill, pidfd_open


def _delayed_in_signal_call(tracee, pid):
    """True while the tracee is held (strace's injected delay) at the entry
    of kill or pidfd_open aimed at pid."""
    try:
        with open("/proc/%d/syscall" % tracee) as f:
            fields = f.read().split()
    except OSError:
        return False
    nrs = _SIGNAL_CALLS[os.uname().machine]
    return len(fields) > 1 and fields[0].isdigit() and int(fields[0]) in nrs and int(fields[1], 16) == pid


def _start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def _another_process_at(pid):
    """A process of ours (sleep) with exactly this pid: the pid counter set
    just below it (ns_last_pid), then a fork. None when another process
    took it first."""
    for _ in range(50):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = subprocess.Popen(["sleep", "600"])
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
        if os.path.exists("/proc/%d" % pid):
            return None
    return None


def _signal_at_a_reused_pid(run_ocirun, bundle, root, cid, door, command):
    """Creates a container, runs `ocirun [--debug] COMMAND...` under strace
    held at the entry of its kill/pidfd_open aimed at the init, and there
    kills the init and puts a process of ours (sleep) at its pid. Returns
    (returncode, stderr, whether that process survived the command)."""
    import shutil

    if not shutil.which("strace"):
        pytest.fail("strace is needed (hack/install installs it)")
    bundle.set_args("sleep", "600").write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    pid = helpers.state(root, cid)["pid"]
    start = _start_time(pid)
    argv = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=kill,pidfd_open"]
    argv += ["-e", "inject=kill,pidfd_open:delay_enter=30000000", helpers.OCIRUN, "--root", root]
    argv += (["--debug"] if door == "python" else []) + command
    tracer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stranger = None
    try:

        def _tracee():
            try:
                with open("/proc/%d/task/%d/children" % (tracer.pid, tracer.pid)) as f:
                    kids = f.read().split()
            except OSError:
                return None
            return int(kids[0]) if kids else None

        tracee = helpers.wait_for(_tracee, 60, "strace to start ocirun")

        def _held():
            if tracer.poll() is not None:
                raise AssertionError("%s ended before its signal: %r" % (command[0], tracer.communicate()))
            return _delayed_in_signal_call(tracee, pid)

        helpers.wait_for(_held, 120, "%s to reach its signal" % command[0])
        os.kill(pid, signal.SIGKILL)
        helpers.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 60, "the init to be reaped")
        stranger = _another_process_at(pid)
        assert stranger is not None, "another process took pid %d first" % pid
        assert _start_time(pid) != start
        # the setup happened inside the injected delay (else the test proves nothing)
        assert _delayed_in_signal_call(tracee, pid), "%s went on before the pid was reused" % command[0]
        out, err = tracer.communicate(timeout=180)
        return tracer.returncode, err, stranger.poll() is None
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.communicate()
        if stranger is not None:
            stranger.kill()
            stranger.wait()


@pytest.mark.parametrize("door", ["c", "python"])
def test_delete_never_signals_a_pid_reused_after_its_status_check(run_ocirun, bundle, root, cid, door):
    """`delete` of a created container: between its status check and its
    SIGKILL (held there by strace), the init dies and its pid goes to
    another process. That process survives, and delete finishes (exit 0,
    nothing left): the signal goes through a pidfd checked against the
    recorded start time (a plain kill(pid) killed the stranger). "python"
    is delete.py (--debug: the C door hands over at once)."""
    rc, err, survived = _signal_at_a_reused_pid(run_ocirun, bundle, root, cid, door, ["delete", cid])
    assert rc == 0, err
    assert survived, "delete killed the process that reused the init's pid"
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []


@pytest.mark.parametrize("door", ["c", "python"])
def test_kill_never_signals_a_pid_reused_after_its_status_check(run_ocirun, bundle, root, cid, door):
    """`kill <id> KILL` of a created container, held (strace) between its
    status check and its signal while the init dies and its pid goes to
    another process: that process survives and kill ends with exit 0 (the
    signal goes through a pidfd checked against the recorded start time; a
    plain kill(pid) killed the stranger). "python" is kill.py's
    kill_container (--debug: the C door hands over at once). The container,
    stopped now, is then deleted."""
    try:
        rc, err, survived = _signal_at_a_reused_pid(run_ocirun, bundle, root, cid, door, ["kill", cid, "KILL"])
        assert rc == 0, err
        assert survived, "kill killed the process that reused the init's pid"
    finally:
        r = run_ocirun("delete", "--force", cid, timeout=120)
    assert (r.returncode, r.stderr) == (0, ""), (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []
