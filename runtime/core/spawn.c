/* ocirun_spawn(): clone the setup process; the setup process clones the init.
 *
 * Why two processes (one clone from Python, one more from C):
 *   unshare(CLONE_NEWPID) / CLONE_NEWTIME and setns() into a pid or time
 *   namespace only move the caller's *children*; and a new user namespace
 *   must exist (with its id maps written by the parent) before the other
 *   namespaces are created, so they belong to it. The setup process does all
 *   of that, then clones the init with CLONE_PARENT: the init is a child of
 *   ocirun itself (so `run` can wait for it), becomes pid 1 of the new pid
 *   namespace, and is reparented to the caller's subreaper (conmon, the
 *   containerd shim) when ocirun exits, as with runc. The setup process
 *   then exits and ocirun reaps it.
 *
 * The child never runs Python: no callbacks, no allocation, every exit is
 * _exit(). The plan lives in memory copied at fork, fully built beforehand.
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

int32_t ocirun_set_subreaper(int32_t on)
{
    return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0 ? -errno : 0;
}

int32_t ocirun_threads(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    /* field 20 (num_threads) counts from after the ")" closing comm */
    char *s = strrchr(buf, ')');
    if (!s)
        return -EIO;
    int field = 2;
    for (s++; *s && field < 20; s++)
        if (*s == ' ')
            field++;
    return (int32_t)atoi(s);
}

/* Put every signal back to default and unblock them all: Python ignores
 * SIGPIPE and SIGXFSZ and has handlers of its own, and an execve keeps
 * ignored signals and the mask. */
static void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

__attribute__((noreturn)) static void die_reported(int sync_fd, const struct ocirun_error *err)
{
    /* The parent prints it; the exit status only says "already reported". */
    if (err->stage != OCIRUN_STAGE_SYNC || err->err_no)
        ocirun_sync_send_error(sync_fd, err);
    _exit(1);
}

/* While blocked on the fifo the init is pid 1 of its namespace, which the
 * kernel shields from every signal it has no handler for (SIGKILL aside):
 * `kill ID TERM` on a created container would do nothing. Catch the usual
 * termination signals and die of them instead, as a runc init would. execve
 * puts caught signals back to their default. */
static void die_of_signal(int sig)
{
    _exit(128 + sig);
}

