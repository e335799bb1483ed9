/* /dev: device nodes, the standard symlinks, and the terminal.
 *
 * Nodes are made with mknod as the config asks (mode, uid, gid). In a user
 * namespace mknod is not permitted: a device of linux.devices is then a node
 * the parent made as asked (owners mapped to the host) on a private tmpfs of
 * the initial user namespace, sent down as a detached mount of that one file
 * and moved onto an empty file; the other devices (the default set) are the
 * host's node bind-mounted (its path on the host is the path in the container).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

/* Nodes the parent made (MOUNT_FD records after the idmapped trees), in device order. */
static int node_fds[256];
static unsigned int n_node_fds, next_node_fd;

int ocirun_receive_device_nodes(const struct ocirun_plan *p, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->n_devices; i++) {
        if (!p->devices[i].from_parent)
            continue;
        if (n_node_fds >= 256)
            return ocirun_fail(err, OCIRUN_STAGE_DEVICES, E2BIG, "too many devices in a user namespace");
        int fd = -1;
        if (ocirun_sync_wait(p->sync_fd, OCIRUN_MSG_MOUNT_FD, &fd, err) < 0)
            return -1;
        if (fd < 0)
            return ocirun_fail(err, OCIRUN_STAGE_SYNC, EPROTO, "MOUNT_FD without a node for `%s`", p->devices[i].path);
        node_fds[n_node_fds++] = fd;
    }
    return 0;
}

int32_t ocirun_device_node(const char *path, uint32_t mode, uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid,
                           struct ocirun_error *err)
{
    int fsfd = (int)syscall(SYS_fsopen, "tmpfs", OCIRUN_FSOPEN_CLOEXEC);
    if (fsfd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, errno, "a tmpfs for device `%s` (fsopen)", path);
    if (syscall(SYS_fsconfig, fsfd, OCIRUN_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        int e = errno;
        close(fsfd);
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e, "a tmpfs for device `%s` (fsconfig)", path);
    }
    int mnt = (int)syscall(SYS_fsmount, fsfd, OCIRUN_FSMOUNT_CLOEXEC, 0);
    int e = errno;
    close(fsfd);
    if (mnt < 0)
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e, "a tmpfs for device `%s` (fsmount)", path);
    int tree = -1;
    if (mknodat(mnt, "node", (mode_t)mode, makedev(major, minor)) < 0)
        ocirun_fail(err, OCIRUN_STAGE_DEVICES, errno, "mknod `%s`", path);
    else if (fchownat(mnt, "node", uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(mnt, "node", mode & 07777, 0) < 0)
        ocirun_fail(err, OCIRUN_STAGE_DEVICES, errno, "chown/chmod device `%s` to host ids %u:%u", path, uid, gid);
    else if ((tree = (int)syscall(SYS_open_tree, mnt, "node", OCIRUN_OPEN_TREE_CLONE | O_CLOEXEC)) < 0)
        ocirun_fail(err, OCIRUN_STAGE_DEVICES, errno, "a mount of device `%s` (open_tree)", path);
    close(mnt);
    return tree;
}

static int bind_device(const struct ocirun_device *d, int pfd, const char *base, struct ocirun_error *err)
{
    int node = -1;
    if (d->from_parent) {
        if (next_node_fd >= n_node_fds)
            return ocirun_fail(err, OCIRUN_STAGE_DEVICES, EPROTO, "no node from the parent for `%s`", d->path);
        node = node_fds[next_node_fd++];
    }
    /* what the image left there may be a fifo or a device: never opened for
     * I/O (ENXIO: a fifo with no reader, fine as a mount point) */
    int fd = openat(pfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0000);
    if (fd < 0 && errno != ENXIO)
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, errno, "create `%s` for a bind-mounted device", d->path);
    if (fd >= 0)
        close(fd);
    fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, errno, "open `%s`", d->path);
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
        close(fd);
        if (node >= 0)
            close(node);
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, ENOTDIR,
                           "`%s` is a directory or symlink, not a device mount point", d->path);
    }
    int r;
    if (node >= 0)
        r = (int)syscall(SYS_move_mount, node, "", fd, "",
                         OCIRUN_MOVE_MOUNT_F_EMPTY_PATH | OCIRUN_MOVE_MOUNT_T_EMPTY_PATH);
    else
        r = ocirun_mount_on_fd(d->path, fd, NULL, MS_BIND, NULL);
    int e = errno;
    close(fd);
    if (node >= 0)
        close(node);
    if (r < 0)
        return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e,
                           node >= 0 ? "mount device `%s` made as asked" : "bind mount device `%s` from the host",
                           d->path);
    return 0;
}

