/* Tests of the pure C parts of the core, with no container and no Python:
 * the path resolver of safepath.c on a temporary tree (both the openat2 path
 * and the by-hand fallback, which must give the same answers), the procfs
 * handle, and the error helpers of error.c.
 *
 * Built with the core's own warnings and run as root by tests/c/test_c_core.py
 * (so `hack/test` runs it); the tree goes under $TMPDIR (default /tmp):
 *     cc -Wall -Wextra -Werror -D_GNU_SOURCE -Iruntime/core tests/c/test_core.c \
 *        runtime/core/safepath.c runtime/core/error.c -o test_core && ./test_core
 * Prints one line per failed check and a summary; exits 1 if any check failed.
 *
 * The tree, under a fresh directory TOP (the "host" side of the rootfs):
 *     TOP/marker, TOP/secret                 files outside the rootfs
 *     TOP/root/                              the rootfs (rootfd)
 *         marker, etc/passwd, a/b/file       files inside
 *         abs -> /etc                        absolute symlinks mean the rootfs's /
 *         a/abs2 -> /etc
 *         a/abs_up -> /../../marker          `..` above / stays at /
 *         a/rel_up -> ../../../../marker
 *         a/b/up -> ../..
 *         escape -> ..                       the rootfs's parent is the rootfs
 *         peek -> ../secret                  the rootfs has no /secret
 *         loop1 -> loop2, loop2 -> loop1, self -> self
 *         procself -> /proc/self/root        no /proc in the rootfs: ENOENT, never the host's
 *         dangling -> /made/abs              ensure() creates the target inside
 *         dangling_up -> ../made_up
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int checks, failures;
static const char *mode = ""; /* "openat2" or "fallback": which resolver the checks ran on */

#define CHECK(cond, ...) check(!!(cond), __LINE__, #cond, __VA_ARGS__)

