/* Seccomp: the filter is compiled in the parent, the child only loads it.
 *
 * runtime/seccomp.py turns linux.seccomp into a `struct ocirun_seccomp_config`
 * (every name checked, every action and operator already a libseccomp
 * number, every syscall name already resolved) and calls
 * ocirun_seccomp_compile(), which builds the filter with libseccomp and
 * exports it as classic BPF: an array of 8-byte `struct sock_filter`. Those
 * bytes go into the plan (seccomp_bpf, seccomp_bpf_len, seccomp_flags) and the
 * child hands them to ocirun_seccomp_load() just before execve.
 *
 * The numbers below are libseccomp's and the kernel's ABI: they never change
 * between releases, so the core does not need libseccomp's header to build
 * (tests/unit/test_seccomp.py checks them against <seccomp.h> when present).
 */
#ifndef OCIRUN_SECCOMP_H
#define OCIRUN_SECCOMP_H

#include <stdint.h>

/* CDEF-BEGIN */
/* Actions (SCMP_ACT_*, equal to the kernel's SECCOMP_RET_*). ERRNO and TRACE
 * carry 16 bits of data: the errno or the ptrace event message. */
static const uint32_t OCIRUN_SCMP_ACT_KILL_PROCESS = 0x80000000;
static const uint32_t OCIRUN_SCMP_ACT_KILL_THREAD = 0x00000000;
static const uint32_t OCIRUN_SCMP_ACT_TRAP = 0x00030000;
static const uint32_t OCIRUN_SCMP_ACT_ERRNO = 0x00050000;
static const uint32_t OCIRUN_SCMP_ACT_NOTIFY = 0x7fc00000;
static const uint32_t OCIRUN_SCMP_ACT_TRACE = 0x7ff00000;
static const uint32_t OCIRUN_SCMP_ACT_LOG = 0x7ffc0000;
static const uint32_t OCIRUN_SCMP_ACT_ALLOW = 0x7fff0000;

/* Argument comparisons (enum scmp_compare). MASKED_EQ: (arg & value) == value_two. */
enum ocirun_scmp_cmp {
    OCIRUN_SCMP_CMP_NE = 1,
    OCIRUN_SCMP_CMP_LT = 2,
    OCIRUN_SCMP_CMP_LE = 3,
    OCIRUN_SCMP_CMP_EQ = 4,
    OCIRUN_SCMP_CMP_GE = 5,
    OCIRUN_SCMP_CMP_GT = 6,
    OCIRUN_SCMP_CMP_MASKED_EQ = 7
};

/* seccomp(2) flags (SECCOMP_FILTER_FLAG_*), for ocirun_plan.seccomp_flags. */
static const uint32_t OCIRUN_SECCOMP_FLAG_TSYNC = 1;
static const uint32_t OCIRUN_SECCOMP_FLAG_LOG = 2;
static const uint32_t OCIRUN_SECCOMP_FLAG_SPEC_ALLOW = 4;
static const uint32_t OCIRUN_SECCOMP_FLAG_NEW_LISTENER = 8;
static const uint32_t OCIRUN_SECCOMP_FLAG_TSYNC_ESRCH = 16;
static const uint32_t OCIRUN_SECCOMP_FLAG_WAIT_KILLABLE_RECV = 32;

/* The kernel takes at most this many instructions per filter (BPF_MAXINSNS). */
static const uint32_t OCIRUN_SECCOMP_MAX_INSNS = 4096;

/* One condition on a syscall argument. */
struct ocirun_seccomp_arg {
    uint32_t index; /* 0..5 */
    uint32_t op;    /* enum ocirun_scmp_cmp */
    uint64_t value;
    uint64_t value_two; /* only MASKED_EQ uses it */
};

/* One libseccomp rule: `nr` gets `action` when all its conditions hold. */
struct ocirun_seccomp_rule {
    const char *name; /* the syscall's name, for messages */
    int32_t nr;       /* from ocirun_seccomp_syscall_nr(): may be a libseccomp pseudo number */
    uint32_t action;  /* OCIRUN_SCMP_ACT_*, with its data */
    uint32_t origin;  /* index in linux.seccomp.syscalls, for messages */
    uint32_t n_args;
    const struct ocirun_seccomp_arg *args; /* ANDed; at most one per index */
};

struct ocirun_seccomp_config {
    uint32_t default_action;
    uint32_t n_archs;
    const uint32_t *archs;         /* from ocirun_seccomp_arch(); the native one is always there */
    const char *const *arch_names; /* as config.json spells them, for messages */
    uint32_t n_rules;
    const struct ocirun_seccomp_rule *rules;
};

/* Builds the filter and writes its BPF into out (cap bytes; 8 * OCIRUN_SECCOMP_MAX_INSNS
 * is always enough). Returns the number of bytes, or -1 with err filled. */
int64_t ocirun_seccomp_compile(const struct ocirun_seccomp_config *cfg, uint8_t *out, uint32_t cap,
                               struct ocirun_error *err);

