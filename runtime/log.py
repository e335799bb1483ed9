"""Where errors, warnings and debug lines go: stderr, and `--log FILE` as text or JSON lines.

`LOG` is one object for the whole run: __main__ configures it in place once
the global flags are parsed (`LOG.configure`), so `log.LOG` and a
`from .log import LOG` taken at any time, before or after, are the same
logger. `LOG.capture()` collects warnings instead of printing them
(`validate` reports create's warnings as findings).

Debug lines cost nothing when --debug is off: `debug(fmt, *args)` formats
only when it will write. With --debug they go to the --log file when one is
given, else to stderr, in runc's shape (`time="..." level=debug msg="..."`,
or one JSON object per line with --log-format json).
"""

import os
import sys
import time

from . import fastjson


def _rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09dZ" % int((t % 1) * 1e9)


class Logger:
    def __init__(self, path=None, fmt="text", debug=False):
        self._fd = None
        self._captured = None
        self.configure(path, fmt, debug)

    def configure(self, path=None, fmt="text", debug=False):
        """Where lines go from now on (the global flags --log, --log-format, --debug)."""
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def capture(self):
        """`with LOG.capture() as warnings:` warnings go to the list, errors
        and debug lines nowhere, until the block ends."""
        return _Capture(self)

    def _line(self, level, msg):
        if self.fmt == "json":
            return fastjson.dumps({"level": level, "msg": msg, "time": _rfc3339()}, tight=True)
        return 'time="%s" level=%s msg=%s' % (_rfc3339(), level, fastjson.dumps(msg))

    def _emit(self, level, msg):
        if not self.path:
            return
        line = self._line(level, msg)
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            os.write(self._fd, (line + "\n").encode())
        except OSError as e:
            sys.stderr.write("cannot write log `%s`: %s\n" % (self.path, os.strerror(e.errno)))
            self.path = None

    def error(self, msg):
        if self._captured is not None:
            return
        sys.stderr.write(msg + "\n")
        self._emit("error", msg)

    def warning(self, msg):
        if self._captured is not None:
            self._captured.append(msg)
            return
        sys.stderr.write("warning: " + msg + "\n")
        self._emit("warning", msg)

    def debug(self, msg, *args):
        """One line about a step; `msg % args` is built only with --debug."""
        if not self.debug_enabled or self._captured is not None:
            return
        if args:
            msg = msg % args
        if self.path:
            self._emit("debug", msg)
        else:
            sys.stderr.write(self._line("debug", msg) + "\n")


class _Capture:
    def __init__(self, logger):
        self.logger = logger
        self.saved = None

    def __enter__(self):
        self.saved, self.logger._captured = self.logger._captured, []
        return self.logger._captured

    def __exit__(self, *exc):
        self.logger._captured = self.saved
        return False


# The one logger; __main__ configures it from the global flags.
LOG = Logger()
