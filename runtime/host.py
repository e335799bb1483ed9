"""The seam for syscalls that Python issues.

Logic that touches the host (state store, cgroup managers, lifecycle) gets a
Host rather than calling `os` directly, so unit tests can hand it a recording
fake (tests/fakes.py) and integration tests the real kernel. Only the calls the
runtime needs are here; add one when a module needs it.
"""

import fcntl
import os


class LinuxHost:
    """The real kernel."""

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def write(self, path, data, create=False):
        flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_CREAT | os.O_TRUNC if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def mkdir(self, path, mode=0o755):
        os.mkdir(path, mode)

    def rmdir(self, path):
        os.rmdir(path)

    def listdir(self, path):
        return os.listdir(path)

    def exists(self, path):
        return os.path.exists(path)

    def kill(self, pid, sig):
        os.kill(pid, sig)

    def proc_stat(self, pid):
        """(state letter, start time in clock ticks) of a pid, or None if it is gone."""
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                data = f.read()
        except (FileNotFoundError, ProcessLookupError):
            return None
        # comm may hold spaces and parentheses: split after the last ')'.
        fields = data[data.rindex(b")") + 2:].split()
        return fields[0].decode(), int(fields[19])

    def flock(self, fd, exclusive=True, blocking=True):
        op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if not blocking:
            op |= fcntl.LOCK_NB
        fcntl.flock(fd, op)


LINUX = LinuxHost()
