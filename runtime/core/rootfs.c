/* The rootfs: propagation, the config's mounts, masked and readonly paths,
 * sysctl, pivot_root.
 *
 * Everything before pivot_root happens in the container's new mount
 * namespace with the host still visible, so host sources (bind mounts,
 * /dev/null for masking) are reached by plain paths, and every destination
 * under the rootfs through safepath.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* A bind remount must repeat the flags the kernel locked on the mount
 * (nosuid/nodev/noexec/atime of a mount made in a less privileged user
 * namespace), or it fails with EPERM: read them back and keep them. */
static unsigned long locked_flags(int fd)
{
    struct statvfs s;
    unsigned long f = 0;
    if (fstatvfs(fd, &s) < 0)
        return 0;
    if (s.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (s.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (s.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (s.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (s.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (s.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

static int remount_bind(int fd, unsigned long flags)
{
    char p[64];
    ocirun_fdpath(p, sizeof(p), fd);
    if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | flags, NULL) == 0)
        return 0;
    if (errno != EPERM)
        return -1;
    unsigned long locked = locked_flags(fd);
    /* keep a requested atime mode; else the locked one */
    if (flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME))
        locked &= ~(unsigned long)(MS_NOATIME | MS_RELATIME);
    return mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | flags | locked, NULL);
}

int ocirun_prepare_rootfs(const struct ocirun_plan *p, int *rootfd, struct ocirun_error *err)
{
    /* Nothing we mount may propagate back to the host: make our copy of the
     * host's mounts slaves (or private) before touching anything. */
    unsigned long prop = p->root_propagation ? p->root_propagation : (MS_SLAVE | MS_REC);
    if (mount(NULL, "/", NULL, prop, NULL) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "set propagation of `/`");
    /* pivot_root needs the new root to be a mount point. */
    if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "bind mount rootfs `%s` onto itself", p->rootfs);
    int fd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "open rootfs `%s`", p->rootfs);
    *rootfd = fd;
    return 0;
}

int32_t ocirun_idmapped_tree(const char *source, int32_t userns_fd, uint32_t recursive, uint32_t idmap_recursive,
                             struct ocirun_error *err)
{
    memset(err, 0, sizeof(*err));
    unsigned int otflags = OCIRUN_OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, otflags);
    if (tree < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "open_tree `%s` for an idmapped mount", source);
    struct ocirun_mount_attr a = {.attr_set = OCIRUN_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (idmap_recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0) {
        int e = errno;
        close(tree);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "idmap `%s`", source);
    }
    return tree;
}

static int write_map(pid_t pid, const char *name, const char *map)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(map);
    ssize_t w = write(fd, map, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n) {
        errno = w < 0 ? e : EIO;
        return -1;
    }
    return 0;
}

/* A child in a new user namespace that only waits for the pipe to close:
 * its maps are written, its namespace opened, then it exits. It runs no
 * code but read and _exit (the caller may be a Python process). */