static void check(int ok, int line, const char *cond, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void check(int ok, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    checks++;
    if (ok)
        return;
    failures++;
    fprintf(stderr, "FAIL test_core.c:%d [%s] %s: ", line, mode, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static char top[256];
static int rootfd = -1;

static void die(const char *what)
{
    fprintf(stderr, "test_core: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void put_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
        die(p);
}

static void put_dir(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    if (mkdir(p, 0755) < 0)
        die(p);
}

static void put_link(const char *rel, const char *target)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    if (symlink(target, p) < 0)
        die(p);
}

static void make_tree(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(top, sizeof(top), "%s/ocirun-test-core.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (strlen(top) >= sizeof(top) - 1 || !mkdtemp(top))
        die("mkdtemp");
    put_file("marker", "outside");
    put_file("secret", "outside secret");
    put_dir("root");
    put_file("root/marker", "inside");
    put_dir("root/etc");
    put_file("root/etc/passwd", "root:x:0:0:inside:/root:/bin/sh\n");
    put_dir("root/a");
    put_dir("root/a/b");
    put_file("root/a/b/file", "deep");
    put_link("root/abs", "/etc");
    put_link("root/a/abs2", "/etc");
    put_link("root/a/abs_up", "/../../marker");
    put_link("root/a/rel_up", "../../../../marker");
    put_link("root/a/b/up", "../..");
    put_link("root/escape", "..");
    put_link("root/peek", "../secret");
    put_link("root/loop1", "loop2");
    put_link("root/loop2", "loop1");
    put_link("root/self", "self");
    put_link("root/procself", "/proc/self/root");
    put_link("root/dangling", "/made/abs");
    put_link("root/dangling_up", "../made_up");
    char p[512];
    snprintf(p, sizeof(p), "%s/root", top);
    rootfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        die(p);
}

static void remove_tree(const char *dir)
{
    char cmd[512];
    if (!strstr(dir, "/ocirun-test-core.") || strchr(dir, '\''))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_core: could not remove %s\n", dir);
}

/* The inode at TOP/rel, without following a last symlink. */
static int same_as(int fd, const char *rel)
{
    char p[512];
    struct stat a, b;
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    return fstatat(fd, "", &a, AT_EMPTY_PATH) == 0 && lstat(p, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int exists(const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    return lstat(p, &st) == 0;
}

/* `path` under the rootfs resolves to TOP/want. */
static void resolves_to(const char *path, int flags, const char *want)
{
    errno = 0;
    int fd = ocirun_open_in_root(rootfd, path, flags);
    CHECK(fd >= 0, "open `%s`: %s", path, strerror(errno));
    if (fd < 0)
        return;
    CHECK(same_as(fd, want), "`%s` resolved to something other than %s", path, want);
    close(fd);
}

/* `path` under the rootfs fails with `want_errno`. */
static void refused(const char *path, int flags, int want_errno)
{
    errno = 0;
    int fd = ocirun_open_in_root(rootfd, path, flags);
    int e = errno;
    CHECK(fd < 0, "`%s` resolved (to fd %d), want %s", path, fd, strerror(want_errno));
    if (fd >= 0) {
        close(fd);
        return;
    }
    CHECK(e == want_errno, "`%s`: got %s, want %s", path, strerror(e), strerror(want_errno));
}

static void test_resolver(void)
{
    /* plain paths, absolute or not */
    resolves_to("marker", O_PATH, "root/marker");
    resolves_to("/marker", O_PATH, "root/marker");
    resolves_to("/", O_PATH | O_DIRECTORY, "root");
    resolves_to("a/b/file", O_PATH, "root/a/b/file");
    resolves_to("a//b/./file", O_PATH, "root/a/b/file");
    /* `..` never climbs above the rootfs */
    resolves_to("..", O_PATH | O_DIRECTORY, "root");
    resolves_to("../marker", O_PATH, "root/marker");
    resolves_to("../../../../marker", O_PATH, "root/marker");
    resolves_to("/../marker", O_PATH, "root/marker");
    resolves_to("a/../../marker", O_PATH, "root/marker");
    resolves_to("a/b/../../../marker", O_PATH, "root/marker");
    resolves_to("a/b/./../b/file", O_PATH, "root/a/b/file");
    refused("a/b/file/..", O_PATH, ENOTDIR);
    /* absolute symlinks mean the rootfs's / */
    resolves_to("abs/passwd", O_PATH, "root/etc/passwd");
    resolves_to("a/abs2/passwd", O_PATH, "root/etc/passwd");
    resolves_to("a/abs_up", O_PATH, "root/marker");
    /* relative symlinks with `..`: clamped too */
    resolves_to("a/rel_up", O_PATH, "root/marker");
    resolves_to("a/b/up/marker", O_PATH, "root/marker");
    resolves_to("escape/marker", O_PATH, "root/marker");
    resolves_to("escape/escape/a/b/file", O_PATH, "root/a/b/file");
    refused("peek", O_PATH, ENOENT);
    refused("procself", O_PATH, ENOENT);
    /* loops */
    refused("loop1", O_PATH, ELOOP);
    refused("self/x", O_PATH, ELOOP);
    /* missing components, and a file used as a directory */
    refused("missing", O_PATH, ENOENT);
    refused("missing/marker", O_PATH, ENOENT);
    refused("a/missing/file", O_PATH, ENOENT);
    refused("dangling", O_PATH, ENOENT);
    refused("etc/passwd/x", O_PATH, ENOTDIR);
    refused("etc/passwd", O_PATH | O_DIRECTORY, ENOTDIR);
    refused("", O_PATH, ENOENT);
    /* O_NOFOLLOW: the last symlink itself, its target never */
    resolves_to("abs", O_PATH | O_NOFOLLOW, "root/abs");
    resolves_to("a/b/up", O_PATH | O_NOFOLLOW, "root/a/b/up");
    resolves_to("a/b/up", O_PATH, "root");
    /* a name too long for the kernel */
    char longname[PATH_MAX + 16];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    refused(longname, O_PATH, ENAMETOOLONG);
    /* a real open (not O_PATH) reads the rootfs's file */
    int fd = ocirun_open_in_root(rootfd, "abs/passwd", O_RDONLY);
    char buf[64] = {0};
    CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && strstr(buf, ":inside:"), "read `abs/passwd`: %s",
          fd < 0 ? strerror(errno) : buf);
    CHECK(fd < 0 || (fcntl(fd, F_GETFD) & FD_CLOEXEC), "`abs/passwd` is not close-on-exec");
    if (fd >= 0)
        close(fd);
}

static void test_ensure(void)
{
    struct ocirun_error err;
    memset(&err, 0, sizeof(err));

    /* a dangling symlink's target is created inside the rootfs, never outside */
    int fd = ocirun_ensure_in_root(rootfd, "dangling_up", 0, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0, "ensure `dangling_up`: %s", err.msg);
    CHECK(fd < 0 || same_as(fd, "root/made_up"), "ensure `dangling_up` made something else");
    CHECK(!exists("made_up"), "ensure `dangling_up` created TOP/made_up, outside the rootfs");
    if (fd >= 0)
        close(fd);
    fd = ocirun_ensure_in_root(rootfd, "dangling/sub", 1, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0, "ensure `dangling/sub`: %s", err.msg);
    CHECK(fd < 0 || same_as(fd, "root/made/abs/sub"), "ensure `dangling/sub` made something else");
    struct stat st;
    CHECK(fd < 0 || (fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISREG(st.st_mode)),
          "ensure `dangling/sub` (a file) did not make a regular file");
    if (fd >= 0)
        close(fd);
    /* missing parents through `..` */
    fd = ocirun_ensure_in_root(rootfd, "../../new/dir", 0, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0 && same_as(fd, "root/new/dir"), "ensure `../../new/dir`: %s", err.msg);
    CHECK(!exists("new"), "ensure `../../new/dir` created TOP/new, outside the rootfs");
    if (fd >= 0)
        close(fd);
    /* an existing one is only opened */
    fd = ocirun_ensure_in_root(rootfd, "a/b/file", 1, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0 && same_as(fd, "root/a/b/file"), "ensure `a/b/file`: %s", err.msg);
    if (fd >= 0)
        close(fd);

    /* failures fill err: the stage asked for, the errno, the path */
    memset(&err, 0, sizeof(err));
    fd = ocirun_ensure_in_root(rootfd, "loop1/x", 0, OCIRUN_STAGE_PATHS, &err);
    CHECK(fd == -1, "ensure `loop1/x` succeeded");
    CHECK(err.stage == OCIRUN_STAGE_PATHS && err.err_no == ELOOP && strstr(err.msg, "`loop1/x`"),
          "ensure `loop1/x`: stage %u errno %d msg `%s`", err.stage, err.err_no, err.msg);
    memset(&err, 0, sizeof(err));
    fd = ocirun_ensure_in_root(rootfd, "etc/passwd/x", 0, OCIRUN_STAGE_DEVICES, &err);
    CHECK(fd == -1 && err.stage == OCIRUN_STAGE_DEVICES && err.err_no == ENOTDIR && strstr(err.msg, "`etc/passwd/x`"),
          "ensure `etc/passwd/x`: fd %d stage %u errno %d msg `%s`", fd, err.stage, err.err_no, err.msg);
    memset(&err, 0, sizeof(err));
    fd = ocirun_ensure_in_root(rootfd, "new/..", 0, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0 || (err.stage == OCIRUN_STAGE_MOUNTS && err.msg[0]), "ensure `new/..`: no error filled");
    if (fd >= 0)
        close(fd);

    /* the parent of a path, and its last component */
    const char *base = NULL;
    memset(&err, 0, sizeof(err));
    fd = ocirun_open_parent_in_root(rootfd, "/a/b/file", &base, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0 && same_as(fd, "root/a/b") && base && !strcmp(base, "file"),
          "parent of `/a/b/file`: fd %d base `%s` msg `%s`", fd, base ? base : "(null)", err.msg);
    if (fd >= 0)
        close(fd);
    fd = ocirun_open_parent_in_root(rootfd, "../../a/b/up", &base, OCIRUN_STAGE_MOUNTS, &err);
    CHECK(fd >= 0 && same_as(fd, "root/a/b") && !strcmp(base, "up"), "parent of `../../a/b/up`: %s", err.msg);
    if (fd >= 0)
        close(fd);
}

/* The cleanup between the two modes: what test_ensure made. */
static void reset_made(void)
{
    const char *made[] = {"root/made_up", "root/made/abs/sub", "root/made/abs",
                          "root/made",    "root/new/dir",      "root/new"};
    for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", top, made[i]);
        if (remove(p) < 0 && errno != ENOENT)
            die(p);
    }
}

static void test_procfs(void)
{
    struct ocirun_error err;
    memset(&err, 0, sizeof(err));
    mode = "procfs";
    CHECK(ocirun_proc_open("self/status", O_RDONLY) == -1 && errno == EBADF, "proc_open before procfs_make");
    int rc = ocirun_procfs_make(3, 0, &err);
    CHECK(rc == 0, "procfs_make (run as root): %s: %s", err.msg, strerror(err.err_no));
    if (rc < 0)
        return;
    CHECK(ocirun_procfs_handle() >= 3, "procfs handle %d is below the floor", ocirun_procfs_handle());
    for (int fallback = 0; fallback < 2; fallback++) {
        ocirun_force_fallback_resolver(fallback);
        mode = fallback ? "procfs, fallback" : "procfs, openat2";
        int fd = ocirun_proc_open("self/status", O_RDONLY);
        char buf[16] = {0};
        CHECK(fd >= 0 && read(fd, buf, 5) == 5 && !strcmp(buf, "Name:"), "self/status: %s",
              fd < 0 ? strerror(errno) : buf);
        if (fd >= 0)
            close(fd);
        fd = ocirun_proc_open("sys/kernel/ostype", O_RDONLY);
        CHECK(fd >= 0, "sys/kernel/ostype: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        /* no symlink followed (`mounts` -> self/mounts; self/root is the host's /
         * here), no climbing out */
        const char *bad[] = {"mounts",         "net/dev", "self/root/etc/passwd", "self/cwd", "self/exe",
                             "self/../../etc", "../etc",  "self/fd/../../../etc"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            fd = ocirun_proc_open(bad[i], O_RDONLY);
            CHECK(fd < 0, "`%s` was opened beneath the procfs handle", bad[i]);
            if (fd >= 0)
                close(fd);
        }
    }
    ocirun_force_fallback_resolver(0);
}

static void test_errors(void)
{
    struct ocirun_error err;
    char big[1024];
    mode = "errors";

    memset(&err, 0x55, sizeof(err));
    int rc = ocirun_fail(&err, OCIRUN_STAGE_MOUNTS, EPERM, "mount `%s` on `%s`", "proc", "/proc");
    CHECK(rc == -1, "ocirun_fail returned %d", rc);
    CHECK(err.err_no == EPERM && err.stage == OCIRUN_STAGE_MOUNTS, "err_no %d stage %u", err.err_no, err.stage);
    CHECK(!strcmp(err.msg, "mount `proc` on `/proc`"), "msg `%.40s`", err.msg);

    /* a message longer than the struct holds is cut, and still a string */
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    memset(&err, 0x55, sizeof(err));
    ocirun_fail(&err, OCIRUN_STAGE_HOOKS, 0, "%s", big);
    CHECK(strlen(err.msg) == sizeof(err.msg) - 1, "a long message is %zu bytes", strnlen(err.msg, sizeof(err.msg)));
    CHECK(err.err_no == 0 && err.stage == OCIRUN_STAGE_HOOKS, "err_no %d stage %u", err.err_no, err.stage);

    char small[8];
    ocirun_fmt(small, sizeof(small), "%s-%d", "abcdef", 42);
    CHECK(!strcmp(small, "abcdef-"), "ocirun_fmt cut to `%s`", small);

    /* every stage has its own name; beyond the last one, "unknown stage" */
    CHECK(!strcmp(ocirun_stage_name(OCIRUN_STAGE_NONE), ""), "stage 0 is `%s`", ocirun_stage_name(0));
    CHECK(!strcmp(ocirun_stage_name(OCIRUN_STAGE_MOUNTS), "mounts"), "mounts is `%s`",
          ocirun_stage_name(OCIRUN_STAGE_MOUNTS));
    for (uint32_t s = 1; s <= OCIRUN_STAGE_SECCOMP; s++) {
        const char *name = ocirun_stage_name(s);
        CHECK(name[0] && strcmp(name, "unknown stage"), "stage %u has no name", s);
        for (uint32_t t = 1; t < s; t++)
            CHECK(strcmp(name, ocirun_stage_name(t)), "stages %u and %u are both `%s`", t, s, name);
    }
    CHECK(!strcmp(ocirun_stage_name(OCIRUN_STAGE_SECCOMP + 1), "unknown stage"), "stage past the last: `%s`",
          ocirun_stage_name(OCIRUN_STAGE_SECCOMP + 1));
    CHECK(!strcmp(ocirun_stage_name(UINT32_MAX), "unknown stage"), "stage UINT32_MAX: `%s`",
          ocirun_stage_name(UINT32_MAX));
}

int main(void)
{
    make_tree();
    for (int fallback = 0; fallback < 2; fallback++) {
        ocirun_force_fallback_resolver(fallback);
        mode = fallback ? "fallback" : "openat2";
        test_resolver();
        test_ensure();
        reset_made();
    }
    ocirun_force_fallback_resolver(0);
    test_procfs();
    test_errors();
    close(rootfd);
    remove_tree(top);
    printf("test_core: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