int ocirun_create_devices(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->n_devices; i++) {
        const struct ocirun_device *d = &p->devices[i];
        const char *base;
        int pfd = ocirun_open_parent_in_root(rootfd, d->path, &base, OCIRUN_STAGE_DEVICES, err);
        if (pfd < 0)
            return -1;
        int r = 0;
        if (!p->has_userns) {
            r = mknodat(pfd, base, (mode_t)d->mode, makedev(d->major, d->minor));
            if (r < 0 && errno == EEXIST) {
                /* Keep what the image has, but never a symlink where a device goes. */
                struct stat st;
                if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
                    unlinkat(pfd, base, 0);
                    r = mknodat(pfd, base, (mode_t)d->mode, makedev(d->major, d->minor));
                } else {
                    close(pfd);
                    continue;
                }
            }
            if (r == 0 && (fchownat(pfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                           fchmodat(pfd, base, d->mode & 07777, 0) < 0)) {
                int e = errno;
                close(pfd);
                return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e, "chown/chmod device `%s`", d->path);
            }
        }
        if (p->has_userns || (r < 0 && errno == EPERM)) {
            r = bind_device(d, pfd, base, err);
            close(pfd);
            if (r < 0)
                return -1;
            continue;
        }
        int e = errno;
        close(pfd);
        if (r < 0)
            return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e, "mknod `%s`", d->path);
    }
    for (uint32_t i = 0; i < p->n_dev_symlinks; i++) {
        const struct ocirun_symlink *s = &p->dev_symlinks[i];
        const char *base;
        int pfd = ocirun_open_parent_in_root(rootfd, s->path, &base, OCIRUN_STAGE_DEVICES, err);
        if (pfd < 0)
            return -1;
        int r = symlinkat(s->target, pfd, base);
        int e = errno;
        close(pfd);
        if (r < 0 && e != EEXIST)
            return ocirun_fail(err, OCIRUN_STAGE_DEVICES, e, "symlink `%s` -> `%s`", s->path, s->target);
    }
    return 0;
}

/* Paths under the container's /dev are the container's to shape (an exec'd
 * process's container may have replaced them with anything): every open is
 * O_NOFOLLOW | O_NONBLOCK | O_NOCTTY (no symlink followed, no fifo to block
 * on, no terminal taken) and checked with fstat before use. */

/* The pty multiplexer: /dev/pts/ptmx (what the usual /dev/ptmx symlink names),
 * else a /dev/ptmx node; either way a character device 5:2. */
static int open_ptmx(struct ocirun_error *err)
{
    static const char *const paths[] = {"/dev/pts/ptmx", "/dev/ptmx"};
    int e = ENOENT;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int fd = open(paths[i], O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            e = errno;
            continue;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2 &&
            fcntl(fd, F_SETFL, 0) == 0) /* blocking again: it is the process's terminal */
            return fd;
        close(fd);
        e = ENOTTY;
    }
    return ocirun_fail(err, OCIRUN_STAGE_TERMINAL, e, "open `/dev/ptmx` (a pty multiplexer, 5:2)");
}

/* /dev/console of the init: an empty regular file we create, never through a
 * symlink (CVE-2025-52565), never a fifo or device, with the slave bind-mounted
 * on it. Returns an fd of that file (the mount target) or -1. */
static int console_file(int devfd)
{
    const int flags = O_CREAT | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = openat(devfd, "console", flags, 0600);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EEXIST;
    }
    if (fd < 0 && (errno == ELOOP || errno == ENXIO || errno == EEXIST || errno == EACCES || errno == EISDIR ||
                   errno == ENODEV || errno == EIO)) {
        if (unlinkat(devfd, "console", 0) < 0 && errno == EISDIR)
            unlinkat(devfd, "console", AT_REMOVEDIR);
        fd = openat(devfd, "console", flags | O_EXCL, 0600);
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
            errno = EEXIST;
        }
    }
    return fd;
}

/* After pivot_root: a pty from the container's own devpts. The master goes up
 * to the parent (which hands it to the console socket or proxies it), the
 * slave becomes stdio and the controlling terminal; for the container's init
 * (terminal: true at create) also /dev/console. An exec'd process's pty is
 * its stdio and nothing else: /dev/console stays the init's. */
int ocirun_setup_terminal(const struct ocirun_plan *p, int sync_fd, struct ocirun_error *err)
{
    if (!p->terminal)
        return 0;
    int master = open_ptmx(err);
    if (master < 0)
        return -1;
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
        int e = errno;
        close(master);
        return ocirun_fail(err, OCIRUN_STAGE_TERMINAL, e, "unlock the pty");
    }
    /* TIOCGPTPEER opens the slave from the master: no path lookup to trick */
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        int e = errno;
        close(master);
        return ocirun_fail(err, OCIRUN_STAGE_TERMINAL, e, "open the pty slave");
    }
    int devfd = p->tenant ? -1 : open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (devfd >= 0) {
        int cfd = console_file(devfd);
        char sp[64];
        if (cfd < 0 || ocirun_mount_on_fd(ocirun_fdpath(sp, sizeof(sp), slave), cfd, NULL, MS_BIND, NULL) < 0) {
            int e = errno;
            if (cfd >= 0)
                close(cfd);
            close(devfd);
            close(slave);
            close(master);
            return ocirun_fail(err, OCIRUN_STAGE_TERMINAL, e, "bind the pty onto `/dev/console`");
        }
        close(cfd);
        close(devfd);
    }
    if (ocirun_sync_send(sync_fd, OCIRUN_MSG_TERMINAL, 0, master) < 0) {
        int e = errno;
        close(slave);
        close(master);
        return ocirun_fail(err, OCIRUN_STAGE_SYNC, e, "send the pty master");
    }
    close(master);
    if (ioctl(slave, TIOCSCTTY, 0) < 0) {
        int e = errno;
        close(slave);
        return ocirun_fail(err, OCIRUN_STAGE_TERMINAL, e, "make the pty the controlling terminal");
    }
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0) {
            int e = errno;
            close(slave);
            return ocirun_fail(err, OCIRUN_STAGE_TERMINAL, e, "dup the pty onto fd %d", i);
        }
    if (slave > 2)
        close(slave);
    return 0;
}
