"""config.json's mounts: the rules validation.py applies to them
(proc_mount_problem, refusals) and their translation into the core's
`struct ocirun_mount` entries (fill, plan.py's part).

Options become mount(2) flags, a propagation and mount_setattr(2) attributes
(linux.py's tables); the rest goes to the filesystem as data. A `cgroup`
mount becomes one mount per host hierarchy (cgroups/layout.py), or binds of
the container's own cgroup directories when it has no cgroup namespace. The
config is validation.py's checked one: what is refused here is what only
the host can tell (a bind source that is not there, a filesystem option the
kernel refuses).
"""

import os

from . import errors
from .linux import (
    MOUNT_ATTR__ATIME,
    MOUNT_FLAGS,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    MS_STRICTATIME,
    PROPAGATION,
    RECURSIVE_ATIME,
    RECURSIVE_ATIME_CLEAR,
    RECURSIVE_ATTRS,
)

# runc-specific mount options that are ocirun's to act on, not the
# filesystem's (tmpcopyup: a tmpfs starts with a copy of the rootfs's directory)
EXTENSION_OPTIONS = {"tmpcopyup"}
IDMAP_OPTIONS = ("idmap", "ridmap")


def data_options(options):
    """(index, option) of each mount option that is neither a flag ocirun
    knows nor its own: what goes to the filesystem as data."""
    known = (
        MOUNT_FLAGS,
        PROPAGATION,
        RECURSIVE_ATTRS,
        RECURSIVE_ATIME,
        RECURSIVE_ATIME_CLEAR,
        EXTENSION_OPTIONS,
        IDMAP_OPTIONS,
    )
    return [(i, o) for i, o in enumerate(options or []) if not any(o in k for k in known)]


def refusals(entries, has_userns, add):
    """add(path, message) for each mount ocirun refuses although the spec
    allows it (validation.refusals: create's order)."""
    later = []  # the id-mapping checks come after every mount's own (create's order)
    for i, m in enumerate(entries):
        field = "mounts[%d]" % i
        if not m["destination"]:
            add(field + ".destination", "missing")
        opts = m.get("options", [])
        is_bind = m.get("type") == "bind" or "bind" in opts or "rbind" in opts
        if m.get("type") == "cgroup" and not is_bind:
            continue  # made by create from the host's hierarchies: no options of its own to refuse
        if "tmpcopyup" in opts and (is_bind or m.get("type") != "tmpfs"):
            add("%s.options[%d]" % (field, opts.index("tmpcopyup")), "tmpcopyup is only supported on tmpfs mounts")
        idmap = None
        for o in opts:
            if o in IDMAP_OPTIONS:
                idmap = o
        if is_bind:
            if not m.get("source"):
                add(field + ".source", "a bind mount needs a source")
            bad = data_options(opts)
            if bad:
                add(
                    "%s.options[%d]" % (field, bad[0][0]),
                    "%r is not a mount option ocirun knows for a bind mount" % bad[0][1],
                )
        elif idmap:
            add(field + ".options", "%s is only supported on bind mounts" % idmap)
        uids, gids = m.get("uidMappings"), m.get("gidMappings")  # (the schema wants both or neither)
        if uids or gids:
            if not is_bind:
                later.append(
                    (
                        field + (".uidMappings" if uids else ".gidMappings"),
                        "per-mount id mappings are only supported on bind mounts",
                    )
                )
        elif idmap and is_bind and not has_userns:
            later.append((field + ".options", "%s needs a user namespace" % idmap))
    for f in later:
        add(*f)


# The only mounts allowed inside /proc: the files lxcfs emulates (runc's list).
PROC_SINGLE_FILES = frozenset(
    "/proc/" + f
    for f in (
        "cpuinfo",
        "meminfo",
        "stat",
        "uptime",
        "loadavg",
        "diskstats",
        "swaps",
        "slabinfo",
        "net/dev",
        "sys/kernel/ns_last_pid",
    )
)


def _is_procfs_root(path):
    """Whether `path` is the root directory of a procfs (inode 1 on a proc mount)."""
    try:
        st = os.stat(path)
        if st.st_ino != 1:
            return False
        want = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                if fields[2] == want and fields[sep + 1] == "proc":
                    return True
    except (OSError, ValueError, IndexError):
        pass
    return False


