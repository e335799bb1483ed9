"""delete: kill what is left of a container, remove its cgroup, run the
poststop hooks, remove its state; with --force, a container whose state is
broken is found by its recovery record (recovery.py)."""

import time

from .. import errors, log
from ..linux import SIGKILL
from ..state import CREATED, PAUSED, RUNNING, STOPPED
from .kill import manager, signal_init, wait_gone
from .recovery import Unrecovered, recover_broken


def delete(ctx, cid, force=False):
    """Remove a container: kill what is left, remove its cgroup, run poststop
    hooks, remove its state. Killing and removing share ONE deadline
    (cgroups.fs.REMOVE_TIMEOUT): an init that cannot die (frozen in someone
    else's freezer, stuck in D state) or a process that will not leave the
    cgroup fails delete with one line naming it, and the state stays so a
    later delete can try again."""
    if force:
        # As `kill`, without the lock: a command holding it (a `start` whose
        # startContainer hook never ends) lets go once the init is dead.
        try:
            with ctx.store.load(cid) as c:
                if c.status() in (CREATED, RUNNING, PAUSED):
                    signal_init(c, SIGKILL)
        except errors.OciError:
            pass  # the locked load below says what is wrong
    try:
        c = ctx.store.load(cid, lock=True)
    except (errors.ContainerNotExist, errors.StateCorrupt) as e:
        if not force:
            raise
        # Under the id's lock: removes only a directory without a readable
        # state.json; one made again meanwhile (a new container) stays.
        try:
            ctx.store.remove_broken(cid, recover=recover_broken)
        except errors.ContainerNotExist:
            pass
        except errors.OciError as err:
            if isinstance(e, errors.StateCorrupt) or isinstance(err, Unrecovered):
                raise
        return
    try:
        from ..cgroups.fs import REMOVE_TIMEOUT

        deadline = time.monotonic() + REMOVE_TIMEOUT
        handed = getattr(ctx, "door_deadline", None)
        if handed is not None:
            # the C door waited first and handed over: what is left of ITS bound
            deadline = min(deadline, handed)
        status = c.status()
        if status in (RUNNING, PAUSED) and not force:
            raise errors.OciError(errors.CONTAINER_NOT_STOPPED % (cid, status))
        mgr = manager(c)
        if status != STOPPED:
            if status == PAUSED and mgr is not None:
                try:
                    mgr.thaw()
                except Exception:
                    pass
            if mgr is not None:
                # a cgroup the container froze below its own holds the init's
                # exit (its pid namespace waits for the frozen task to die)
                from ..cgroups.fs import thaw_nested

                try:
                    thaw_nested(mgr)
                except Exception:
                    pass
            # through a pidfd verified against the recorded start time: the
            # pid may name another process by now (never a plain kill)
            signal_init(c, SIGKILL)
            if not wait_gone(c, deadline=deadline):
                left = ""
                if mgr is not None:
                    try:
                        left = "; in its cgroup: pids %s" % " ".join(map(str, mgr.pids()))
                    except Exception:
                        pass
                raise errors.OciError(
                    "container init still running: pid %d did not die within %gs of SIGKILL "
                    "(frozen or in uninterruptible sleep?)%s" % (c.pid, REMOVE_TIMEOUT, left)
                )
        if mgr is not None:
            # Whatever is left in the cgroup goes with it (kill --all; without
            # a pid namespace the init's death does not take the rest along).
            mgr.destroy(deadline)
        if c.data.get("resctrl"):
            from .. import resctrl

            resctrl.remove(c.data["resctrl"])
        post = (c.data.get("hooks") or {}).get("poststop")
        if post:
            from .. import hooks as hookmod

            state = hookmod.state_json(c.data, STOPPED, 0)
            for h in post:
                # config.md: a failing poststop hook is a warning; the rest still run
                try:
                    hookmod.run_hook(h, "poststop", state)
                except errors.OciError as e:
                    log.LOG.warning(str(e))
        c.destroy()
        log.LOG.debug("delete %s: state, cgroup and processes removed", cid)
    finally:
        c.close()
