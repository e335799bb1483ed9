"""Attacks on the lifecycle's bookkeeping: a cgroup that belongs to someone
else, a delete that cannot finish, a stale delete racing a re-created id, a
signal during `run`'s create phase.

Each test runs real containers with the binary under test. Wall-time bounds
here are hang guards (generous, far above the runtime's own deadline), not
performance assertions.
"""

import os
import signal
import subprocess
import time

import pytest
from sec_common import one_line_error

import helpers
from helpers import pid_alive, wait_for

HANG_GUARD = 30  # seconds; the runtime's own bound is 10 (runc's)


def _start_sleeper(run_ocirun, root, bundle, cid):
    bundle.set_args("sleep", "600").write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    r = run_ocirun("start", cid)
    assert r.returncode == 0, r.stderr
    return helpers.state(root, cid)["pid"]


def _ocirun_bounded(root, *args):
    """ocirun with a hang guard: a TimeoutExpired is a test failure that says so."""
    t0 = time.monotonic()
    try:
        r = helpers.ocirun(root, *args, timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        pytest.fail("`ocirun %s` still running after %ds" % (" ".join(map(str, args)), HANG_GUARD))
    return r, time.monotonic() - t0


def _cgroup_procs(d):
    with open(os.path.join(d, "cgroup.procs")) as f:
        return [int(x) for x in f.read().split()]


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read().strip()


# ---------------------------------------------------------------------------
# A cgroup that is not ours (second review #2)
# ---------------------------------------------------------------------------


def _assert_first_untouched(root, c1, pid1, dirs1):
    assert helpers.state(root, c1)["status"] in ("running", "paused")
    assert pid_alive(pid1), "the first container's init was killed"
    assert helpers.cgroup_dirs(c1) == dirs1, "the first container's cgroup dirs changed"
    pids_dir = [d for d in dirs1 if "/pids/" in d][0]
    assert pid1 in _cgroup_procs(pids_dir)


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_second_container_in_a_used_cgroup_is_refused(bundle, root, cid, run_ocirun, paused):
    """A second container whose cgroupsPath names a running (or paused:
    frozen) container's cgroup: create fails promptly with one line naming
    the path, leaves no state dir, and the first container's cgroup and
    processes are untouched, whatever `kill --all` is run on the second id."""
    c1, c2 = cid, cid + "-2"
    pid1 = _start_sleeper(run_ocirun, root, bundle, c1)
    dirs1 = helpers.cgroup_dirs(c1)
    assert len(dirs1) >= 2, dirs1
    if paused:
        assert run_ocirun("pause", c1).returncode == 0
    try:
        bundle.config["linux"]["cgroupsPath"] = "/ocirun/" + c1
        bundle.write()
        r, _ = _ocirun_bounded(root, "create", "-b", bundle.path, c2)
        run_ocirun("kill", "--all", c2, "KILL")  # whatever it says, it must not reach c1
        one_line_error(r)
        assert "/ocirun/%s`" % c1 in r.stderr and "not empty" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(root, c2)), "the refused container's state dir is left"
        _assert_first_untouched(root, c1, pid1, dirs1)
    finally:
        if paused:
            run_ocirun("resume", c1)
    assert helpers.state(root, c1)["status"] == "running"
    r = run_ocirun("delete", "--force", c2)
    _assert_first_untouched(root, c1, pid1, dirs1)


FREEZERS = {"freezer": ("freezer.state", "FROZEN", "THAWED"), "unified": ("cgroup.freeze", "1", "0")}


def _is_frozen(hier, d):
    if hier == "freezer":
        return _read(os.path.join(d, "freezer.state")) == "FROZEN"
    return "frozen 1" in _read(os.path.join(d, "cgroup.events")).splitlines()


def _cleanup_named(root, cid, name):
    helpers.ocirun(root, "delete", "--force", cid)
    for h in os.listdir(helpers.CGROUP_ROOT):
        d = os.path.join(helpers.CGROUP_ROOT, h, name)
        if os.path.isdir(d):
            wait_for(lambda: _try_rmdir(d), what="rmdir " + d)


