"""The state root's file primitives (core/store.c does the work): open a
file only if it is trusted (ours, of the kind asked, writable by nobody else),
read it whole, replace it atomically, remove a tree without following links.
state.py builds the store on them; the seccomp cache (seccomp.py) uses them
in the state root's `.cache`.
"""

import os
import stat

_ffi = _lib = None


def store_lib():
    """(ffi, lib) of the C core, loaded on first use."""
    global _ffi, _lib
    if _lib is None:
        from . import core

        _ffi, _lib = core.load()
    return _ffi, _lib


def why_text(buf):
    return _ffi.string(buf).decode(errors="replace")


def raise_os(r, path=None):
    raise OSError(-r, os.strerror(-r), path)


def open_trusted(name, dir_fd, kind=stat.S_IFREG, others_may_write=False):
    """Open `name` in dir_fd without following a final symlink (and without
    blocking on a fifo), checked to be of `kind`, ours (the effective uid's)
    and, unless others_may_write, writable by nobody else (core/store.c);
    the fd, or raises FileNotFoundError (OSError), or ValueError saying why
    the file is not to be trusted."""
    ffi, lib = store_lib()
    why = ffi.new("char[]", 256)
    r = lib.ocirun_store_open(
        -100 if dir_fd is None else dir_fd, os.fsencode(name), kind, 1 if others_may_write else 0, why, 256
    )
    if r == lib.OCIRUN_STORE_REFUSED:
        raise ValueError(why_text(why))
    if r < 0:
        raise_os(r, name)
    return r


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


WRITE_FLAGS = 0  # tests: OCIRUN_STORE_NO_TMPFILE, as on a filesystem without O_TMPFILE


def atomic_write(dirfd, name, data):
    """Replace dirfd/name by a 0600 file holding data, atomically
    (core/store.c, ocirun_store_write): an unnamed O_TMPFILE, or a random
    name created O_EXCL|O_NOFOLLOW, linked under a random name and renamed
    over `name`; rename replaces whatever is at `name`, a symlink included,
    and never writes through it. No fsync (see the top of state.py)."""
    _, lib = store_lib()
    data = bytes(data)
    r = lib.ocirun_store_write(dirfd, os.fsencode(name), data, len(data), WRITE_FLAGS)
    if r < 0:
        raise_os(r, name)


def atomic_write_path(path, data):
    """Write a file at `path` by temp + rename (pid files, which conmon reads)."""
    d, name = os.path.split(os.path.abspath(path))
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        atomic_write(fd, name, data)
    finally:
        os.close(fd)


def remove_tree(path):
    """rm -r without following symlinks (a container cannot plant a link here, but be safe)."""
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return
    with entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                remove_tree(e.path)
            else:
                try:
                    os.unlink(e.path)
                except FileNotFoundError:
                    pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
