"""create: set a container up and leave its init blocked on exec.fifo.

`create` drives the handshake with the core over the sync socket (the
protocol is drawn at the top of runtime/core/sync.c), one `_step_*` function
per exchange (those exec shares are in spawn.py). Everything it makes (state
dir, fifo, cgroup, processes) is registered on one Undo stack, so any
failure, including a child's report (`mounts: mount `proc` on `/proc`:
EPERM (...)`), undoes all of it.
"""

import os

from .. import errors, log
from ..files import atomic_write_path
from ..state import CREATED, CREATING, FIFO, rfc3339_now
from ..sync import kill_and_reap, reap
from .kill import kill_cgroup
from .recovery import write_recovery
from .spawn import (
    SECCOMP_PROFILE,
    Undo,
    block_signals,
    fd_floor,
    fill_preserved_range,
    open_channel,
    prepare_realtime,
    spawn,
    step_init_pid,
    step_ready,
    step_seccomp_listener,
    step_terminal,
    write_pid_file,
)


def _make_cgroup(mgr):
    mgr.create()
    # A cgroup with processes or frozen belongs to someone else (another
    # container's cgroupsPath): joining it would share its kill --all, or hang.
    mgr.check_unused()


def _plan_self_join(ffi, p, mgr, floor):
    """cgroupfs on v1/hybrid: the cgroup is made before the spawn and the
    setup process joins it by itself (core/spawn.c, the plan's cgroup
    fields): no pid written to cgroup.procs, which waits out an RCU grace
    period in the kernel (8-20 ms here). Returns True if so."""
    paths = getattr(mgr, "self_join_paths", None)
    if paths is None:
        return False
    from ..plan import _high_fd

    _make_cgroup(mgr)
    tasks, v2dir = paths()
    fds = []
    for path, flags in [(t, os.O_WRONLY) for t in tasks] + ([(v2dir, os.O_RDONLY | os.O_DIRECTORY)] if v2dir else []):
        try:
            fd = _high_fd(os.open(path, flags | os.O_CLOEXEC), floor)
        except OSError as e:
            raise errors.os_error("cannot open", path, e) from None
        p.fds.append(fd)
        fds.append(fd)
    c = p.c
    arr = ffi.new("int32_t[]", fds[: len(tasks)] or [-1])
    names = [ffi.new("char[]", t.encode()) for t in tasks]
    strv = ffi.new("char *[]", names + [ffi.NULL])
    p.keep += [arr, strv] + names
    c.cgroup_tasks_fds, c.n_cgroup_tasks, c.cgroup_tasks_paths = arr, len(tasks), strv
    if v2dir:
        c.clone_into_cgroup, c.cgroup2_fd = 1, fds[-1]
    return True


def _step_cgroup(ch, mgr, setup_pid, linux, proc=None, self_join=False):
    """The setup process waits; put it in the cgroup (before any cgroup ns) and go.
    self_join: the cgroup is made and the setup process joins it itself after GO."""
    if mgr is not None:
        if not self_join:
            _make_cgroup(mgr)
        prepare_realtime(mgr, proc, linux)
        if not self_join:
            mgr.join(setup_pid)
        mgr.apply()  # the resources it was opened with (parsed and checked before anything was made)
        log.LOG.debug(
            "cgroup made, resources applied, setup process %d %s", setup_pid, "joins it" if self_join else "added"
        )
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
        raise errors.CoreError(
            e.errno, "user namespace", "write %s %r to `%s`" % (field, lines.strip(), path)
        ) from None


def _step_id_maps(ch, setup_pid, plan, rl=None):
    ch.wait(ch.lib.OCIRUN_MSG_USERNS, "user namespace setup")
    if rl is not None and rl.unprivileged:
        # rootless: own id written here, ranges through newuidmap/newgidmap
        from .. import rootless_idmap

        rootless_idmap.write_maps(setup_pid, plan.uid_mappings, plan.gid_mappings)
    else:
        if plan.gid_mappings:
            _write_map(setup_pid, "gid_map", plan.gid_mappings)
        if plan.uid_mappings:
            _write_map(setup_pid, "uid_map", plan.uid_mappings)
    ch.send(ch.lib.OCIRUN_MSG_MAPS_DONE)


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
                fd = ch.lib.ocirun_idmapped_tree(source.encode(), own if own >= 0 else userns, recursive, ridmap, err)
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


def _step_hooks(ch, c, hooks, core_hooks, init_pid):
    """Rootfs ready, before pivot_root: prestart and createRuntime, here."""
    ch.wait(ch.lib.OCIRUN_MSG_HOOKS, "rootfs setup")
    if log.LOG.debug_enabled and core_hooks:
        log.LOG.debug("hooks run in the container: %s", _hook_names(hooks))
    fd = None
    if not (hooks.get("prestart") or hooks.get("createRuntime") or core_hooks):
        ch.send(ch.lib.OCIRUN_MSG_HOOKS_DONE, fd)
        return
    from .. import hooks as hookmod

    state = hookmod.state_json(c.data, CREATING, init_pid)
    hookmod.run_hooks(hooks.get("prestart"), "prestart", state)
    hookmod.run_hooks(hooks.get("createRuntime"), "createRuntime", state)
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
    return ", ".join(
        "%s `%s`" % (k, h.get("path")) for k in ("createContainer", "startContainer") for h in (hooks.get(k) or ())
    )


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


