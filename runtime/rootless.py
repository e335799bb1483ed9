"""Rootless: what changes when ocirun runs as a user without privileges.

One home for the policy, as tolerance.py is for what the schema refuses:

- detection, as runc does it: `--rootless auto` (the default) is on when
  the effective uid is not 0, or when ocirun runs in a user namespace other
  than the host's (rootless podman runs its runtime as the root of its own);
  `--rootless true|false` forces it.
- the default state root of a user: $XDG_RUNTIME_DIR/ocirun when that is a
  directory of the user's own, else /tmp/ocirun-<uid>, 0700, refused when
  someone else owns it or may write it.
- adapt(): the step between validation and the plan. What an unprivileged
  user cannot do is adapted with one warning each (a sysfs without a network
  namespace becomes a recursive bind of the host's /sys; linux.devices are
  bind mounts of the host's nodes; a devpts gid= the namespace does not map
  is dropped) or refused with one line naming the field (a user namespace is
  required; an mqueue without an ipc namespace, a proc without a pid
  namespace, a filesystem type only real root mounts; id mappings beyond the
  caller's own id and /etc/subuid, /etc/subgid ranges). Nothing is made
  before this step, so a refusal leaves nothing behind.
- cgroups: none on cgroup v1 or hybrid hosts (this kind of host) and on v2
  without delegation; resource limits are then one warning, as runc and crun
  do. A delegated v2 subtree (the container's cgroup would be made inside a
  directory the user may write, e.g. under systemd's user@.service, which
  holds ocirun's own cgroup too) is used, without a BPF device filter (the
  user cannot attach one: v2.device_filter).
- user namespace maps: rootless_idmap.py (the caller's own id written by
  the runtime itself, anything else through newuidmap/newgidmap).

oci-schemas/README.md's tolerance table lists each adaptation.
"""

import os

from . import errors, log

MODES = ("auto", "true", "false")

# Filesystems the kernel lets the root of a user namespace mount (FS_USERNS_MOUNT);
# any other type needs real root.
USERNS_MOUNTABLE = {
    "proc",
    "sysfs",
    "tmpfs",
    "ramfs",
    "devpts",
    "mqueue",
    "cgroup",
    "cgroup2",
    "overlay",
    "fuse",
    "binfmt_misc",
}
# ...and which of them need a namespace of the container's own (the host's is not the user's).
NEEDS_OWN_NS = {"proc": "pid", "mqueue": "ipc"}


def mode(gopts):
    """--rootless as one of MODES; a UsageError otherwise."""
    v = (getattr(gopts, "rootless", None) or "auto").strip().lower()
    v = {"1": "true", "t": "true", "yes": "true", "0": "false", "f": "false", "no": "false"}.get(v, v)
    if v not in MODES:
        raise errors.UsageError("invalid --rootless %r: want 'true', 'false' or 'auto'" % gopts.rootless)
    return v


def in_user_namespace():
    """Is this process in a user namespace other than the host's?"""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def enabled(gopts):
    """Rootless mode, as runc decides it."""
    m = mode(gopts)
    if m != "auto":
        return m == "true"
    return os.geteuid() != 0 or in_user_namespace()


def unprivileged():
    """Not root even in our own user namespace: the core makes the exec
    trampoline inside the container's namespaces, maps go through newuidmap."""
    return os.geteuid() != 0


# ---------------------------------------------------------------------------
# the state root
# ---------------------------------------------------------------------------


def state_root(gopts):
    """--root, or the default: /run/ocirun for root; for a user,
    $XDG_RUNTIME_DIR/ocirun when that directory is the user's, else
    /tmp/ocirun-<uid> (made 0700; refused if someone else owns it); for the
    root of a user namespace (rootless podman) $XDG_RUNTIME_DIR/ocirun when
    set and $USER is not root, else /run/ocirun."""
    if gopts.root:
        return gopts.root
    from .state import DEFAULT_ROOT

    uid = os.geteuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR") or ""
    if uid == 0:
        # root of a user namespace that is not the host's (rootless podman
        # runs us so) with a user's XDG_RUNTIME_DIR: that, as runc does
        if xdg and os.environ.get("USER", "") != "root" and in_user_namespace():
            return os.path.join(xdg, "ocirun")
        return DEFAULT_ROOT
    if xdg.startswith("/"):
        try:
            st = os.stat(xdg)
        except OSError:
            st = None
        # (runuser and sudo may pass root's on: only the user's own counts)
        if st is not None and st.st_uid == uid and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
            return os.path.join(xdg, "ocirun")
    return tmp_root(uid)