def _assert_refused_cleanly(root, cid, r, name, foreign):
    one_line_error(r)
    assert not os.path.exists(os.path.join(root, cid))
    assert os.path.isdir(foreign), "a cgroup that was not ours was removed"
    left = [
        h
        for h in os.listdir(helpers.CGROUP_ROOT)
        if os.path.exists(os.path.join(helpers.CGROUP_ROOT, h, name))
        and os.path.join(helpers.CGROUP_ROOT, h, name) != foreign
    ]
    assert left == [], "cgroups made for the refused container are left in %s" % left


@pytest.mark.parametrize("hier", sorted(FREEZERS))
def test_frozen_empty_cgroup_is_refused(bundle, root, cid, run_ocirun, hier):
    """A cgroupsPath naming an empty but frozen cgroup, in the v1 freezer or
    in the cgroup2 mount (hugetlb-only here, but it has cgroup.freeze):
    joining it would stop create dead. create fails promptly naming it; the
    frozen cgroup is not ours and stays."""
    name = "ocirun-frozen-" + cid
    frozen = os.path.join(helpers.CGROUP_ROOT, hier, name)
    knob, on, off = FREEZERS[hier]
    os.mkdir(frozen)
    try:
        _write(os.path.join(frozen, knob), on)
        wait_for(lambda: _is_frozen(hier, frozen), what="frozen")
        bundle.set_args("true")
        bundle.config["linux"]["cgroupsPath"] = "/" + name
        bundle.write()
        r, _ = _ocirun_bounded(root, "create", "-b", bundle.path, cid)
        assert "`%s` is frozen" % frozen in r.stderr, r.stderr
        _assert_refused_cleanly(root, cid, r, name, frozen)
    finally:
        _write(os.path.join(frozen, knob), off)
        _cleanup_named(root, cid, name)


@pytest.mark.parametrize("hier", ["unified", "memory"])
def test_cgroup_with_a_process_in_one_hierarchy_is_refused(bundle, root, cid, run_ocirun, hier):
    """Every hierarchy is checked: a host process in the named cgroup of
    only one of them (the cgroup2 mount, or one v1 controller) makes it
    someone else's. create is refused naming that path; the process lives."""
    name = "ocirun-used-" + cid
    used = os.path.join(helpers.CGROUP_ROOT, hier, name)
    os.mkdir(used)
    other = subprocess.Popen(["sleep", "600"])
    try:
        _write(os.path.join(used, "cgroup.procs"), str(other.pid))
        bundle.set_args("true")
        bundle.config["linux"]["cgroupsPath"] = "/" + name
        bundle.write()
        r, _ = _ocirun_bounded(root, "create", "-b", bundle.path, cid)
        run_ocirun("kill", "--all", cid, "KILL")
        assert "`%s` is not empty" % used in r.stderr, r.stderr
        _assert_refused_cleanly(root, cid, r, name, used)
        assert other.poll() is None, "the other process was killed"
        assert other.pid in _cgroup_procs(used)
    finally:
        other.kill()
        other.wait()
        _cleanup_named(root, cid, name)


def _try_rmdir(d):
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------
# delete is bounded (second review #3)
# ---------------------------------------------------------------------------


def test_delete_kills_a_host_process_moved_into_the_cgroup(bundle, root, cid, run_ocirun):
    """A host process moved into the container's cgroup in one hierarchy
    (memory; not the one `pids` reads): `delete --force` kills it and removes
    everything, promptly (no minutes of stacked rmdir retries)."""
    _start_sleeper(run_ocirun, root, bundle, cid)
    mem = [d for d in helpers.cgroup_dirs(cid) if "/memory/" in d][0]
    intruder = subprocess.Popen(["sleep", "600"])
    try:
        _write(os.path.join(mem, "cgroup.procs"), str(intruder.pid))
        assert intruder.pid in _cgroup_procs(mem)
        r, _ = _ocirun_bounded(root, "delete", "--force", cid)
        assert r.returncode == 0, r.stderr
        assert intruder.wait(timeout=HANG_GUARD) == -signal.SIGKILL
        assert helpers.cgroup_dirs(cid) == []
        assert not os.path.exists(os.path.join(root, cid))
    finally:
        if intruder.poll() is None:
            intruder.kill()
            intruder.wait()


