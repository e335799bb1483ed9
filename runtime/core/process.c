/* Process attributes of the init: keyring, oom score, rlimits, scheduling,
 * personality, LSM labels, user and groups, capabilities, no_new_privs,
 * seccomp.
 *
 * Order matters and is the kernel's:
 *   - bounding-set drops need CAP_SETPCAP: before changing uid;
 *   - PR_SET_KEEPCAPS keeps the permitted set across setresuid() to a
 *     non-zero uid, then capset() puts the wanted sets back exactly;
 *   - ambient capabilities can only be raised once they are permitted and
 *     inheritable, i.e. after capset();
 *   - a seccomp filter needs no_new_privs or CAP_SYS_ADMIN (see ocirun.h).
 *
 * The filter goes last (spawn.c loads it right before the exec, after every
 * check of ours: chdir, getcwd, the PATH lookup, the fd sweep, the hooks),
 * so a profile may deny anything the runtime itself uses. Without
 * no_new_privs the load needs CAP_SYS_ADMIN: when the plan's sets lack it,
 * capset() keeps it (effective and permitted, never inheritable or ambient)
 * until the filter is in, then one more capset() puts the plan's sets back
 * exactly; that capset is the one call of ours the profile must allow
 * besides execveat (exeseal.c). No capabilities object, a non-root user and
 * no no_new_privs is the one case where nothing can be kept: the filter is
 * then loaded before the uid changes, as the kernel leaves no other moment.
 */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "seccomp.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

struct ocirun_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

/* `path` is under /proc ("self/oom_score_adj"): reached through the verified
 * procfs handle, never the container's /proc (safepath.c); and still no fifo
 * to block on, no terminal taken, a regular file of a procfs. */
static int write_proc(const char *path, const char *data)
{
    int fd = ocirun_proc_open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !ocirun_is_procfs(fd)) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    size_t n = strlen(data);
    ssize_t w = write(fd, data, n);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)n ? 0 : -1;
}

/* Before the rootfs is set up (host /proc still visible, still root). */
int ocirun_early_process(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (p->session_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p->session_keyring, 0, 0, 0) < 0 &&
        errno != ENOSYS && errno != EPERM)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "create session keyring `%s`", p->session_keyring);
    if (p->set_oom_score_adj) {
        char v[16];
        snprintf(v, sizeof(v), "%d", p->oom_score_adj);
        if (write_proc("self/oom_score_adj", v) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set oomScoreAdj `%s`", v);
    }
    return 0;
}

#define CAP_SYS_ADMIN_BIT (1ULL << 21)

static int seccomp_loaded; /* ocirun_load_seccomp is idempotent */
static int admin_held;     /* CAP_SYS_ADMIN kept beyond the plan's sets for the load */

static int has_filter(const struct ocirun_plan *p)
{
    return p->seccomp_bpf && p->seccomp_bpf_len;
}

static int capset_sets(uint64_t eff, uint64_t perm, uint64_t inh)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    d[0].effective = (uint32_t)eff;
    d[1].effective = (uint32_t)(eff >> 32);
    d[0].permitted = (uint32_t)perm;
    d[1].permitted = (uint32_t)(perm >> 32);
    d[0].inheritable = (uint32_t)inh;
    d[1].inheritable = (uint32_t)(inh >> 32);
    return (int)syscall(SYS_capset, &h, d);
}

int ocirun_seccomp_needs_listener(const struct ocirun_plan *p)
{
    return p->seccomp_bpf && p->seccomp_bpf_len && (p->seccomp_flags & OCIRUN_SECCOMP_FLAG_NEW_LISTENER);
}

/* Loads the plan's filter. A filter with a listener (SCMP_ACT_NOTIFY) is only
 * ever loaded while the sync socket is open: its fd goes up in a SECCOMP_FD
 * record for the parent to hand to listenerPath, and the child keeps no copy
 * (sendmsg is never a NOTIFY target: runtime/seccomp.py refuses that). */
