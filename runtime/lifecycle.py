"""The container lifecycle, parent side: create, start, kill, delete, wait.

`create` drives the handshake with the core over the sync socket (the
protocol is drawn at the top of runtime/core/sync.c), one `_step_*` function
per exchange. Everything it makes (state dir, fifo, cgroup, processes) is
registered on one ExitStack, so any failure, including a child's report
(`mounts: mount `proc` on `/proc`: EPERM (...)`), undoes all of it.

start/kill/delete are hot (engines call them all the time): this module
imports only os, time and the state store at load; cffi, subprocess and the
cgroup code come in only when a step needs them.
"""

import os
import stat
import time

from . import errors, log
from .state import CREATED, CREATING, FIFO, PAUSED, RUNNING, STOPPED, atomic_write_path, rfc3339_now

# Linux signal numbers, without importing `signal` (and `enum` with it).
SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
    "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
    "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
    "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}
SIGKILL, SIGTERM = 9, 15
SECCOMP_PROFILE = "seccomp.json"  # in the state dir: the profile `exec` applies too

# What the lifecycle implements, for the features document (cli/features.py
# intersects the namespaces with the kernel's). apparmor/selinux: applied
# when the kernel has them, a clear error when asked for and absent.
FEATURES = {
    "namespaces": ("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"),
    "hooks": ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"),
    "apparmor": True, "selinux": True, "netDevices": True,
}


def parse_signal(text):
    """`KILL`, `SIGKILL`, `9`, `RTMIN+3` -> 9 ...; OciError otherwise."""
    t = text.strip()
    if t.isdigit() and t.isascii():  # str.isdigit() is true of `²` too
        n = int(t)
        if 0 <= n <= 64:  # 0: no signal, the existence check of kill(2)
            return n
        raise errors.OciError("invalid signal %r" % text)
    u = t.upper()
    if u.startswith("SIG"):
        u = u[3:]
    if u in SIGNALS:
        return SIGNALS[u]
    if u.startswith("RTMIN") or u.startswith("RTMAX"):
        base, _, off = u[5:].partition("+") if u.startswith("RTMIN") else u[5:].partition("-")
        if not base and (not off or (off.isdigit() and off.isascii())):
            n = 34 + int(off or 0) if u.startswith("RTMIN") else 64 - int(off or 0)
            if 34 <= n <= 64:
                return n
    raise errors.OciError("invalid signal %r" % text)


# ---------------------------------------------------------------------------
# create
# ---------------------------------------------------------------------------

class Channel:
    """The parent's end of the sync socket, reading `struct ocirun_msg` records."""

    def __init__(self, ffi, lib, sock, who):
        self.ffi, self.lib, self.sock = ffi, lib, sock
        self.size = ffi.sizeof("struct ocirun_msg")
        self.who = who  # pid whose death EOF means

    def send(self, mtype, fd=None):
        import _socket as socket
        msg = self.ffi.new("struct ocirun_msg *")
        msg.type = mtype
        data = bytes(self.ffi.buffer(msg))
        anc = []
        if fd is not None:
            import array
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]).tobytes())]
        try:
            self.sock.sendmsg([data], anc)
            log.LOG.debug("sync: sent %s%s", _MSG_NAMES.get(mtype, mtype), " with an fd" if fd is not None else "")
        except OSError as e:
            raise errors.CoreError(e.errno, "sync", "send %s to the container" % _MSG_NAMES.get(mtype, mtype)) from None

    def wait(self, want, step):
        """The next record, which must be `want`; returns (msg, fd or None)."""
        import _socket as socket
        while True:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(self.size, socket.CMSG_SPACE(4))
            except InterruptedError:
                continue
            fd = None
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS and len(payload) >= 4:
                    fd = int.from_bytes(payload[:4], "little")
            if not data:
                raise errors.OciError("the container's init exited during %s%s" % (step, self._exit_note()))
            msg = self.ffi.new("struct ocirun_msg *")
            self.ffi.memmove(msg, data, min(len(data), self.size))
            if msg.type == self.lib.OCIRUN_MSG_WARNING:
                log.LOG.warning(self.ffi.string(msg.text).decode(errors="replace"))
                continue
            if msg.type == self.lib.OCIRUN_MSG_ERROR:
                if fd is not None:
                    os.close(fd)
                stage = self.ffi.string(self.lib.ocirun_stage_name(msg.stage)).decode()
                raise errors.CoreError(msg.err_no, stage, self.ffi.string(msg.text).decode(errors="replace"))
            if msg.type != want:
                if fd is not None:
                    os.close(fd)
                raise errors.CoreError(0, "sync", "expected %s during %s, got %s" % (
                    _MSG_NAMES.get(want, want), step, _MSG_NAMES.get(msg.type, msg.type)))
            log.LOG.debug("sync: received %s (%s)", _MSG_NAMES.get(msg.type, msg.type), step)
            return msg, fd

    def _exit_note(self):
        pid = self.who
        if pid is None or pid in _REAPED:
            return ""
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return ""
        if got == pid:
            _REAPED.add(pid)
            self.who = None
            code = os.waitstatus_to_exitcode(status)
            return " (exit status %d)" % code if code >= 0 else " (killed by signal %d)" % -code
        return ""


_MSG_NAMES = {1: "GO", 2: "USERNS", 3: "MAPS_DONE", 4: "INIT_PID", 5: "HOOKS", 6: "HOOKS_DONE",
              7: "TERMINAL", 8: "READY", 9: "ERROR", 10: "WARNING", 11: "MOUNT_FD", 12: "SECCOMP_FD"}


REALTIME_POLICIES = ("SCHED_FIFO", "SCHED_RR")


def _prepare_realtime(mgr, proc, linux):
    """A real-time process.scheduler policy needs a budget in the cgroup first."""
    if ((proc or {}).get("scheduler") or {}).get("policy") not in REALTIME_POLICIES:
        return
    cpu = ((linux.get("resources") or {}).get("cpu") or {})
    runtime = cpu.get("realtimeRuntime")
    mgr.prepare_realtime("process.scheduler.policy", runtime if isinstance(runtime, int) and runtime > 0 else None)


def _step_cgroup(ch, mgr, setup_pid, linux, proc=None):
    """The setup process waits; put it in the cgroup (before any cgroup ns) and go."""
    if mgr is not None:
        mgr.create()
        # A cgroup with processes or frozen belongs to someone else (another
        # container's cgroupsPath): joining it would share its kill --all, or hang.
        mgr.check_unused()
        _prepare_realtime(mgr, proc, linux)
        mgr.join(setup_pid)
        mgr.apply(linux.get("resources") or {})
        log.LOG.debug("cgroup made, resources applied, setup process %d added", setup_pid)
    ch.send(ch.lib.OCIRUN_MSG_GO)


def _write_map(pid, name, mappings):
    lines = "".join("%d %d %d\n" % (int(m["containerID"]), int(m["hostID"]), int(m["size"])) for m in mappings)
    path = "/proc/%d/%s" % (pid, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)
    except OSError as e:
        field = "linux.uidMappings" if name == "uid_map" else "linux.gidMappings"
        raise errors.CoreError(e.errno, "user namespace", "write %s %r to `%s`" % (field, lines.strip(), path)) from None


def _step_id_maps(ch, setup_pid, plan):
    ch.wait(ch.lib.OCIRUN_MSG_USERNS, "user namespace setup")
    if plan.gid_mappings:
        _write_map(setup_pid, "gid_map", plan.gid_mappings)
    if plan.uid_mappings:
        _write_map(setup_pid, "uid_map", plan.uid_mappings)
    ch.send(ch.lib.OCIRUN_MSG_MAPS_DONE)


