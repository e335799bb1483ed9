"""The validated config, flattened into the C core's `struct ocirun_plan`.

Everything the child needs is decided here, before clone: strings encoded,
paths resolved against the bundle, mount options turned into flags, namespace
fds opened, capability names turned into masks. The C side only applies what
it is given. Every cffi buffer is kept referenced by the Plan for as long as
the Plan lives (the child works on a copy of this memory).

Errors name the config field: `mounts[2].options: unknown propagation ...`.
"""

import os

from . import errors, log, tolerance, validation
from .linux import (
    CAP_NUMBERS,
    CLONE_NEWUSER,
    DEVICE_TYPES,
    IOPRIO_CLASSES,
    MOUNT_ATTR__ATIME,
    MOUNT_FLAGS,
    MPOL_FLAGS,
    MPOL_MODES,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    MS_SLAVE,
    MS_STRICTATIME,
    NS_FILES,
    NS_FLAGS,
    PERSONALITY_DOMAINS,
    PROPAGATION,
    RECURSIVE_ATIME,
    RECURSIVE_ATIME_CLEAR,
    RECURSIVE_ATTRS,
    RLIMITS,
    S_IFCHR,
    SCHED_FLAGS,
    SCHED_POLICIES,
    cap_bounding,
    cap_last_cap,
)
from .validation import EXTENSION_OPTIONS, IDMAP_OPTIONS, data_options

HOME_ROOM = 4096  # bytes after "HOME=" that the core may fill (ocirun.h home_env)

DEFAULT_DEVICES = [("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8),
                   ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0)]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def FEATURES():
    """The mount options _mount_options accepts, for the features document."""
    opts = (set(MOUNT_FLAGS) | set(PROPAGATION) | set(RECURSIVE_ATTRS) | set(RECURSIVE_ATIME)
            | RECURSIVE_ATIME_CLEAR | EXTENSION_OPTIONS | set(IDMAP_OPTIONS))
    return {"mountOptions": sorted(opts), "idmap": True, "memoryPolicy": memory_policy_features()}


def memory_policy_features():
    """The modes and flags of linux.memoryPolicy this kernel takes (tried)."""
    from . import core
    try:
        _ffi, lib = core.load()
    except errors.OciError:
        return {"modes": [], "flags": []}
    modes = [m for m, v in sorted(MPOL_MODES.items()) if lib.ocirun_mempolicy_probe(v) == 0]
    flags = [f for f, v in sorted(MPOL_FLAGS.items()) if lib.ocirun_mempolicy_probe(MPOL_MODES["MPOL_BIND"] | v) == 0]
    return {"modes": modes, "flags": flags}


def _err(field, msg):
    return errors.ConfigError(["%s: %s" % (field, msg)])