def test_delete_of_an_init_frozen_elsewhere_is_bounded(bundle, root, cid, run_ocirun):
    """The container's init moved into ANOTHER freezer cgroup, frozen there:
    SIGKILL cannot take it. `delete --force` ends within its deadline with
    one line naming the init, exits non-zero and keeps the state; once the
    other cgroup thaws, a second delete removes everything."""
    pid = _start_sleeper(run_ocirun, root, bundle, cid)
    trap = os.path.join(helpers.CGROUP_ROOT, "freezer", "ocirun-trap-" + cid)
    os.mkdir(trap)
    try:
        _write(os.path.join(trap, "cgroup.procs"), str(pid))
        _write(os.path.join(trap, "freezer.state"), "FROZEN")
        wait_for(lambda: _read(os.path.join(trap, "freezer.state")) == "FROZEN", what="frozen")
        r, took = _ocirun_bounded(root, "delete", "--force", cid)
        one_line_error(r)
        assert "container init still running" in r.stderr and str(pid) in r.stderr, r.stderr
        assert os.path.isfile(os.path.join(root, cid, "state.json")), "state removed: no later delete can retry"
        assert helpers.state(root, cid)["pid"] == pid
        assert helpers.cgroup_dirs(cid) != []
        _write(os.path.join(trap, "freezer.state"), "THAWED")
        wait_for(lambda: not pid_alive(pid), timeout=HANG_GUARD, what="the init to die once thawed")
        r, _ = _ocirun_bounded(root, "delete", "--force", cid)
        assert r.returncode == 0, r.stderr
        assert helpers.cgroup_dirs(cid) == []
        assert not os.path.exists(os.path.join(root, cid))
    finally:
        _write(os.path.join(trap, "freezer.state"), "THAWED")
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: _try_rmdir(trap), timeout=HANG_GUARD, what="rmdir " + trap)


# ---------------------------------------------------------------------------
# A stale delete and a re-created id (second review #6)
# ---------------------------------------------------------------------------


def _lock_waiter_on(inodes):
    """True once /proc/locks shows a process blocked on one of these inodes."""
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 5 and parts[1] == "->" and int(parts[6].rsplit(":", 1)[1]) in inodes:
                return True
    return False


def _hold_id_locks(root, cid):
    """flock everything a command on `cid` may lock: the state dir (older
    ocirun) and <root>/.locks/<id>. Returns the fds."""
    import fcntl

    fds = []
    d = os.path.join(root, cid)
    if os.path.isdir(d):
        fds.append(os.open(d, os.O_RDONLY | os.O_DIRECTORY))
    os.makedirs(os.path.join(root, ".locks"), exist_ok=True)
    fds.append(os.open(os.path.join(root, ".locks", cid), os.O_RDWR | os.O_CREAT, 0o600))
    for fd in fds:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fds


