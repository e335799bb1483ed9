/* checker: the process that runs inside conformance containers.
 *
 * The suite compiles this file with `gcc -static` at run time and copies the
 * binary into the test rootfs as /checker (and next to the bundles, for the
 * hooks).  It has no dependencies, so the same binary works as the container
 * process, as a hook, and on the host.
 *
 * usage: checker STEP [ARGS...] [--and STEP [ARGS...]]...
 *   facts PATH [PROBES...]   write everything observable about this process
 *                            to PATH as one JSON object (tmp file + rename)
 *   touch PATH               create PATH (used to prove the process ran)
 *   sleep SECONDS            sleep (fractions allowed)
 *   wait-signal PATH         block until one of HUP INT USR1 USR2 TERM
 *                            arrives, write its number to PATH, exit 0
 *   hook NAME LOG [fail|sleep=N]...
 *                            append one JSON line describing this call (the
 *                            state read from stdin, namespaces, argv, env)
 *                            to LOG, then exit 1 with `fail`
 *   exit CODE                exit with CODE
 *
 * probes for `facts`:
 *   --stat PATH   lstat (and stat) PATH       --read PATH    read up to 4 KiB
 *   --write PATH  open PATH O_WRONLY          --create PATH  O_CREAT|O_EXCL, then unlink
 *   --ls PATH     list a directory            --syscall NAME call a probe syscall
 *   --mknod-open PATH c|b MAJOR MINOR          mknod PATH, then open it
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static char **g_argv; /* the whole argv, for hooks: args[0] is theirs to choose */

/* ---- a tiny JSON writer on a FILE ------------------------------------ */

static FILE *out;
static int need_comma;

static void jstr_n(const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void jstr(const char *s)
{
    jstr_n(s, strlen(s));
}

static void sep(void)
{
    if (need_comma)
        fputc(',', out);
    need_comma = 1;
}

static void key(const char *k)
{
    sep();
    jstr(k);
    fputc(':', out);
    need_comma = 0;
}

static void open_obj(void)
{
    sep();
    fputc('{', out);
    need_comma = 0;
}
static void close_obj(void)
{
    fputc('}', out);
    need_comma = 1;
}
static void open_arr(void)
{
    sep();
    fputc('[', out);
    need_comma = 0;
}
static void close_arr(void)
{
    fputc(']', out);
    need_comma = 1;
}
static void v_str(const char *s)
{
    sep();
    jstr(s);
}
static void v_int(long long v)
{
    sep();
    fprintf(out, "%lld", v);
}
static void v_null(void)
{
    sep();
    fputs("null", out);
}
static void kv_str(const char *k, const char *s)
{
    key(k);
    if (s)
        v_str(s);
    else
        v_null();
}
static void kv_int(const char *k, long long v)
{
    key(k);
    v_int(v);
}

/* read a whole small file; returns malloc'd NUL-terminated text or NULL */
static char *slurp(const char *path, size_t max, size_t *len, int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err)
            *err = errno;
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = 0;
    while (n < max) {
        ssize_t r = read(fd, buf + n, max - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (err)
                *err = errno;
            close(fd);
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    if (len)
        *len = n;
    if (err)
        *err = 0;
    return buf;
}

static void kv_file(const char *k, const char *path)
{
    size_t n = 0;
    char *s = slurp(path, 1 << 20, &n, NULL);
    key(k);
    if (s) {
        sep();
        jstr_n(s, n);
        free(s);
    } else
        v_null();
}

/* ---- facts ------------------------------------------------------------ */

static const struct {
    const char *name;
    int res;
} rlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static const char *namespaces[] = {
    "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts",
};

static void facts_status(void)
{
    /* the interesting lines of /proc/self/status, as strings */
    static const char *wanted[] = {
        "CapInh",  "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
        "Seccomp", "Umask",  "Uid",    "Gid",    "Groups", NULL,
    };
    char *s = slurp("/proc/self/status", 65536, NULL, NULL);
    key("status");
    open_obj();
    for (char *line = s ? strtok(s, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        for (int i = 0; wanted[i]; i++) {
            if (strcmp(line, wanted[i]) == 0) {
                char *v = colon + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                kv_str(line, v);
            }
        }
    }
    close_obj();
    free(s);
}

static const char *ftype(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFCHR: return "c";
    case S_IFBLK: return "b";
    case S_IFDIR: return "d";
    case S_IFREG: return "f";
    case S_IFLNK: return "l";
    case S_IFIFO: return "p";
    case S_IFSOCK: return "s";
    }
    return "?";
}

static void stat_obj(const struct stat *st)
{
    open_obj();
    kv_str("type", ftype(st->st_mode));
    kv_int("mode", st->st_mode & 07777);
    kv_int("uid", st->st_uid);
    kv_int("gid", st->st_gid);
    kv_int("major", major(st->st_rdev));
    kv_int("minor", minor(st->st_rdev));
    kv_int("dev", (long long)st->st_dev);
    kv_int("ino", (long long)st->st_ino);
    close_obj();
}

static void probe_stat(const char *path)
{
    struct stat st;
    key(path);
    open_obj();
    if (lstat(path, &st) < 0) {
        kv_int("errno", errno);
    } else {
        kv_int("errno", 0);
        key("lstat");
        stat_obj(&st);
        if (S_ISLNK(st.st_mode)) {
            char buf[PATH_MAX];
            ssize_t n = readlink(path, buf, sizeof buf - 1);
            buf[n < 0 ? 0 : n] = 0;
            kv_str("link", buf);
        }
        struct stat st2;
        key("stat");
        if (stat(path, &st2) == 0)
            stat_obj(&st2);
        else
            v_int(-errno);
    }
    close_obj();
}

static void probe_read(const char *path)
{
    size_t n = 0;
    int err = 0;
    char *s = slurp(path, 4096, &n, &err);
    key(path);
    open_obj();
    kv_int("errno", err);
    key("data");
    if (s) {
        sep();
        jstr_n(s, n);
        free(s);
    } else
        v_null();
    close_obj();
}

static void probe_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    key(path);
    open_obj();
    kv_int("errno", err);
    close_obj();
}

static void probe_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    key(path);
    open_obj();
    kv_int("errno", err);
    close_obj();
}

