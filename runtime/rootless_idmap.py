"""Rootless: the user namespace maps of a container, as an unprivileged user
may write them (rootless.py has the rest of the rootless policy).

- only the caller's own id -> written by the runtime itself (setgroups
  "deny" first for the gid map, as the kernel asks);
- anything else -> newuidmap/newgidmap (Debian's `uidmap`), bounded, with the
  tool's own message on failure. check_maps() (run by rootless.adapt, before
  anything is made) refuses ranges beyond the caller's own id and its
  /etc/subuid, /etc/subgid ranges, with one line naming the mapping.
"""

import os

from . import errors, log

NEWIDMAP_TIMEOUT = 10  # seconds newuidmap/newgidmap may take on a loaded host


def _sub_ranges(path, uid):
    """[(start, count)] of /etc/subuid or /etc/subgid for this user (by name or uid)."""
    import pwd

    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = None
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) != 3 or parts[0] not in (name, str(uid)):
                    continue
                try:
                    out.append((int(parts[1]), int(parts[2])))
                except ValueError:
                    continue
    except OSError:
        pass
    return out


def _own_only(maps, own):
    return (
        isinstance(maps, list)
        and len(maps) == 1
        and int(maps[0].get("hostID", -1)) == own
        and int(maps[0].get("size", 0)) == 1
    )


def check_maps(linux):
    """Each mapping must be the caller's own id (size 1) or inside one of its
    /etc/subuid (/etc/subgid) ranges: one line naming the first that is not."""
    problems = []
    for key, own, sub, tool in (
        ("uidMappings", os.geteuid(), "/etc/subuid", "newuidmap"),
        ("gidMappings", os.getegid(), "/etc/subgid", "newgidmap"),
    ):
        maps = linux.get(key) or []
        if _own_only(maps, own) or not maps:
            continue
        ranges = _sub_ranges(sub, os.geteuid())
        for i, m in enumerate(maps):
            h, n = int(m.get("hostID", 0)), int(m.get("size", 0))
            if (h == own and n == 1) or any(s <= h and h + n <= s + c for s, c in ranges):
                continue
            have = ", ".join("%d-%d" % (s, s + c - 1) for s, c in ranges) or "none"
            problems.append(
                "linux.%s[%d]: rootless: host ids %d-%d are neither the caller's own id %d nor in its "
                "%s ranges (%s)" % (key, i, h, h + n - 1, own, sub, have)
            )
            break
        else:
            import shutil

            if not shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin"):
                problems.append(
                    "linux.%s: rootless: mapping ranges needs `%s` (Debian's uidmap package), which "
                    "is not installed" % (key, tool)
                )
    return problems


def write_maps(pid, uid_maps, gid_maps):
    """The maps of the setup process `pid`'s new user namespace, written as
    an unprivileged user may: its own id directly (setgroups deny first for
    the gid map), anything else through newgidmap/newuidmap."""
    if gid_maps:
        if _own_only(gid_maps, os.getegid()):
            _write_proc(pid, "setgroups", "deny", "linux.gidMappings")
            _write_proc(pid, "gid_map", _map_text(gid_maps), "linux.gidMappings")
        else:
            _newidmap("newgidmap", pid, gid_maps, "linux.gidMappings")
    if uid_maps:
        if _own_only(uid_maps, os.geteuid()):
            _write_proc(pid, "uid_map", _map_text(uid_maps), "linux.uidMappings")
        else:
            _newidmap("newuidmap", pid, uid_maps, "linux.uidMappings")


def _map_text(maps):
    return "".join("%d %d %d\n" % (int(m["containerID"]), int(m["hostID"]), int(m["size"])) for m in maps)


def _write_proc(pid, name, text, field):
    path = "/proc/%d/%s" % (pid, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise errors.CoreError(
            e.errno, "user namespace", "rootless: write %s %r to `%s`" % (field, text.strip(), path)
        ) from None


def _newidmap(tool, pid, maps, field):
    import shutil
    import subprocess

    exe = shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not exe:
        raise errors.CoreError(
            2, "user namespace", "%s: rootless: `%s` (Debian's uidmap package) is not installed" % (field, tool)
        )
    argv = [exe, str(pid)]
    for m in maps:
        argv += [str(int(m["containerID"])), str(int(m["hostID"])), str(int(m["size"]))]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=NEWIDMAP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise errors.CoreError(
            110, "user namespace", "%s: `%s` did not finish in %ds" % (field, tool, NEWIDMAP_TIMEOUT)
        ) from None
    except OSError as e:
        raise errors.CoreError(e.errno, "user namespace", "%s: run `%s`" % (field, exe)) from None
    if r.returncode != 0:
        line = (r.stderr.decode(errors="replace").strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        shown = ", ".join(_map_text(maps).strip().split("\n"))
        raise errors.CoreError(0, "user namespace", "%s `%s`: %s" % (field, shown, line))
    log.LOG.debug("%s: written by %s", field, tool)
