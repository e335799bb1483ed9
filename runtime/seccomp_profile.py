"""linux.seccomp, the profile: its vocabulary (actions, operators,
architectures, flags) and its checks.

`problems()` is pure (no libseccomp, no kernel): validation.py runs it in its
one pass, and seccomp.compile_filter runs it again before compiling. What
only libseccomp can tell (an unknown syscall, a NOTIFY rule that is left out)
is seccomp.py's.
"""

FIELD = "linux.seccomp"

# name -> (attribute of the core holding its value, takes errnoRet)
ACTIONS = {
    "SCMP_ACT_KILL": ("OCIRUN_SCMP_ACT_KILL_THREAD", False),
    "SCMP_ACT_KILL_PROCESS": ("OCIRUN_SCMP_ACT_KILL_PROCESS", False),
    "SCMP_ACT_KILL_THREAD": ("OCIRUN_SCMP_ACT_KILL_THREAD", False),
    "SCMP_ACT_TRAP": ("OCIRUN_SCMP_ACT_TRAP", False),
    "SCMP_ACT_ERRNO": ("OCIRUN_SCMP_ACT_ERRNO", True),
    "SCMP_ACT_TRACE": ("OCIRUN_SCMP_ACT_TRACE", True),
    "SCMP_ACT_ALLOW": ("OCIRUN_SCMP_ACT_ALLOW", False),
    "SCMP_ACT_LOG": ("OCIRUN_SCMP_ACT_LOG", False),
    "SCMP_ACT_NOTIFY": ("OCIRUN_SCMP_ACT_NOTIFY", False),
}

OPERATORS = {
    "SCMP_CMP_NE": "OCIRUN_SCMP_CMP_NE",
    "SCMP_CMP_LT": "OCIRUN_SCMP_CMP_LT",
    "SCMP_CMP_LE": "OCIRUN_SCMP_CMP_LE",
    "SCMP_CMP_EQ": "OCIRUN_SCMP_CMP_EQ",
    "SCMP_CMP_GE": "OCIRUN_SCMP_CMP_GE",
    "SCMP_CMP_GT": "OCIRUN_SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ": "OCIRUN_SCMP_CMP_MASKED_EQ",
}

# The spec's architectures (libseccomp 2.6's list); libseccomp's own name is
# the lowercased suffix. One the linked libseccomp does not know is skipped:
# the filter's bad-arch action (kill) then covers that architecture.
ARCHS = (
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
)

# seccomp(2) flags a config may ask for (SECCOMP_FILTER_FLAG_*).
FLAG_TSYNC = 1
FLAG_LOG = 2
FLAG_SPEC_ALLOW = 4
FLAG_NEW_LISTENER = 8
FLAG_TSYNC_ESRCH = 16
FLAG_WAIT_KILLABLE_RECV = 32
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FLAG_WAIT_KILLABLE_RECV,
}

# After loading a filter with a listener the child sends the listener fd up
# with sendmsg, and reports errors with write: a NOTIFY on those would wait for
# an agent that cannot have the fd yet. (runc refuses NOTIFY on write too.)
NOTIFY_FORBIDDEN = ("sendmsg", "write")

EPERM = 1
_MAX_ERRNO = 4094  # libseccomp takes errno values below 4095 (MAX_ERRNO)
_MAX_ARG_INDEX = 5
_U64 = 2**64 - 1


def _uint_problem(v, limit):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= limit:
        return "%r is not an integer from 0 to %d" % (v, limit)
    return None


def _check_action(name, errno_ret, field, errno_field, add):
    if name is None:
        add(field, "is required")
    elif not isinstance(name, str) or name not in ACTIONS:
        add(field, "unknown action `%s`" % (name,))
    elif errno_ret is not None:
        if not ACTIONS[name][1]:
            add(errno_field, "%s takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)" % name)
        else:
            why = _uint_problem(errno_ret, _MAX_ERRNO if name == "SCMP_ACT_ERRNO" else 0xFFFF)
            if why:
                add(errno_field, why)


