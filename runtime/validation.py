"""What config.json must satisfy beyond its schema: the spec's MUSTs a schema cannot say.

problems(cfg, bundle) returns every problem as 'path: message' (schema errors
first, then these checks, run on whatever the schema let through);
findings(cfg, bundle) the same as (path, message) pairs; warnings(cfg) the
things the spec says to log and ignore (capabilities this kernel does not know).
"""

import errno
import os

from . import errors, mounts, schema as _schema, tolerance
from .linux import CAP_NUMBERS, NS_FLAGS, NS_GET_NSTYPE, RLIMITS, cap_last_cap

_SCHEMAS = None

# sysctl keys a namespace makes private, and which namespace (runc's rules).
_IPC_SYSCTLS = frozenset(
    (
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    )
)
_UTS_SYSCTLS = frozenset(("kernel.domainname", "kernel.hostname"))

HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def schemas():
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = _schema.Schemas()
    return _SCHEMAS


def problems(cfg, bundle):
    """Every problem as a 'path: message' line ([] when valid)."""
    return [_line(p, m) for p, m in findings(cfg, bundle)]


def findings(cfg, bundle):
    """Every problem as (path, message), path formatted ('process.cwd', '' for the top).

    Schema errors come first. The semantic checks then run on whatever the
    schema let through, so one pass tells everything: a check that trips over
    a part the schema refused is skipped (that part has its own error), and a
    check's finding at or under a refused path is left out as a repeat.
    """
    out, seen = [], set()  # a set: 70,000 bad mounts must not take quadratic time
    bad = []  # paths the schema refused

    def keep(f):
        if f not in seen:  # nested alternatives can report one fault twice
            seen.add(f)
            out.append(f)

    note = not (isinstance(cfg, dict) and "windows" in cfg)
    for p, m in schemas().validate(cfg, "config-schema.json"):
        if note:
            m = m.replace(_WINDOWS_NOTE, "")
        where = _schema.format_path(p)
        if tolerance.schema_tolerated(cfg, where, m):
            continue  # a de-facto form runc and crun accept: a warning (tolerance.warnings)
        if m.endswith(" is a required property") and m.startswith("'"):
            where = _schema.format_path(list(p) + [m.split("'")[1]])
        bad.append(where)
        keep((_schema.format_path(p), m))
    if not isinstance(cfg, dict):
        return out
    strings = _c_strings(cfg)
    if strings:  # what the checks below would hand the kernel as C strings
        for f in strings:
            keep(f)
        return out
    for f in _semantic(cfg, bundle, strict_shapes=not bad):
        if not any(_overlaps(f[0], b) for b in bad):
            keep(f)
    return out


# Linux configs: the schema's AbsolutePath also admits Windows forms; naming them confuses.
_WINDOWS_NOTE = " ('/...', or on Windows 'C:\\...' or '\\\\...')"


def _overlaps(a, b):
    """Is one of the JSON paths a, b the other or inside it?"""

    def under(x, y):
        return x == y or not y or x.startswith(y + ".") or x.startswith(y + "[")

    return under(a, b) or under(b, a)


def _c_strings(cfg):
    """Every string becomes a C string, a path or a file's content: a NUL byte
    or a lone surrogate (not encodable as UTF-8) is refused, naming the field."""
    out = []
    todo = [((), cfg)]
    while todo:
        path, v = todo.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                why = _bad_string(k)
                if why:
                    out.append((_schema.format_path(list(path) + [k]), "key " + why))
                todo.append((path + (k,), x))
        elif isinstance(v, list):
            todo.extend((path + (i,), x) for i, x in enumerate(v))
        elif isinstance(v, str):
            why = _bad_string(v)
            if why:
                out.append((_schema.format_path(list(path)), why))
    return sorted(out)


def _bad_string(s):
    if "\0" in s:
        return "contains a NUL byte"
    try:
        s.encode()
    except UnicodeEncodeError:
        return "is not valid UTF-8 (a lone surrogate)"
    return None


def _line(path, msg):
    p = path if isinstance(path, str) else _schema.format_path(path)
    return "%s: %s" % (p, msg) if p else msg


# Ids are uint32 in the schema, but (uid_t)-1 tells setresuid "leave it as it
# is" (root stays root) and the kernel refuses ids past INT32_MAX in maps:
# like runc, refuse anything above 2147483647.
MAX_ID = 2147483647


def _bad_id(v):
    if isinstance(v, bool) or not isinstance(v, int):
        return "%r is not an id (want an integer in 0..%d)" % (v, MAX_ID)
    if v < 0 or v > MAX_ID:
        return "%d is out of range (want 0..%d)" % (v, MAX_ID)
    return None


