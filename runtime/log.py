"""Where errors and debug lines go: stderr, and `--log FILE` as text or JSON lines."""

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

    def _emit(self, level, msg):
        if not self.path:
            return
        if self.fmt == "json":
            line = fastjson.dumps({"level": level, "msg": msg, "time": _rfc3339()}, tight=True)
        else:
            line = 'time="%s" level=%s msg=%s' % (_rfc3339(), level, fastjson.dumps(msg))
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

    def debug(self, msg):
        if self.debug_enabled:
            sys.stderr.write("debug: " + msg + "\n")
            self._emit("debug", msg)


# Replaced by __main__ once the global flags are parsed.
LOG = Logger()
