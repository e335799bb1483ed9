"""`ocirun pause ID`: freeze every process of the container (v1 freezer, v2 cgroup.freeze)."""

from . import Command
from .. import errors

COMMAND = Command("pause", "pause suspends all processes inside the container",
                  description="Freezes every process of the container (v1 freezer or v2 cgroup.freeze);\n"
                              "`resume` lets them run again.")


def main(ctx, opts, args):
    from .. import cgroups, state
    with ctx.store.load(args[0], lock=True) as c:
        if c.status() not in (state.RUNNING, state.CREATED):
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        cgroups.of_container(c).freeze()
        # Remember what it was: resume puts it back (created stays created).
        c.data["status_before_pause"] = c.data.get("status")
        c.data["status"] = state.PAUSED
        c.save()
    return 0