def user_problems(user, field="process.user"):
    """Problems of a process's `user` object ('path: message' lines)."""
    out = []
    if user is None:
        return out
    if not isinstance(user, dict):
        return ["%s: not a JSON object" % field]
    for key in ("uid", "gid"):
        if key in user:
            why = _bad_id(user[key])
            if why:
                out.append("%s.%s: %s" % (field, key, why))
    gids = user.get("additionalGids")
    if gids is not None:
        if not isinstance(gids, list):
            out.append("%s.additionalGids: not a list" % field)
        else:
            for i, g in enumerate(gids):
                why = _bad_id(g)
                if why:
                    out.append("%s.additionalGids[%d]: %s" % (field, i, why))
    return out


def mapping_problems(obj, prefix="linux"):
    """Problems of the uid/gidMappings of `obj` (linux, or an idmapped mount)."""
    out = []
    for key in ("uidMappings", "gidMappings"):
        for i, m in enumerate(obj.get(key) or ()):
            field = "%s.%s[%d]" % (prefix, key, i)
            bad = False
            for k in ("containerID", "hostID", "size"):
                why = _bad_id(m.get(k))
                if why:
                    out.append("%s.%s: %s" % (field, k, why))
                    bad = True
            if bad:
                continue
            for k in ("containerID", "hostID"):
                if m[k] + m["size"] - 1 > MAX_ID:
                    out.append(
                        "%s: %s + size - 1 = %d is out of range (want 0..%d)" % (field, k, m[k] + m["size"] - 1, MAX_ID)
                    )
    return out


# A check that meets a shape the schema refused raises one of these.
SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError)


def _semantic(cfg, bundle, strict_shapes=True):
    out = []
    add = lambda path, msg: out.append((path, msg))  # noqa: E731
    for check in (
        _check_version,
        _check_root,
        _check_cwd,
        _check_rlimits,
        _check_hooks,
        _check_mounts,
        _check_linux_part,
    ):
        try:
            check(cfg, bundle, add)
        except SHAPE_ERRORS:
            if strict_shapes:  # the schema passed: this is a bug, let it show
                raise
    return out


def _check_version(cfg, bundle, add):
    v = cfg["ociVersion"]  # the schema made sure it is SemVer
    major = int(v.split(".", 1)[0])
    if major != 1:
        add("ociVersion", "%r: major version %d is not supported (want 1.x)" % (v, major))


def _check_root(cfg, bundle, add):
    root = cfg.get("root")
    if root is not None:
        rp = root["path"]
        full = rp if os.path.isabs(rp) else os.path.join(bundle, rp)
        if not os.path.exists(full):
            add("root.path", "%r does not exist" % rp)
        elif not os.path.isdir(full):
            add("root.path", "%r is not a directory" % rp)


def _check_cwd(cfg, bundle, add):
    proc = cfg.get("process")
    if proc is not None:
        _add_lines(add, user_problems(proc.get("user")))
        cwd = proc.get("cwd", "")
        if not cwd.startswith("/"):
            add("process.cwd", "%r is not an absolute path" % cwd)
        umask = (proc.get("user") or {}).get("umask")
        if umask is not None and umask > 0o777:  # umask(2) keeps the permission bits only
            add("process.user.umask", "%d (%#o) is not a permission mask (0 to 0777)" % (umask, umask))
        size = proc.get("consoleSize") or {}
        for dim in ("height", "width"):
            if size.get(dim, 0) > 0xFFFF:  # struct winsize holds unsigned shorts
                add("process.consoleSize.%s" % dim, "%d is above the largest terminal size 65535" % size[dim])


def _check_rlimits(cfg, bundle, add):
    proc = cfg.get("process")
    if proc is not None:
        seen = set()
        for i, rl in enumerate(proc.get("rlimits", ())):
            t = rl["type"]
            if t not in RLIMITS:
                add("process.rlimits[%d].type" % i, "%r is not a resource limit this kernel knows" % t)
            if t in seen:
                add("process.rlimits[%d].type" % i, "%r is given more than once" % t)
            seen.add(t)
            if isinstance(rl.get("soft"), int) and isinstance(rl.get("hard"), int) and rl["soft"] > rl["hard"]:
                add("process.rlimits[%d]" % i, "soft limit %d is above the hard limit %d" % (rl["soft"], rl["hard"]))


def _check_hooks(cfg, bundle, add):
    hooks = cfg.get("hooks") or {}
    for kind in HOOK_KINDS:  # other keys are not hooks (the schema lets them be anything)
        for i, h in enumerate(hooks.get(kind) or ()):
            if not h["path"].startswith("/"):
                add("hooks.%s[%d].path" % (kind, i), "%r is not an absolute path" % h["path"])


