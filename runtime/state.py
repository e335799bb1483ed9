"""The state store: one 0700 directory per container under the state root.

<root>/<id>/state.json   what `state` prints, plus what later commands need
<root>/<id>/exec.fifo    exists from `create` until `start`
<root>/<id>/process.json the container's process as `create` saw it (what
                         `exec` inherits: user, capabilities, noNewPrivileges,
                         rlimits, labels, env, cwd); only `exec` reads it
<root>/<id>/recovery.json the init's pid and start time and the cgroup, written
                         by `create` as soon as each is known (before
                         state.json holds them): what `delete --force` of a
                         container whose state.json is corrupt or gone finds
                         them by. Read for nothing else.

<root>/.locks/<id>       the id's lock (flock), held by every command that
                         makes, changes or removes <root>/<id>

state.json is replaced atomically (temp file, rename; no fsync: the rename
protects against a crashing process, and a machine crash wipes /run and kills
every container anyway), so readers never see a torn file and need no lock; commands that change a container hold an
exclusive flock on its id's lock file, so concurrent callers serialize. The
lock is per id, not per directory: a directory can be removed and made again
under the same name while a caller waits, and the lock must cover the name.
A caller that opened the directory before waiting checks, once it holds the
lock, that the name still leads to that same directory (st_dev, st_ino);
otherwise the container it came for is gone. Nothing is removed by path
without the lock held. The lock file goes with the container; a caller that
waited on a lock file removed meanwhile sees it is no longer at its path and
locks the current one. The temp file of an atomic write is unnamed
(O_TMPFILE) or has a random name opened O_EXCL|O_NOFOLLOW: a link planted in a
writable directory (a --pid-file's) is never written through.

Nothing read back is trusted blindly: the root, a container's directory and
every file in it must be ours (the effective uid's) and writable by nobody
else, checked with fstat on the fd that is then used. A root that others may
write to (even a sticky 1777 one like /tmp) is refused: anyone could plant a
container directory or a `.cache` entry there before we do.

Status is derived, never trusted: the init's pid is stored with its start time
(from /proc/PID/stat), so a dead or reused pid reads as stopped.

The primitives (trusted open, root, lock, atomic write, /proc/PID/stat and
the status rule) are C, runtime/core/store.c: the C front door (`ocirun`
itself, runtime/core/launcher.c) answers state/start/kill/delete with the
same code this module calls through cffi.
"""

import os
import stat
import time

from . import errors, fastjson
from .files import (
    atomic_write as _atomic_write,
    open_trusted,
    raise_os as _raise_os,
    read_all as _read_all,
    remove_tree as _remove_tree,
    store_lib as _core,
    why_text as _why,
)
from .host import LINUX

DEFAULT_ROOT = "/run/ocirun"
STATE_FILE = "state.json"
LOCKS = ".locks"
FIFO = "exec.fifo"
PROCESS_RECORD = "process.json"
RECOVERY_RECORD = "recovery.json"
MAX_ID_LEN = 1024
LOCK_TIMEOUT = 10.0  # seconds any command waits for an id's lock before it gives up

# Statuses `state` may print; "creating" is internal only (podman rejects it).
CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"
# core/store.h's enum ocirun_status
_STATUS_NAME = (CREATING, CREATED, RUNNING, PAUSED, STOPPED)
_STATUS_CODE = {name: i for i, name in enumerate(_STATUS_NAME)}

_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_REST = _ID_FIRST | frozenset("_.+-")


def check_id(cid):
    """Ids match [A-Za-z0-9][A-Za-z0-9_.+-]* (at most 1024): no '/', no '..', no escape."""
    if not cid or len(cid) > MAX_ID_LEN or cid[0] not in _ID_FIRST or not _ID_REST.issuperset(cid):
        raise errors.InvalidContainerId(cid)
    return cid


_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def rfc3339_now():
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)


def cgroups_path(cg):
    """The container's cgroup below its hierarchy's mount (`/ocirun/ID`) from
    the state's cgroup record (v1: the first hierarchy's; systemd: its
    cgroupfs part); None without one. core/door.c's cgroup_rel, the same rule."""
    if not isinstance(cg, dict) or not cg:
        return None
    if cg.get("driver") == "systemd":
        return cgroups_path(cg.get("fs"))
    layout = cg.get("layout")
    if layout == "hybrid":
        return cgroups_path(cg.get("v1"))
    g = cg
    if layout == "v1":
        groups = cg.get("groups")
        g = groups[0] if isinstance(groups, list) and groups else None
    elif layout != "v2":
        return None
    d, mount = (g.get("dir"), g.get("mount")) if isinstance(g, dict) else (None, None)
    if not isinstance(d, str) or not isinstance(mount, str):
        return None
    mount = mount.rstrip("/")
    return d[len(mount) :] if d.startswith(mount + "/") else None


