/* The front door: `ocirun state|start|kill|delete` answered in C, without
 * an interpreter (engines call these on every container). launcher.c calls
 * ocirun_door() first; DOOR_DELEGATE hands the command, unchanged, to the
 * Python CLI.
 *
 * The rule: the door answers only what it answers exactly as the Python CLI
 * would (same output bytes, same error line, same exit code), with the same
 * primitives (store.c). Everything else is delegated, by a decision taken
 * before anything is changed: a flag or argument it does not know, --debug,
 * a non-root caller, a root that is not a plain absolute path, a record it
 * cannot read or that is not to be trusted, and, per command, a record that
 * asks for more than the door does (systemd-managed or unknown cgroups,
 * resctrl, poststart hooks, an sd_notify socket, a paused container,
 * `kill --all`, cgroups below the container's when delete has an init to
 * kill). The one handover after a change is `delete` finding its cgroup busy
 * (a process left in it) or its init not dying: the Python side then goes on
 * within what is left of the same bound (the launcher passes the deadline
 * on, and the Python CLI does not run the door again: __main__.DOOR_HANDED).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "door.h"
#include "hooks.h"
#include "json.h"
#include "store.h"

#define DEFAULT_ROOT "/run/ocirun"
#define LOCK_TIMEOUT_MS 10000  /* state.py LOCK_TIMEOUT */
#define FIFO_TIMEOUT_MS 10000  /* start: the init opens its end of exec.fifo */
#define REMOVE_TIMEOUT_MS 8000 /* cgroups/fs.py REMOVE_TIMEOUT: delete's killing and removing */
#define MAX_STATE (1 << 20)

struct door {
    int outfd, errfd; /* stdout and stderr: 1 and 2, or the Python CLI's memfds */
    const char *root;
    const char *log;
    int log_json;
    const char *id;
    int quiet; /* delete --force: an unreadable record is Python's, unsaid */
    int gone;  /* the directory opened was replaced while we waited for its lock */
    char dir[4200];
    int rootfd, dirfd, lockfd;
    char *text;  /* state.json */
    char *out;   /* what `state` prints */
    char *arena; /* the poststop hooks' decoded strings and lists */
    size_t arena_used, arena_size;
    size_t len;
    struct json *pool, *rec;
    int64_t pid;
    int has_start;
    uint64_t want_start;
    int stored;
};

/* ---------------------------------------------------------------- output */

static void rfc3339(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%09ldZ", ts.tv_nsec);
}

/* log.py's Logger.error/warning: the line on stderr, and in --log as text or JSON */
static void say(struct door *d, const char *level, const char *msg)
{
    char q[8 * 4600], now[64], line[sizeof(q) + 200];
    dprintf(d->errfd, "%s%s\n", strcmp(level, "warning") ? "" : "warning: ", msg);
    if (!d->log)
        return;
    rfc3339(now, sizeof(now));
    if (json_quote(msg, strlen(msg), q, sizeof(q)) < 0)
        return;
    if (d->log_json)
        snprintf(line, sizeof(line), "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"}\n", level, q, now);
    else
        snprintf(line, sizeof(line), "time=\"%s\" level=%s msg=%s\n", now, level, q);
    int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, strlen(line)) < 0) {
        dprintf(d->errfd, "cannot write log `%s`: %s\n", d->log, strerror(errno));
        d->log = NULL;
    }
    if (fd >= 0)
        close(fd);
}

static int fail(struct door *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct door *d, const char *fmt, ...)
{
    char msg[4600];
    va_list ap;
    if (d->quiet)
        return DOOR_DELEGATE;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    say(d, "error", msg);
    return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ----------------------------------------------------------- the record */

static int check_id(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > 1024)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || !strchr("_.+-", c)))
            return -1;
    }
    return 0;
}

static void release(struct door *d);

static const char *const STATUS[] = {"creating", "created", "running", "paused", "stopped"};

/* Open, (lock,) read and parse the record: 0; 1 having said the container
 * does not exist; DOOR_DELEGATE for anything else. */
