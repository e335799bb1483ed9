"""The validated config, flattened into the C core's `struct ocirun_plan`.

Everything the child needs is decided here, before clone: strings encoded,
paths resolved against the bundle, mount options turned into flags, namespace
fds opened, capability names turned into masks. The C side only applies what
it is given. Every cffi buffer is kept referenced by the Plan for as long as
the Plan lives (the child works on a copy of this memory).

The config is validation.py's checked one (validation.checked): plan.py
translates and trusts it. What it refuses is what only the host can tell (a
namespace file, a bind source, a network device), one line naming the field:
`mounts[2].source: `/x`: ENOENT (...)`. mounts.py fills the mounts and
process.py the process (which is also exec's, built by build_tenant).
"""

import os

from . import errors, mounts, process, tolerance, validation
from .linux import CLONE_NEWUSER, DEVICE_TYPES, MS_PRIVATE, MS_REC, MS_SLAVE, NS_FILES, NS_FLAGS, PROPAGATION, S_IFCHR
from .mounts import norm_dest

DEFAULT_DEVICES = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
]


def FEATURES():
    """The mount options the plan acts on and the memory policies this kernel takes, for the features document."""
    return {"mountOptions": mounts.option_names(), "idmap": True, "memoryPolicy": process.memory_policy_features()}


def _err(field, msg):
    return errors.ConfigError(["%s: %s" % (field, msg)])


def _high_fd(fd, floor):
    """Our fds must sit above the preserved range 3..3+N-1 (dup them up)."""
    if fd >= floor:
        return fd
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return new


class Plan:
    """A built plan: `c` is the `struct ocirun_plan *`; the rest is what Python needs."""

    def __init__(self, ffi):
        self.ffi = ffi
        self.keep = []  # every cdata the plan points into
        self.fds = []  # fds opened for the child; closed once it has them
        self.c = ffi.new("struct ocirun_plan *")
        self.new_userns = False
        self.uid_mappings = []
        self.gid_mappings = []
        self.unmapped_userns = False  # a new user ns without maps in config.json (tolerance.py)
        self.terminal = False
        self.preserve_fds = 0
        self.idmap_mounts = []  # (source, recursive tree, recursive idmap, own maps, field), in mount order
        self.net_devices = []  # (host name, name in the container), moved by the parent before GO
        self.resctrl = None  # linux.intelRdt: resctrl.plan()'s dict, applied by the parent before GO
        self.device_nodes = []  # (index, field, path, mode, major, minor, uid, gid): userns devices the parent makes
        self.cache_dir = None  # where compiled seccomp filters are kept (the state root's .cache)
        self.probe_mounts = False  # validate: ask the kernel about filesystem options (dry_run)
        self.rootfs = None  # the bundle's root.path, absolute
        self.namespaces = set()  # every namespace type of the container (made or joined)
        self.new_namespaces = set()  # the ones made for it
        self.core_hooks = False  # createContainer/startContainer hooks the core runs
        self.seccomp = None  # the compiled seccomp.Filter, or None
        self.rootless = False  # unprivileged runtime (rootless.py): linux.devices are binds of the host's

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


def build(
    ffi,
    cfg,
    bundle,
    cid,
    *,
    sync_fd,
    parent_sync_fd,
    fifo_fd,
    no_pivot=False,
    no_new_keyring=False,
    preserve_fds=0,
    cgroup_dirs=None,
    cache_dir=None,
    probe_mounts=False,
    rootless=False,
):
    """The plan for config `cfg`, which validation.findings() passed; raises
    ConfigError naming the field (validation.refusals(), then what only the
    host can tell: a namespace file, a bind source, a network device).
    rootless: the runtime is unprivileged (rootless.py adapted cfg already)."""
    cfg = validation.checked(cfg)
    p = Plan(ffi)
    p.rootless = rootless
    p.c.rootless = 1 if rootless else 0
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
    mounts.fill(p, cfg, bundle, cgroup_dirs)
    _devices(p, linux)
    _paths(p, linux)
    _hooks(p, cfg.hooks)
    process.fill(p, cfg.process, cid, no_new_keyring, listen)
    process.personality(p, linux.get("personality"))
    process.memory_policy(p, linux.get("memoryPolicy"))
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
                raise _err(
                    "linux.namespaces[%d].path" % i, "open `%s`: %s" % (path, errors.strerror(e.errno))
                ) from None
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


def _devices(p, linux):
    devs = []
    paths = set()
    for i, d in enumerate(linux.get("devices", ())):
        field = "linux.devices[%d]" % i
        path = norm_dest(d["path"])
        mode = int(d.get("fileMode", 0o666))
        devs.append(
            (
                path,
                DEVICE_TYPES[d["type"]] | (mode & 0o7777),
                int(d.get("major", 0)),
                int(d.get("minor", 0)),
                int(d.get("uid", 0)),
                int(d.get("gid", 0)),
            )
        )
        if p.c.has_userns and not p.rootless:
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
    links = [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ]
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
    p.c.masked_paths = p.strv([norm_dest(x) for x in linux.get("maskedPaths", ())])
    p.c.readonly_paths = p.strv([norm_dest(x) for x in linux.get("readonlyPaths", ())])
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


def _pidfd_alive(pidfd):
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return not poller.poll(0)  # a pidfd turns readable when its process exits


def build_tenant(
    ffi,
    proc,
    cid,
    init_pid,
    *,
    sync_fd,
    parent_sync_fd,
    preserve_fds=0,
    linux=None,
    init_pidfd=None,
    must_join=("mount",),
    rootless=False,
):
    """The plan of `ocirun exec`: join every namespace of the container's init
    that differs from ours, then set up `proc` (a config.json `process`).

    Every namespace file is opened from /proc/<init_pid>, and only then is the
    init (held by `init_pidfd`) checked to be still alive: the fds are then
    the init's own namespaces, not those of a dead or reused pid. A namespace
    that cannot be opened is an error, never a skip (that would run the
    process in ours: on the host); one of `must_join` (the namespaces create
    made) that is ours is an error too."""
    p = Plan(ffi)
    p.c.rootless = 1 if rootless else 0  # (rootless.py) the trampoline is made in the container's namespaces
    try:
        return _build_tenant(
            p, proc, cid, init_pid, sync_fd, parent_sync_fd, preserve_fds, linux or {}, init_pidfd, set(must_join)
        )
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
                raise errors.OciError(
                    "cannot exec: this kernel has no %s namespace (`/proc/self/ns/%s`)" % (t, f)
                ) from None
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
    process.fill(p, proc, cid, True, listen)
    _seccomp(p, linux)
    return p