int32_t ocirun_mapped_userns(const char *uid_map, const char *gid_map, const char *field, struct ocirun_error *err)
{
    memset(err, 0, sizeof(*err));
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "%s: pipe for the mount's user namespace", field);
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid < 0) {
        int e = errno;
        close(pp[0]);
        close(pp[1]);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "%s: new user namespace for the mount's id maps", field);
    }
    if (pid == 0) {
        char c;
        close(pp[1]);
        while (read(pp[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(pp[0]);
    int fd = -1, e = 0;
    const char *what = "uidMappings";
    if (write_map(pid, "uid_map", uid_map) < 0) {
        e = errno;
    } else if (what = "gidMappings", write_map(pid, "gid_map", gid_map) < 0) {
        e = errno;
    } else {
        char path[64];
        what = "user namespace";
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            e = errno;
    }
    close(pp[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (fd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "%s: write the mount's %s", field, what);
    return fd;
}

/* Trees the parent idmapped for us (MOUNT_FD records), in mount order. */
static int tree_fds[256];
static unsigned int n_tree_fds, next_tree_fd;

int ocirun_receive_trees(const struct ocirun_plan *p, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->n_mounts; i++) {
        if (p->mounts[i].idmap_userns_fd != -2)
            continue;
        if (n_tree_fds >= 256)
            return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, E2BIG, "too many idmapped mounts");
        int fd = -1;
        if (ocirun_sync_wait(p->sync_fd, OCIRUN_MSG_MOUNT_FD, &fd, err) < 0)
            return -1;
        if (fd < 0)
            return ocirun_fail(err, OCIRUN_STAGE_SYNC, EPROTO, "MOUNT_FD without a tree for `%s`",
                               p->mounts[i].destination);
        tree_fds[n_tree_fds++] = fd;
    }
    return 0;
}

static int mount_idmapped(const struct ocirun_mount *m, int dstfd, int *keep, struct ocirun_error *err)
{
    if (next_tree_fd >= n_tree_fds)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, EPROTO, "no idmapped tree for `%s`", m->destination);
    int tree = tree_fds[next_tree_fd++];
    if (syscall(SYS_move_mount, tree, "", dstfd, "", OCIRUN_MOVE_MOUNT_F_EMPTY_PATH | OCIRUN_MOVE_MOUNT_T_EMPTY_PATH) <
        0) {
        int e = errno;
        close(tree);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "move idmapped mount `%s` onto `%s`", m->source,
                           m->destination);
    }
    if (keep)
        *keep = tree; /* the mount we made, for its options */
    else
        close(tree);
    return 0;
}

/* Files under /proc that lxcfs (and runc) bind over with emulated contents:
 * the only mounts allowed inside /proc. */
static const char *const proc_single_files[] = {
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/diskstats",
    "/proc/swaps",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    NULL,
};

static int is_procfs_root_path(const char *path)
{
    struct stat st;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = ocirun_is_procfs(fd) && fstat(fd, &st) == 0 && st.st_ino == OCIRUN_PROC_ROOT_INO;
    close(fd);
    return ok;
}

/* A mount onto /proc or into it would shadow what the container's init and
 * tools trust procfs for (a fake self/fd, self/attr: CVE-2019-16884,
 * CVE-2025-52881 class). Checked on the resolved destination, as the kernel
 * names it, so a symlink in the rootfs that leads there is caught too: only
 * procfs itself at /proc and lxcfs's single files pass. */
static int check_proc_destination(const struct ocirun_mount *m, int rootfd, int dstfd, struct ocirun_error *err)
{
    char rp[64], dp[64], root[PATH_MAX], dst[PATH_MAX];
    const char *field = m->field ? m->field : "mounts";
    ssize_t rn = readlink(ocirun_fdpath(rp, sizeof(rp), rootfd), root, sizeof(root) - 1);
    ssize_t dn = readlink(ocirun_fdpath(dp, sizeof(dp), dstfd), dst, sizeof(dst) - 1);
    if (rn <= 0 || dn <= 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "%s.destination: cannot tell where `%s` is", field,
                           m->destination);
    root[rn] = dst[dn] = 0;
    if (strncmp(dst, root, (size_t)rn) || (rn > 1 && dst[rn] && dst[rn] != '/'))
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, 0, "%s.destination: `%s` resolves outside the rootfs", field,
                           m->destination);
    const char *rel = rn == 1 ? dst : dst[rn] ? dst + rn : "/"; /* rn == 1: the rootfs is `/` */
    int on_proc = ocirun_is_procfs(dstfd);
    if (!strcmp(rel, "/proc")) {
        if (m->fstype && !strcmp(m->fstype, "proc"))
            return 0;
        if ((m->flags & MS_BIND) && m->source && is_procfs_root_path(m->source))
            return 0;
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, 0,
                           "%s.destination: `%s` would be mounted over /proc: only a proc filesystem may be", field,
                           m->destination);
    }
    if (!strncmp(rel, "/proc/", 6) || on_proc) {
        for (const char *const *f = proc_single_files; *f; f++)
            if (!strcmp(rel, *f))
                return 0;
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, 0,
                           "%s.destination: `%s` resolves to `%s`, inside procfs: only lxcfs's single files "
                           "may be mounted there",
                           field, m->destination, rel);
    }
    return 0;
}

/* Whether mount `id` (statx's old, reusable id) hangs right on `parent` at
 * `where`, by /proc/self/mountinfo (the host's /proc: we are before
 * pivot_root). For kernels without statmount; the mount point is compared
 * in mountinfo's escaped form (\040 for a space...). */
