"""linux.seccomp: compiled into a BPF program here, in the parent, before clone.

The child only loads the bytes (core/seccomp.c, `ocirun_seccomp_load`): every
check, every name lookup and every allocation happens in this module, where a
bad profile becomes one line naming the field, e.g.

    linux.seccomp.syscalls[3].action: unknown action `SCMP_ACT_FOO`

What it accepts, and the choices that follow runc:
  * syscall names libseccomp does not know are skipped (debug line), so one
    profile serves kernels and libseccomp releases of different ages;
  * a rule whose action is the default action is dropped (libseccomp refuses
    it, and it changes nothing);
  * `args`: conditions on different indexes are ANDed in one rule; as soon as
    two share an index, every condition becomes a rule of its own (ORed);
  * `errnoRet` is only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, EPERM if absent;
  * `flags` the kernel lacks are left out (debug line); FEATURES() lists the
    ones it has;
  * SCMP_ACT_NOTIFY needs `listenerPath`, cannot be the default action and
    cannot apply to the syscalls the child uses to hand the listener up.
"""

from . import errors
from .seccomp_profile import (
    ACTIONS,
    ARCHS,
    EPERM,
    FIELD,
    FLAG_NEW_LISTENER,
    FLAG_TSYNC,
    FLAG_TSYNC_ESRCH,
    FLAG_WAIT_KILLABLE_RECV,
    FLAGS,
    OPERATORS,
    problems,
)

_nr_cache = {}
_probe_cache = {}


class Filter:
    """A compiled filter, ready for the plan.

    bpf:   the program, `struct sock_filter` instructions (8 bytes each);
    flags: for seccomp(SECCOMP_SET_MODE_FILTER, flags, ...); it includes
           FLAG_NEW_LISTENER when needs_listener is true, and then the call
           returns the listener fd, to be sent to listener_path
           (send_listener_fd) with listener_metadata.
    """

    __slots__ = (
        "bpf",
        "flags",
        "needs_listener",
        "listener_path",
        "listener_metadata",
        "default_action",
        "n_rules",
        "skipped",
    )

    def __init__(self, bpf, flags, needs_listener, listener_path, listener_metadata, default_action, n_rules, skipped):
        self.bpf = bpf
        self.flags = flags
        self.needs_listener = needs_listener
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.default_action = default_action
        self.n_rules = n_rules  # libseccomp rules added
        self.skipped = skipped  # syscall names libseccomp does not know

    @property
    def instructions(self):
        return len(self.bpf) // 8

    def __repr__(self):
        return "<seccomp.Filter %d instructions, flags %#x%s>" % (
            self.instructions,
            self.flags,
            ", listener" if self.needs_listener else "",
        )


def _core():
    from . import core

    return core.load()


def _log():
    from . import log

    return log.LOG


def _bad(field, msg):
    return errors.ConfigError(["%s: %s" % (field, msg)])


def _action(lib, name, errno_ret):
    """The filter's value of a checked action (problems() passed)."""
    attr, takes_errno = ACTIONS[name]
    value = getattr(lib, attr)
    if takes_errno:
        value |= EPERM if errno_ret is None else errno_ret
    return value


def _syscall_nr(lib, name):
    nr = _nr_cache.get(name)
    if nr is None:
        nr = _nr_cache[name] = lib.ocirun_seccomp_syscall_nr(name.encode())
    return nr


def _conditions(lib, args):
    """checked config `args` -> a list of condition lists, one per libseccomp rule."""
    conds = [(a["index"], getattr(lib, OPERATORS[a["op"]]), a["value"], a.get("valueTwo", 0)) for a in args or ()]
    indexes = [c[0] for c in conds]
    if len(set(indexes)) != len(indexes):
        # runc's rule: two conditions on one argument cannot hold at once in a
        # single libseccomp rule, so the entry means "any of them".
        return [[c] for c in conds]
    return [conds]