def proc_mount_problem(m, bundle=None):
    """Why mount `m` may not go where it goes in /proc, or None.

    A mount over /proc or into it shadows what the init and the container's
    tools trust procfs for (CVE-2019-16884, CVE-2025-52881 class): only a
    proc filesystem at /proc itself (a `proc` mount, or a bind of the root of
    a procfs, as runc) and lxcfs's single files are allowed. The path is
    cleaned here; a symlink in the rootfs leading there is the core's to catch.
    """
    dest = m.get("destination")
    if not isinstance(dest, str):
        return None
    clean = os.path.normpath("/" + dest.lstrip("/"))
    opts = m.get("options") or ()
    is_bind = m.get("type") == "bind" or "bind" in opts or "rbind" in opts
    if clean == "/proc":
        if m.get("type") == "proc":
            return None
        src = m.get("source")
        if is_bind and isinstance(src, str) and _is_procfs_root(os.path.join(bundle or "/", src)):
            return None
        return "%r would be mounted over /proc: only a proc filesystem may be" % dest
    if clean.startswith("/proc/") and clean not in PROC_SINGLE_FILES:
        return (
            "%r is inside /proc: only lxcfs's single files (/proc/uptime, /proc/meminfo, ...) "
            "may be mounted there" % dest
        )
    return None


def option_names():
    """Every mount option fill() acts on, for the features document."""
    return sorted(
        set(MOUNT_FLAGS)
        | set(PROPAGATION)
        | set(RECURSIVE_ATTRS)
        | set(RECURSIVE_ATIME)
        | RECURSIVE_ATIME_CLEAR
        | EXTENSION_OPTIONS
        | set(IDMAP_OPTIONS)
    )


def _err(field, msg):
    return errors.ConfigError(["%s: %s" % (field, msg)])


