"""The container's terminal on the parent side.

With --console-socket the pty master goes to the engine as the only fd of one
sendmsg (conmon and containerd reject anything else). Without one, a
foreground `run` proxies its own terminal: raw mode, both directions, window
size kept in sync, restored on exit.
"""

import os

import _socket as socket

from . import errors


def connect_console(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise errors.OciError("connect to console socket `%s`: %s" % (path, errors.strerror(e.errno))) from None
    return s


def _pty_name(master):
    import fcntl
    import struct
    import termios
    try:
        n = struct.unpack("I", fcntl.ioctl(master, getattr(termios, "TIOCGPTN", 0x80045430), b"\0\0\0\0"))[0]
        return "/dev/pts/%d" % n
    except OSError:
        return "/dev/ptmx"


def send_master(sock, master):
    import array
    try:
        sock.sendmsg([_pty_name(master).encode()],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]).tobytes())])
    except OSError as e:
        raise errors.OciError("send the pty master over the console socket: %s" % errors.strerror(e.errno)) from None


def set_size(master, console_size):
    """process.consoleSize ({height, width}) on a new pty, before anyone reads it."""
    if not console_size:
        return
    import fcntl
    import struct
    import termios
    rows, cols = int(console_size.get("height", 0)), int(console_size.get("width", 0))
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    except OSError as e:
        raise errors.OciError("set process.consoleSize %dx%d on the pty: %s"
                              % (rows, cols, errors.strerror(e.errno))) from None


def _copy_winsize(src_fd, dst_fd):
    import fcntl
    import termios
    try:
        ws = fcntl.ioctl(src_fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst_fd, termios.TIOCSWINSZ, ws)
    except OSError:
        pass


class Proxy:
    """Copy stdin -> master and master -> stdout until the process is gone."""

    def __init__(self, master):
        self.master = master
        self.saved = None
        self.stdin_open = True

    def __enter__(self):
        import termios
        import tty
        if os.isatty(0):
            _copy_winsize(0, self.master)
            try:
                self.saved = termios.tcgetattr(0)
                tty.setraw(0)
            except termios.error:
                self.saved = None
        return self

    def __exit__(self, *exc):
        import termios
        if self.saved is not None:
            try:
                termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
            except termios.error:
                pass
        return False

    def winch(self):
        if os.isatty(0):
            _copy_winsize(0, self.master)

    def pump(self, timeout):
        """One round of copying; False once the master is closed (the pty hung up)."""
        import select
        fds = [self.master] + ([0] if self.stdin_open else [])
        try:
            r, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return True
        if self.master in r:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            _write_all(1, data)
        if 0 in r:
            try:
                data = os.read(0, 65536)
            except OSError:
                data = b""
            if data:
                _write_all(self.master, data)
            else:
                self.stdin_open = False
        return True

    def drain(self):
        while self.pump(0):
            pass


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return
        view = view[n:]
