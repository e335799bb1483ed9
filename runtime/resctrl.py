"""linux.intelRdt through the kernel's resctrl filesystem.

A container gets a resctrl group (a class of service: a directory under the
resctrl mount) named by `closID`, or by the container's id; its schemata
lines (`l3CacheSchema`, `memBwSchema`, `schemata`) are written there and the
init's pid joins its `tasks` before the container starts, so every process of
it inherits the group. `enableMonitoring` adds a monitoring group of the
container's own under the group's `mon_groups`. A group that exists already
(a shared closID) is joined, never rewritten: its schemata must already hold
each line asked for. A group ocirun made is removed at delete.

Without a resctrl mount every use of the field is refused with a line naming
it: the field is never dropped.
"""

import errno
import os

from . import errors

FIELD = "linux.intelRdt"
RESERVED = {"info", "mon_groups", "mon_data", "tasks", "cpus", "cpus_list", "schemata", "mode", "size"}


def mount_point():
    """Where resctrl is mounted (from /proc/self/mountinfo), or None."""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "resctrl":
                    return left.split(" ")[4].replace("\\040", " ")
    except OSError:
        pass
    return None


def _err(field, msg):
    return errors.ConfigError(["%s: %s" % (field, msg)])


def _lines(rdt):
    out = []
    for key in ("l3CacheSchema", "memBwSchema"):
        for line in (rdt.get(key) or "").splitlines():
            if line.strip():
                out.append(line.strip())
    for line in rdt.get("schemata") or ():
        if line.strip():
            out.append(line.strip())
    return out


def plan(rdt, cid, root=None):
    """What create will do for `rdt` (linux.intelRdt): a dict kept in the
    state, or a ConfigError naming the field. Nothing is made here."""
    root = root or mount_point()
    if not root:
        raise _err(
            FIELD, "resctrl is not mounted (mount -t resctrl resctrl /sys/fs/resctrl; Intel RDT or AMD QoS unavailable)"
        )
    name = rdt.get("closID") or cid
    field = FIELD + (".closID" if rdt.get("closID") else "")
    if "/" in name or name in (".", "..") or name in RESERVED or "\0" in name:
        raise _err(field, "%r cannot name a resctrl group" % name)
    mon = bool(rdt.get("enableMonitoring"))
    if (
        mon
        and not os.path.isdir(os.path.join(root, "info", "L3_MON"))
        and not os.path.isdir(os.path.join(root, "info", "MB_MON"))
    ):
        raise _err(FIELD + ".enableMonitoring", "resctrl has no monitoring on this host (no info/L3_MON)")
    return {
        "group": os.path.join(root, name),
        "lines": _lines(rdt),
        "monitor": cid if mon else None,
        "created": False,
        "mon_created": False,
    }


def _write(path, text, field):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise errors.CoreError(e.errno, "intelRdt", "%s: write %r to `%s`" % (field, text.strip(), path)) from None


def _read(path):
    with open(path) as f:
        return f.read()


def apply(st, pid):
    """Make (or join) the group, write its schemata, move `pid` in. `st` is
    updated with what was created, for remove()."""
    group = st["group"]
    try:
        os.mkdir(group, 0o755)
        st["created"] = True
    except FileExistsError:
        pass
    except OSError as e:
        raise errors.CoreError(e.errno, "intelRdt", "%s: make the resctrl group `%s`" % (FIELD, group)) from None
    if st["created"]:
        for line in st["lines"]:  # one line per write: the kernel names the bad one
            _write(os.path.join(group, "schemata"), line + "\n", FIELD)
    elif st["lines"]:
        have = {_norm(x) for x in _read(os.path.join(group, "schemata")).splitlines()}
        for line in st["lines"]:
            if _norm(line) not in have:
                raise errors.CoreError(
                    0,
                    "intelRdt",
                    "%s.closID: the existing group `%s` has other schemata than %r" % (FIELD, group, line),
                )
    _write(os.path.join(group, "tasks"), "%d\n" % pid, FIELD)
    if st["monitor"]:
        mon = os.path.join(group, "mon_groups", st["monitor"])
        try:
            os.mkdir(mon, 0o755)
            st["mon_created"] = True
        except OSError as e:
            raise errors.CoreError(e.errno, "intelRdt", "%s.enableMonitoring: make `%s`" % (FIELD, mon)) from None
        _write(os.path.join(mon, "tasks"), "%d\n" % pid, FIELD + ".enableMonitoring")


def _norm(line):
    return "".join(line.split()).lower()


def remove(st):
    """Remove what apply() made (a group already there stays)."""
    if not st:
        return
    paths = []
    if st.get("mon_created"):
        paths.append(os.path.join(st["group"], "mon_groups", st["monitor"]))
    if st.get("created"):
        paths.append(st["group"])
    for p in paths:
        try:
            os.rmdir(p)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise errors.OciError("remove resctrl group `%s`: %s" % (p, errors.strerror(e.errno))) from None