def tmp_root(uid):
    """/tmp/ocirun-<uid>: made 0700 if missing; one that is not a directory
    of the user's own, 0700, is refused (anyone can make names in /tmp)."""
    import stat

    path = "/tmp/ocirun-%d" % uid
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise errors.os_error("make the state root", path, e) from None
    st = os.lstat(path)
    why = None
    if not stat.S_ISDIR(st.st_mode):
        why = "not a directory"
    elif st.st_uid != uid:
        why = "owned by uid %d, not %d" % (st.st_uid, uid)
    elif stat.S_IMODE(st.st_mode) & 0o077:
        why = "mode %04o, not 0700" % stat.S_IMODE(st.st_mode)
    if why:
        raise errors.OciError(
            "state root `%s` is %s: refusing to use it (give --root, or set XDG_RUNTIME_DIR)" % (path, why)
        )
    return path


# ---------------------------------------------------------------------------
# adapt: between validation and the plan
# ---------------------------------------------------------------------------


class Rootless:
    """What create (and exec) need to know once adapt() has run."""

    def __init__(self, cfg, warnings, privileged_in_userns):
        self.cfg = cfg
        self.warnings = warnings
        self.unprivileged = not privileged_in_userns

    def open_manager(self, cid, linux, kind):
        """The cgroup manager of a rootless container, or None (see decide_cgroups)."""
        return decide_cgroups(cid, linux, kind)

    def cgroup_dirs(self, made):
        """The cgroup directories a `cgroup` mount binds: the container's own
        when one was made, else ours (where its processes stay)."""
        return made or own_cgroup_dirs()


def adapt(gopts, cfg):
    """None when not rootless; else a Rootless whose cfg is the adapted copy
    of `cfg` (validated). Warnings are logged; a refusal is a ConfigError
    naming the field. Nothing has been made yet."""
    if not enabled(gopts):
        return None
    import copy

    cfg = copy.deepcopy(cfg)
    warns, problems = [], []
    linux = cfg.setdefault("linux", {})
    nss = [ns for ns in linux.get("namespaces") or () if isinstance(ns, dict)]
    new = {ns.get("type") for ns in nss if not ns.get("path")}
    have = {ns.get("type") for ns in nss}
    priv = not unprivileged()
    if not priv and "user" not in have:
        problems.append(
            "linux.namespaces: rootless (ocirun runs as uid %d) needs a user namespace: add "
            '{"type": "user"} with uidMappings and gidMappings (see `ocirun spec --rootless`)' % os.geteuid()
        )
    if not priv and "user" in new:
        from . import rootless_idmap

        problems += rootless_idmap.check_maps(linux)
    _adapt_mounts(cfg, new, linux, warns, problems)
    _adapt_devices(linux, warns, problems)
    if problems:
        raise errors.ConfigError(problems)
    for field, msg in warns:
        log.LOG.warning("%s: %s" % (field, msg))
    return Rootless(cfg, warns, priv)


def _mapped(maps, cid_):
    return any(
        int(m.get("containerID", 0)) <= cid_ < int(m.get("containerID", 0)) + int(m.get("size", 0))
        for m in maps or ()
        if isinstance(m, dict)
    )


