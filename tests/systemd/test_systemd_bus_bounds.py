"""Every wait on the bus is bounded: a bus that accepts the connection and then
says nothing (a wedged dbus-daemon) fails `create --systemd-cgroup` in one line
instead of hanging it. No systemd is needed: ocirun stops before it asks for one."""

import os
import socket
import subprocess
import threading

import pytest

import helpers


class SilentBus:
    """A unix socket that accepts and, with `auth`, completes the SASL exchange
    (OK to AUTH, then BEGIN), then reads everything and answers nothing."""

    def __init__(self, path, auth):
        self.path, self.auth = path, auth
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.conns = []
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._talk, args=(c,), daemon=True).start()

    def _talk(self, c):
        buf = b""
        try:
            while True:
                data = c.recv(4096)
                if not data:
                    return
                buf += data
                if self.auth and b"AUTH" in buf and b"\r\n" in buf.split(b"AUTH", 1)[1]:
                    c.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
                    buf = b""
                    self.auth = False  # from here on: silence
        except OSError:
            return

    def close(self):
        self.srv.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("auth", [True, False], ids=["silent-after-auth", "silent-before-auth"])
def test_a_silent_bus_fails_create_in_one_line(bundle, root, cid, auth):
    path = os.path.join(os.path.dirname(root), "bus")
    bus = SilentBus(path, auth)
    address = "unix:path=" + path
    try:
        bundle.set_args("true").write()
        r = subprocess.run(
            [helpers.OCIRUN, "--root", root, "--systemd-cgroup", "create", "--bundle", bundle.path, cid],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address),
        )
    finally:
        bus.close()
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("cannot connect to systemd at `%s`: " % address), r.stderr
    assert ("Hello" in r.stderr) == auth, r.stderr
    assert not os.path.exists(os.path.join(root, cid))