class Container:
    """A container's state directory, opened; `data` is state.json's content."""

    def __init__(self, store, cid, dirfd, data, lockfd=None):
        self.store = store
        self.id = cid
        self.dir = os.path.join(store.root, cid)
        self._dirfd = dirfd
        self._lockfd = lockfd
        self.data = data

    # -- locking -----------------------------------------------------------
    def lock(self):
        """Exclusive lock on the id for the rest of this command (released on
        close/exit). ContainerNotExist if, by the time the lock is ours, the
        directory opened before is no longer the one at <root>/<id> (deleted,
        maybe made again for another container)."""
        if self._lockfd is None:
            self._lockfd = self.store.lock_id(self.id)
            if not _same_file(self._dirfd, self.dir):
                self.close()
                raise errors.ContainerNotExist(self.id)
        return self

    def unlock(self):
        """Release the id's lock early (start, before its poststart hooks)."""
        if self._lockfd is not None:
            fd, self._lockfd = self._lockfd, None
            os.close(fd)

    def close(self):
        for name in ("_dirfd", "_lockfd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)

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
        """The bytes of a file beside state.json, checked like state.json;
        OSError when it cannot be read, StateCorrupt if not to be trusted."""
        fd = self.open_record(name)
        try:
            return _read_all(fd)
        finally:
            os.close(fd)

    def open_record(self, name, kind=stat.S_IFREG, others_may_write=False):
        """An fd of a file of the state dir, checked (open_trusted);
        FileNotFoundError if absent, StateCorrupt if not to be trusted."""
        try:
            return open_trusted(name, self._dirfd, kind, others_may_write)
        except ValueError as e:
            raise errors.StateCorrupt("cannot read state `%s`: %s" % (self.path(name), e)) from None

    def read(self, name):
        """A record of the state dir (checked like state.json); None if absent."""
        try:
            fd = self.open_record(name)
        except FileNotFoundError:
            return None
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
        return self._status(RUNNING, fifo=False) != STOPPED

    def status(self):
        stored = self.data.get("status", CREATING)
        if stored not in _STATUS_CODE:
            stored = RUNNING  # as before: an unknown stored status is judged by the facts
        return self._status(stored, None)

    def _status(self, stored, fifo):
        """core/store.c's rule (ocirun_store_status), fed this host's facts."""
        ffi, lib = _core()
        pid = self.pid
        if not isinstance(pid, int) or not -(2**31) <= pid < 2**31:
            pid = 0
        want = self.data.get("init_start")
        has_start = isinstance(want, int) and 0 <= want < 2**64
        letter, start = b"\0", 0
        if stored != STOPPED and pid > 0:
            if self.store.host is LINUX:
                let, st = ffi.new("char *"), ffi.new("uint64_t *")
                if lib.ocirun_proc_stat(pid, let, st) == 0:
                    letter, start = let[0], st[0]
            else:
                got = self.store.host.proc_stat(pid)
                if got is not None:
                    letter, start = got[0].encode(), got[1]
        if want is not None and not has_start:
            letter = b"\0"  # a start time that is no number never matches
        if fifo is None:
            fifo = stored in (CREATED, RUNNING) and self.store.host.exists(self.path(FIFO))
        code = lib.ocirun_store_status(
            _STATUS_CODE[stored], pid, has_start, want if has_start else 0, letter, start, 1 if fifo else 0
        )
        return _STATUS_NAME[code]

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
        path = cgroups_path(d.get("cgroup"))
        if path is not None:
            out["cgroupsPath"] = path  # ours, after runc's fields (not in the hooks' state)
        return out

    def destroy(self):
        """Remove the state directory and everything in it (the lock held: lock() or create())."""
        if self._lockfd is None:
            raise errors.OciError("internal error: container `%s` removed without its lock" % self.id)
        _remove_tree(self.dir)
        self.store.drop_lock(self.id)
        self.close()


class StateStore:
    def __init__(self, root=DEFAULT_ROOT, host=LINUX):
        self.root = os.path.abspath(root or DEFAULT_ROOT)
        self.host = host

    def open_root(self, create=False):
        """An fd of the root, made 0700 if missing and create; FileNotFoundError
        if missing; one clear OciError if someone else owns or may write it."""
        ffi, lib = _core()
        why = ffi.new("char[]", 4400)
        r = lib.ocirun_store_open_root(os.fsencode(self.root), 1 if create else 0, why, 4400)
        if r == lib.OCIRUN_STORE_REFUSED:
            raise errors.OciError(_why(why))
        if r < 0:
            _raise_os(r, self.root)
        return r

    def lock_id(self, cid):
        """An fd holding the exclusive flock of <root>/.locks/<id>; waits for
        it at most LOCK_TIMEOUT seconds (a blocking flock: /proc/locks shows
        the waiter), then fails with one line naming the holder."""
        ffi, lib = _core()
        why = ffi.new("char[]", 4400)
        r = lib.ocirun_store_lock(os.fsencode(self.root), os.fsencode(cid), int(LOCK_TIMEOUT * 1000), why, 4400)
        if r in (lib.OCIRUN_STORE_REFUSED, lib.OCIRUN_STORE_TIMEOUT):
            raise errors.OciError(_why(why))
        if r < 0:
            _raise_os(r, cid)
        return r

    def drop_lock(self, cid):
        """Remove <root>/.locks/<id>; only while holding it, with the container gone.
        .locks itself goes once empty (a lock file in it keeps it: rmdir fails)."""
        _core()[1].ocirun_store_drop_lock(os.fsencode(self.root), os.fsencode(cid))

    def create(self, cid, data):
        """Make <root>/<id> (0700) with its state.json; locked. Existing id: ContainerExists."""
        check_id(cid)
        lockfd = self.lock_id(cid)
        try:
            rootfd = self.open_root(create=True)
            try:
                try:
                    os.mkdir(cid, 0o700, dir_fd=rootfd)
                except FileExistsError:
                    raise errors.ContainerExists(cid) from None
                try:
                    fd = os.open(cid, _O_DIR, dir_fd=rootfd)
                    os.fchmod(fd, 0o700)  # the umask must not widen or narrow it
                except BaseException:
                    _remove_tree(os.path.join(self.root, cid))
                    self.drop_lock(cid)
                    raise
            finally:
                os.close(rootfd)
        except BaseException:
            os.close(lockfd)
            raise
        c = Container(self, cid, fd, dict(data, id=cid), lockfd)
        try:
            c.save()
        except BaseException:
            c.destroy()
            raise
        return c

    def load(self, cid, lock=False):
        """Open a container's state; missing: ContainerNotExist; unreadable: StateCorrupt."""
        check_id(cid)
        path = os.path.join(self.root, cid)
        try:
            rootfd = self.open_root()
        except FileNotFoundError:
            raise errors.ContainerNotExist(cid) from None
        try:
            fd = open_trusted(cid, rootfd, stat.S_IFDIR)
        except (FileNotFoundError, NotADirectoryError):
            raise errors.ContainerNotExist(cid) from None
        except ValueError as e:
            if str(e) in ("a symlink", "not a directory"):  # no state dir at that name
                raise errors.ContainerNotExist(cid) from None
            raise errors.StateCorrupt("cannot read state `%s`: %s" % (path, e)) from None
        finally:
            os.close(rootfd)
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
            sfd = open_trusted(STATE_FILE, dirfd)
        except FileNotFoundError:
            # A directory without state.json: a create killed before its first
            # write (or our own tmp dir). It is not a container.
            raise errors.ContainerNotExist() from None
        except ValueError as e:
            raise errors.StateCorrupt("cannot read state `%s/%s`: %s" % (path, STATE_FILE, e)) from None
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

    def remove_broken(self, cid, recover=None):
        """`delete --force` of a container whose state.json is missing or
        unreadable, under the id's lock. A directory that, once the lock is
        ours, holds a readable state.json is a container (made again while
        the caller waited): it stays, and the answer is ContainerNotExist
        (the one the caller came for is gone).

        recover(container, why), when given, runs first, still under the
        lock: `container` is the directory opened (its `data` empty, to be
        filled from what survives), `why` the StateCorrupt or
        ContainerNotExist that state.json gave. An error from it keeps the
        directory, so a later delete can try again."""
        check_id(cid)
        path = os.path.join(self.root, cid)
        if not os.path.lexists(path):
            raise errors.ContainerNotExist(cid)
        lockfd = self.lock_id(cid)
        try:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                self.drop_lock(cid)  # no container by that name: its lock file goes too
                raise errors.ContainerNotExist(cid) from None
            except OSError as e:
                if e.errno == 40:  # ELOOP: a symlink, not a state dir
                    raise errors.ContainerNotExist(cid) from None
                raise
            try:
                try:
                    self._read_state(fd, path)
                except (errors.ContainerNotExist, errors.StateCorrupt) as e:
                    why = e
                else:
                    raise errors.ContainerNotExist(cid)
                if recover is not None:
                    recover(Container(self, cid, fd, {}), why)
            finally:
                os.close(fd)
            _remove_tree(path)
            self.drop_lock(cid)
        finally:
            os.close(lockfd)

    def ids(self, partial=False):
        """The ids of the containers under the root: directories with a
        state.json (readable or not); with partial, also those left with only
        their recovery record."""
        try:
            fd = self.open_root()
        except FileNotFoundError:
            return []
        try:
            names = os.listdir(fd)
        finally:
            os.close(fd)
        files = (STATE_FILE, RECOVERY_RECORD) if partial else (STATE_FILE,)
        return sorted(
            n
            for n in names
            if not n.startswith(".") and any(os.path.isfile(os.path.join(self.root, n, f)) for f in files)
        )


def _rmdir_quietly(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


def _same_file(fd, path):
    """True while `path` (not followed) is the file open at `fd`."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    here = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (here.st_dev, here.st_ino)
