/* Namespaces: join the ones given by path, create the rest, in the order the
 * kernel needs.
 *
 * - The user namespace comes first, joined or created: every namespace made
 *   afterwards is owned by it, so its root has the capabilities there.
 * - A new user namespace is useless until the parent has written uid_map and
 *   gid_map (we cannot write them for ourselves with more than one line), so
 *   the setup process asks and waits (USERNS / MAPS_DONE).
 * - The cgroup namespace is created after the parent has moved us into the
 *   container's cgroup (GO), so that cgroup becomes the namespace's root.
 * - unshare(CLONE_NEWPID) and CLONE_NEWTIME, and setns() into a pid or time
 *   namespace, only affect children: the init is the next clone (spawn.c).
 *   timens offsets must be written before any process lives in the new time
 *   namespace, i.e. now, before that clone.
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "internal.h"

static const char *ns_name(uint32_t t)
{
    switch (t) {
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWNS: return "mount";
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWNET: return "network";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWCGROUP: return "cgroup";
#ifdef CLONE_NEWTIME
    case CLONE_NEWTIME: return "time";
#endif
    }
    return "?";
}

int ocirun_join_namespaces(const struct ocirun_plan *p, struct ocirun_error *err)
{
    for (uint32_t i = 0; i < p->n_join && i < 8; i++) {
        /* setns checks the fd really is a namespace of that type (EINVAL otherwise). */
        if (setns(p->join_fds[i], (int)p->join_types[i]) < 0)
            return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, errno, "join %s namespace `%s`", ns_name(p->join_types[i]),
                               p->join_paths[i] ? p->join_paths[i] : "?");
        close(p->join_fds[i]);
    }
    return 0;
}

int ocirun_unshare_userns(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (!(p->unshare_flags & CLONE_NEWUSER))
        return 0;
    if (unshare(CLONE_NEWUSER) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, errno, "create user namespace");
    /* rootless: our /proc/PID files belong to root while we are not
     * dumpable, and the parent (our own user) must write the maps: dumpable
     * only until MAPS_DONE, while nothing of the container exists yet. */
    if (p->rootless && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_USERNS, errno, "set dumpable for the id maps");
    if (ocirun_sync_send(p->sync_fd, OCIRUN_MSG_USERNS, 0, -1) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_SYNC, errno, "send USERNS");
    if (ocirun_sync_wait(p->sync_fd, OCIRUN_MSG_MAPS_DONE, NULL, err) < 0)
        return -1;
    if (p->rootless && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_USERNS, errno, "clear dumpable after the id maps");
    /* Become the namespace's root; if 0 is not mapped we stay unmapped (EINVAL)
     * and the process's own user is set later anyway. */
    if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
        return ocirun_fail(err, OCIRUN_STAGE_USERNS, errno, "setresgid(0) in the user namespace");
    if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
        return ocirun_fail(err, OCIRUN_STAGE_USERNS, errno, "setresuid(0) in the user namespace");
    return 0;
}

int ocirun_unshare_rest(const struct ocirun_plan *p, struct ocirun_error *err)
{
    uint32_t flags = p->unshare_flags & ~(uint32_t)CLONE_NEWUSER;
    if (flags && unshare((int)flags) < 0) {
        int e = errno;
        /* Say which one: retry them one by one (cheap, and only on failure). */
        for (uint32_t bit = 1; bit; bit <<= 1)
            if ((flags & bit) && unshare((int)bit) < 0)
                return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, errno, "create %s namespace", ns_name(bit));
        return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, e, "create namespaces");
    }
    if (p->timens_offsets) {
        int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, errno, "open `/proc/self/timens_offsets`");
        size_t n = strlen(p->timens_offsets);
        if (write(fd, p->timens_offsets, n) != (ssize_t)n) {
            int e = errno;
            close(fd);
            return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, e, "write time namespace offsets `%s`", p->timens_offsets);
        }
        close(fd);
    }
    return 0;
}

int ocirun_set_names(const struct ocirun_plan *p, struct ocirun_error *err)
{
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, errno, "set hostname `%s`", p->hostname);
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0)
        return ocirun_fail(err, OCIRUN_STAGE_NAMESPACES, errno, "set domainname `%s`", p->domainname);
    return 0;
}
