"""`ocirun resume ID`: thaw a paused container."""

from . import Command

COMMAND = Command(
    "resume",
    "resumes all processes that have been previously paused",
    description="Thaws the processes of a container that `pause` froze.",
)


def main(ctx, opts, args):
    from ..ops import freeze

    freeze.resume(ctx, args[0])
    return 0