static void catch_terminating_signals(void)
{
    static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = die_of_signal;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

/* After READY nobody listens on the socket any more: say it on stderr. */
__attribute__((noreturn)) static void die_stderr(const struct ocirun_error *err, int code)
{
    char line[700];
    int n;
    if (err->err_no)
        n = snprintf(line, sizeof(line), "ocirun: %s: %s: %s\n", ocirun_stage_name(err->stage), err->msg,
                     strerror(err->err_no));
    else
        n = snprintf(line, sizeof(line), "ocirun: %s: %s\n", ocirun_stage_name(err->stage), err->msg);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    _exit(code);
}

/* After `start` has read the release byte it goes on reading the exec fifo
 * until end-of-file, and the init keeps its write end open, close-on-exec,
 * up to the execve: end-of-file alone means the process is exec'd. A
 * startContainer hook, the seccomp load or the execve failing before that is
 * written as one record, "<errno>\n<stage>\n<message>" (one write, far
 * below PIPE_BUF, so never torn), which `start` reports as its own error.
 * A tenant (`ocirun exec`) passes its sync socket instead, which its parent
 * reads the same way after READY. */
__attribute__((noreturn)) static void die_to_start(int fifo, const struct ocirun_error *err, int code)
{
    if (fifo < 0)
        die_stderr(err, code);
    char rec[600];
    int n = snprintf(rec, sizeof(rec), "%d\n%s\n%s", (int)err->err_no, ocirun_stage_name(err->stage), err->msg);
    if (n > 0)
        (void)!write(fifo, rec, (size_t)n < sizeof(rec) ? (size_t)n : sizeof(rec) - 1);
    _exit(code);
}

/* The exec fifo, writable: its O_PATH fd reopened through fd/N of the
 * verified procfs handle (not the container's /proc, where a mount could
 * put a fake fd/N: CVE-2019-16884 class), and proved to be the same inode. */
static int reopen_fifo(int opath_fd)
{
    char name[16];
    struct stat a, b;
    int dir = ocirun_proc_open("self/fd", O_PATH | O_DIRECTORY);
    if (dir < 0)
        return -1;
    snprintf(name, sizeof(name), "%d", opath_fd);
    int fd = openat(dir, name, O_WRONLY | O_CLOEXEC);
    int e = errno;
    close(dir);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    if (fstat(opath_fd, &a) < 0 || fstat(fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
        !S_ISFIFO(b.st_mode)) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

static void set_cpus(const uint8_t *mask, uint32_t len)
{
    if (mask && len)
        sched_setaffinity(0, len, (const cpu_set_t *)mask); /* best effort, like the cgroup's cpuset */
}

__attribute__((noreturn)) static void init_main(const struct ocirun_plan *p)
{
    struct ocirun_error err;
    int sync = p->sync_fd, rootfd = -1, state_fd = -1, seal_fd, fifo = -1;
    char exe[PATH_MAX];
    memset(&err, 0, sizeof(err));

    /* Dies with ocirun until READY; named so `ps` shows where a hang is. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NAME, p->tenant ? "ocirun:[exec]" : "ocirun:[init]", 0, 0, 0);
    /* Own session: the terminal's signals reach ocirun, which forwards them. */
    setsid();
    umask(0);
    /* The parent answers INIT_PID with GO; until then the socket is the setup
     * process's, and a record from us could overtake its INIT_PID. */
    if (ocirun_receive_trees(p, &err) < 0 || ocirun_receive_device_nodes(p, &err) < 0 ||
        ocirun_sync_wait(sync, OCIRUN_MSG_GO, NULL, &err) < 0)
        die_reported(sync, &err);
    ocirun_force_fallback_resolver((int)p->no_openat2);
    /* Our own procfs, before any /proc access: an instance of the pid
     * namespace we are in, detached (safepath.c). We never had a handle on
     * the host's /proc: the setup process never opens one. The exec'd child
     * only needs self/ (subset=pid). */
    if (ocirun_procfs_make(3 + (int)p->preserve_fds, (int)p->tenant, &err) < 0)
        die_reported(sync, &err);
    /* the trampoline: made by the setup process (exeseal.c) */
    seal_fd = ocirun_seal_fd;

    if (p->tenant) {
        /* setns() into the mount namespace already put us at its root */
        if (ocirun_early_process(p, &err) < 0)
            die_reported(sync, &err);
    } else {
        if (ocirun_set_names(p, &err) < 0 || ocirun_early_process(p, &err) < 0)
            die_reported(sync, &err);
        if (ocirun_prepare_rootfs(p, &rootfd, &err) < 0 || ocirun_do_mounts(p, rootfd, &err) < 0 ||
            ocirun_create_devices(p, rootfd, &err) < 0 || ocirun_do_sysctls(p, &err) < 0 ||
            ocirun_do_paths(p, rootfd, &err) < 0)
            die_reported(sync, &err);

        if (ocirun_sync_send(sync, OCIRUN_MSG_HOOKS, 0, -1) < 0) {
            ocirun_fail(&err, OCIRUN_STAGE_SYNC, errno, "send HOOKS");
            die_reported(sync, &err);
        }
        if (ocirun_sync_wait(sync, OCIRUN_MSG_HOOKS_DONE, &state_fd, &err) < 0)
            die_reported(sync, &err);
        if (ocirun_run_hooks(p->create_container_hooks, p->n_create_container_hooks, "createContainer", state_fd,
                             &err) < 0)
            die_reported(sync, &err);

        if (ocirun_enter_rootfs(p, rootfd, &err) < 0)
            die_reported(sync, &err);
        close(rootfd);
    }

    /* cwd: created as root if missing, before / may turn read-only; only by
     * `create` (the spec's initial process.cwd): an exec's cwd must exist */
    if (chdir(p->cwd) < 0 && p->tenant) {
        ocirun_fail(&err, OCIRUN_STAGE_PROCESS, errno, "chdir to cwd `%s`", p->cwd);
        die_reported(sync, &err);
    }
    if (!p->tenant && chdir(p->cwd) < 0) {
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd = root < 0 ? -1 : ocirun_ensure_in_root(root, p->cwd, 0, OCIRUN_STAGE_PROCESS, &err);
        if (root >= 0)
            close(root);
        if (fd < 0 || fchdir(fd) < 0) {
            if (fd >= 0 || !err.msg[0])
                ocirun_fail(&err, OCIRUN_STAGE_PROCESS, errno, "chdir to cwd `%s`", p->cwd);
            die_reported(sync, &err);
        }
        close(fd);
    }
    if ((!p->tenant && ocirun_finish_rootfs(p, &err) < 0) || ocirun_setup_terminal(p, sync, &err) < 0)
        die_reported(sync, &err);

    if (ocirun_set_process(p, &err) < 0)
        die_reported(sync, &err);
    /* again as the user (it may lack search permission on the way), and check
     * that the cwd is inside the container: CVE-2024-21626 */
    if (chdir(p->cwd) < 0 && errno != EACCES) {
        ocirun_fail(&err, OCIRUN_STAGE_PROCESS, errno, "chdir to cwd `%s`", p->cwd);
        die_reported(sync, &err);
    }
    if (!getcwd(exe, sizeof(exe)) || exe[0] != '/') {
        ocirun_fail(&err, OCIRUN_STAGE_PROCESS, ENOENT, "cwd `%s` is outside the container", p->cwd);
        die_reported(sync, &err);
    }
    if (ocirun_lookup_exec(p, exe, sizeof(exe), &err) < 0)
        die_reported(sync, &err);
    if (p->listen_pid_env)
        snprintf(p->listen_pid_env, 32, "LISTEN_PID=%d", (int)getpid());
    if (ocirun_preserve_fds(p, &err) < 0)
        die_reported(sync, &err);
    /* the trampoline's argv, while nothing can refuse the mapping it may need */
    const char **targv = ocirun_exeseal_argv(exe, p->argv);
    if (!targv) {
        ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno, "room for the %s argument list", exe);
        die_reported(sync, &err);
    }
    /* A filter with a listener is loaded now, not just before execve: its fd
     * must go up while the sync socket is open. Any other filter is loaded
     * last, below (process.c). */
    if (ocirun_seccomp_needs_listener(p) && ocirun_load_seccomp(p, &err) < 0)
        die_reported(sync, &err);

    /* From here on the init must outlive `ocirun create`. */
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    if (ocirun_sync_send(sync, OCIRUN_MSG_READY, 0, -1) < 0)
        _exit(1);
    if (p->tenant) {
        /* `ocirun exec` reads on to end-of-file, as `start` does on the exec
         * fifo: the socket goes with the trampoline's execveat (close-on-exec)
         * and a failure before it (seccomp load, execveat) is written to it
         * as die_to_start's record, which exec reports as its own error */
        if (fcntl(sync, F_SETFD, FD_CLOEXEC) < 0)
            _exit(1);
        fifo = sync;
        goto exec;
    }
    close(sync);
    catch_terminating_signals();

    /* Block until `start` opens the fifo for reading. The fd was opened O_PATH
     * on the host before pivot_root; reopening it through fd/N of the procfs
     * handle gives a writable fd without any path into the state dir. */
    fifo = reopen_fifo(p->fifo_fd);
    if (fifo < 0) {
        ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno, "open exec fifo");
        die_stderr(&err, 1);
    }
    /* kept until the execve (die_to_start): above the preserved range, so
     * neither the close below nor the process can mistake it for one of those */
    if (fifo < 3 + (int)p->preserve_fds) {
        int hi = fcntl(fifo, F_DUPFD_CLOEXEC, 3 + (int)p->preserve_fds);
        if (hi < 0) {
            ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno, "move the exec fifo fd");
            die_stderr(&err, 1);
        }
        close(fifo);
        fifo = hi;
    }
    if (write(fifo, "0", 1) != 1) {
        ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno, "write exec fifo");
        die_stderr(&err, 1);
    }
    close(p->fifo_fd);
    reset_signals(); /* the hooks and the process start with default dispositions */

    if (ocirun_run_hooks(p->start_container_hooks, p->n_start_container_hooks, "startContainer", state_fd, &err) < 0)
        die_to_start(fifo, &err, 1);
