"""Engine features of issue 10, part 5, with real containers: --pidfd-socket
(create, run, exec), NOTIFY_SOCKET proxying."""

import array
import os
import socket
import threading

import pytest

import helpers

pytestmark = pytest.mark.skipif(not helpers.can_run_containers(), reason="needs root and the ocirun binary")


class FdReceiver:
    """A unix socket that accepts one connection and keeps the fds sent on it."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.srv.settimeout(60)
        self.fds, self.payload, self.error = [], b"", None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.srv.accept()
            with conn:
                conn.settimeout(60)
                msg, anc, _, _ = conn.recvmsg(256, socket.CMSG_SPACE(16))
                self.payload = msg
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        a = array.array("i")
                        a.frombytes(data[: len(data) - len(data) % a.itemsize])
                        self.fds += list(a)
        except Exception as e:  # reported by join()
            self.error = e

    def join(self):
        self.thread.join(90)
        assert not self.thread.is_alive(), "nothing came on the socket"
        assert self.error is None, repr(self.error)
        self.srv.close()

    def pid_of_only_fd(self):
        assert len(self.fds) == 1, self.fds
        with open("/proc/self/fdinfo/%d" % self.fds[0]) as f:
            info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        assert os.readlink("/proc/self/fd/%d" % self.fds[0]) == "anon_inode:[pidfd]"
        return int(info["Pid"].strip())

    def close(self):
        for fd in self.fds:
            os.close(fd)


def test_pidfd_socket_create_and_exec(run_ocirun, bundle, cid, root, tmp_path):
    bundle.set_args("sleep", "300").write()
    rx = FdReceiver(str(tmp_path / "create.sock"))
    try:
        r = run_ocirun("create", "--bundle", bundle.path, "--pidfd-socket", str(tmp_path / "create.sock"), cid)
        assert r.returncode == 0, r.stderr
        rx.join()
        assert rx.pid_of_only_fd() == helpers.state(root, cid)["pid"]
    finally:
        rx.close()
    assert run_ocirun("start", cid).returncode == 0
    rx = FdReceiver(str(tmp_path / "exec.sock"))
    try:
        pidfile = str(tmp_path / "exec.pid")
        r = run_ocirun(
            "exec", "-d", "--pid-file", pidfile, "--pidfd-socket", str(tmp_path / "exec.sock"), cid, "sleep", "300"
        )
        assert r.returncode == 0, r.stderr
        rx.join()
        with open(pidfile) as f:
            assert rx.pid_of_only_fd() == int(f.read())
    finally:
        rx.close()


def test_pidfd_socket_run_detached(run_ocirun, bundle, cid, root, tmp_path):
    bundle.set_args("sleep", "300").write()
    rx = FdReceiver(str(tmp_path / "run.sock"))
    try:
        r = run_ocirun("run", "-d", "--bundle", bundle.path, "--pidfd-socket", str(tmp_path / "run.sock"), cid)
        assert r.returncode == 0, r.stderr
        rx.join()
        assert rx.pid_of_only_fd() == helpers.state(root, cid)["pid"]
    finally:
        rx.close()


def test_pidfd_socket_missing_leaves_nothing(run_ocirun, bundle, cid, root, tmp_path):
    bundle.set_args("true").write()
    path = str(tmp_path / "none.sock")
    r = run_ocirun("create", "--bundle", bundle.path, "--pidfd-socket", path, cid)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "pidfd socket `%s`" % path in r.stderr, r.stderr
    assert cid not in os.listdir(root) and helpers.cgroup_dirs(cid) == []


@pytest.fixture(scope="module")
def sdnotify(tmp_path_factory):
    import subprocess

    out = str(tmp_path_factory.mktemp("sdnotify") / "sdnotify")
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-static",
            "-o",
            out,
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdnotify.c"),
        ],
        check=True,
        capture_output=True,
    )
    return out


def _notify_bundle(own_bundle, sdnotify, script, env=()):
    import shutil

    shutil.copy(sdnotify, os.path.join(own_bundle.rootfs, "bin", "sdnotify"))
    own_bundle.process["env"] = list(own_bundle.process.get("env") or []) + list(env)
    return own_bundle.set_args("sh", "-c", script).write()


def _host_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    return s


def _recv_all(s, want):
    """Datagrams until one line `want` is seen (60 s each at most)."""
    got = []
    while not any(want in m.split("\n") for m in got):
        try:
            got.append(s.recv(4096).decode())
        except socket.timeout:
            pytest.fail("the host's notify socket got %r, never %r" % (got, want))
    return got


@pytest.mark.parametrize("inside", [None, "/run/custom/sd.sock"])
def test_notify_socket_forwards_ready_and_mainpid(run_ocirun, own_bundle, sdnotify, cid, root, tmp_path, inside):
    """podman run --sdnotify=container: NOTIFY_SOCKET in ocirun's env; the
    container's READY=1 reaches the host socket, then MAINPID=<init>."""
    host = _host_socket(str(tmp_path / "host.sock"))
    try:
        env = ["NOTIFY_SOCKET=%s" % inside] if inside else []
        _notify_bundle(
            own_bundle,
            sdnotify,
            'echo "sock=$NOTIFY_SOCKET" > /dev/shm/seen; sdnotify "STATUS=booting" && '
            'sdnotify "READY=1" && exec sleep 300',
            env,
        )
        envp = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "host.sock"))
        r = run_ocirun("create", "--bundle", own_bundle.path, cid, env=envp)
        assert r.returncode == 0, r.stderr
        r = run_ocirun("start", cid, env=envp)
        assert r.returncode == 0, r.stderr
        got = _recv_all(host, "READY=1")
        pid = helpers.state(root, cid)["pid"]
        got += _recv_all(host, "MAINPID=%d" % pid)
        assert got[0] == "STATUS=booting", got
        r = run_ocirun("exec", cid, "cat", "/dev/shm/seen")
        assert r.stdout.strip() == "sock=%s" % (inside or "/run/notify/notify.sock"), r.stdout
    finally:
        host.close()


