/* The state store's primitives (store.c), one implementation for both doors:
 * the C front door (launcher.c, door.c) calls them directly, Python's
 * runtime/state.py through cffi. What the store is and why: state.py's
 * docstring. libc only: the launcher links this file and nothing heavier.
 */
#ifndef OCIRUN_STORE_H
#define OCIRUN_STORE_H

#include <stddef.h>
#include <stdint.h>

/* CDEF-BEGIN */
/* What a container's record says it is; the status is derived from it
 * (ocirun_store_status), never trusted as stored. */
enum ocirun_status {
    OCIRUN_ST_CREATING = 0, /* internal only: `state` prints it as created */
    OCIRUN_ST_CREATED = 1,
    OCIRUN_ST_RUNNING = 2,
    OCIRUN_ST_PAUSED = 3,
    OCIRUN_ST_STOPPED = 4
};

/* Kinds for ocirun_store_open (the S_IFMT bits) and its refusal. */
enum {
    OCIRUN_KIND_REG = 0100000,
    OCIRUN_KIND_DIR = 0040000,
    OCIRUN_KIND_FIFO = 0010000,
    OCIRUN_STORE_REFUSED = -100000, /* not to be trusted: `why` says why */
    OCIRUN_STORE_TIMEOUT = -100001, /* a lock not had in time: `why` is the line */
    OCIRUN_STORE_NO_TMPFILE = 1     /* ocirun_store_write: as on a filesystem without O_TMPFILE */
};

/* Open `name` in dirfd (-100: the cwd) without following a final symlink
 * or blocking on a fifo, and check it is of `kind`, owned by the effective
 * uid and (unless others_may_write) writable by nobody else. The fd;
 * -errno; or OCIRUN_STORE_REFUSED with `why` ("a symlink", "owned by uid 5,
 * not 0", "writable by group or others (mode 0666)"...). */
int ocirun_store_open(int dirfd, const char *name, int kind, int others_may_write, char *why, size_t whylen);

/* The root as an fd, made 0700 (with its parents) when missing and create;
 * -ENOENT when missing; -errno; OCIRUN_STORE_REFUSED with the whole line. */
int ocirun_store_open_root(const char *root, int create, char *why, size_t whylen);

/* The exclusive flock of <root>/.locks/<id> as an fd, waited for at most
 * timeout_ms (a blocking flock, so /proc/locks shows the waiter). -errno;
 * OCIRUN_STORE_REFUSED or OCIRUN_STORE_TIMEOUT with the whole line. */
int ocirun_store_lock(const char *root, const char *id, int timeout_ms, char *why, size_t whylen);

/* Remove <root>/.locks/<id> (its holder, the container gone) and .locks once empty. */
void ocirun_store_drop_lock(const char *root, const char *id);

/* Replace dirfd/name by a 0600 file holding data, atomically: an unnamed
 * O_TMPFILE (or a random name made O_EXCL|O_NOFOLLOW) linked under a random
 * name and renamed over `name`; never written through a planted link.
 * No fsync: the rename protects against a crashing process, and a machine
 * crash takes /run and every container with it. 0 or -errno. */
int ocirun_store_write(int dirfd, const char *name, const char *data, size_t len, int flags);

/* State letter and start time (clock ticks) of a pid from /proc/PID/stat:
 * 0, or -1 when the pid is gone (or unreadable). */
int ocirun_proc_stat(int32_t pid, char *letter, uint64_t *start);

/* The status: the stored one, corrected by the facts. letter is the init's
 * state letter (0: no such pid), has_start whether the record holds the
 * init's start time, fifo whether exec.fifo is still there. */
int ocirun_store_status(int stored, int32_t pid, int has_start, uint64_t want_start, char letter, uint64_t start,
                        int fifo);
/* CDEF-END */

#endif
