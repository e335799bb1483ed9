"""kill: a signal to the container's init, or with --all to every process
of its cgroup; and the helpers every operation uses to stop a container
(the manager of its recorded cgroup, a signal through a pidfd, the wait for
its init to be gone)."""

import os
import time

from .. import errors, log
from ..linux import SIGKILL
from ..state import CREATING, STOPPED


def manager(c):
    d = c.data.get("cgroup")
    if not d:
        return None
    from .. import cgroups

    return cgroups.from_dict(d)


def kill_container(c, sig, all_procs=False):
    if all_procs:
        mgr = manager(c)
        if mgr is not None:
            mgr.kill_all(sig)
            return
    signal_init(c, sig)


def kill(ctx, cid, sig, all_procs=False):
    with ctx.store.load(cid) as c:
        status = c.status()
        if status == STOPPED or status == CREATING:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        if sig == 0:  # as runc: 0 only asks whether the init is there, and it is
            return
        log.LOG.debug("kill %s: signal %d to init %d%s", cid, sig, c.pid, " and all its cgroup" if all_procs else "")
        kill_container(c, sig, all_procs)


def wait_gone(c, timeout=5.0, deadline=None):
    if deadline is None:
        deadline = time.monotonic() + timeout
    while c.init_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def signal_init(c, sig):
    """sig to the init through a pidfd, once that pidfd is known to be the
    recorded init (its start time): never to a pid reused meanwhile."""
    import _signal as signal

    try:
        pidfd = os.pidfd_open(c.pid)
    except ProcessLookupError:
        return
    try:
        if c.init_alive():
            try:
                signal.pidfd_send_signal(pidfd, sig)
            except ProcessLookupError:
                pass
    finally:
        os.close(pidfd)


def kill_cgroup(mgr):
    try:
        mgr.kill_all(SIGKILL)
    except Exception:
        pass
