/* sectool: the container-side half of the security regression suite.
 * Compiled (static) at test time into each rootfs that needs it; never
 * committed as a binary. Every subcommand prints one fact per line for the
 * Python side to judge; it never decides pass/fail itself.
 *
 *   scan PID|match:TEXT ...  try to open for writing /proc/P/exe, every
 *                            /proc/P/map_files/ and /proc/P/fd/ entries of each
 *                            target (match: = every pid whose cmdline holds
 *                            TEXT, but not ourselves); print
 *                              W <path> <errno|0>     (0 = a writable fd: bad)
 *                              H <path> <dev>:<ino>   (an O_PATH handle we got)
 *                              D <path> <errno>       (directory not listable)
 *                              X <path> re-exec'd     (target exec'd meanwhile)
 *   exefd N LOADER_ERRNO [S] after fakeld: fd N is an O_PATH handle on what
 *                            /proc/self/exe was while the host binary ran;
 *                            with S, retry the write-open for S seconds
 *                            (ETXTBSY lasts only while someone executes it)
 *   reach STOP TEXT REL...   until the file STOP exists: for every pid whose
 *                            cmdline holds TEXT (not ourselves), every fd N
 *                            of it, try to open /proc/P/fd/N/REL (through
 *                            the fd, as if it were a directory handle);
 *                            print "P <pid>" once per pid seen and
 *                              R <path> <dev>:<ino> <first line>  (opened: bad)
 *   fds                      list /proc/self/fd: "F <fd> <target>"
 *   cwd                      "C <getcwd or errno> <dev>:<ino of .>"
 *   ids                      "U <uid> <euid>"
 *   swap A B STOPFILE        renameat2(RENAME_EXCHANGE) A<->B until STOPFILE exists
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WFLAGS (O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

static int cmdline_has(int pid, const char *text);

/* In match: mode, a success only counts if the target still matches after
 * the open: it may have exec'd a container binary in between (then it is no
 * runtime process any more, and "X" is printed instead). An exec never turns
 * a container process back into ocirun, so a match after the open means the
 * open reached the runtime process. */
static int still_ours(const char *path)
{
    extern const char *match_text;
    int pid = atoi(path + strlen("/proc/"));
    if (!match_text || pid <= 0 || cmdline_has(pid, match_text))
        return 1;
    printf("X %s re-exec'd\n", path);
    return 0;
}

static void try_write(const char *path)
{
    int fd = open(path, WFLAGS);
    if (fd >= 0) {
        /* never write a byte: opening is the proof */
        if (still_ours(path))
            printf("W %s 0\n", path);
        close(fd);
    } else {
        printf("W %s %d\n", path, errno);
    }
}

static void try_handle(const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && still_ours(path))
        printf("H %s %lu:%lu\n", path, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    if (fd >= 0)
        close(fd);
}

static void scan_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("D %s %d\n", dir, errno);
        return;
    }
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        try_handle(p);
        try_write(p);
    }
    closedir(d);
}

static void scan_pid(int pid)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/exe", pid);
    try_handle(p);
    try_write(p);
    snprintf(p, sizeof(p), "/proc/%d/map_files", pid);
    scan_dir(p);
    snprintf(p, sizeof(p), "/proc/%d/fd", pid);
    scan_dir(p);
}

static int cmdline_has(int pid, const char *text)
{
    char p[64], buf[4096];
    snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    buf[n] = 0;
    return strstr(buf, text) != NULL;
}

const char *match_text;

static int cmd_scan(int argc, char **argv)
{
    int self = getpid();
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "match:", 6)) {
            match_text = argv[i] + 6;
            DIR *d = opendir("/proc");
            struct dirent *e;
            while (d && (e = readdir(d))) {
                int pid = atoi(e->d_name);
                if (pid > 0 && pid != self && pid != getppid() && cmdline_has(pid, argv[i] + 6)) {
                    printf("P %d\n", pid);
                    scan_pid(pid);
                }
            }
            if (d)
                closedir(d);
        } else {
            match_text = NULL;
            printf("P %s\n", argv[i]);
            scan_pid(atoi(argv[i]));
        }
    }
    return 0;
}

