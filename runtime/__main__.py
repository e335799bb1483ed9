"""Entry point: global flags, dispatch to one command module, one error handler.

Nothing heavy is imported before the command is known, and only that command's
module is imported then. A known error is one line on stderr (and in --log)
and exit 1; a traceback appears only for a bug, and only with --debug.
"""

import os
import sys


class Context:
    """What every command gets: global options, the log, the state store."""

    def __init__(self, gopts, log):
        self.gopts = gopts
        self.log = log
        self._store = None
        self.door_deadline = None  # delete: the C door's handover deadline (time.monotonic())

    @property
    def store(self):
        if self._store is None:
            import os

            from .state import StateStore

            root = self.gopts.root
            if root is None and (os.geteuid() != 0 or os.environ.get("XDG_RUNTIME_DIR")):
                # a user's own default root (rootless.py)
                from . import rootless

                root = rootless.state_root(self.gopts)
            self._store = StateStore(root)
        return self._store


# What the C front door answers (runtime/core/door.c): the Python CLI asks it
# first, so both doors run the one implementation; what it hands back (hooks,
# systemd cgroups, usage errors, --debug...) goes on here.
_DOOR_COMMANDS = ("state", "start", "kill", "delete")
# Set by the launcher (runtime/core/launcher.c) when its door already ran and
# handed the command over: the door is not run twice (its waits would add
# up). The value is what is left of delete's bound: the door's deadline in
# CLOCK_MONOTONIC milliseconds, or empty. Set by hand it only makes Python do
# the work itself, within a bound no longer than its own.
DOOR_HANDED = "OCIRUN_DOOR_HANDED"


def _handed_deadline(value):
    """time.monotonic() seconds from the marker's value, or None."""
    return int(value) / 1000 if value.isdigit() and len(value) < 19 else None


def _c_door(argv, ctx_deadline):
    """The C door's exit code, or None when it handed the command back (its
    handover deadline, if any, appended to ctx_deadline)."""
    from .core import load

    ffi, lib = load()
    keep = [ffi.new("char[]", b"ocirun")] + [ffi.new("char[]", os.fsencode(a)) for a in argv]
    # Its output goes through sys.stdout and sys.stderr (whatever they are now).
    fds = [os.memfd_create("ocirun-door-out", os.MFD_CLOEXEC), os.memfd_create("ocirun-door-err", os.MFD_CLOEXEC)]
    try:
        rc = lib.ocirun_door(len(keep), ffi.new("char *[]", keep), fds[0], fds[1])
        if rc == lib.OCIRUN_DOOR_DELEGATE:
            left = lib.ocirun_door_handover_deadline()
            if left >= 0:
                ctx_deadline.append(left / 1000)
            return None
        for fd, stream in zip(fds, (sys.stdout, sys.stderr)):
            size = os.lseek(fd, 0, os.SEEK_END)
            if size:
                stream.write(os.pread(fd, size, 0).decode(errors="surrogateescape"))
                stream.flush()
        return rc
    finally:
        for fd in fds:
            os.close(fd)