static int load(struct door *d, int lock)
{
    char why[4400];
    d->rootfd = d->dirfd = d->lockfd = -1;
    snprintf(d->dir, sizeof(d->dir), "%s/%s", d->root, d->id);
    int fd = ocirun_store_open_root(d->root, 0, why, sizeof(why));
    if (fd == -ENOENT)
        return fail(d, "container does not exist");
    if (fd < 0)
        return DOOR_DELEGATE;
    d->rootfd = fd;
    fd = ocirun_store_open(d->rootfd, d->id, OCIRUN_KIND_DIR, 0, why, sizeof(why));
    if (fd == -ENOENT || fd == -ENOTDIR ||
        (fd == OCIRUN_STORE_REFUSED && (!strcmp(why, "a symlink") || !strcmp(why, "not a directory"))))
        return fail(d, "container does not exist");
    if (fd < 0)
        return DOOR_DELEGATE;
    d->dirfd = fd;
    if (lock) {
        fd = ocirun_store_lock(d->root, d->id, LOCK_TIMEOUT_MS, why, sizeof(why));
        if (fd == OCIRUN_STORE_TIMEOUT) {
            d->quiet = 0; /* the answer on either door, delete --force's too */
            return fail(d, "%s", why);
        }
        if (fd < 0)
            return DOOR_DELEGATE;
        d->lockfd = fd;
        struct stat here, now;
        if (fstat(d->dirfd, &here) < 0 || fstatat(d->rootfd, d->id, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
            here.st_dev != now.st_dev || here.st_ino != now.st_ino) {
            d->gone = 1;
            return fail(d, "container does not exist"); /* deleted (maybe made again) while we waited */
        }
    }
    fd = ocirun_store_open(d->dirfd, "state.json", OCIRUN_KIND_REG, 0, why, sizeof(why));
    if (fd == -ENOENT)
        return fail(d, "container does not exist"); /* a create killed before its first write */
    if (fd < 0)
        return DOOR_DELEGATE;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size > MAX_STATE || !(d->text = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return DOOR_DELEGATE;
    }
    ssize_t n;
    while ((n = read(fd, d->text + d->len, (size_t)st.st_size + 1 - d->len)) > 0)
        d->len += (size_t)n;
    close(fd);
    if (n < 0 || d->len > (size_t)st.st_size)
        return DOOR_DELEGATE;
    size_t nodes = d->len / 2 + 8;
    d->pool = malloc(nodes * sizeof(struct json));
    if (!d->pool || !(d->rec = json_parse(d->text, d->len, d->pool, nodes)) || d->rec->type != JSON_OBJECT)
        return DOOR_DELEGATE;
    /* pid: `data.get("pid") or 0`; init_start: an int, or absent/null */
    struct json *v = json_get(d->rec, "pid");
    if (v && v->type != JSON_NULL && (json_int(v, &d->pid) < 0 || d->pid < 0 || d->pid > 0x7fffffff))
        return DOOR_DELEGATE;
    v = json_get(d->rec, "init_start");
    int64_t s;
    if (v && v->type != JSON_NULL) {
        if (json_int(v, &s) < 0 || s < 0)
            return DOOR_DELEGATE;
        d->has_start = 1;
        d->want_start = (uint64_t)s;
    }
    char name[16];
    v = json_get(d->rec, "status");
    d->stored = OCIRUN_ST_CREATING;
    if (v) {
        if (json_string(v, name, sizeof(name)) < 0)
            return DOOR_DELEGATE;
        d->stored = -1;
        for (int i = 0; i < 5; i++)
            if (!strcmp(name, STATUS[i]))
                d->stored = i;
        if (d->stored < 0)
            return DOOR_DELEGATE;
    }
    return 0;
}

static int status(struct door *d)
{
    char letter = 0;
    uint64_t start = 0;
    if (d->stored != OCIRUN_ST_STOPPED && d->pid > 0 && ocirun_proc_stat((int32_t)d->pid, &letter, &start) < 0)
        letter = 0;
    int fifo = 0;
    if (d->stored == OCIRUN_ST_CREATED || d->stored == OCIRUN_ST_RUNNING) {
        struct stat st;
        fifo = fstatat(d->dirfd, "exec.fifo", &st, 0) == 0;
    }
    return ocirun_store_status(d->stored, (int32_t)d->pid, d->has_start, d->want_start, letter, start, fifo);
}

static int alive(struct door *d)
{
    char letter = 0;
    uint64_t start = 0;
    if (d->pid <= 0 || ocirun_proc_stat((int32_t)d->pid, &letter, &start) < 0)
        return 0;
    return letter != 'Z' && letter != 'X' && (!d->has_start || start == d->want_start);
}

/* sig to the recorded init through a pidfd, once that pidfd is known to be
 * it (its start time): never to a pid reused meanwhile. */
static void signal_init(struct door *d, int sig)
{
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)d->pid, 0);
    if (pidfd < 0)
        return;
    if (alive(d))
        syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
    close(pidfd);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int wait_gone(struct door *d, int64_t deadline)
{
    while (alive(d)) {
        if (now_ms() > deadline)
            return 0;
        nap_ms(2);
    }
    return 1;
}

/* The cgroup record's path below its hierarchy ("/ocirun/ID"), decoded into
 * out: 0; 1 when the record has no cgroup; -1 when it is not one the door knows. */
static int cgroup_rel(const struct json *cg, char *out, size_t n)
{
    char buf[32];
    if (!cg || cg->type == JSON_NULL || (cg->type == JSON_OBJECT && !cg->child))
        return 1;
    if (json_string(json_get(cg, "driver"), buf, sizeof(buf)) >= 0 && !strcmp(buf, "systemd"))
        return cgroup_rel(json_get(cg, "fs"), out, n);
    if (json_string(json_get(cg, "layout"), buf, sizeof(buf)) < 0)
        return -1;
    const struct json *g = cg;
    if (!strcmp(buf, "hybrid"))
        return cgroup_rel(json_get(cg, "v1"), out, n);
    if (!strcmp(buf, "v1")) {
        const struct json *gs = json_get(cg, "groups");
        if (!gs || gs->type != JSON_ARRAY || !gs->child)
            return -1;
        g = gs->child;
    } else if (strcmp(buf, "v2")) {
        return -1;
    }
    char dir[4096], mount[4096];
    long dl = json_string(json_get(g, "dir"), dir, sizeof(dir));
    long ml = json_string(json_get(g, "mount"), mount, sizeof(mount));
    if (dl < 0 || ml < 0)
        return -1;
    while (ml > 0 && mount[ml - 1] == '/')
        mount[--ml] = 0;
    if (dl <= ml || memcmp(dir, mount, (size_t)ml) || dir[ml] != '/' || (size_t)(dl - ml) >= n)
        return -1;
    memcpy(out, dir + ml, (size_t)(dl - ml) + 1);
    return 0;
}

/* ---------------------------------------------------------------- state */

/* A string member printed as json.dumps prints it: the raw token when the
 * file holds its canonical form; "" when absent. -1: delegate. */
static int put_string(char **o, char *end, const struct json *rec, const char *key)
{
    const struct json *v = json_get(rec, key);
    const char *raw = "\"\"";
    size_t len = 2;
    if (v) {
        if (!json_canonical_string(v))
            return -1;
        raw = v->raw;
        len = v->rawlen;
    }
    if ((size_t)(end - *o) < len + 64)
        return -1;
    *o += sprintf(*o, "  \"%s\": %.*s,\n", key, (int)len, raw);
    return 0;
}

