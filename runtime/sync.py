"""The parent's end of the sync protocol drawn at the top of core/sync.c,
and the registry of the children it talks to.

`Channel` reads and writes `struct ocirun_msg` records over the
SOCK_SEQPACKET socketpair that create and exec share with the setup process
and then the init (or the exec'd process). A WARNING record is logged and
skipped, an ERROR record becomes the CoreError it describes, end-of-file
names the step the child died in.

`REAPED` holds the children already waited for: a pid once reaped may belong
to anyone, so it is never signalled again (`kill_and_reap`, the undo step of
every child spawned).
"""

import os

from . import errors, log
from .linux import SIGKILL


class Channel:
    """The parent's end of the sync socket, reading `struct ocirun_msg` records."""

    def __init__(self, ffi, lib, sock, who):
        self.ffi, self.lib, self.sock = ffi, lib, sock
        self.size = ffi.sizeof("struct ocirun_msg")
        self.who = who  # pid whose death EOF means

    def send(self, mtype, fd=None):
        import _socket as socket

        msg = self.ffi.new("struct ocirun_msg *")
        msg.type = mtype
        data = bytes(self.ffi.buffer(msg))
        anc = []
        if fd is not None:
            import array

            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]).tobytes())]
        try:
            self.sock.sendmsg([data], anc)
            log.LOG.debug("sync: sent %s%s", MSG_NAMES.get(mtype, mtype), " with an fd" if fd is not None else "")
        except OSError as e:
            raise errors.CoreError(e.errno, "sync", "send %s to the container" % MSG_NAMES.get(mtype, mtype)) from None

    def wait(self, want, step):
        """The next record, which must be `want`; returns (msg, fd or None)."""
        import _socket as socket

        while True:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(self.size, socket.CMSG_SPACE(4))
            except InterruptedError:
                continue
            fd = None
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS and len(payload) >= 4:
                    fd = int.from_bytes(payload[:4], "little")
            if not data:
                raise errors.OciError("the container's init exited during %s%s" % (step, self._exit_note()))
            msg = self.ffi.new("struct ocirun_msg *")
            self.ffi.memmove(msg, data, min(len(data), self.size))
            if msg.type == self.lib.OCIRUN_MSG_WARNING:
                log.LOG.warning(self.ffi.string(msg.text).decode(errors="replace"))
                continue
            if msg.type == self.lib.OCIRUN_MSG_ERROR:
                if fd is not None:
                    os.close(fd)
                stage = self.ffi.string(self.lib.ocirun_stage_name(msg.stage)).decode()
                raise errors.CoreError(msg.err_no, stage, self.ffi.string(msg.text).decode(errors="replace"))
            if msg.type != want:
                if fd is not None:
                    os.close(fd)
                raise errors.CoreError(
                    0,
                    "sync",
                    "expected %s during %s, got %s"
                    % (MSG_NAMES.get(want, want), step, MSG_NAMES.get(msg.type, msg.type)),
                )
            log.LOG.debug("sync: received %s (%s)", MSG_NAMES.get(msg.type, msg.type), step)
            return msg, fd

    def _exit_note(self):
        pid = self.who
        if pid is None or pid in REAPED:
            return ""
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return ""
        if got == pid:
            REAPED.add(pid)
            self.who = None
            code = os.waitstatus_to_exitcode(status)
            return " (exit status %d)" % code if code >= 0 else " (killed by signal %d)" % -code
        return ""


MSG_NAMES = {
    1: "GO",
    2: "USERNS",
    3: "MAPS_DONE",
    4: "INIT_PID",
    5: "HOOKS",
    6: "HOOKS_DONE",
    7: "TERMINAL",
    8: "READY",
    9: "ERROR",
    10: "WARNING",
    11: "MOUNT_FD",
    12: "SECCOMP_FD",
}


REAPED = set()  # our children already waited for: their pids may belong to anyone now


def reap(pid):
    if pid in REAPED:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    REAPED.add(pid)


def kill_and_reap(pid):
    """Undo step for a child we spawned; never signals a pid once reaped (reuse)."""
    if pid in REAPED:
        return
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass
    reap(pid)
