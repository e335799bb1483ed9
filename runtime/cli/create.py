"""`ocirun create ID`: set the container up, leave its init blocked until `start`."""

from . import Command, Flag

CREATE_FLAGS = [
    Flag("bundle,b", "str", "", "path to the root of the bundle directory, defaults to the current directory", "DIR"),
    Flag("config,f", "str", None, "config file, relative to the bundle (default: config.json)", "FILE"),
    Flag("console-socket", "str", None, "path to an AF_UNIX socket which will receive the pty master fd", "PATH"),
    Flag("pid-file", "str", None, "file to write the init's pid to", "FILE"),
    Flag("pidfd-socket", "str", None, "path to an AF_UNIX socket which will receive a pidfd of the init", "PATH"),
    Flag("no-pivot", "bool", help="do not use pivot_root (MS_MOVE + chroot instead; for ramdisk roots)"),
    Flag("no-new-keyring", "bool", help="do not create a new session keyring for the container"),
    Flag("preserve-fds", "int", 0, "pass N additional fds (3 .. 3+N-1) to the container", "N"),
]

COMMAND = Command(
    "create",
    "create a container",
    flags=CREATE_FLAGS,
    description="The create command creates an instance of a container for a bundle. The\n"
    "container's process waits until `ocirun start` runs it.",
)


def check_pid_file(path):
    """Refuse a --pid-file that cannot be written before anything is made."""
    if path is None:
        return
    import os
    import stat

    from .. import errors

    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):  # a symlink is replaced by the rename, not followed
            raise errors.pid_file_error(path, 21)  # EISDIR
    except OSError:
        pass
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise errors.pid_file_error(path, 20 if os.path.exists(parent) else 2)  # ENOTDIR, ENOENT


def main(ctx, opts, args):
    from ..ops.create import create

    check_pid_file(opts.pid_file)
    c, _pid, _master = create(
        ctx,
        args[0],
        opts.bundle,
        opts.config,
        pid_file=opts.pid_file,
        console_socket=opts.console_socket,
        no_pivot=opts.no_pivot,
        no_new_keyring=opts.no_new_keyring,
        preserve_fds=opts.preserve_fds or 0,
        pidfd_socket=opts.pidfd_socket,
    )
    c.close()
    return 0
