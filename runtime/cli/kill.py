"""`ocirun kill ID [SIGNAL]`: signal the init (or, with --all, every process)."""

from . import Command, Flag

COMMAND = Command(
    "kill",
    "kill sends the specified signal (default: SIGTERM) to the container's init process",
    usage="<container-id> [signal]",
    nargs=(1, 2),
    flags=[Flag("all,a", "bool", help="send the signal to all processes in the container")],
)


def main(ctx, opts, args):
    from ..linux import SIGTERM, parse_signal
    from ..ops.kill import kill

    sig = parse_signal(args[1]) if len(args) > 1 else SIGTERM
    kill(ctx, args[0], sig, all_procs=opts.all)
    return 0