static int cmd_state(struct door *d)
{
    int r = load(d, 0);
    if (r)
        return r;
    int st = status(d);
    size_t cap = d->len * 2 + 8192;
    char *out = d->out = malloc(cap), *o = out, *end = out + cap;
    if (!out)
        return DOOR_DELEGATE;
    o += sprintf(o, "{\n");
    if (put_string(&o, end, d->rec, "ociVersion") < 0)
        return DOOR_DELEGATE;
    o += sprintf(o, "  \"id\": \"%s\",\n  \"pid\": %lld,\n  \"status\": \"%s\",\n", d->id,
                 st == OCIRUN_ST_STOPPED ? 0LL : (long long)d->pid,
                 STATUS[st == OCIRUN_ST_CREATING ? OCIRUN_ST_CREATED : st]);
    if (put_string(&o, end, d->rec, "bundle") < 0 || put_string(&o, end, d->rec, "rootfs") < 0 ||
        put_string(&o, end, d->rec, "created") < 0 || put_string(&o, end, d->rec, "owner") < 0)
        return DOOR_DELEGATE;
    const struct json *a = json_get(d->rec, "annotations");
    if (a && !(a->type == JSON_NULL || a->type == JSON_FALSE || (a->type == JSON_OBJECT && !a->child))) {
        if (a->type != JSON_OBJECT)
            return DOOR_DELEGATE;
        o += sprintf(o, "  \"annotations\": {\n");
        for (const struct json *m = a->child; m; m = m->next) {
            struct json key = {.type = JSON_STRING, .raw = m->key - 1, .rawlen = m->keylen + 2};
            if (!json_canonical_string(&key) || !json_canonical_string(m) ||
                (size_t)(end - o) < m->keylen + m->rawlen + 64)
                return DOOR_DELEGATE;
            o += sprintf(o, "    \"%.*s\": %.*s%s\n", (int)m->keylen, m->key, (int)m->rawlen, m->raw,
                         m->next ? "," : "");
        }
        o += sprintf(o, "  },\n");
    }
    char rel[4096], q[8 * sizeof(rel)];
    r = cgroup_rel(json_get(d->rec, "cgroup"), rel, sizeof(rel));
    if (r < 0)
        return DOOR_DELEGATE;
    if (r == 0) {
        if (json_quote(rel, strlen(rel), q, sizeof(q)) < 0 || (size_t)(end - o) < strlen(q) + 64)
            return DOOR_DELEGATE;
        o += sprintf(o, "  \"cgroupsPath\": %s,\n", q);
    }
    o -= 2; /* the last member's ",\n" */
    o += sprintf(o, "\n}\n");
    return write_all(d->outfd, out, (size_t)(o - out)) < 0 ? 1 : 0;
}

/* ----------------------------------------------------------------- kill */

static const struct {
    const char *name;
    int sig;
} SIGNALS[] = {
    {"HUP", 1},    {"INT", 2},   {"QUIT", 3},    {"ILL", 4},   {"TRAP", 5},  {"ABRT", 6},    {"IOT", 6},
    {"BUS", 7},    {"FPE", 8},   {"KILL", 9},    {"USR1", 10}, {"SEGV", 11}, {"USR2", 12},   {"PIPE", 13},
    {"ALRM", 14},  {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17}, {"CONT", 18}, {"STOP", 19},   {"TSTP", 20},
    {"TTIN", 21},  {"TTOU", 22}, {"URG", 23},    {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27},
    {"WINCH", 28}, {"IO", 29},   {"POLL", 29},   {"PWR", 30},  {"SYS", 31},
};

static int digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* lifecycle.parse_signal for the plain spellings; -1: let Python judge (and word the error) */
static int parse_signal(const char *text)
{
    char u[32];
    size_t n = strlen(text);
    if (!n || n >= sizeof(u))
        return -1;
    if (digits(text))
        return n <= 2 && atoi(text) <= 64 ? atoi(text) : -1;
    for (size_t i = 0; i <= n; i++)
        u[i] = (text[i] >= 'a' && text[i] <= 'z') ? (char)(text[i] - 32) : text[i];
    const char *s = strncmp(u, "SIG", 3) ? u : u + 3;
    for (size_t i = 0; i < sizeof(SIGNALS) / sizeof(SIGNALS[0]); i++)
        if (!strcmp(s, SIGNALS[i].name))
            return SIGNALS[i].sig;
    int rtmin = !strncmp(s, "RTMIN", 5), rtmax = !strncmp(s, "RTMAX", 5);
    if (rtmin || rtmax) {
        const char *off = s + 5;
        int k = 0;
        if (*off) {
            if (*off != (rtmin ? '+' : '-') || !digits(off + 1) || strlen(off + 1) > 2)
                return -1;
            k = atoi(off + 1);
        }
        int sig = rtmin ? 34 + k : 64 - k;
        return sig >= 34 && sig <= 64 ? sig : -1;
    }
    return -1;
}

static int cmd_kill(struct door *d, const char *signame)
{
    int sig = signame ? parse_signal(signame) : 15;
    if (sig < 0)
        return DOOR_DELEGATE;
    int r = load(d, 0);
    if (r)
        return r;
    int st = status(d);
    if (st == OCIRUN_ST_STOPPED || st == OCIRUN_ST_CREATING)
        return fail(d, "container not running");
    if (sig == 0) /* as runc: 0 only asks whether the init is there, and it is */
        return 0;
    signal_init(d, sig);
    return 0;
}

/* ---------------------------------------------------------------- start */

