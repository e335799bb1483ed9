"""What create and exec share: the spawn of the setup process and the
exchanges with the core that both make.

`open_channel` makes the sync socketpair with both ends placed above the
preserved fds, `spawn` starts the setup process of a plan, registers its
undo step and maps a failure to one line; the `step_*` functions are the
exchanges of the protocol (core/sync.c) both operations go through. `Undo`
is the stack of undo steps an operation registers as it makes things.
"""

import os

from .. import errors, log
from ..files import atomic_write_path
from ..sync import Channel, kill_and_reap

SECCOMP_PROFILE = "seccomp.json"  # in the state dir: the profile `exec` applies too
RUN_SIGNALS = (1, 2, 15)  # HUP, INT, TERM: what aborts a `run` before its process runs


def fd_floor(preserve_fds):
    """The lowest fd ocirun's own fds for the child may take: above 0-2, the
    preserved fds and LISTEN_FDS, which go to the container as they are."""
    from ..plan import listen_fds

    return 3 + preserve_fds + listen_fds()


def open_channel(undo, floor):
    """The sync socketpair: (the parent's socket, the child's fd, a copy of
    the parent's fd for the child to close), both fds at or above floor."""
    import _socket as socket

    from ..plan import _high_fd

    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    undo.callback(parent_sock.close)
    child_fd = _high_fd(child_sock.detach(), floor)
    parent_fd = _high_fd(os.dup(parent_sock.fileno()), floor)
    return parent_sock, child_fd, parent_fd


def spawn(ffi, lib, p, parent_sock, undo, mask=False):
    """Start the setup process of plan `p`; its kill is an undo step from the
    moment it exists (with mask, HUP/INT/TERM cannot fall in between). The
    plan's fds are closed (the child has its copies). Returns the Channel to it."""
    err = ffi.new("struct ocirun_error *")
    if mask:
        block_signals(True)
    try:
        setup_pid = lib.ocirun_spawn(p.c, err)
        if setup_pid >= 0:
            undo.callback(kill_and_reap, setup_pid)
    finally:
        if mask:
            block_signals(False)
    if setup_pid < 0:
        raise errors.CoreError(
            err.err_no,
            ffi.string(lib.ocirun_stage_name(err.stage)).decode(),
            ffi.string(err.msg).decode(errors="replace"),
        )
    log.LOG.debug("setup process %d spawned", setup_pid)
    p.close()
    return Channel(ffi, lib, parent_sock, setup_pid)


REALTIME_POLICIES = ("SCHED_FIFO", "SCHED_RR")


def prepare_realtime(mgr, proc, linux):
    """A real-time process.scheduler policy needs a budget in the cgroup first."""
    if ((proc or {}).get("scheduler") or {}).get("policy") not in REALTIME_POLICIES:
        return
    cpu = (linux.get("resources") or {}).get("cpu") or {}
    runtime = cpu.get("realtimeRuntime")
    mgr.prepare_realtime("process.scheduler.policy", runtime if isinstance(runtime, int) and runtime > 0 else None)


def step_init_pid(ch):
    msg, _ = ch.wait(ch.lib.OCIRUN_MSG_INIT_PID, "namespace setup")
    return msg.pid


def step_terminal(ch, proc, console, undo):
    """The init sent its pty master: size it, then hand it to the console
    socket (returns None) or keep it for `run`'s proxy (returns the fd)."""
    _, master = ch.wait(ch.lib.OCIRUN_MSG_TERMINAL, "terminal setup")
    if master is None:
        raise errors.CoreError(0, "terminal", "the container sent no pty master")
    from .. import terminal

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


def step_seccomp_listener(ch, flt, state, pid=None):
    """SCMP_ACT_NOTIFY: the child loaded its filter and sent the listener up;
    hand it to the agent at listenerPath. A failed send fails the operation."""
    if flt is None or not flt.needs_listener:
        return
    _, fd = ch.wait(ch.lib.OCIRUN_MSG_SECCOMP_FD, "seccomp setup")
    if fd is None:
        raise errors.CoreError(0, "seccomp", "the container sent no seccomp listener fd")
    from .. import seccomp

    try:
        seccomp.send_listener_fd(flt.listener_path, fd, state, flt.listener_metadata, pid)
    finally:
        os.close(fd)  # the agent has its own now; the container never had a copy


def step_ready(ch):
    ch.wait(ch.lib.OCIRUN_MSG_READY, "process setup")


def _listen_fds():
    from ..plan import listen_fds

    return listen_fds()


def fill_preserved_range(floor):
    """fds 3..floor-1 go to the container as they are: any hole there must be
    plugged (with /dev/null) before ocirun opens anything, or its own state
    dir or socket would land in the hole and leak into the container."""
    limit = os.sysconf("SC_OPEN_MAX")  # RLIMIT_NOFILE: no fd at or above it can exist
    if floor < 3 or floor > limit:
        raise errors.UsageError(
            "invalid --preserve-fds %d: fds 3 to %d (with LISTEN_FDS) must stay below the "
            "open files limit %d" % (floor - 3 - _listen_fds(), floor - 1, limit)
        )
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
    from .. import plan as planmod

    if preserve_fds is not None and preserve_fds < 0:
        raise errors.UsageError("--preserve-fds: want a number >= 0, got %d" % preserve_fds)
    fill_preserved_range(3 + (preserve_fds or 0) + planmod.listen_fds())


def write_pid_file(path, pid):
    try:
        atomic_write_path(path, str(pid).encode())
    except OSError as e:
        raise errors.pid_file_error(path, e.errno) from None


class Undo:
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


def block_signals(block):
    """Mask HUP, INT and TERM around a step whose result must be registered
    for undo before anything can interrupt (a pid just spawned)."""
    import _signal as signal

    signal.pthread_sigmask(signal.SIG_BLOCK if block else signal.SIG_UNBLOCK, RUN_SIGNALS)