static void probe_ls(const char *path)
{
    DIR *d = opendir(path);
    key(path);
    open_obj();
    kv_int("errno", d ? 0 : errno);
    key("entries");
    open_arr();
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                v_str(e->d_name);
        closedir(d);
    }
    close_arr();
    close_obj();
}

static void probe_mknod_open(const char *path, const char *type, const char *maj, const char *min)
{
    mode_t m = (type[0] == 'b' ? S_IFBLK : S_IFCHR) | 0666;
    int mk = mknod(path, m, makedev(atoi(maj), atoi(min))) < 0 ? errno : 0;
    int op = 0;
    if (mk == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        op = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        unlink(path);
    }
    key(path);
    open_obj();
    kv_int("mknod_errno", mk);
    kv_int("open_errno", op);
    close_obj();
}

/* syscalls the seccomp checks deny; raw syscall(2) so no libc cache or vDSO hides them */
static void probe_syscall(const char *name)
{
    long r = -1;
    int err = ENOSYS;
    errno = 0;
    if (strcmp(name, "getsid") == 0)
        r = syscall(SYS_getsid, 0);
    else if (strcmp(name, "getpgid") == 0)
        r = syscall(SYS_getpgid, 0);
    else if (strcmp(name, "getppid") == 0)
        r = syscall(SYS_getppid);
    else
        errno = ENOSYS;
    err = r < 0 ? errno : 0;
    key(name);
    open_obj();
    kv_int("ret", r);
    kv_int("errno", err);
    close_obj();
}

static void facts_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int self = d ? dirfd(d) : -1;
    key("fds");
    open_obj();
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || atoi(e->d_name) == self)
                continue;
            char p[300], buf[PATH_MAX];
            snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
            ssize_t n = readlink(p, buf, sizeof buf - 1);
            buf[n < 0 ? 0 : n] = 0;
            kv_str(e->d_name, buf);
        }
        closedir(d);
    }
    close_obj();
}