def _check_conditions(args, field, add):
    if args is None:
        return
    if not isinstance(args, list):
        add(field, "must be an array")
        return
    for j, a in enumerate(args):
        f = "%s[%d]" % (field, j)
        if not isinstance(a, dict):
            add(f, "must be an object")
            continue
        op = a.get("op")
        if not isinstance(op, str) or op not in OPERATORS:
            add(f + ".op", "unknown operator `%s`" % (op,))
        for key, default, limit in (("index", None, _MAX_ARG_INDEX), ("value", None, _U64), ("valueTwo", 0, _U64)):
            why = _uint_problem(a.get(key, default), limit)
            if why:
                add("%s.%s" % (f, key), why)


def _check_names(names, field, notify, add):
    if not isinstance(names, list) or not names:
        add(field, "must be a non-empty array of syscall names")
        return
    for k, name in enumerate(names):
        if not isinstance(name, str) or not name or "\0" in name:
            add("%s[%d]" % (field, k), "must be a syscall name")
        elif notify and name in NOTIFY_FORBIDDEN:
            add(
                "%s[%d]" % (field, k),
                "SCMP_ACT_NOTIFY cannot be used for `%s`: ocirun needs it to hand the listener to the agent" % name,
            )


def _check_list(cfg, key, known, what, add):
    items = cfg.get(key)
    if items is None:
        return
    if not isinstance(items, list):
        add("%s.%s" % (FIELD, key), "must be an array")
        return
    for i, name in enumerate(items):
        if not isinstance(name, str) or name not in known:
            add("%s.%s[%d]" % (FIELD, key, i), "unknown %s `%s`" % (what, name))


def problems(cfg):
    """(path, message) of each fault compile_filter would refuse in a
    linux.seccomp object, in the order it meets them; [] when none. Pure: no
    libseccomp, no kernel (validation.py runs it in its one pass). What only
    libseccomp can tell (an unknown syscall, a NOTIFY rule that is left out)
    is compile_filter's."""
    out = []
    add = lambda path, msg: out.append((path, msg))  # noqa: E731
    if not isinstance(cfg, dict):
        return [(FIELD, "must be an object")]
    _check_action(
        cfg.get("defaultAction"), cfg.get("defaultErrnoRet"), FIELD + ".defaultAction", FIELD + ".defaultErrnoRet", add
    )
    if cfg.get("defaultAction") == "SCMP_ACT_NOTIFY":
        add(FIELD + ".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    _check_list(cfg, "architectures", ARCHS, "architecture", add)
    _check_list(cfg, "flags", FLAGS, "flag", add)
    syscalls = cfg.get("syscalls")
    if syscalls is not None and not isinstance(syscalls, list):
        add(FIELD + ".syscalls", "must be an array")
        syscalls = None
    for i, sc in enumerate(syscalls or ()):
        f = "%s.syscalls[%d]" % (FIELD, i)
        if not isinstance(sc, dict):
            add(f, "must be an object")
            continue
        if not isinstance(sc.get("names"), list) or not sc["names"]:
            _check_names(sc.get("names"), f + ".names", False, add)
        _check_action(sc.get("action"), sc.get("errnoRet"), f + ".action", f + ".errnoRet", add)
        _check_conditions(sc.get("args"), f + ".args", add)
        if isinstance(sc.get("names"), list) and sc["names"]:
            _check_names(sc["names"], f + ".names", sc.get("action") == "SCMP_ACT_NOTIFY", add)
    if cfg.get("listenerMetadata") is not None and not cfg.get("listenerPath"):
        add(FIELD + ".listenerMetadata", "must not be set without listenerPath")
    if cfg.get("listenerPath") is not None and not isinstance(cfg.get("listenerPath"), str):
        add(FIELD + ".listenerPath", "must be a string")
    return out
