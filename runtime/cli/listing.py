"""`ocirun list`: every container under --root, as a table or JSON."""

import sys

from .. import errors, fastjson
from . import Command, Flag

COMMAND = Command(
    "list",
    "lists containers started by ocirun with the given root",
    usage="",
    nargs=(0, 0),
    flags=[
        Flag("format,f", "str", "table", 'select one of: table or json (default: "table")', "FORMAT"),
        Flag("quiet,q", "bool", help="display only container IDs"),
    ],
)


def main(ctx, opts, args):
    if opts.format not in ("table", "json"):
        raise errors.UsageError("invalid format option %r: want 'table' or 'json'" % opts.format)
    from ..ops.listing import containers

    rows = containers(ctx)
    if opts.quiet:
        for st in rows:
            sys.stdout.write(st["id"] + "\n")
        return 0
    if opts.format == "json":
        sys.stdout.write(fastjson.dumps(rows if rows else None) + "\n")
        return 0
    table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    table += [(st["id"], str(st["pid"]), st["status"], st["bundle"], st["created"], st["owner"]) for st in rows]
    # runc's tabwriter: each column at least 12 wide, 3 spaces of padding.
    widths = [max(12, max(len(r[i]) for r in table) + 3) for i in range(6)]
    for r in table:
        sys.stdout.write("".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + r[-1] + "\n")
    return 0
