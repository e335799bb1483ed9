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

state.json is replaced atomically (temp file, fsync, rename), so readers never
see a torn file and need no lock; commands that change a container hold an
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
"""

import os
import stat
import time

from . import errors, fastjson
from .host import LINUX

DEFAULT_ROOT = "/run/ocirun"
STATE_FILE = "state.json"
LOCKS = ".locks"
FIFO = "exec.fifo"
PROCESS_RECORD = "process.json"
RECOVERY_RECORD = "recovery.json"
MAX_ID_LEN = 1024
LOCK_TIMEOUT = 10.0   # seconds any command waits for an id's lock before it gives up

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


_O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = {stat.S_IFREG: "a regular file", stat.S_IFDIR: "a directory", stat.S_IFIFO: "a fifo"}


def untrusted(st, kind, others_may_write=False):
    """Why a file (fstat result) cannot be trusted as ours, or None: it must
    be of `kind` (stat.S_IFREG...), owned by the effective uid and, unless
    others_may_write, writable by nobody else."""
    if stat.S_IFMT(st.st_mode) != kind:
        return "not %s" % _KINDS[kind]
    if st.st_uid != os.geteuid():
        return "owned by uid %d, not %d" % (st.st_uid, os.geteuid())
    if st.st_mode & 0o022 and not others_may_write:
        return "writable by group or others (mode %04o)" % stat.S_IMODE(st.st_mode)
    return None


def open_trusted(name, dir_fd, kind=stat.S_IFREG, others_may_write=False):
    """Open `name` in dir_fd without following a final symlink (and without
    blocking on a fifo); the fd, or raises FileNotFoundError, or ValueError
    saying why the file is not to be trusted."""
    try:
        fd = os.open(name, _O_DIR if kind == stat.S_IFDIR else _O_READ, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == 40:  # ELOOP: a symlink
            raise ValueError("a symlink") from None
        if e.errno == 20 and kind == stat.S_IFDIR:  # ENOTDIR
            raise ValueError("not a directory") from None
        raise
    why = untrusted(os.fstat(fd), kind, others_may_write)
    if why:
        os.close(fd)
        raise ValueError(why)
    return fd


def rfc3339_now():
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)


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
        made = False
        if create:
            try:
                os.makedirs(self.root, 0o700)
                made = True
            except FileExistsError:
                pass
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if made:
                os.fchmod(fd, 0o700)  # whatever the umask
            why = untrusted(os.fstat(fd), stat.S_IFDIR)
        except BaseException:
            os.close(fd)
            raise
        if why:
            os.close(fd)
            raise errors.OciError("state root `%s` is %s: refusing to use it" % (self.root, why))
        return fd

    def lock_id(self, cid):
        """An fd holding the exclusive flock of <root>/.locks/<id>; waits for
        it at most LOCK_TIMEOUT seconds, then fails with one line."""
        os.close(self.open_root(create=True))
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            dfd = _open_locks_dir(self.root)
            try:
                fd = os.open(cid, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
            except FileNotFoundError:
                os.close(dfd)  # .locks was removed (empty) between our mkdir and open: again
                continue
            except OSError:
                os.close(dfd)  # ENAMETOOLONG...: no lock, and no empty .locks left behind
                _rmdir_quietly(os.path.join(self.root, LOCKS))
                raise
            try:
                self._flock_bounded(fd, cid, deadline)
                here = os.fstat(fd)
                try:
                    now = os.stat(cid, dir_fd=dfd, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
            except BaseException:
                os.close(fd)
                raise
            finally:
                os.close(dfd)
            if now is not None and (now.st_dev, now.st_ino) == (here.st_dev, here.st_ino):
                return fd
            # Its container was deleted while we waited (and the file with it): lock the current one.
            os.close(fd)

    def _flock_bounded(self, fd, cid, deadline):
        """flock fd, waiting until deadline at most. The wait is a blocking
        flock cut short by SIGALRM (so /proc/locks shows the waiter); polled
        with LOCK_NB where no signal handler can be set (not the main thread)."""
        try:
            self.host.flock(fd, exclusive=True, blocking=False)
            return
        except BlockingIOError:
            pass
        import signal

        class _Late(Exception):
            pass

        def late(signum, frame):
            raise _Late()

        try:
            old = signal.signal(signal.SIGALRM, late)
        except ValueError:
            old = None
        try:
            if old is None:
                while True:
                    try:
                        self.host.flock(fd, exclusive=True, blocking=False)
                        return
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise _Late() from None
                        time.sleep(0.02)
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Late()
            signal.setitimer(signal.ITIMER_REAL, left)
            try:
                self.host.flock(fd, exclusive=True)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Late:
            holder = _lock_holder(fd)
            raise errors.OciError("container `%s` is locked by another ocirun command%s: gave up waiting after %gs"
                                  % (cid, " (pid %d)" % holder if holder else "", LOCK_TIMEOUT)) from None
        finally:
            if old is not None:
                signal.signal(signal.SIGALRM, old)

    def drop_lock(self, cid):
        """Remove <root>/.locks/<id>; only while holding it, with the container gone.
        .locks itself goes once empty (a lock file in it keeps it: rmdir fails)."""
        path = os.path.join(self.root, LOCKS)
        try:
            dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            os.unlink(cid, dir_fd=dfd)
        except FileNotFoundError:
            pass
        finally:
            os.close(dfd)
        _rmdir_quietly(path)  # ENOTEMPTY: other ids hold locks

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
            fd = os.open(cid, _O_DIR, dir_fd=rootfd)
        except (FileNotFoundError, NotADirectoryError):
            raise errors.ContainerNotExist(cid) from None
        except OSError as e:
            if e.errno == 40:  # ELOOP: a symlink where a state dir should be
                raise errors.ContainerNotExist(cid) from None
            raise
        finally:
            os.close(rootfd)
        why = untrusted(os.fstat(fd), stat.S_IFDIR)
        if why:
            os.close(fd)
            raise errors.StateCorrupt("cannot read state `%s`: %s" % (path, why))
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
        return sorted(n for n in names if not n.startswith(".")
                      and any(os.path.isfile(os.path.join(self.root, n, f)) for f in files))


def _open_locks_dir(root):
    path = os.path.join(root, LOCKS)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    why = untrusted(os.fstat(fd), stat.S_IFDIR)
    if why:
        os.close(fd)
        raise errors.OciError("state lock directory `%s` is %s: refusing to use it" % (path, why))
    return fd


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


def _read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


_O_TMPFILE = getattr(os, "O_TMPFILE", 0o20200000)
# O_TMPFILE unsupported by the filesystem or the kernel
_NO_TMPFILE = (95, 21, 22)  # EOPNOTSUPP, EISDIR, EINVAL


def _atomic_write(dirfd, name, data):
    """Replace dirfd/name by a 0600 file holding data, atomically.

    The new content is written to an unnamed O_TMPFILE (or, on a filesystem
    without it, to a random name created O_EXCL|O_NOFOLLOW), linked under a
    random name (linkat never follows a link planted there) and renamed over
    `name`: rename replaces whatever is at `name`, a symlink included, and
    never writes through it.
    """
    try:
        fd = os.open(".", os.O_WRONLY | _O_TMPFILE | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
        tmp = None
    except OSError as e:
        if e.errno not in _NO_TMPFILE:
            raise
        fd, tmp = _create_random(dirfd, name)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            if tmp is None:
                tmp = _link_random(fd, dirfd, name)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    except BaseException:
        if tmp is not None:
            try:
                os.unlink(tmp, dir_fd=dirfd)
            except OSError:
                pass
        raise


def _random_name(name):
    return ".%s.%s.tmp" % (name, os.urandom(8).hex())


def _create_random(dirfd, name):
    while True:
        tmp = _random_name(name)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                           dir_fd=dirfd), tmp
        except FileExistsError:
            continue


def _link_random(fd, dirfd, name):
    while True:
        tmp = _random_name(name)
        try:
            os.link("/proc/self/fd/%d" % fd, tmp, dst_dir_fd=dirfd, follow_symlinks=True)
            return tmp
        except FileExistsError:
            continue


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


def _lock_holder(fd):
    """The pid /proc/locks names as holding the flock on fd's file, or None."""
    try:
        st = os.fstat(fd)
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 5 and parts[1] != "->" and parts[1] == "FLOCK" \
                        and parts[5].rsplit(":", 1)[-1] == str(st.st_ino):
                    return int(parts[4])
    except (OSError, ValueError):
        pass
    return None
