"""Cgroups: one interface (manager.Manager), one manager per hierarchy kind, and the factory.

    kind = check_driver(gopts.cgroup_manager, gopts.systemd_cgroup)
    m = open_manager(cid, spec["linux"], kind)          # None: disabled; resources parsed and checked here
    state.data["cgroup"] = m.to_dict(); state.save()   # BEFORE create: lists what create will make
    m.create(); m.join(pid); m.apply()                  # apply: the resources it was opened with
    ...                                                 # on failure: kill the pids, then m.destroy()
    m = from_dict(state.data["cgroup"])                 # later commands (or of_container(c))
    m.kill_all(9); m.destroy()

The layout (v1, v2 or hybrid) is detected from /proc/self/mountinfo and
/proc/self/cgroup, never assumed from /sys/fs/cgroup: layout.py. The managers
are v1.py, v2.py and hybrid.py (which composes the other two), and
systemd.py (a transient scope, whose files a cgroupfs manager writes), all
implementing manager.py's interface on top of fs.py (directories, files,
the plan of what create makes, the one bounded removal); resources.py
parses linux.resources once into typed values (validation reports its
errors) and holds the v2 conversions and device rules; stats.py reads usage
in runc's shape. Only this
module knows every kind, so no submodule imports another in a loop; they are
imported only when a manager is opened, because `state`, `kill` and `delete`
import this package on every call.
"""

from .. import errors

DRIVERS = ("cgroupfs", "systemd", "disabled")


def check_driver(manager_kind, systemd_flag=False):
    """The driver named by --cgroup-manager / --systemd-cgroup."""
    kind = "systemd" if systemd_flag else (manager_kind or "cgroupfs")
    if kind not in DRIVERS:
        raise errors.UsageError("invalid --cgroup-manager `%s`: want cgroupfs, systemd or disabled" % kind)
    return kind


def open_manager(cid, linux_cfg, manager_kind="cgroupfs", host=None, resources=None):
    """A manager for a new container, or None when cgroups are disabled.

    linux_cfg is config.json's "linux" object: its cgroupsPath (absolute
    paths are relative to each hierarchy's root, relative ones to the
    runtime's own cgroup, the default is /ocirun/<id>), its resources
    (`resources` when the caller has them parsed already) and its devices
    (which the device rules must let the container use). What this host
    cannot take fails here, before anything is made.
    """
    kind = check_driver(manager_kind)
    if kind == "disabled":
        return None
    from ..host import LINUX
    from . import devices, resources as resmod

    linux_cfg = linux_cfg or {}
    host = host or LINUX
    res = resmod.parse(linux_cfg.get("resources") if resources is None else resources)
    extra = devices.device_allowances(linux_cfg.get("devices"))
    if kind == "systemd":
        from . import systemd  # D-Bus (jeepney) only on this path

        m = systemd.open_manager(
            cid, linux_cfg.get("cgroupsPath"), host, lambda path: _open_cgroupfs(cid, path, res, extra, host)
        )
    else:
        m = _open_cgroupfs(cid, linux_cfg.get("cgroupsPath"), res, extra, host)
    try:
        m.check()
    except BaseException:
        m.close()
        raise
    return m


def _open_cgroupfs(cid, cgroups_path, res, extra_devices, host):
    """The v1, v2 or hybrid manager of this host's layout."""
    from . import fs, layout, v1, v2

    path, relative = fs.resolve(cgroups_path, cid)
    lay = layout.detect(host)
    v1m = v2m = None
    if lay.v1:
        v1m = v1.V1Manager(
            host,
            [(h.controllers, fs.group_dir(h, path, relative), h.mountpoint) for h in lay.v1],
            resources=res,
            extra_devices=extra_devices,
        )
    if lay.v2 is not None:
        v2m = v2.V2Manager(
            host, fs.group_dir(lay.v2, path, relative), lay.v2.mountpoint, resources=res, extra_devices=extra_devices
        )
    if lay.kind == "v1":
        return v1m
    if lay.kind == "v2":
        return v2m
    from . import hybrid

    return hybrid.HybridManager(v1m, v2m)


def from_dict(d, host=None):
    """The manager a previous command described with to_dict(); None for None/{}.

    It carries no resources (update gives its own) and no device allowances."""
    if not d:
        return None
    from ..host import LINUX

    host = host or LINUX
    if d.get("driver") == "systemd":
        from . import systemd

        return systemd.from_dict(d, host, _cgroupfs_from_dict(d["fs"], host))
    return _cgroupfs_from_dict(d, host)


def _cgroupfs_from_dict(d, host):
    from . import v1, v2

    kind = d.get("layout")
    if kind == "v1":
        return v1.V1Manager.from_dict(d, host)
    if kind == "v2":
        return v2.V2Manager.from_dict(d, host)
    if kind == "hybrid":
        from . import hybrid

        return hybrid.HybridManager(v1.V1Manager.from_dict(d["v1"], host), v2.V2Manager.from_dict(d["v2"], host))
    raise errors.StateCorrupt("unknown cgroup layout `%s` in state" % kind)


def dirs_of(d):
    """{hierarchy: directory} of the manager a state record describes ({} for none, or a record naming none)."""
    try:
        m = from_dict(d)
    except (errors.OciError, LookupError, TypeError, ValueError, AttributeError):
        return {}
    return m.dirs() if m is not None else {}


def of_container(c, host=None):
    """The manager stored in a container's state; an error if it was created without cgroups."""
    m = from_dict(c.data.get("cgroup"), host)
    if m is None:
        raise errors.OciError(
            "container `%s` has no cgroup (created with --cgroup-manager disabled, or rootless "
            "without a delegated cgroup)" % c.id
        )
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