static int mountinfo_line(const char *line, uint64_t id, uint64_t parent, const char *esc)
{
    unsigned long long mid, pid;
    int off = 0;
    static char point[PATH_MAX * 4 + 1];
    /* id parent major:minor root mount-point ... */
    if (sscanf(line, "%llu %llu %*s %*s %n", &mid, &pid, &off) != 2 || mid != id)
        return -1;
    return sscanf(line + off, "%16384s", point) == 1 && pid == parent && !strcmp(point, esc);
}

static int mountinfo_says(uint64_t id, uint64_t parent, const char *where)
{
    static char esc[PATH_MAX * 4 + 1], buf[1 << 16];
    char *o = esc;
    for (const char *c = where; *c && o < esc + sizeof(esc) - 5; c++) {
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\\')
            o += sprintf(o, "\\%03o", (unsigned char)*c);
        else
            *o++ = *c;
    }
    *o = 0;
    /* read(2) into a static buffer: the child allocates nothing */
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    int found = -1;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while (found < 0 && (nl = strchr(line, '\n'))) {
            *nl = 0;
            found = mountinfo_line(line, id, parent, esc);
            line = nl + 1;
        }
        if (found >= 0)
            break;
        have = strlen(line);
        if (have >= sizeof(buf) - 1)
            break; /* one line longer than the buffer */
        memmove(buf, line, have);
    }
    close(fd);
    return found < 0 ? 0 : found;
}

/* After mount(2) of a new filesystem onto dstfd: an fd of that new mount.
 * The path is looked up again (a magic link never leads above the mount it
 * names), then statmount (or mountinfo) proves the result is the mount
 * stacked right on dstfd, not one a racer put at that path meanwhile. */
static int open_new_mount(const struct ocirun_mount *m, int rootfd, int dstfd, struct ocirun_error *err)
{
    struct statx below, top;
    char dp[64], where[PATH_MAX];
    const char *field = m->field ? m->field : "mounts";
    int fd = ocirun_open_in_root(rootfd, m->destination, O_PATH);
    if (fd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "reopen `%s`", m->destination);
    ssize_t wn = readlink(ocirun_fdpath(dp, sizeof(dp), dstfd), where, sizeof(where) - 1);
    unsigned int want = OCIRUN_STATX_MNT_ID_UNIQUE | STATX_MNT_ID;
    if (wn <= 0 || statx(dstfd, "", AT_EMPTY_PATH, want, &below) < 0 || statx(fd, "", AT_EMPTY_PATH, want, &top) < 0) {
        int e = errno;
        close(fd);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "%s: identify the mount made on `%s`", field, m->destination);
    }
    where[wn] = 0;
    int same = -1;
    if ((top.stx_mask & below.stx_mask & OCIRUN_STATX_MNT_ID_UNIQUE)) {
        union {
            struct ocirun_statmount sm;
            char buf[sizeof(struct ocirun_statmount) + PATH_MAX + 64];
        } u;
        struct ocirun_mnt_id_req req = {.size = sizeof(req),
                                        .mnt_id = top.stx_mnt_id,
                                        .param = OCIRUN_STATMOUNT_MNT_BASIC | OCIRUN_STATMOUNT_MNT_POINT};
        if (syscall(SYS_statmount, &req, &u.sm, sizeof(u), 0) == 0)
            same = u.sm.mnt_parent_id == below.stx_mnt_id && (u.sm.mask & OCIRUN_STATMOUNT_MNT_POINT) &&
                   u.sm.mnt_point < sizeof(u) - sizeof(u.sm) && !strcmp(u.sm.str + u.sm.mnt_point, where);
        else if (errno != ENOSYS)
            same = 0;
    }
    if (same < 0 && statx(dstfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &below) == 0 &&
        statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &top) == 0 && (top.stx_mask & below.stx_mask & STATX_MNT_ID))
        same = mountinfo_says(top.stx_mnt_id, below.stx_mnt_id, where);
    if (same < 0) {
        close(fd);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, ENOSYS,
                           "%s: cannot prove which mount is at `%s` to set its options (statx mount ids)", field,
                           m->destination);
    }
    if (!same || !(top.stx_attributes & OCIRUN_STATX_ATTR_MOUNT_ROOT)) {
        close(fd);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, EBUSY, "%s: `%s` changed under the new mount", field,
                           m->destination);
    }
    return fd;
}