static const char *errno_name(int e)
{
    if (e == EDEADLK)
        return "EDEADLOCK"; /* Python's errno.errorcode spells these two so */
    if (e == EOPNOTSUPP)
        return "ENOTSUP";
    const char *n = strerrorname_np(e);
    return n ? n : NULL;
}

/* The init's record "<errno>\n<stage>\n<message>" (core/spawn.c), worded as errors.CoreError */
static int start_error(struct door *d, const char *report)
{
    const char *nl1 = strchr(report, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    char num[16];
    size_t nl = nl1 ? (size_t)(nl1 - report) : 0;
    if (nl2 && nl && nl < sizeof(num)) {
        memcpy(num, report, nl);
        num[nl] = 0;
        if (digits(num[0] == '-' ? num + 1 : num)) {
            int e = atoi(num);
            const char *stage = nl1 + 1, *msg = nl2 + 1;
            int sl = (int)(nl2 - stage);
            char text[4096];
            if (e) {
                const char *name = errno_name(e);
                char unknown[16];
                if (!name) {
                    snprintf(unknown, sizeof(unknown), "E%d", e);
                    name = unknown;
                }
                snprintf(text, sizeof(text), "%s: %s (%s)", msg, name, strerror(e));
            } else {
                snprintf(text, sizeof(text), "%s", msg);
            }
            if (sl)
                return fail(d, "%.*s: %s", sl, stage, text);
            return fail(d, "%s", text);
        }
    }
    size_t n = strlen(report); /* .strip() */
    while (n && strchr(" \t\n\r\v\f", report[n - 1]))
        n--;
    while (n && strchr(" \t\n\r\v\f", *report))
        report++, n--;
    return fail(d, "the container's init failed to start: %.*s", (int)n, report);
}

/* state.json with "status" set to running: the record as json.dumps wrote
 * it, the one token replaced (what `data["status"] = RUNNING; save()` writes). */
static int save_running(struct door *d)
{
    const struct json *v = json_get(d->rec, "status");
    if (!v)
        return -EINVAL;
    size_t head = (size_t)(v->raw - d->text), tail = d->len - head - v->rawlen;
    char *buf = malloc(d->len + 16);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, d->text, head);
    memcpy(buf + head, "\"running\"", 9);
    memcpy(buf + head + 9, v->raw + v->rawlen, tail);
    int r = ocirun_store_write(d->dirfd, "state.json", buf, head + 9 + tail, 0);
    free(buf);
    return r;
}

static int truthy(const struct json *v)
{
    return v && v->type != JSON_NULL && v->type != JSON_FALSE && !(v->type == JSON_OBJECT && !v->child) &&
           !(v->type == JSON_ARRAY && !v->child) && !(v->type == JSON_STRING && v->rawlen == 2) &&
           !(v->type == JSON_NUMBER && v->rawlen == 1 && v->raw[0] == '0');
}

static int cmd_start(struct door *d)
{
    int r = load(d, 1);
    if (r)
        return r;
    /* what the door does not do: poststart hooks, the sd_notify forwarder */
    if (truthy(json_get(json_get(d->rec, "hooks"), "poststart")) || truthy(json_get(d->rec, "notify")))
        return DOOR_DELEGATE;
    if (json_get(d->rec, "hooks") && json_get(d->rec, "hooks")->type != JSON_OBJECT)
        return DOOR_DELEGATE;
    int st = status(d);
    if (st == OCIRUN_ST_STOPPED)
        return fail(d, "cannot start a container that has stopped");
    if (st != OCIRUN_ST_CREATED)
        return fail(d, "cannot start a container that is %s", st == OCIRUN_ST_RUNNING ? "already running" : STATUS[st]);
    char why[256];
    int fd = ocirun_store_open(d->dirfd, "exec.fifo", OCIRUN_KIND_FIFO, 1, why, sizeof(why));
    if (fd == -ENOENT)
        return fail(d, "cannot start an already running container");
    if (fd < 0)
        return DOOR_DELEGATE;
    /* The init opens its end at once; one that cannot must not hold `start` forever. */
    int64_t deadline = now_ms() + FIFO_TIMEOUT_MS;
    for (;;) {
        if (now_ms() > deadline) {
            close(fd);
            return fail(d, "start: the container's init (pid %lld) did not open the exec fifo within %g s",
                        (long long)d->pid, FIFO_TIMEOUT_MS / 1000.0);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, 100);
        char c;
        if (ready > 0 && read(fd, &c, 1) == 1)
            break;
        if (!alive(d)) {
            close(fd);
            return fail(d, "the container's init exited before start");
        }
        if (ready > 0)
            nap_ms(1); /* no writer yet: POLLHUP until the init opens */
    }
    unlinkat(d->dirfd, "exec.fifo", 0);
    r = save_running(d);
    if (r < 0 && close(fd) == 0)
        return fail(d, "%s: `%s`", strerror(-r), "state.json");
    /* The rest of the fifo: nothing once the init's write end closes at
     * execve; "E" (EXECUTING) first, then, on a failure, its record. */
    char report[8192];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, 100);
        if (ready == 0) {
            if (!alive(d))
                break;
            continue;
        }
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        ssize_t n = read(fd, report + got, sizeof(report) - 1 - got);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof(report) - 1)
            break;
    }
    close(fd);
    report[got] = 0;
    int executing = got > 0 && report[0] == 'E';
    const char *rest = executing ? report + 1 : report;
    if (*rest) {
        /* the init wrote why it could not exec and exited: stopped, `start` failed */
        signal_init(d, SIGKILL);
        wait_gone(d, now_ms() + 5000);
        return start_error(d, rest);
    }
    if (!executing) {
        if (alive(d))
            signal_init(d, SIGKILL);
        wait_gone(d, now_ms() + 5000);
        return fail(d, "the container's init died before its process executed");
    }
    return 0;
}