def compile_filter(cfg):
    """Check linux.seccomp (problems()) and compile it; returns a Filter.

    Raises errors.ConfigError naming the field for a bad profile and
    errors.CoreError when libseccomp refuses it."""
    bad = problems(cfg)
    if bad:
        raise _bad(*bad[0])
    ffi, lib = _core()
    log = _log()
    default = _action(lib, cfg["defaultAction"], cfg.get("defaultErrnoRet"))

    archs = []
    for name in cfg.get("architectures") or ():
        token = lib.ocirun_seccomp_arch(name[len("SCMP_ARCH_") :].lower().encode())
        if not token:
            log.debug("seccomp: architecture %s unknown to libseccomp %s, left out" % (name, _library(lib)))
            continue
        archs.append((token, name))

    wanted = 0
    for name in cfg.get("flags") or ():
        wanted |= FLAGS[name]

    rules = []  # (name, nr, action, origin, conditions)
    skipped = []
    for i, sc in enumerate(cfg.get("syscalls") or ()):
        action = _action(lib, sc["action"], sc.get("errnoRet"))
        if action == default:
            continue
        conds = _conditions(lib, sc.get("args"))
        for name in sc["names"]:
            nr = _syscall_nr(lib, name)
            if nr == -1:
                skipped.append(name)
                continue
            for c in conds:
                rules.append((name, nr, action, i, c))
    needs_listener = any(r[2] == lib.OCIRUN_SCMP_ACT_NOTIFY for r in rules)
    if skipped:
        log.debug(
            "seccomp: syscalls unknown to libseccomp %s skipped: %s" % (_library(lib), ", ".join(sorted(set(skipped))))
        )

    listener_path = cfg.get("listenerPath")
    metadata = cfg.get("listenerMetadata")
    if needs_listener and not listener_path:
        raise _bad(FIELD + ".listenerPath", "is required when SCMP_ACT_NOTIFY is used")

    flags = _seccomp_flags(lib, wanted, needs_listener, log)
    bpf = _compile(ffi, lib, default, archs, rules)
    return Filter(
        bpf,
        flags,
        needs_listener,
        listener_path if needs_listener else None,
        metadata if needs_listener else None,
        default,
        len(rules),
        skipped,
    )


CACHE_FORMAT = 1


def compile_cached(cfg, cache_dir):
    """compile_filter(cfg), reusing an earlier compilation of the same profile.

    Engines give every container the same large profile, and libseccomp takes
    ~20 ms to compile one of podman's size; a hit costs well under 1 ms. The
    key is the profile's canonical JSON plus everything else the program
    depends on (libseccomp's version, the kernel, this cache's format), so a
    changed input can never load a stale program.

    cache_dir is the state root's `.cache`: it must be a directory of ours
    that nobody else may write (made 0700 if missing), or the create fails
    with one line naming it. An entry is loaded only if it is a regular file
    of ours that nobody else may write (fstat of the fd read, no symlink
    followed); anything else is ignored and replaced by a fresh compilation,
    written atomically (files.atomic_write).
    """
    import os

    from . import fastjson, files

    try:
        from _sha256 import sha256
    except ImportError:  # Python 3.12+
        from hashlib import sha256
    ffi, lib = _core()
    u = os.uname()
    key = "%d|%s|%s|%s|%d|%s" % (
        CACHE_FORMAT,
        _library(lib),
        u.release,
        u.machine,
        lib.ocirun_core_version(),
        fastjson.canonical(cfg),
    )
    name = "seccomp-" + sha256(key.encode()).hexdigest()
    dfd = _open_cache_dir(cache_dir)
    if dfd is None:
        return compile_filter(cfg)
    try:
        try:
            fd = files.open_trusted(name, dfd)
        except (OSError, ValueError) as e:
            if not isinstance(e, FileNotFoundError):
                _log().debug("seccomp: ignoring cache entry `%s/%s`: %s" % (cache_dir, name, e))
        else:
            try:
                head, _, bpf = files.read_all(fd).partition(b"\n")
            finally:
                os.close(fd)
            try:
                meta = fastjson.loads(head)
                if meta.get("len") == len(bpf):
                    return Filter(
                        bpf,
                        meta["flags"],
                        meta["needs_listener"],
                        cfg.get("listenerPath") if meta["needs_listener"] else None,
                        cfg.get("listenerMetadata") if meta["needs_listener"] else None,
                        meta["default"],
                        meta["n_rules"],
                        meta["skipped"],
                    )
            except (ValueError, KeyError, TypeError, AttributeError):
                pass  # a damaged entry: compile again and replace it
        flt = compile_filter(cfg)
        meta = {
            "len": len(flt.bpf),
            "flags": flt.flags,
            "needs_listener": flt.needs_listener,
            "default": flt.default_action,
            "n_rules": flt.n_rules,
            "skipped": list(flt.skipped),
        }
        try:
            files.atomic_write(dfd, name, fastjson.dumps(meta, tight=True).encode() + b"\n" + flt.bpf)
        except OSError as e:
            _log().debug("seccomp: cannot cache the compiled filter in `%s`: %s" % (cache_dir, e))
        return flt
    finally:
        os.close(dfd)


