"""Where errors, warnings and debug lines go: stderr, and `--log FILE` as text or JSON lines.

Read the logger as `log.LOG` at call time (never `from .log import LOG`):
__main__ replaces it once the global flags are parsed, and a module imported
before that would keep the old one.

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
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug
        self._fd = None

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
        sys.stderr.write(msg + "\n")
        self._emit("error", msg)

    def warning(self, msg):
        sys.stderr.write("warning: " + msg + "\n")
        self._emit("warning", msg)

    def debug(self, msg, *args):
        """One line about a step; `msg % args` is built only with --debug."""
        if not self.debug_enabled:
            return
        if args:
            msg = msg % args
        if self.path:
            self._emit("debug", msg)
        else:
            sys.stderr.write(self._line("debug", msg) + "\n")


# Replaced by __main__ once the global flags are parsed: read it as log.LOG.
LOG = Logger()
