"""config.md#process `terminal` and `consoleSize`, with the runc-style
`--console-socket` hand-off that engines use (ENGINES.md)."""

from __future__ import annotations

import array
import fcntl
import os
import socket
import struct
import threading

from conformance.harness import Lazy

TIOCGPTN = 0x80045430


class ConsoleSocket:
    """Listen on an AF_UNIX socket and collect the fds of the first message."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.fds: list = []
        self.messages = 0
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(20)
                msg, anc, _flags, _ = conn.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
                self.messages = 1
                self.payload = msg
                for level, typ, data in anc:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                        fds = array.array("i")
                        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                        self.fds.extend(fds)
                # anything more on the same connection would be a second message
                conn.settimeout(0.2)
                try:
                    more, anc2, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
                    if more or anc2:
                        self.messages += 1
                        for _l, _t, data in anc2:
                            fds = array.array("i")
                            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                            self.fds.extend(fds)
                except (socket.timeout, OSError):
                    pass
        except Exception as e:  # noqa: BLE001 - reported by the checks
            self.error = e

    def close(self):
        self.sock.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass


def test_terminal(env, spec):
    rt = env.rt
    size = {"height": 31, "width": 101}

    def mutate(c, b):
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = dict(size)

    cid, b = env.bundle("tty", mutate=mutate, args=["/checker", "facts", "/out/facts.json", "--stat", "/dev/console"])
    sockpath = b.path / "console.sock"
    seen = {}

    def drive():
        cs = ConsoleSocket(sockpath)
        seen["cs"] = cs
        rt.must(rt.create(cid, b.path, console_socket=sockpath))
        cs.thread.join(10)
        if cs.error:
            raise AssertionError(f"console socket: {cs.error}")
        master = cs.fds[0] if cs.fds else None
        rt.must(rt.start(cid))
        # drain the master so the process never blocks on output
        rt.wait_status(cid, timeout=10)
        if master is not None:
            os.set_blocking(master, False)
            try:
                os.read(master, 65536)
            except OSError:
                pass
        seen["facts"] = b.read_json("facts.json")
        return seen

    run = Lazy(drive)
    try:
        with spec.check(
            "config.md#process", "MUST", "terminal: the console socket receives exactly one fd in one message"
        ):
            s = run()
            assert s["cs"].messages == 1, f"{s['cs'].messages} messages"
            assert len(s["cs"].fds) == 1, f"{len(s['cs'].fds)} fds"

        with spec.check("config.md#process", "MUST", "terminal: the fd received is a pseudoterminal master"):
            fd = run()["cs"].fds[0]
            buf = fcntl.ioctl(fd, TIOCGPTN, struct.pack("I", 0))
            assert struct.unpack("I", buf)[0] >= 0

        with spec.check("config.md#process", "MUST", "terminal: stdin, stdout and stderr of the process are the pty"):
            f = run()["facts"]
            assert f["isatty"] == [1, 1, 1], f"isatty(0,1,2) = {f['isatty']}"
            assert f["ttyname0"] and f["ttyname0"].startswith("/dev/pts/"), f["ttyname0"]
            fds = f["fds"]
            assert fds.get("0") == fds.get("1") == fds.get("2"), fds

        with spec.check(
            "config-linux.md#default-devices", "MUST", "terminal: /dev/console is the container's pseudoterminal"
        ):
            f = run()["facts"]
            con = f["stat"]["/dev/console"]
            assert con["errno"] == 0, f"/dev/console: errno {con['errno']}"
            st, tty = con["stat"], f["stdin_stat"]
            assert st["type"] == "c" and (st["major"], st["minor"]) == (tty["major"], tty["minor"]), (
                f"/dev/console is {st['major']}:{st['minor']}, the tty is {tty['major']}:{tty['minor']}"
            )

        with spec.check("config.md#process", "MUST", "consoleSize is the terminal's size"):
            f = run()["facts"]
            assert f["winsize"] == [size["height"], size["width"]], f"rows, cols = {f['winsize']}"
    finally:
        rt.cleanup(cid)
        if "cs" in seen:
            seen["cs"].close()