def _check_mounts(cfg, bundle, add):
    for i, m in enumerate(cfg.get("mounts", ())):
        if m.get("type") == "bind" and "source" not in m:
            add("mounts[%d].source" % i, "a bind mount needs a source")
        why = mounts.proc_mount_problem(m, bundle)
        if why:
            add("mounts[%d].destination" % i, why)
        _add_lines(add, mapping_problems(m, "mounts[%d]" % i))


def _check_linux_part(cfg, bundle, add):
    linux = cfg.get("linux")
    if linux is not None:
        _check_linux(cfg, linux, add)


def _add_lines(add, lines):
    for line in lines:
        path, _, msg = line.partition(": ")
        add(path, msg)


def _check_linux(cfg, linux, add):
    _add_lines(add, mapping_problems(linux))
    from .cgroups import resources  # parsed here, so a bad one fails before anything is made

    _add_lines(add, resources.problems(linux.get("resources")))
    nss = linux.get("namespaces", [])
    types = {}
    for i, ns in enumerate(nss):
        t = ns["type"]
        if t in types:
            add(
                "linux.namespaces[%d].type" % i, "duplicate namespace %r (also at linux.namespaces[%d])" % (t, types[t])
            )
            continue
        types[t] = i
        path = ns.get("path")
        if path:
            if not path.startswith("/"):
                add("linux.namespaces[%d].path" % i, "%r is not an absolute path" % path)
            else:
                why = _namespace_mismatch(path, t)
                if why:
                    add("linux.namespaces[%d].path" % i, why)
    new = {t for t, i in types.items() if not nss[i].get("path")}

    user = nss[types["user"]] if "user" in types else None
    has_maps = bool(linux.get("uidMappings")) or bool(linux.get("gidMappings"))
    if user is not None and not user.get("path"):
        if not has_maps:
            # tolerated (tolerance.py): 0 is mapped to the runtime's ids, so only user 0:0 fits
            if tolerance.unmapped_userns(linux) and not tolerance.unmapped_user_ok(cfg.get("process")):
                add("process.user", tolerance.UNMAPPED_USER_MESSAGE)
        elif not linux.get("uidMappings"):
            add("linux.uidMappings", "a new user namespace with gid mappings needs uid mappings")
        elif not linux.get("gidMappings"):
            add("linux.gidMappings", "a new user namespace with uid mappings needs gid mappings")
    elif has_maps and user is None:
        add(
            "linux.uidMappings" if linux.get("uidMappings") else "linux.gidMappings",
            "id mappings are given but there is no user namespace",
        )

    # a joined uts namespace is tolerated (tolerance.py): runc and crun set its names
    if cfg.get("hostname") and "uts" not in types:
        add("hostname", "setting the hostname needs a uts namespace (it would change the host's)")
    if cfg.get("domainname") and "uts" not in types:
        add("domainname", "setting the domainname needs a uts namespace (it would change the host's)")
    if linux.get("timeOffsets") and "time" not in new:
        add("linux.timeOffsets", "time offsets need a new time namespace")

    for key in linux.get("sysctl") or {}:
        where = "linux.sysctl[%s]" % _quote(key)
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" not in types:
                add(where, "needs an ipc namespace (it would change the host's)")
        elif key.startswith("net."):
            if "network" not in types:
                add(where, "needs a network namespace (it would change the host's)")
        elif key in _UTS_SYSCTLS:
            if "uts" not in types:
                add(where, "needs a uts namespace (it would change the host's)")
        else:
            add(where, "is not namespaced: setting it would change the host")

    for i, d in enumerate(linux.get("devices", ())):
        if not d["path"].startswith("/"):
            add("linux.devices[%d].path" % i, "%r is not an absolute path" % d["path"])
        if d["type"] in ("c", "b", "u") and ("major" not in d or "minor" not in d):
            add("linux.devices[%d]" % i, "a %r device needs major and minor numbers" % d["type"])
        for key in ("major", "minor"):
            if not 0 <= d.get(key, 0) <= 0xFFFFFFFF:  # the schema's int64; mknod takes 32 bits each
                add("linux.devices[%d].%s" % (i, key), "%d is not a device number (0 to 4294967295)" % d[key])
    for key in ("maskedPaths", "readonlyPaths"):
        for i, p in enumerate(linux.get(key, ())):
            if not p.startswith("/"):
                add("linux.%s[%d]" % (key, i), "%r is not an absolute path" % p)