def _check_cgroup_nesting(store, cid, mine):
    """A cgroup inside another container's cgroup (or holding it) is that
    container's business: its pause, kill --all and delete would reach ours,
    or ours would reach it. Refused for the containers of this --root."""
    from ..cgroups import dirs_of

    ours = set(dirs_of(mine).values())
    for other in store.ids():
        if other == cid:
            continue
        try:
            with store.load(other) as o:
                theirs = set(dirs_of(o.data.get("cgroup")).values())
        except errors.OciError:
            continue
        for a in ours:
            for b in theirs:
                if a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/"):
                    raise errors.OciError(
                        "container's cgroup `%s` is nested with container `%s`'s cgroup `%s`: "
                        "refusing to share it" % (a, other, b)
                    )


def _make_fifo(c):
    path = c.path(FIFO)
    old = os.umask(0)
    try:
        os.mkfifo(path, 0o622)
    finally:
        os.umask(old)
    return os.open(path, os.O_PATH | os.O_CLOEXEC)


def create(
    ctx,
    cid,
    bundle,
    config=None,
    pid_file=None,
    console_socket=None,
    no_pivot=False,
    no_new_keyring=False,
    preserve_fds=0,
    detach=True,
    mask_on_return=False,
    pidfd_socket=None,
):
    """Create container `cid`; returns (Container, init pid, pty master fd or None).

    The init is left blocked on exec.fifo. The Container stays locked.
    mask_on_return (run): HUP, INT and TERM are blocked from the moment the
    undo steps are dropped; the caller unblocks them once it owns the cleanup.
    """
    from .. import core, plan as planmod, spec
    from ..state import check_id

    check_id(cid)
    fill_preserved_range(fd_floor(preserve_fds))
    bundle = os.path.abspath(bundle or ".")
    cfg = spec.load_config(bundle, config)
    log.LOG.debug("create %s: %s/%s loaded and validated", cid, bundle, config or "config.json")
    # rootless: what an unprivileged user cannot do is adapted or refused here (rootless.py)
    from .. import rootless

    rl = rootless.adapt(ctx.gopts, cfg)
    if rl is not None:
        cfg = rl.cfg
    # Before anything is made: the container's processes fork from a sealed image (sealed.py).
    from .. import sealed

    sealed.ensure()
    proc = cfg.get("process") or {}
    linux = cfg.get("linux") or {}
    if proc.get("terminal") and not console_socket and detach:
        raise errors.OciError("cannot allocate tty if ocirun will detach without setting console socket")
    if console_socket and not proc.get("terminal"):
        raise errors.OciError("cannot use console socket if ocirun will not detach or allocate tty")
    console = None
    if console_socket:
        from .. import terminal

        console = terminal.connect_console(console_socket)
    pidfd_sock = None
    if pidfd_socket:
        from .. import terminal

        try:
            pidfd_sock = terminal.connect_unix(pidfd_socket, "pidfd socket")
        except BaseException:
            if console is not None:
                console.close()
            raise
    ffi, lib = core.load()
    from .. import cgroups

    hooks = cfg.get("hooks") or {}

    with Undo() as undo:
        if console is not None:
            undo.callback(console.close)
        if pidfd_sock is not None:
            undo.callback(pidfd_sock.close)
        data = {
            "ociVersion": cfg.get("ociVersion", ""),
            "status": CREATING,
            "pid": 0,
            "bundle": bundle,
            "rootfs": os.path.normpath(os.path.join(bundle, (cfg.get("root") or {}).get("path", ""))),
            "created": rfc3339_now(),
            "owner": "",
            "annotations": cfg.get("annotations") or {},
            "hooks": {k: hooks[k] for k in ("poststart", "poststop") if hooks.get(k)},
        }
        kind = cgroups.check_driver(ctx.gopts.cgroup_manager, ctx.gopts.systemd_cgroup)
        mgr = rl.open_manager(cid, linux, kind) if rl is not None else cgroups.open_manager(cid, linux, kind)
        if mgr is not None:
            # in the very first state.json: a create killed midway leaves
            # `delete --force` what it needs to remove the cgroup
            data["cgroup"] = mgr.to_dict()
            _check_cgroup_nesting(ctx.store, cid, data["cgroup"])
            # what `update` starts from (device rules are fixed at create)
            data["resources"] = {k: v for k, v in (linux.get("resources") or {}).items() if k != "devices"}
        c = ctx.store.create(cid, data)
        undo.callback(c.destroy)
        write_recovery(c, 0, None, data.get("cgroup"))
        notify_host = os.environ.get("NOTIFY_SOCKET")
        if notify_host:
            from . import notify

            cfg = notify.setup(c, cfg, notify_host)
            proc = cfg.get("process") or {}
        if mgr is not None:
            undo.callback(mgr.destroy)
        if linux.get("seccomp"):
            # `exec` confines its process the same way. Beside state.json, not
            # in it: hot commands read state.json, and a profile is ~20 KB.
            from .. import fastjson

            atomic_write_path(c.path(SECCOMP_PROFILE), fastjson.dumps(linux["seccomp"]).encode())
        # What `exec` inherits (user, capabilities, noNewPrivileges, rlimits,
        # labels, env, cwd): from this record, never from the bundle, which
        # may have changed since.
        from .. import fastjson
        from ..state import PROCESS_RECORD

        c.write_record(
            PROCESS_RECORD,
            fastjson.dumps(
                {k: v for k, v in proc.items() if k not in ("args", "commandLine", "terminal", "consoleSize")}
            ).encode(),
        )
        fifo_fd = _make_fifo(c)
        log.LOG.debug("exec fifo `%s` made", c.path(FIFO))
        undo.callback(os.close, fifo_fd)
        floor = fd_floor(preserve_fds)
        parent_sock, child_fd, parent_fd = open_channel(undo, floor)
        fifo_hi = planmod._high_fd(os.dup(fifo_fd), floor)
        p = planmod.build(
            ffi,
            cfg,
            bundle,
            cid,
            sync_fd=child_fd,
            parent_sync_fd=parent_fd,
            fifo_fd=fifo_hi,
            no_pivot=no_pivot,
            no_new_keyring=no_new_keyring,
            preserve_fds=preserve_fds,
            cgroup_dirs=(
                rl.cgroup_dirs(mgr.dirs() if mgr is not None else {})
                if rl is not None
                else mgr.dirs()
                if mgr is not None
                else None
            ),
            cache_dir=os.path.join(ctx.store.root, ".cache"),
            rootless=rl is not None and rl.unprivileged,
        )
        p.fds += [child_fd, parent_fd, fifo_hi]
        undo.callback(p.close)
        c.data["namespaces"] = sorted(p.new_namespaces)
        self_join = mgr is not None and _plan_self_join(ffi, p, mgr, floor)
        # (run) mask: no interruption between the spawn and its undo
        ch = spawn(ffi, lib, p, parent_sock, undo, mask=True)
        setup_pid = ch.who

        _step_cgroup(ch, mgr, setup_pid, linux, cfg.get("process"), self_join)
        if mgr is not None:
            c.data["cgroup"] = mgr.to_dict()  # what create really made (systemd: the started unit)
        if p.new_userns:
            _step_id_maps(ch, setup_pid, p, rl)
        init_pid = step_init_pid(ch)
        # (an interruption right here leaves the init in the cgroup: its removal kills it)
        undo.callback(kill_and_reap, init_pid)
        if mgr is not None:
            undo.callback(kill_cgroup, mgr)
        reap(setup_pid)
        ch.who = init_pid
        st = ctx.store.host.proc_stat(init_pid)
        c.data["pid"] = init_pid
        c.data["init_start"] = st[1] if st else None
        # first the record delete --force falls back on, then state.json
        write_recovery(c, init_pid, c.data["init_start"], data.get("cgroup"))
        c.save()
        _step_idmapped_trees(ch, p, init_pid)
        if p.net_devices:
            from .devices import step_net_devices

            step_net_devices(p, init_pid)
        if p.resctrl is not None:
            from .. import resctrl

            undo.callback(resctrl.remove, p.resctrl)
            resctrl.apply(p.resctrl, init_pid)
            c.data["resctrl"] = p.resctrl
        if p.device_nodes:
            from .devices import step_device_nodes

            step_device_nodes(ch, p, init_pid)
        ch.send(lib.OCIRUN_MSG_GO)

        _step_hooks(ch, c, hooks, p.core_hooks, init_pid)
        master = step_terminal(ch, proc, console, undo) if p.terminal else None
        if p.seccomp is not None and p.seccomp.needs_listener:
            from .. import hooks as hookmod

            step_seccomp_listener(ch, p.seccomp, hookmod.state(c.data, CREATING, init_pid))
        step_ready(ch)

        c.data["status"] = CREATED
        c.save()
        log.LOG.debug("create %s: created, init %d waits on the exec fifo", cid, init_pid)
        if pidfd_sock is not None:
            terminal.send_pidfd(pidfd_sock, init_pid)
        if pid_file:
            write_pid_file(pid_file, init_pid)
        if mask_on_return:
            block_signals(True)
        undo.pop_all()
    parent_sock.close()
    os.close(fifo_fd)
    if console is not None:
        console.close()
    if pidfd_sock is not None:
        pidfd_sock.close()
    return c, init_pid, master
