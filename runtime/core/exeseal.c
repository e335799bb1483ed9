/* The last exec, through a sealed copy of a tiny trampoline (CVE-2019-5736).
 *
 * Until its final execve the init is a copy of ocirun, i.e. of the host's
 * Python interpreter, and /proc/self/exe names that binary. A container image
 * whose entrypoint is a script starting `#!/proc/self/exe` would make the
 * kernel run the host's Python inside the container, which could then open
 * that binary for writing once it is idle. Non-dumpable already closes
 * /proc/PID/exe to other processes; this closes the interpreter path:
 *
 *   the init execveat()s a read-only file (below) holding a 212-byte static
 *   ELF whose only job is execve(argv[1], &argv[2], envp). While it runs,
 *   /proc/self/exe is that file (on a read-only tmpfs: never writable), so a
 *   `#!/proc/self/exe` entrypoint re-runs the trampoline, which sees no
 *   marker in argv[0] and exits 127 with `ocirun: exec failed`.
 *
 * There is no other way out (CVE-2019-5736 class): when the trampoline
 * cannot be made (an architecture without one, no fsopen/fsmount) or cannot
 * be exec'd (a seccomp profile denying execveat,
 * an argv that no longer fits with the two extra words), the operation fails
 * with one line naming why. Nothing ever execve()s from the host interpreter
 * image.
 *
 * The trampoline's argv is the process's with two words in front: built in
 * a static array when it fits, else in an anonymous mapping sized to it, so
 * any argv count the kernel takes goes through (the kernel's own limit,
 * E2BIG, is the only one; the two words and "/dev/fd/N" cost ~30 bytes of it).
 * It is built before the seccomp filter is loaded (process.c loads it last):
 * the only calls left after the filter are execveat and the trampoline's
 * execve, which a profile must allow.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#include "sys.h"

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#define FSMOUNT_CLOEXEC 0x00000001
#define FSPICK_CLOEXEC 0x00000001
#define FSPICK_EMPTY_PATH 0x00000008
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSCONFIG_CMD_RECONFIGURE 7
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif

#if defined(__x86_64__)
/* ELF64 header + one PT_LOAD (R+X at 0x400000) + code:
 *   if (*argv[0] != 1) goto fail;  execve(argv[1], &argv[2], envp);
 *   fail: write(2, "ocirun: exec failed\n", 20); exit_group(127);
 * The code is this assembly (GNU as), assembled and wrapped in the two headers:
 *
 *   _start: mov 8(%rsp), %rax;  cmpb $1, (%rax);  jne 1f      # argv[0] == "\1"?
 *           mov 16(%rsp), %rdi;  lea 24(%rsp), %rsi           # argv[1], &argv[2]
 *           mov (%rsp), %rax;  lea 16(%rsp,%rax,8), %rdx      # envp = &argv[argc+1]
 *           mov $59, %eax;  syscall                           # execve
 *   1:      mov $2, %edi;  lea msg(%rip), %rsi;  mov $20, %edx
 *           mov $1, %eax;  syscall                            # write(2, msg, 20)
 *           mov $127, %edi;  mov $231, %eax;  syscall         # exit_group(127)
 *   msg:    .ascii "ocirun: exec failed\n"
 */
/* clang-format off */
static const unsigned char trampoline[] = {
    0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x78, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x38, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xd4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd4, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x48, 0x8b, 0x44, 0x24, 0x08, 0x80, 0x38, 0x01, 0x75, 0x1a, 0x48, 0x8b,
    0x7c, 0x24, 0x10, 0x48, 0x8d, 0x74, 0x24, 0x18, 0x48, 0x8b, 0x04, 0x24,
    0x48, 0x8d, 0x54, 0xc4, 0x10, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0xbf, 0x02, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x35, 0x18, 0x00, 0x00, 0x00,
    0xba, 0x14, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0x6f, 0x63, 0x69, 0x72, 0x75, 0x6e, 0x3a, 0x20, 0x65, 0x78, 0x65, 0x63,
    0x20, 0x66, 0x61, 0x69, 0x6c, 0x65, 0x64, 0x0a,
};
/* clang-format on */
#endif

