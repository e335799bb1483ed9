/* Errors of the core: (errno, stage, message), filled where the call failed.
 *
 * Nothing here prints. The message names the operation and the object as the
 * config spells it (`mount `proc` on `/proc``); Python appends strerror once
 * and prefixes the stage, so the user sees one line:
 *     mounts: mount `proc` on `/proc`: EPERM (Operation not permitted)
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const stage_names[] = {
    [OCIRUN_STAGE_NONE] = "",
    [OCIRUN_STAGE_SPAWN] = "spawn",
    [OCIRUN_STAGE_SYNC] = "sync",
    [OCIRUN_STAGE_NAMESPACES] = "namespaces",
    [OCIRUN_STAGE_USERNS] = "user namespace",
    [OCIRUN_STAGE_ROOTFS] = "rootfs",
    [OCIRUN_STAGE_MOUNTS] = "mounts",
    [OCIRUN_STAGE_DEVICES] = "devices",
    [OCIRUN_STAGE_PATHS] = "masked and readonly paths",
    [OCIRUN_STAGE_SYSCTL] = "sysctl",
    [OCIRUN_STAGE_HOOKS] = "hooks",
    [OCIRUN_STAGE_TERMINAL] = "terminal",
    [OCIRUN_STAGE_PROCESS] = "process",
    [OCIRUN_STAGE_EXEC] = "exec",
    [OCIRUN_STAGE_SECCOMP] = "seccomp",
};

const char *ocirun_stage_name(uint32_t stage)
{
    if (stage >= sizeof(stage_names) / sizeof(stage_names[0]) || !stage_names[stage])
        return "unknown stage";
    return stage_names[stage];
}

void ocirun_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

int ocirun_fail(struct ocirun_error *err, uint32_t stage, int err_no, const char *fmt, ...)
{
    va_list ap;
    err->err_no = err_no;
    err->stage = stage;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}