def _norm_dest(dest):
    """Destinations are absolute inside the rootfs; relative ones hang off /."""
    dest = "/" + dest.lstrip("/")
    parts = [p for p in dest.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def _high_fd(fd, floor):
    """Our fds must sit above the preserved range 3..3+N-1 (dup them up)."""
    if fd >= floor:
        return fd
    import fcntl
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return new


def _ranges(text, limit):
    """'0-3,7' -> the numbers, each below limit; ValueError if malformed."""
    out = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        lo, hi = int(lo), int(hi or lo)
        if lo < 0 or hi < lo or hi >= limit:
            raise ValueError
        out.update(range(lo, hi + 1))
    return out


def parse_cpus(text, field):
    """'0-3,7' -> bytes of a cpu_set_t (1024 bits)."""
    mask = bytearray(128)
    try:
        cpus = _ranges(text, 1024)
    except ValueError:
        raise _err(field, "invalid cpu list %r" % text) from None
    for cpu in cpus:
        mask[cpu // 8] |= 1 << (cpu % 8)
    return bytes(mask)


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
        order = [mp for _, _, mp, _ in layout.parse_mountinfo(host.read("/proc/self/mountinfo").decode(
            "utf-8", "surrogateescape"))]
        hierarchies.sort(key=lambda h: order.index(h.mountpoint) if h.mountpoint in order else len(order))
    except OSError:
        pass
    out = []
    for h in hierarchies:
        parent, _, name = h.mountpoint.rpartition("/")
        if parent == "/sys/fs/cgroup" and name:
            out.append((name, "cgroup", ",".join(h.controllers)) if h.version == 1 else (name, "cgroup2", None))
    return out


class Plan:
    """A built plan: `c` is the `struct ocirun_plan *`; the rest is what Python needs."""

    def __init__(self, ffi):
        self.ffi = ffi
        self.keep = []          # every cdata the plan points into
        self.fds = []           # fds opened for the child; closed once it has them
        self.c = ffi.new("struct ocirun_plan *")
        self.new_userns = False
        self.uid_mappings = []
        self.gid_mappings = []
        self.unmapped_userns = False  # a new user ns without maps in config.json (tolerance.py)
        self.terminal = False
        self.preserve_fds = 0
        self.idmap_mounts = []  # (source, recursive tree, recursive idmap, own maps, field), in mount order
        self.net_devices = []   # (host name, name in the container), moved by the parent before GO
        self.resctrl = None     # linux.intelRdt: resctrl.plan()'s dict, applied by the parent before GO
        self.device_nodes = []  # (index, field, path, mode, major, minor, uid, gid): userns devices the parent makes
        self.cache_dir = None   # where compiled seccomp filters are kept (the state root's .cache)
        self.probe_mounts = False  # validate: ask the kernel about filesystem options (dry_run)
        self.rootfs = None      # the bundle's root.path, absolute
        self.namespaces = set()      # every namespace type of the container (made or joined)
        self.new_namespaces = set()  # the ones made for it
        self.core_hooks = False  # createContainer/startContainer hooks the core runs
        self.seccomp = None     # the compiled seccomp.Filter, or None

    # -- cffi helpers -------------------------------------------------------
    def s(self, text):
        if text is None:
            return self.ffi.NULL
        b = self.ffi.new("char[]", text.encode() if isinstance(text, str) else text)
        self.keep.append(b)
        return b

    def strv(self, items):
        arr = self.ffi.new("char *[]", len(items) + 1)
        for i, t in enumerate(items):
            arr[i] = self.s(t)
        arr[len(items)] = self.ffi.NULL
        self.keep.append(arr)
        return arr

    def array(self, ctype, n):
        a = self.ffi.new("%s[]" % ctype, max(n, 1))
        self.keep.append(a)
        return a

    def close(self):
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def listen_fds():
    """LISTEN_FDS of socket activation: that many fds from 3 go to the container too."""
    v = os.environ.get("LISTEN_FDS", "")
    return int(v) if v.isdigit() else 0


def cgroup_dirs_of(manager_dict):
    """{hierarchy name under /sys/fs/cgroup ('' for a pure v2 host): the container's cgroup dir}."""
    out = {}

    def walk(d):
        if isinstance(d, dict):
            if isinstance(d.get("dir"), str) and isinstance(d.get("mount"), str):
                m = d["mount"].rstrip("/")
                name = "" if m == "/sys/fs/cgroup" else m.rsplit("/", 1)[-1]
                out[name] = d["dir"]
            for v in d.values():
                walk(v)
        elif isinstance(d, list):
            for v in d:
                walk(v)

    walk(manager_dict or {})
    return out


def build(ffi, cfg, bundle, cid, *, sync_fd, parent_sync_fd, fifo_fd, no_pivot=False,
          no_new_keyring=False, preserve_fds=0, cgroup_dirs=None, cache_dir=None, probe_mounts=False):
    """The plan for config `cfg`, which validation.findings() passed; raises
    ConfigError naming the field (validation.refusals(), then what only the
    host can tell: a namespace file, a bind source, a network device)."""
    cfg = validation.checked(cfg)
    p = Plan(ffi)
    p.cache_dir = cache_dir
    p.probe_mounts = probe_mounts
    c = p.c
    linux = cfg.linux

    listen = listen_fds()
    p.preserve_fds = preserve_fds + listen
    floor = 3 + p.preserve_fds
    c.sync_fd = sync_fd
    c.parent_sync_fd = parent_sync_fd
    c.fifo_fd = fifo_fd
    c.preserve_fds = p.preserve_fds

    _namespaces(p, cfg, floor)
    _net_devices(p, linux)
    _intel_rdt(p, linux, cid)
    _names(p, cfg)
    _rootfs(p, cfg, bundle, no_pivot)
    _mounts(p, cfg, bundle, cgroup_dirs)
    _devices(p, linux)
    _paths(p, linux)
    _hooks(p, cfg.hooks)
    _process(p, cfg.process, cid, no_new_keyring, listen)
    _personality(p, linux.get("personality"))
    _memory_policy(p, linux.get("memoryPolicy"))
    _seccomp(p, linux)
    return p


def dry_run(cfg, bundle):
    """What create would refuse in `cfg` before the kernel is involved, as the
    lines create prints ([] when nothing): `validate` runs the very build
    create runs, with nothing spawned, cached or kept, plus a kernel probe of
    filesystem options (a mount would fail with EINVAL on them)."""
    from . import core
    ffi, _lib = core.load()
    try:
        p = build(ffi, cfg, bundle, "validate", sync_fd=-1, parent_sync_fd=-1, fifo_fd=-1, probe_mounts=True)
    except errors.OciError as e:
        return list(e.lines)
    p.close()
    return []


def _seccomp(p, linux):
    """Compile linux.seccomp here, in the parent: the child only loads the bytes
    (after setuid, last before execve; see ocirun.h)."""
    if not linux.get("seccomp"):
        return
    from . import seccomp
    _check_listener(linux["seccomp"])
    if p.cache_dir:
        flt = seccomp.compile_cached(linux["seccomp"], p.cache_dir)
    else:
        flt = seccomp.compile_filter(linux["seccomp"])
    buf = p.ffi.from_buffer(flt.bpf)
    p.keep += [flt.bpf, buf]
    p.c.seccomp_bpf = p.ffi.cast("const uint8_t *", buf)
    p.c.seccomp_bpf_len = len(flt.bpf)
    p.c.seccomp_flags = flt.flags
    p.seccomp = flt


def _check_listener(cfg):
    """A NOTIFY profile's listenerPath must be a socket now: refused before
    anything is compiled, cached or spawned (the send itself comes later)."""
    syscalls = cfg.get("syscalls") if isinstance(cfg, dict) else None
    path = cfg.get("listenerPath") if isinstance(cfg, dict) else None
    if not isinstance(path, str) or not path or not isinstance(syscalls, list):
        return
    if not any(isinstance(r, dict) and r.get("action") == "SCMP_ACT_NOTIFY" for r in syscalls):
        return
    import stat
    try:
        st = os.stat(path)
    except OSError as e:
        raise _err("linux.seccomp.listenerPath", "`%s`: %s" % (path, errors.strerror(e.errno))) from None
    if not stat.S_ISSOCK(st.st_mode):
        raise _err("linux.seccomp.listenerPath", "`%s` is not a socket" % path)


def _namespaces(p, cfg, floor):
    c = p.c
    unshare = 0
    joins = []
    for i, (t, path) in enumerate(cfg.namespaces.items()):
        if path:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a fifo must not hang
            except OSError as e:
                raise _err("linux.namespaces[%d].path" % i,
                           "open `%s`: %s" % (path, errors.strerror(e.errno))) from None
            fd = _high_fd(fd, floor)
            p.fds.append(fd)
            joins.append((0 if t == "user" else 1, NS_FLAGS[t], fd, path))
        else:
            unshare |= NS_FLAGS[t]
    joins.sort(key=lambda j: j[0])  # the user namespace first: it owns the others
    for i, (_, flag, fd, path) in enumerate(joins):
        c.join_fds[i] = fd
        c.join_types[i] = flag
        c.join_paths[i] = p.s(path)
    c.n_join = len(joins)
    c.unshare_flags = unshare
    p.new_userns = bool(unshare & CLONE_NEWUSER)
    c.has_userns = 1 if "user" in cfg.namespaces else 0
    p.namespaces = set(cfg.namespaces)
    p.new_namespaces = {t for t, path in cfg.namespaces.items() if not path}
    linux = cfg.linux
    if p.new_userns:
        p.uid_mappings = linux.get("uidMappings", [])
        p.gid_mappings = linux.get("gidMappings", [])
        if not p.uid_mappings and not p.gid_mappings:
            # tolerated (tolerance.py): the namespace's 0 is ocirun's own uid and gid, as crun does
            p.uid_mappings, p.gid_mappings = tolerance.default_id_maps(os.geteuid(), os.getegid())
            p.unmapped_userns = True
    offs = linux.get("timeOffsets")
    if offs:
        lines = []
        for clock in ("monotonic", "boottime"):
            if clock in offs:
                o = offs[clock]
                lines.append("%s %d %d\n" % (clock, o.get("secs", 0), o.get("nanosecs", 0)))
        c.timens_offsets = p.s("".join(lines))


def _net_devices(p, linux):
    """linux.netDevices: host interfaces the parent moves into the container's
    network namespace (renamed to `name`), once the init has it. Refused here,
    before anything exists, when that cannot be done."""
    devs = linux.get("netDevices", {})
    if not devs:
        return
    import shutil
    import socket
    for tool in ("ip", "nsenter"):
        if not shutil.which(tool):
            raise _err("linux.netDevices", "needs `%s` (iproute2, util-linux) on the host" % tool)
    for host, d in devs.items():
        new = d.get("name") or host
        try:
            socket.if_nametoindex(host)
        except OSError:
            raise _err("linux.netDevices.%s" % host, "no network device %r on the host" % host) from None
        p.net_devices.append((host, new))


def _intel_rdt(p, linux, cid):
    """linux.intelRdt: a resctrl group, made by the parent (lifecycle) once
    the init exists; refused by name where resctrl is not mounted."""
    if "intelRdt" not in linux:
        return
    from . import resctrl
    p.resctrl = resctrl.plan(linux["intelRdt"], cid)


def _names(p, cfg):
    # (a uts namespace joined by path is tolerated, tolerance.py: its names are set)
    if cfg.get("hostname"):
        p.c.hostname = p.s(cfg.get("hostname"))
    if cfg.get("domainname"):
        p.c.domainname = p.s(cfg.get("domainname"))


def _rootfs(p, cfg, bundle, no_pivot):
    rootfs = os.path.normpath(os.path.join(bundle, cfg.root["path"]))
    p.rootfs = rootfs
    c = p.c
    c.rootfs = p.s(rootfs)
    c.no_pivot = 1 if no_pivot else 0
    # The fallback resolver of safepath.c, forced (for its tests): it is used
    # by itself wherever the kernel has no openat2.
    c.no_openat2 = 1 if os.environ.get("OCIRUN_TEST_NO_OPENAT2") == "1" else 0
    c.readonly_root = 1 if cfg.root.get("readonly") else 0
    prop = cfg.linux.get("rootfsPropagation")
    if prop:
        flag = PROPAGATION[prop]  # the spec's forms, or the recursive ones tolerance.py accepts
        if flag & MS_PRIVATE:
            c.root_propagation = MS_PRIVATE | MS_REC
        else:
            c.root_propagation = MS_SLAVE | MS_REC
            if not flag & MS_SLAVE:
                c.rootfs_propagation = flag
    else:
        c.root_propagation = MS_SLAVE | MS_REC


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
            r = syscall(ctypes.c_long(431), ctypes.c_int(fd), ctypes.c_uint(1 if eq else 0), key.encode(),
                        value.encode() if eq else None, ctypes.c_int(0))
            if r < 0:
                err = ctypes.get_errno()
                if err not in (22, 95):  # only EINVAL/EOPNOTSUPP say "this option is wrong"
                    return
                why = _fs_log(fd)
                raise _err("%s.options[%d]" % (field, i), "%r: %s%s" % (
                    opt, errors.strerror(err), (" (%s)" % why) if why else ""))
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


def _mounts(p, cfg, bundle, cgroup_dirs=None):
    entries = []
    for i, m in enumerate(cfg.mounts):
        field = "mounts[%d]" % i
        dest = _norm_dest(m["destination"])
        opts = m.get("options", [])
        flags, _clear, prop, aset, aclr, data, idmap = _parse_options(opts, field + ".options")
        mtype = m.get("type", "")
        src = m.get("source")
        is_bind = bool(flags & MS_BIND) or mtype == "bind"
        if mtype == "cgroup" and not is_bind:
            # Without a cgroup namespace a cgroup mount would show the host's whole
            # tree: bind the container's own cgroup directories instead (as runc).
            own = cgroup_dirs if ("cgroup" not in p.new_namespaces and cgroup_dirs) else None
            entries.extend(dict(e, field=field) for e in _cgroup_mounts(dest, flags, own))
            continue
        e = {"destination": dest, "propagation": prop, "attr_set": aset, "attr_clr": aclr,
             "idmap": idmap, "field": field, "uidMappings": m.get("uidMappings"),
             "gidMappings": m.get("gidMappings"), "is_bind": is_bind}
        if is_bind:
            src = os.path.normpath(os.path.join(bundle, src))
            try:
                os.stat(src)
            except OSError as e:  # refused here, before clone, not as a failed mount in the child
                raise _err(field + ".source", "`%s`: %s" % (m["source"], errors.strerror(e.errno))) from None
            e.update(source=src, fstype=None, data=None, flags=MS_BIND | (flags & MS_REC),
                     remount_flags=flags & ~(MS_BIND | MS_REC | MS_REMOUNT))
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
            e.update(source=src, fstype=mtype or None, data=data or None, flags=flags, remount_flags=0,
                     dest_is_file=False)
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
            p.idmap_mounts.append((e["source"], bool(e["flags"] & MS_REC), e.get("idmap") == "ridmap", maps,
                                   e["field"]))
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
        return {"destination": d, "source": own_dirs[name], "fstype": None, "flags": MS_BIND | MS_REC,
                "remount_flags": base | (flags & MS_RDONLY)}

    if layout and layout[0][1] == "cgroup2" and layout[0][0] == "":
        if own_dirs and "" in own_dirs:
            return [bind(dest, "")]
        return [{"destination": dest, "source": "cgroup2", "fstype": "cgroup2", "flags": flags & ~MS_REC}]
    out = [{"destination": dest, "source": "tmpfs", "fstype": "tmpfs", "data": "mode=755",
            "flags": MS_NOSUID | MS_NODEV | MS_NOEXEC}]
    for name, fstype, data in layout:
        if own_dirs and name in own_dirs:
            out.append(bind(dest + "/" + name, name))
            continue
        out.append({"destination": dest + "/" + name, "source": "cgroup", "fstype": fstype, "data": data,
                    "flags": base | (flags & MS_RDONLY)})
    if flags & MS_RDONLY:
        out.append({"destination": dest, "is_remount": True, "remount_flags": MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC})
    return out


def _devices(p, linux):
    devs = []
    paths = set()
    for i, d in enumerate(linux.get("devices", ())):
        field = "linux.devices[%d]" % i
        path = _norm_dest(d["path"])
        mode = int(d.get("fileMode", 0o666))
        devs.append((path, DEVICE_TYPES[d["type"]] | (mode & 0o7777), int(d.get("major", 0)), int(d.get("minor", 0)),
                     int(d.get("uid", 0)), int(d.get("gid", 0))))
        if p.c.has_userns:
            # no mknod in a user namespace: the parent makes the node as asked
            # (lifecycle._step_device_nodes), the init mounts it
            p.device_nodes.append((len(devs) - 1, field) + devs[-1])
        paths.add(path)
    for path, major, minor in DEFAULT_DEVICES:
        if path not in paths:
            devs.append((path, S_IFCHR | 0o666, major, minor, 0, 0))
    arr = p.array("struct ocirun_device", len(devs))
    for i, (path, mode, major, minor, uid, gid) in enumerate(devs):
        arr[i].path = p.s(path)
        arr[i].mode = mode
        arr[i].major = major
        arr[i].minor = minor
        arr[i].uid = uid
        arr[i].gid = gid
    for e in p.device_nodes:
        arr[e[0]].from_parent = 1
    p.c.devices = arr
    p.c.n_devices = len(devs)
    links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
             ("/proc/self/fd/2", "/dev/stderr")]
    if "/dev/ptmx" not in paths:
        links.append(("pts/ptmx", "/dev/ptmx"))
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    la = p.array("struct ocirun_symlink", len(links))
    for i, (target, path) in enumerate(links):
        la[i].target = p.s(target)
        la[i].path = p.s(path)
    p.c.dev_symlinks = la
    p.c.n_dev_symlinks = len(links)


def _paths(p, linux):
    p.c.masked_paths = p.strv([_norm_dest(x) for x in linux.get("maskedPaths", ())])
    p.c.readonly_paths = p.strv([_norm_dest(x) for x in linux.get("readonlyPaths", ())])
    sysctls = linux.get("sysctl", {})
    arr = p.array("struct ocirun_sysctl", len(sysctls))
    for i, (k, v) in enumerate(sorted(sysctls.items())):
        arr[i].path = p.s("/proc/sys/" + k.replace(".", "/"))
        arr[i].value = p.s(str(v))
    p.c.sysctls = arr
    p.c.n_sysctls = len(sysctls)


def _c_hooks(p, hooks):
    arr = p.array("struct ocirun_hook", len(hooks))
    for i, h in enumerate(hooks):
        path = h["path"]
        arr[i].path = p.s(path)
        arr[i].argv = p.strv(list(h.get("args") or [path]))  # no args, or []: argv[0] is the path
        arr[i].envp = p.strv(list(h.get("env", ())))
        arr[i].timeout = int(h.get("timeout", 0))  # 0: none (the schema wants it >= 1 when given)
    return arr


def _hooks(p, hooks):
    """The hooks the core runs in the container (the others are lifecycle's)."""
    cc = hooks.get("createContainer", [])
    sc = hooks.get("startContainer", [])
    p.c.create_container_hooks = _c_hooks(p, cc)
    p.c.n_create_container_hooks = len(cc)
    p.c.start_container_hooks = _c_hooks(p, sc)
    p.c.n_start_container_hooks = len(sc)
    p.core_hooks = bool(cc or sc)


def _caps(p, caps):
    c = p.c
    avail = cap_bounding()
    last = cap_last_cap()
    c.cap_last_cap = last
    c.set_caps = 1
    warned = set()
    for field, attr in (("bounding", "cap_bounding"), ("effective", "cap_effective"),
                        ("permitted", "cap_permitted"), ("inheritable", "cap_inheritable"),
                        ("ambient", "cap_ambient")):
        mask = 0
        for name in caps.get(field) or []:
            n = CAP_NUMBERS.get(name)
            if n is None or n > last:
                if name not in warned:
                    log.LOG.warning("process.capabilities.%s: unknown capability %s: ignored" % (field, name))
                    warned.add(name)
                continue
            if not (avail >> n) & 1:
                if name not in warned:
                    log.LOG.warning("process.capabilities.%s: %s is not available on this host: ignored" % (field, name))
                    warned.add(name)
                continue
            mask |= 1 << n
        setattr(c, attr, mask)
    # Ambient capabilities that cannot be raised are dropped with a warning (tolerance.py).
    for name in tolerance.ambient_dropped(caps, caps.get("ambient") or ()):
        n = CAP_NUMBERS.get(name)
        if n is not None and (c.cap_ambient >> n) & 1:
            log.LOG.warning("process.capabilities.ambient: " + tolerance.ambient_message(name))
            c.cap_ambient &= ~(1 << n)


def parse_nodes(text, field):
    """'0-3,7' -> the node numbers, for a nodemask."""
    try:
        return _ranges(text, 4096)
    except ValueError:
        raise _err(field, "invalid node list %r" % text) from None


def _memory_policy(p, mp):
    if not mp:
        return
    c = p.c
    value = MPOL_MODES[mp["mode"]]
    for f in mp.get("flags", ()):
        value |= MPOL_FLAGS[f]
    nodes = parse_nodes(mp.get("nodes", ""), "linux.memoryPolicy.nodes")
    c.set_mempolicy = 1
    c.mempolicy_mode = value
    if nodes:
        words = max(nodes) // 64 + 1
        arr = p.array("uint64_t", words)
        for n in nodes:
            arr[n // 64] |= 1 << (n % 64)
        c.mempolicy_nodes = arr
        c.mempolicy_maxnode = words * 64 + 1  # the kernel reads maxnode - 1 bits


def _personality(p, pers):
    if pers:
        p.c.set_personality = 1
        p.c.personality = PERSONALITY_DOMAINS[pers["domain"]]  # (flags: validation.refusals)


def _process(p, proc, cid, no_new_keyring, listen):
    """`process`, of config.json (create) or of `exec` (its process.json or
    flags over the container's recorded process). exec's does not go
    through validation's pass, so what could be wrong in it is checked here."""
    c = p.c
    args = proc.get("args")
    if not args:
        raise _err("process.args", "missing or empty")
    env = list(proc.get("env") or [])
    if listen:
        env = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
        env.append("LISTEN_FDS=%d" % listen)
    c.argv = p.strv(list(args))
    # no HOME: the core fills it from the container's /etc/passwd for the uid
    home = [] if any(e.startswith("HOME=") for e in env) else [b"HOME=" + b"\0" * HOME_ROOM]
    envp = p.strv(env + home + (["LISTEN_PID=" + " " * 20] if listen else []))
    if home:
        c.home_env = envp[len(env)]
    if listen:
        c.listen_pid_env = envp[len(env) + len(home)]
        # fill in what is right for a new pid namespace; the core rewrites it anyway
    c.envp = envp
    path_env = None
    for e in env:
        if e.startswith("PATH="):
            path_env = e[5:]
    c.path_env = p.s(path_env if path_env is not None else DEFAULT_PATH)
    cwd = proc.get("cwd") or "/"
    if not cwd.startswith("/"):
        raise _err("process.cwd", "must be an absolute path, got %r" % cwd)
    c.cwd = p.s(cwd)
    user = proc.get("user") or {}
    c.uid = int(user.get("uid", 0))
    c.gid = int(user.get("gid", 0))
    gids = [int(g) for g in user.get("additionalGids") or []]
    ga = p.array("uint32_t", len(gids))
    for i, g in enumerate(gids):
        ga[i] = g
    c.additional_gids = ga
    c.n_additional_gids = len(gids)
    c.umask = int(user["umask"]) if user.get("umask") is not None else -1
    rl = proc.get("rlimits") or []
    ra = p.array("struct ocirun_rlimit", len(rl))
    for i, r in enumerate(rl):
        t = r.get("type")
        if t not in RLIMITS:
            raise _err("process.rlimits[%d].type" % i, "unknown rlimit %r" % t)
        ra[i].name = p.s(t)
        ra[i].resource = RLIMITS[t]
        ra[i].soft = int(r.get("soft", 0))
        ra[i].hard = int(r.get("hard", 0))
    c.rlimits = ra
    c.n_rlimits = len(rl)
    if proc.get("oomScoreAdj") is not None:
        c.set_oom_score_adj = 1
        c.oom_score_adj = int(proc["oomScoreAdj"])
    c.no_new_privileges = 1 if proc.get("noNewPrivileges") else 0
    if proc.get("capabilities") is not None:
        _caps(p, proc["capabilities"])
    sched = proc.get("scheduler")
    if sched:
        pol = sched.get("policy")
        if pol not in SCHED_POLICIES:
            raise _err("process.scheduler.policy", "unknown policy %r" % pol)
        c.set_scheduler = 1
        c.sched_policy = SCHED_POLICIES[pol]
        c.sched_nice = int(sched.get("nice", 0))
        c.sched_priority = int(sched.get("priority", 0))
        fl = 0
        for f in sched.get("flags") or []:
            if f not in SCHED_FLAGS:
                raise _err("process.scheduler.flags", "unknown flag %r" % f)
            fl |= SCHED_FLAGS[f]
        c.sched_flags = fl
        c.sched_runtime = int(sched.get("runtime", 0))
        c.sched_deadline = int(sched.get("deadline", 0))
        c.sched_period = int(sched.get("period", 0))
    io = proc.get("ioPriority")
    if io:
        cls = io.get("class")
        if cls not in IOPRIO_CLASSES:
            raise _err("process.ioPriority.class", "unknown class %r" % cls)
        c.set_ioprio = 1
        c.ioprio = (IOPRIO_CLASSES[cls] << 13) | int(io.get("priority", 0))
    aff = proc.get("execCPUAffinity")
    if aff:
        for key, attr in (("initial", "cpu_affinity_initial"), ("final", "cpu_affinity_final")):
            if aff.get(key):
                b = parse_cpus(aff[key], "process.execCPUAffinity." + key)
                buf = p.ffi.new("uint8_t[]", b)
                p.keep.append(buf)
                setattr(c, attr, buf)
                setattr(c, attr + "_len", len(b))
    if proc.get("apparmorProfile"):
        if not os.path.isdir("/sys/kernel/security/apparmor"):
            raise _err("process.apparmorProfile", "apparmor is not enabled on this system")
        c.apparmor_profile = p.s(proc["apparmorProfile"])
    if proc.get("selinuxLabel"):
        if not os.path.isdir("/sys/fs/selinux") or not os.path.exists("/sys/fs/selinux/enforce"):
            raise _err("process.selinuxLabel", "selinux is not enabled on this system")
        c.selinux_label = p.s(proc["selinuxLabel"])
    if not no_new_keyring:
        c.session_keyring = p.s(cid)
    p.terminal = bool(proc.get("terminal"))
    c.terminal = 1 if p.terminal else 0


def _pidfd_alive(pidfd):
    import select
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return not poller.poll(0)  # a pidfd turns readable when its process exits


def build_tenant(ffi, proc, cid, init_pid, *, sync_fd, parent_sync_fd, preserve_fds=0, linux=None,
                 init_pidfd=None, must_join=("mount",)):
    """The plan of `ocirun exec`: join every namespace of the container's init
    that differs from ours, then set up `proc` (a config.json `process`).

    Every namespace file is opened from /proc/<init_pid>, and only then is the
    init (held by `init_pidfd`) checked to be still alive: the fds are then
    the init's own namespaces, not those of a dead or reused pid. A namespace
    that cannot be opened is an error, never a skip (that would run the
    process in ours: on the host); one of `must_join` (the namespaces create
    made) that is ours is an error too."""
    p = Plan(ffi)
    try:
        return _build_tenant(p, proc, cid, init_pid, sync_fd, parent_sync_fd, preserve_fds, linux or {},
                             init_pidfd, set(must_join))
    except BaseException:
        p.close()
        raise


def _build_tenant(p, proc, cid, init_pid, sync_fd, parent_sync_fd, preserve_fds, linux, init_pidfd, must_join):
    c = p.c
    listen = listen_fds()
    p.preserve_fds = preserve_fds + listen
    floor = 3 + p.preserve_fds
    c.tenant = 1
    c.sync_fd = sync_fd
    c.parent_sync_fd = parent_sync_fd
    c.fifo_fd = -1
    c.preserve_fds = p.preserve_fds
    gone = errors.OciError("cannot exec in a stopped container (its init %d exited)" % init_pid)
    joins = []
    for t, f in NS_FILES.items():
        path = "/proc/%d/ns/%s" % (init_pid, f)
        try:
            mine = os.stat("/proc/self/ns/" + f)
        except FileNotFoundError:
            if t in must_join:
                raise errors.OciError("cannot exec: this kernel has no %s namespace (`/proc/self/ns/%s`)" % (t, f)) from None
            continue  # a namespace type this kernel does not have
        try:
            # pid and time: the namespace children go to (for_children) is what counts
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, ProcessLookupError):
            raise gone from None
        except OSError as e:
            raise errors.OciError("cannot exec: open `%s`: %s" % (path, errors.strerror(e.errno))) from None
        fd = _high_fd(fd, floor)
        p.fds.append(fd)
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
            if t in must_join:
                raise errors.OciError("cannot exec: the container's %s namespace (`%s`) is ocirun's own" % (t, path))
            p.fds.remove(fd)
            os.close(fd)
            continue  # shared with us: nothing to join
        joins.append((0 if t == "user" else 1, NS_FLAGS[t], fd, path))
    if init_pidfd is not None and not _pidfd_alive(init_pidfd):
        raise gone
    joins.sort(key=lambda j: j[0])
    for i, (_, flag, fd, path) in enumerate(joins):
        c.join_fds[i] = fd
        c.join_types[i] = flag
        c.join_paths[i] = p.s(path)
    c.n_join = len(joins)
    c.has_userns = 1 if any(j[1] == CLONE_NEWUSER for j in joins) else 0
    _process(p, proc, cid, True, listen)
    _seccomp(p, linux)
    return p
