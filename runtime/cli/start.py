"""`ocirun start ID`: run the user's process in a created container."""

from . import Command

COMMAND = Command("start", "executes the user defined process in a created container")


def main(ctx, opts, args):
    from ..ops.start import start

    start(ctx, args[0])
    return 0
