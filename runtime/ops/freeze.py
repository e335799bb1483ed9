"""pause and resume: freeze every process of the container (v1 freezer, v2
cgroup.freeze) and thaw it again."""

from .. import cgroups, errors
from ..state import CREATED, PAUSED, RUNNING, STOPPED


def pause(ctx, cid):
    with ctx.store.load(cid, lock=True) as c:
        if c.status() not in (RUNNING, CREATED):
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        cgroups.of_container(c).freeze()
        # Remember what it was: resume puts it back (created stays created).
        c.data["status_before_pause"] = c.data.get("status")
        c.data["status"] = PAUSED
        c.save()


def resume(ctx, cid):
    with ctx.store.load(cid, lock=True) as c:
        st = c.status()
        if st == STOPPED:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        if st != PAUSED:
            raise errors.OciError(errors.CONTAINER_NOT_PAUSED)
        cgroups.of_container(c).thaw()
        c.data["status"] = c.data.pop("status_before_pause", None) or RUNNING
        c.save()
