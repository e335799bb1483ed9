/* The whole boundary between Python and the C core.
 *
 * Python (runtime/plan.py) fills one `struct ocirun_plan` from the validated
 * config: every string encoded, every fd opened, every number converted. The
 * core never parses, never allocates and never calls back into Python: after
 * clone the child runs only the C in this directory and ends in execve() or
 * _exit().
 *
 * The part between the CDEF markers is fed verbatim to cffi's cdef(): fixed
 * width types only, no macros, no includes.
 */
#ifndef OCIRUN_H
#define OCIRUN_H

#include <stdint.h>

/* CDEF-BEGIN */
/* Bumped whenever this header changes; runtime/core.py refuses a stale .so. */
static const int32_t OCIRUN_CORE_VERSION = 11;

/* Where a failure happened; ocirun_stage_name() spells it for messages. */
enum ocirun_stage {
    OCIRUN_STAGE_NONE = 0,
    OCIRUN_STAGE_SPAWN = 1,      /* clone of the setup process                */
    OCIRUN_STAGE_SYNC = 2,       /* the socketpair protocol itself            */
    OCIRUN_STAGE_NAMESPACES = 3, /* setns / unshare / timens offsets          */
    OCIRUN_STAGE_USERNS = 4,     /* id maps                                   */
    OCIRUN_STAGE_ROOTFS = 5,     /* propagation, rootfs bind, pivot_root      */
    OCIRUN_STAGE_MOUNTS = 6,     /* config.json's mounts                      */
    OCIRUN_STAGE_DEVICES = 7,    /* /dev nodes and symlinks; the v2 device filter */
    OCIRUN_STAGE_PATHS = 8,      /* maskedPaths, readonlyPaths                */
    OCIRUN_STAGE_SYSCTL = 9,
    OCIRUN_STAGE_HOOKS = 10, /* createContainer / startContainer hooks    */
    OCIRUN_STAGE_TERMINAL = 11,
    OCIRUN_STAGE_PROCESS = 12, /* user, caps, rlimits, cwd ...              */
    OCIRUN_STAGE_EXEC = 13,    /* PATH lookup and execve                    */
    OCIRUN_STAGE_SECCOMP = 14
};

/* An error: errno, stage, and `<doing what> `<object>`` (no strerror: Python adds it). */
struct ocirun_error {
    int32_t err_no;
    uint32_t stage;
    char msg[480];
};

/* One record on the sync socketpair (SOCK_SEQPACKET: one record per send).
 * The protocol is drawn at the top of sync.c. */
enum ocirun_msg_type {
    OCIRUN_MSG_GO = 1,         /* parent -> setup: cgroup joined, go on; parent -> init: pid recorded, go on */
    OCIRUN_MSG_USERNS = 2,     /* setup -> parent: user ns unshared, write the id maps  */
    OCIRUN_MSG_MAPS_DONE = 3,  /* parent -> setup                                       */
    OCIRUN_MSG_INIT_PID = 4,   /* setup -> parent: `pid` is the init (host pid)         */
    OCIRUN_MSG_HOOKS = 5,      /* init -> parent: rootfs ready, run prestart/createRuntime */
    OCIRUN_MSG_HOOKS_DONE = 6, /* parent -> init; may carry the state memfd (SCM_RIGHTS) */
    OCIRUN_MSG_TERMINAL = 7,   /* init -> parent: carries the pty master (SCM_RIGHTS)   */
    OCIRUN_MSG_READY = 8,      /* init -> parent: about to block on exec.fifo           */
    OCIRUN_MSG_ERROR = 9,      /* child -> parent: err_no, stage, text; then _exit      */
    OCIRUN_MSG_WARNING = 10,   /* child -> parent: text to log as a warning             */
    OCIRUN_MSG_MOUNT_FD = 11,  /* parent -> init, before GO: one idmapped detached tree per
                                   idmap mount, in mount order (SCM_RIGHTS); then one node
                                   per device with from_parent, in device order          */
    OCIRUN_MSG_SECCOMP_FD = 12 /* init -> parent, before READY: the seccomp listener fd of a
                                   filter with SCMP_ACT_NOTIFY (SCM_RIGHTS), for listenerPath */
};