static int cmd_exefd(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int fd = atoi(argv[0]);
    printf("L loader-open-wronly %s\n", argv[1]);
    struct stat st;
    if (fstat(fd, &st) == 0)
        printf("H exe-handle %lu:%lu\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    else
        printf("H exe-handle none %d\n", errno);
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    int tries = argc > 2 ? atoi(argv[2]) * 10 : 0;
    for (int i = 0; i < tries; i++) {
        int w = open(p, WFLAGS);
        if (w >= 0) {
            close(w); /* never write a byte */
            break;
        }
        usleep(100000);
    }
    try_write(p);
    return 0;
}

static int cmd_reach(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    static int seen[4096];
    int n_seen = 0, self = getpid();
    while (access(argv[0], F_OK) != 0) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == self || pid == getppid() || !cmdline_has(pid, argv[1]))
                continue;
            int known = 0;
            for (int i = 0; i < n_seen; i++)
                known |= seen[i] == pid;
            if (!known && n_seen < 4096) {
                seen[n_seen++] = pid;
                printf("P %d\n", pid);
            }
            char dir[64];
            snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
            DIR *f = opendir(dir);
            struct dirent *g;
            while (f && (g = readdir(f))) {
                if (g->d_name[0] == '.')
                    continue;
                for (int k = 2; k < argc; k++) {
                    char p[PATH_MAX], line[128];
                    struct stat st;
                    snprintf(p, sizeof(p), "%s/%s/%s", dir, g->d_name, argv[k]);
                    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                    if (fd < 0)
                        continue;
                    ssize_t r = read(fd, line, sizeof(line) - 1);
                    line[r > 0 ? r : 0] = 0;
                    line[strcspn(line, "\n")] = 0;
                    if (fstat(fd, &st) == 0)
                        printf("R %s %lu:%lu %s\n", p, (unsigned long)st.st_dev, (unsigned long)st.st_ino, line);
                    close(fd);
                }
            }
            if (f)
                closedir(f);
        }
        if (d)
            closedir(d);
    }
    return 0;
}

static int cmd_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("D /proc/self/fd %d\n", errno);
        return 1;
    }
    int me = dirfd(d);
    struct dirent *e;
    char p[300], t[PATH_MAX];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == me)
            continue;
        snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, t, sizeof(t) - 1);
        t[n > 0 ? n : 0] = 0;
        printf("F %s %s\n", e->d_name, t);
    }
    closedir(d);
    return 0;
}

static int cmd_cwd(void)
{
    char buf[PATH_MAX];
    struct stat st;
    if (!getcwd(buf, sizeof(buf)))
        snprintf(buf, sizeof(buf), "errno=%d", errno);
    if (stat(".", &st) < 0)
        memset(&st, 0, sizeof(st));
    printf("C %s %lu:%lu\n", buf, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    return 0;
}

static int cmd_swap(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    for (long i = 0; access(argv[2], F_OK) != 0; i++)
        syscall(SYS_renameat2, AT_FDCWD, argv[0], AT_FDCWD, argv[1], 2 /* RENAME_EXCHANGE */);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return 2;
    const char *c = argv[1];
    if (!strcmp(c, "scan"))
        return cmd_scan(argc - 2, argv + 2);
    if (!strcmp(c, "exefd"))
        return cmd_exefd(argc - 2, argv + 2);
    if (!strcmp(c, "reach"))
        return cmd_reach(argc - 2, argv + 2);
    if (!strcmp(c, "fds"))
        return cmd_fds();
    if (!strcmp(c, "cwd"))
        return cmd_cwd();
    if (!strcmp(c, "ids")) {
        printf("U %d %d\n", (int)getuid(), (int)geteuid());
        return 0;
    }
    if (!strcmp(c, "swap"))
        return cmd_swap(argc - 2, argv + 2);
    return 2;
}
