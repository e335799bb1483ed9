"""exec: another process in a container, set up by the core as the
container's init was (its namespaces, the recorded process, the same seccomp
profile), joined to the container's cgroup (or a sub-cgroup of it)."""

import os

from .. import errors, hooks
from ..forward import Forwarder, wait_foreground
from ..state import CREATED, PAUSED, RUNNING
from ..sync import kill_and_reap, reap
from .kill import manager
from .spawn import (
    SECCOMP_PROFILE,
    Undo,
    fd_floor,
    open_channel,
    plug_preserved_fds,
    prepare_realtime,
    spawn,
    step_init_pid,
    step_ready,
    step_seccomp_listener,
    step_terminal,
    write_pid_file,
)
from .start import start_error


def _read_process_record(c):
    """The container's process as `create` recorded it; one clear line if not."""
    from .. import fastjson
    from ..state import PROCESS_RECORD

    try:
        rec = fastjson.loads(c.read_record(PROCESS_RECORD))
    except OSError as e:
        raise errors.OciError(
            "cannot exec: container process record `%s`: %s" % (c.path(PROCESS_RECORD), errors.strerror(e.errno))
        ) from None
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
                os.close(int.from_bytes(payload[i : i + 4], "little"))
        if not data:
            return
        raise start_error(data)


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


def _parse_exec_cgroups(values):
    """exec --cgroup [CONTROLLER[,CONTROLLER]:]PATH (repeatable): {controller or "": sub path}."""
    out = {}
    for v in values or ():
        ctrls, sep, path = v.rpartition(":")
        rel = os.path.normpath("/" + path).lstrip("/")
        if not path or ".." in path.split("/") or not rel:
            raise errors.UsageError(
                "invalid --cgroup `%s`: want [CONTROLLER[,CONTROLLER]:]PATH, a sub-cgroup of the container's" % v
            )
        for k in ctrls.split(",") if sep else [""]:
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
    groups = mgr.hierarchies()
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
                raise errors.OciError(
                    "join cgroup `%s`: EBUSY, and the init's cgroup `%s` is not inside it" % (d, inner)
                ) from None
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


def exec_process(
    ctx,
    cid,
    proc,
    *,
    detach=False,
    pid_file=None,
    console_socket=None,
    preserve_fds=0,
    pidfd_socket=None,
    cgroup=None,
    ignore_paused=False,
):
    """Run `proc` in container `cid`: a function of the container's recorded
    process (a config.json `process`) returning the process to run. Returns
    the exit code in the foreground, 0 with --detach."""
    from .. import core, plan as planmod, validation

    plug_preserved_fds(preserve_fds)  # before the state dir is opened
    c = ctx.store.load(cid)
    pidfd = None
    try:
        status = c.status()
        if status == PAUSED and not ignore_paused:
            raise errors.OciError("cannot exec in a paused container (use --ignore-paused to override)")
        if status not in (CREATED, RUNNING, PAUSED):
            raise errors.OciError("cannot exec in a %s container" % status)
        if status == CREATED and os.geteuid() != 0:
            # rootless: the waiting init is not dumpable, so its /proc/PID/ns are root's (README, Rootless)
            raise errors.OciError(
                "cannot exec in a created container rootless: its namespaces open once it "
                "is started (ocirun start %s)" % cid
            )
        from .. import sealed

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
        with Undo() as undo:
            if console_socket:
                from .. import terminal

                console = terminal.connect_console(console_socket)
                undo.callback(console.close)
            pidfd_sock = None
            if pidfd_socket:
                from .. import terminal

                pidfd_sock = terminal.connect_unix(pidfd_socket, "pidfd socket")
                undo.callback(pidfd_sock.close)
            parent_sock, child_fd, parent_fd = open_channel(undo, fd_floor(preserve_fds))
            linux = {}
            raw = c.read(SECCOMP_PROFILE)
            if raw is not None:
                from .. import fastjson

                linux["seccomp"] = fastjson.loads(raw)
            p = planmod.build_tenant(
                ffi,
                proc,
                cid,
                c.pid,
                sync_fd=child_fd,
                parent_sync_fd=parent_fd,
                preserve_fds=preserve_fds,
                linux=linux,
                init_pidfd=pidfd,
                must_join=c.data.get("namespaces") or ("mount",),
                rootless=os.geteuid() != 0,
            )
            p.fds += [child_fd, parent_fd]
            undo.callback(p.close)
            ch = spawn(ffi, lib, p, parent_sock, undo)
            setup_pid = ch.who
            mgr = manager(c)
            frozen_late = []
            if mgr is not None:
                prepare_realtime(mgr, proc, linux)
                frozen_late = _exec_join(mgr, c.pid, setup_pid, cgroup, paused=(status == PAUSED))
            ch.send(lib.OCIRUN_MSG_GO)
            pid = step_init_pid(ch)
            undo.callback(kill_and_reap, pid)
            reap(setup_pid)
            ch.who = pid
            ch.send(lib.OCIRUN_MSG_GO)
            master = step_terminal(ch, proc, console, undo) if p.terminal else None
            forwarding = None if detach else Forwarder(pid, master)
            try:
                step_seccomp_listener(ch, p.seccomp, hooks.state(c.data, c.status(), c.pid), pid)
                step_ready(ch)
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
    return wait_foreground(forwarding, master)
