/* The one hook runner (hooks.c): the init's createContainer and
 * startContainer hooks (through the sealed trampoline, inside the
 * container) and the front door's poststop hooks (door.c: a plain execve,
 * on the host). */
#ifndef OCIRUN_HOOKS_H
#define OCIRUN_HOOKS_H

#include "ocirun.h"

/* CDEF-BEGIN */
/* The bound of a hook that sets no timeout, in seconds (runtime/hooks.py
 * DEFAULT_TIMEOUT is the same). The spec gives such a hook none; ocirun
 * never waits forever: far beyond what a hook takes in normal use. */
enum { OCIRUN_HOOK_DEFAULT_TIMEOUT = 600 };

enum {
    OCIRUN_HOOK_SEALED = 0, /* the init: execveat of the sealed trampoline, never a plain execve */
    OCIRUN_HOOK_DIRECT = 1, /* the front door: execve(path), its errno reported as the error */
};

/* Run one hook with state_fd (rewound) on stdin, or /dev/null when -1, in a
 * session of its own; its whole process group killed once its timeout, or
 * default_timeout when it sets none, has passed. 0, or -1 with err filled
 * ("<which> hook `<path>` exited with status N", "... timed out after N s",
 * ...; err_no set only when a call failed: exec, fork, pidfd). */
int ocirun_run_hook(const struct ocirun_hook *h, const char *which, int state_fd, int how, int32_t default_timeout,
                    struct ocirun_error *err);
/* CDEF-END */

/* (ocirun_run_hooks, the init's: internal.h) */

#endif