def _open_cache_dir(cache_dir):
    """An fd of cache_dir (made 0700 if missing), or None if it cannot be made
    (the filter is then compiled uncached); one clear OciError if it is not a
    directory of ours that nobody else may write."""
    import os
    import stat

    from . import files

    made = False
    try:
        try:
            os.mkdir(cache_dir, 0o700)
            made = True
        except FileExistsError:
            pass
        fd = files.open_trusted(cache_dir, None, stat.S_IFDIR)
    except ValueError as e:
        raise errors.OciError("seccomp cache `%s` is %s: refusing to use it" % (cache_dir, e)) from None
    except OSError as e:
        _log().debug("seccomp: no cache in `%s`: %s" % (cache_dir, e))
        return None
    if made:
        os.fchmod(fd, 0o700)  # whatever the umask
    return fd


def _seccomp_flags(lib, wanted, needs_listener, log):
    supported = _supported_flags(lib)
    flags = 0
    for name, bit in FLAGS.items():
        if not wanted & bit:
            continue
        if name not in supported:
            log.debug("seccomp: %s is not supported by this kernel, left out" % name)
            continue
        if bit == FLAG_WAIT_KILLABLE_RECV and not needs_listener:
            log.debug("seccomp: %s without SCMP_ACT_NOTIFY means nothing, left out" % name)
            continue
        flags |= bit
    if needs_listener:
        flags |= FLAG_NEW_LISTENER
        if flags & FLAG_TSYNC:
            # The kernel refuses TSYNC with a listener unless TSYNC_ESRCH says
            # how to report a thread that cannot sync. The child is single
            # threaded, so TSYNC has nothing to do there anyway.
            if _probe_flags(lib, FLAG_TSYNC | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH):
                flags |= FLAG_TSYNC_ESRCH
            else:
                flags &= ~FLAG_TSYNC
    return flags


def _compile(ffi, lib, default, archs, rules):
    keep = []
    c_rules = ffi.new("struct ocirun_seccomp_rule[]", max(len(rules), 1))
    for r, (name, nr, action, origin, conds) in zip(c_rules, rules):
        r.name = cname = ffi.new("char[]", name.encode())
        keep.append(cname)
        r.nr = nr
        r.action = action
        r.origin = origin
        r.n_args = len(conds)
        if conds:
            c_args = ffi.new("struct ocirun_seccomp_arg[]", len(conds))
            keep.append(c_args)
            for a, (index, op, value, value_two) in zip(c_args, conds):
                a.index, a.op, a.value, a.value_two = index, op, value, value_two
            r.args = c_args
    c_archs = ffi.new("uint32_t[]", [token for token, _ in archs] or [0])
    names = [ffi.new("char[]", name.encode()) for _, name in archs]
    c_names = ffi.new("const char *[]", names or [ffi.NULL])
    cfg = ffi.new("struct ocirun_seccomp_config *")
    cfg.default_action = default
    cfg.archs, cfg.arch_names, cfg.n_archs = c_archs, c_names, len(archs)
    cfg.rules, cfg.n_rules = c_rules, len(rules)
    cap = 8 * lib.OCIRUN_SECCOMP_MAX_INSNS
    out = ffi.new("uint8_t[]", cap)
    err = ffi.new("struct ocirun_error *")
    n = lib.ocirun_seccomp_compile(cfg, out, cap, err)
    if n < 0:
        raise errors.CoreError(err.err_no, "seccomp", ffi.string(err.msg).decode(errors="replace"))
    return bytes(ffi.buffer(out, n))