/* ---------------------------------------------------------- poststop */

static void *take(struct door *d, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (d->arena_used + n > d->arena_size)
        return NULL;
    void *p = d->arena + d->arena_used;
    d->arena_used += n;
    return p;
}

static char *decoded(struct door *d, const struct json *v)
{
    if (!v || v->type != JSON_STRING)
        return NULL;
    char *out = take(d, v->rawlen + 1);
    return out && json_string(v, out, v->rawlen + 1) >= 0 ? out : NULL;
}

/* A list of strings (NULL-terminated), or NULL; `first` when the list is absent or empty. */
static char **strings(struct door *d, const struct json *v, char *first)
{
    size_t n = 0;
    if (v && v->type != JSON_NULL && v->type != JSON_ARRAY)
        return NULL;
    for (const struct json *e = v ? v->child : NULL; e; e = e->next)
        n++;
    char **out = take(d, (n + 2) * sizeof(char *));
    if (!out)
        return NULL;
    size_t i = 0;
    if (!n && first)
        out[i++] = first;
    for (const struct json *e = v ? v->child : NULL; e; e = e->next)
        if (!(out[i++] = decoded(d, e)))
            return NULL;
    out[i] = NULL;
    return out;
}

/* The record's poststop hooks as hooks.py would run them; -1 for what the
 * door leaves to Python (a path without '/', env entries without '=' or
 * with a name twice, anything not of the shape create wrote). */
static int poststop_hooks(struct door *d, struct ocirun_hook **out, int *n)
{
    *n = 0;
    const struct json *hooks = json_get(d->rec, "hooks"), *list = json_get(hooks, "poststop");
    if (hooks && hooks->type != JSON_OBJECT && hooks->type != JSON_NULL)
        return -1;
    if (!truthy(list))
        return 0;
    if (list->type != JSON_ARRAY)
        return -1;
    d->arena_size = d->len * 3 + 4096;
    if (!(d->arena = malloc(d->arena_size)))
        return -1;
    int count = 0;
    for (const struct json *h = list->child; h; h = h->next)
        count++;
    struct ocirun_hook *hs = take(d, (size_t)count * sizeof(struct ocirun_hook));
    if (!hs)
        return -1;
    int i = 0;
    for (const struct json *h = list->child; h; h = h->next, i++) {
        struct ocirun_hook *k = &hs[i];
        char *path, **args, **env;
        /* a path longer than the core's error line holds: Python words it whole */
        if (h->type != JSON_OBJECT || !(path = decoded(d, json_get(h, "path"))) || !strchr(path, '/') ||
            strlen(path) > 256)
            return -1;
        const struct json *t = json_get(h, "timeout");
        if (!(args = strings(d, json_get(h, "args"), path)) || !(env = strings(d, json_get(h, "env"), NULL)))
            return -1;
        for (char **e = env; *e; e++) {
            char *eq = strchr(*e, '=');
            if (!eq)
                return -1;
            for (char **f = env; f < e; f++)
                if (!strncmp(*f, *e, (size_t)(eq - *e) + 1))
                    return -1;
        }
        int64_t timeout = 0;
        if (t && t->type != JSON_NULL && (json_int(t, &timeout) < 0 || timeout < 0 || timeout > 86400 * 365))
            return -1;
        k->path = path;
        k->argv = (const char *const *)args;
        k->envp = (const char *const *)env;
        k->timeout = (int32_t)timeout;
    }
    *out = hs;
    *n = count;
    return 0;
}

/* hooks.state_json(data, "stopped", 0): json.dumps of the hooks' state, -1 if the door cannot write it so */
static int hook_state(struct door *d, char *out, size_t cap)
{
    const char *keys[] = {"ociVersion", "id", "bundle"};
    const struct json *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = json_get(d->rec, keys[i]);
        if (v[i] && !json_canonical_string(v[i]))
            return -1;
    }
#define RAW(x) (x) ? (int)(x)->rawlen : 2, (x) ? (x)->raw : "\"\""
    int n =
        snprintf(out, cap, "{\"ociVersion\": %.*s, \"id\": %.*s, \"status\": \"stopped\", \"pid\": 0, \"bundle\": %.*s",
                 RAW(v[0]), RAW(v[1]), RAW(v[2]));
#undef RAW
    if (n < 0 || (size_t)n >= cap)
        return -1;
    size_t o = (size_t)n;
    const struct json *a = json_get(d->rec, "annotations");
    if (truthy(a)) {
        if (a->type != JSON_OBJECT)
            return -1;
        for (const struct json *m = a->child; m; m = m->next) {
            struct json key = {.type = JSON_STRING, .raw = m->key - 1, .rawlen = m->keylen + 2};
            if (!json_canonical_string(&key) || !json_canonical_string(m))
                return -1;
            n = snprintf(out + o, cap - o, "%s\"%.*s\": %.*s", m == a->child ? ", \"annotations\": {" : ", ",
                         (int)m->keylen, m->key, (int)m->rawlen, m->raw);
            if (n < 0 || (size_t)n >= cap - o)
                return -1;
            o += (size_t)n;
        }
        if (o + 2 >= cap)
            return -1;
        out[o++] = '}';
    }
    if (o + 2 >= cap)
        return -1;
    out[o++] = '}';
    out[o] = 0;
    return (int)o;
}

/* config.md: a failing poststop hook is a warning; the rest still run. Each
 * through the core's runner (hooks.c), the state on stdin from a sealed memfd. */
