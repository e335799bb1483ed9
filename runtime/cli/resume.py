"""`ocirun resume ID`: thaw a paused container."""

from . import Command
from .. import errors

COMMAND = Command("resume", "resumes all processes that have been previously paused",
                  description="Thaws the processes of a container that `pause` froze.")

CONTAINER_NOT_PAUSED = errors.CONTAINER_NOT_PAUSED


def main(ctx, opts, args):
    from .. import cgroups, state
    with ctx.store.load(args[0], lock=True) as c:
        st = c.status()
        if st == state.STOPPED:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        if st != state.PAUSED:
            raise errors.OciError(CONTAINER_NOT_PAUSED)
        cgroups.of_container(c).thaw()
        c.data["status"] = c.data.pop("status_before_pause", None) or state.RUNNING
        c.save()
    return 0
