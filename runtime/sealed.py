"""Run from a sealed copy of the interpreter before making container processes.

Every process ocirun makes for a container is a fork of this interpreter until
its last execve, and /proc/PID/exe names the interpreter's image: a container
process with CAP_SYS_PTRACE could open it and, once nothing runs it, write to
the host's Python (CVE-2019-5736). Run from a memfd sealed against writes, the
image is not writable by anyone. The launcher hack/install writes
(runtime/core/launcher.c) starts create, run and exec that way; started any
other way (`pip install`'s console script, `python -m runtime`), ensure()
makes the copy and re-executes itself from it. The core refuses to spawn from
an image that is not sealed (spawn.c), so no path skips this.
"""

import os
import sys

_F_ADD_SEALS, _F_GET_SEALS = 1033, 1034
_F_SEAL_SEAL, _F_SEAL_SHRINK, _F_SEAL_GROW, _F_SEAL_WRITE = 1, 2, 4, 8
_WANT = _F_SEAL_SHRINK | _F_SEAL_GROW | _F_SEAL_WRITE
_MFD_CLOEXEC, _MFD_ALLOW_SEALING, _MFD_EXEC = 1, 2, 0x10


def is_sealed():
    """Is this process's image a memfd sealed against writes?"""
    import fcntl

    fd = os.open("/proc/self/exe", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return fcntl.fcntl(fd, _F_GET_SEALS) & _WANT == _WANT
    except OSError:
        return False  # not a memfd
    finally:
        os.close(fd)


def ensure():
    """Return if already sealed; else re-execute this command from a sealed
    copy of the interpreter (does not return). One clear error if it cannot."""
    if is_sealed():
        return
    import fcntl

    from . import errors

    step = "open"
    try:
        src = os.open("/proc/self/exe", os.O_RDONLY | os.O_CLOEXEC)
        step = "memfd_create"
        try:
            fd = os.memfd_create("ocirun-python", _MFD_CLOEXEC | _MFD_ALLOW_SEALING | _MFD_EXEC)
        except OSError:  # a kernel older than MFD_EXEC (6.3)
            fd = os.memfd_create("ocirun-python", _MFD_CLOEXEC | _MFD_ALLOW_SEALING)
        step = "copy"
        left = os.fstat(src).st_size
        while left > 0:
            n = os.sendfile(fd, src, None, left)
            if n <= 0:
                raise OSError(5, "short copy")
            left -= n
        os.close(src)
        step = "seal"
        fcntl.fcntl(fd, _F_ADD_SEALS, _F_SEAL_SEAL | _WANT)
        step = "execve"
        # The same command line; argv[0] stays the interpreter's path, from
        # which Python finds its prefix (and a venv its pyvenv.cfg).
        os.execve("/proc/self/fd/%d" % fd, sys.orig_argv, os.environ)
    except OSError as e:
        raise errors.OciError(
            "cannot run from a sealed copy of the interpreter (%s): %s" % (step, errors.strerror(e.errno))
        ) from None