static void run_poststop(struct door *d, const struct ocirun_hook *hs, int n, const char *state, size_t len)
{
    char why[600];
    int fd = (int)syscall(SYS_memfd_create, "ocirun-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || write_all(fd, state, len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int e = errno;
        snprintf(why, sizeof(why), "poststop hooks: the state's memfd: %s (%s)", errno_name(e) ? errno_name(e) : "E?",
                 strerror(e));
        say(d, "warning", why);
        if (fd >= 0)
            close(fd);
        return;
    }
    for (int i = 0; i < n; i++) {
        struct ocirun_error err = {0};
        if (ocirun_run_hook(&hs[i], "poststop", fd, OCIRUN_HOOK_DIRECT, OCIRUN_HOOK_DEFAULT_TIMEOUT, &err) == 0)
            continue;
        const char *name = err.err_no ? errno_name(err.err_no) : NULL;
        if (err.err_no)
            snprintf(why, sizeof(why), "%s: %s (%s)", err.msg, name ? name : "E?", strerror(err.err_no));
        else
            snprintf(why, sizeof(why), "%s", err.msg);
        say(d, "warning", why);
    }
    close(fd);
}

/* --------------------------------------------------------------- delete */

static void remove_tree_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *dir = fdopendir(fd);
        if (dir) {
            struct dirent *e;
            while ((e = readdir(dir))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                if (e->d_type == DT_DIR)
                    remove_tree_at(fd, e->d_name);
                else if (unlinkat(fd, e->d_name, 0) < 0 && errno == EISDIR)
                    remove_tree_at(fd, e->d_name);
            }
            closedir(dir);
        } else {
            close(fd);
        }
    }
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* rmdir of the cgroups below d, then d: 0 (or gone); 1 busy; -1 anything else.
 * A container with a writable cgroup mount nests its own as deep as it
 * likes (relative mkdirs go past PATH_MAX): one directory fd at a time,
 * openat/unlinkat relative to it and ".." back up (a cgroup is only ever
 * renamed within its parent), the names on the heap. No recursion (a deep
 * tree crashed the door on its stack) and no absolute path below d. */
static int rmdir_cgroup(const char *d)
{
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char **names = NULL;
    size_t depth = 0, cap = 0;
    int r = 0, misses = 0;
    for (;;) {
        char sub[256] = "";
        int here = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = here >= 0 ? fdopendir(here) : NULL;
        if (!dir) {
            if (here >= 0)
                close(here);
            r = -1;
            break;
        }
        struct dirent *e;
        while ((e = readdir(dir)))
            if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(sub, sizeof(sub), "%s", e->d_name);
                break;
            }
        closedir(dir);
        if (sub[0]) { /* down into the first child */
            if (depth == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                char **more = realloc(names, ncap * sizeof(char *));
                if (!more) {
                    r = -1;
                    break;
                }
                names = more;
                cap = ncap;
            }
            int child = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0 && errno == ENOENT && ++misses < 1000)
                continue; /* gone meanwhile (listed still: bounded) */
            if (child < 0 || !(names[depth] = strdup(sub))) {
                if (child >= 0)
                    close(child);
                r = -1;
                break;
            }
            depth++;
            close(fd);
            fd = child;
            continue;
        }
        if (!depth)
            break; /* d is empty of cgroups */
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (up < 0) {
            r = -1;
            break;
        }
        close(fd);
        fd = up;
        char *name = names[--depth];
        if (unlinkat(fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            r = errno == EBUSY ? 1 : -1;
        free(name);
        if (r)
            break;
    }
    close(fd);
    while (depth)
        free(names[--depth]);
    free(names);
    if (r)
        return r;
    if (rmdir(d) == 0 || errno == ENOENT)
        return 0;
    return errno == EBUSY ? 1 : -1;
}

/* Group.destroy for one hierarchy: what this container made, leaf first. */
static int destroy_group(const struct json *g)
{
    char dir[4096], made[64][4096 / 16];
    if (json_string(json_get(g, "dir"), dir, sizeof(dir)) < 0)
        return -1;
    const struct json *m = json_get(g, "made");
    if (!m || m->type != JSON_ARRAY)
        return -1;
    int n = 0;
    for (const struct json *e = m->child; e; e = e->next) {
        if (n == 64 || json_string(e, made[n], sizeof(made[n])) < 0)
            return -1;
        n++;
    }
    for (int i = n - 1; i >= 0; i--) {
        if (!strcmp(made[i], dir)) {
            int r = rmdir_cgroup(dir);
            if (r)
                return r;
        } else if (rmdir(made[i]) < 0 && errno != ENOENT) {
            if (errno == EBUSY || errno == ENOTEMPTY)
                break; /* a parent that holds other containers' cgroups by now stays */
            return -1;
        }
    }
    return 0;
}

/* The record's cgroupfs hierarchies, each removed: 0; 1 busy or not one
 * the door knows (Python takes over) */
static int destroy_cgroup(const struct json *cg)
{
    char layout[16];
    if (!cg || cg->type == JSON_NULL || (cg->type == JSON_OBJECT && !cg->child))
        return 0;
    if (json_string(json_get(cg, "layout"), layout, sizeof(layout)) < 0)
        return 1;
    struct json *drv = json_get(cg, "driver");
    char driver[16] = "cgroupfs";
    if (drv && (json_string(drv, driver, sizeof(driver)) < 0 || strcmp(driver, "cgroupfs")))
        return 1; /* systemd: the unit is stopped over D-Bus (Python) */
    if (!strcmp(layout, "hybrid")) {
        int r = destroy_cgroup(json_get(cg, "v1"));
        return r ? r : destroy_cgroup(json_get(cg, "v2"));
    }
    if (!strcmp(layout, "v2"))
        return destroy_group(cg) ? 1 : 0;
    if (strcmp(layout, "v1"))
        return 1;
    const struct json *gs = json_get(cg, "groups");
    if (!gs || gs->type != JSON_ARRAY)
        return 1;
    for (const struct json *g = gs->child; g; g = g->next)
        if (destroy_group(g))
            return 1;
    return 0;
}