/* A bind: a detached clone of the source, attached onto dstfd. The clone's
 * fd stays the mount we made, so the options below reach that mount and no
 * other, whatever happens to the destination path. */
static int bind_tree(const struct ocirun_mount *m, int dstfd, struct ocirun_error *err)
{
    unsigned int ot = OCIRUN_OPEN_TREE_CLONE | O_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, m->source, ot);
    if (tree < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "mount `%s` on `%s`", m->source, m->destination);
    if (syscall(SYS_move_mount, tree, "", dstfd, "", OCIRUN_MOVE_MOUNT_F_EMPTY_PATH | OCIRUN_MOVE_MOUNT_T_EMPTY_PATH) <
        0) {
        int e = errno;
        close(tree);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "mount `%s` on `%s`", m->source, m->destination);
    }
    return tree;
}

/* tmpcopyup: a fresh tmpfs gets a copy of what the image has at its
 * destination (podman asks it for every tmpfs). The source is the directory
 * the tmpfs hides, reached through an fd opened before the mount, so nothing
 * is looked up by path: each entry is opened relative to its parent with
 * O_NOFOLLOW, symlinks are copied as symlinks, and no lookup leaves the
 * rootfs. Contents, modes, owners and times are copied; hard links become
 * separate files, xattrs are not copied. */
#define COPYUP_MAX_DEPTH 128