struct ocirun_msg {
    uint32_t type;
    int32_t err_no;
    uint32_t stage;
    int32_t pid;
    char text[496];
};

/* One entry of config.json's `mounts`, already translated (plan.py holds the
 * option table). A `cgroup` mount arrives expanded into several entries. */
struct ocirun_mount {
    const char *source;      /* bind: absolute host path; others: fs source; may be NULL */
    const char *destination; /* absolute path inside the rootfs                     */
    const char *fstype;      /* NULL for bind mounts                                 */
    const char *data;        /* fs-specific options (tmpfs size=...), may be NULL    */
    uint64_t flags;          /* MS_* given to mount(2); MS_BIND|MS_REC for rbind     */
    uint64_t remount_flags;  /* bind mounts: MS_RDONLY|MS_NOSUID... applied by a remount */
    uint64_t propagation;    /* MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE (| MS_REC) */
    uint64_t attr_set;       /* mount_setattr(AT_RECURSIVE) for the r* options        */
    uint64_t attr_clr;
    int32_t idmap_userns_fd;  /* -1: no idmap; -2: idmapped by the parent (MOUNT_FD record):
                                 only a process privileged over the filesystem may make one */
    uint32_t idmap_recursive; /* ridmap */
    uint32_t dest_is_file;    /* create a file (not a directory) when missing          */
    uint32_t is_remount;      /* MS_REMOUNT of an earlier entry's destination          */
    const char *field;        /* "mounts[3]": the config entry, for errors             */
    uint32_t tmpcopyup;       /* tmpfs: starts with a copy of the rootfs's directory there */
};

/* A device node to create under the rootfs (linux.devices plus the defaults). */
struct ocirun_device {
    const char *path; /* absolute, inside the rootfs */
    uint32_t mode;    /* S_IFCHR/S_IFBLK/S_IFIFO | permission bits */
    uint32_t major, minor;
    uint32_t uid, gid;
    uint32_t from_parent; /* in a user namespace: a node the parent made with these owners
                                 (ocirun_device_node), sent down in a MOUNT_FD record after the
                                 idmapped trees, in device order; else the host's node is bound */
};

/* A hook run by the core (createContainer before pivot_root, startContainer
 * just before execve), with the state JSON on stdin. */
struct ocirun_hook {
    const char *path;
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
    int32_t timeout;         /* seconds; 0: none */
};

struct ocirun_rlimit {
    const char *name;
    uint32_t resource;
    uint64_t soft, hard;
};
struct ocirun_sysctl {
    const char *path;
    const char *value;
}; /* path: proc/sys/... relative */
struct ocirun_symlink {
    const char *target;
    const char *path;
};

struct ocirun_plan {
    /* A tenant (`ocirun exec`): the process joins a running container's
     * namespaces (join_fds) and is exec'd as soon as it is set up: no rootfs,
     * no hooks, no fifo. */
    uint32_t tenant;

    /* ---- fds inherited by the child (all O_CLOEXEC on the Python side) ---- */
    int32_t sync_fd;        /* the child's end of the socketpair                 */
    int32_t parent_sync_fd; /* the parent's end: closed in the child             */
    int32_t fifo_fd;        /* O_PATH fd of <root>/<id>/exec.fifo                */

    /* ---- namespaces ---- */
    uint32_t unshare_flags;    /* CLONE_NEW* to create (CLONE_NEWUSER handled first) */
    int32_t join_fds[8];       /* fds of namespaces to setns into, user ns first     */
    uint32_t join_types[8];    /* the CLONE_NEW* each must be (checked by setns)     */
    const char *join_paths[8]; /* as config.json spells them, for messages           */
    uint32_t n_join;
    uint32_t has_userns;        /* a user ns is new or joined: devices get bind-mounted */
    const char *timens_offsets; /* written to /proc/self/timens_offsets, or NULL    */
    const char *hostname;       /* NULL: leave alone */
    const char *domainname;

