"""The container's terminal on the parent side.

With --console-socket the pty master goes to the engine as the only fd of one
sendmsg (conmon and containerd reject anything else). Without one, a
foreground `run` proxies its own terminal: raw mode, both directions, window
size kept in sync, restored on exit.
"""

import _socket as socket
import os

from . import errors

# Bounds on a peer: connecting (a listener that never accepts and whose
# backlog is full) and sending; the proxy's output copy gives up on a peer
# that takes nothing for OUTPUT_STALL seconds.
CONNECT_TIMEOUT = 5.0
OUTPUT_STALL = 10.0
DRAIN_TIMEOUT = 10.0


def connect_unix(path, what):
    """A SOCK_STREAM connection to `path` whose connect and sends are bounded
    (CONNECT_TIMEOUT); one clear line naming `what` when the peer is stuck."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    bound_sends(s)
    try:
        s.connect(path)
    except (TimeoutError, BlockingIOError):
        s.close()
        raise errors.OciError(
            "connect to %s `%s`: the peer did not accept within %g s" % (what, path, CONNECT_TIMEOUT)
        ) from None
    except OSError as e:
        s.close()
        raise errors.OciError("connect to %s `%s`: %s" % (what, path, errors.strerror(e.errno))) from None
    return s


def bound_sends(s):
    """SO_SNDTIMEO on a blocking AF_UNIX socket bounds both a connect to a
    listener whose backlog is full and a send to a peer that never reads
    (each then fails with EAGAIN)."""
    import struct

    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(CONNECT_TIMEOUT), 0))


def connect_console(path):
    return connect_unix(path, "console socket")


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
        sock.sendmsg(
            [_pty_name(master).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]).tobytes())]
        )
    except (TimeoutError, BlockingIOError):
        raise errors.OciError(
            "send the pty master over the console socket: the peer took nothing within %g s" % CONNECT_TIMEOUT
        ) from None
    except OSError as e:
        raise errors.OciError("send the pty master over the console socket: %s" % errors.strerror(e.errno)) from None


def send_pidfd(sock, pid, what="pidfd socket"):
    """--pidfd-socket: a pidfd of `pid` as the only fd of one sendmsg, as
    with the console socket (the payload names it)."""
    import array

    try:
        fd = os.pidfd_open(pid)
    except OSError as e:
        raise errors.OciError(
            "open a pidfd of process %d for the %s: %s" % (pid, what, errors.strerror(e.errno))
        ) from None
    try:
        sock.sendmsg([b"pidfd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]).tobytes())])
    except (TimeoutError, BlockingIOError):
        raise errors.OciError(
            "send a pidfd over the %s: the peer took nothing within %g s" % (what, CONNECT_TIMEOUT)
        ) from None
    except OSError as e:
        raise errors.OciError("send a pidfd over the %s: %s" % (what, errors.strerror(e.errno))) from None
    finally:
        os.close(fd)


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
        raise errors.OciError(
            "set process.consoleSize %dx%d on the pty: %s" % (rows, cols, errors.strerror(e.errno))
        ) from None


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
        self.out_open = True

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
            if self.out_open and not _write_all(1, data):
                # Keep reading the pty (so the process can go on and end) but drop its output.
                self.out_open = False
                os.write(
                    2,
                    b"ocirun: the terminal's output (stdout) took nothing for %g s; "
                    b"the process's output is dropped from here\n" % OUTPUT_STALL,
                )
        if 0 in r:
            try:
                data = os.read(0, 65536)
            except OSError:
                data = b""
            if data and not _write_all(self.master, data):
                self.stdin_open = False
            else:
                self.stdin_open = False
        return True

    def drain(self):
        """What the pty still holds once the process is gone; bounded, since a
        process left behind in the container may go on writing."""
        import time

        self.stdin_open = False
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.pump(0) and time.monotonic() < deadline:
            pass


def _write_all(fd, data, stall=OUTPUT_STALL):
    """Write data to fd; False when fd took nothing for `stall` seconds (its
    reader stopped). Small chunks once select says writable, so a blocking
    fd is not blocked on for long."""
    import select

    view = memoryview(data)
    while view:
        try:
            _, w, _ = select.select([], [fd], [], stall)
        except InterruptedError:
            continue
        except (OSError, ValueError):
            return True
        if not w:
            return False
        try:
            n = os.write(fd, view[:512])
        except (InterruptedError, BlockingIOError):
            continue
        except OSError:
            return True
        view = view[n:]
    return True