/* The native syscall number of `name`, a libseccomp pseudo number (<= -10000) for
 * a syscall other architectures have, or -1 when libseccomp does not know it. */
int32_t ocirun_seccomp_syscall_nr(const char *name);
/* The arch token of a libseccomp arch name ("x86_64", "aarch64"), 0 if unknown. */
uint32_t ocirun_seccomp_arch(const char *name);
uint32_t ocirun_seccomp_arch_native(void);
/* The linked libseccomp's version; returns its API level. */
uint32_t ocirun_seccomp_library(uint32_t *major, uint32_t *minor, uint32_t *micro);

/* Kernel probes: 1 if the kernel accepts the action (SECCOMP_GET_ACTION_AVAIL)
 * or the SECCOMP_SET_MODE_FILTER flags, 0 if not; -errno when the probe
 * itself failed. No filter is ever installed. */
int32_t ocirun_seccomp_action_avail(uint32_t action);
int32_t ocirun_seccomp_flags_avail(uint32_t flags);

/* User notifications (SCMP_ACT_NOTIFY), on a listener fd. Return 0 or -errno. */
struct ocirun_seccomp_notification {
    uint64_t id;
    uint32_t pid;
    int32_t nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
};
int32_t ocirun_seccomp_notify_receive(int32_t fd, struct ocirun_seccomp_notification *out);
/* Answer notification `id`: the syscall returns `val`, or fails with `err_no` if it is
 * not 0; flags 1 (SECCOMP_USER_NOTIF_FLAG_CONTINUE) lets the syscall run instead. */
int32_t ocirun_seccomp_notify_respond(int32_t fd, uint64_t id, int64_t val, int32_t err_no, uint32_t flags);

/* ---- test only: load a filter in a forked child and make syscalls under it ----
 * The trial lives in MAP_SHARED memory so the child's results reach the caller
 * without any syscall (the filter may forbid them all). The child runs only C:
 * RLIMIT_CORE 0, a SIGSYS handler that counts traps, no_new_privs if asked,
 * the load, the listener fd sent over listener_sock (SCM_RIGHTS) if asked,
 * then each call in order, then _exit(0). The caller reaps the pid. */
struct ocirun_seccomp_call {
    int64_t nr;
    uint64_t args[6];
    int64_t ret;    /* out */
    int32_t err_no; /* out: errno when ret == -1, else 0 */
    uint32_t done;  /* out: 1 once the call returned */
};

struct ocirun_seccomp_trial {
    const uint8_t *bpf;
    uint32_t bpf_len;
    uint32_t flags;
    uint32_t no_new_privs;
    int32_t listener_sock; /* >= 0: send the listener fd over this socket */
    uint32_t n_calls;
    struct ocirun_seccomp_call calls[16];
    /* written by the child */
    uint32_t loaded;
    int32_t load_errno;
    uint32_t n_traps;
    int32_t trap_nr;     /* si_syscall of the last SIGSYS */
    int32_t trap_code;   /* si_code of the last SIGSYS (1: SYS_SECCOMP) */
    uint32_t trap_errno; /* si_errno of the last SIGSYS: the TRAP action's data */
};

/* Forks the trial's child; returns its pid, or -1 with err filled. */
int32_t ocirun_seccomp_trial_start(struct ocirun_seccomp_trial *t, struct ocirun_error *err);
/* CDEF-END */

/* For the child (spawn.c / process.c): install the prepared filter with
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Returns the listener fd when
 * flags has SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0; -1 with err filled
 * (stage OCIRUN_STAGE_SECCOMP). Async-signal-safe: one syscall, no allocation. */
int ocirun_seccomp_load(const uint8_t *bpf, uint32_t len, uint32_t flags, struct ocirun_error *err);

#ifdef OCIRUN_SECCOMP_PRIVATE
/* The part of libseccomp's ABI that seccomp.c uses, declared here so that the
 * core builds against libseccomp.so.2 alone (no libseccomp-dev). Values and
 * layouts are those of seccomp.h, stable since libseccomp 2.0. */
#define OCIRUN_LSC_NR_ERROR (-1) /* __NR_SCMP_ERROR */
enum {
    OCIRUN_LSC_ATTR_ACT_BADARCH = 2, /* SCMP_FLTATR_ACT_BADARCH */
    OCIRUN_LSC_ATTR_CTL_NNP = 3,     /* SCMP_FLTATR_CTL_NNP */
};
struct ocirun_lsc_cmp { /* struct scmp_arg_cmp */
    unsigned int arg;
    unsigned int op;
    uint64_t datum_a;
    uint64_t datum_b;
};
struct ocirun_lsc_version {
    unsigned int major, minor, micro;
}; /* struct scmp_version */

#ifndef _SECCOMP_H /* the real header, when a check includes it first */
typedef void *scmp_filter_ctx;
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                           const struct ocirun_lsc_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
const struct ocirun_lsc_version *seccomp_version(void);
unsigned int seccomp_api_get(void);
#endif
#endif /* OCIRUN_SECCOMP_PRIVATE */

#endif