exec:;
    {
        int keep[2], n = 0;
        if (seal_fd >= 0)
            keep[n++] = seal_fd;
        if (fifo >= 0)
            keep[n++] = fifo; /* close-on-exec: the execve itself closes it */
        ocirun_close_fds_except(3 + p->preserve_fds, keep, (unsigned int)n);
    }
    /* `start` tells an exec from a killed init by this byte: EOF without
     * it is the init dying (ops/start.py, EXECUTING). A tenant's `fifo` is
     * its sync socket, where `exec` reads only failures up to EOF. */
    if (fifo >= 0 && !p->tenant && write(fifo, "E", 1) != 1) {
        ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno, "write exec fifo");
        die_to_start(fifo, &err, 1);
    }
    /* last: after every check and call of ours but the exec (process.c) */
    if (ocirun_load_seccomp(p, &err) < 0)
        die_to_start(fifo, &err, 1);
    ocirun_exeseal_exec(seal_fd, targv, p->envp);
    if (errno == E2BIG)
        ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno,
                    "exec `%s` (the argument list and environment, with the "
                    "trampoline's two words, exceed the kernel's limit)",
                    exe);
    else
        ocirun_fail(&err, OCIRUN_STAGE_EXEC, errno,
                    "exec `%s` through the sealed trampoline (execveat; a "
                    "seccomp profile must allow it, a plain execve is never used instead)",
                    exe);
    die_to_start(fifo, &err, err.err_no == ENOENT ? 127 : 126);
}

