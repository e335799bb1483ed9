"""`ocirun exec ID CMD...` (or --process FILE): another process in a running container."""

from . import Command, Flag

COMMAND = Command("exec", "execute new process inside the container",
                  usage="<container-id> <command> [command options]", nargs=(1, None), stop_after=1, flags=[
                      Flag("process,p", "str", None, "path to a process.json (a config.json `process` object)", "FILE"),
                      Flag("tty,t", "bool", help="allocate a pseudo-TTY"),
                      Flag("console-socket", "str", None, "AF_UNIX socket that receives the pty master fd", "PATH"),
                      Flag("cwd", "str", None, "current working directory in the container", "DIR"),
                      Flag("env,e", "list", help="set an environment variable (repeatable)", metavar="KEY=VALUE"),
                      Flag("user,u", "str", None, "UID[:GID] to run as", "UID[:GID]"),
                      Flag("additional-gids,g", "list", help="additional gid (repeatable)", metavar="GID"),
                      Flag("cap,c", "list", help="add a capability to the bounding, effective and permitted sets",
                           metavar="CAP"),
                      Flag("no-new-privs", "bool", help="set no_new_privileges"),
                      Flag("detach,d", "bool", help="detach from the process"),
                      Flag("pid-file", "str", None, "file to write the process's pid to", "FILE"),
                      Flag("preserve-fds", "int", 0, "pass N additional fds (3 .. 3+N-1)", "N"),
                      Flag("process-label", "str", None, "SELinux label for the process", "LABEL"),
                      Flag("apparmor", "str", None, "apparmor profile for the process", "PROFILE"),
                      Flag("ignore-paused", "bool", help="accepted for compatibility"),
                  ])


def _process_from_flags(ctx, cid, opts, argv):
    from .. import errors, spec
    with ctx.store.load(cid) as c:
        bundle = c.data.get("bundle", "")
    try:
        base = spec.read_json("%s/config.json" % bundle, "config.json").get("process") or {}
    except errors.OciError:
        base = {}
    proc = dict(base)
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
        user["additionalGids"] = [int(x) for x in opts.additional_gids]
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


def main(ctx, opts, args):
    from .. import errors, lifecycle, spec
    cid, argv = args[0], args[1:]
    if opts.process:
        proc = spec.read_json(opts.process, "process.json")
        if not isinstance(proc, dict):
            raise errors.OciError("process.json: not a JSON object")
    else:
        if not argv:
            raise errors.UsageError('ocirun: "exec" requires a command (or --process FILE)')
        proc = _process_from_flags(ctx, cid, opts, argv)
    return lifecycle.exec_process(ctx, cid, proc, detach=opts.detach, pid_file=opts.pid_file,
                                  console_socket=opts.console_socket, preserve_fds=opts.preserve_fds or 0)
