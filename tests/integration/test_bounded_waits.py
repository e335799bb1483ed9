"""Every wait on a peer or on the init has a bound (issue 10, part 4): a
seccomp agent or console socket that never accepts, an init that never opens
the exec fifo, and `exec -t` whose output reader stopped each end in bounded
time with one line naming what is stuck."""

import os
import signal
import socket
import subprocess

import pytest

import helpers
from helpers import OCIRUN, cgroup_dirs

pytestmark = pytest.mark.skipif(not helpers.can_run_containers(), reason="needs root and the ocirun binary")


class Stuck:
    """A listening unix socket that never accepts, its backlog (0) already
    taken by one waiting connection: the next connect blocks."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(0)
        self.fillers = []
        for _ in range(2):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            self.fillers.append(c)
        # the queue is full: a blocking connect now waits for an accept that never comes
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.setblocking(False)
        with pytest.raises(BlockingIOError):
            probe.connect(path)
        probe.close()

    def close(self):
        for c in self.fillers:
            c.close()
        self.srv.close()


def _one_line(r, needle):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert needle in r.stderr, r.stderr


def _left(root, c):
    return [e for e in os.listdir(root) if e == c]


def test_seccomp_agent_that_never_accepts(run_ocirun, bundle, cid, root, tmp_path):
    path = str(tmp_path / "agent.sock")
    stuck = Stuck(path)
    try:
        bundle.config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": path,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        }
        bundle.set_args("true").write()
        r = run_ocirun("run", "--bundle", bundle.path, cid, timeout=90)
        _one_line(r, "send the seccomp listener to `%s`: the agent did not accept" % path)
        assert _left(root, cid) == [] and cgroup_dirs(cid) == []
    finally:
        stuck.close()


def test_console_socket_that_never_accepts(run_ocirun, bundle, cid, root, tmp_path):
    path = str(tmp_path / "console.sock")
    stuck = Stuck(path)
    try:
        bundle.process["terminal"] = True
        bundle.set_args("true").write()
        r = run_ocirun("create", "--bundle", bundle.path, "--console-socket", path, cid, timeout=90)
        _one_line(r, "connect to console socket `%s`: the peer did not accept" % path)
        assert _left(root, cid) == [] and cgroup_dirs(cid) == []
    finally:
        stuck.close()


def test_start_with_an_init_that_never_opens_the_fifo(run_ocirun, bundle, cid, root):
    bundle.set_args("true").write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    pid = helpers.state(root, cid)["pid"]
    os.kill(pid, signal.SIGSTOP)  # blocked in its open of the fifo, now it cannot go on
    r = run_ocirun("start", cid, timeout=90)
    _one_line(r, "did not open the exec fifo")
    assert "pid %d" % pid in r.stderr
    r = run_ocirun("delete", "--force", cid, timeout=60)
    assert r.returncode == 0, r.stderr


def test_start_after_the_init_died(run_ocirun, bundle, cid, root):
    bundle.set_args("true").write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    os.kill(helpers.state(root, cid)["pid"], signal.SIGKILL)
    r = run_ocirun("start", cid, timeout=90)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr


def test_exec_tty_with_a_reader_that_stopped(run_ocirun, bundle, cid, root, tmp_path):
    bundle.set_args("sleep", "300").write()
    r = run_ocirun("run", "-d", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    # 8 MiB through the pty; our stdout is a pipe nobody reads (64 KiB fill it)
    err = open(tmp_path / "exec.err", "w+")
    p = subprocess.Popen(
        [
            OCIRUN,
            "--root",
            root,
            "exec",
            "-t",
            cid,
            "sh",
            "-c",
            "head -c 8388608 /dev/zero | tr '\\0' a; echo; echo done >&2",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=err,
    )
    try:
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("exec -t hung on a stdout nobody reads")
    finally:
        p.stdout.close()
    err.seek(0)
    text = err.read()
    assert "output (stdout) took nothing" in text, text
    assert rc == 0, (rc, text)