int ocirun_load_seccomp(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (!has_filter(p) || seccomp_loaded)
        return 0;
    int listener = ocirun_seccomp_load(p->seccomp_bpf, p->seccomp_bpf_len, p->seccomp_flags, err);
    if (listener < 0)
        return -1;
    seccomp_loaded = 1;
    if (admin_held) {
        /* the plan's sets, exactly: CAP_SYS_ADMIN was only kept for the load */
        if (capset_sets(p->cap_effective, p->cap_permitted, p->cap_inheritable) < 0) {
            int e = errno;
            if (listener > 0)
                close(listener);
            return ocirun_fail(err, OCIRUN_STAGE_SECCOMP, e,
                               "drop CAP_SYS_ADMIN kept for loading the seccomp filter (capset; the profile "
                               "must allow capset without noNewPrivileges)");
        }
        admin_held = 0;
    }
    if (!(p->seccomp_flags & OCIRUN_SECCOMP_FLAG_NEW_LISTENER))
        return 0;
    if (listener == 0)
        return ocirun_fail(err, OCIRUN_STAGE_SECCOMP, EPROTO, "the seccomp filter gave no listener fd");
    int rc = ocirun_sync_send(p->sync_fd, OCIRUN_MSG_SECCOMP_FD, 0, listener);
    int e = errno;
    close(listener);
    if (rc < 0)
        return ocirun_fail(err, OCIRUN_STAGE_SYNC, e, "send the seccomp listener fd");
    return 0;
}

static int set_caps(const struct ocirun_plan *p, struct ocirun_error *err)
{
    uint64_t keep = 0;
    if (has_filter(p) && !p->no_new_privileges && !(p->cap_effective & CAP_SYS_ADMIN_BIT)) {
        keep = CAP_SYS_ADMIN_BIT; /* until ocirun_load_seccomp */
        admin_held = 1;
    }
    if (capset_sets(p->cap_effective | keep, p->cap_permitted | keep, p->cap_inheritable) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set capabilities");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "clear ambient capabilities");
    for (uint32_t c = 0; c <= p->cap_last_cap && c < 64; c++)
        if ((p->cap_ambient >> c) & 1)
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "raise ambient capability %u", c);
    return 0;
}

static void home_from_passwd(const struct ocirun_plan *p);
static int set_memory_policy(const struct ocirun_plan *p, struct ocirun_error *err);

/* After pivot_root, as root of the container: everything up to the exec. */
int ocirun_set_process(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (p->home_env)
        home_from_passwd(p);
    if (set_memory_policy(p, err) < 0)
        return -1;
    for (uint32_t i = 0; i < p->n_rlimits; i++) {
        const struct ocirun_rlimit *r = &p->rlimits[i];
        struct rlimit rl = {.rlim_cur = r->soft, .rlim_max = r->hard};
        if (setrlimit((int)r->resource, &rl) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "setrlimit `%s` soft=%llu hard=%llu", r->name,
                               (unsigned long long)r->soft, (unsigned long long)r->hard);
    }
    if (p->set_personality && personality((unsigned long)p->personality) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set personality %#llx",
                           (unsigned long long)p->personality);
    if (p->set_scheduler) {
        struct ocirun_sched_attr a = {
            .size = sizeof(a),
            .sched_policy = p->sched_policy,
            .sched_flags = p->sched_flags,
            .sched_nice = p->sched_nice,
            .sched_priority = p->sched_priority,
            .sched_runtime = p->sched_runtime,
            .sched_deadline = p->sched_deadline,
            .sched_period = p->sched_period,
        };
        if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set scheduler policy %u", p->sched_policy);
    }
    if (p->set_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->ioprio) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set ioPriority %#x", p->ioprio);
    if (p->apparmor_profile) {
        char v[512];
        snprintf(v, sizeof(v), "exec %s", p->apparmor_profile);
        if (write_proc("self/attr/apparmor/exec", v) < 0 && write_proc("self/attr/exec", v) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set apparmor profile `%s`", p->apparmor_profile);
    }
    if (p->selinux_label && write_proc("self/attr/exec", p->selinux_label) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set selinux label `%s`", p->selinux_label);

    /* the one early load: nothing to keep CAP_SYS_ADMIN with (see the top) */
    if (has_filter(p) && !p->no_new_privileges && !p->set_caps && p->uid != 0 && ocirun_load_seccomp(p, err) < 0)
        return -1;

    if (p->set_caps) {
        for (uint32_t c = 0; c <= p->cap_last_cap && c < 64; c++)
            if (!((p->cap_bounding >> c) & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "drop capability %u from the bounding set", c);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set keepcaps");
    }
    if (setgroups(p->n_additional_gids, (const gid_t *)p->additional_gids) < 0 &&
        !(errno == EPERM && p->has_userns && p->n_additional_gids == 0))
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "setgroups (additionalGids)");
    if (setresgid(p->gid, p->gid, p->gid) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "setresgid %u", p->gid);
    if (setresuid(p->uid, p->uid, p->uid) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "setresuid %u", p->uid);
    if (p->set_caps) {
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "clear keepcaps");
        if (set_caps(p, err) < 0)
            return -1;
    }
    umask(p->umask >= 0 ? (mode_t)p->umask : 022);
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "set no_new_privs");
    return 0;
}

