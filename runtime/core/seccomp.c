/* Seccomp: compile in the parent with libseccomp, load in the child.
 *
 * Generating a filter allocates, parses tables and can fail in many ways, so
 * it happens in ocirun itself, before clone: ocirun_seccomp_compile() gets
 * rules that runtime/seccomp.py has already checked and resolved, asks
 * libseccomp for the program, and exports it into a memfd whose bytes are
 * copied out. The child is left with a single seccomp(2) call
 * (ocirun_seccomp_load) on memory it inherited.
 *
 * libseccomp is used only for generating: the filter is never loaded through
 * seccomp_load(), so its NNP/TSYNC/LOG/SSB attributes play no part; the
 * seccomp(2) flags travel next to the program (ocirun_plan.seccomp_flags).
 *
 * Also here: the kernel probes behind `ocirun features`, user-notification
 * helpers, and a test-only entry point that loads a program in a forked child.
 * Nothing here prints: errors are (errno, message) in struct ocirun_error.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "internal.h"
#include "ocirun.h"
#define OCIRUN_SECCOMP_PRIVATE
#include "seccomp.h"

#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif
#ifndef SECCOMP_GET_NOTIF_SIZES
#define SECCOMP_GET_NOTIF_SIZES 3
#endif

/* Every failure here is of the seccomp stage (error.c fills err). */
#define fail(err, err_no, ...) ocirun_fail(err, OCIRUN_STAGE_SECCOMP, err_no, __VA_ARGS__)

/* ---- compiling ---------------------------------------------------------- */

static int add_rule(scmp_filter_ctx ctx, const struct ocirun_seccomp_rule *r, struct ocirun_error *err)
{
    struct ocirun_lsc_cmp cmp[6];
    if (r->n_args > 6)
        return fail(err, EINVAL, "rule for `%s` (linux.seccomp.syscalls[%u]) has %u conditions, at most 6", r->name,
                    r->origin, r->n_args);
    for (uint32_t i = 0; i < r->n_args; i++) {
        cmp[i].arg = r->args[i].index;
        cmp[i].op = r->args[i].op;
        cmp[i].datum_a = r->args[i].value;
        cmp[i].datum_b = r->args[i].value_two;
    }
    /* seccomp_rule_add_array (not _exact): libseccomp rewrites the rule for
     * every architecture of the filter, multiplexed syscalls included. */
    int rc = seccomp_rule_add_array(ctx, r->action, r->nr, r->n_args, (const void *)cmp);
    if (rc < 0)
        return fail(err, -rc, "add the rule for `%s` (linux.seccomp.syscalls[%u])", r->name, r->origin);
    return 0;
}

static int64_t export_bpf(scmp_filter_ctx ctx, uint8_t *out, uint32_t cap, struct ocirun_error *err)
{
    int fd = memfd_create("ocirun-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return fail(err, errno, "memfd_create for the seccomp program");
    int64_t ret = -1;
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        fail(err, -rc, "seccomp_export_bpf");
        goto out;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        fail(err, errno, "lseek the seccomp program");
        goto out;
    }
    if (size == 0 || size % sizeof(struct sock_filter)) {
        fail(err, EINVAL, "libseccomp exported %lld bytes, not whole instructions", (long long)size);
        goto out;
    }
    if ((uint64_t)size / sizeof(struct sock_filter) > OCIRUN_SECCOMP_MAX_INSNS) {
        fail(err, E2BIG, "the filter has %lld instructions, the kernel takes at most %u",
             (long long)(size / (off_t)sizeof(struct sock_filter)), OCIRUN_SECCOMP_MAX_INSNS);
        goto out;
    }
    if ((uint64_t)size > cap) {
        fail(err, ENOBUFS, "the seccomp program is %lld bytes, the buffer %u", (long long)size, cap);
        goto out;
    }
    for (off_t done = 0; done < size;) {
        ssize_t n = pread(fd, out + done, (size_t)(size - done), done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(err, n < 0 ? errno : EIO, "read back the seccomp program");
            goto out;
        }
        done += n;
    }
    ret = size;
out:
    close(fd);
    return ret;
}

int64_t ocirun_seccomp_compile(const struct ocirun_seccomp_config *cfg, uint8_t *out, uint32_t cap,
                               struct ocirun_error *err)
{
    scmp_filter_ctx ctx = seccomp_init(cfg->default_action);
    if (!ctx)
        return fail(err, EINVAL, "seccomp_init with the default action %#x", cfg->default_action);
    int64_t ret = -1;
    /* no_new_privs is the child's business (process.noNewPrivileges). */
    int rc = seccomp_attr_set(ctx, OCIRUN_LSC_ATTR_CTL_NNP, 0);
    if (rc < 0) {
        fail(err, -rc, "seccomp_attr_set `SCMP_FLTATR_CTL_NNP`");
        goto out;
    }
    for (uint32_t i = 0; i < cfg->n_archs; i++) {
        rc = seccomp_arch_add(ctx, cfg->archs[i]);
        if (rc < 0 && rc != -EEXIST) { /* EEXIST: the native one, already there */
            fail(err, -rc, "add the architecture `%s`", cfg->arch_names[i]);
            goto out;
        }
    }
    for (uint32_t i = 0; i < cfg->n_rules; i++)
        if (add_rule(ctx, &cfg->rules[i], err) < 0)
            goto out;
    ret = export_bpf(ctx, out, cap, err);
out:
    seccomp_release(ctx);
    return ret;
}

