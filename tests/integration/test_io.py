"""What crosses into the container: fds, the terminal, signals."""

import array
import os
import pty
import select
import signal
import socket
import subprocess
import time

import helpers
from helpers import state, wait_for


def fd_numbers(out):
    """fd numbers from `ls -l /proc/PID/fd` lines (busybox runs `ls` inside sh, so
    plain `ls` would show its own directory fd)."""
    return [l.split(" -> ")[0].split()[-1] for l in out.splitlines() if " -> " in l]


def _fds_listing(bundle, run_ocirun, cid, **kw):
    # the glob is expanded by sh itself; no helper process holds an extra fd
    bundle.set_args("sh", "-c", "ls -l /proc/$$/fd").write()
    return run_ocirun("run", "-b", bundle.path, cid, **kw)


def test_no_fd_leaks(bundle, cid, run_ocirun):
    r = _fds_listing(bundle, run_ocirun, cid)
    assert r.returncode == 0, r.stderr
    assert fd_numbers(r.stdout) == ["0", "1", "2"]


def test_preserve_fds(bundle, root, cid, tmp_path):
    f = tmp_path / "payload"
    f.write_text("from the host\n")
    fd3 = os.open(str(f), os.O_RDONLY)
    fd4 = os.open(str(f), os.O_RDONLY)
    try:
        bundle.set_args("sh", "-c", "ls -l /proc/$$/fd; cat <&3").write()
        p = subprocess.Popen(
            [helpers.OCIRUN, "--root", root, "run", "--preserve-fds", "1", "-b", bundle.path, cid],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            close_fds=False,
            preexec_fn=_dup_to(fd3, fd4),
        )
        out, err = p.communicate(timeout=60)
    finally:
        os.close(fd3)
        os.close(fd4)
    assert p.returncode == 0, err
    assert fd_numbers(out) == ["0", "1", "2", "3"]
    assert out.endswith("from the host\n")


def _dup_to(a, b):
    def fn():
        os.dup2(a, 3, inheritable=True)
        os.dup2(b, 4, inheritable=True)

    return fn


def test_listen_fds(bundle, root, cid, tmp_path):
    s1, s2 = socket.socketpair()
    bundle.set_args("sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; ls -l /proc/$$/fd").write()
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))

    def pre():
        os.dup2(s2.fileno(), 3, inheritable=True)

    p = subprocess.Popen(
        [helpers.OCIRUN, "--root", root, "run", "-b", bundle.path, cid],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=pre,
        close_fds=False,
    )
    out, err = p.communicate(timeout=60)
    s1.close()
    s2.close()
    assert p.returncode == 0, err
    assert out.split("\n")[0] == "1 1"
    assert fd_numbers(out) == ["0", "1", "2", "3"]


def test_run_forwards_signals(bundle, root, cid):
    bundle.set_args(
        "sh",
        "-c",
        "trap 'echo got-term; exit 5' TERM; trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.05; done",
    ).write()
    p = subprocess.Popen(
        [helpers.OCIRUN, "--root", root, "run", "-b", bundle.path, cid],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGHUP)
        assert p.stdout.readline() == "got-hup\n"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, out) == (5, "got-term\n"), err
    assert not os.path.exists(os.path.join(root, cid))


def _read_until(fd, want, timeout=20):
    buf = b""
    deadline = time.monotonic() + timeout
    while want not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r in %r" % (want, buf))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_run_proxies_terminal(bundle, root, cid):
    bundle.process["terminal"] = True
    bundle.set_args("sh", "-c", "tty; stty size; read line; echo got:$line; exit 4").write()
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 99, 0, 0))
    p = subprocess.Popen(
        [helpers.OCIRUN, "--root", root, "run", "-b", bundle.path, cid],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        out = _read_until(master, b"33 99")
        assert b"/dev/pts/0" in out
        os.write(master, b"hello\r")
        out += _read_until(master, b"got:hello")
        assert p.wait(timeout=20) == 4
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    assert not os.path.exists(os.path.join(root, cid))


def test_console_socket_gets_exactly_the_master(bundle, root, cid, run_ocirun, tmp_path):
    bundle.process["terminal"] = True
    bundle.set_args("sh", "-c", "echo on-the-pty; tty").write()
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    import threading

    def accept():
        conn, _ = srv.accept()
        msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 4))
        fds = array.array("i")
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % 4])
        got["name"], got["fds"] = msg, list(fds)
        conn.close()

    t = threading.Thread(target=accept)
    t.start()
    r = run_ocirun("create", "-b", bundle.path, "--console-socket", path, cid)
    t.join(10)
    srv.close()
    assert (r.returncode, r.stderr) == (0, "")
    assert len(got["fds"]) == 1 and got["name"].startswith(b"/dev/pts/")
    master = got["fds"][0]
    try:
        assert run_ocirun("start", cid).returncode == 0
        out = _read_until(master, b"/dev/pts/0")
        assert b"on-the-pty" in out
    finally:
        os.close(master)
    wait_for(lambda: state(root, cid)["status"] == "stopped", what="stopped")


def test_console_size_on_the_console_socket_pty(bundle, root, cid, run_ocirun, tmp_path):
    import fcntl
    import struct
    import termios
    import threading

    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 31, "width": 101}
    bundle.set_args("sh", "-c", "stty size").write()
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = []

    def accept():
        conn, _ = srv.accept()
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
        got.extend(fds)
        conn.close()

    t = threading.Thread(target=accept)
    t.start()
    r = run_ocirun("create", "-b", bundle.path, "--console-socket", path, cid)
    t.join(10)
    srv.close()
    assert (r.returncode, r.stderr) == (0, "")
    master = got[0]
    try:
        # already the pty's size when the engine gets it, before start
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(master, termios.TIOCGWINSZ, b"\0" * 8))[:2]
        assert (rows, cols) == (31, 101)
        assert run_ocirun("start", cid).returncode == 0
        _read_until(master, b"31 101")
    finally:
        os.close(master)
    wait_for(lambda: state(root, cid)["status"] == "stopped", what="stopped")


def test_console_size_in_runs_proxy(bundle, root, cid, run_ocirun):
    # stdin is not a terminal: nothing to follow, the pty keeps consoleSize
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 42, "width": 123}
    bundle.set_args("stty", "size").write()
    r = run_ocirun("run", "-b", bundle.path, cid, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["42", "123"], r.stdout


def test_preserved_range_never_holds_ocirun_fds(bundle, root, cid, run_ocirun):
    """--preserve-fds 2 with nothing open at 3 and 4: the container must not
    get whatever ocirun itself opened there (its state dir, a socket)."""
    bundle.set_args("sh", "-c", "ls -l /proc/$$/fd").write()
    r = run_ocirun("run", "--preserve-fds", "2", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    links = [l.split(" -> ")[1] for l in r.stdout.splitlines() if " -> " in l]
    assert not any(root in l or "socket:" in l or "ocirun" in l for l in links), links
