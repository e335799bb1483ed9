/* The one hook runner. The core runs createContainer (after createRuntime,
 * before pivot_root, so the path still resolves like on the host) and
 * startContainer (after `start`, right before the user's process is exec'd)
 * itself, because they belong inside the container's mount namespace: the
 * state JSON on stdin is a memfd the parent sent with HOOKS_DONE. The front
 * door (door.c) runs poststop hooks with it too, from a sealed memfd of its
 * own. The fd is rewound for every hook.
 *
 * Nothing waits forever: a hook that sets no timeout is bounded by
 * OCIRUN_HOOK_DEFAULT_TIMEOUT (hooks.h), and the error says so.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "internal.h"
#include "sys.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    reap(pid);
}

/* The forked child: never returns. errfd (DIRECT) gets the exec's errno. */
static void child(const struct ocirun_hook *h, int state_fd, int how, int errfd)
{
    /* its own session and process group: a timeout kills the hook and
     * everything it started (`sh -c 'x & y'`), not just the first pid */
    setsid();
    if (state_fd >= 0) {
        lseek(state_fd, 0, SEEK_SET);
        dup2(state_fd, 0);
    } else {
        /* the container's /dev/null after pivot_root: never a fifo to
         * block on, never a symlink, and really the null device */
        int n = open("/dev/null", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (n >= 0 && fstat(n, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
            dup2(n, 0);
        else
            close(0);
    }
    if (how == OCIRUN_HOOK_DIRECT) {
        /* a program on the host, as the Python runner starts it: default
         * signal dispositions (Python ignores these two), no fd but 0-2 */
        signal(SIGPIPE, SIG_DFL);
        signal(SIGXFSZ, SIG_DFL);
        syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
        execve(h->path, (char *const *)h->argv, (char *const *)h->envp);
        int e = errno;
        (void)!write(errfd, &e, sizeof(e));
        _exit(127);
    }
    /* through the sealed trampoline, like the process itself (exeseal.c),
     * or not at all */
    const char **targv = ocirun_exeseal_argv(h->path, h->argv);
    ocirun_exeseal_exec(ocirun_seal_fd, targv, h->envp);
    char line[600];
    int e = errno;
    int len = snprintf(line, sizeof(line), "ocirun: hooks: exec `%s` through the sealed trampoline (execveat): %s\n",
                       h->path, strerror(e));
    if (len > 0)
        (void)!write(2, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
    _exit(127);
}

int ocirun_run_hook(const struct ocirun_hook *h, const char *which, int state_fd, int how, int32_t default_timeout,
                    struct ocirun_error *err)
{
    int ep[2] = {-1, -1};
    if (how == OCIRUN_HOOK_DIRECT && pipe2(ep, O_CLOEXEC) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_HOOKS, errno, "%s hook `%s`: pipe", which, h->path);
    pid_t pid = fork();
    if (pid == 0)
        child(h, state_fd, how, ep[1]);
    int e = errno;
    if (ep[1] >= 0)
        close(ep[1]);
    if (pid < 0) {
        if (ep[0] >= 0)
            close(ep[0]);
        return ocirun_fail(err, OCIRUN_STAGE_HOOKS, e, how == OCIRUN_HOOK_DIRECT ? "%s hook `%s`" : "fork %s hook `%s`",
                           which, h->path);
    }
    if (ep[0] >= 0) {
        /* EOF once its execve succeeded (close-on-exec); an errno if it failed */
        ssize_t got;
        do
            got = read(ep[0], &e, sizeof(e));
        while (got < 0 && errno == EINTR);
        close(ep[0]);
        if (got == (ssize_t)sizeof(e)) {
            reap(pid);
            return ocirun_fail(err, OCIRUN_STAGE_HOOKS, e, "%s hook `%s`", which, h->path);
        }
    }
    int32_t bound = h->timeout > 0 ? h->timeout : default_timeout;
    int64_t deadline = mono_ms() + (int64_t)bound * 1000;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) {
        e = errno;
        kill_group(pid);
        return ocirun_fail(err, OCIRUN_STAGE_HOOKS, e, "wait for %s hook `%s`: pidfd_open", which, h->path);
    }
    int exited = 0;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct pollfd pf = {.fd = pfd, .events = POLLIN};
        int r = poll(&pf, 1, left > 1000000 ? 1000000 : (int)left);
        if (r > 0) {
            exited = 1;
            break;
        }
        if (r < 0 && errno != EINTR) {
            e = errno;
            close(pfd);
            kill_group(pid);
            return ocirun_fail(err, OCIRUN_STAGE_HOOKS, e, "wait for %s hook `%s`: poll", which, h->path);
        }
    }
    close(pfd);
    if (!exited) {
        kill_group(pid);
        if (h->timeout > 0)
            return ocirun_fail(err, OCIRUN_STAGE_HOOKS, 0, "%s hook `%s` timed out after %d s", which, h->path, bound);
        return ocirun_fail(err, OCIRUN_STAGE_HOOKS, 0,
                           "%s hook `%s` timed out after %d s (the default bound: the hook sets no timeout)", which,
                           h->path, bound);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return ocirun_fail(err, OCIRUN_STAGE_HOOKS, errno, "wait for %s hook `%s`", which, h->path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        return ocirun_fail(err, OCIRUN_STAGE_HOOKS, 0, "%s hook `%s` exited with status %d", which, h->path,
                           WEXITSTATUS(status));
    return ocirun_fail(err, OCIRUN_STAGE_HOOKS, 0, "%s hook `%s` killed by signal %d", which, h->path,
                       WTERMSIG(status));
}

int ocirun_run_hooks(const struct ocirun_hook *hooks, uint32_t n, const char *which, int state_fd,
                     struct ocirun_error *err)
{
    for (uint32_t i = 0; i < n; i++)
        if (ocirun_run_hook(&hooks[i], which, state_fd, OCIRUN_HOOK_SEALED, OCIRUN_HOOK_DEFAULT_TIMEOUT, err) < 0)
            return -1;
    return 0;
}