def _library(lib):
    """`2.5.4 (API level 6)`: the linked libseccomp, for messages."""
    v = _probe_cache.get("library")
    if v is None:
        ffi = _core()[0]
        parts = ffi.new("uint32_t[3]")
        api = lib.ocirun_seccomp_library(parts, parts + 1, parts + 2)
        v = _probe_cache["library"] = "%d.%d.%d (API level %d)" % (parts[0], parts[1], parts[2], api)
    return v


def _probe_flags(lib, bits):
    key = ("flags", bits)
    if key not in _probe_cache:
        _probe_cache[key] = lib.ocirun_seccomp_flags_avail(bits) == 1
    return _probe_cache[key]


def _supported_flags(lib):
    out = []
    for name, bit in FLAGS.items():
        # WAIT_KILLABLE_RECV is only accepted together with a listener.
        probe = bit | FLAG_NEW_LISTENER if bit == FLAG_WAIT_KILLABLE_RECV else bit
        if _probe_flags(lib, probe):
            out.append(name)
    return out


def _enabled(lib):
    # SECCOMP_SET_MODE_FILTER with a NULL program fails with EFAULT, not
    # EINVAL, exactly when the kernel has filter mode.
    return _probe_flags(lib, 0)


def FEATURES():
    """linux.seccomp of the features document, measured on this kernel and libseccomp."""
    try:
        ffi, lib = _core()
    except errors.OciError:
        return {"enabled": False}
    if not _enabled(lib):
        return {"enabled": False}
    actions = []
    for name, (attr, _) in ACTIONS.items():
        avail = lib.ocirun_seccomp_action_avail(getattr(lib, attr))
        if avail < 0:
            # A kernel before 4.14 cannot be asked; it has the classic five.
            avail = name in (
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_TRAP",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_ALLOW",
            )
        if avail:
            actions.append(name)
    return {
        "enabled": True,
        "actions": actions,
        "operators": list(OPERATORS),
        "archs": [a for a in ARCHS if lib.ocirun_seccomp_arch(a[len("SCMP_ARCH_") :].lower().encode())],
        "knownFlags": list(FLAGS),
        "supportedFlags": _supported_flags(lib),
    }


def send_listener_fd(listener_path, fd, state, metadata=None, pid=None):
    """Hand a seccomp listener fd to the agent at listener_path.

    One AF_UNIX SOCK_STREAM connection, the container process state as JSON
    with the fd attached (SCM_RIGHTS) to the first sendmsg, then close.
    `state` is the container's state (runtime.md); the message's pid is the
    filtered process's: `pid`, or the state's (the init's) when not given."""
    import array
    import socket

    from . import SPEC_VERSION, fastjson

    msg = {
        "ociVersion": SPEC_VERSION,
        "fds": ["seccompFd"],
        "pid": state.get("pid") if pid is None else pid,
        "state": state,
    }
    if metadata:
        msg["metadata"] = metadata
    payload = fastjson.dumps(msg, tight=True).encode()
    from .terminal import CONNECT_TIMEOUT, bound_sends

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
            # bounded: an agent that never accepts (its backlog full) or never reads
            bound_sends(s)
            s.connect(listener_path)
            sent = s.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
            if sent < len(payload):
                s.sendall(payload[sent:])  # the fd went with the first part only
    except (TimeoutError, BlockingIOError):
        raise errors.OciError(
            "send the seccomp listener to `%s`: the agent did not accept or read within %g s"
            % (listener_path, CONNECT_TIMEOUT)
        ) from None
    except OSError as e:
        raise errors.os_error("send the seccomp listener to", listener_path, e) from None