/* 1 when a cgroup of the record has a cgroup below it (one the container
 * made: it may be frozen, and hold the init's exit), or when the record is
 * not one the door reads; 0 when none has. */
static int nested_cgroups(const struct json *cg)
{
    char layout[16], dir[4096];
    if (!cg || cg->type == JSON_NULL || (cg->type == JSON_OBJECT && !cg->child))
        return 0;
    if (json_string(json_get(cg, "layout"), layout, sizeof(layout)) < 0)
        return 1;
    if (!strcmp(layout, "hybrid"))
        return nested_cgroups(json_get(cg, "v1")) || nested_cgroups(json_get(cg, "v2"));
    const struct json *gs = json_get(cg, "groups"), *one = strcmp(layout, "v2") ? NULL : cg;
    if (!one && (!gs || gs->type != JSON_ARRAY))
        return 1;
    for (const struct json *g = one ? one : gs->child; g; g = one ? NULL : g->next) {
        if (json_string(json_get(g, "dir"), dir, sizeof(dir)) < 0)
            return 1;
        DIR *d = opendir(dir);
        if (!d) {
            if (errno == ENOENT)
                continue;
            return 1;
        }
        struct dirent *e;
        int found = 0;
        while (!found && (e = readdir(d)))
            found = e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        closedir(d);
        if (found)
            return 1;
    }
    return 0;
}

/* 1 when the record's cgroups are the cgroupfs driver's (or there are none):
 * a systemd-managed container's unit is stopped over D-Bus, by Python. */
static int cgroupfs_record(const struct json *cg)
{
    char driver[16];
    const struct json *drv = json_get(cg, "driver");
    if (!cg || cg->type == JSON_NULL || !drv)
        return 1;
    return json_string(drv, driver, sizeof(driver)) >= 0 && !strcmp(driver, "cgroupfs");
}

/* delete's one handover after a change: the deadline goes along, so that
 * killing and removing stay within ONE REMOVE_TIMEOUT across both sides. */
static int64_t handover_deadline = -1;

int64_t ocirun_door_handover_deadline(void)
{
    return handover_deadline;
}

static int handover(int64_t deadline)
{
    handover_deadline = deadline;
    return DOOR_DELEGATE;
}

static int cmd_delete(struct door *d, int force)
{
    if (force) {
        struct stat here;
        snprintf(d->dir, sizeof(d->dir), "%s/%s", d->root, d->id);
        if (lstat(d->dir, &here) < 0 && errno == ENOENT)
            return 0; /* delete --force of nothing: done, silently (Python's answer) */
        d->quiet = 1; /* a missing or broken record: the recovery record's way (Python) */
        /* As `kill`, without the lock: a command holding it lets go once the init is dead. */
        struct door peek = *d;
        if (load(&peek, 0) || !cgroupfs_record(json_get(peek.rec, "cgroup"))) {
            release(&peek);
            return DOOR_DELEGATE;
        }
        int st = status(&peek);
        if (st == OCIRUN_ST_PAUSED) {
            release(&peek);
            return DOOR_DELEGATE;
        }
        if (st == OCIRUN_ST_CREATED || st == OCIRUN_ST_RUNNING)
            signal_init(&peek, SIGKILL);
        release(&peek);
    }
    int r = load(d, 1);
    if (r && d->gone && force)
        return 0; /* the container it came for is gone; one made again under its name stays */
    if (r)
        return r;
    /* what the door does not do: resctrl, cgroups it does not know, hooks it would not run as Python does */
    char rel[4096];
    struct ocirun_hook *hooks = NULL;
    int nhooks = 0;
    static char state[1 << 16];
    int statelen = 0;
    if (truthy(json_get(d->rec, "resctrl")) || !cgroupfs_record(json_get(d->rec, "cgroup")) ||
        cgroup_rel(json_get(d->rec, "cgroup"), rel, sizeof(rel)) < 0 || poststop_hooks(d, &hooks, &nhooks) < 0 ||
        (nhooks && (statelen = hook_state(d, state, sizeof(state))) < 0))
        return DOOR_DELEGATE;
    int64_t deadline = now_ms() + REMOVE_TIMEOUT_MS;
    int st = status(d);
    if ((st == OCIRUN_ST_RUNNING || st == OCIRUN_ST_PAUSED) && !force)
        return fail(d, "cannot delete container %s that is not stopped: %s", d->id, STATUS[st]);
    if (st == OCIRUN_ST_PAUSED)
        return DOOR_DELEGATE; /* thawed first: Python */
    if (st != OCIRUN_ST_STOPPED) {
        /* cgroups below the container's: Python thaws them before it kills
         * (a frozen one holds the init's exit), with the whole bound its own */
        if (nested_cgroups(json_get(d->rec, "cgroup")))
            return DOOR_DELEGATE;
        signal_init(d, SIGKILL); /* never a plain kill(pid): the pid may name another process by now */
        if (!wait_gone(d, deadline))
            return handover(deadline); /* Python says which pids are left, within what is left of the bound */
    }
    if (destroy_cgroup(json_get(d->rec, "cgroup")))
        return handover(deadline); /* busy: Python kills what is left and retries, within the same bound */
    if (nhooks)
        run_poststop(d, hooks, nhooks, state, (size_t)statelen);
    remove_tree_at(d->rootfd, d->id);
    ocirun_store_drop_lock(d->root, d->id);
    return 0;
}

/* ----------------------------------------------------------------- flags */

static const char *const GLOBAL_STR[] = {"root", "log", "log-format", "rootless", "cgroup-manager", "criu", NULL};
static const char *const GLOBAL_BOOL[] = {"systemd-cgroup", NULL};