def _adapt_mounts(cfg, new, linux, warns, problems):
    mounts = cfg.get("mounts")
    if not isinstance(mounts, list):
        return
    for i, m in enumerate(mounts):
        if not isinstance(m, dict):
            continue
        field = "mounts[%d]" % i
        opts = [o for o in (m.get("options") or ()) if isinstance(o, str)]
        mtype = m.get("type") or ""
        if "bind" in opts or "rbind" in opts or mtype == "bind":
            continue
        if mtype == "sysfs" and "network" not in new:
            m["type"] = "bind"
            m["source"] = "/sys"
            m["options"] = ["rbind", "nosuid", "noexec", "nodev"] + (["ro"] if "ro" in opts else [])
            warns.append(
                (
                    field,
                    "rootless: sysfs cannot be mounted without a network namespace of the "
                    "container's own: a recursive bind of the host's /sys instead%s, as runc and "
                    "crun do" % (" (read-only)" if "ro" in opts else ""),
                )
            )
            continue
        own = NEEDS_OWN_NS.get(mtype)
        if own and own not in new:
            problems.append(
                "%s: rootless: `%s` on `%s` needs the container's own %s namespace (an "
                'unprivileged user cannot mount the host\'s): add {"type": "%s"} to linux.namespaces'
                % (field, mtype, m.get("destination"), own, own)
            )
            continue
        if mtype and mtype.split(".")[0] not in USERNS_MOUNTABLE:
            problems.append(
                "%s: rootless: mounting `%s` on `%s` needs real root; bind-mount a host "
                "directory instead" % (field, mtype, m.get("destination"))
            )
            continue
        if mtype == "devpts" and "user" in new:
            keep = []
            for o in opts:
                k, _, v = o.partition("=")
                if k == "gid" and v.isdigit() and not _mapped(linux.get("gidMappings"), int(v)):
                    warns.append(
                        (
                            field,
                            "rootless: devpts option `%s` dropped: gid %s is not mapped in the "
                            "container's user namespace" % (o, v),
                        )
                    )
                    continue
                keep.append(o)
            m["options"] = keep


def _adapt_devices(linux, warns, problems):
    """linux.devices: an unprivileged user makes no device node; each is a
    bind mount of the host's node at the same path, which must be that device."""
    import stat

    devs = linux.get("devices")
    if not isinstance(devs, list) or not devs:
        return
    kinds = {"c": stat.S_ISCHR, "u": stat.S_ISCHR, "b": stat.S_ISBLK}
    for i, d in enumerate(devs):
        if not isinstance(d, dict):
            continue
        field = "linux.devices[%d]" % i
        path, t = d.get("path"), d.get("type")
        want = "%s %d:%d" % (t, int(d.get("major", 0)), int(d.get("minor", 0)))
        if t not in kinds:
            problems.append("%s: rootless: a `%s` device cannot be made by an unprivileged user" % (field, t))
            continue
        try:
            st = os.stat(path)
        except (OSError, TypeError, ValueError):
            st = None
        if (
            st is None
            or not kinds[t](st.st_mode)
            or (os.major(st.st_rdev), os.minor(st.st_rdev)) != (int(d.get("major", 0)), int(d.get("minor", 0)))
        ):
            problems.append(
                "%s: rootless: an unprivileged user cannot make device node `%s` (%s) and the host has "
                "no such node at that path to bind" % (field, path, want)
            )
            continue
        warns.append(
            (
                field,
                "rootless: `%s` (%s) is a bind mount of the host's node (its owner and mode are "
                "the host's)" % (path, want),
            )
        )


# ---------------------------------------------------------------------------
# cgroups
# ---------------------------------------------------------------------------