/* Where the trampoline lives: one file on a tmpfs instance of our own, a
 * detached mount attached nowhere, whose superblock and mount are both made
 * read-only once the file is written, and only then opened (O_RDONLY) for the
 * execveat. It is made by the setup process, which is not in the container's
 * pid namespace, before the init or the exec'd child exists: a container
 * process with CAP_SYS_PTRACE that reopens the child's fd through
 * /proc/PID/fd/N gets the file read-only or nothing (EROFS), never a writable
 * fd, at no moment. (A memfd, sealed or not, can always be reopened for
 * writing that way; F_SEAL_WRITE only makes the writes fail.) */
int ocirun_exeseal_prepare(struct ocirun_error *err)
{
#if defined(__x86_64__)
    const char *why = "fsopen \"tmpfs\"";
    int fs = -1, mnt = -1, f = -1, fd = -1, pick = -1;
    fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        goto fail;
    why = "fsconfig";
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto fail;
    why = "fsmount";
    mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mnt < 0)
        goto fail;
    why = "write";
    f = openat(mnt, "ocirun-exec", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0555);
    if (f < 0 || write(f, trampoline, sizeof(trampoline)) != (ssize_t)sizeof(trampoline) || close(f) < 0) {
        f = -1;
        goto fail;
    }
    f = -1;
    /* read-only: the superblock (no writer is left: the file is closed) ... */
    why = "make the superblock read-only";
    pick = (int)syscall(SYS_fspick, mnt, "", FSPICK_CLOEXEC | FSPICK_EMPTY_PATH);
    if (pick < 0 || syscall(SYS_fsconfig, pick, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
        syscall(SYS_fsconfig, pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
        goto fail;
    /* ... and the mount */
    why = "make the mount read-only";
    struct ocirun_mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &ma, sizeof(ma)) < 0)
        goto fail;
    why = "open";
    fd = openat(mnt, "ocirun-exec", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        goto fail;
    close(pick);
    close(mnt);
    close(fs);
    return fd;
fail:;
    int e = errno;
    if (f >= 0)
        close(f);
    if (pick >= 0)
        close(pick);
    if (mnt >= 0)
        close(mnt);
    if (fs >= 0)
        close(fs);
    return ocirun_fail(err, OCIRUN_STAGE_EXEC, e,
                       "make the read-only exec trampoline (%s); a plain execve is never used instead", why);
#else
    return ocirun_fail(err, OCIRUN_STAGE_EXEC, ENOSYS,
                       "no sealed exec trampoline for this architecture; a plain execve is never used instead");
#endif
}

/* The init's sealed trampoline, for hooks.c as well: a hook is a fork of the
 * init, so a `#!/proc/self/exe` hook would get the host's Python too. */
int ocirun_seal_fd = -1;

static const char *tramp_small[256];

const char **ocirun_exeseal_argv(const char *path, const char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    const char **t = tramp_small;
    if (n + 3 > sizeof(tramp_small) / sizeof(tramp_small[0])) {
        /* no malloc in the child; the mapping goes with the exec */
        void *m = mmap(NULL, (n + 3) * sizeof(char *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        t = m;
    }
    t[0] = "\1"; /* the marker the trampoline checks */
    t[1] = path;
    memcpy(&t[2], argv, (n + 1) * sizeof(char *));
    return t;
}

int ocirun_exeseal_exec(int seal_fd, const char **tramp_argv, const char *const *envp)
{
    if (seal_fd < 0 || !tramp_argv) {
        errno = seal_fd < 0 ? EBADF : ENOMEM;
        return -1;
    }
    syscall(SYS_execveat, seal_fd, "", tramp_argv, envp, AT_EMPTY_PATH);
    return -1; /* never a plain execve instead */
}
