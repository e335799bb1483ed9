/* Private to the C core: what the files of runtime/core/ share.
 * No CDEF markers: cffi never sees this header. */
#ifndef OCIRUN_INTERNAL_H
#define OCIRUN_INTERNAL_H

#include "ocirun.h"
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* error.c: fill err (never prints); always returns -1 so callers can `return ocirun_fail(...)`. */
int ocirun_fail(struct ocirun_error *err, uint32_t stage, int err_no, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A short string helper that never overflows: snprintf into buf, truncated. */
void ocirun_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* sync.c: one record each way. */
int ocirun_sync_send(int fd, uint32_t type, int32_t pid, int sendfd);
int ocirun_sync_send_error(int fd, const struct ocirun_error *err);
int ocirun_sync_send_warning(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits for `want`; *recvfd gets an SCM_RIGHTS fd if one came (else -1). */
int ocirun_sync_wait(int fd, uint32_t want, int *recvfd, struct ocirun_error *err);

/* safepath.c: the only way to reach a path under the rootfs.
 * ocirun_open_in_root, ocirun_proc_open and ocirun_mount_on_fd are
 * primitives, like the syscalls they wrap: -1 with errno set, and the caller,
 * which knows the stage and the config field, fills the error. The ensure
 * functions take the stage and fill err themselves. */
void ocirun_force_fallback_resolver(int on);
int ocirun_open_in_root(int rootfd, const char *path, int flags);
int ocirun_ensure_in_root(int rootfd, const char *path, int is_file, uint32_t stage, struct ocirun_error *err);
int ocirun_open_parent_in_root(int rootfd, const char *path, const char **base, uint32_t stage,
                               struct ocirun_error *err);
int ocirun_mount_on_fd(const char *src, int dstfd, const char *fstype, unsigned long flags, const char *data);
const char *ocirun_fdpath(char *buf, size_t len, int fd);
int ocirun_is_procfs(int fd);
#define OCIRUN_PROC_ROOT_INO 1
/* The init's verified handle on procfs (safepath.c): a procfs instance the
 * init (or exec'd child) makes itself, above `floor` (the preserved fds);
 * then every /proc access of it goes through ocirun_proc_open ("self/..."
 * or "sys/..."). */
int ocirun_procfs_make(int floor, int pid_only, struct ocirun_error *err);
int ocirun_procfs_handle(void);
int ocirun_proc_open(const char *path, int flags);

/* ns.c */
int ocirun_join_namespaces(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_unshare_userns(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_unshare_rest(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_set_names(const struct ocirun_plan *p, struct ocirun_error *err);

/* rootfs.c */
int ocirun_prepare_rootfs(const struct ocirun_plan *p, int *rootfd, struct ocirun_error *err);
int ocirun_receive_trees(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_do_mounts(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err);
int ocirun_do_paths(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err);
int ocirun_do_sysctls(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_enter_rootfs(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err);
int ocirun_finish_rootfs(const struct ocirun_plan *p, struct ocirun_error *err);

/* devices.c */
int ocirun_create_devices(const struct ocirun_plan *p, int rootfd, struct ocirun_error *err);
int ocirun_setup_terminal(const struct ocirun_plan *p, int sync_fd, struct ocirun_error *err);

/* process.c */
int ocirun_early_process(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_receive_device_nodes(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_set_process(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_load_seccomp(const struct ocirun_plan *p, struct ocirun_error *err);
int ocirun_seccomp_needs_listener(const struct ocirun_plan *p);

/* fds.c */
int ocirun_mark_fds_cloexec(unsigned int from);
int ocirun_preserve_fds(const struct ocirun_plan *p, struct ocirun_error *err);
void ocirun_close_fds_from(unsigned int from);
void ocirun_close_fds_except(unsigned int from, const int *keep, unsigned int n);

/* exeseal.c */
/* The trampoline (fd, read-only, on a read-only detached tmpfs), made by
 * the setup process, or -1 with err filled: never a reason to exec any
 * other way. */
int ocirun_exeseal_prepare(struct ocirun_error *err);
extern int ocirun_seal_fd;
/* The trampoline's argv for `path` + argv (static or mmap'd), NULL if no room. */
const char **ocirun_exeseal_argv(const char *path, const char *const *argv);
/* Only returns on failure (errno): execveat of the trampoline, nothing else. */
int ocirun_exeseal_exec(int seal_fd, const char **tramp_argv, const char *const *envp);

/* hooks.c */
int ocirun_run_hooks(const struct ocirun_hook *hooks, uint32_t n, const char *which, int state_fd,
                     struct ocirun_error *err);

/* exec.c */
int ocirun_lookup_exec(const struct ocirun_plan *p, char *out, size_t len, struct ocirun_error *err);

#endif