static int in(const char *const *list, const char *name, size_t n)
{
    for (; *list; list++)
        if (strlen(*list) == n && !strncmp(*list, name, n))
            return 1;
    return 0;
}

/* A bool flag's `=value` as cli.parse reads it: 1 true, 0 false, -1 bad */
static int bool_value(const char *v)
{
    static const char *const T[] = {"true", "1", "t", "yes", NULL}, *const F[] = {"false", "0", "f", "no", NULL};
    if (strlen(v) > 8)
        return -1;
    char l[9];
    size_t i = 0;
    for (; v[i]; i++)
        l[i] = (v[i] >= 'A' && v[i] <= 'Z') ? (char)(v[i] + 32) : v[i];
    l[i] = 0;
    if (in(T, l, i))
        return 1;
    return in(F, l, i) ? 0 : -1;
}

static int normal_path(const char *p)
{
    if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
        return 0;
    size_t n = strlen(p);
    if (n > 4000 || (n > 1 && p[n - 1] == '/'))
        return 0;
    return !(n >= 2 && !strcmp(p + n - 2, "/.")) && !(n >= 3 && !strcmp(p + n - 3, "/.."));
}

/* What load() took: the Python CLI calls the door in its own process, and
 * must get back no fd (the id's lock least of all) and no memory. */
static void release(struct door *d)
{
    if (d->rootfd >= 0)
        close(d->rootfd);
    if (d->dirfd >= 0)
        close(d->dirfd);
    if (d->lockfd >= 0)
        close(d->lockfd);
    free(d->text);
    free(d->pool);
    free(d->out);
    free(d->arena);
    d->out = d->arena = NULL;
    d->rootfd = d->dirfd = d->lockfd = -1;
    d->text = NULL;
    d->pool = NULL;
    d->rec = NULL;
    d->len = 0;
}

static int door(struct door *d, int argc, char **argv);

int ocirun_door(int argc, char **argv, int outfd, int errfd)
{
    struct door d = {.outfd = outfd, .errfd = errfd, .root = DEFAULT_ROOT, .rootfd = -1, .dirfd = -1, .lockfd = -1};
    handover_deadline = -1;
    int rc = door(&d, argc, argv);
    release(&d);
    return rc;
}

static int door(struct door *dp, int argc, char **argv)
{
    struct door d = *dp;
    const char *fmt = "text";
    int root_given = 0;
    int i = 1;
    if (geteuid() != 0)
        return DOOR_DELEGATE; /* rootless: its own root and rules (Python) */
    /* global flags, up to the command (cli.parse, interspersed=False) */
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1])
            break;
        if (!strcmp(a, "--"))
            return DOOR_DELEGATE;
        while (*a == '-')
            a++;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (in(GLOBAL_BOOL, a, n)) {
            if (eq && bool_value(eq + 1) < 0)
                return DOOR_DELEGATE;
            continue;
        }
        if (!in(GLOBAL_STR, a, n))
            return DOOR_DELEGATE; /* --debug, --help, --version, or unknown: Python */
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v)
            return DOOR_DELEGATE;
        if (n == 4 && !strncmp(a, "root", 4)) {
            d.root = *v ? v : DEFAULT_ROOT;
            root_given = *v != 0;
        } else if (n == 3 && !strncmp(a, "log", 3))
            d.log = *v ? v : NULL;
        else if (n == 10 && !strncmp(a, "log-format", 10))
            fmt = v;
    }
    /* no --root and an XDG_RUNTIME_DIR: the default root may be a user's
     * (rootless.state_root, inside a user namespace): Python chooses it */
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (!root_given && xdg && *xdg)
        return DOOR_DELEGATE;
    if (i >= argc || !normal_path(d.root))
        return DOOR_DELEGATE;
    if (!strcmp(fmt, "json"))
        d.log_json = 1;
    else if (strcmp(fmt, "text"))
        return DOOR_DELEGATE;
    const char *cmd = argv[i++];
    int is_state = !strcmp(cmd, "state"), is_start = !strcmp(cmd, "start"), is_kill = !strcmp(cmd, "kill"),
        is_delete = !strcmp(cmd, "delete");
    if (!is_state && !is_start && !is_kill && !is_delete)
        return DOOR_DELEGATE;
    /* the command's flags, before or after its arguments */
    const char *pos[3];
    int npos = 0, force = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++) {
                if (npos == 3)
                    return DOOR_DELEGATE;
                pos[npos++] = argv[i];
            }
            break;
        }
        if (a[0] == '-' && a[1]) {
            while (*a == '-')
                a++;
            const char *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            int b = eq ? bool_value(eq + 1) : 1;
            if (is_delete && b >= 0 && ((n == 5 && !strncmp(a, "force", 5)) || (n == 1 && a[0] == 'f'))) {
                force = b;
                continue;
            }
            if (is_kill && b == 0 && ((n == 3 && !strncmp(a, "all", 3)) || (n == 1 && a[0] == 'a')))
                continue;         /* --all=false */
            return DOOR_DELEGATE; /* --all, --help, or unknown */
        }
        if (npos == 3)
            return DOOR_DELEGATE;
        pos[npos++] = a;
    }
    if (npos < 1 || npos > (is_kill ? 2 : 1) || check_id(pos[0]) < 0)
        return DOOR_DELEGATE; /* the usage and id errors are Python's to word */
    d.id = pos[0];
    *dp = d;
    if (is_state)
        return cmd_state(dp);
    if (is_kill)
        return cmd_kill(dp, npos > 1 ? pos[1] : NULL);
    if (is_start)
        return cmd_start(dp);
    return cmd_delete(dp, force);
}
