"""`ocirun exec ID CMD...` (or --process FILE): another process in a running container."""

from . import Command, Flag

COMMAND = Command(
    "exec",
    "execute new process inside the container",
    usage="<container-id> <command> [command options]",
    nargs=(1, None),
    stop_after=1,
    flags=[
        Flag("process,p", "str", None, "path to a process.json (a config.json `process` object)", "FILE"),
        Flag("tty,t", "bool", help="allocate a pseudo-TTY"),
        Flag("console-socket", "str", None, "AF_UNIX socket that receives the pty master fd", "PATH"),
        Flag("cwd", "str", None, "current working directory in the container", "DIR"),
        Flag("env,e", "list", help="set an environment variable (repeatable)", metavar="KEY=VALUE"),
        Flag("user,u", "str", None, "UID[:GID] to run as", "UID[:GID]"),
        Flag("additional-gids,g", "list", help="additional gid (repeatable)", metavar="GID"),
        Flag("cap,c", "list", help="add a capability to the bounding, effective and permitted sets", metavar="CAP"),
        Flag("no-new-privs", "bool", help="set no_new_privileges"),
        Flag("detach,d", "bool", help="detach from the process"),
        Flag("pid-file", "str", None, "file to write the process's pid to", "FILE"),
        Flag("pidfd-socket", "str", None, "AF_UNIX socket that receives a pidfd of the process", "PATH"),
        Flag("preserve-fds", "int", 0, "pass N additional fds (3 .. 3+N-1)", "N"),
        Flag("process-label", "str", None, "SELinux label for the process", "LABEL"),
        Flag("apparmor", "str", None, "apparmor profile for the process", "PROFILE"),
        Flag(
            "ignore-paused",
            "bool",
            help="exec even if the container is paused (the process freezes with it until resume)",
        ),
        Flag(
            "cgroup",
            "list",
            help="run in a sub-cgroup of the container's (v1: per controller; repeatable)",
            metavar="[CONTROLLER[,CONTROLLER]:]PATH",
        ),
    ],
)


def _process_from_flags(base, opts, argv):
    """The process of `exec CMD...`: the container's own (as `create` recorded
    it, never the bundle's config.json of now) with the flags applied."""
    from .. import errors

    proc = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
    proc["args"] = list(argv)
    proc["terminal"] = bool(opts.tty)
    if opts.cwd:
        proc["cwd"] = opts.cwd
    env = list(base.get("env") or [])
    for e in opts.env:
        key = e.split("=", 1)[0]
        env = [x for x in env if x.split("=", 1)[0] != key] + [e]
    proc["env"] = env
    user = dict(base.get("user") or {"uid": 0, "gid": 0})
    if opts.user:
        u, _, g = opts.user.partition(":")
        try:
            user["uid"] = int(u)
            if g:
                user["gid"] = int(g)
        except ValueError:
            raise errors.UsageError("--user: want UID[:GID] as numbers, got %r" % opts.user) from None
    if opts.additional_gids:
        try:
            user["additionalGids"] = [int(x) for x in opts.additional_gids]
        except ValueError:
            raise errors.UsageError("--additional-gids: want numbers, got %r" % opts.additional_gids) from None
    proc["user"] = user
    if opts.cap:
        caps = {k: list(v) for k, v in (base.get("capabilities") or {}).items()}
        for k in ("bounding", "effective", "permitted"):
            caps[k] = list(dict.fromkeys((caps.get(k) or []) + opts.cap))
        proc["capabilities"] = caps
    if opts.no_new_privs:
        proc["noNewPrivileges"] = True
    if opts.apparmor:
        proc["apparmorProfile"] = opts.apparmor
    if opts.process_label:
        proc["selinuxLabel"] = opts.process_label
    return proc


def _process_from_file(given, base):
    """`exec -p FILE`: the file's process; what it leaves out of the container's
    confinement (capabilities, rlimits, LSM labels) is the container's."""
    proc = dict(given)
    for key in ("capabilities", "rlimits", "apparmorProfile", "selinuxLabel"):
        if not proc.get(key) and base.get(key):
            proc[key] = base[key]
    return proc


# runc's status when exec itself fails (the container is missing, stopped or
# paused, the command is not found, the cwd or --user is bad...): 255, so a
# script can tell it from the process's own status, which is passed through.
# A bad command line (unknown flag, no container id) is a usage error: 1.
EXEC_FAILED = 255


def main(ctx, opts, args):
    from .. import errors

    try:
        return _main(ctx, opts, args)
    except errors.OciError as e:
        e.exit_code = EXEC_FAILED
        raise
    except OSError as e:
        # what no step turned into one line: still the runtime's failure
        err = errors.OciError("%s%s" % (e.strerror or e, (": `%s`" % e.filename) if e.filename else ""))
        err.exit_code = EXEC_FAILED
        raise err from None


def _main(ctx, opts, args):
    from .. import errors, spec
    from ..ops.exec import exec_process
    from ..ops.spawn import plug_preserved_fds

    # Before anything is opened: a hole in 3..3+N-1 would catch our first fd
    # (the state dir) and hand it to the process (CVE-2024-21626 class).
    plug_preserved_fds(opts.preserve_fds)
    cid, argv = args[0], args[1:]
    if opts.process:
        given = spec.read_json(opts.process, "process.json")
        if not isinstance(given, dict):
            raise errors.OciError("process.json: not a JSON object")
        make = lambda base: _process_from_file(given, base)  # noqa: E731
    else:
        if not argv:
            raise errors.UsageError('ocirun: "exec" requires a command (or --process FILE)')
        make = lambda base: _process_from_flags(base, opts, argv)  # noqa: E731
    return exec_process(
        ctx,
        cid,
        make,
        detach=opts.detach,
        pid_file=opts.pid_file,
        console_socket=opts.console_socket,
        preserve_fds=opts.preserve_fds or 0,
        pidfd_socket=opts.pidfd_socket,
        cgroup=opts.cgroup,
        ignore_paused=opts.ignore_paused,
    )