static int has_opt(const char *data, const char *key)
{
    size_t n = strlen(key);
    for (const char *s = data; s && *s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
        if (!strncmp(s, key, n))
            return 1;
    return 0;
}

static int copy_meta(int fd, const struct stat *st, int chmod_too)
{
    if (fchown(fd, st->st_uid, st->st_gid) < 0)
        return -1;
    if (chmod_too && fchmod(fd, st->st_mode & 07777) < 0)
        return -1;
    struct timespec t[2] = {st->st_atim, st->st_mtim};
    return futimens(fd, t);
}

static int copy_file(int from, int to, const char *name, const struct stat *st)
{
    int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return -1;
    struct stat now;
    if (fstat(in, &now) < 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino) {
        close(in);
        errno = EBUSY; /* swapped since readdir */
        return -1;
    }
    int out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[65536];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = copy_meta(out, &now, 1);
    int e = errno;
    close(in);
    close(out);
    errno = e;
    return rc;
}

static int copy_tree(int from, int to, int depth, const char **failed)
{
    if (depth > COPYUP_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int dfd = openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        errno = e;
        return -1;
    }
    static char name[NAME_MAX + 1];
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(name, sizeof(name), "%s", de->d_name);
        *failed = name;
        struct stat st;
        if (fstatat(from, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(from, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int dst = -1;
            if (sub < 0 || mkdirat(to, de->d_name, 0700) < 0 ||
                (dst = openat(to, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                rc = -1;
            else
                rc = copy_tree(sub, dst, depth + 1, failed);
            if (rc == 0) {
                *failed = name;
                snprintf(name, sizeof(name), "%s", de->d_name);
                rc = copy_meta(dst, &st, 1);
            }
            int e = errno;
            if (sub >= 0)
                close(sub);
            if (dst >= 0)
                close(dst);
            errno = e;
        } else if (S_ISREG(st.st_mode)) {
            rc = copy_file(from, to, de->d_name, &st);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(from, de->d_name, target, sizeof(target) - 1);
            if (n < 0 || (target[n] = 0, symlinkat(target, to, de->d_name)) < 0 ||
                fchownat(to, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                rc = -1;
            else {
                struct timespec t[2] = {st.st_atim, st.st_mtim};
                rc = utimensat(to, de->d_name, t, AT_SYMLINK_NOFOLLOW);
            }
        } else {
            /* fifo, socket, device: a node of our own on our own tmpfs */
            if (mknodat(to, de->d_name, st.st_mode & ~(mode_t)07777, st.st_rdev) < 0 ||
                fchownat(to, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                fchmodat(to, de->d_name, st.st_mode & 07777, 0) < 0)
                rc = -1;
        }
        errno = rc < 0 ? errno : 0;
    }
    int e = errno;
    closedir(d);
    errno = e;
    return rc < 0 || e ? -1 : 0;
}

/* olddir: the destination directory before the tmpfs covered it (O_RDONLY);
 * mnt: the new tmpfs's root. The root takes the directory's owner and mode
 * unless the options set them. */
static int tmpcopyup(const struct ocirun_mount *m, int olddir, int mnt, struct ocirun_error *err)
{
    int to = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (to < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "%s: tmpcopyup: open the tmpfs at `%s`",
                           m->field ? m->field : "mounts", m->destination);
    const char *failed = ".";
    struct stat st;
    int r = fstat(olddir, &st);
    if (r == 0)
        r = copy_tree(olddir, to, 0, &failed);
    if (r == 0) {
        failed = ".";
        if (!has_opt(m->data, "uid=") && !has_opt(m->data, "gid=") && fchown(to, st.st_uid, st.st_gid) < 0)
            r = -1;
        else if (!has_opt(m->data, "mode=") && fchmod(to, st.st_mode & 07777) < 0)
            r = -1;
    }
    int e = errno;
    close(to);
    if (r < 0)
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "%s: tmpcopyup: copy `%s` (at `%s`) into the tmpfs",
                           m->field ? m->field : "mounts", m->destination, failed);
    return 0;
}

/* *keep: in, whether a later entry remounts this one (cgroup v1's tmpfs made
 * ro after its hierarchies): the new mount's fd is kept there for it. */
static int do_one_mount(const struct ocirun_mount *m, int rootfd, int *keep, struct ocirun_error *err)
{
    const char *src = m->source ? m->source : "none";
    if (m->is_remount) {
        /* the mount an earlier entry made there, through its own fd */
        int fd = *keep;
        *keep = -1;
        if (fd < 0)
            return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, EPROTO, "remount `%s`: no earlier mount there",
                               m->destination);
        int r = remount_bind(fd, (unsigned long)m->remount_flags);
        int e = errno;
        close(fd);
        if (r < 0)
            return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "remount `%s`", m->destination);
        return 0;
    }
    int is_bind = (m->flags & MS_BIND) != 0;
    int dstfd;
    if (m->fstype && (!strcmp(m->fstype, "proc") || !strcmp(m->fstype, "sysfs"))) {
        /* procfs and sysfs only ever on a real directory, never through a symlink
         * the rootfs planted (runc's rule too). */
        dstfd = ocirun_ensure_in_root(rootfd, m->destination, 0, OCIRUN_STAGE_MOUNTS, err);
        if (dstfd < 0)
            return -1;
        close(dstfd);
        dstfd = ocirun_open_in_root(rootfd, m->destination, O_PATH | O_NOFOLLOW | O_DIRECTORY);
        if (dstfd < 0)
            return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, errno, "mount `%s` on `%s`: not a directory", src,
                               m->destination);
    } else {
        dstfd = ocirun_ensure_in_root(rootfd, m->destination, (int)m->dest_is_file, OCIRUN_STAGE_MOUNTS, err);
        if (dstfd < 0)
            return -1;
    }
    if (check_proc_destination(m, rootfd, dstfd, err) < 0) {
        close(dstfd);
        return -1;
    }
    int keep_it = *keep == -2;
    *keep = -1;
    int needs_fd = (is_bind && m->remount_flags) || m->propagation || m->attr_set || m->attr_clr || keep_it;
    int fd = -1; /* the new mount itself, when options are still to be set on it */
    if (is_bind && m->idmap_userns_fd != -1) {
        int r = mount_idmapped(m, dstfd, needs_fd ? &fd : NULL, err);
        close(dstfd);
        if (r < 0)
            return -1;
    } else if (is_bind) {
        fd = bind_tree(m, dstfd, err);
        close(dstfd);
        if (fd < 0)
            return -1;
    } else {
        int olddir = -1; /* tmpcopyup: what the tmpfs is about to hide */
        if (m->tmpcopyup) {
            needs_fd = 1;
            olddir = openat(dstfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (olddir < 0) {
                int e = errno;
                close(dstfd);
                return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "%s: tmpcopyup: open `%s`",
                                   m->field ? m->field : "mounts", m->destination);
            }
        }
        /* a read-only tmpfs is filled first, then made read-only */
        unsigned long mflags = (unsigned long)m->flags & ~(olddir >= 0 ? (unsigned long)MS_RDONLY : 0UL);
        int r = ocirun_mount_on_fd(m->source, dstfd, m->fstype, mflags, m->data);
        int e = errno;
        if (r < 0) {
            close(dstfd);
            if (olddir >= 0)
                close(olddir);
            return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "mount `%s` on `%s`%s%s", src, m->destination,
                               m->data && *m->data ? " with " : "", m->data ? m->data : "");
        }
        if (needs_fd)
            fd = open_new_mount(m, rootfd, dstfd, err);
        close(dstfd);
        if (fd >= 0 && olddir >= 0 && tmpcopyup(m, olddir, fd, err) < 0) {
            close(fd);
            fd = -1;
        }
        if (fd >= 0 && olddir >= 0 && (m->flags & MS_RDONLY) &&
            remount_bind(fd, MS_RDONLY | ((unsigned long)m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                                                     MS_NODIRATIME | MS_RELATIME))) < 0) {
            int e2 = errno;
            close(fd);
            fd = -1;
            ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e2, "%s: make `%s` read-only after tmpcopyup",
                        m->field ? m->field : "mounts", m->destination);
        }
        if (olddir >= 0)
            close(olddir);
        if (needs_fd && fd < 0)
            return -1;
    }
    if (!needs_fd) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (is_bind && m->remount_flags && remount_bind(fd, (unsigned long)m->remount_flags) < 0) {
        int e = errno;
        close(fd);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "remount bind mount `%s` with its options", m->destination);
    }
    if (m->propagation && ocirun_mount_on_fd(NULL, fd, NULL, (unsigned long)m->propagation, NULL) < 0) {
        int e = errno;
        close(fd);
        return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "set propagation of `%s`", m->destination);
    }
    if (m->attr_set || m->attr_clr) {
        struct ocirun_mount_attr a = {.attr_set = m->attr_set, .attr_clr = m->attr_clr};
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0) {
            int e = errno;
            close(fd);
            return ocirun_fail(err, OCIRUN_STAGE_MOUNTS, e, "set recursive attributes of `%s`", m->destination);
        }
    }
    if (keep_it)
        *keep = fd;
    else
        close(fd);
    return 0;
}

