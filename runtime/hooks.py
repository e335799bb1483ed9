"""Hooks that run in the runtime's namespaces: prestart, createRuntime,
poststart, poststop (createContainer and startContainer run inside the
container, from the C core: runtime/core/hooks.c).

Each hook gets the container's state JSON on stdin, its own args and env,
and is killed when its timeout expires. `run_hooks` raises OciError on the
first failure; callers decide whether that is fatal (it is for all but
poststop, which only warns).
"""

import fcntl
import os
import select
import time

from . import errors, fastjson, log
from .linux import SIGKILL

# The bound of a hook that sets no timeout, in seconds (core/hooks.h
# OCIRUN_HOOK_DEFAULT_TIMEOUT is the same). The spec gives such a hook none;
# ocirun never waits forever: far beyond what a hook takes in normal use.
DEFAULT_TIMEOUT = 600


def state(data, status, pid):
    """The container's state (runtime.md#state) as hooks and seccomp agents get it."""
    st = {
        "ociVersion": data.get("ociVersion", ""),
        "id": data.get("id", ""),
        "status": status,
        "pid": pid,
        "bundle": data.get("bundle", ""),
    }
    if data.get("annotations"):
        st["annotations"] = data["annotations"]
    return st


def state_json(data, status, pid):
    return fastjson.dumps(state(data, status, pid)).encode()


def run_hooks(hooks, which, state):
    for h in hooks or []:
        run_hook(h, which, state)


def run_hook(h, which, state):
    """Run one hook; its timeout (DEFAULT_TIMEOUT when it sets none) bounds
    everything, writing its stdin included: a hook that does not read a state
    larger than the pipe buffer is still killed in time. It runs in a session
    of its own, and on expiry its whole process group is killed."""
    import subprocess

    path = h["path"]
    args = list(h.get("args") or [path])
    env = list(h.get("env") or [])
    timeout = h.get("timeout")
    envd = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    log.LOG.debug("%s hook `%s`", which, path)
    try:
        proc = subprocess.Popen(
            args, executable=path, env=envd, stdin=subprocess.PIPE, close_fds=True, bufsize=0, start_new_session=True
        )
    except OSError as e:
        raise errors.OciError("%s hook `%s`: %s" % (which, path, errors.strerror(e.errno))) from None
    bound = timeout if timeout else DEFAULT_TIMEOUT
    deadline = time.monotonic() + bound
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError as e:
        _kill_group(proc)
        raise errors.OciError("%s hook `%s`: pidfd_open: %s" % (which, path, errors.strerror(e.errno))) from None
    try:
        in_time = _feed(proc.stdin.fileno(), state, pidfd, deadline)
        if in_time:
            _close_quietly(proc.stdin)  # EOF: a hook may read stdin to its end before it acts
            in_time = _wait_exit(pidfd, deadline)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        os.close(pidfd)
    if not in_time:
        _kill_group(proc)
        if timeout:
            raise errors.OciError("%s hook `%s` timed out after %d s" % (which, path, timeout))
        raise errors.OciError(
            "%s hook `%s` timed out after %d s (the default bound: the hook sets no timeout)" % (which, path, bound)
        )
    _close_quietly(proc.stdin)
    rc = proc.wait()
    if rc != 0:
        if rc < 0:
            raise errors.OciError("%s hook `%s` killed by signal %d" % (which, path, -rc))
        raise errors.OciError("%s hook `%s` exited with status %d" % (which, path, rc))


def _close_quietly(f):
    try:
        f.close()
    except BrokenPipeError:  # a hook need not read its stdin
        pass


def _kill_group(proc):
    """SIGKILL the hook's process group (its session: whatever it started) and reap it."""
    try:
        os.killpg(proc.pid, SIGKILL)
    except ProcessLookupError:
        pass
    _close_quietly(proc.stdin)
    proc.wait()


def _remaining(deadline):
    """poll's timeout in ms until deadline; 0 once it has passed."""
    left = deadline - time.monotonic()
    return int(left * 1000) + 1 if left > 0 else 0


def _feed(fd, data, pidfd, deadline):
    """Write data to the hook's stdin without blocking past deadline. A hook
    need not read it: stops quietly when the hook closes the pipe (EPIPE) or
    exits (its children may keep the pipe open). False if the deadline passed."""
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.register(pidfd, select.POLLIN)
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:
            pass
        except BrokenPipeError:
            return True
        ms = _remaining(deadline)
        if ms == 0:
            return False
        if dict(poller.poll(ms)).get(pidfd):
            return True  # it exited without reading it all
    return True


def _wait_exit(pidfd, deadline):
    """True once the hook has exited, False if the deadline passed first."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    while True:
        if poller.poll(_remaining(deadline)):
            return True
        if time.monotonic() >= deadline:
            return False


def memfd_with(data):
    """A sealed in-memory file holding `data` (stdin of the core's hooks).
    The init keeps it until the startContainer hooks, in the container's pid
    namespace: a container process with CAP_SYS_PTRACE can reopen it through
    /proc/1/fd/N, but never change what a hook reads (no write, no resize)."""
    fd = os.memfd_create("ocirun-state", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        fcntl.fcntl(
            fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
        )
    except BaseException:
        os.close(fd)
        raise
    return fd
