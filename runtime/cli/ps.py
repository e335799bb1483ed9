"""`ocirun ps ID [ps options]`: the container's processes, as `ps` shows them, or as JSON pids."""

import sys

from .. import errors
from . import Command, Flag

COMMAND = Command(
    "ps",
    "ps displays the processes running inside a container",
    usage="<container-id> [ps options]",
    flags=[Flag("format,f", "str", "table", "table (ps output) or json (a list of pids)", "FORMAT")],
    nargs=(1, None),
    stop_after=1,
    description="ps runs `ps` with the given options (default -ef) and keeps the lines\n"
    "of the container's processes; pids are as the host sees them.",
)


def main(ctx, opts, args):
    from .. import fastjson
    from ..ops import ps

    cid, ps_args = args[0], args[1:] or ["-ef"]
    if opts.format not in ("table", "json"):
        raise errors.UsageError("invalid --format `%s`: want table or json" % opts.format)
    if opts.format == "json":
        sys.stdout.write(fastjson.dumps(ps.pids(ctx, cid), tight=True) + "\n")
        return 0
    sys.stdout.write(ps.table(ctx, cid, ps_args))
    return 0
