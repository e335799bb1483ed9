"""The seam for syscalls that Python issues.

The state store (state.py) and the cgroup managers (cgroups/) get a Host
rather than calling `os` directly, so unit tests can hand them a recording
fake (tests/fakes.py) and integration tests the real kernel. The operations
(ops/) call `os` directly for their process and fd work (spawn, pidfds,
signals, fifos, sockets), tested with real containers; their unwinding is
unit tested with stand-ins (tests/unit/test_ops_unwind.py). Only the calls
the runtime needs are here; add one when a module needs it.
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
        fields = data[data.rindex(b")") + 2 :].split()
        return fields[0].decode(), int(fields[19])

    def flock(self, fd, exclusive=True, blocking=True):
        op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if not blocking:
            op |= fcntl.LOCK_NB
        fcntl.flock(fd, op)

    # -- for runtime/cgroups ------------------------------------------------
    def isdir(self, path):
        return os.path.isdir(path) and not os.path.islink(path)

    def subdirs(self, path):
        """Names of the directories in `path` (symlinks are not): from the
        entries' d_type, with no stat per entry (a cgroup directory has
        dozens of files, listed on every create and delete)."""
        with os.scandir(path) as it:
            return [e.name for e in it if e.is_dir(follow_symlinks=False)]

    def attach_device_filter(self, cgroup_dir, rules):
        """Replace the cgroup2 directory's device eBPF program by one built from rules.

        rules: objects with allow, type ('a', 'b', 'c'), major, minor (-1: any)
        and access (a subset of "rwm"). Raises OSError naming the failed step.
        """
        from .core import load

        ffi, lib = load()
        arr = ffi.new("struct ocirun_dev_rule[]", max(len(rules), 1))
        for i, r in enumerate(rules):
            arr[i].type = ord(r.type)
            arr[i].allow = 1 if r.allow else 0
            arr[i].major = r.major
            arr[i].minor = r.minor
            arr[i].access = (
                (1 if "m" in r.access else 0) | (2 if "r" in r.access else 0) | (4 if "w" in r.access else 0)
            )
        err = ffi.new("struct ocirun_error *")
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            rc = lib.ocirun_devices_attach(fd, arr, len(rules), err)
        finally:
            os.close(fd)
        if rc < 0:
            raise OSError(err.err_no, ffi.string(err.msg).decode("utf-8", "replace"), cgroup_dir)

    def eventfd_oom(self, cgroup_dir):
        """An eventfd that counts OOM events of a v1 memory cgroup (memory.oom_control)."""
        efd = os.eventfd(0, os.EFD_CLOEXEC)
        try:
            ofd = os.open(cgroup_dir + "/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            try:
                self.write(cgroup_dir + "/cgroup.event_control", b"%d %d" % (efd, ofd))
            finally:
                os.close(ofd)
        except BaseException:
            os.close(efd)
            raise
        return efd


LINUX = LinuxHost()