    /* ---- rootfs ---- */
    const char *rootfs;          /* absolute host path */
    uint64_t root_propagation;   /* MS_* applied to / before the rootfs is set up (0: rslave) */
    uint64_t rootfs_propagation; /* rootfsPropagation, applied after pivot_root (0: none) */
    uint32_t no_pivot;
    uint32_t readonly_root;
    uint32_t no_openat2; /* use safepath.c's own resolver (kernels without openat2; tests) */
    const struct ocirun_mount *mounts;
    uint32_t n_mounts;
    const struct ocirun_device *devices;
    uint32_t n_devices;
    const struct ocirun_symlink *dev_symlinks;
    uint32_t n_dev_symlinks;
    const char *const *masked_paths;   /* NULL-terminated */
    const char *const *readonly_paths; /* NULL-terminated */
    const struct ocirun_sysctl *sysctls;
    uint32_t n_sysctls;

    /* ---- hooks run by the core ---- */
    const struct ocirun_hook *create_container_hooks;
    uint32_t n_create_container_hooks;
    const struct ocirun_hook *start_container_hooks;
    uint32_t n_start_container_hooks;

    /* ---- terminal ---- */
    uint32_t terminal; /* allocate a pty in the container, send the master up */

    /* ---- the process ---- */
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
    const char *path_env;    /* the container's PATH, for args[0] lookup */
    const char *cwd;
    char *listen_pid_env; /* "LISTEN_PID=" + room for digits, rewritten with the init's pid; or NULL */
    char *home_env;       /* "HOME=" + 4096 bytes of room (plan.py HOME_ROOM) when env has no HOME: filled
                                 from the container's /etc/passwd for `uid` ("/" without one); or NULL */
    uint32_t uid, gid;
    const uint32_t *additional_gids;
    uint32_t n_additional_gids;
    int32_t umask; /* -1: 0022 */
    const struct ocirun_rlimit *rlimits;
    uint32_t n_rlimits;
    int32_t oom_score_adj;
    uint32_t set_oom_score_adj;
    uint32_t no_new_privileges;
    uint32_t set_caps; /* 0: keep whatever we have (no capabilities object) */
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    uint32_t cap_last_cap;
    uint32_t set_personality;
    uint64_t personality;
    uint32_t set_scheduler; /* struct sched_attr fields: */
    uint32_t sched_policy;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_flags, sched_runtime, sched_deadline, sched_period;
    uint32_t set_ioprio;
    int32_t ioprio;         /* (class << 13) | level */
    uint32_t set_mempolicy; /* linux.memoryPolicy: set_mempolicy(mode | flags, nodemask, maxnode) */
    int32_t mempolicy_mode; /* MPOL_* | MPOL_F_* flags */
    const uint64_t *mempolicy_nodes;
    uint32_t mempolicy_maxnode; /* bits; NULL/0: no nodes */
    const uint8_t *cpu_affinity_initial;
    uint32_t cpu_affinity_initial_len; /* cpu_set_t bytes */
    const uint8_t *cpu_affinity_final;
    uint32_t cpu_affinity_final_len;
    const char *apparmor_profile; /* written to /proc/self/attr/apparmor/exec, or NULL */
    const char *selinux_label;    /* written to /proc/self/attr/exec, or NULL */
    const char *session_keyring;  /* name for a new session keyring, or NULL (--no-new-keyring) */
    uint32_t preserve_fds;        /* fds 3 .. 3+N-1 survive execve (LISTEN_FDS included) */

