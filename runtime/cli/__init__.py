"""Command-line parsing shaped like runc's (urfave/cli): a table, no argparse.

argparse costs ~20 ms of imports per call, and engines call `state` and `kill`
constantly; this parser also accepts what runc accepts: `-flag` and `--flag`,
`--flag=value`, bool flags with `=true|false`, and options after positional
arguments (until `--`, or for `exec`/`ps` until the command's own arguments).
"""

from .. import errors


class Flag:
    """One option. kind: "bool", "str", "int" or "list" (repeatable)."""

    __slots__ = ("names", "kind", "default", "help", "metavar", "dest")

    def __init__(self, names, kind="bool", default=None, help="", metavar=None):
        self.names = names.split(",") if isinstance(names, str) else list(names)
        self.kind = kind
        self.dest = self.names[0].replace("-", "_")
        if default is None:
            default = {"bool": False, "list": [], "int": None}.get(kind)
        self.default = default
        self.help = help
        self.metavar = metavar or "value"


class Command:
    """What a command module declares: its flags and positional arguments."""

    def __init__(self, name, summary, usage="<container-id>", flags=(), nargs=(1, 1), stop_after=None, description=""):
        self.name = name
        self.summary = summary
        self.usage = usage
        self.flags = list(flags)
        self.nargs = nargs  # (min, max); max None = unbounded
        # Positional count after which everything is the command's own argv (exec, ps).
        self.stop_after = stop_after
        self.description = description


# name -> (module under runtime.cli, one-line summary). Modules are imported only when run.
COMMANDS = {
    "create": ("create", "create a container"),
    "start": ("start", "executes the user defined process in a created container"),
    "run": ("run", "create and run a container"),
    "state": ("state", "output the state of a container"),
    "kill": ("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process"),
    "delete": ("delete", "delete any resources held by the container often used with detached container"),
    "list": ("listing", "lists containers started by ocirun with the given root"),
    "exec": ("exec", "execute new process inside the container"),
    "ps": ("ps", "ps displays the processes running inside a container"),
    "pause": ("pause", "pause suspends all processes inside the container"),
    "resume": ("resume", "resumes all processes that have been previously paused"),
    "events": ("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics"),
    "update": ("update", "update container resource constraints"),
    "spec": ("spec", "create a new specification file"),
    "features": ("features", "show the enabled features"),
    "validate": ("validate", "check a bundle's config.json against runtime-spec 1.3.0"),
}

GLOBAL_FLAGS = [
    Flag("root", "str", None, "root directory for storage of container state (default: /run/ocirun)", "DIR"),
    Flag("log", "str", None, "set the log file to write ocirun logs to (default is stderr only)", "FILE"),
    Flag("log-format", "str", "text", "set the log format ('text' (default), or 'json')", "FORMAT"),
    Flag("debug", "bool", help="enable debug logging"),
    Flag("systemd-cgroup", "bool", help="use the systemd cgroup driver (cgroupsPath slice:prefix:name)"),
    Flag("rootless", "str", "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')", "VALUE"),
    Flag("cgroup-manager", "str", "cgroupfs", "cgroup manager: 'cgroupfs', 'systemd' or 'disabled'", "MANAGER"),
    Flag("criu", "str", "criu", "path to the criu binary (accepted for compatibility; unused)", "PATH"),
    Flag("help,h", "bool", help="show help"),
    Flag("version,v", "bool", help="print the version"),
]


class Options:
    """Parsed flags as attributes (dashes become underscores)."""

    def __init__(self, flags):
        for f in flags:
            setattr(self, f.dest, list(f.default) if f.kind == "list" else f.default)

    def __repr__(self):
        return "Options(%r)" % self.__dict__


def _lookup(flags, name):
    for f in flags:
        if name in f.names:
            return f
    return None


_TRUE = ("true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")


def parse(flags, argv, prog, stop_after=None, interspersed=True):
    """Parse argv against flags; returns (Options, positionals).

    Global flags stop at the first positional (the command name); a command's
    flags may follow its positionals, as with runc.
    """
    opts = Options(flags)
    pos = []
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        if stop_after is not None and len(pos) >= stop_after:
            pos.extend(argv[i:])
            break
        if a == "--":
            pos.extend(argv[i + 1 :])
            break
        if len(a) > 1 and a[0] == "-":
            name, eq, val = a.lstrip("-").partition("=")
            f = _lookup(flags, name)
            if f is None:
                raise errors.UsageError("%s: flag provided but not defined: -%s" % (prog, name))
            if f.kind == "bool":
                if eq:
                    if val.lower() in _TRUE:
                        setattr(opts, f.dest, True)
                    elif val.lower() in _FALSE:
                        setattr(opts, f.dest, False)
                    else:
                        raise errors.UsageError("%s: invalid boolean value %r for flag -%s" % (prog, val, name))
                else:
                    setattr(opts, f.dest, True)
            else:
                if not eq:
                    i += 1
                    if i >= n:
                        raise errors.UsageError("%s: flag needs an argument: -%s" % (prog, name))
                    val = argv[i]
                if f.kind == "int":
                    try:
                        val = int(val, 0)
                    except ValueError:
                        raise errors.UsageError(
                            "%s: invalid value %r for flag -%s: parse error" % (prog, val, name)
                        ) from None
                if f.kind == "list":
                    getattr(opts, f.dest).append(val)
                else:
                    setattr(opts, f.dest, val)
            i += 1
            continue
        pos.append(a)
        i += 1
        if not interspersed:
            pos.extend(argv[i:])
            break
    return opts, pos


def check_nargs(cmd, args):
    lo, hi = cmd.nargs
    if lo == hi and len(args) != lo:
        raise errors.UsageError('ocirun: "%s" requires exactly %d argument(s)' % (cmd.name, lo))
    if len(args) < lo:
        raise errors.UsageError('ocirun: "%s" requires a minimum of %d argument(s)' % (cmd.name, lo))
    if hi is not None and len(args) > hi:
        raise errors.UsageError('ocirun: "%s" requires a maximum of %d argument(s)' % (cmd.name, hi))


def _flag_lines(flags):
    lines = []
    for f in flags:
        names = ", ".join(("--" if len(n) > 1 else "-") + n for n in f.names)
        if f.kind != "bool":
            names += " " + f.metavar
        lines.append("   %-28s %s" % (names, f.help))
    return lines


def global_help():
    from .. import __version__

    lines = [
        "NAME:",
        "   ocirun - an OCI runtime-spec %s container runtime" % "1.3.0",
        "",
        "USAGE:",
        "   ocirun [global options] command [command options] [arguments...]",
        "",
        "VERSION:",
        "   %s" % __version__,
        "",
        "COMMANDS:",
    ]
    for name, (_, summary) in COMMANDS.items():
        lines.append("   %-10s %s" % (name, summary))
    lines += ["", "GLOBAL OPTIONS:"] + _flag_lines(GLOBAL_FLAGS)
    return "\n".join(lines) + "\n"


def command_help(cmd):
    # runc's layout: "[command options]" only for a command that has some
    usage = " ".join(w for w in ("ocirun", cmd.name, "[command options]" if cmd.flags else "", cmd.usage) if w)
    lines = ["NAME:", "   ocirun %s - %s" % (cmd.name, cmd.summary), "", "USAGE:", "   " + usage]
    if cmd.description:
        lines += ["", "DESCRIPTION:"] + [("   " + l).rstrip() for l in cmd.description.strip().split("\n")]
    if cmd.flags:
        lines += ["", "OPTIONS:"] + _flag_lines(cmd.flags)
    return "\n".join(lines) + "\n"
