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

/* hack/install compiles both paths in. `pip install` builds it with
 * -DOCIRUN_PYVER="3.11" instead (setup.py): the interpreter is then the
 * python3 beside the launcher, and the package is in ../lib/python3.11/site-packages. */
#if !defined(OCIRUN_PYVER) && (!defined(OCIRUN_PYTHON) || !defined(OCIRUN_BOOT))
#error "build with -DOCIRUN_PYTHON=\"/path/to/python3\" -DOCIRUN_BOOT=\"/path/to/boot.py\" (or -DOCIRUN_PYVER=\"3.11\")"
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

extern char **environ;

static const char *python;

static int die(const char *step)
{
    fprintf(stderr, "ocirun: cannot make a sealed copy of the interpreter `%s`: %s: %s\n", python, step,
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
    int src = open(python, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return die("open"), -1;
    struct stat st;
    if (fstat(src, &st) < 0)
        return die("fstat"), -1;
    int fd = (int)syscall(SYS_memfd_create, "ocirun-python", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) /* a kernel older than MFD_EXEC (6.3) */
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
    int rc = ocirun_door(argc, argv, 1, 2);
    if (rc != DOOR_DELEGATE)
        return rc;
    /* the door ran: the Python CLI must not run it again (__main__.DOOR_HANDED) */
    char left[24] = "";
    if (ocirun_door_handover_deadline() >= 0)
        snprintf(left, sizeof(left), "%lld", (long long)ocirun_door_handover_deadline());
    if (setenv("OCIRUN_DOOR_HANDED", left, 1) < 0)
        return die("setenv");
#endif
    char **args = calloc((size_t)argc + 5, sizeof(char *));
    if (!args)
        return die("calloc");
    int n = 0;
#ifdef OCIRUN_PYVER
    /* <prefix>/bin/ocirun: <prefix>/bin/python3 and <prefix>/lib/pythonX.Y/site-packages */
    static char self[4096], py[4200], boot[8600];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash = len > 0 ? (self[len] = 0, strrchr(self, '/')) : NULL;
    if (!slash || slash == self) {
        fprintf(stderr, "ocirun: cannot find the interpreter beside the launcher (/proc/self/exe)\n");
        return 1;
    }
    *slash = 0;
    snprintf(py, sizeof(py), "%s/python3", self);
    char *up = strrchr(self, '/');
    if (up)
        *up = 0;
    for (const char *c = self; *c; c++)
        if (*c == '\'' || *c == '\\') {
            fprintf(stderr, "ocirun: cannot start the interpreter from `%s`: a quote in the path\n", self);
            return 1;
        }
    snprintf(boot, sizeof(boot),
             "import sys; sys.path[:0] = ['%s/lib/python" OCIRUN_PYVER "/site-packages']; "
             "from runtime.__main__ import main; sys.exit(main())",
             self);
    python = py;
    args[n++] = py; /* the environment's path: Python finds its prefix and pyvenv.cfg from it */
    args[n++] = "-I";
    args[n++] = "-S";
    args[n++] = "-c";
    args[n++] = boot;
#else
    python = OCIRUN_PYTHON;
    args[n++] = OCIRUN_PYTHON; /* the venv's path: Python finds its prefix and pyvenv.cfg from it */
    args[n++] = "-I";
    args[n++] = "-S";
    args[n++] = OCIRUN_BOOT;
#endif
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    if (!needs_sealing(argc, argv)) {
        execve(python, args, environ);
        fprintf(stderr, "ocirun: exec `%s`: %s\n", python, strerror(errno));
        return 1;
    }
    int fd = sealed_copy();
    if (fd < 0)
        return 1;
    syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
    return die("execveat");
}
