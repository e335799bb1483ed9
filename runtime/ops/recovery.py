"""recovery.json, beside state.json: the init (pid and start time) and the
cgroup, written first by create and read by `delete --force` when state.json
is corrupt or gone (state.py)."""

import time

from .. import errors, log
from ..linux import SIGKILL
from .kill import manager, signal_init, wait_gone


def write_recovery(c, pid, start, cgroup):
    """recovery.json (state.py): the init and the cgroup, for delete --force
    when state.json cannot be read; same atomic 0600 write as state.json."""
    from .. import fastjson
    from ..state import RECOVERY_RECORD

    c.write_record(RECOVERY_RECORD, fastjson.dumps({"pid": pid, "init_start": start, "cgroup": cgroup}).encode())


class Unrecovered(errors.OciError):
    """delete --force found something of a broken container it could not
    remove (or nothing to find it by): never an exit 0."""


def recover_broken(c, why):
    try:
        _recover_from_record(c, why)
    except errors.OciError as e:
        raise Unrecovered(e.lines[0], lines=e.lines) from None


def _recover_from_record(c, why):
    """delete --force of a container whose state.json is corrupt (`why` a
    StateCorrupt) or gone (ContainerNotExist): find its init and cgroup from
    recovery.json, kill the init, remove the cgroup (killing whatever is left
    in it). Returns once nothing of it runs; otherwise one line, and the
    caller keeps the state directory.

    runc refuses to delete a container whose state it cannot read, and keeps
    it; we do the same when there is nothing trustworthy to find the
    processes by. A directory with neither file is a create killed before its
    first write: nothing of it was made, it just goes."""
    from .. import fastjson
    from ..state import RECOVERY_RECORD

    path = c.path(RECOVERY_RECORD)
    kept = "; the state `%s` is kept" % c.dir
    try:
        raw = c.read(RECOVERY_RECORD)
    except errors.StateCorrupt as e:
        reason = str(e).rsplit(": ", 1)[-1]
        raise errors.OciError(
            "cannot delete container %s: its recovery record `%s` is not to be trusted (%s): "
            "its pid and cgroup are not used%s" % (c.id, path, reason, kept)
        ) from None
    except OSError as e:
        raise errors.OciError(
            "cannot delete container %s: recovery record `%s`: %s%s" % (c.id, path, errors.strerror(e.errno), kept)
        ) from None
    if raw is None:
        if isinstance(why, errors.ContainerNotExist):
            return
        raise errors.OciError(
            "cannot delete container %s: %s, and its recovery record `%s` is missing: its init "
            "and cgroup cannot be found%s" % (c.id, why, path, kept)
        )
    try:
        rec = fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        rec = e
    pid = rec.get("pid") if isinstance(rec, dict) else None
    start = rec.get("init_start") if isinstance(rec, dict) else None
    cgroup = rec.get("cgroup") if isinstance(rec, dict) else None
    if (
        type(pid) is not int
        or pid < 0
        or (start is not None and type(start) is not int)
        or (cgroup is not None and not isinstance(cgroup, dict))
    ):
        detail = rec if isinstance(rec, ValueError) else "want {pid, init_start, cgroup}"
        raise errors.OciError(
            "cannot delete container %s: recovery record `%s` is unreadable (%s): its init and "
            "cgroup cannot be found%s" % (c.id, path, detail, kept)
        )
    log.LOG.warning("container %s: %s; using its recovery record (init pid %d)" % (c.id, why, pid))
    # the Container gets what it needs for init_alive() and manager(): an
    # init recorded without its start time is never signalled (pid reuse)
    c.data = {"pid": pid if start is not None else 0, "init_start": start, "cgroup": cgroup}
    from ..cgroups.fs import REMOVE_TIMEOUT

    deadline = time.monotonic() + REMOVE_TIMEOUT
    try:
        mgr = manager(c)
    except (errors.OciError, LookupError, TypeError, ValueError) as e:
        raise errors.OciError(
            "cannot delete container %s: recovery record `%s`: cgroup: %s%s" % (c.id, path, e, kept)
        ) from None
    if c.init_alive():
        if mgr is not None:
            try:
                mgr.thaw()  # a paused container's init dies only once thawed
            except Exception:
                pass
        signal_init(c, SIGKILL)
        if not wait_gone(c, deadline=deadline):
            raise errors.OciError(
                "container init still running: pid %d did not die within %gs of SIGKILL "
                "(frozen or in uninterruptible sleep?)%s" % (c.pid, REMOVE_TIMEOUT, kept)
            )
    if mgr is not None:
        mgr.destroy(deadline)
