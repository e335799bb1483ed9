"""`ocirun pause ID`: freeze every process of the container (v1 freezer, v2 cgroup.freeze)."""

from . import Command

COMMAND = Command(
    "pause",
    "pause suspends all processes inside the container",
    description="Freezes every process of the container (v1 freezer or v2 cgroup.freeze);\n"
    "`resume` lets them run again.",
)


def main(ctx, opts, args):
    from ..ops import freeze

    freeze.pause(ctx, args[0])
    return 0
