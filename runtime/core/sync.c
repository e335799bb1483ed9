/* The sync socketpair between ocirun (the parent, Python) and the container.
 *
 * SOCK_SEQPACKET | SOCK_CLOEXEC, one `struct ocirun_msg` per record, so a
 * record is never torn and end-of-file means the child died. Every request
 * has exactly one answer; an unexpected record is an error naming what was
 * expected and what came. The Python side has one function per step
 * (runtime/ops/create.py and spawn.py, `_step_*`/`step_*`).
 *
 *   parent (ocirun)                       setup process           init
 *   ---------------                       -------------           ----
 *   [cgroupfs v1/hybrid: cgroup create, `tasks` fds opened]
 *   clone [CLONE_INTO_CGROUP, cgroup2] -> (waits)
 *   [otherwise: cgroup create + join(setup pid)]; apply
 *   GO ---------------------------------> [v1/hybrid: "0" into each `tasks`],
 *                                         setns(paths), [unshare(USER)]
 *                          <------------- USERNS        (only with a new user ns)
 *   write uid_map / gid_map
 *   MAPS_DONE --------------------------> setresuid(0), unshare(rest),
 *                                         timens offsets, clone(CLONE_PARENT) -> init
 *                          <------------- INIT_PID (pid = init's host pid); _exit(0)
 *   reap setup process, record the pid
 *   [MOUNT_FD + idmapped tree, one per idmap mount] ---------------->
 *   [MOUNT_FD + device node, one per linux.devices entry in a user ns] ->
 *   GO ---------------------------------------------------------> (the init waits for this, so
 *                                                                 its records never overtake
 *                                                                 INIT_PID) rootfs, mounts, devices,
 *                                                                 masked/readonly paths, sysctl
 *                          <-------------------------------------- HOOKS
 *   prestart + createRuntime hooks
 *   HOOKS_DONE [+ state memfd] ---------------------------------> createContainer hooks,
 *                                                                 pivot_root, terminal:
 *                          <-------------------------------------- TERMINAL + pty master (if any)
 *                                                                 user, caps, PATH lookup
 *                          <-------------------------------------- SECCOMP_FD + listener fd (only
 *   send it to listenerPath with the state                        with SCMP_ACT_NOTIFY: the filter
 *   ("creating", the init's pid)                                  is loaded before READY then)
 *                          <-------------------------------------- READY
 *   write state.json "created", pid file, exit                    open exec.fifo O_WRONLY (blocks)
 *
 *   `ocirun start`: reads the fifo's byte ----------------------> startContainer hooks, execve;
 *   then reads on to end-of-file <--------------------------------- the write end is close-on-exec:
 *                                                                 EOF alone is success, else one
 *                                                                 "errno\nstage\nmessage" record
 *
 *   `ocirun exec` (plan.tenant) is the same up to INIT_PID / GO; then the
 *   process sends TERMINAL (if any), SECCOMP_FD (if any) and READY, and is exec'd at once: no
 *   rootfs, no HOOKS, no fifo. The parent joins it to the cgroup before GO.
 *
 *   Any child step that fails sends ERROR (errno, stage, text) instead and
 *   _exit()s; the parent kills what is left and undoes what it made.
 *   WARNING records may come at any time before READY; they are logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

static const char *msg_name(uint32_t t)
{
    switch (t) {
    case OCIRUN_MSG_GO: return "GO";
    case OCIRUN_MSG_USERNS: return "USERNS";
    case OCIRUN_MSG_MAPS_DONE: return "MAPS_DONE";
    case OCIRUN_MSG_INIT_PID: return "INIT_PID";
    case OCIRUN_MSG_HOOKS: return "HOOKS";
    case OCIRUN_MSG_HOOKS_DONE: return "HOOKS_DONE";
    case OCIRUN_MSG_TERMINAL: return "TERMINAL";
    case OCIRUN_MSG_READY: return "READY";
    case OCIRUN_MSG_ERROR: return "ERROR";
    case OCIRUN_MSG_WARNING: return "WARNING";
    case OCIRUN_MSG_MOUNT_FD: return "MOUNT_FD";
    case OCIRUN_MSG_SECCOMP_FD: return "SECCOMP_FD";
    }
    return "unknown";
}

static int send_record(int fd, const struct ocirun_msg *m, int sendfd)
{
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (sendfd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &sendfd, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(*m) ? 0 : -1;
}

int ocirun_sync_send(int fd, uint32_t type, int32_t pid, int sendfd)
{
    struct ocirun_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.pid = pid;
    return send_record(fd, &m, sendfd);
}

int ocirun_sync_send_error(int fd, const struct ocirun_error *err)
{
    struct ocirun_msg m;
    memset(&m, 0, sizeof(m));
    m.type = OCIRUN_MSG_ERROR;
    m.err_no = err->err_no;
    m.stage = err->stage;
    snprintf(m.text, sizeof(m.text), "%s", err->msg);
    return send_record(fd, &m, -1);
}

int ocirun_sync_send_warning(int fd, const char *fmt, ...)
{
    struct ocirun_msg m;
    va_list ap;
    memset(&m, 0, sizeof(m));
    m.type = OCIRUN_MSG_WARNING;
    va_start(ap, fmt);
    vsnprintf(m.text, sizeof(m.text), fmt, ap);
    va_end(ap);
    return send_record(fd, &m, -1);
}

int ocirun_sync_wait(int fd, uint32_t want, int *recvfd, struct ocirun_error *err)
{
    struct ocirun_msg m;
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    if (recvfd)
        *recvfd = -1;
    ssize_t n;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        /* The parent went away (killed, or gave up): stop quietly. */
        return ocirun_fail(err, OCIRUN_STAGE_SYNC, 0, "ocirun went away while waiting for %s", msg_name(want));
    if (n < 0)
        return ocirun_fail(err, OCIRUN_STAGE_SYNC, errno, "read sync socket waiting for %s", msg_name(want));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int got;
        memcpy(&got, CMSG_DATA(c), sizeof(int));
        if (recvfd)
            *recvfd = got;
        else
            close(got);
    }
    if (n != (ssize_t)sizeof(m) || m.type != want)
        return ocirun_fail(err, OCIRUN_STAGE_SYNC, EPROTO, "expected sync record %s, got %s", msg_name(want),
                           n == (ssize_t)sizeof(m) ? msg_name(m.type) : "a short record");
    return 0;
}