int32_t ocirun_seccomp_syscall_nr(const char *name)
{
    return seccomp_syscall_resolve_name(name);
}

uint32_t ocirun_seccomp_arch(const char *name)
{
    return seccomp_arch_resolve_name(name);
}

uint32_t ocirun_seccomp_arch_native(void)
{
    return seccomp_arch_native();
}

uint32_t ocirun_seccomp_library(uint32_t *major, uint32_t *minor, uint32_t *micro)
{
    const struct ocirun_lsc_version *v = (const void *)seccomp_version();
    *major = v ? v->major : 0;
    *minor = v ? v->minor : 0;
    *micro = v ? v->micro : 0;
    return seccomp_api_get();
}

/* ---- kernel probes ------------------------------------------------------- */

int32_t ocirun_seccomp_action_avail(uint32_t action)
{
    if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0)
        return 1;
    return errno == EOPNOTSUPP ? 0 : -errno;
}

int32_t ocirun_seccomp_flags_avail(uint32_t flags)
{
    /* Flags are checked before the program is read: a NULL program fails
     * with EFAULT when the kernel knows the flags and EINVAL when it does not. */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, NULL) == 0)
        return -EPROTO; /* cannot happen: nothing was installed from NULL */
    if (errno == EFAULT)
        return 1;
    return errno == EINVAL ? 0 : -errno;
}

/* ---- loading (the child) ------------------------------------------------- */

int ocirun_seccomp_load(const uint8_t *bpf, uint32_t len, uint32_t flags, struct ocirun_error *err)
{
    if (!len || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > OCIRUN_SECCOMP_MAX_INSNS)
        return fail(err, EINVAL, "the seccomp program is %u bytes, not 1 to %u instructions", len,
                    OCIRUN_SECCOMP_MAX_INSNS);
    struct sock_fprog prog = {
        .len = (unsigned short)(len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)(uintptr_t)bpf,
    };
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r < 0)
        return fail(err, errno, "load the seccomp filter (%u instructions, flags %#x)", prog.len, flags);
    return (int)r;
}

/* ---- user notifications -------------------------------------------------- */

int32_t ocirun_seccomp_notify_receive(int32_t fd, struct ocirun_seccomp_notification *out)
{
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -errno;
    if (sizes.seccomp_notif != sizeof(struct seccomp_notif))
        return -EPROTO; /* the kernel's struct is not the one we were built with */
    struct seccomp_notif n;
    memset(&n, 0, sizeof(n)); /* the kernel insists on a zeroed buffer */
    while (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) {
        if (errno != EINTR)
            return -errno;
        memset(&n, 0, sizeof(n));
    }
    out->id = n.id;
    out->pid = n.pid;
    out->nr = n.data.nr;
    out->arch = n.data.arch;
    out->instruction_pointer = n.data.instruction_pointer;
    for (int i = 0; i < 6; i++)
        out->args[i] = n.data.args[i];
    return 0;
}

int32_t ocirun_seccomp_notify_respond(int32_t fd, uint64_t id, int64_t val, int32_t err_no, uint32_t flags)
{
    struct seccomp_notif_resp r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.val = val;
    r.error = err_no ? -err_no : 0;
    r.flags = flags;
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r) < 0)
        return -errno;
    return 0;
}

/* ---- test only: a forked child under a filter ---------------------------- */

static struct ocirun_seccomp_trial *volatile trial_self;

static void trial_sigsys(int sig, siginfo_t *si, void *uctx)
{
    struct ocirun_seccomp_trial *t = trial_self;
    (void)sig;
    (void)uctx;
    t->n_traps++;
    t->trap_nr = si->si_syscall;
    t->trap_code = si->si_code;
    t->trap_errno = (uint32_t)si->si_errno;
}

static void trial_send_fd(int sock, int fd)
{
    char byte = 'L';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

static void __attribute__((noreturn)) trial_child(struct ocirun_seccomp_trial *t)
{
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore); /* a KILL or an unhandled TRAP dumps core */

    trial_self = t;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = trial_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSYS, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSYS);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    if (t->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        t->load_errno = errno;
        _exit(120);
    }
    struct ocirun_error err;
    int listener = ocirun_seccomp_load(t->bpf, t->bpf_len, t->flags, &err);
    if (listener < 0) {
        t->load_errno = err.err_no;
        _exit(121);
    }
    t->loaded = 1;
    if (listener > 0) {
        if (t->listener_sock >= 0)
            trial_send_fd(t->listener_sock, listener);
        close(listener); /* with no listener left, notified syscalls fail with ENOSYS */
    }
    uint32_t n = t->n_calls < 16 ? t->n_calls : 16;
    for (uint32_t i = 0; i < n; i++) {
        struct ocirun_seccomp_call *c = &t->calls[i];
        errno = 0;
        long r = syscall((long)c->nr, c->args[0], c->args[1], c->args[2], c->args[3], c->args[4], c->args[5]);
        c->err_no = r == -1 ? errno : 0;
        c->ret = r;
        c->done = 1;
    }
    _exit(0);
}

int32_t ocirun_seccomp_trial_start(struct ocirun_seccomp_trial *t, struct ocirun_error *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return fail(err, errno, "fork the seccomp trial");
    if (pid == 0)
        trial_child(t);
    return pid;
}
