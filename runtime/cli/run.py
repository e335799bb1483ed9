"""`ocirun run ID`: create + start, and in the foreground wait and clean up."""

from . import Command, Flag
from .create import CREATE_FLAGS, check_pid_file

COMMAND = Command(
    "run",
    "create and run a container",
    flags=CREATE_FLAGS
    + [
        Flag("detach,d", "bool", help="detach from the container's process"),
        Flag("keep", "bool", help="do not delete the container after it exits"),
        Flag("no-subreaper", "bool", help="do not make ocirun a subreaper (orphans of the container go to init)"),
    ],
    description="The run command creates an instance of a container for a bundle and starts it.\n"
    "In the foreground it exits with the process's status (128+signal if killed).",
)


def main(ctx, opts, args):
    from ..ops.run import run

    check_pid_file(opts.pid_file)
    return run(ctx, args[0], opts)
