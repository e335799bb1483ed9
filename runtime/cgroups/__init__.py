"""Cgroups: one interface, one manager per hierarchy kind.

    kind = check_driver(gopts.cgroup_manager, gopts.systemd_cgroup)
    m = open_manager(cid, spec["linux"], kind)          # None: disabled
    state.data["cgroup"] = m.to_dict(); state.save()   # BEFORE create: lists what create will make
    m.create(); m.join(pid); m.apply(spec["linux"].get("resources") or {})
    ...                                                 # on failure: kill the pids, then m.destroy()
    m = from_dict(state.data["cgroup"])                 # later commands (or of_container(c))
    m.kill_all(9); m.destroy()

The layout (v1, v2 or hybrid) is detected from /proc/self/mountinfo and
/proc/self/cgroup, never assumed from /sys/fs/cgroup: layout.py. The managers
are v1.py, v2.py and hybrid.py (which composes the other two), on top of
fs.py (directories, files, the plan of what create makes); resources.py
checks spec values and holds the v2 conversions and device rules; stats.py
reads usage in runc's shape. They are imported only when a manager is opened,
because `state`, `kill` and `delete` import this package on every call.
"""

from .. import errors

DRIVERS = ("cgroupfs", "systemd", "disabled")


class Manager:
    """What every manager does. Paths are host paths; pids are host pids."""

    layout = "?"  # "v1", "v2" or "hybrid"

    def create(self):
        """Make the cgroup directories; remembers which ones it made."""
        raise NotImplementedError

    def join(self, pid):
        """Move pid into the cgroup in every hierarchy."""
        raise NotImplementedError

    def prepare_realtime(self, field, runtime=None):
        """Before join: give the cgroup what a real-time policy (`field`,
        process.scheduler) needs to run in it. Only v1 cpu groups have such a
        budget; elsewhere there is nothing to do."""

    def apply(self, resources):
        """Write linux.resources (a dict); a refused value raises OciError naming file and value."""
        raise NotImplementedError

    def update(self, resources):
        """apply() on a running container (checkBeforeUpdate is honoured here)."""
        raise NotImplementedError

    def to_dict(self):
        """JSON-able description; valid before create() (it names what create will make)."""
        raise NotImplementedError

    def destroy(self, deadline=None):
        """Remove the directories this container made, leaf first; missing ones
        are fine. Processes still in them are killed; bounded (fs.remove)."""
        raise NotImplementedError

    def check_unused(self):
        """OciError naming the cgroup if any hierarchy's has a process or is frozen."""
        raise NotImplementedError

    def kill_all(self, sig):
        """Send sig to every process in the cgroup."""
        raise NotImplementedError

    def pids(self):
        """Host pids of every process in the cgroup (sorted)."""
        raise NotImplementedError

    def freeze(self):
        raise NotImplementedError

    def thaw(self):
        raise NotImplementedError

    def frozen(self):
        raise NotImplementedError

    def oom_source(self):
        """Where OOM events come from: ("v1", memory cgroup dir), ("v2", cgroup dir) or None."""
        raise NotImplementedError

    def stats(self):
        """runc's stats shape: {"cpu":…, "memory":…, "pids":…, "blkio":…, "hugetlb":…}."""
        raise NotImplementedError


def check_driver(manager_kind, systemd_flag=False):
    """The driver named by --cgroup-manager / --systemd-cgroup."""
    kind = "systemd" if systemd_flag else (manager_kind or "cgroupfs")
    if kind not in DRIVERS:
        raise errors.UsageError("invalid --cgroup-manager `%s`: want cgroupfs, systemd or disabled" % kind)
    return kind


def open_manager(cid, linux_cfg, manager_kind="cgroupfs", host=None):
    """A manager for a new container, or None when cgroups are disabled.

    linux_cfg is config.json's "linux" object; its cgroupsPath is read here:
    absolute paths are relative to each hierarchy's root, relative ones to the
    runtime's own cgroup, and the default is /ocirun/<id>.
    """
    kind = check_driver(manager_kind)
    if kind == "disabled":
        return None
    if kind == "systemd":
        from . import systemd   # D-Bus (jeepney) only on this path
        return systemd.open_manager(cid, linux_cfg or {}, host)
    from . import fs
    return fs.open_manager(cid, linux_cfg or {}, host)


def from_dict(d, host=None):
    """The manager a previous command described with to_dict(); None for None/{}."""
    if not d:
        return None
    if d.get("driver") == "systemd":
        from . import systemd
        return systemd.from_dict(d, host)
    from . import fs
    return fs.from_dict(d, host)


def of_container(c, host=None):
    """The manager stored in a container's state; an error if it was created without cgroups."""
    m = from_dict(c.data.get("cgroup"), host)
    if m is None:
        raise errors.OciError("container `%s` has no cgroup (created with --cgroup-manager disabled, or rootless "
                              "without a delegated cgroup)" % c.id)
    return m


def FEATURES():
    """linux.cgroup of the features document: what the managers here drive.

    v1, v2 and their hybrid are all implemented; the systemd driver is
    claimed when a systemd bus answers a connect (systemd.reachable). rdma is claimed only where this host has the rdma controller, the
    one place the code for it could be shown to work.
    """
    from ..host import LINUX
    from .layout import detect
    try:
        layout = detect(LINUX)
    except (errors.OciError, OSError):
        layout = None
    rdma = False
    if layout is not None:
        rdma = layout.v1_for("rdma") is not None
        if not rdma and layout.v2 is not None:
            try:
                ctrls = LINUX.read(layout.v2.mountpoint + "/cgroup.controllers").split()
            except OSError:
                ctrls = []
            rdma = b"rdma" in ctrls
    from .systemd import reachable
    return {"v1": True, "v2": True, "systemd": reachable(), "systemdUser": False, "rdma": rdma}