def main(argv=None):
    from . import cli, errors, log as logmod

    handed = os.environ.pop(DOOR_HANDED, None)  # first: no child of ours inherits it
    door_deadline = []
    if handed is not None:
        d = _handed_deadline(handed)
        if d is not None:
            door_deadline.append(d)
    argv = sys.argv[1:] if argv is None else list(argv)
    if handed is None and any(a in _DOOR_COMMANDS for a in argv):
        try:
            rc = _c_door(argv, door_deadline)
        except errors.OciError:  # no compiled core: the Python path says so if it needs it
            rc = None
        if rc is not None:
            return rc
    # A command lives for milliseconds and makes few reference cycles: the
    # cyclic collector's passes over what it imports and parses cost ~2 ms of
    # create's CPU. Off until the command is known; create, run and exec keep
    # it off, and run and exec turn it back on when they settle down to wait
    # on the process (forward.wait_foreground); every other command gets it back.
    import gc

    gc.disable()
    logger = logmod.LOG
    debug = "--debug" in argv
    try:
        gopts, rest = cli.parse(cli.GLOBAL_FLAGS, argv, "ocirun", interspersed=False)
        logger.configure(gopts.log, gopts.log_format, gopts.debug)
        if gopts.log_format not in ("text", "json"):
            raise errors.UsageError("invalid --log-format %r: want 'text' or 'json'" % gopts.log_format)
        if gopts.version:
            from . import SPEC_VERSION, __version__

            sys.stdout.write("ocirun version %s\ncommit: %s\nspec: %s\n" % (__version__, _commit(), SPEC_VERSION))
            return 0
        if not rest or rest[0] in ("help", "h"):  # `h`: runc's alias
            if len(rest) > 1 and rest[1] in cli.COMMANDS:
                sys.stdout.write(cli.command_help(_load(rest[1]).COMMAND))
                return 0
            sys.stdout.write(cli.global_help())
            return 0 if (gopts.help or rest) else 1
        name, cargv = rest[0], rest[1:]
        if name not in cli.COMMANDS:
            raise errors.UsageError("ocirun: no such command %r (see 'ocirun --help')" % name)
        mod = _load(name)
        cmd = mod.COMMAND
        flags = cmd.flags + [cli.Flag("help,h", "bool", help="show help")]
        opts, args = cli.parse(flags, cargv, "ocirun " + name, stop_after=cmd.stop_after)
        if opts.help:
            sys.stdout.write(cli.command_help(cmd))
            return 0
        cli.check_nargs(cmd, args)
        if name not in ("create", "run", "exec"):
            gc.enable()  # (events runs for as long as it is let)
        if name in ("create", "run", "exec"):
            # CVE-2024-21626 class: plug 3..3+N-1 (+ LISTEN_FDS) before the
            # first log line opens --log, or the log lands in a hole of the
            # preserved range and goes to the container writable.
            from .ops.spawn import plug_preserved_fds

            plug_preserved_fds(opts.preserve_fds)
        logger.debug("command %s %s", name, cargv)
        ctx = Context(gopts, logger)
        if door_deadline:
            ctx.door_deadline = door_deadline[0]
        return mod.main(ctx, opts, args) or 0
    except errors.OciError as e:
        e = _root_problem(argv, e)
        for line in e.lines:
            logger.error(line)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:
        # An OSError that no module turned into an OciError: still one line.
        root = _root_problem(argv, None)
        if root is not None:
            logger.error(root.lines[0])
            return 1
        msg = "%s%s" % (e.strerror or e, (": `%s`" % e.filename) if e.filename else "")
        logger.error(msg)
        if debug:
            import traceback

            traceback.print_exc()
        return 1
    except Exception as e:  # a bug: say so in one line; the traceback only with --debug
        logger.error("internal error: %s: %s" % (type(e).__name__, e))
        if debug:
            import traceback

            traceback.print_exc()
        return 1


def _root_problem(argv, err):
    """When the state root is not a directory, that is the error to show (a
    missing container or a failed mkdir under it is only its consequence).
    Looked at only once something failed: nothing on the hot path."""
    import os

    from . import cli, errors
    from .state import DEFAULT_ROOT

    try:
        gopts, _ = cli.parse(cli.GLOBAL_FLAGS, argv, "ocirun", interspersed=False)
    except errors.OciError:
        return err
    root = gopts.root or DEFAULT_ROOT
    if os.path.lexists(root) and not os.path.isdir(root):
        return errors.UsageError("--root `%s`: not a directory" % root)
    return err


def _load(name):
    # __import__, not importlib.import_module: importlib pulls in warnings (0.3 ms on every command)
    from . import cli

    return __import__("runtime.cli." + cli.COMMANDS[name][0].replace("-", "_"), fromlist=["main"])


def _commit():
    try:
        from ._build_info import COMMIT

        return COMMIT
    except ImportError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