class _Background:
    """ocirun in the background; stderr to a file (a created container
    inherits it: a pipe would stay open after ocirun exits)."""

    def __init__(self, root, *args):
        import tempfile

        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [helpers.OCIRUN, "--root", root] + list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            text=True,
        )

    def poll(self):
        return self.proc.poll()

    def finish(self):
        """(exit status, stderr); a hang is a test failure."""
        try:
            self.proc.wait(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("`%s` still running after %ds" % (" ".join(self.proc.args), HANG_GUARD))
        self.err.seek(0)
        return self.proc.returncode, self.err.read()


def test_stale_delete_spares_a_recreated_container(bundle, root, cid, tmp_path, run_ocirun):
    """`delete --force X` waits on X's lock; meanwhile X's state dir goes
    (moved away, as a delete would remove it) and a new container X takes
    its place. The stale delete must leave the new container intact: its
    state, its init, its cgroup."""
    root2 = str(tmp_path / "root2")
    os.mkdir(root2)
    pid_a = _start_sleeper(run_ocirun, root, bundle, cid)
    bundle.config["linux"]["cgroupsPath"] = "/ocirun/%s-b" % cid
    bundle.write()
    r = helpers.ocirun(root2, "run", "-d", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    pid_b = helpers.state(root2, cid)["pid"]
    dirs_b = [
        d
        for d in (os.path.join(helpers.CGROUP_ROOT, h, "ocirun", cid + "-b") for h in os.listdir(helpers.CGROUP_ROOT))
        if os.path.isdir(d)
    ]
    assert dirs_b
    old = os.path.join(root, ".old-" + cid)
    fds = _hold_id_locks(root, cid)
    proc = None
    try:
        proc = _Background(root, "delete", "--force", cid)
        inodes = {os.fstat(fd).st_ino for fd in fds}
        wait_for(lambda: _lock_waiter_on(inodes), timeout=HANG_GUARD, what="delete to wait on the lock")
        os.rename(os.path.join(root, cid), old)  # X is gone from the path...
        os.rename(os.path.join(root2, cid), os.path.join(root, cid))  # ...and made again
    finally:
        for fd in fds:
            os.close(fd)
    try:
        rc, err = proc.finish()
        assert rc == 0, err
        st = helpers.state(root, cid)
        assert st["pid"] == pid_b and st["status"] == "running", st
        assert pid_alive(pid_b)
        assert all(os.path.isdir(d) for d in dirs_b), "the new container's cgroup was removed"
    finally:
        # Put A back where a delete can find it; remove both (whatever the build under test did).
        if os.path.isdir(old) and not os.path.exists(os.path.join(root2, cid)):
            os.rename(old, os.path.join(root2, cid))
        helpers.ocirun(root2, "delete", "--force", cid)
        helpers.ocirun(root, "delete", "--force", cid)
        for p in (pid_a, pid_b):
            if pid_alive(p):
                os.kill(p, signal.SIGKILL)
        for d in dirs_b:
            if os.path.isdir(d):
                wait_for(lambda: _try_rmdir(d), what="rmdir " + d)


def test_create_waits_for_the_id_lock(bundle, root, cid, run_ocirun):
    """`create X` takes the same per-id lock as delete: while another
    command holds it, create waits and makes nothing; then it proceeds."""
    bundle.set_args("true").write()
    run_ocirun("state", cid)  # registers the id for the fixture's cleanup
    fds = _hold_id_locks(root, cid)
    proc = None
    try:
        proc = _Background(root, "create", "-b", bundle.path, cid)
        inodes = {os.fstat(fd).st_ino for fd in fds}
        wait_for(lambda: _lock_waiter_on(inodes), timeout=HANG_GUARD, what="create to wait on the lock")
        assert proc.poll() is None
        assert not os.path.exists(os.path.join(root, cid)), "create made the state dir without the lock"
    finally:
        for fd in fds:
            os.close(fd)
        if proc is not None:
            rc, err = proc.finish()
    assert rc == 0, err
    assert helpers.state(root, cid)["status"] == "created"
    run_ocirun("delete", "--force", cid)


# ---------------------------------------------------------------------------
# A signal during run's create phase (second review #8)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_during_run_create_undoes_everything(bundle, root, cid, tmp_path, run_ocirun, sig):
    """`run` gets SIGTERM (SIGINT, SIGHUP) while a createRuntime hook runs:
    it undoes the container (state dir, cgroup, processes, the hook) and
    exits 128+signal."""
    marker = str(tmp_path / "hook-pid")
    bundle.set_args("sleep", "600")
    bundle.config.setdefault("hooks", {})["createRuntime"] = [
        {
            "path": "/bin/sh",
            "args": ["sh", "-c", "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 60" % (marker, marker, marker)],
        }
    ]
    bundle.write()
    run_ocirun("state", cid)  # registers the id for the fixture's cleanup
    proc = _Background(root, "run", "-b", bundle.path, cid)
    try:
        wait_for(lambda: os.path.exists(marker), timeout=HANG_GUARD, what="the createRuntime hook")
        hook_pid = int(_read(marker))
        proc.proc.send_signal(sig)
    finally:
        rc, err = proc.finish()
    assert rc == 128 + sig, (rc, err)
    assert "Traceback" not in err
    assert not os.path.exists(os.path.join(root, cid)), "state dir left"
    assert helpers.cgroup_dirs(cid) == [], "cgroup left"
    assert not pid_alive(hook_pid), "the hook was left running"
    assert helpers.procs_with(cid) == [], "a process of the container was left"


# ---------------------------------------------------------------------------
# A hook that outlives its timeout through its children (third review #5)
# ---------------------------------------------------------------------------


def test_hook_timeout_kills_the_hooks_children(bundle, root, cid, run_ocirun):
    """A startContainer hook `sh -c 'sleep N & sleep 100'` with timeout 1, in
    a container without a pid namespace (nothing else would reap the
    background sleep): the timeout must kill the hook's whole process group,
    not just the shell. start fails with one line and no `sleep N` is left
    on the host."""
    marker = str(31300 + os.getpid() % 600)
    bundle.set_args("sleep", "600")
    ns = bundle.config["linux"]["namespaces"]
    bundle.config["linux"]["namespaces"] = [n for n in ns if n["type"] != "pid"]
    bundle.config.setdefault("hooks", {})["startContainer"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep %s & sleep 100" % marker], "timeout": 1}
    ]
    bundle.write()
    try:
        r = run_ocirun("create", "-b", bundle.path, cid)
        if r.returncode == 0:
            r, took = _ocirun_bounded(root, "start", cid)
        one_line_error(r)
        assert "timed out" in r.stderr, r.stderr
        # before any delete: `delete --force` empties the cgroup, and would hide it
        wait_for(
            lambda: not [p for p in helpers.procs_with("sleep\0%s" % marker) if pid_alive(p)],
            timeout=HANG_GUARD,
            what="the hook's background `sleep %s` to be gone" % marker,
        )
        run_ocirun("delete", "--force", cid)
    finally:
        for p in helpers.procs_with("sleep\0%s" % marker):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------------------
# The per-id lock held with no time limit (third review #4)
# ---------------------------------------------------------------------------


def _start_in_hook(bundle, root, cid, run_ocirun, marker, pidns=True, poststart=None):
    """create, then `start` in the background with a startContainer hook
    `sleep <marker>` and no timeout; returns the background start once the
    hook runs (start then holds the id's lock, reading the exec fifo)."""
    bundle.set_args("sleep", "600")
    if not pidns:
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    hooks = bundle.config.setdefault("hooks", {})
    hooks["startContainer"] = [{"path": "/bin/sleep", "args": ["sleep", marker]}]
    if poststart:
        hooks["poststart"] = poststart
    bundle.write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    proc = _Background(root, "start", cid)
    wait_for(
        lambda: helpers.procs_with("sleep\0%s" % marker) or proc.poll() is not None,
        timeout=HANG_GUARD,
        what="the startContainer hook to run",
    )
    assert proc.poll() is None, "start ended before its hook ran"
    return proc


def _kill_marked(marker):
    for p in helpers.procs_with("sleep\0%s" % marker):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_delete_force_ends_a_start_stuck_in_a_hook(bundle, root, cid, run_ocirun, tmp_path):
    """A startContainer hook with no timeout keeps `start` (and the id's lock)
    forever. `delete --force` kills the init first, without the lock, as
    `kill` does; `start` then fails with one line, runs no poststart hook,
    and delete finishes: the container is gone."""
    marker = str(41300 + os.getpid() % 600)
    flag = tmp_path / "poststart-ran"
    proc = _start_in_hook(
        bundle, root, cid, run_ocirun, marker, poststart=[{"path": "/bin/sh", "args": ["sh", "-c", "touch %s" % flag]}]
    )
    try:
        r, _ = _ocirun_bounded(root, "delete", "--force", cid)
        assert r.returncode == 0, r.stderr
        rc, err = proc.finish()
        assert rc != 0, "start exited 0 though its init was killed before the process ran"
        assert len(err.strip().splitlines()) == 1, err
        assert not flag.exists(), "poststart hooks ran for a process that never executed"
        assert run_ocirun("state", cid).returncode != 0, "the container is still there"
    finally:
        _kill_marked(marker)
        if proc.poll() is None:
            proc.proc.kill()


def test_start_fails_when_its_init_is_killed_in_a_hook(bundle, root, cid, run_ocirun, tmp_path):
    """The init killed (from outside, not by ocirun) while its startContainer
    hook runs: the exec fifo's EOF is not "the process executed". `start`
    exits non-zero with one line and never runs poststart hooks."""
    marker = str(42300 + os.getpid() % 600)
    flag = tmp_path / "poststart-ran"
    proc = _start_in_hook(
        bundle, root, cid, run_ocirun, marker, poststart=[{"path": "/bin/sh", "args": ["sh", "-c", "touch %s" % flag]}]
    )
    try:
        os.kill(helpers.state(root, cid)["pid"], signal.SIGKILL)
        rc, err = proc.finish()
        assert rc != 0, "start exited 0 though its init was killed before the process ran"
        one_line = err.strip().splitlines()
        assert len(one_line) == 1 and "init" in one_line[0], err
        assert not flag.exists(), "poststart hooks ran for a process that never executed"
    finally:
        _kill_marked(marker)
        if proc.poll() is None:
            proc.proc.kill()
        run_ocirun("delete", "--force", cid)


def test_lock_wait_is_bounded(bundle, root, cid, run_ocirun):
    """Another command holding the id's lock for good (here: the test):
    `pause` gives up within a bound with one line naming the lock, and
    `delete --force` still kills the init first (no lock needed for that)."""
    pid = _start_sleeper(run_ocirun, root, bundle, cid)
    fds = _hold_id_locks(root, cid)
    try:
        r, _ = _ocirun_bounded(root, "pause", cid)
        one_line_error(r)
        assert "locked by another ocirun command" in r.stderr and cid in r.stderr, r.stderr
        r, _ = _ocirun_bounded(root, "delete", "--force", cid)
        one_line_error(r)
        assert "locked" in r.stderr, r.stderr
        wait_for(lambda: not pid_alive(pid), timeout=HANG_GUARD, what="delete --force to kill the init")
    finally:
        for fd in fds:
            os.close(fd)
    r = run_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr


def test_start_lets_go_of_the_lock_before_poststart(bundle, root, cid, run_ocirun, tmp_path):
    """A poststart hook that takes long: `start` no longer holds the id's
    lock then (the container is running and saved), so `pause` and
    `resume` work meanwhile."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    bundle.set_args("sleep", "600")
    bundle.config.setdefault("hooks", {})["poststart"] = [
        {
            "path": "/bin/sh",
            "args": ["sh", "-c", "touch %s; while [ ! -e %s ]; do sleep 0.1; done" % (ready, go)],
            "timeout": HANG_GUARD,
        }
    ]
    bundle.write()
    assert run_ocirun("create", "-b", bundle.path, cid).returncode == 0
    proc = _Background(root, "start", cid)
    try:
        wait_for(lambda: ready.exists() or proc.poll() is not None, timeout=HANG_GUARD, what="the poststart hook")
        assert proc.poll() is None, "start ended before its poststart hook ran"
        r, _ = _ocirun_bounded(root, "pause", cid)
        assert r.returncode == 0, r.stderr
        assert helpers.state(root, cid)["status"] == "paused"
        r, _ = _ocirun_bounded(root, "resume", cid)
        assert r.returncode == 0, r.stderr
    finally:
        go.touch()
        rc, err = proc.finish()
    assert rc == 0, err


# ---------------------------------------------------------------------------
# Another container's parent cgroup, or a cgroup inside another's (third review #3)
# ---------------------------------------------------------------------------


def _nest_cleanup(roots, ids, name):
    for r_ in roots:
        for c in ids:
            helpers.ocirun(r_, "delete", "--force", c)
    for h in os.listdir(helpers.CGROUP_ROOT):
        top = os.path.join(helpers.CGROUP_ROOT, h, name)
        for d in (os.path.join(top, "B"), top):
            if os.path.isdir(d):
                wait_for(lambda: _try_rmdir(d), what="rmdir " + d)


@pytest.mark.parametrize("same_root", [True, False], ids=["same-root", "other-root"])
def test_claiming_another_containers_parent_cgroup_is_refused(bundle, root, cid, run_ocirun, tmp_path, same_root):
    """B is in `/P/B` (stopped: its cgroup is empty, and a busy one was
    already refused as not empty); A then names `/P`, B's parent. runc only
    refuses a cgroup with processes in it: on a host without this one's
    accidents (cgroup2's no-internal-processes rule, v1 devices refusing
    rules on a parent, each failing A with an unrelated error) A was
    created, and `delete -f A` removed B's cgroup with its own. Now a cgroup with child cgroups is
    refused (one line naming it), as is `/ocirun` itself (every
    container's parent); B's cgroup is untouched by whatever is then run on
    A's id. With B in another --root only the cgroup tree tells; in the same
    root the state does too."""
    name = "ocirun-nest-" + cid
    a, b = cid + "-a", cid + "-b"
    root_b = root if same_root else str(tmp_path / "root-b")
    os.makedirs(root_b, exist_ok=True)
    try:
        bundle.set_args("true")
        bundle.config["linux"]["cgroupsPath"] = "/%s/B" % name
        bundle.write()
        r = helpers.ocirun(root_b, "run", "-d", "-b", bundle.path, b)
        assert r.returncode == 0, r.stderr
        wait_for(lambda: helpers.state(root_b, b)["status"] == "stopped", timeout=HANG_GUARD, what="B to stop")
        bundle.set_args("sleep", "600")
        for claim in ("/" + name, "/ocirun"):
            bundle.config["linux"]["cgroupsPath"] = claim
            bundle.write()
            r, _ = _ocirun_bounded(root, "create", "-b", bundle.path, a)
            # (never pause or kill --all an id holding /ocirun: on a build
            # without the fix that would reach every container of the host)
            cmds = [("delete", "--force", a)]
            if claim != "/ocirun":
                cmds = [("pause", a), ("kill", "--all", a, "KILL")] + cmds
            for cmd in cmds:
                helpers.ocirun(root, *cmd)
            one_line_error(r)
            # the reason, not an accident of this host (cgroup2's no internal
            # processes, v1 devices refusing a parent's rules) that a host
            # with other mounts would not have
            why = ["parent cgroup of every container"] if claim == "/ocirun" else ["child cgroups", "nested with"]
            assert claim.lstrip("/") in r.stderr and any(w in r.stderr for w in why), r.stderr
            assert not os.path.exists(os.path.join(root, a)), "the refused container's state dir is left"
        assert all(
            os.path.isdir(os.path.join(helpers.CGROUP_ROOT, h, name, "B")) for h in ("pids", "memory", "freezer")
        ), "B's cgroup was removed"
    finally:
        _nest_cleanup([root, root_b], [a, b], name)


@pytest.mark.parametrize("same_root", [True, False], ids=["same-root", "other-root"])
def test_cgroup_inside_another_containers_cgroup_is_refused(bundle, root, cid, run_ocirun, tmp_path, same_root):
    """A runs in `/P`; B then names `/P/B`, inside A's cgroup. That is A's
    business: `delete -f A` would kill B and remove its cgroup (runc allows
    it). B's create is refused with one line naming the path, nothing of B
    is left, A is untouched; `delete -f A` then kills nothing but A."""
    name = "ocirun-nest-" + cid
    a, b = cid + "-a", cid + "-b"
    root_b = root if same_root else str(tmp_path / "root-b")
    os.makedirs(root_b, exist_ok=True)
    bystander = None
    try:
        bundle.set_args("sleep", "600")
        bundle.config["linux"]["cgroupsPath"] = "/" + name
        bundle.write()
        r = helpers.ocirun(root, "run", "-d", "-b", bundle.path, a)
        assert r.returncode == 0, r.stderr
        pid_a = helpers.state(root, a)["pid"]
        bundle.config["linux"]["cgroupsPath"] = "/%s/B" % name
        bundle.write()
        r, _ = _ocirun_bounded(root_b, "create", "-b", bundle.path, b)
        if r.returncode == 0:
            # the old code let it in: start it, and see what `delete -f A` does to it
            helpers.ocirun(root_b, "start", b)
            bystander = helpers.state(root_b, b)["pid"]
        one_line_error(r)
        assert name in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(root_b, b))
        assert pid_alive(pid_a)
        assert not any(
            os.path.exists(os.path.join(helpers.CGROUP_ROOT, h, name, "B")) for h in os.listdir(helpers.CGROUP_ROOT)
        ), "B's refused cgroup is left"
    finally:
        if bystander is not None:
            helpers.ocirun(root, "delete", "--force", a)
            assert pid_alive(bystander), "delete -f A killed another container's process"
        _nest_cleanup([root, root_b], [a, b], name)
