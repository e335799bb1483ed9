"""start: release a created container's init blocked on exec.fifo, read
what it reports until its process executes, then run the poststart hooks."""

import os
import stat
import time

from .. import errors, log
from ..linux import SIGKILL
from ..state import CREATED, FIFO, RUNNING, STOPPED
from .kill import kill_container, wait_gone

FIFO_TIMEOUT = 10.0


def start(ctx, cid, c=None):
    """Release a created container's init; then poststart hooks."""
    import select

    own = c is None
    if own:
        c = ctx.store.load(cid, lock=True)
    try:
        status = c.status()
        if status == STOPPED:
            raise errors.OciError(errors.NOT_CREATED)
        if status != CREATED:
            raise errors.OciError(
                "cannot start a container that is %s" % ("already running" if status == RUNNING else status)
            )
        try:
            # the init holds it open for writing: a fifo of ours, 0622
            fd = c.open_record(FIFO, stat.S_IFIFO, others_may_write=True)
        except FileNotFoundError:
            raise errors.OciError("cannot start an already running container") from None
        try:
            if c.data.get("notify"):
                from . import notify

                notify.start(c)
        except BaseException:
            os.close(fd)
            raise
        try:
            # The init opens its end at once; one that cannot (stopped, frozen,
            # stuck) must not hold `start` forever.
            deadline = time.monotonic() + FIFO_TIMEOUT
            while True:
                if time.monotonic() > deadline:
                    raise errors.OciError(
                        "start: the container's init (pid %d) did not open the exec fifo within %g s"
                        % (c.pid, FIFO_TIMEOUT)
                    )
                r, _, _ = select.select([fd], [], [], 0.1)
                got = b""
                if r:
                    try:
                        got = os.read(fd, 1)
                    except BlockingIOError:
                        got = b""
                if got:
                    break
                if not c.init_alive():
                    raise errors.OciError("the container's init exited before start")
                if r:
                    time.sleep(0.001)  # no writer yet: POLLHUP until the init opens
            try:
                os.unlink(c.path(FIFO))
            except FileNotFoundError:
                pass
            c.data["status"] = RUNNING
            c.save()
            log.LOG.debug("start %s: exec fifo opened, init %d goes on to exec", cid, c.pid)
            report = _read_to_eof(fd, c)
        finally:
            os.close(fd)
        # The init writes EXECUTING just before its last steps (seccomp, execve):
        # without it, an EOF is the init dying (killed while a startContainer
        # hook ran), not its process executing.
        executing = report.startswith(EXECUTING)
        if executing:
            report = report[len(EXECUTING) :]
        if report:
            # the init wrote why it could not exec (startContainer hook, seccomp,
            # execve) and exited: the container is stopped, `start` failed
            kill_container(c, SIGKILL)
            wait_gone(c)
            raise start_error(report)
        if not executing:
            # the fifo closes as the init exits, a moment before it is a zombie
            if c.init_alive():
                kill_container(c, SIGKILL)
            wait_gone(c)
            raise errors.OciError("the container's init died before its process executed")
        # Running and saved: the id's lock is not held across poststart hooks.
        c.unlock()
        log.LOG.debug("start %s: process executed", cid)
        post = (c.data.get("hooks") or {}).get("poststart")
        if post:
            from .. import hooks as hookmod

            try:
                hookmod.run_hooks(post, "poststart", hookmod.state_json(c.data, RUNNING, c.pid))
            except errors.OciError:
                # runtime-spec 1.3.0: a failing poststart hook fails `start`; the container is stopped.
                kill_container(c, SIGKILL)
                raise
    finally:
        if own:
            c.close()
    return c


EXECUTING = b"E"  # core/spawn.c: the init's last word on the exec fifo before seccomp and execve


def _read_to_eof(fd, c):
    """The rest of the exec fifo: b"" once the init's write end closes at
    execve. An init that died without closing it (a zombie nobody reaps holds
    nothing, but check) ends the wait too."""
    import select

    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            if not c.init_alive():
                return out
            continue
        try:
            chunk = os.read(fd, 4096)
        except (InterruptedError, BlockingIOError):
            continue
        if not chunk:
            return out
        out += chunk


def start_error(report):
    """The init's record "<errno>\\n<stage>\\n<message>" (core/spawn.c, die_to_start)."""
    parts = report.decode(errors="replace").split("\n", 2)
    if len(parts) == 3 and parts[0].lstrip("-").isdigit():
        return errors.CoreError(int(parts[0]), parts[1], parts[2])
    return errors.OciError("the container's init failed to start: %s" % report.decode(errors="replace").strip())
