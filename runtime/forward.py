"""A foreground process (run, exec) and ocirun's own signals.

While `run` or `exec` waits in the foreground, every catchable signal ocirun
gets is forwarded to the process; with a proxied terminal (terminal.Proxy)
SIGWINCH resizes the pty instead, and the wait pumps the terminal both ways.
"""

import os


class Forwarder:
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


def wait_foreground(forwarding, master):
    """Wait for a foreground process (run, exec); its exit status, or 128+signal."""
    import gc

    gc.enable()  # off for the setup (__main__.main); this wait may last for days
    try:
        status = forwarding.wait()
    finally:
        forwarding.restore()
        if master is not None:
            os.close(master)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code
