"""run: create + start; in the foreground, forward signals, wait for the
process and delete the container (unless --keep)."""

import os

from .. import errors, log
from ..forward import Forwarder, wait_foreground
from .create import create
from .delete import delete
from .spawn import RUN_SIGNALS, block_signals
from .start import start


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

    SIGS = RUN_SIGNALS

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
        from .. import core

        _ffi, lib = core.load()
        # Orphans of a container without a pid namespace come back to us to reap.
        lib.ocirun_set_subreaper(1)
    # create undoes itself on any exception, _Interrupted included; it returns
    # with the signals blocked, so none can fall between its undo and ours
    c, pid, master = create(
        ctx,
        cid,
        opts.bundle,
        opts.config,
        pid_file=opts.pid_file,
        console_socket=opts.console_socket,
        no_pivot=opts.no_pivot,
        pidfd_socket=getattr(opts, "pidfd_socket", None),
        no_new_keyring=opts.no_new_keyring,
        preserve_fds=opts.preserve_fds or 0,
        detach=detach,
        mask_on_return=True,
    )
    forwarding = None
    try:
        block_signals(False)  # one that came meanwhile is raised here, inside the try
        if not detach:
            # Before the process is released: a signal must never find ocirun
            # without its forwarder (the default action would kill ocirun and
            # orphan the container).
            forwarding = Forwarder(pid, master)
        start(ctx, cid, c)
        # Started: from here a signal goes to the process (foreground) or is
        # too late to undo anything (detached); the final delete runs whole.
        guard.disarm()
    except BaseException as e:
        guard.disarm()
        block_signals(False)
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
    code = wait_foreground(forwarding, master)
    log.LOG.debug("run %s: process exited, exit status %d", cid, code)
    if not opts.keep:
        delete(ctx, cid, force=True)
    return code