/* HOME for a process whose env has none: the home directory of its uid in the
 * container's /etc/passwd, "/" when the file or the user is missing (runc's
 * rule). Called after pivot_root (or the exec's setns), as root: the file is
 * opened in the container's root with the in-root resolver, so a symlink
 * cannot lead out of it, and only a regular file is read, at most 4 MiB. */
#define HOME_ROOM 4096
#define PASSWD_MAX (4u << 20)

static void home_from_passwd(const struct ocirun_plan *p)
{
    char *dst = p->home_env + 5; /* after "HOME=" */
    snprintf(dst, HOME_ROOM, "/");
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return;
    int fd = ocirun_open_in_root(root, "etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
    close(root);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    size_t size = st.st_size > PASSWD_MAX ? PASSWD_MAX : (size_t)st.st_size;
    char *buf = malloc(size + 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        return;
    buf[got] = 0;
    /* name:password:uid:gid:gecos:home:shell; the first line with our uid wins */
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *f[7] = {line};
        int nf = 1;
        for (char *c = line; *c && nf < 7; c++)
            if (*c == ':') {
                *c = 0;
                f[nf++] = c + 1;
            }
        if (nf < 6 || !*f[2])
            continue;
        char *end;
        errno = 0;
        unsigned long uid = strtoul(f[2], &end, 10);
        if (*end || errno || f[2][0] == '-' || uid != p->uid)
            continue;
        if (*f[5] && strlen(f[5]) < HOME_ROOM)
            snprintf(dst, HOME_ROOM, "%s", f[5]);
        break;
    }
    free(buf);
}

/* linux.memoryPolicy, for the init and what it execs (the policy is inherited
 * across fork and execve). */
static int set_memory_policy(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (!p->set_mempolicy)
        return 0;
    if (syscall(SYS_set_mempolicy, p->mempolicy_mode, p->mempolicy_maxnode ? p->mempolicy_nodes : NULL,
                (unsigned long)p->mempolicy_maxnode) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_PROCESS, errno, "linux.memoryPolicy: set_mempolicy");
    return 0;
}

int32_t ocirun_mempolicy_probe(int32_t mode)
{
    uint64_t all[16];
    memset(all, 0xff, sizeof(all));
    int base = mode & 0xff; /* MPOL_DEFAULT and MPOL_LOCAL take no nodes */
    int none = base == 0 || base == 4;
    long r = syscall(SYS_set_mempolicy, mode, none ? NULL : all, none ? 0UL : (unsigned long)(sizeof(all) * 8 + 1));
    int e = r < 0 ? errno : 0;
    syscall(SYS_set_mempolicy, 0, NULL, 0UL);
    return -e;
}
