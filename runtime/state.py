"""The state store: one 0700 directory per container under the state root.

<root>/<id>/state.json   what `state` prints, plus what later commands need
<root>/<id>/exec.fifo    exists from `create` until `start`
<root>/<id>/process.json the container's process as `create` saw it (what
                         `exec` inherits: user, capabilities, noNewPrivileges,
                         rlimits, labels, env, cwd); only `exec` reads it

state.json is replaced atomically (temp file, fsync, rename), so readers never
see a torn file and need no lock; commands that change a container hold an
exclusive flock on its directory, so concurrent callers serialize.

Status is derived, never trusted: the init's pid is stored with its start time
(from /proc/PID/stat), so a dead or reused pid reads as stopped.
"""

import os
import time

from . import errors, fastjson
from .host import LINUX

DEFAULT_ROOT = "/run/ocirun"
STATE_FILE = "state.json"
FIFO = "exec.fifo"
PROCESS_RECORD = "process.json"
MAX_ID_LEN = 1024

# Statuses `state` may print; "creating" is internal only (podman rejects it).
CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"

_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_REST = _ID_FIRST | frozenset("_.+-")


def check_id(cid):
    """Ids match [A-Za-z0-9][A-Za-z0-9_.+-]* (at most 1024): no '/', no '..', no escape."""
    if (not cid or len(cid) > MAX_ID_LEN or cid[0] not in _ID_FIRST
            or not _ID_REST.issuperset(cid)):
        raise errors.InvalidContainerId(cid)
    return cid


def rfc3339_now():
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)


class Container:
    """A container's state directory, opened; `data` is state.json's content."""

    def __init__(self, store, cid, dirfd, data):
        self.store = store
        self.id = cid
        self.dir = os.path.join(store.root, cid)
        self._dirfd = dirfd
        self.data = data

    # -- locking -----------------------------------------------------------
    def lock(self):
        """Exclusive lock for the rest of this command (released on close/exit)."""
        self.store.host.flock(self._dirfd, exclusive=True)
        return self

    def close(self):
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- state.json --------------------------------------------------------
    def save(self):
        _atomic_write(self._dirfd, STATE_FILE, fastjson.dumps(self.data).encode())

    def write_record(self, name, data):
        """Another file beside state.json (0600, same atomic write)."""
        _atomic_write(self._dirfd, name, data)

    def read_record(self, name):
        """The bytes of a file beside state.json; OSError when it cannot be read."""
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._dirfd)
        try:
            return _read_all(fd)
        finally:
            os.close(fd)

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def pid(self):
        return self.data.get("pid") or 0

    def init_alive(self):
        """True while the stored init pid is the same live (non-zombie) process."""
        pid = self.pid
        if pid <= 0:
            return False
        st = self.store.host.proc_stat(pid)
        if st is None:
            return False
        letter, start = st
        if letter in ("Z", "X"):
            return False
        want = self.data.get("init_start")
        return want is None or start == want

    def status(self):
        stored = self.data.get("status", CREATING)
        if stored == STOPPED:
            return STOPPED
        if not self.init_alive():
            return STOPPED
        if stored == CREATING:
            return CREATING
        if stored == PAUSED:
            return PAUSED
        if self.store.host.exists(self.path(FIFO)):
            return CREATED
        return RUNNING

    def oci_state(self):
        """The state as engines read it: runtime-spec's state plus runc's extras."""
        status = self.status()
        d = self.data
        out = {
            "ociVersion": d.get("ociVersion", ""),
            "id": self.id,
            "pid": self.pid if status not in (STOPPED,) else 0,
            "status": CREATED if status == CREATING else status,
            "bundle": d.get("bundle", ""),
            "rootfs": d.get("rootfs", ""),
            "created": d.get("created", ""),
            "owner": d.get("owner", ""),
        }
        if d.get("annotations"):
            out["annotations"] = d["annotations"]
        return out

    def destroy(self):
        """Remove the state directory and everything in it."""
        _remove_tree(self.dir)
        self.close()


class StateStore:
    def __init__(self, root=DEFAULT_ROOT, host=LINUX):
        self.root = os.path.abspath(root or DEFAULT_ROOT)
        self.host = host

    def _ensure_root(self):
        try:
            os.makedirs(self.root, 0o700)
        except FileExistsError:
            return
        os.chmod(self.root, 0o700)  # whatever the umask

    def create(self, cid, data):
        """Make <root>/<id> (0700) with its state.json; locked. Existing id: ContainerExists."""
        check_id(cid)
        self._ensure_root()
        path = os.path.join(self.root, cid)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            raise errors.ContainerExists(cid) from None
        os.chmod(path, 0o700)  # the umask must not widen or narrow it
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        c = Container(self, cid, fd, dict(data, id=cid))
        c.lock()
        c.save()
        return c

    def load(self, cid, lock=False):
        """Open a container's state; missing: ContainerNotExist; unreadable: StateCorrupt."""
        check_id(cid)
        path = os.path.join(self.root, cid)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise errors.ContainerNotExist(cid) from None
        except OSError as e:
            if e.errno == 40:  # ELOOP: a symlink where a state dir should be
                raise errors.ContainerNotExist(cid) from None
            raise
        c = Container(self, cid, fd, {})
        try:
            if lock:
                c.lock()
            c.data = self._read_state(fd, path)
        except BaseException:
            c.close()
            raise
        return c

    def _read_state(self, dirfd, path):
        try:
            sfd = os.open(STATE_FILE, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dirfd)
        except FileNotFoundError:
            # A directory without state.json: a create killed before its first
            # write (or our own tmp dir). It is not a container.
            raise errors.ContainerNotExist() from None
        try:
            raw = _read_all(sfd)
        finally:
            os.close(sfd)
        try:
            data = fastjson.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.StateCorrupt("cannot read state `%s/%s`: %s" % (path, STATE_FILE, e)) from None
        if not isinstance(data, dict):
            raise errors.StateCorrupt("cannot read state `%s/%s`: not a JSON object" % (path, STATE_FILE))
        return data

    def remove_broken(self, cid):
        """`delete --force` of a container whose state.json is unreadable."""
        check_id(cid)
        path = os.path.join(self.root, cid)
        if not os.path.isdir(path) or os.path.islink(path):
            raise errors.ContainerNotExist(cid)
        _remove_tree(path)

    def ids(self):
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if not n.startswith(".") and os.path.isfile(os.path.join(self.root, n, STATE_FILE)))


def _read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _atomic_write(dirfd, name, data):
    tmp = ".%s.%d.tmp" % (name, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)


def atomic_write_path(path, data):
    """Write a file at `path` by temp + rename (pid files, which conmon reads)."""
    d, name = os.path.split(os.path.abspath(path))
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _atomic_write(fd, name, data)
    finally:
        os.close(fd)


def _remove_tree(path):
    """rm -r without following symlinks (a container cannot plant a link here, but be safe)."""
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return
    with entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                _remove_tree(e.path)
            else:
                try:
                    os.unlink(e.path)
                except FileNotFoundError:
                    pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
