/* The state store's primitives: see store.h, and runtime/state.py's
 * docstring for the layout. libc only (the front door links this file). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define LOCKS ".locks"

static int refuse(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return OCIRUN_STORE_REFUSED;
}

static const char *kind_name(int kind)
{
    return kind == OCIRUN_KIND_DIR ? "a directory" : kind == OCIRUN_KIND_FIFO ? "a fifo" : "a regular file";
}

/* Why st cannot be trusted as ours, written to why; 0 when it can. */
static int untrusted(const struct stat *st, int kind, int others_may_write, char *why, size_t whylen)
{
    if ((int)(st->st_mode & S_IFMT) != kind)
        return refuse(why, whylen, "not %s", kind_name(kind));
    if (st->st_uid != geteuid())
        return refuse(why, whylen, "owned by uid %u, not %u", (unsigned)st->st_uid, (unsigned)geteuid());
    if ((st->st_mode & 022) && !others_may_write)
        return refuse(why, whylen, "writable by group or others (mode %04o)", (unsigned)(st->st_mode & 07777));
    return 0;
}

int ocirun_store_open(int dirfd, const char *name, int kind, int others_may_write, char *why, size_t whylen)
{
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (kind == OCIRUN_KIND_DIR ? O_DIRECTORY : O_NONBLOCK);
    int fd = openat(dirfd, name, flags);
    if (fd < 0) {
        if (errno == ELOOP)
            return refuse(why, whylen, "a symlink");
        if (errno == ENOTDIR && kind == OCIRUN_KIND_DIR)
            return refuse(why, whylen, "not a directory");
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int r = untrusted(&st, kind, others_may_write, why, whylen);
    if (r) {
        close(fd);
        return r;
    }
    return fd;
}

/* mkdir -p, 0700; 1 if `path` itself was made, 0 if it was there, -errno */
static int make_dirs(const char *path)
{
    if (mkdir(path, 0700) == 0)
        return 1;
    if (errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -errno;
    char parent[4096];
    size_t n = strlen(path);
    if (n >= sizeof(parent))
        return -ENAMETOOLONG;
    memcpy(parent, path, n + 1);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash || slash == parent)
        return -ENOENT;
    *slash = 0;
    int r = make_dirs(parent);
    if (r < 0)
        return r;
    if (mkdir(path, 0700) == 0)
        return 1;
    return errno == EEXIST ? 0 : -errno;
}

int ocirun_store_open_root(const char *root, int create, char *why, size_t whylen)
{
    int made = 0;
    if (create) {
        made = make_dirs(root);
        if (made < 0)
            return made;
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if ((made && fchmod(fd, 0700) < 0) || fstat(fd, &st) < 0) { /* 0700 whatever the umask */
        int e = errno;
        close(fd);
        return -e;
    }
    char what[200];
    if (untrusted(&st, OCIRUN_KIND_DIR, 0, what, sizeof(what))) {
        close(fd);
        return refuse(why, whylen, "state root `%s` is %s: refusing to use it", root, what);
    }
    return fd;
}

static int open_locks_dir(const char *root, char *why, size_t whylen)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/" LOCKS, root);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -errno;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    char what[200];
    if (fstat(fd, &st) < 0 || untrusted(&st, OCIRUN_KIND_DIR, 0, what, sizeof(what))) {
        close(fd);
        return refuse(why, whylen, "state lock directory `%s` is %s: refusing to use it", path, what);
    }
    return fd;
}

/* The pid /proc/locks names as holding the flock on this inode, or 0. */
static int lock_holder(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return 0;
    FILE *f = fopen("/proc/locks", "re");
    if (!f)
        return 0;
    char line[256];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        char type[16], arrow[4];
        int pid;
        unsigned long long ino;
        /* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; a waiter's line has "->" */
        if (sscanf(line, "%*s %3s", arrow) == 1 && !strcmp(arrow, "->"))
            continue;
        if (sscanf(line, "%*s %15s %*s %*s %d %*x:%*x:%llu", type, &pid, &ino) == 3 && !strcmp(type, "FLOCK") &&
            ino == (unsigned long long)st.st_ino)
            found = pid;
    }
    fclose(f);
    return found;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* flock fd, waiting until deadline at most: a blocking flock cut short by a
 * timer signal to this thread alone (the caller's handler and mask restored). */
static int flock_bounded(int fd, int64_t deadline)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK)
        return -errno;
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigemptyset(&sa.sa_mask); /* no SA_RESTART: the timer interrupts flock */
    sigset_t alarm_only, oldmask;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM};
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
        return -errno;
    sigaction(SIGALRM, &sa, &old);
    pthread_sigmask(SIG_UNBLOCK, &alarm_only, &oldmask);
    int r = -EAGAIN;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            r = OCIRUN_STORE_TIMEOUT;
            break;
        }
        struct itimerspec its = {.it_value = {left / 1000, (left % 1000) * 1000000}};
        timer_settime(timer, 0, &its, NULL);
        if (flock(fd, LOCK_EX) == 0) {
            r = 0;
            break;
        }
        if (errno != EINTR) {
            r = -errno;
            break;
        }
    }
    struct itimerspec off = {{0, 0}, {0, 0}};
    timer_settime(timer, 0, &off, NULL);
    timer_delete(timer);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGALRM, &old, NULL);
    return r;
}