int ocirun_do_mounts(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err)
{
    int pending = -1; /* a mount's fd kept for its is_remount entry */
    const char *pending_dest = NULL;
    for (uint32_t i = 0; i < p->n_mounts; i++) {
        const struct ocirun_mount *m = &p->mounts[i];
        int keep = -1, r;
        if (m->is_remount) {
            if (pending >= 0 && !strcmp(pending_dest, m->destination)) {
                keep = pending; /* handed over: do_one_mount closes it */
                pending = -1;
            }
            r = do_one_mount(m, rootfd, &keep, err);
        } else {
            for (uint32_t j = i + 1; j < p->n_mounts; j++)
                if (p->mounts[j].is_remount && !strcmp(p->mounts[j].destination, m->destination))
                    keep = -2;
            r = do_one_mount(m, rootfd, &keep, err);
            if (keep >= 0) {
                if (pending >= 0)
                    close(pending);
                pending = keep;
                pending_dest = m->destination;
            }
        }
        if (r < 0) {
            if (pending >= 0)
                close(pending);
            return -1;
        }
    }
    if (pending >= 0)
        close(pending);
    return 0;
}

int ocirun_do_sysctls(const struct ocirun_plan *p, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->n_sysctls; i++) {
        const struct ocirun_sysctl *s = &p->sysctls[i];
        const char *path = s->path;
        while (*path == '/')
            path++;
        /* only ever into the real procfs, through the verified handle, never
         * the rootfs's proc/ (CVE-2025-52881 class); the kernel picks the
         * namespaced values by the writer's namespaces, not by the mount */
        if (strncmp(path, "proc/sys/", 9))
            return ocirun_fail(err, OCIRUN_STAGE_SYSCTL, EINVAL, "`/%s` is not under /proc/sys", path);
        int fd = ocirun_proc_open(path + 5, O_WRONLY);
        if (fd < 0)
            return ocirun_fail(err, OCIRUN_STAGE_SYSCTL, errno, "open `/%s`", path);
        size_t n = strlen(s->value);
        if (write(fd, s->value, n) != (ssize_t)n) {
            int e = errno;
            close(fd);
            return ocirun_fail(err, OCIRUN_STAGE_SYSCTL, e, "write `%s` to `/%s`", s->value, path);
        }
        close(fd);
    }
    return 0;
}

