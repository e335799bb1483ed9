/* args[0] looked up in the container's PATH, before `create` returns, so a
 * missing binary fails `create` with the sentence engines match on (podman
 * maps "executable file not found in $PATH" to exit 127).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        errno = EACCES;
        return -1;
    }
    return access(path, X_OK);
}

int ocirun_lookup_exec(const struct ocirun_plan *p, char *out, size_t len, struct ocirun_error *err)
{
    const char *name = p->argv[0];
    if (strchr(name, '/')) {
        if (executable(name) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_EXEC, errno, "\"%s\": stat `%s`", name, name);
        snprintf(out, len, "%s", name);
        return 0;
    }
    const char *path = p->path_env ? p->path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int saw_eacces = 0;
    while (1) {
        size_t n = strcspn(path, ":");
        if (n == 0)
            snprintf(out, len, "./%s", name);
        else
            snprintf(out, len, "%.*s/%s", (int)n, path, name);
        if (executable(out) == 0)
            return 0;
        if (errno == EACCES)
            saw_eacces = 1;
        if (!path[n])
            break;
        path += n + 1;
    }
    if (saw_eacces)
        return ocirun_fail(err, OCIRUN_STAGE_EXEC, EACCES, "\"%s\": permission denied", name);
    return ocirun_fail(err, OCIRUN_STAGE_EXEC, 0, "\"%s\": executable file not found in $PATH", name);
}
