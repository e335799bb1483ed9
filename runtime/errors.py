"""Errors that reach the user, and how they are printed.

Engines match on some sentences (conmon, containerd's shim, podman): those
live here and nowhere else, worded exactly as runc words them.
"""

import errno as _errno
import os

# Sentences engines match on: keep them byte-for-byte.
CONTAINER_NOT_EXIST = "container does not exist"
CONTAINER_EXISTS = "container with given ID already exists"
CONTAINER_NOT_RUNNING = "container not running"
CONTAINER_NOT_PAUSED = "container not paused"
CONTAINER_NOT_STOPPED = "cannot delete container %s that is not stopped: %s"  # % (id, status)
INVALID_ID = "invalid container ID format"
NOT_CREATED = "cannot start a container that has stopped"


class OciError(Exception):
    """An error with a message fit for the user; the CLI prints it and exits 1."""

    exit_code = 1

    def __init__(self, msg, *, lines=None):
        super().__init__(msg)
        # Some errors (config validation) have one line per problem.
        self.lines = list(lines) if lines else [msg]


class UsageError(OciError):
    """Bad command-line arguments."""


class ContainerNotExist(OciError):
    def __init__(self, cid=None):
        super().__init__(CONTAINER_NOT_EXIST)
        self.cid = cid


class ContainerExists(OciError):
    def __init__(self, cid=None):
        super().__init__(CONTAINER_EXISTS)
        self.cid = cid


class InvalidContainerId(OciError):
    def __init__(self, cid):
        super().__init__("%s: %r" % (INVALID_ID, cid))


class ConfigError(OciError):
    """config.json is invalid; one line per problem."""

    def __init__(self, problems):
        problems = list(problems)
        super().__init__(problems[0] if problems else "invalid config", lines=problems)


class StateCorrupt(OciError):
    """state.json cannot be read back."""


class CoreError(OciError):
    """A failure inside the C core: which stage, which call, which errno."""

    def __init__(self, err_no, stage, msg):
        text = msg
        if err_no:
            text = "%s: %s" % (msg, strerror(err_no))
        if stage:
            text = "%s: %s" % (stage, text)
        super().__init__(text)
        self.errno, self.stage, self.msg = err_no, stage, msg


def strerror(err_no):
    """`EPERM (Operation not permitted)`: the symbol helps in bug reports."""
    name = _errno.errorcode.get(err_no, "E%d" % err_no)
    return "%s (%s)" % (name, os.strerror(err_no))


def pid_file_error(path, err_no):
    """--pid-file cannot be written: name the flag and the path as given (not a temp file)."""
    return OciError("write --pid-file `%s`: %s" % (path, strerror(err_no)))


def os_error(doing, obj, exc):
    """`<doing> `<obj>`: <strerror>` from an OSError."""
    return OciError("%s `%s`: %s" % (doing, obj, strerror(exc.errno) if exc.errno else exc))
