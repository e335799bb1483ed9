/* The `ocirun` executable that hack/install puts on PATH (and `pip install`
 * into the environment's bin/): the front door. `state`, `start`, `kill` and
 * `delete` are answered here, in C, without an interpreter (door.c, on the
 * state store's primitives in store.c); whatever the door does not answer
 * goes, with the same arguments, to the Python CLI, and for the commands
 * that make container processes (create, run, exec) from a sealed copy of
 * the interpreter. -DOCIRUN_DOOR_OFF builds a launcher that always hands
 * over (the Python door, which tests run the suite on too).
 *
 * Why: until its last execve, every process ocirun makes for a container is a
 * fork of the interpreter, and /proc/PID/exe names its image. A container
 * process with CAP_SYS_PTRACE may open that link (non-dumpable does not stop
 * it) and, once nothing runs the binary any more, write to the host's Python
 * (CVE-2019-5736). Run from a memfd sealed against writes, growing and
 * shrinking, /proc/PID/exe is that memfd: there is nothing to write to. The
 * core refuses to spawn from an interpreter that is not such a copy
 * (ocirun_exe_sealed), and the Python side makes the copy itself when it was
 * started some other way (runtime/sealed.py): this is only the fast way in.
 *
 * Built by hack/install with -DOCIRUN_PYTHON="..." -DOCIRUN_BOOT="...".
 * Any failure to make the copy is one line and exit 1: never a fallback to
 * the plain interpreter for those commands.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "door.h"

#ifndef OCIRUN_PYTHON
#error "build with -DOCIRUN_PYTHON=\"/path/to/python3\""
#endif
#ifndef OCIRUN_BOOT
#error "build with -DOCIRUN_BOOT=\"/path/to/boot.py\""
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

extern char **environ;

static int die(const char *step)
{
    fprintf(stderr, "ocirun: cannot make a sealed copy of the interpreter `%s`: %s: %s\n", OCIRUN_PYTHON, step,
            strerror(errno));
    return 1;
}

/* create, run and exec make container processes; a container named like one
 * of them only costs a needless copy. */
static int needs_sealing(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "create") || !strcmp(argv[i], "run") || !strcmp(argv[i], "exec"))
            return 1;
    return 0;
}

static int sealed_copy(void)
{
    int src = open(OCIRUN_PYTHON, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return die("open"), -1;
    struct stat st;
    if (fstat(src, &st) < 0)
        return die("fstat"), -1;
    int fd = (int)syscall(SYS_memfd_create, "ocirun-python", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)  /* a kernel older than MFD_EXEC (6.3) */
        fd = (int)syscall(SYS_memfd_create, "ocirun-python", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return die("memfd_create"), -1;
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(src, NULL, fd, NULL, (size_t)left, 0);
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS))
            n = sendfile(fd, src, NULL, (size_t)left);
        if (n <= 0)
            return die("copy"), -1;
        left -= n;
    }
    close(src);
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        return die("seal"), -1;
    return fd;
}

int main(int argc, char **argv)
{
#ifndef OCIRUN_DOOR_OFF
    int rc = door_main(argc, argv);
    if (rc != DOOR_DELEGATE)
        return rc;
#endif
    char **args = calloc((size_t)argc + 4, sizeof(char *));
    if (!args)
        return die("calloc");
    args[0] = OCIRUN_PYTHON;  /* the venv's path: Python finds its prefix and pyvenv.cfg from it */
    args[1] = "-I";
    args[2] = "-S";
    args[3] = OCIRUN_BOOT;
    for (int i = 1; i < argc; i++)
        args[i + 3] = argv[i];
    if (!needs_sealing(argc, argv)) {
        execve(OCIRUN_PYTHON, args, environ);
        fprintf(stderr, "ocirun: exec `%s`: %s\n", OCIRUN_PYTHON, strerror(errno));
        return 1;
    }
    int fd = sealed_copy();
    if (fd < 0)
        return 1;
    syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
    return die("execveat");
}