static int do_facts(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "facts: PATH missing\n");
        return 2;
    }
    const char *path = argv[0];
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    out = fopen(tmp, "w");
    if (!out) {
        perror(tmp);
        return 2;
    }
    need_comma = 0;
    open_obj();

    kv_int("pid", getpid());
    kv_int("ppid", getppid());
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    key("uid");
    open_arr();
    v_int(ru);
    v_int(eu);
    v_int(su);
    close_arr();
    key("gid");
    open_arr();
    v_int(rg);
    v_int(eg);
    v_int(sg);
    close_arr();
    gid_t groups[256];
    int ng = getgroups(256, groups);
    key("groups");
    open_arr();
    for (int i = 0; i < ng; i++)
        v_int(groups[i]);
    close_arr();
    char cwd[PATH_MAX];
    kv_str("cwd", getcwd(cwd, sizeof cwd) ? cwd : NULL);
    key("env");
    open_arr();
    for (char **e = environ; e && *e; e++)
        v_str(*e);
    close_arr();
    facts_status();

    key("rlimits");
    open_obj();
    for (size_t i = 0; i < sizeof rlimits / sizeof rlimits[0]; i++) {
        struct rlimit rl;
        key(rlimits[i].name);
        if (getrlimit(rlimits[i].res, &rl) < 0) {
            v_null();
            continue;
        }
        open_arr();
        v_int(rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur);
        v_int(rl.rlim_max == RLIM_INFINITY ? -1 : (long long)rl.rlim_max);
        close_arr();
    }
    close_obj();

    struct utsname u;
    uname(&u);
    kv_str("hostname", u.nodename);
    kv_str("domainname", u.domainname);
    kv_int("personality", personality(0xffffffff));

    key("ns");
    open_obj();
    for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++) {
        char p[64], buf[128];
        snprintf(p, sizeof p, "/proc/self/ns/%s", namespaces[i]);
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        if (n < 0) {
            kv_str(namespaces[i], NULL);
            continue;
        }
        buf[n] = 0;
        kv_str(namespaces[i], buf);
    }
    close_obj();

    key("isatty");
    open_arr();
    for (int fd = 0; fd < 3; fd++)
        v_int(isatty(fd));
    close_arr();
    kv_str("ttyname0", isatty(0) ? ttyname(0) : NULL);
    struct stat st0;
    key("stdin_stat");
    if (fstat(0, &st0) == 0)
        stat_obj(&st0);
    else
        v_null();
    struct winsize ws;
    key("winsize");
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
        open_arr();
        v_int(ws.ws_row);
        v_int(ws.ws_col);
        close_arr();
    } else
        v_null();
    facts_fds();

    kv_file("mountinfo", "/proc/self/mountinfo");
    kv_file("oom_score_adj", "/proc/self/oom_score_adj");
    kv_file("uid_map", "/proc/self/uid_map");
    kv_file("gid_map", "/proc/self/gid_map");
    kv_file("setgroups", "/proc/self/setgroups");
    kv_file("cgroup", "/proc/self/cgroup");
    kv_file("timens_offsets", "/proc/self/timens_offsets");

    struct timespec mono, boot;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    kv_int("monotonic_s", mono.tv_sec);
    kv_int("boottime_s", boot.tv_sec);

    /* probes, grouped by kind */
    static const char *kinds[] = {"--stat", "--read", "--write", "--create", "--ls", "--syscall", "--mknod-open"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        key(kinds[k] + 2);
        open_obj();
        for (int i = 1; i < argc; i++) {
            int nargs = strcmp(argv[i], "--mknod-open") == 0 ? 4 : 1;
            if (strcmp(argv[i], kinds[k]) == 0 && i + nargs < argc) {
                if (k == 0)
                    probe_stat(argv[i + 1]);
                else if (k == 1)
                    probe_read(argv[i + 1]);
                else if (k == 2)
                    probe_write(argv[i + 1]);
                else if (k == 3)
                    probe_create(argv[i + 1]);
                else if (k == 4)
                    probe_ls(argv[i + 1]);
                else if (k == 5)
                    probe_syscall(argv[i + 1]);
                else
                    probe_mknod_open(argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4]);
            }
            if (argv[i][0] == '-' && argv[i][1] == '-')
                i += nargs;
        }
        close_obj();
    }

    close_obj();
    fputc('\n', out);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        perror(path);
        return 2;
    }
    return 0;
}