def test_notify_socket_with_run_detached(run_ocirun, own_bundle, sdnotify, cid, root, tmp_path):
    host = _host_socket(str(tmp_path / "host.sock"))
    try:
        _notify_bundle(own_bundle, sdnotify, 'sdnotify "READY=1" && exec sleep 300')
        envp = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "host.sock"))
        r = run_ocirun("run", "-d", "--bundle", own_bundle.path, cid, env=envp)
        assert r.returncode == 0, r.stderr
        got = _recv_all(host, "READY=1")
        got += _recv_all(host, "MAINPID=%d" % helpers.state(root, cid)["pid"])
    finally:
        host.close()


def _own_cgroups(pid):
    """{hierarchy key: path} from /proc/PID/cgroup ('' for v2)."""
    out = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            out[ctrls] = path
    return out


def _parse_cgroup_text(text):
    out = {}
    for line in text.splitlines():
        _, ctrls, path = line.split(":", 2)
        out[ctrls] = path
    return out


def test_exec_cgroup_into_a_sub_cgroup(run_ocirun, bundle, cid, root):
    bundle.set_args("sleep", "300").write()
    assert run_ocirun("run", "-d", "--bundle", bundle.path, cid).returncode == 0
    dirs = helpers.cgroup_dirs(cid)
    assert dirs
    subs = [os.path.join(d, "sub") for d in dirs]
    for d in subs:
        os.mkdir(d)
        if "/cpuset/" in d:  # a new cpuset is empty: give it its parent's
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(os.path.dirname(d), f)) as src, open(os.path.join(d, f), "w") as dst:
                    dst.write(src.read())
    try:
        r = run_ocirun("exec", "--cgroup", "sub", cid, "cat", "/proc/self/cgroup")
        assert r.returncode == 0, r.stderr
        got = _parse_cgroup_text(r.stdout)
        moved = [k for k, p in got.items() if p.endswith("/sub")]
        assert "pids" in moved and "memory" in moved and "freezer" in moved, got
        r = run_ocirun("exec", "--cgroup", "pids:sub", cid, "cat", "/proc/self/cgroup")
        assert r.returncode == 0, r.stderr
        got = _parse_cgroup_text(r.stdout)
        assert got["pids"].endswith("/sub") and not got["memory"].endswith("/sub"), got
        r = run_ocirun("exec", "--cgroup", "nosuch", cid, "true")
        assert r.returncode == 255 and r.stderr.count("\n") == 1 and "nosuch" in r.stderr, r.stderr
        r = run_ocirun("exec", "--cgroup", "../escape", cid, "true")
        assert r.returncode != 0 and "--cgroup" in r.stderr, r.stderr
    finally:
        run_ocirun("kill", cid, "KILL")
        import time

        deadline = time.monotonic() + 30
        for d in subs:
            while os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    assert time.monotonic() < deadline, "cannot remove %s" % d
                    time.sleep(0.1)


