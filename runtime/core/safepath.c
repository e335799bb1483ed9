/* Paths under the rootfs: resolved by the kernel, inside the rootfs.
 *
 * A rootfs is untrusted: any component of a mount destination may be a
 * symlink, absolute or full of `..`, meant to send our mount onto the host
 * (CVE-2021-30465, CVE-2025-31133 class). So nothing here joins strings into
 * a host path: every lookup is openat2(rootfd, path, RESOLVE_IN_ROOT), which
 * treats absolute symlinks and `..` as if rootfd were `/`, and the mount is
 * then made onto the opened fd through /proc/self/fd/N (the magic link names
 * exactly that inode, whatever happens to the path afterwards).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

#define PROC_SUPER_MAGIC 0x9fa0

const char *ocirun_fdpath(char *buf, size_t len, int fd)
{
    snprintf(buf, len, "/proc/self/fd/%d", fd);
    return buf;
}

int ocirun_is_procfs(int fd)
{
    struct statfs s;
    return fstatfs(fd, &s) == 0 && s.f_type == PROC_SUPER_MAGIC;
}

int ocirun_mount_on_fd(const char *src, int dstfd, const char *fstype, unsigned long flags, const char *data)
{
    char p[64];
    return mount(src, ocirun_fdpath(p, sizeof(p), dstfd), fstype, flags, data);
}

/* Set by ocirun_open_in_root when openat2 is missing (ENOSYS, kernels before
 * 5.6, or a seccomp profile of an outer container): every later lookup goes
 * straight to the fallback. The plan can force it (tests). */
static int no_openat2;

void ocirun_force_fallback_resolver(int on)
{
    no_openat2 = on;
}

/* The fallback: walk the path one component at a time with O_PATH|O_NOFOLLOW,
 * following symlinks ourselves with `/` meaning rootfd and `..` stopping at
 * rootfd. Slower, and only as race-free as each openat is, but it never
 * leaves the rootfs through a symlink or `..`. */
static int resolve_by_hand(int rootfd, const char *path, int flags)
{
    char rem[2 * PATH_MAX + 2], link[PATH_MAX];
    struct stat rootst, st;
    int links = 0;
    if (fstat(rootfd, &rootst) < 0)
        return -1;
    if (!*path) {
        errno = ENOENT; /* as openat2 says: an empty path names nothing */
        return -1;
    }
    if (strlen(path) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(rem, path);
    int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -1;
    char *p = rem;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX) {
            close(cur);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        p += n;
        int last = 1;
        for (const char *q = p; *q; q++)
            if (*q != '/') {
                last = 0;
                break;
            }
        if (!strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            if (fstat(cur, &st) == 0 && st.st_dev == rootst.st_dev && st.st_ino == rootst.st_ino)
                continue; /* `..` of the root is the root */
            int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
            close(cur);
            if (up < 0)
                return -1;
            cur = up;
            continue;
        }
        int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            close(cur);
            errno = e;
            return -1;
        }
        if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
            ssize_t ln = readlinkat(fd, "", link, sizeof(link) - 1);
            int e = ln < 0 ? errno : ELOOP;
            close(fd);
            if (ln < 0 || ++links > 40) {
                close(cur);
                errno = e; /* as readlinkat left it, not as close did */
                return -1;
            }
            link[ln] = 0;
            /* the rest of the path goes after the link's target */
            char tail[2 * PATH_MAX + 2];
            snprintf(tail, sizeof(tail), "%s/%s", link, p);
            if (strlen(tail) >= PATH_MAX) {
                close(cur);
                errno = ENAMETOOLONG;
                return -1;
            }
            strcpy(rem, tail);
            p = rem;
            if (link[0] == '/') {
                close(cur);
                cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cur < 0)
                    return -1;
            }
            continue;
        }
        close(cur);
        cur = fd;
    }
    if (flags & O_DIRECTORY) {
        if (fstat(cur, &st) < 0 || !S_ISDIR(st.st_mode)) {
            close(cur);
            errno = ENOTDIR;
            return -1;
        }
    }
    if ((flags & O_PATH) == 0) {
        /* reopen the resolved inode with the access mode asked for */
        char fp[64];
        int fd = open(ocirun_fdpath(fp, sizeof(fp), cur), (flags & ~(O_NOFOLLOW | O_DIRECTORY)) | O_CLOEXEC);
        int e = errno;
        close(cur);
        errno = e;
        return fd;
    }
    return cur;
}

/* openat2 scoped to rootfd; returns the fd or -1 with errno set. Magic links
 * (/proc/self/root and friends inside the rootfs) are refused. */
