"""Where the cgroup hierarchies are, read from the kernel rather than assumed.

/proc/self/mountinfo says which hierarchies are mounted where (and which part
of each hierarchy the mount shows: its root); /proc/self/cgroup says which
cgroup this process is in, in each hierarchy. Together they give:

    v1      only "cgroup" mounts with controllers
    v2      one "cgroup2" mount and no v1 controllers
    hybrid  v1 controllers plus a cgroup2 mount (systemd's "unified"), which
            may itself carry controllers (hugetlb, on some machines)
"""

from .. import errors

# v1 controllers a container may be placed in. Named hierarchies
# (name=systemd) are joined too, so tools that track processes there keep working.
from ..linux import V1_CONTROLLERS


class Hierarchy:
    """One mounted hierarchy: what it controls, where it is, and our place in it."""

    __slots__ = ("version", "controllers", "mountpoint", "root", "own")

    def __init__(self, version, controllers, mountpoint, root, own="/"):
        self.version = version  # 1 or 2
        self.controllers = tuple(controllers)
        self.mountpoint = mountpoint
        self.root = root  # the part of the hierarchy the mount shows
        self.own = own  # this process's cgroup, as /proc/self/cgroup names it

    def __repr__(self):
        return "Hierarchy(v%d %s at %s)" % (self.version, ",".join(self.controllers), self.mountpoint)

    def dir_for(self, path):
        """The host directory of hierarchy path `path` (absolute, as /proc/PID/cgroup shows it)."""
        # A mount may show only a subtree (a bind mount, a cgroup namespace):
        # a path inside that subtree is reached under the mountpoint without its prefix.
        root = self.root.rstrip("/")
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        return self.mountpoint.rstrip("/") + (path if path != "/" else "")


class Layout:
    def __init__(self, v1, v2):
        self.v1 = v1  # list of Hierarchy (version 1), controllers or name=…
        self.v2 = v2  # Hierarchy (version 2) or None
        if any(c in V1_CONTROLLERS for h in v1 for c in h.controllers):
            self.kind = "hybrid" if v2 is not None else "v1"
        elif v2 is not None:
            self.kind = "v2"
            self.v1 = []  # named v1 hierarchies alone do not make a v1 layout
        else:
            raise errors.OciError("no cgroup hierarchy is mounted (see /proc/self/mountinfo)")

    def v1_for(self, controller):
        for h in self.v1:
            if controller in h.controllers:
                return h
        return None


def unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text):
    """[(fstype, root, mountpoint, superoptions)] for cgroup and cgroup2 mounts."""
    found = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        fstype = fields[sep + 1]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        superopts = fields[sep + 3] if len(fields) > sep + 3 else ""
        found.append((fstype, unescape(fields[3]), unescape(fields[4]), superopts.split(",")))
    return found


def parse_proc_cgroup(text):
    """{controller: path} from /proc/PID/cgroup; the v2 entry's key is ""."""
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if not ctrls:
            own[""] = path
        for c in ctrls.split(","):
            if c:
                own[c] = path
    return own


def detect(host, mountinfo="/proc/self/mountinfo", proc_cgroup="/proc/self/cgroup"):
    mounts = parse_mountinfo(host.read(mountinfo).decode("utf-8", "surrogateescape"))
    own = parse_proc_cgroup(host.read(proc_cgroup).decode("utf-8", "surrogateescape"))
    v1, v2, seen = [], None, set()
    for fstype, root, mountpoint, opts in mounts:
        if fstype == "cgroup2":
            # The first mount wins: later ones are bind mounts of the same tree.
            if v2 is None:
                v2 = Hierarchy(2, (), mountpoint, root, own.get("", "/"))
            continue
        ctrls = tuple(o for o in opts if o in V1_CONTROLLERS or o.startswith("name="))
        if not ctrls or ctrls in seen:
            continue
        seen.add(ctrls)
        v1.append(Hierarchy(1, ctrls, mountpoint, root, own.get(ctrls[0], "/")))
    return Layout(v1, v2)