    /* ---- seccomp (filled by the seccomp code; all zero: no filter) ----
     * seccomp_bpf points at seccomp_bpf_len bytes of `struct sock_filter`
     * (8 bytes each), loaded with seccomp(SECCOMP_SET_MODE_FILTER,
     * seccomp_flags, &(struct sock_fprog){len/8, bpf}). It is loaded last,
     * after every check of the runtime's and the startContainer hooks, right
     * before the execveat of the sealed trampoline (which the profile must
     * allow). Without no_new_privileges the kernel needs CAP_SYS_ADMIN: the
     * init keeps it until the load, then capset() puts the plan's sets back
     * (process.c; no capabilities object and a non-root user: loaded before
     * the uid changes). With SECCOMP_FILTER_FLAG_NEW_LISTENER in
     * seccomp_flags (SCMP_ACT_NOTIFY) the filter is loaded before READY,
     * while the sync socket is open, and the listener fd goes up in a
     * SECCOMP_FD record; the child keeps no copy. */
    const uint8_t *seccomp_bpf;
    uint32_t seccomp_bpf_len;
    uint32_t seccomp_flags;

    /* ---- rootless (runtime/rootless.py) ----
     * The runtime is an unprivileged user: the sealed exec trampoline's tmpfs
     * is made once the setup process is in the container's user and mount
     * namespaces (an unprivileged user may mount a tmpfs only there), still
     * before the init or the exec'd child exists (exeseal.c). */
    uint32_t rootless;

    /* ---- the cgroup, joined by the setup process itself (cgroupfs, v1 and hybrid) ----
     * Moving another process (its pid into cgroup.procs) takes the kernel's
     * global threadgroup lock for writing, which waits out an RCU grace
     * period: 8-20 ms. A thread moving itself takes no such lock: the setup
     * process (single-threaded) writes "0" to each v1 hierarchy's `tasks`
     * file once GO arrives, and is cloned straight into the cgroup2 directory
     * (clone3 CLONE_INTO_CGROUP) when there is one. A failed write is an
     * ERROR record: the container is never set up outside its cgroup. */
    const int32_t *cgroup_tasks_fds;
    uint32_t n_cgroup_tasks;               /* O_WRONLY `tasks` files */
    const char *const *cgroup_tasks_paths; /* their paths, for messages */
    uint32_t clone_into_cgroup;
    int32_t cgroup2_fd; /* O_DIRECTORY fd of the cgroup2 dir */
};

/* Spawn the container: clones the setup process and returns its pid (> 0);
 * everything after that travels over plan->sync_fd's peer. On failure returns
 * -1 with err filled. The caller must be single-threaded. */
int32_t ocirun_spawn(const struct ocirun_plan *plan, struct ocirun_error *err);

/* Parent side of an idmap mount: a detached clone of `source` (recursive:
 * AT_RECURSIVE) idmapped to the user namespace userns_fd; returns the tree's
 * fd, or -1 with err filled. */
int32_t ocirun_idmapped_tree(const char *source, int32_t userns_fd, uint32_t recursive, uint32_t idmap_recursive,
                             struct ocirun_error *err);

/* A user namespace holding only the given id maps ("inside host size\n"
 * lines, as /proc/PID/uid_map takes them), for a mount's own uidMappings/
 * gidMappings: returns an fd of it (O_CLOEXEC), or -1 with err filled.
 * `field` names the mount for errors. The helper process is reaped. */
int32_t ocirun_mapped_userns(const char *uid_map, const char *gid_map, const char *field, struct ocirun_error *err);

/* Parent side of a device in a user namespace: a node (mode, major:minor)
 * owned by host uid:gid on a private tmpfs of the initial user namespace,
 * returned as a detached bind of that one file, or -1 with err filled. */
int32_t ocirun_device_node(const char *path, uint32_t mode, uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid,
                           struct ocirun_error *err);

const char *ocirun_stage_name(uint32_t stage);
int32_t ocirun_core_version(void);
/* Small helpers Python's os module lacks. Return 0 or -errno. */
int32_t ocirun_set_subreaper(int32_t on);
int32_t ocirun_threads(void);
/* Whether set_mempolicy takes `mode` (MPOL_* | MPOL_F_*) here, tried on the
 * calling thread with every node allowed and put back to MPOL_DEFAULT:
 * 0 or -errno. For the features document. */
int32_t ocirun_mempolicy_probe(int32_t mode);
/* CDEF-END */

#endif
