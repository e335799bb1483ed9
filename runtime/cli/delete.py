"""`ocirun delete ID`: remove a stopped (or created, or with --force any) container."""

from . import Command, Flag

COMMAND = Command(
    "delete",
    "delete any resources held by the container often used with detached container",
    flags=[Flag("force,f", "bool", help="forcibly delete the container if it is still running (uses SIGKILL)")],
)


def main(ctx, opts, args):
    from ..ops.delete import delete

    delete(ctx, args[0], force=opts.force)
    return 0