int ocirun_do_paths(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err)
{
    for (const char *const *mp = p->masked_paths; mp && *mp; mp++) {
        /* O_NOFOLLOW: mask the entry itself, never where a symlink points */
        int fd = ocirun_open_in_root(rootfd, *mp, O_PATH | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return ocirun_fail(err, OCIRUN_STAGE_PATHS, errno, "open masked path `%s`", *mp);
        }
        struct stat st;
        int r = fstat(fd, &st);
        if (r == 0 && S_ISLNK(st.st_mode)) {
            close(fd);
            continue;
        }
        if (r == 0 && S_ISDIR(st.st_mode))
            r = ocirun_mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY, NULL);
        else if (r == 0)
            r = ocirun_mount_on_fd("/dev/null", fd, NULL, MS_BIND, NULL);
        int e = errno;
        close(fd);
        if (r < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PATHS, e, "mask `%s`", *mp);
    }
    for (const char *const *rp = p->readonly_paths; rp && *rp; rp++) {
        int fd = ocirun_open_in_root(rootfd, *rp, O_PATH);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return ocirun_fail(err, OCIRUN_STAGE_PATHS, errno, "open readonly path `%s`", *rp);
        }
        /* a clone of the tree attached onto itself; made read-only through
         * the clone's fd, never by looking the path up again */
        int tree =
            (int)syscall(SYS_open_tree, fd, "", OCIRUN_OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH | O_CLOEXEC);
        int r = tree < 0 ? -1
                         : (int)syscall(SYS_move_mount, tree, "", fd, "",
                                        OCIRUN_MOVE_MOUNT_F_EMPTY_PATH | OCIRUN_MOVE_MOUNT_T_EMPTY_PATH);
        int e = errno;
        close(fd);
        if (r < 0) {
            if (tree >= 0)
                close(tree);
            return ocirun_fail(err, OCIRUN_STAGE_PATHS, e, "bind `%s` onto itself", *rp);
        }
        r = remount_bind(tree, MS_RDONLY | MS_REC);
        e = errno;
        close(tree);
        if (r < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PATHS, e, "make `%s` read-only", *rp);
    }
    return 0;
}

/* pivot_root into the rootfs, or with --no-pivot move it onto / and chroot. */
int ocirun_enter_rootfs(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err)
{
    if (p->no_pivot) {
        if (fchdir(rootfd) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "chdir to rootfs `%s`", p->rootfs);
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "move rootfs `%s` onto `/`", p->rootfs);
        if (chroot(".") < 0)
            return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "chroot into `%s`", p->rootfs);
        if (chdir("/") < 0)
            return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "chdir to `/`");
        return 0;
    }
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "open `/`");
    if (fchdir(rootfd) < 0) {
        close(oldroot);
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "chdir to rootfs `%s`", p->rootfs);
    }
    /* pivot_root(".", "."): the old root ends up stacked on top of the new one
     * at "/", where it can be detached without needing a directory for it
     * inside the rootfs. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        int e = errno;
        close(oldroot);
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, e, "pivot_root into `%s`", p->rootfs);
    }
    if (fchdir(oldroot) < 0) {
        int e = errno;
        close(oldroot);
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, e, "chdir to the old root");
    }
    close(oldroot);
    /* The unmount must not propagate to the host's copy of these mounts. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "make the old root a slave");
    if (umount2(".", MNT_DETACH) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "detach the old root");
    if (chdir("/") < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "chdir to `/`");
    return 0;
}

/* After pivot_root: rootfsPropagation and root.readonly. */
int ocirun_finish_rootfs(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (p->rootfs_propagation && mount(NULL, "/", NULL, (unsigned long)p->rootfs_propagation, NULL) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "set rootfsPropagation of `/`");
    if (p->readonly_root) {
        /* by path: the container may have no /proc for /proc/self/fd */
        unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY;
        if (mount(NULL, "/", NULL, f, NULL) < 0) {
            int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (errno == EPERM && fd >= 0)
                f |= locked_flags(fd);
            if (fd >= 0)
                close(fd);
            if (mount(NULL, "/", NULL, f, NULL) < 0)
                return ocirun_fail(err, OCIRUN_STAGE_ROOTFS, errno, "remount `/` read-only");
        }
    }
    return 0;
}