def norm_dest(dest):
    """Destinations are absolute inside the rootfs; relative ones hang off /."""
    dest = "/" + dest.lstrip("/")
    parts = [p for p in dest.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def cgroup_layout(host=None):
    """[(name under /sys/fs/cgroup, fstype, data)] of the host's cgroup
    hierarchies, as cgroups.layout.detect finds them; [("", "cgroup2", None)]
    on a pure v2 host, [] when none is mounted."""
    from .cgroups import layout

    if host is None:
        from .host import LINUX as host
    try:
        found = layout.detect(host)
    except (errors.OciError, OSError):
        return []
    if found.v2 is not None and found.v2.mountpoint == "/sys/fs/cgroup":
        return [("", "cgroup2", None)]
    hierarchies = found.v1 + ([found.v2] if found.v2 is not None else [])
    try:  # in mount order, as the host has them (a hybrid's cgroup2 is often not last)
        order = [
            mp
            for _, _, mp, _ in layout.parse_mountinfo(
                host.read("/proc/self/mountinfo").decode("utf-8", "surrogateescape")
            )
        ]
        hierarchies.sort(key=lambda h: order.index(h.mountpoint) if h.mountpoint in order else len(order))
    except OSError:
        pass
    out = []
    for h in hierarchies:
        parent, _, name = h.mountpoint.rpartition("/")
        if parent == "/sys/fs/cgroup" and name:
            out.append((name, "cgroup", ",".join(h.controllers)) if h.version == 1 else (name, "cgroup2", None))
    return out


def _parse_options(options, field):
    """(flags, clear, propagation, attr_set, attr_clr, data, idmap) of a mount's options."""
    flags = clear = prop = aset = aclr = 0
    data = []
    idmap = None
    for opt in options:
        if opt in MOUNT_FLAGS:
            is_clear, f = MOUNT_FLAGS[opt]
            if is_clear:
                flags &= ~f
                clear |= f
            else:
                flags |= f
                clear &= ~f
        elif opt in PROPAGATION:
            prop = PROPAGATION[opt]
        elif opt in RECURSIVE_ATTRS:
            is_clear, a = RECURSIVE_ATTRS[opt]
            if is_clear:
                aclr |= a
                aset &= ~a
            else:
                aset |= a
                aclr &= ~a
        elif opt in RECURSIVE_ATIME:
            aclr |= MOUNT_ATTR__ATIME
            aset = (aset & ~MOUNT_ATTR__ATIME) | RECURSIVE_ATIME[opt]
        elif opt in RECURSIVE_ATIME_CLEAR:
            aclr |= MOUNT_ATTR__ATIME
        elif opt in IDMAP_OPTIONS:
            idmap = opt
        elif opt in EXTENSION_OPTIONS:
            continue
        else:
            data.append(opt)
    return flags, clear, prop, aset, aclr, ",".join(data), idmap


def _probe_fs_options(fstype, options, field):
    """Ask the kernel whether `fstype` takes each data option (fsopen + fsconfig:
    nothing is mounted). Only a refusal counts; when the probe itself cannot
    run (no privilege, an old kernel) the mount will tell. For `validate`.
    430 and 431 are fsopen and fsconfig in the table every architecture
    ocirun builds on shares (x86_64, aarch64, ...)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    fd = syscall(ctypes.c_long(430), fstype.encode(), ctypes.c_uint(1))  # fsopen(type, FSOPEN_CLOEXEC)
    if fd < 0:
        if ctypes.get_errno() == 19:  # ENODEV
            raise _err(field + ".type", "%r is not a filesystem this kernel knows" % fstype)
        return
    try:
        for i, opt in data_options(options):
            if not opt:
                continue
            key, eq, value = opt.partition("=")
            # FSCONFIG_SET_STRING (1) key=value, FSCONFIG_SET_FLAG (0) a bare word
            r = syscall(
                ctypes.c_long(431),
                ctypes.c_int(fd),
                ctypes.c_uint(1 if eq else 0),
                key.encode(),
                value.encode() if eq else None,
                ctypes.c_int(0),
            )
            if r < 0:
                err = ctypes.get_errno()
                if err not in (22, 95):  # only EINVAL/EOPNOTSUPP say "this option is wrong"
                    return
                why = _fs_log(fd)
                raise _err(
                    "%s.options[%d]" % (field, i),
                    "%r: %s%s" % (opt, errors.strerror(err), (" (%s)" % why) if why else ""),
                )
    finally:
        os.close(fd)


def _fs_log(fd):
    """The kernel's own reason, from the fs context's message log."""
    try:
        os.set_blocking(fd, False)
        text = os.read(fd, 512).decode(errors="replace").strip()
    except OSError:
        return ""
    return text[2:] if text[:2] in ("e ", "w ", "i ") else text


def fill(p, cfg, bundle, cgroup_dirs=None):
    """p.c.mounts from cfg.mounts (a validation.Checked config)."""
    entries = []
    for i, m in enumerate(cfg.mounts):
        field = "mounts[%d]" % i
        dest = norm_dest(m["destination"])
        opts = m.get("options", [])
        flags, _clear, prop, aset, aclr, data, idmap = _parse_options(opts, field + ".options")
        mtype = m.get("type", "")
        src = m.get("source")
        is_bind = bool(flags & MS_BIND) or mtype == "bind"
        if mtype == "cgroup" and not is_bind:
            # Without a cgroup namespace a cgroup mount would show the host's whole
            # tree: bind the container's own cgroup directories instead (as runc).
            # Rootless on pure v2 too: the host's cgroup2 superblock cannot be
            # mounted again from a user namespace with other flags (`ro`: EBUSY),
            # and a bind of the container's own directory is what its cgroup
            # namespace would show.
            rootless_v2 = p.rootless and cgroup_layout()[:1] == [("", "cgroup2", None)]
            own = cgroup_dirs if cgroup_dirs and ("cgroup" not in p.new_namespaces or rootless_v2) else None
            entries.extend(dict(e, field=field) for e in _cgroup_mounts(dest, flags, own))
            continue
        e = {
            "destination": dest,
            "propagation": prop,
            "attr_set": aset,
            "attr_clr": aclr,
            "idmap": idmap,
            "field": field,
            "uidMappings": m.get("uidMappings"),
            "gidMappings": m.get("gidMappings"),
            "is_bind": is_bind,
        }
        if is_bind:
            src = os.path.normpath(os.path.join(bundle, src))
            try:
                os.stat(src)
            except OSError as e:  # refused here, before clone, not as a failed mount in the child
                raise _err(field + ".source", "`%s`: %s" % (m["source"], errors.strerror(e.errno))) from None
            e.update(
                source=src,
                fstype=None,
                data=None,
                flags=MS_BIND | (flags & MS_REC),
                remount_flags=flags & ~(MS_BIND | MS_REC | MS_REMOUNT),
            )
            try:
                e["dest_is_file"] = not os.path.isdir(src) and os.path.exists(src)
            except OSError:
                e["dest_is_file"] = False
        else:
            e["tmpcopyup"] = "tmpcopyup" in opts
            if p.probe_mounts and mtype:
                _probe_fs_options(mtype, opts, field)
            label = cfg.linux.get("mountLabel") if selinux_enabled() else None
            if label and mtype not in NO_CONTEXT_FS and "context=" not in data:
                # the filesystem's files get the container's label (a fs
                # without SELinux labels takes it for all of them)
                data = ",".join(x for x in (data, 'context="%s"' % label) if x)
            e.update(
                source=src, fstype=mtype or None, data=data or None, flags=flags, remount_flags=0, dest_is_file=False
            )
        entries.append(e)
    c = p.c
    arr = p.array("struct ocirun_mount", len(entries))
    for i, e in enumerate(entries):
        a = arr[i]
        a.source = p.s(e.get("source"))
        a.destination = p.s(e["destination"])
        a.fstype = p.s(e.get("fstype"))
        a.data = p.s(e.get("data"))
        a.flags = e.get("flags", 0)
        a.remount_flags = e.get("remount_flags", 0)
        a.propagation = e.get("propagation", 0)
        a.attr_set = e.get("attr_set", 0)
        a.attr_clr = e.get("attr_clr", 0)
        a.idmap_userns_fd = -1
        maps = _mount_id_maps(e)
        if e.get("idmap") or maps:
            # idmapped by the parent: to the mount's own mappings when it has
            # them (the kubelet's volumes of a pod with a user namespace),
            # else to the container's user namespace
            a.idmap_userns_fd = -2
            a.idmap_recursive = 1 if e.get("idmap") == "ridmap" else 0
            p.idmap_mounts.append(
                (e["source"], bool(e["flags"] & MS_REC), e.get("idmap") == "ridmap", maps, e["field"])
            )
        a.dest_is_file = 1 if e.get("dest_is_file") else 0
        a.is_remount = 1 if e.get("is_remount") else 0
        a.tmpcopyup = 1 if e.get("tmpcopyup") else 0
        a.field = p.s(e.get("field"))
    c.mounts = arr
    c.n_mounts = len(entries)


# filesystems whose files carry their own labels from the kernel: no context=
NO_CONTEXT_FS = {"proc", "sysfs", "cgroup", "cgroup2", "securityfs", "selinuxfs", "bpf", "debugfs", "tracefs"}


def selinux_enabled():
    """linux.mountLabel applies only then; without SELinux it is ignored, as runc does."""
    return os.path.exists("/sys/fs/selinux/enforce")


def _mount_id_maps(e):
    """(uid_map, gid_map) text of a bind mount's own uidMappings and gidMappings, or None."""
    uids, gids = e.get("uidMappings"), e.get("gidMappings")
    if not uids and not gids:
        return None
    text = lambda ms: "".join("%d %d %d\n" % (m["containerID"], m["hostID"], m["size"]) for m in ms)  # noqa: E731
    return text(uids), text(gids)


def _cgroup_mounts(dest, flags, own_dirs=None):
    """A `cgroup` mount, the way runc does it for the host's layout.

    Pure v2: one cgroup2 mount. v1 or hybrid: a tmpfs at the destination with
    one mount per hierarchy inside it (cgroup2 for the hybrid's `unified`),
    then the tmpfs remounted read-only when `ro` was asked for.
    """
    layout = cgroup_layout()
    base = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_NOATIME | MS_STRICTATIME)

    def bind(d, name):
        return {
            "destination": d,
            "source": own_dirs[name],
            "fstype": None,
            "flags": MS_BIND | MS_REC,
            "remount_flags": base | (flags & MS_RDONLY),
        }

    if layout and layout[0][1] == "cgroup2" and layout[0][0] == "":
        if own_dirs and "" in own_dirs:
            return [bind(dest, "")]
        return [{"destination": dest, "source": "cgroup2", "fstype": "cgroup2", "flags": flags & ~MS_REC}]
    out = [
        {
            "destination": dest,
            "source": "tmpfs",
            "fstype": "tmpfs",
            "data": "mode=755",
            "flags": MS_NOSUID | MS_NODEV | MS_NOEXEC,
        }
    ]
    for name, fstype, data in layout:
        if own_dirs and name in own_dirs:
            out.append(bind(dest + "/" + name, name))
            continue
        out.append(
            {
                "destination": dest + "/" + name,
                "source": "cgroup",
                "fstype": fstype,
                "data": data,
                "flags": base | (flags & MS_RDONLY),
            }
        )
    if flags & MS_RDONLY:
        out.append(
            {"destination": dest, "is_remount": True, "remount_flags": MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC}
        )
    return out