def _namespace_mismatch(path, ns_type):
    """Why `path` is not a namespace of `ns_type`, or None when it is."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a fifo must not hang
    except OSError as e:
        return "cannot open %r: %s" % (path, os.strerror(e.errno))
    try:
        try:
            kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
        except OSError as e:
            if e.errno in (errno.ENOTTY, errno.EINVAL):
                return "%r is not a namespace" % path
            return "cannot inspect %r: %s" % (path, os.strerror(e.errno))
    finally:
        os.close(fd)
    if kind != NS_FLAGS[ns_type]:
        names = {v: k for k, v in NS_FLAGS.items()}
        return "%r is a %s namespace, not %s" % (path, names.get(kind, "different"), ns_type)
    return None


def _quote(key):
    return '"%s"' % key.replace("\\", "\\\\").replace('"', '\\"')


def warnings(cfg):
    """Capabilities this kernel cannot grant: the spec says log and ignore them."""
    out = []
    caps = ((cfg.get("process") or {}).get("capabilities")) or {}
    top = cap_last_cap()
    for kind in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for i, name in enumerate(caps.get(kind) or ()):
            n = CAP_NUMBERS.get(name)
            if n is None or n > top:
                out.append("process.capabilities.%s[%d]: %r is not known to this kernel; ignored" % (kind, i, name))
    return out


# -- what ocirun refuses although the spec allows it ---------------------------

IFNAMSIZ = 16


def refusals(cfg):
    """(path, message) of what create refuses in a config findings() passed:
    forms the spec allows that ocirun does not run (it would have to drop or
    guess them), in the order create meets them. Pure: what needs the host
    (a bind source, a namespace file, a network device) is plan.py's."""
    out = []
    add = lambda path, msg: out.append((path, msg))  # noqa: E731
    linux = cfg.get("linux", {})
    types = {ns["type"] for ns in linux.get("namespaces", ())}
    if "mount" not in types:
        add("linux.namespaces", "a mount namespace is required (ocirun never sets up a rootfs on the host's mounts)")
    _refuse_net_devices(linux.get("netDevices", {}), types, add)
    if not cfg.get("root", {}).get("path"):
        add("root.path", "missing")
    mounts.refusals(cfg.get("mounts", ()), "user" in types, add)
    for k in sorted(linux.get("sysctl", {})):
        if not k or ".." in k.split(".") or k.startswith("/") or "//" in k.replace(".", "/"):
            add("linux.sysctl", "invalid key %r" % k)
    if linux.get("personality", {}).get("flags"):
        add("linux.personality.flags", "personality flags are not supported")
    if linux.get("seccomp"):
        from . import seccomp_profile

        out.extend(seccomp_profile.problems(linux["seccomp"]))
    return out


def _refuse_net_devices(devs, types, add):
    if not devs:
        return
    if "network" not in types:
        add("linux.netDevices", "needs a network namespace in linux.namespaces (the devices would stay on the host)")
    seen = {}
    for host, d in devs.items():
        field = "linux.netDevices.%s" % host
        new = d.get("name") or host
        for what, n in (("", host), (".name", new)):
            if not n or len(n.encode()) >= IFNAMSIZ or n in (".", "..") or any(c in n for c in "/: \t\n"):
                add(field + what, "%r is not a valid interface name" % n)
        if new in seen:
            add(field + ".name", "%r is also the name of linux.netDevices.%s" % (new, seen[new]))
        seen[new] = host


class Checked:
    """A config that passed findings() and refusals(): what plan.py
    translates, trusting it. The parts are the config's own objects, or the
    spec's empty defaults where the config leaves them out."""

    __slots__ = ("raw", "linux", "process", "root", "mounts", "hooks", "namespaces")

    def __init__(self, cfg):
        self.raw = cfg
        self.linux = cfg.get("linux", {})
        self.process = cfg.get("process", {})
        self.root = cfg.get("root", {})
        self.mounts = cfg.get("mounts", [])
        self.hooks = cfg.get("hooks", {})
        # {type: path to join, or None for a new one}
        self.namespaces = {ns["type"]: ns.get("path") or None for ns in self.linux.get("namespaces", ())}

    def get(self, key, default=None):
        return self.raw.get(key, default)


def checked(cfg):
    """The Checked config of `cfg`, which findings() passed (create's
    load_config, validate's dry run); ConfigError with the first refusal, the
    one line create prints."""
    if isinstance(cfg, Checked):
        return cfg
    bad = refusals(cfg)
    if bad:
        raise errors.ConfigError([_line(*bad[0])])
    return Checked(cfg)


_ReferenceSchemas = _schema.ReferenceSchemas  # (its old home)


def use_reference_validator(directory=None):
    global _SCHEMAS
    _SCHEMAS = _schema.ReferenceSchemas(directory)