int ocirun_open_in_root(int rootfd, const char *path, int flags)
{
    if (no_openat2)
        return resolve_by_hand(rootfd, path, flags);
    struct ocirun_open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = OCIRUN_RESOLVE_IN_ROOT | OCIRUN_RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    int tries = 0;
    do
        fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 64);
    /* EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry. */
    if (fd < 0 && (errno == ENOSYS || errno == EPERM) && tries == 0) {
        /* no openat2 here (EPERM: an outer seccomp profile refusing it) */
        no_openat2 = 1;
        return resolve_by_hand(rootfd, path, flags);
    }
    return (int)fd;
}

/* Split "/a/b/c" into parent "/a/b" (written to `parent`) and base "c". */
static int split_path(const char *path, char *parent, size_t plen, const char **base)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n >= plen)
        return -1;
    memcpy(parent, path, n);
    parent[n] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash) {
        *base = path;
        strcpy(parent, ".");
        return 0;
    }
    *base = path + (slash - parent) + 1;
    if (slash == parent)
        slash[1] = 0;
    else
        *slash = 0;
    /* base must not carry the trailing slashes we stripped */
    return 0;
}

static int ensure(int rootfd, const char *path, int is_file, int depth, uint32_t stage, struct ocirun_error *err)
{
    int fd = ocirun_open_in_root(rootfd, path, O_PATH);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT)
        return ocirun_fail(err, stage, errno, "open `%s` in the rootfs", path);
    if (depth > 40)
        return ocirun_fail(err, stage, ELOOP, "create `%s` in the rootfs", path);

    char parent[PATH_MAX], base[NAME_MAX + 1];
    const char *b;
    if (split_path(path, parent, sizeof(parent), &b) < 0 || !*b)
        return ocirun_fail(err, stage, ENAMETOOLONG, "create `%s` in the rootfs", path);
    snprintf(base, sizeof(base), "%.*s", (int)strcspn(b, "/"), b);
    if (!strcmp(base, ".") || !strcmp(base, ".."))
        return ocirun_fail(err, stage, EINVAL, "create `%s` in the rootfs", path);

    int pfd = ensure(rootfd, parent, 0, depth + 1, stage, err);
    if (pfd < 0)
        return -1;
    int r;
    if (is_file) {
        r = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0)
            close(r);
    } else {
        r = mkdirat(pfd, base, 0755);
    }
    if (r < 0 && errno == EEXIST) {
        /* Something is there but did not resolve: a dangling symlink. Follow it
         * ourselves, still inside the rootfs, and create its target. */
        char target[PATH_MAX], next[2 * PATH_MAX + 2];
        ssize_t n = readlinkat(pfd, base, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = 0;
            if (target[0] == '/')
                snprintf(next, sizeof(next), "%s", target);
            else
                snprintf(next, sizeof(next), "%s/%s", parent, target);
            close(pfd);
            return ensure(rootfd, next, is_file, depth + 1, stage, err);
        }
        errno = EEXIST;
    }
    if (r < 0 && errno != EEXIST) {
        int e = errno;
        close(pfd);
        return ocirun_fail(err, stage, e, "create `%s` in the rootfs", path);
    }
    close(pfd);
    fd = ocirun_open_in_root(rootfd, path, O_PATH);
    if (fd < 0)
        return ocirun_fail(err, stage, errno, "open `%s` in the rootfs", path);
    return fd;
}

/* An O_PATH fd of `path` inside the rootfs, created (directory, or empty file
 * when is_file) with its missing parents when absent. */
int ocirun_ensure_in_root(int rootfd, const char *path, int is_file, uint32_t stage, struct ocirun_error *err)
{
    return ensure(rootfd, path, is_file, 0, stage, err);
}

/* The parent directory of `path` (created if missing), with *base its last
 * component, for the *at() calls that must not follow the last component. */
int ocirun_open_parent_in_root(int rootfd, const char *path, const char **base, uint32_t stage,
                               struct ocirun_error *err)
{
    char parent[PATH_MAX];
    if (split_path(path, parent, sizeof(parent), base) < 0 || !**base)
        return ocirun_fail(err, stage, EINVAL, "bad path `%s`", path);
    return ensure(rootfd, parent, 0, 0, stage, err);
}

/* The procfs handle: a procfs instance of our own, made by the init (or the
 * exec'd child) itself, first thing, with fsopen()/fsmount(): a detached
 * mount that is attached nowhere, so no mount of the container, no rootfs
 * and no bind can shadow any part of it, and procfs by construction. Every
 * access of the init to its own /proc entries (oom_score_adj, attr/exec, the
 * exec fifo via fd/N, sysctls) goes beneath it, never through the
 * container's /proc (CVE-2019-16884, CVE-2025-52881 class).
 *
 * Never the host's /proc: the init and the exec'd child live in the
 * container's pid namespace long before their execve, and a container
 * process with CAP_SYS_PTRACE can open /proc/PID/fd/N of them: a handle on
 * the host's /proc there would hand it /proc/1/root of the host
 * (CVE-2024-21626 class). The instance made here numbers the pids of the
 * namespace we are in: nothing in it lies outside the container's pid
 * namespace. Without fsopen (Linux < 5.2) there is no such handle, and no
 * weaker one is used instead. */