def decide_cgroups(cid, linux, kind):
    """The manager a rootless container gets: None on v1/hybrid hosts and on
    v2 without delegation (resource limits are then one warning); on v2, the
    cgroupfs manager when the container's cgroup would be made in a
    directory the user may write (a delegated subtree). Without a
    linux.cgroupsPath the container's cgroup is a sibling of ocirun's own,
    as runc makes it rootless."""
    import posixpath

    from . import cgroups

    if kind == "disabled":
        return None
    why = None
    if kind == "systemd":
        why = "the systemd cgroup driver is not supported rootless"
    elif not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        why = "this host has cgroup v1 hierarchies, which are never delegated to a user"
    else:
        mine = _own_v2_path()
        if not linux.get("cgroupsPath") and mine is not None:
            # as runc: without a cgroupsPath, beside ocirun's own cgroup (in
            # a delegated subtree the user's shell sits in a leaf of it, and
            # a cgroup holding processes cannot pass controllers down)
            linux = dict(linux, cgroupsPath=posixpath.join(posixpath.dirname(mine), cid))
        mgr = cgroups.open_manager(cid, linux, kind)
        why = _not_delegated(mgr)
        if why is None:
            # an unprivileged user cannot attach a BPF device program; the user
            # namespace keeps the container to the devices its user may open
            mgr.device_filter = False
            return mgr
        mgr.close()
    if linux.get("resources"):
        log.LOG.warning(
            "linux.resources: rootless: %s: the container gets no cgroup and its resource limits "
            "are not applied (as runc and crun do)" % why
        )
    else:
        log.LOG.debug("rootless: no cgroup: %s", why)
    return None


def _own_v2_path():
    """This process's cgroup v2 path (/proc/self/cgroup's `0::` line), or None."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].rstrip("\n")
    except OSError:
        pass
    return None


def _not_delegated(mgr):
    """None when the container's cgroup can be made and joined by this user
    (a delegated subtree, as systemd's Delegate= gives: the directory, its
    cgroup.procs and cgroup.subtree_control the user's); else why not."""
    if getattr(mgr, "layout", None) != "v2":
        return "cgroup v1 hierarchies are mounted beside cgroup2 here, and they are never delegated to a user"
    d = mgr.group.dir
    parent = d
    while parent != "/" and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    files = ("cgroup.procs",) if parent == d else ("cgroup.procs", "cgroup.subtree_control")
    if not (
        parent.startswith(mgr.group.mount.rstrip("/") + "/")
        and os.access(parent, os.W_OK | os.X_OK)
        and all(os.access(os.path.join(parent, f), os.W_OK) for f in files)
    ):
        return "no delegated cgroup v2 subtree holds `%s`" % d
    # Moving a process between cgroups needs write access to cgroup.procs of
    # their common ancestor: ours must be in the subtree too.
    mine = own_cgroup_dirs().get("")
    common = os.path.commonpath([mine, d]) if mine else None
    if not common or not os.access(os.path.join(common, "cgroup.procs"), os.W_OK):
        need = os.path.join(common or "/", "cgroup.procs")
        return (
            "ocirun's own cgroup `%s` is outside the delegated subtree `%s` (moving the container there needs write access to `%s`)"
            % (mine, parent, need)
        )
    log.LOG.debug("rootless: the delegated cgroup v2 subtree `%s` is used (no device filter)", parent)
    return None


def own_cgroup_dirs():
    """{hierarchy name under /sys/fs/cgroup: our own cgroup there}: where a
    rootless container without a cgroup of its own lives. A `cgroup` mount
    without a cgroup namespace of the container's binds these (plan.py), as
    a user namespace cannot mount the host's hierarchies."""
    from .mounts import cgroup_layout

    mine = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _id, ctrls, path = line.rstrip("\n").split(":", 2)
                mine[frozenset(ctrls.split(",")) if ctrls else frozenset()] = path
    except (OSError, ValueError):
        return {}
    out = {}
    for name, fstype, data in cgroup_layout():
        key = frozenset() if fstype == "cgroup2" else frozenset((data or "").split(","))
        path = mine.get(key)
        if path is not None:
            d = os.path.normpath(os.path.join("/sys/fs/cgroup", name, path.lstrip("/")))
            if os.path.isdir(d):
                out[name] = d
    return out


def features():
    """What rootless supports on this host, for `ocirun features`' annotations."""
    import shutil

    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return {
        "io.github.ocirun.rootless": "true",
        "io.github.ocirun.rootless.idmap": "own-id"
        + (
            ",newuidmap"
            if shutil.which("newuidmap", path="/usr/bin:/bin") and shutil.which("newgidmap", path="/usr/bin:/bin")
            else ""
        ),
        "io.github.ocirun.rootless.cgroups": "delegated-v2" if v2 else "none",
    }
