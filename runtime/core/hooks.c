/* Hooks the core runs itself, because they belong inside the container's mount
 * namespace: createContainer (after createRuntime, before pivot_root, so the
 * path still resolves like on the host) and startContainer (after `start`,
 * right before the user's process is exec'd). The state JSON is on stdin: a
 * memfd the parent sent with HOOKS_DONE, rewound for every hook.
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
#include <unistd.h>

#include "internal.h"
#include "sys.h"

static int run_one(const struct ocirun_hook *h, const char *which, int state_fd, struct ocirun_error *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return ocirun_fail(err, OCIRUN_STAGE_HOOKS, errno, "fork %s hook `%s`", which, h->path);
    if (pid == 0) {
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
        /* through the sealed trampoline, like the process itself (exeseal.c),
         * or not at all */
        const char **targv = ocirun_exeseal_argv(h->path, h->argv);
        ocirun_exeseal_exec(ocirun_seal_fd, targv, h->envp);
        char line[600];
        int e = errno;
        int len =
            snprintf(line, sizeof(line), "ocirun: hooks: exec `%s` through the sealed trampoline (execveat): %s\n",
                     h->path, strerror(e));
        if (len > 0)
            (void)!write(2, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
        _exit(127);
    }
    int status = 0;
    if (h->timeout > 0) {
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd >= 0) {
            struct pollfd pf = {.fd = pfd, .events = POLLIN};
            int r;
            do
                r = poll(&pf, 1, h->timeout * 1000);
            while (r < 0 && errno == EINTR);
            close(pfd);
            if (r == 0) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                    ;
                return ocirun_fail(err, OCIRUN_STAGE_HOOKS, ETIMEDOUT, "%s hook `%s` timed out after %d s", which,
                                   h->path, h->timeout);
            }
        }
    }
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
        if (run_one(&hooks[i], which, state_fd, err) < 0)
            return -1;
    return 0;
}
