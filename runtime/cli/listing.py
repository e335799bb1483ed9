"""`ocirun list`: every container under --root, as a table or JSON."""

import os
import sys

from . import Command, Flag
from .. import errors, fastjson
from ..state import RECOVERY_RECORD

COMMAND = Command("list", "lists containers started by ocirun with the given root", usage="", nargs=(0, 0), flags=[
    Flag("format,f", "str", "table", "select one of: table or json (default: \"table\")", "FORMAT"),
    Flag("quiet,q", "bool", help="display only container IDs"),
])


def _owner(path):
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return ""
    try:
        import pwd
        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return "#%d" % uid


def _unknown(ctx, cid, why):
    """The row of a container whose state cannot be read: listed, never
    hidden (its init and cgroup may still be there; `delete --force` finds
    them by its recovery record), with a warning saying why."""
    ctx.log.warning("container %s: %s: status unknown (`ocirun delete --force %s` removes it)" % (cid, why, cid))
    path = os.path.join(ctx.store.root, cid)
    return {"ociVersion": "", "id": cid, "pid": 0, "status": "unknown", "bundle": "", "rootfs": "", "created": "",
            "owner": _owner(path)}


def main(ctx, opts, args):
    if opts.format not in ("table", "json"):
        raise errors.UsageError("invalid format option %r: want 'table' or 'json'" % opts.format)
    rows = []
    for cid in ctx.store.ids(partial=True):
        try:
            with ctx.store.load(cid) as c:
                st = c.oci_state()
                st["owner"] = _owner(c.dir)
        except errors.StateCorrupt as e:
            st = _unknown(ctx, cid, e)
        except errors.ContainerNotExist:
            if not os.path.isfile(os.path.join(ctx.store.root, cid, RECOVERY_RECORD)):
                continue  # deleted between listdir and load
            st = _unknown(ctx, cid, "its state.json is missing")
        except errors.OciError:
            continue
        rows.append(st)
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