/* The sealed trampoline (exeseal.c), moved above the preserved range, which
 * goes to the process open; -1 with err filled. */
static int seal_high(const struct ocirun_plan *p, struct ocirun_error *err)
{
    int fd = ocirun_exeseal_prepare(err);
    if (fd < 0 || fd >= 3 + (int)p->preserve_fds)
        return fd;
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3 + (int)p->preserve_fds);
    if (hi < 0)
        ocirun_fail(err, OCIRUN_STAGE_EXEC, errno, "move the exec trampoline fd");
    close(fd);
    return hi;
}

/* Into each v1 hierarchy's cgroup: "0" written to `tasks` moves the writing
 * thread, the whole of this single-threaded process, without the kernel's
 * global threadgroup lock (and the RCU grace period taking it costs) that a
 * pid written to cgroup.procs needs. The init and everything it forks inherit
 * it. The fds were opened by the parent, which made the directories; there is
 * one per hierarchy (`cgroup.procs` with "0" would take the lock). */
static int join_cgroup_self(const struct ocirun_plan *p, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->n_cgroup_tasks; i++) {
        int fd = p->cgroup_tasks_fds[i];
        ssize_t w;
        do
            w = write(fd, "0", 1);
        while (w < 0 && errno == EINTR);
        if (w != 1)
            return ocirun_fail(err, OCIRUN_STAGE_SPAWN, w < 0 ? errno : EIO, "join cgroup: write `0` to `%s`",
                               p->cgroup_tasks_paths ? p->cgroup_tasks_paths[i] : "tasks");
        close(fd);
    }
    return 0;
}

__attribute__((noreturn)) static void setup_main(const struct ocirun_plan *p, pid_t ocirun_pid)
{
    struct ocirun_error err;
    int sync = p->sync_fd;
    memset(&err, 0, sizeof(err));

    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != ocirun_pid)
        _exit(1); /* ocirun died before PDEATHSIG was armed */
    /* Non-dumpable from the start: /proc/PID/{exe,mem,fd} of a process that
     * is still the host's Python are off limits to the container
     * (CVE-2019-5736 class). Inherited by the init. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NAME, "ocirun:[setup]", 0, 0, 0);
    reset_signals();
    close(p->parent_sync_fd);
    {
        /* Keep only what the plan names (and the preserved range); drop the
         * rest of what ocirun had open, e.g. the locked state dir. */
        int keep[32];
        unsigned int n = 0;
        keep[n++] = p->sync_fd;
        keep[n++] = p->fifo_fd;
        for (uint32_t i = 0; i < p->n_join && i < 8; i++)
            keep[n++] = p->join_fds[i];
        for (uint32_t i = 0; i < p->n_cgroup_tasks && n < sizeof(keep) / sizeof(keep[0]); i++)
            keep[n++] = p->cgroup_tasks_fds[i];
        ocirun_close_fds_except(3 + p->preserve_fds, keep, n);
    }
    ocirun_mark_fds_cloexec(3);
    set_cpus(p->cpu_affinity_initial, p->cpu_affinity_initial_len);

    if (ocirun_sync_wait(sync, OCIRUN_MSG_GO, NULL, &err) < 0)
        die_reported(sync, &err);
    /* The parent made the cgroup and wrote its resources: join it (between
     * the initial and the final CPU affinity, as the spec orders them) */
    if (join_cgroup_self(p, &err) < 0)
        die_reported(sync, &err);
    set_cpus(p->cpu_affinity_final, p->cpu_affinity_final_len);
    /* The trampoline, read-only before the init or exec'd child (which live
     * in the container's pid namespace) exists, made while we are still all
     * on the host (rootless: below, see there): see exeseal.c. No handle on
     * the host's /proc is opened here: each of those processes makes its own
     * procfs (safepath.c). */
    int seal_fd = -1;
    if (!p->rootless && (seal_fd = seal_high(p, &err)) < 0)
        die_reported(sync, &err);
    if (ocirun_join_namespaces(p, &err) < 0 || ocirun_unshare_userns(p, &err) < 0 || ocirun_unshare_rest(p, &err) < 0)
        die_reported(sync, &err);
    /* rootless: only in the container's user and mount namespaces may we
     * mount the trampoline's tmpfs; still before the init or exec'd child
     * exists, and the container's processes run as our own user anyway. */
    if (p->rootless && (seal_fd = seal_high(p, &err)) < 0)
        die_reported(sync, &err);
    ocirun_seal_fd = seal_fd;

    /* CLONE_PARENT: the init is ocirun's child, our sibling. The exit signal
     * of such a child is the one of its creator (SIGCHLD), whatever we pass. */
    long pid = syscall(SYS_clone, CLONE_PARENT, 0, 0, 0, 0);
    if (pid < 0) {
        ocirun_fail(&err, OCIRUN_STAGE_SPAWN, errno, "clone the init process");
        die_reported(sync, &err);
    }
    if (pid == 0)
        init_main(p);
    if (ocirun_sync_send(sync, OCIRUN_MSG_INIT_PID, (int32_t)pid, -1) < 0)
        kill((pid_t)pid, SIGKILL);
    _exit(0);
}

/* struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2), as the kernel
 * reads it; spelled out because <linux/sched.h> clashes with <sched.h>. */
struct ocirun_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define OCIRUN_CLONE_INTO_CGROUP 0x200000000ULL
#ifdef SYS_clone3
#define OCIRUN_SYS_clone3 SYS_clone3
#else
#define OCIRUN_SYS_clone3 435
#endif

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

/* Every process made for a container is a fork of this one, and its image is
 * what /proc/PID/exe names until the last execve: it must be a memfd sealed
 * against writes (the launcher, or runtime/sealed.py, made it so), never the
 * host's interpreter, which a container with CAP_SYS_PTRACE could open
 * (CVE-2019-5736). Not sealed: no spawn, whatever the reason. */
static int exe_sealed(struct ocirun_error *err)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ocirun_fail(err, OCIRUN_STAGE_SPAWN, errno, "open /proc/self/exe to check it is sealed");
    int seals = fcntl(fd, F_GET_SEALS);
    int e = errno;
    close(fd);
    int want = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
    if (seals < 0 || (seals & want) != want)
        return ocirun_fail(err, OCIRUN_STAGE_SPAWN, seals < 0 && e != EINVAL ? e : EPERM,
                           "the interpreter runs from a writable image, not a sealed copy: refusing to make "
                           "container processes from it (start ocirun through its launcher)");
    return 0;
}

int32_t ocirun_spawn(const struct ocirun_plan *p, struct ocirun_error *err)
{
    memset(err, 0, sizeof(*err));
    if (exe_sealed(err) < 0)
        return -1;
    int threads = ocirun_threads();
    if (threads != 1)
        return ocirun_fail(err, OCIRUN_STAGE_SPAWN, threads < 0 ? -threads : EBUSY,
                           "ocirun must be single-threaded to spawn (it has %d threads)", threads);
    pid_t self = getpid();
    pid_t pid;
    if (p->clone_into_cgroup) {
        /* Straight into the cgroup2 directory: no pid written to cgroup.procs
         * afterwards, and so no wait on the kernel's threadgroup lock (see
         * the plan's cgroup fields). A raw clone3, as the init's clone is: the
         * child calls nothing that trusts glibc's cached thread id, never
         * returns to Python and ends in _exit(). */
        struct ocirun_clone_args a;
        memset(&a, 0, sizeof(a));
        a.flags = OCIRUN_CLONE_INTO_CGROUP;
        a.exit_signal = SIGCHLD;
        a.cgroup = (uint64_t)p->cgroup2_fd;
        pid = (pid_t)syscall(OCIRUN_SYS_clone3, &a, sizeof(a));
        if (pid < 0)
            return ocirun_fail(err, OCIRUN_STAGE_SPAWN, errno,
                               "clone the setup process into its cgroup2 directory (clone3 CLONE_INTO_CGROUP)");
    } else {
        /* fork(), not a raw clone: glibc keeps its own state (tid, locks) right. */
        pid = fork();
        if (pid < 0)
            return ocirun_fail(err, OCIRUN_STAGE_SPAWN, errno, "fork the setup process");
    }
    if (pid == 0)
        setup_main(p, self);
    return pid;
}