int ocirun_store_lock(const char *root, const char *id, int timeout_ms, char *why, size_t whylen)
{
    int rfd = ocirun_store_open_root(root, 1, why, whylen);
    if (rfd < 0)
        return rfd;
    close(rfd);
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int dfd = open_locks_dir(root, why, whylen);
        if (dfd < 0)
            return dfd;
        int fd = openat(dfd, id, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            int e = errno;
            close(dfd);
            if (e == ENOENT)
                continue; /* .locks was removed (empty) between our mkdir and open: again */
            char path[4200];
            snprintf(path, sizeof(path), "%s/" LOCKS, root);
            rmdir(path); /* ENAMETOOLONG...: no lock, and no empty .locks left behind */
            return -e;
        }
        int r = flock_bounded(fd, deadline);
        struct stat here, now;
        int same = r == 0 && fstat(fd, &here) == 0 && fstatat(dfd, id, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                   here.st_dev == now.st_dev && here.st_ino == now.st_ino;
        close(dfd);
        if (r == OCIRUN_STORE_TIMEOUT) {
            int holder = lock_holder(fd);
            char pid[40] = "";
            if (holder)
                snprintf(pid, sizeof(pid), " (pid %d)", holder);
            close(fd);
            snprintf(why, whylen, "container `%s` is locked by another ocirun command%s: gave up waiting after %gs", id,
                     pid, timeout_ms / 1000.0);
            return r;
        }
        if (r < 0) {
            close(fd);
            return r;
        }
        if (same)
            return fd;
        close(fd); /* its container was deleted while we waited (and the file with it): lock the current one */
    }
}

void ocirun_store_drop_lock(const char *root, const char *id)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/" LOCKS, root);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    unlinkat(dfd, id, 0);
    close(dfd);
    rmdir(path); /* ENOTEMPTY: other ids hold locks */
}

static void random_name(char *out, size_t n, const char *name)
{
    unsigned char b[8] = {0};
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        struct timespec ts; /* cannot happen after boot; O_EXCL/linkat still refuse a clash */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        memcpy(b, &ts.tv_nsec, sizeof(b) < sizeof(ts.tv_nsec) ? sizeof(b) : sizeof(ts.tv_nsec));
    }
    snprintf(out, n, ".%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", name, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

int ocirun_store_write(int dirfd, const char *name, const char *data, size_t len, int flags)
{
    char tmp[512] = "";
    int fd = -1;
    if (strlen(name) > 400)
        return -ENAMETOOLONG;
    if (!(flags & OCIRUN_STORE_NO_TMPFILE))
        fd = openat(dirfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
    if (fd < 0) {
        if ((flags & OCIRUN_STORE_NO_TMPFILE) || errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
            do {
                random_name(tmp, sizeof(tmp), name);
                fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            } while (fd < 0 && errno == EEXIST);
        }
        if (fd < 0)
            return -errno;
    }
    int e = 0;
    if (fchmod(fd, 0600) < 0) /* whatever the umask */
        e = errno;
    for (size_t off = 0; !e && off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            e = errno;
        else
            off += (size_t)n;
    }
    if (!e && !tmp[0]) {
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        for (;;) {
            random_name(tmp, sizeof(tmp), name);
            if (linkat(AT_FDCWD, self, dirfd, tmp, AT_SYMLINK_FOLLOW) == 0)
                break;
            if (errno != EEXIST) {
                e = errno;
                tmp[0] = 0;
                break;
            }
        }
    }
    close(fd);
    if (!e && renameat(dirfd, tmp, dirfd, name) < 0)
        e = errno;
    if (e && tmp[0])
        unlinkat(dirfd, tmp, 0);
    return -e;
}

int ocirun_proc_stat(int32_t pid, char *letter, uint64_t *start)
{
    char path[40], buf[1024];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    /* comm may hold spaces and parentheses: the fields start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    p += 2;
    *letter = *p;
    for (int field = 0; field < 19; field++) { /* from the state (field 3) to starttime (22) */
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno || end == p)
        return -1;
    *start = v;
    return 0;
}

int ocirun_store_status(int stored, int32_t pid, int has_start, uint64_t want_start, char letter, uint64_t start,
                        int fifo)
{
    if (stored == OCIRUN_ST_STOPPED)
        return OCIRUN_ST_STOPPED;
    int alive = pid > 0 && letter && letter != 'Z' && letter != 'X' && (!has_start || start == want_start);
    if (!alive)
        return OCIRUN_ST_STOPPED;
    if (stored == OCIRUN_ST_CREATING || stored == OCIRUN_ST_PAUSED)
        return stored;
    return fifo ? OCIRUN_ST_CREATED : OCIRUN_ST_RUNNING;
}
