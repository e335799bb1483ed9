"""CVE-2024-21626 class: a host fd leaked into the container, used as the
cwd or reached through /proc/self/fd."""

import os
import subprocess

from sec_common import one_line_error, parse

import helpers
from helpers import state, wait_for


def test_cwd_through_proc_self_fd(box, cid, run_ocirun, subtests):
    """CVE-2024-21626 class: process.cwd = /proc/self/fd/N (N = 3..20) must
    never leave the process in a host directory: either a clean error or a
    cwd inside the container."""
    box.set_args("/bin/sectool", "cwd")
    for n in range(3, 21):
        with subtests.test(fd=n):
            box.process["cwd"] = "/proc/self/fd/%d" % n
            box.write()
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, n))
            if r.returncode != 0:
                one_line_error(r)
                continue
            cwd = [f for f in parse(r.stdout) if f[0] == "C"]
            assert cwd and cwd[0][1].startswith("/"), "cwd outside the container: %r" % r.stdout
            # the container's own view must find the same directory at that path
            assert not cwd[0][1].startswith("/proc/self/fd"), r.stdout


def fd_lines(out):
    return {f[1]: f[2] if len(f) > 2 else "" for f in parse(out) if f[0] == "F"}


def test_only_stdio_reaches_the_process(box, root, cid, run_ocirun, tmp_path):
    """CVE-2024-21626 class: /proc/self/fd of the container's process holds
    0, 1, 2 only: no state dir, exec fifo, cgroup dir, sync socket, memfd,
    our own .so. Checked for `run`, for `create` + `start`, and for a
    startContainer hook."""
    box.set_args("/bin/sectool", "fds")
    box.config.setdefault("hooks", {})["startContainer"] = [{"path": "/bin/sectool", "args": ["sectool", "fds"]}]
    box.write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("F ")]
    assert sorted(int(l.split()[1]) for l in lines) == [0, 0, 1, 1, 2, 2], r.stdout  # hook + process

    out = tmp_path / "out"
    c = cid + "-cs"
    with open(out, "w") as f:
        rc = subprocess.run(
            [helpers.OCIRUN, "--root", root, "create", "-b", box.path, c],
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            timeout=60,
        ).returncode
    try:
        assert rc == 0, out.read_text()
        assert run_ocirun("start", c).returncode == 0
        wait_for(lambda: state(root, c)["status"] == "stopped", what="stopped")
    finally:
        run_ocirun("delete", "--force", c)
    lines = [l for l in out.read_text().splitlines() if l.startswith("F ")]
    assert sorted(int(l.split()[1]) for l in lines) == [0, 0, 1, 1, 2, 2], out.read_text()


def test_preserved_fds_only(box, cid, run_ocirun, tmp_path):
    """CVE-2024-21626 class: with --preserve-fds 2 exactly fds 3 and 4 (the
    ones we passed) come through, nothing above them."""
    box.set_args("/bin/sectool", "fds").write()
    a = open(tmp_path / "a", "w")
    b = open(tmp_path / "b", "w")
    try:
        r = helpers.ocirun(
            os.path.join(str(tmp_path), "state"),
            "run",
            "--preserve-fds",
            "2",
            "-b",
            box.path,
            cid,
            close_fds=False,
            preexec_fn=_move_fds(a.fileno(), b.fileno()),
        )
    finally:
        a.close()
        b.close()
        helpers.ocirun(os.path.join(str(tmp_path), "state"), "delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    fds = fd_lines(r.stdout)
    assert sorted(int(k) for k in fds) == [0, 1, 2, 3, 4], r.stdout
    assert (fds["3"], fds["4"]) == (str(tmp_path / "a"), str(tmp_path / "b")), r.stdout


def _move_fds(fa, fb):
    def f():
        # put the two files at 3 and 4, close everything else above 2
        ta, tb = os.dup(fa), os.dup(fb)
        os.dup2(ta, 3)
        os.dup2(tb, 4)
        os.closerange(5, 65536)

    return f


def test_exec_fds_and_cwd(box, cid, run_ocirun, subtests):
    """CVE-2024-21626 class (`exec`): the tenant process has only 0, 1, 2, and
    --cwd /proc/self/fd/N (N = 3..12) never lands on a host directory."""
    box.set_args("sleep", "60").write()
    assert run_ocirun("run", "-d", "-b", box.path, cid).returncode == 0
    r = run_ocirun("exec", cid, "/bin/sectool", "fds")
    if "not implemented" in r.stderr:
        import pytest

        pytest.skip("ocirun exec: not implemented yet")
    assert r.returncode == 0, r.stderr
    assert sorted(int(k) for k in fd_lines(r.stdout)) == [0, 1, 2], r.stdout
    for n in range(3, 13):
        with subtests.test(fd=n):
            r = run_ocirun("exec", "--cwd", "/proc/self/fd/%d" % n, cid, "/bin/sectool", "cwd")
            if r.returncode != 0:
                one_line_error(r, 255)  # exec's own failure, as runc's
                continue
            cwd = [f for f in parse(r.stdout) if f[0] == "C"]
            assert cwd and cwd[0][1].startswith("/") and not cwd[0][1].startswith("/proc/self/fd"), r.stdout


def test_debug_log_never_fills_the_preserved_range(box, cid, run_ocirun, tmp_path):
    """CVE-2024-21626 class: `--debug --log FILE` with --preserve-fds 1 and
    fd 3 closed. The log used to open lazily at the first debug line, before
    the preserved range was plugged, so it landed in fd 3 and went to the
    container writable (a process writing to fd 3 injected lines into the
    host's log). Now fd 3 is plugged with /dev/null first, for `run` and for
    `exec`."""
    sroot = os.path.join(str(tmp_path), "state")
    logf = str(tmp_path / "ocirun.log")
    box.set_args("/bin/sectool", "fds").write()
    # helpers.ocirun closes every fd above 2 (close_fds): fd 3 is a hole
    r = helpers.ocirun(sroot, "--debug", "--log", logf, "run", "--preserve-fds", "1", "-b", box.path, cid)
    helpers.ocirun(sroot, "delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    fds = fd_lines(r.stdout)
    assert fds.get("3") == "/dev/null", "run: fd 3 is %r (log %s)" % (fds.get("3"), logf)

    c = cid + "-x"
    box.set_args("sleep", "60").write()
    assert helpers.ocirun(sroot, "run", "-d", "-b", box.path, c).returncode == 0
    try:
        r = helpers.ocirun(sroot, "--debug", "--log", logf, "exec", "--preserve-fds", "1", c, "/bin/sectool", "fds")
    finally:
        helpers.ocirun(sroot, "delete", "--force", c)
    assert r.returncode == 0, r.stderr
    fds = fd_lines(r.stdout)
    assert fds.get("3") == "/dev/null", "exec: fd 3 is %r (log %s)" % (fds.get("3"), logf)
