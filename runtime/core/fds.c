/* File descriptors of the init (CVE-2024-21626 class).
 *
 * During setup every fd from 3 up is close-on-exec; right before execve the
 * ones past the preserved range are closed outright, so nothing of the host
 * (a cgroup directory, the state dir, our own .so mapped from a file) is
 * reachable through /proc/self/fd in the container. Only 0-2 and
 * 3 .. 3+preserve_fds-1 (--preserve-fds, LISTEN_FDS) survive.
 */
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

int ocirun_mark_fds_cloexec(unsigned int from)
{
    if (syscall(SYS_close_range, from, ~0U, OCIRUN_CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    /* old kernels: walk a generous range */
    for (unsigned int fd = from; fd < 65536; fd++) {
        int f = fcntl((int)fd, F_GETFD);
        if (f >= 0)
            fcntl((int)fd, F_SETFD, f | FD_CLOEXEC);
    }
    return 0;
}

int ocirun_preserve_fds(const struct ocirun_plan *p, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->preserve_fds; i++) {
        int fd = 3 + (int)i;
        int f = fcntl(fd, F_GETFD);
        if (f < 0)
            continue; /* nothing there: nothing to keep */
        if (fcntl(fd, F_SETFD, f & ~FD_CLOEXEC) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "preserve fd %d", fd);
    }
    return 0;
}

void ocirun_close_fds_from(unsigned int from)
{
    if (syscall(SYS_close_range, from, ~0U, 0) == 0)
        return;
    for (unsigned int fd = from; fd < 65536; fd++)
        close((int)fd);
}

/* Close every fd from `from` up except those in keep[] (any order, n <= 32),
 * without allocating: close_range() over the gaps. The setup process uses it
 * to drop what it inherited from ocirun, above all the flock'd state dir fd
 * (an open file description shared with the parent keeps the lock held). */
void ocirun_close_fds_except(unsigned int from, const int *keep, unsigned int n)
{
    int k[32];
    unsigned int m = 0;
    for (unsigned int i = 0; i < n && m < 32; i++)
        if (keep[i] >= (int)from)
            k[m++] = keep[i];
    for (unsigned int i = 1; i < m; i++) /* insertion sort: tiny */
        for (unsigned int j = i; j > 0 && k[j - 1] > k[j]; j--) {
            int t = k[j];
            k[j] = k[j - 1];
            k[j - 1] = t;
        }
    unsigned int lo = from;
    for (unsigned int i = 0; i < m; i++) {
        if ((unsigned int)k[i] > lo)
            if (syscall(SYS_close_range, lo, (unsigned int)k[i] - 1, 0) < 0)
                for (unsigned int fd = lo; fd < (unsigned int)k[i]; fd++)
                    close((int)fd);
        lo = (unsigned int)k[i] + 1;
    }
    ocirun_close_fds_from(lo);
}
