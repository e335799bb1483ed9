"""list: the state of every container under --root; one whose state cannot
be read is listed as `unknown`, with a warning, never hidden."""

import os

from .. import errors
from ..state import RECOVERY_RECORD


def containers(ctx):
    """The state (runtime.md#state, with runc's created and owner) of each container."""
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
    return rows


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
    return {
        "ociVersion": "",
        "id": cid,
        "pid": 0,
        "status": "unknown",
        "bundle": "",
        "rootfs": "",
        "created": "",
        "owner": _owner(path),
    }