/* ---- the other steps -------------------------------------------------- */

static int do_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        return 2;
    }
    close(fd);
    return 0;
}

static int do_sleep(const char *secs)
{
    double s = atof(secs);
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

static int do_wait_signal(const char *path)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig = sigwaitinfo(&set, NULL);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 2;
    }
    fprintf(f, "%d\n", sig);
    fclose(f);
    return 0;
}

static int do_hook(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "hook: NAME LOG missing\n");
        return 2;
    }
    int fail = 0;
    double pause = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "fail") == 0)
            fail = 1;
        else if (strncmp(argv[i], "sleep=", 6) == 0)
            pause = atof(argv[i] + 6);
    }
    size_t n = 0;
    char *state = slurp("/dev/stdin", 1 << 20, &n, NULL);
    if (pause > 0) {
        char b[32];
        snprintf(b, sizeof b, "%f", pause);
        do_sleep(b);
    }
    char line[1 << 16];
    out = fmemopen(line, sizeof line, "w");
    need_comma = 0;
    open_obj();
    kv_str("hook", argv[0]);
    key("stdin");
    if (state) {
        sep();
        jstr_n(state, n);
    } else
        v_null();
    kv_int("pid", getpid());
    char cwd[PATH_MAX];
    kv_str("cwd", getcwd(cwd, sizeof cwd) ? cwd : NULL);
    key("ns");
    open_obj();
    static const char *hns[] = {"mnt", "pid", "net", "uts", "ipc"};
    for (size_t i = 0; i < sizeof hns / sizeof hns[0]; i++) {
        char p[64], buf[128];
        snprintf(p, sizeof p, "/proc/self/ns/%s", hns[i]);
        ssize_t r = readlink(p, buf, sizeof buf - 1);
        buf[r < 0 ? 0 : r] = 0;
        kv_str(hns[i], buf);
    }
    close_obj();
    struct stat st;
    kv_int("root_ino", stat("/", &st) == 0 ? (long long)st.st_ino : -1);
    key("argv");
    open_arr();
    for (char **a = g_argv; *a; a++)
        v_str(*a);
    close_arr();
    key("env");
    open_arr();
    for (char **e = environ; e && *e; e++)
        v_str(*e);
    close_arr();
    close_obj();
    fputc('\n', out);
    fclose(out);
    /* one write(2) with O_APPEND: lines from different hooks never interleave */
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 2;
    }
    if (write(fd, line, strlen(line)) < 0) {
        perror(argv[1]);
        return 2;
    }
    close(fd);
    free(state);
    return fail ? 1 : 0;
}

static int run_step(int argc, char **argv)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "facts") == 0)
        return do_facts(argc - 1, argv + 1);
    if (strcmp(cmd, "hook") == 0)
        return do_hook(argc - 1, argv + 1);
    if (strcmp(cmd, "touch") == 0 && argc == 2)
        return do_touch(argv[1]);
    if (strcmp(cmd, "sleep") == 0 && argc == 2)
        return do_sleep(argv[1]);
    if (strcmp(cmd, "wait-signal") == 0 && argc == 2)
        return do_wait_signal(argv[1]);
    if (strcmp(cmd, "exit") == 0 && argc == 2)
        exit(atoi(argv[1]));
    fprintf(stderr, "checker: bad step `%s`\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    int start = 1;
    g_argv = argv;
    if (argc < 2) {
        fprintf(stderr, "usage: checker STEP [ARGS...] [--and STEP ...]\n");
        return 2;
    }
    for (int i = 1; i <= argc; i++) {
        if (i == argc || strcmp(argv[i], "--and") == 0) {
            if (i > start) {
                char *saved = argv[i];
                argv[i] = NULL;
                int rc = run_step(i - start, argv + start);
                argv[i] = saved;
                if (rc != 0)
                    return rc;
            }
            start = i + 1;
        }
    }
    return 0;
}