static int procfs_fd = -1;
static uint64_t procfs_mnt;

static int mnt_id_of(int fd, uint64_t *id)
{
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
        return -1;
    if (!(sx.stx_mask & STATX_MNT_ID)) {
        errno = ENOSYS;
        return -1;
    }
    *id = sx.stx_mnt_id;
    return 0;
}

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#define FSMOUNT_CLOEXEC 0x00000001
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif

/* `pid_only`: subset=pid, for the exec'd child, which needs nothing but
 * self/ and joins a container whose /proc is masked: a full instance would
 * be refused there in a user namespace (mount_too_revealing). */
int ocirun_procfs_make(int floor, int pid_only, struct ocirun_error *err)
{
    struct stat st;
    int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (fs < 0)
        return ocirun_fail(err, OCIRUN_STAGE_SPAWN, errno,
                           "make a procfs instance of the container's pid namespace (fsopen \"proc\"); "
                           "the host's /proc is never used instead");
    int fd = -1;
    if ((!pid_only || syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "subset", "pid", 0) == 0) &&
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        fd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    int e = errno;
    close(fs);
    if (fd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_SPAWN, e,
                           "make a procfs instance of the container's pid namespace (fsconfig/fsmount); "
                           "the host's /proc is never used instead");
    if (!ocirun_is_procfs(fd) || fstat(fd, &st) < 0 || st.st_ino != OCIRUN_PROC_ROOT_INO ||
        mnt_id_of(fd, &procfs_mnt) < 0) {
        close(fd);
        return ocirun_fail(err, OCIRUN_STAGE_SPAWN, EXDEV, "the new procfs instance is not the root of a procfs");
    }
    if (fd < floor) {
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
        e = errno;
        close(fd);
        if (hi < 0)
            return ocirun_fail(err, OCIRUN_STAGE_SPAWN, e, "move the procfs handle");
        fd = hi;
    }
    procfs_fd = fd;
    return 0;
}

int ocirun_procfs_handle(void)
{
    return procfs_fd;
}

/* No openat2: one component at a time, never following a symlink, and every
 * step must stay on the procfs mount of the handle. The same guarantees as
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_BENEATH, by hand. */
static int proc_walk_by_hand(const char *path, int flags)
{
    char comp[NAME_MAX + 1];
    uint64_t id;
    int cur = dup(procfs_fd);
    if (cur < 0)
        return -1;
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            close(cur);
            errno = EXDEV;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        int last = p[n] == 0;
        int fd = openat(cur, comp, (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (fd < 0) {
            errno = e;
            return -1;
        }
        if (mnt_id_of(fd, &id) < 0 || id != procfs_mnt) {
            close(fd);
            errno = EXDEV;
            return -1;
        }
        if (last)
            return fd;
        cur = fd;
        p += n + 1;
    }
}

/* Opens `path` ("self/attr/exec", "sys/net/ipv4/ip_forward") beneath the
 * procfs handle: `self` is spelled as our pid as that procfs numbers it, no
 * symlink is followed, no mount crossed. */
int ocirun_proc_open(const char *path, int flags)
{
    char rel[PATH_MAX], pid[32];
    if (procfs_fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (!strncmp(path, "self/", 5)) {
        ssize_t n = readlinkat(procfs_fd, "self", pid, sizeof(pid) - 1);
        if (n <= 0)
            return -1;
        pid[n] = 0;
        snprintf(rel, sizeof(rel), "%s/%s", pid, path + 5);
    } else {
        snprintf(rel, sizeof(rel), "%s", path);
    }
    int fd;
    if (no_openat2) {
        fd = proc_walk_by_hand(rel, flags);
    } else {
        struct ocirun_open_how how = {
            .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
            .resolve = OCIRUN_RESOLVE_NO_SYMLINKS | OCIRUN_RESOLVE_NO_XDEV | OCIRUN_RESOLVE_BENEATH,
        };
        int tries = 0;
        do
            fd = (int)syscall(SYS_openat2, procfs_fd, rel, &how, sizeof(how));
        while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 64);
        if (fd < 0 && (errno == ENOSYS || errno == EPERM) && tries == 0) {
            no_openat2 = 1;
            fd = proc_walk_by_hand(rel, flags);
        }
    }
    if (fd >= 0 && !ocirun_is_procfs(fd)) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}