def _step_init_pid(ch):
    msg, _ = ch.wait(ch.lib.OCIRUN_MSG_INIT_PID, "namespace setup")
    return msg.pid


def _step_idmapped_trees(ch, plan, init_pid):
    """idmapped mounts need privilege over the filesystem, which the container
    has not: make each tree here, send it down, the init attaches it."""
    if not plan.idmap_mounts:
        return
    userns = -1
    if any(maps is None for _s, _r, _i, maps, _f in plan.idmap_mounts):
        userns = os.open("/proc/%d/ns/user" % init_pid, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for source, recursive, ridmap, maps, field in plan.idmap_mounts:
            err = ch.ffi.new("struct ocirun_error *")
            own = -1
            if maps:  # the mount's own mappings: a user namespace of its own
                own = ch.lib.ocirun_mapped_userns(maps[0].encode(), maps[1].encode(), field.encode(), err)
                if own < 0:
                    raise errors.CoreError(err.err_no, "mounts", ch.ffi.string(err.msg).decode(errors="replace"))
            try:
                fd = ch.lib.ocirun_idmapped_tree(source.encode(), own if own >= 0 else userns, recursive, ridmap,
                                                 err)
            finally:
                if own >= 0:
                    os.close(own)
            if fd < 0:
                raise errors.CoreError(err.err_no, "mounts", ch.ffi.string(err.msg).decode(errors="replace"))
            try:
                ch.send(ch.lib.OCIRUN_MSG_MOUNT_FD, fd)
            finally:
                os.close(fd)
    finally:
        if userns >= 0:
            os.close(userns)


NET_TIMEOUT = 30  # seconds one `ip` call may take on a loaded host


def _ip(args, field, what, netns_pid=None):
    """One iproute2 call (in the init's network namespace with netns_pid);
    its output, or a CoreError naming the field with ip's own line."""
    import subprocess
    cmd = (["nsenter", "--net=/proc/%d/ns/net" % netns_pid, "--"] if netns_pid else []) + ["ip"] + args
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=NET_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise errors.CoreError(110, "network devices", "%s: %s: `ip` did not finish in %ds"
                               % (field, what, NET_TIMEOUT)) from None
    except OSError as e:
        raise errors.CoreError(e.errno, "network devices", "%s: %s: run `%s`" % (field, what, cmd[0])) from None
    if r.returncode != 0:
        line = (r.stderr.decode(errors="replace").strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        raise errors.CoreError(0, "network devices", "%s: %s: %s" % (field, what, line))
    return r.stdout.decode(errors="replace")


def _step_net_devices(plan, init_pid):
    """linux.netDevices: each host interface moves into the init's network
    namespace under its new name in one netlink request (move and rename
    together, so no name clash in between), then gets back the addresses and
    up state the move took from it. When the namespace dies the kernel
    returns physical devices to the host and deletes virtual ones."""
    import json
    for host, new in plan.net_devices:
        field = "linux.netDevices.%s" % host
        info = json.loads(_ip(["-j", "addr", "show", "dev", host], field, "read its addresses") or "[]")
        info = info[0] if info else {}
        addrs = [a for a in info.get("addr_info", ()) if a.get("scope") != "link" and a.get("local")]
        _ip(["link", "set", "dev", host, "netns", str(init_pid), "name", new], field,
            "move into the container's network namespace as %r" % new)
        for a in addrs:
            _ip(["addr", "add", "%s/%s" % (a["local"], a.get("prefixlen")), "dev", new], field,
                "restore address %s/%s" % (a["local"], a.get("prefixlen")), netns_pid=init_pid)
        if "UP" in info.get("flags", ()):
            _ip(["link", "set", "dev", new, "up"], field, "set it up again", netns_pid=init_pid)
        log.LOG.debug("network device %s moved into the container as %s", host, new)


def _host_id(init_pid, which, cid_, field):
    """The host id of container id `cid_` in the init's user namespace map."""
    with open("/proc/%d/%s" % (init_pid, which)) as f:
        for line in f:
            inside, outside, size = (int(x) for x in line.split())
            if inside <= cid_ < inside + size:
                return outside + cid_ - inside
    raise errors.ConfigError(["%s: %d is not mapped in the container's user namespace" % (field, cid_)])


def _step_device_nodes(ch, plan, init_pid):
    """linux.devices in a user namespace: each node made here as asked (its
    owners mapped to the host's ids), sent down after the idmapped trees."""
    for _i, field, path, mode, major, minor, uid, gid in plan.device_nodes:
        huid = _host_id(init_pid, "uid_map", uid, field + ".uid")
        hgid = _host_id(init_pid, "gid_map", gid, field + ".gid")
        err = ch.ffi.new("struct ocirun_error *")
        fd = ch.lib.ocirun_device_node(path.encode(), mode, major, minor, huid, hgid, err)
        if fd < 0:
            raise errors.CoreError(err.err_no, "devices", ch.ffi.string(err.msg).decode(errors="replace"))
        try:
            ch.send(ch.lib.OCIRUN_MSG_MOUNT_FD, fd)
        finally:
            os.close(fd)


def _step_hooks(ch, c, hooks, core_hooks, init_pid):
    """Rootfs ready, before pivot_root: prestart and createRuntime, here."""
    from . import hooks as hookmod
    ch.wait(ch.lib.OCIRUN_MSG_HOOKS, "rootfs setup")
    if log.LOG.debug_enabled and core_hooks:
        log.LOG.debug("hooks run in the container: %s", _hook_names(hooks))
    state = hookmod.state_json(c.data, CREATING, init_pid)
    hookmod.run_hooks(hooks.get("prestart"), "prestart", state)
    hookmod.run_hooks(hooks.get("createRuntime"), "createRuntime", state)
    fd = None
    if core_hooks:
        # createContainer and startContainer run in the container's namespaces:
        # their state carries the pid as seen there (runtime.md#state)
        fd = hookmod.memfd_with(hookmod.state_json(c.data, CREATED, _pid_in_container(init_pid)))
    try:
        ch.send(ch.lib.OCIRUN_MSG_HOOKS_DONE, fd)
    finally:
        if fd is not None:
            os.close(fd)


def _hook_names(hooks):
    """`name `path`` of each hook the core runs (createContainer, startContainer)."""
    return ", ".join("%s `%s`" % (k, h.get("path")) for k in ("createContainer", "startContainer")
                     for h in (hooks.get(k) or ()))


def _pid_in_container(pid):
    """`pid` in its own (innermost) pid namespace: 1 in a new one; the last
    NSpid field of /proc/PID/status. The host pid when that cannot be read."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return pid


def _step_terminal(ch, proc, console, undo):
    """The init sent its pty master: size it, then hand it to the console
    socket (returns None) or keep it for `run`'s proxy (returns the fd)."""
    _, master = ch.wait(ch.lib.OCIRUN_MSG_TERMINAL, "terminal setup")
    if master is None:
        raise errors.CoreError(0, "terminal", "the container sent no pty master")
    from . import terminal
    try:
        # consoleSize is the start; a foreground `run` then follows its own terminal (Proxy)
        terminal.set_size(master, proc.get("consoleSize"))
        if console is not None:
            terminal.send_master(console, master)
    except BaseException:
        os.close(master)
        raise
    if console is not None:
        os.close(master)
        return None
    undo.callback(os.close, master)
    return master


def _step_seccomp_listener(ch, flt, state, pid=None):
    """SCMP_ACT_NOTIFY: the child loaded its filter and sent the listener up;
    hand it to the agent at listenerPath. A failed send fails the operation."""
    if flt is None or not flt.needs_listener:
        return
    _, fd = ch.wait(ch.lib.OCIRUN_MSG_SECCOMP_FD, "seccomp setup")
    if fd is None:
        raise errors.CoreError(0, "seccomp", "the container sent no seccomp listener fd")
    from . import seccomp
    try:
        seccomp.send_listener_fd(flt.listener_path, fd, state, flt.listener_metadata, pid)
    finally:
        os.close(fd)  # the agent has its own now; the container never had a copy


def _oci_state(data, status, pid):
    st = {"ociVersion": data.get("ociVersion", ""), "id": data.get("id", ""), "status": status,
          "pid": pid, "bundle": data.get("bundle", "")}
    if data.get("annotations"):
        st["annotations"] = data["annotations"]
    return st


def _step_ready(ch):
    ch.wait(ch.lib.OCIRUN_MSG_READY, "process setup")


_REAPED = set()  # our children already waited for: their pids may belong to anyone now


def _reap(pid):
    if pid in _REAPED:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    _REAPED.add(pid)


def _kill_and_reap(pid):
    """Undo step for a child we spawned; never signals a pid once reaped (reuse)."""
    if pid in _REAPED:
        return
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _listen_fds():
    from .plan import listen_fds
    return listen_fds()


def _fill_preserved_range(floor):
    """fds 3..floor-1 go to the container as they are: any hole there must be
    plugged (with /dev/null) before ocirun opens anything, or its own state
    dir or socket would land in the hole and leak into the container."""
    limit = os.sysconf("SC_OPEN_MAX")  # RLIMIT_NOFILE: no fd at or above it can exist
    if floor < 3 or floor > limit:
        raise errors.UsageError("invalid --preserve-fds %d: fds 3 to %d (with LISTEN_FDS) must stay below the "
                                 "open files limit %d" % (floor - 3 - _listen_fds(), floor - 1, limit))
    for fd in range(3, floor):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd, inheritable=False)
                os.close(null)


def plug_preserved_fds(preserve_fds):
    """`exec`'s first step, before it opens anything: plug 3..3+N-1 (+ LISTEN_FDS)."""
    from . import plan as planmod
    if preserve_fds is not None and preserve_fds < 0:
        raise errors.UsageError("--preserve-fds: want a number >= 0, got %d" % preserve_fds)
    _fill_preserved_range(3 + (preserve_fds or 0) + planmod.listen_fds())


def _check_cgroup_nesting(store, cid, mine):
    """A cgroup inside another container's cgroup (or holding it) is that
    container's business: its pause, kill --all and delete would reach ours,
    or ours would reach it. Refused for the containers of this --root."""
    from .plan import cgroup_dirs_of
    ours = set(cgroup_dirs_of(mine).values())
    for other in store.ids():
        if other == cid:
            continue
        try:
            with store.load(other) as o:
                theirs = set(cgroup_dirs_of(o.data.get("cgroup")).values())
        except errors.OciError:
            continue
        for a in ours:
            for b in theirs:
                if a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/"):
                    raise errors.OciError("container's cgroup `%s` is nested with container `%s`'s cgroup `%s`: "
                                          "refusing to share it" % (a, other, b))


def write_pid_file(path, pid):
    try:
        atomic_write_path(path, str(pid).encode())
    except OSError as e:
        raise errors.pid_file_error(path, e.errno) from None


def _make_fifo(c):
    path = c.path(FIFO)
    old = os.umask(0)
    try:
        os.mkfifo(path, 0o622)
    finally:
        os.umask(old)
    return os.open(path, os.O_PATH | os.O_CLOEXEC)


def create(ctx, cid, bundle, config=None, pid_file=None, console_socket=None, no_pivot=False,
           no_new_keyring=False, preserve_fds=0, detach=True, mask_on_return=False, pidfd_socket=None):
    """Create container `cid`; returns (Container, init pid, pty master fd or None).

    The init is left blocked on exec.fifo. The Container stays locked.
    mask_on_return (run): HUP, INT and TERM are blocked from the moment the
    undo steps are dropped; the caller unblocks them once it owns the cleanup.
    """
    import _socket as socket
    from . import core, plan as planmod, spec
    from .state import check_id

    check_id(cid)
    _fill_preserved_range(3 + preserve_fds + planmod.listen_fds())
    bundle = os.path.abspath(bundle or ".")
    cfg = spec.load_config(bundle, config)
    log.LOG.debug("create %s: %s/%s loaded and validated", cid, bundle, config or "config.json")
    # Before anything is made: the container's processes fork from a sealed image (sealed.py).
    from . import sealed
    sealed.ensure()
    proc = cfg.get("process") or {}
    linux = cfg.get("linux") or {}
    if proc.get("terminal") and not console_socket and detach:
        raise errors.OciError("cannot allocate tty if ocirun will detach without setting console socket")
    if console_socket and not proc.get("terminal"):
        raise errors.OciError("cannot use console socket if ocirun will not detach or allocate tty")
    console = None
    if console_socket:
        from . import terminal
        console = terminal.connect_console(console_socket)
    pidfd_sock = None
    if pidfd_socket:
        from . import terminal
        try:
            pidfd_sock = terminal.connect_unix(pidfd_socket, "pidfd socket")
        except BaseException:
            if console is not None:
                console.close()
            raise
    ffi, lib = core.load()
    from . import cgroups
    hooks = cfg.get("hooks") or {}

    with _Undo() as undo:
        if console is not None:
            undo.callback(console.close)
        if pidfd_sock is not None:
            undo.callback(pidfd_sock.close)
        data = {
            "ociVersion": cfg.get("ociVersion", ""), "status": CREATING, "pid": 0,
            "bundle": bundle, "rootfs": os.path.normpath(os.path.join(bundle, (cfg.get("root") or {}).get("path", ""))),
            "created": rfc3339_now(), "owner": "",
            "annotations": cfg.get("annotations") or {},
            "hooks": {k: hooks[k] for k in ("poststart", "poststop") if hooks.get(k)},
        }
        mgr = cgroups.open_manager(cid, linux, cgroups.check_driver(ctx.gopts.cgroup_manager, ctx.gopts.systemd_cgroup))
        if mgr is not None:
            # in the very first state.json: a create killed midway leaves
            # `delete --force` what it needs to remove the cgroup
            data["cgroup"] = mgr.to_dict()
            _check_cgroup_nesting(ctx.store, cid, data["cgroup"])
        c = ctx.store.create(cid, data)
        undo.callback(c.destroy)
        _write_recovery(c, 0, None, data.get("cgroup"))
        notify_host = os.environ.get("NOTIFY_SOCKET")
        if notify_host:
            cfg = _notify_setup(c, cfg, notify_host)
            proc = cfg.get("process") or {}
        if mgr is not None:
            undo.callback(mgr.destroy)
        if linux.get("seccomp"):
            # `exec` confines its process the same way. Beside state.json, not
            # in it: hot commands read state.json, and a profile is ~20 KB.
            from . import fastjson
            atomic_write_path(c.path(SECCOMP_PROFILE), fastjson.dumps(linux["seccomp"]).encode())
        # What `exec` inherits (user, capabilities, noNewPrivileges, rlimits,
        # labels, env, cwd): from this record, never from the bundle, which
        # may have changed since.
        from . import fastjson
        from .state import PROCESS_RECORD
        c.write_record(PROCESS_RECORD, fastjson.dumps(
            {k: v for k, v in proc.items() if k not in ("args", "commandLine", "terminal", "consoleSize")}).encode())
        fifo_fd = _make_fifo(c)
        log.LOG.debug("exec fifo `%s` made", c.path(FIFO))
        undo.callback(os.close, fifo_fd)
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        undo.callback(parent_sock.close)
        floor = 3 + preserve_fds + planmod.listen_fds()
        child_fd = planmod._high_fd(child_sock.detach(), floor)
        parent_fd = planmod._high_fd(os.dup(parent_sock.fileno()), floor)
        fifo_hi = planmod._high_fd(os.dup(fifo_fd), floor)
        p = planmod.build(ffi, cfg, bundle, cid, sync_fd=child_fd, parent_sync_fd=parent_fd, fifo_fd=fifo_hi,
                          no_pivot=no_pivot, no_new_keyring=no_new_keyring, preserve_fds=preserve_fds,
                          cgroup_dirs=planmod.cgroup_dirs_of(data.get("cgroup")),
                          cache_dir=os.path.join(ctx.store.root, ".cache"))
        p.fds += [child_fd, parent_fd, fifo_hi]
        undo.callback(p.close)
        c.data["namespaces"] = sorted(p.new_namespaces)
        err = ffi.new("struct ocirun_error *")
        _block_signals(True)   # (run) no interruption between the spawn and its undo
        try:
            setup_pid = lib.ocirun_spawn(p.c, err)
            if setup_pid >= 0:
                undo.callback(_kill_and_reap, setup_pid)
        finally:
            _block_signals(False)
        if setup_pid < 0:
            raise errors.CoreError(err.err_no, ffi.string(lib.ocirun_stage_name(err.stage)).decode(),
                                   ffi.string(err.msg).decode(errors="replace"))
        log.LOG.debug("setup process %d spawned", setup_pid)
        p.close()  # the child has its copies
        ch = Channel(ffi, lib, parent_sock, setup_pid)

        _step_cgroup(ch, mgr, setup_pid, linux, cfg.get("process"))
        if mgr is not None:
            c.data["cgroup"] = mgr.to_dict()   # what create really made (systemd: the started unit)
        if p.new_userns:
            _step_id_maps(ch, setup_pid, p)
        init_pid = _step_init_pid(ch)
        # (an interruption right here leaves the init in the cgroup: its removal kills it)
        undo.callback(_kill_and_reap, init_pid)
        if mgr is not None:
            undo.callback(_kill_cgroup, mgr)
        _reap(setup_pid)
        ch.who = init_pid
        st = ctx.store.host.proc_stat(init_pid)
        c.data["pid"] = init_pid
        c.data["init_start"] = st[1] if st else None
        # first the record delete --force falls back on, then state.json
        _write_recovery(c, init_pid, c.data["init_start"], data.get("cgroup"))
        c.save()
        _step_idmapped_trees(ch, p, init_pid)
        _step_net_devices(p, init_pid)
        if p.resctrl is not None:
            from . import resctrl
            undo.callback(resctrl.remove, p.resctrl)
            resctrl.apply(p.resctrl, init_pid)
            c.data["resctrl"] = p.resctrl
        _step_device_nodes(ch, p, init_pid)
        ch.send(lib.OCIRUN_MSG_GO)

        _step_hooks(ch, c, hooks, p.core_hooks, init_pid)
        master = _step_terminal(ch, proc, console, undo) if p.terminal else None
        _step_seccomp_listener(ch, p.seccomp, _oci_state(c.data, CREATING, init_pid))
        _step_ready(ch)

        c.data["status"] = CREATED
        c.save()
        log.LOG.debug("create %s: created, init %d waits on the exec fifo", cid, init_pid)
        if pidfd_sock is not None:
            terminal.send_pidfd(pidfd_sock, init_pid)
        if pid_file:
            write_pid_file(pid_file, init_pid)
        if mask_on_return:
            _block_signals(True)
        undo.pop_all()
    parent_sock.close()
    os.close(fifo_fd)
    if console is not None:
        console.close()
    if pidfd_sock is not None:
        pidfd_sock.close()
    return c, init_pid, master


def _write_recovery(c, pid, start, cgroup):
    """recovery.json (state.py): the init and the cgroup, for delete --force
    when state.json cannot be read; same atomic 0600 write as state.json."""
    from . import fastjson
    from .state import RECOVERY_RECORD
    c.write_record(RECOVERY_RECORD, fastjson.dumps({"pid": pid, "init_start": start, "cgroup": cgroup}).encode())


class _Unrecovered(errors.OciError):
    """delete --force found something of a broken container it could not
    remove (or nothing to find it by): never an exit 0."""


def _recover_broken(c, why):
    try:
        _recover_from_record(c, why)
    except errors.OciError as e:
        raise _Unrecovered(e.lines[0], lines=e.lines) from None


def _recover_from_record(c, why):
    """delete --force of a container whose state.json is corrupt (`why` a
    StateCorrupt) or gone (ContainerNotExist): find its init and cgroup from
    recovery.json, kill the init, remove the cgroup (killing whatever is left
    in it). Returns once nothing of it runs; otherwise one line, and the
    caller keeps the state directory.

    runc refuses to delete a container whose state it cannot read, and keeps
    it; we do the same when there is nothing trustworthy to find the
    processes by. A directory with neither file is a create killed before its
    first write: nothing of it was made, it just goes."""
    from . import fastjson
    from .state import RECOVERY_RECORD
    path = c.path(RECOVERY_RECORD)
    kept = "; the state `%s` is kept" % c.dir
    try:
        raw = c.read(RECOVERY_RECORD)
    except errors.StateCorrupt as e:
        reason = str(e).rsplit(": ", 1)[-1]
        raise errors.OciError("cannot delete container %s: its recovery record `%s` is not to be trusted (%s): "
                              "its pid and cgroup are not used%s" % (c.id, path, reason, kept)) from None
    except OSError as e:
        raise errors.OciError("cannot delete container %s: recovery record `%s`: %s%s"
                              % (c.id, path, errors.strerror(e.errno), kept)) from None
    if raw is None:
        if isinstance(why, errors.ContainerNotExist):
            return
        raise errors.OciError("cannot delete container %s: %s, and its recovery record `%s` is missing: its init "
                              "and cgroup cannot be found%s" % (c.id, why, path, kept))
    try:
        rec = fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        rec = e
    pid = rec.get("pid") if isinstance(rec, dict) else None
    start = rec.get("init_start") if isinstance(rec, dict) else None
    cgroup = rec.get("cgroup") if isinstance(rec, dict) else None
    if (type(pid) is not int or pid < 0 or (start is not None and type(start) is not int)
            or (cgroup is not None and not isinstance(cgroup, dict))):
        detail = rec if isinstance(rec, ValueError) else "want {pid, init_start, cgroup}"
        raise errors.OciError("cannot delete container %s: recovery record `%s` is unreadable (%s): its init and "
                              "cgroup cannot be found%s" % (c.id, path, detail, kept))
    log.LOG.warning("container %s: %s; using its recovery record (init pid %d)" % (c.id, why, pid))
    # the Container gets what it needs for init_alive() and _manager(): an
    # init recorded without its start time is never signalled (pid reuse)
    c.data = {"pid": pid if start is not None else 0, "init_start": start, "cgroup": cgroup}
    from .cgroups.fs import REMOVE_TIMEOUT
    deadline = time.monotonic() + REMOVE_TIMEOUT
    try:
        mgr = _manager(c)
    except (errors.OciError, LookupError, TypeError, ValueError) as e:
        raise errors.OciError("cannot delete container %s: recovery record `%s`: cgroup: %s%s"
                              % (c.id, path, e, kept)) from None
    if c.init_alive():
        if mgr is not None:
            try:
                mgr.thaw()  # a paused container's init dies only once thawed
            except Exception:
                pass
        _signal_init(c, SIGKILL)
        if not _wait_gone(c, deadline=deadline):
            raise errors.OciError("container init still running: pid %d did not die within %gs of SIGKILL "
                                  "(frozen or in uninterruptible sleep?)%s" % (c.pid, REMOVE_TIMEOUT, kept))
    if mgr is not None:
        mgr.destroy(deadline)


def _signal_init(c, sig):
    """sig to the init through a pidfd, once that pidfd is known to be the
    recorded init (its start time): never to a pid reused meanwhile."""
    import _signal as signal
    try:
        pidfd = os.pidfd_open(c.pid)
    except ProcessLookupError:
        return
    try:
        if c.init_alive():
            try:
                signal.pidfd_send_signal(pidfd, sig)
            except ProcessLookupError:
                pass
    finally:
        os.close(pidfd)


def _wait_foreground(forwarding, master):
    """Wait for a foreground process (run, exec); its exit status, or 128+signal."""
    try:
        status = forwarding.wait()
    finally:
        forwarding.restore()
        if master is not None:
            os.close(master)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


class _Undo:
    """contextlib.ExitStack's callback/pop_all, without importing contextlib
    (12 ms on every create): run the callbacks, last first, on an exception."""

    def __init__(self):
        self._cbs = []

    def callback(self, fn, *args):
        self._cbs.append((fn, args))

    def pop_all(self):
        self._cbs = []

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if typ is None:
            return False
        while self._cbs:
            fn, args = self._cbs.pop()
            try:
                fn(*args)
            except Exception as e:  # undo as much as possible; the first error is the one to show
                log.LOG.debug("cleanup %s: %s", getattr(fn, "__name__", fn), e)
        return False


def _kill_cgroup(mgr):
    try:
        mgr.kill_all(SIGKILL)
    except Exception:
        pass


# ---------------------------------------------------------------------------
# start / kill / delete
# ---------------------------------------------------------------------------

FIFO_TIMEOUT = 10.0

# NOTIFY_SOCKET: where the container's process finds its notify socket
# unless its env names one (runc's place), and the directory of the state
# dir that holds the socket `start` binds.
NOTIFY_IN_CONTAINER = "/run/notify/notify.sock"
NOTIFY_DIR = "notify"


def _notify_setup(c, cfg, host):
    """create with NOTIFY_SOCKET in ocirun's env (conmon, systemd): the
    process gets NOTIFY_SOCKET pointing at a socket of ours, bind-mounted
    read-only from the state dir; `start` binds it and forwards what comes to
    `host`. A NOTIFY_SOCKET in process.env names the place in the container."""
    import copy
    cfg = copy.deepcopy(cfg)
    proc = cfg.setdefault("process", {})
    env = list(proc.get("env") or [])
    given = [e.split("=", 1)[1] for e in env if e.startswith("NOTIFY_SOCKET=")]
    inside = given[-1] if given and given[-1].startswith("/") else NOTIFY_IN_CONTAINER
    env = [e for e in env if not e.startswith("NOTIFY_SOCKET=")] + ["NOTIFY_SOCKET=" + inside]
    proc["env"] = env
    d = c.path(NOTIFY_DIR)
    try:
        os.mkdir(d, 0o755)
        os.chmod(d, 0o755)  # whatever our umask: any uid of the container may reach the socket
    except OSError as e:
        raise errors.os_error("make the notify socket directory", d, e) from None
    cfg["mounts"] = list(cfg.get("mounts") or []) + [{
        "destination": os.path.dirname(inside), "type": "bind", "source": d,
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"]}]
    c.data["notify"] = {"host": host, "name": os.path.basename(inside)}
    return cfg


def _notify_start(c):
    """Bind the container's notify socket and leave a forwarder that sends
    each datagram on to the host's NOTIFY_SOCKET (READY=1 followed by
    MAINPID=<init>) until the init exits. `start` does not wait for READY."""
    import _socket as socket
    conf = c.data.get("notify")
    if not conf:
        return
    host = os.environ.get("NOTIFY_SOCKET") or conf["host"]
    path = os.path.join(c.path(NOTIFY_DIR), conf["name"])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    dirs = []   # O_PATH fds of directories: paths longer than sun_path go through /proc/self/fd
    try:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock.bind(_unix_addr(path, dirs))
        os.chmod(path, 0o777)
        addr = "\0" + host[1:] if host.startswith("@") else _unix_addr(host, dirs)
        pidfd = os.pidfd_open(c.pid)
    except OSError as e:
        sock.close()
        for fd in dirs:
            os.close(fd)
        raise errors.os_error("bind the notify socket", path, e) from None
    try:
        mid = os.fork()
        if mid == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    _notify_forward(sock, pidfd, addr, c.pid, dirs)
            finally:
                os._exit(0)
        os.waitpid(mid, 0)
    finally:
        sock.close()
        os.close(pidfd)
        for fd in dirs:
            os.close(fd)


def _unix_addr(path, dirs):
    """A sockaddr path for `path`; one too long for sun_path (108 bytes) is
    reached through an O_PATH fd of its directory (appended to dirs)."""
    if len(path.encode()) < 100:
        return path
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    dirs.append(fd)
    return "/proc/self/fd/%d/%s" % (fd, os.path.basename(path))


def _notify_forward(sock, pidfd, addr, pid, dirs):
    """(the forwarder process) Until the init is gone: each datagram to the host."""
    import _socket as socket
    import select
    keep = {sock.fileno(), pidfd, *dirs}
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.chdir("/")
    for fd in range(3, 1024):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    while True:
        r, _, _ = select.select([sock.fileno(), pidfd], [], [])
        if pidfd in r:
            return
        try:
            msg = sock.recv(65536)
        except OSError:
            continue
        try:
            out.sendto(msg, addr)
            if any(line == b"READY=1" for line in msg.split(b"\n")):
                out.sendto(b"MAINPID=%d\n" % pid, addr)
        except OSError:
            pass


def start(ctx, cid, c=None):
    """Release a created container's init; then poststart hooks."""
    import select
    own = c is None
    if own:
        c = ctx.store.load(cid, lock=True)
    try:
        status = c.status()
        if status == STOPPED:
            raise errors.OciError(errors.NOT_CREATED)
        if status != CREATED:
            raise errors.OciError("cannot start a container that is %s" % ("already running" if status == RUNNING else status))
        try:
            # the init holds it open for writing: a fifo of ours, 0622
            fd = c.open_record(FIFO, stat.S_IFIFO, others_may_write=True)
        except FileNotFoundError:
            raise errors.OciError("cannot start an already running container") from None
        try:
            _notify_start(c)
        except BaseException:
            os.close(fd)
            raise
        try:
            # The init opens its end at once; one that cannot (stopped, frozen,
            # stuck) must not hold `start` forever.
            deadline = time.monotonic() + FIFO_TIMEOUT
            while True:
                if time.monotonic() > deadline:
                    raise errors.OciError("start: the container's init (pid %d) did not open the exec fifo within %g s"
                                          % (c.pid, FIFO_TIMEOUT))
                r, _, _ = select.select([fd], [], [], 0.1)
                got = b""
                if r:
                    try:
                        got = os.read(fd, 1)
                    except BlockingIOError:
                        got = b""
                if got:
                    break
                if not c.init_alive():
                    raise errors.OciError("the container's init exited before start")
                if r:
                    time.sleep(0.001)  # no writer yet: POLLHUP until the init opens
            try:
                os.unlink(c.path(FIFO))
            except FileNotFoundError:
                pass
            c.data["status"] = RUNNING
            c.save()
            log.LOG.debug("start %s: exec fifo opened, init %d goes on to exec", cid, c.pid)
            report = _read_to_eof(fd, c)
        finally:
            os.close(fd)
        # The init writes EXECUTING just before its last steps (seccomp, execve):
        # without it, an EOF is the init dying (killed while a startContainer
        # hook ran), not its process executing.
        executing = report.startswith(EXECUTING)
        if executing:
            report = report[len(EXECUTING):]
        if report:
            # the init wrote why it could not exec (startContainer hook, seccomp,
            # execve) and exited: the container is stopped, `start` failed
            _kill_container(c, SIGKILL)
            _wait_gone(c)
            raise _start_error(report)
        if not executing:
            # the fifo closes as the init exits, a moment before it is a zombie
            if c.init_alive():
                _kill_container(c, SIGKILL)
            _wait_gone(c)
            raise errors.OciError("the container's init died before its process executed")
        # Running and saved: the id's lock is not held across poststart hooks.
        c.unlock()
        log.LOG.debug("start %s: process executed", cid)
        post = (c.data.get("hooks") or {}).get("poststart")
        if post:
            from . import hooks as hookmod
            try:
                hookmod.run_hooks(post, "poststart", hookmod.state_json(c.data, RUNNING, c.pid))
            except errors.OciError:
                # runtime-spec 1.3.0: a failing poststart hook fails `start`; the container is stopped.
                _kill_container(c, SIGKILL)
                raise
    finally:
        if own:
            c.close()
    return c


EXECUTING = b"E"   # core/spawn.c: the init's last word on the exec fifo before seccomp and execve


def _read_to_eof(fd, c):
    """The rest of the exec fifo: b"" once the init's write end closes at
    execve. An init that died without closing it (a zombie nobody reaps holds
    nothing, but check) ends the wait too."""
    import select
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            if not c.init_alive():
                return out
            continue
        try:
            chunk = os.read(fd, 4096)
        except (InterruptedError, BlockingIOError):
            continue
        if not chunk:
            return out
        out += chunk


def _start_error(report):
    """The init's record "<errno>\\n<stage>\\n<message>" (core/spawn.c, die_to_start)."""
    parts = report.decode(errors="replace").split("\n", 2)
    if len(parts) == 3 and parts[0].lstrip("-").isdigit():
        return errors.CoreError(int(parts[0]), parts[1], parts[2])
    return errors.OciError("the container's init failed to start: %s" % report.decode(errors="replace").strip())


def _manager(c):
    d = c.data.get("cgroup")
    if not d:
        return None
    from . import cgroups
    return cgroups.from_dict(d)


def _kill_container(c, sig, all_procs=False):
    if all_procs:
        mgr = _manager(c)
        if mgr is not None:
            mgr.kill_all(sig)
            return
    try:
        os.kill(c.pid, sig)
    except ProcessLookupError:
        pass


def kill(ctx, cid, sig, all_procs=False):
    with ctx.store.load(cid) as c:
        status = c.status()
        if status == STOPPED or status == CREATING:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        if sig == 0:  # as runc: 0 only asks whether the init is there, and it is
            return
        log.LOG.debug("kill %s: signal %d to init %d%s", cid, sig, c.pid, " and all its cgroup" if all_procs else "")
        _kill_container(c, sig, all_procs)


def _wait_gone(c, timeout=5.0, deadline=None):
    if deadline is None:
        deadline = time.monotonic() + timeout
    while c.init_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def delete(ctx, cid, force=False):
    """Remove a container: kill what is left, remove its cgroup, run poststop
    hooks, remove its state. Killing and removing share ONE deadline
    (cgroups.fs.REMOVE_TIMEOUT): an init that cannot die (frozen in someone
    else's freezer, stuck in D state) or a process that will not leave the
    cgroup fails delete with one line naming it, and the state stays so a
    later delete can try again."""
    if force:
        # As `kill`, without the lock: a command holding it (a `start` whose
        # startContainer hook never ends) lets go once the init is dead.
        try:
            with ctx.store.load(cid) as c:
                if c.status() in (CREATED, RUNNING, PAUSED):
                    _kill_container(c, SIGKILL)
        except errors.OciError:
            pass   # the locked load below says what is wrong
    try:
        c = ctx.store.load(cid, lock=True)
    except (errors.ContainerNotExist, errors.StateCorrupt) as e:
        if not force:
            raise
        # Under the id's lock: removes only a directory without a readable
        # state.json; one made again meanwhile (a new container) stays.
        try:
            ctx.store.remove_broken(cid, recover=_recover_broken)
        except errors.ContainerNotExist:
            pass
        except errors.OciError as err:
            if isinstance(e, errors.StateCorrupt) or isinstance(err, _Unrecovered):
                raise
        return
    try:
        from .cgroups.fs import REMOVE_TIMEOUT
        deadline = time.monotonic() + REMOVE_TIMEOUT
        status = c.status()
        if status in (RUNNING, PAUSED) and not force:
            raise errors.OciError("cannot delete container %s that is not stopped: %s" % (cid, status))
        mgr = _manager(c)
        if status != STOPPED:
            if status == PAUSED and mgr is not None:
                try:
                    mgr.thaw()
                except Exception:
                    pass
            try:
                os.kill(c.pid, SIGKILL)
            except ProcessLookupError:
                pass
            if not _wait_gone(c, deadline=deadline):
                left = ""
                if mgr is not None:
                    try:
                        left = "; in its cgroup: pids %s" % " ".join(map(str, mgr.pids()))
                    except Exception:
                        pass
                raise errors.OciError("container init still running: pid %d did not die within %gs of SIGKILL "
                                      "(frozen or in uninterruptible sleep?)%s" % (c.pid, REMOVE_TIMEOUT, left))
        if mgr is not None:
            # Whatever is left in the cgroup goes with it (kill --all; without
            # a pid namespace the init's death does not take the rest along).
            mgr.destroy(deadline)
        if c.data.get("resctrl"):
            from . import resctrl
            resctrl.remove(c.data["resctrl"])
        post = (c.data.get("hooks") or {}).get("poststop")
        if post:
            from . import hooks as hookmod
            state = hookmod.state_json(c.data, STOPPED, 0)
            for h in post:
                # config.md: a failing poststop hook is a warning; the rest still run
                try:
                    hookmod.run_hook(h, "poststop", state)
                except errors.OciError as e:
                    log.LOG.warning(str(e))
        c.destroy()
        log.LOG.debug("delete %s: state, cgroup and processes removed", cid)
    finally:
        c.close()


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

class _Interrupted(BaseException):
    """SIGTERM, SIGINT or SIGHUP reached `run` before its process was running:
    raised where Python was, so every undo step on the way out runs."""

    def __init__(self, sig):
        super().__init__(sig)
        self.sig = sig


class _RunGuard:
    """From the first moment of `run` until its process has started:
    SIGTERM, SIGINT and SIGHUP abort the run. The first one raises
    _Interrupted; later ones (and any once disarmed) are only noted, so the
    undo they started is not itself cut short."""

    SIGS = (1, 2, 15)   # HUP, INT, TERM

    def __init__(self):
        import _signal as signal
        self.sig = None
        self.armed = True
        self.saved = {}
        for sig in self.SIGS:
            self.saved[sig] = signal.signal(sig, self._handler)

    def _handler(self, sig, _frame):
        if self.sig is None:
            self.sig = sig
            if self.armed:
                raise _Interrupted(sig)

    def disarm(self):
        """Note signals from now on, never raise (the final cleanup runs whole)."""
        self.armed = False

    def restore(self):
        import _signal as signal
        for sig, h in self.saved.items():
            signal.signal(sig, h)
        self.saved = {}


def _block_signals(block):
    """Mask HUP, INT and TERM around a step whose result must be registered
    for undo before anything can interrupt (a pid just spawned)."""
    import _signal as signal
    signal.pthread_sigmask(signal.SIG_BLOCK if block else signal.SIG_UNBLOCK, _RunGuard.SIGS)


def run(ctx, cid, opts):
    """create + start; in the foreground, forward signals, wait, delete (unless --keep).

    SIGTERM/SIGINT/SIGHUP before the process runs undo everything (state,
    cgroup, processes) and exit 128+signal, as runc does."""
    guard = _RunGuard()
    try:
        return _run(ctx, cid, opts, guard)
    except _Interrupted as e:
        return 128 + e.sig
    finally:
        guard.restore()


def _run(ctx, cid, opts, guard):
    detach = opts.detach
    if not detach and not getattr(opts, "no_subreaper", False):
        from . import core
        _ffi, lib = core.load()
        # Orphans of a container without a pid namespace come back to us to reap.
        lib.ocirun_set_subreaper(1)
    # create undoes itself on any exception, _Interrupted included; it returns
    # with the signals blocked, so none can fall between its undo and ours
    c, pid, master = create(ctx, cid, opts.bundle, opts.config, pid_file=opts.pid_file,
                            console_socket=opts.console_socket, no_pivot=opts.no_pivot,
                            pidfd_socket=getattr(opts, "pidfd_socket", None),
                            no_new_keyring=opts.no_new_keyring, preserve_fds=opts.preserve_fds or 0,
                            detach=detach, mask_on_return=True)
    forwarding = None
    try:
        _block_signals(False)   # one that came meanwhile is raised here, inside the try
        if not detach:
            # Before the process is released: a signal must never find ocirun
            # without its forwarder (the default action would kill ocirun and
            # orphan the container).
            forwarding = _Forwarder(pid, master)
        start(ctx, cid, c)
        # Started: from here a signal goes to the process (foreground) or is
        # too late to undo anything (detached); the final delete runs whole.
        guard.disarm()
    except BaseException as e:
        guard.disarm()
        _block_signals(False)
        if forwarding is not None:
            forwarding.restore()
        c.close()
        if master is not None:
            os.close(master)
        try:
            delete(ctx, cid, force=True)
        except errors.OciError as err:
            if isinstance(e, _Interrupted):
                log.LOG.error(str(err))
        raise
    c.close()
    if detach:
        return 0
    code = _wait_foreground(forwarding, master)
    log.LOG.debug("run %s: process exited, exit status %d", cid, code)
    if not opts.keep:
        delete(ctx, cid, force=True)
    return code


class _Forwarder:
    """Every catchable signal ocirun gets goes to the container's init; with a
    proxied terminal, SIGWINCH resizes the pty instead."""

    def __init__(self, pid, master):
        import _signal as signal
        self.pid = pid
        self.proxy = None
        if master is not None:
            from . import terminal
            self.proxy = terminal.Proxy(master)
            self.proxy.__enter__()  # raw mode and the window size, before the process runs
        self.saved = {}
        for sig in range(1, 65):
            if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, 32, 33):
                continue
            handler = self._winch if (sig == signal.SIGWINCH and self.proxy is not None) else self._forward
            try:
                self.saved[sig] = signal.signal(sig, handler)
            except (OSError, ValueError, RuntimeError):
                pass

    def _forward(self, sig, _frame):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def _winch(self, _sig, _frame):
        self.proxy.winch()

    def restore(self):
        import _signal as signal
        if self.proxy is not None:
            self.proxy.__exit__(None, None, None)
        for sig, h in self.saved.items():
            try:
                signal.signal(sig, h)
            except (OSError, ValueError, TypeError):
                pass
        self.saved = {}

    def wait(self):
        """The init's wait status; reaps every other child too (we are a subreaper)."""
        pid, proxy = self.pid, self.proxy
        if proxy is None:
            while True:
                got, status = os.waitpid(-1, 0)
                if got == pid:
                    return status
        if True:
            status = None
            while status is None:
                alive = proxy.pump(0.05)
                while True:
                    try:
                        got, st = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        got, st = 0, 0
                    if got == 0:
                        break
                    if got == pid:
                        status = st
                if not alive and status is None:
                    _, status = os.waitpid(pid, 0)
            proxy.drain()
            return status


# ---------------------------------------------------------------------------
# exec
# ---------------------------------------------------------------------------

def _read_process_record(c):
    """The container's process as `create` recorded it; one clear line if not."""
    from . import fastjson
    from .state import PROCESS_RECORD
    try:
        rec = fastjson.loads(c.read_record(PROCESS_RECORD))
    except OSError as e:
        raise errors.OciError("cannot exec: container process record `%s`: %s"
                              % (c.path(PROCESS_RECORD), errors.strerror(e.errno))) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.OciError("cannot exec: container process record `%s`: %s" % (c.path(PROCESS_RECORD), e)) from None
    if not isinstance(rec, dict):
        raise errors.OciError("cannot exec: container process record `%s`: not a JSON object" % c.path(PROCESS_RECORD))
    return rec


def _step_tenant_exec(ch):
    """After READY the exec'd process goes on to the trampoline's execveat,
    which closes its end of the socket: end-of-file means it is exec'd; a
    record before it is why it could not be (core/spawn.c die_to_start, as on
    `start`'s exec fifo), the runtime's own failure."""
    while True:
        try:
            data, anc, _flags, _addr = ch.sock.recvmsg(4096, 64)
        except InterruptedError:
            continue
        for _level, _typ, payload in anc:  # none is ever sent: close what came
            for i in range(0, len(payload) - len(payload) % 4, 4):
                os.close(int.from_bytes(payload[i:i + 4], "little"))
        if not data:
            return
        raise _start_error(data)


def _init_pidfd(c):
    """A pidfd of the container's init, taken right after the status check and
    checked against the recorded start time (a reused pid is not our init)."""
    try:
        pidfd = os.pidfd_open(c.pid)
    except ProcessLookupError:
        raise errors.OciError("cannot exec in a stopped container") from None
    except OSError as e:
        raise errors.OciError("cannot exec: pidfd_open(%d): %s" % (c.pid, errors.strerror(e.errno))) from None
    if not c.init_alive():
        os.close(pidfd)
        raise errors.OciError("cannot exec in a stopped container")
    return pidfd


def _cgroup_groups(m):
    """[(fs.Group, its v1 controllers or None on v2)] of a manager, every hierarchy."""
    if hasattr(m, "fs"):
        return _cgroup_groups(m.fs)
    if hasattr(m, "v1") and hasattr(m, "v2"):
        return _cgroup_groups(m.v1) + _cgroup_groups(m.v2)
    out = []
    for i, g in enumerate(m.groups):
        v2 = os.path.exists(os.path.join(g.mount, "cgroup.controllers"))
        ctrls = getattr(m, "controllers", None)
        out.append((g, None if v2 or ctrls is None else tuple(ctrls[i])))
    return out


def _parse_exec_cgroups(values):
    """exec --cgroup [CONTROLLER[,CONTROLLER]:]PATH (repeatable): {controller or "": sub path}."""
    out = {}
    for v in values or ():
        ctrls, sep, path = v.rpartition(":")
        rel = os.path.normpath("/" + path).lstrip("/")
        if not path or ".." in path.split("/") or not rel:
            raise errors.UsageError("invalid --cgroup `%s`: want [CONTROLLER[,CONTROLLER]:]PATH, a sub-cgroup "
                                    "of the container's" % v)
        for k in (ctrls.split(",") if sep else [""]):
            if sep and not k:
                raise errors.UsageError("invalid --cgroup `%s`: empty controller name" % v)
            out[k] = rel
    return out


def _write_procs(d, pid):
    path = os.path.join(d, "cgroup.procs")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise errors.os_error("cannot open", path, e) from None
    try:
        os.write(fd, b"%d" % pid)
    finally:
        os.close(fd)


def _exec_join(mgr, init_pid, pid, cgroup=None, paused=False):
    """Put exec's setup process in the container's cgroup in every hierarchy
    (or the sub-cgroups --cgroup names). A v2 cgroup that refuses with EBUSY
    (the init moved itself to a sub-cgroup and enabled controllers: systemd
    inside) is joined at the init's own cgroup, which is inside the
    container's. When paused (--ignore-paused), the groups that are frozen are
    returned, to be joined once the process is set up."""
    import errno
    subs = _parse_exec_cgroups(cgroup)
    groups = _cgroup_groups(mgr)
    served = {c for _, ctrls in groups if ctrls for c in ctrls}
    unknown = sorted(k for k in subs if k and k not in served)
    if unknown:
        raise errors.UsageError("invalid --cgroup: no cgroup v1 hierarchy for controller `%s`" % unknown[0])
    late = []
    for g, ctrls in groups:
        d = g.dir
        sub = next((subs[c] for c in (ctrls or ()) if c in subs), subs.get(""))
        if sub:
            d = os.path.join(g.dir, sub)
            if not os.path.isdir(d):
                raise errors.OciError("exec --cgroup: no sub-cgroup `%s` in `%s`" % (sub, g.dir))
        if paused and _is_frozen(d, ctrls):
            late.append(d)
            continue
        try:
            _write_procs(d, pid)
        except OSError as e:
            if e.errno != errno.EBUSY or ctrls is not None or sub:
                raise errors.OciError("join cgroup `%s`: %s" % (d, errors.strerror(e.errno))) from None
            inner = _v2_cgroup_of(init_pid, g.mount)
            if inner is None or not inner.startswith(g.dir.rstrip("/") + "/"):
                raise errors.OciError("join cgroup `%s`: EBUSY, and the init's cgroup `%s` is not inside it"
                                      % (d, inner)) from None
            try:
                _write_procs(inner, pid)
            except OSError as e2:
                raise errors.OciError("join the init's cgroup `%s`: %s" % (inner, errors.strerror(e2.errno))) from None
    return late


def _is_frozen(d, ctrls):
    try:
        if ctrls is None:
            with open(os.path.join(d, "cgroup.freeze")) as f:
                return f.read().strip() == "1"
        if "freezer" in ctrls:
            with open(os.path.join(d, "freezer.state")) as f:
                return f.read().strip() != "THAWED"
    except OSError:
        pass
    return False


def _v2_cgroup_of(pid, mount):
    """The init's cgroup v2 directory (under `mount`), from /proc/PID/cgroup."""
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            for line in f:
                if line.startswith("0::"):
                    return os.path.normpath(mount + "/" + line[3:].strip())
    except OSError:
        pass
    return None


def exec_process(ctx, cid, proc, *, detach=False, pid_file=None, console_socket=None, preserve_fds=0,
                 pidfd_socket=None, cgroup=None, ignore_paused=False):
    """Run `proc` in container `cid`: a function of the container's recorded
    process (a config.json `process`) returning the process to run. Returns
    the exit code in the foreground, 0 with --detach."""
    import _socket as socket
    from . import core, plan as planmod, validation

    plug_preserved_fds(preserve_fds)  # before the state dir is opened
    c = ctx.store.load(cid)
    pidfd = None
    try:
        status = c.status()
        if status == PAUSED and not ignore_paused:
            raise errors.OciError("cannot exec in a paused container (use --ignore-paused to override)")
        if status not in (CREATED, RUNNING, PAUSED):
            raise errors.OciError("cannot exec in a %s container" % status)
        from . import sealed
        sealed.ensure()  # the exec'd process forks from a sealed image (sealed.py)
        pidfd = _init_pidfd(c)
        base = _read_process_record(c)
        proc = proc(base) if callable(proc) else proc
        problems = validation.user_problems(proc.get("user"))
        if problems:
            raise errors.ConfigError(problems)
        if proc.get("terminal") and not console_socket and detach:
            raise errors.OciError("cannot allocate tty if ocirun will detach without setting console socket")
        ffi, lib = core.load()
        if not detach:
            lib.ocirun_set_subreaper(1)
        console = None
        with _Undo() as undo:
            if console_socket:
                from . import terminal
                console = terminal.connect_console(console_socket)
                undo.callback(console.close)
            pidfd_sock = None
            if pidfd_socket:
                from . import terminal
                pidfd_sock = terminal.connect_unix(pidfd_socket, "pidfd socket")
                undo.callback(pidfd_sock.close)
            parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            undo.callback(parent_sock.close)
            floor = 3 + preserve_fds + planmod.listen_fds()
            child_fd = planmod._high_fd(child_sock.detach(), floor)
            parent_fd = planmod._high_fd(os.dup(parent_sock.fileno()), floor)
            linux = {}
            raw = c.read(SECCOMP_PROFILE)
            if raw is not None:
                from . import fastjson
                linux["seccomp"] = fastjson.loads(raw)
            p = planmod.build_tenant(ffi, proc, cid, c.pid, sync_fd=child_fd, parent_sync_fd=parent_fd,
                                     preserve_fds=preserve_fds, linux=linux, init_pidfd=pidfd,
                                     must_join=c.data.get("namespaces") or ("mount",))
            p.fds += [child_fd, parent_fd]
            undo.callback(p.close)
            err = ffi.new("struct ocirun_error *")
            setup_pid = lib.ocirun_spawn(p.c, err)
            if setup_pid < 0:
                raise errors.CoreError(err.err_no, ffi.string(lib.ocirun_stage_name(err.stage)).decode(),
                                       ffi.string(err.msg).decode(errors="replace"))
            undo.callback(_kill_and_reap, setup_pid)
            p.close()
            ch = Channel(ffi, lib, parent_sock, setup_pid)
            mgr = _manager(c)
            frozen_late = []
            if mgr is not None:
                _prepare_realtime(mgr, proc, linux)
                frozen_late = _exec_join(mgr, c.pid, setup_pid, cgroup, paused=(status == PAUSED))
            ch.send(lib.OCIRUN_MSG_GO)
            pid = _step_init_pid(ch)
            undo.callback(_kill_and_reap, pid)
            _reap(setup_pid)
            ch.who = pid
            ch.send(lib.OCIRUN_MSG_GO)
            master = _step_terminal(ch, proc, console, undo) if p.terminal else None
            forwarding = None if detach else _Forwarder(pid, master)
            try:
                _step_seccomp_listener(ch, p.seccomp, _oci_state(c.data, c.status(), c.pid), pid)
                _step_ready(ch)
                _step_tenant_exec(ch)
            except BaseException:
                if forwarding is not None:
                    forwarding.restore()
                raise
            for path in frozen_late:
                # --ignore-paused: the process is set up; now it freezes with the container
                _write_procs(path, pid)
            if pidfd_sock is not None:
                terminal.send_pidfd(pidfd_sock, pid)
            if pid_file:
                write_pid_file(pid_file, pid)
            undo.pop_all()
        parent_sock.close()
        if console is not None:
            console.close()
        if pidfd_sock is not None:
            pidfd_sock.close()
    finally:
        if pidfd is not None:
            os.close(pidfd)
        c.close()
    if detach:
        return 0
    return _wait_foreground(forwarding, master)