def test_exec_ignore_paused(run_ocirun, bundle, cid, root):
    import time

    bundle.set_args("sleep", "300").write()
    assert run_ocirun("run", "-d", "--bundle", bundle.path, cid).returncode == 0
    assert run_ocirun("pause", cid).returncode == 0
    r = run_ocirun("exec", "-d", cid, "true")
    assert r.returncode == 255 and "paused" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = run_ocirun("exec", "-d", "--ignore-paused", cid, "sh", "-c", "echo ran > /dev/shm/ran", timeout=60)
    assert r.returncode == 0, r.stderr
    freezer = [d for d in helpers.cgroup_dirs(cid) if "/freezer/" in d]
    with open(os.path.join(freezer[0], "freezer.state")) as f:
        assert f.read().strip() == "FROZEN"
    assert run_ocirun("resume", cid).returncode == 0
    deadline = time.monotonic() + 30
    while run_ocirun("exec", cid, "cat", "/dev/shm/ran").stdout.strip() != "ran":
        assert time.monotonic() < deadline, "the process exec'd while paused never ran after resume"
        time.sleep(0.2)


def test_exec_when_the_init_moved_to_a_v2_sub_cgroup(run_ocirun, bundle, cid, root):
    """systemd inside: the init leaves the container's v2 cgroup for a child and
    enables a controller there, so the container's own cgroup.procs says EBUSY."""
    import time

    bundle.set_args("sleep", "300").write()
    assert run_ocirun("run", "-d", "--bundle", bundle.path, cid).returncode == 0
    pid = helpers.state(root, cid)["pid"]
    v2 = os.path.join(helpers.CGROUP_ROOT, "unified") + _own_cgroups(pid)[""]
    assert os.path.isdir(v2) and v2 != os.path.join(helpers.CGROUP_ROOT, "unified") + "/", v2
    with open(os.path.join(v2, "cgroup.controllers")) as f:
        assert "hugetlb" in f.read().split()
    inner = os.path.join(v2, "init.scope")
    os.mkdir(inner)
    try:
        with open(os.path.join(inner, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        with open(os.path.join(v2, "cgroup.subtree_control"), "w") as f:
            f.write("+hugetlb")
        with pytest.raises(OSError) as e:  # the case: the container's own cgroup refuses processes
            with open(os.path.join(v2, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        assert e.value.errno == 16
        r = run_ocirun("exec", cid, "cat", "/proc/self/cgroup")
        assert r.returncode == 0, r.stderr
        assert _parse_cgroup_text(r.stdout)[""].endswith("/init.scope"), r.stdout
    finally:
        run_ocirun("kill", cid, "KILL")
        deadline = time.monotonic() + 30
        while os.path.isdir(inner):
            try:
                os.rmdir(inner)
            except OSError:
                assert time.monotonic() < deadline, "cannot remove %s" % inner
                time.sleep(0.1)
