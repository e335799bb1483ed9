"""A `process` object, as plan fields: argv, env, cwd, user and groups,
rlimits, capabilities, scheduling, I/O priority, CPU affinity, LSM labels;
and the linux fields applied to the process (personality, memoryPolicy).

The process is config.json's (create: validation.py checked it) or exec's
(its process.json, or flags over the container's recorded process, which
no validation pass sees): what could be wrong in exec's is checked here.
"""

import os

from . import errors, log, tolerance
from .linux import (
    CAP_NUMBERS,
    IOPRIO_CLASSES,
    MPOL_FLAGS,
    MPOL_MODES,
    PERSONALITY_DOMAINS,
    RLIMITS,
    SCHED_FLAGS,
    SCHED_POLICIES,
    cap_bounding,
    cap_last_cap,
)


def _err(field, msg):
    return errors.ConfigError(["%s: %s" % (field, msg)])


HOME_ROOM = 4096  # bytes after "HOME=" that the core may fill (ocirun.h home_env)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def memory_policy_features():
    """The modes and flags of linux.memoryPolicy this kernel takes (tried)."""
    from . import core

    try:
        _ffi, lib = core.load()
    except errors.OciError:
        return {"modes": [], "flags": []}
    modes = [m for m, v in sorted(MPOL_MODES.items()) if lib.ocirun_mempolicy_probe(v) == 0]
    flags = [f for f, v in sorted(MPOL_FLAGS.items()) if lib.ocirun_mempolicy_probe(MPOL_MODES["MPOL_BIND"] | v) == 0]
    return {"modes": modes, "flags": flags}


def _ranges(text, limit):
    """'0-3,7' -> the numbers, each below limit; ValueError if malformed."""
    out = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        lo, hi = int(lo), int(hi or lo)
        if lo < 0 or hi < lo or hi >= limit:
            raise ValueError
        out.update(range(lo, hi + 1))
    return out


def parse_cpus(text, field):
    """'0-3,7' -> bytes of a cpu_set_t (1024 bits)."""
    mask = bytearray(128)
    try:
        cpus = _ranges(text, 1024)
    except ValueError:
        raise _err(field, "invalid cpu list %r" % text) from None
    for cpu in cpus:
        mask[cpu // 8] |= 1 << (cpu % 8)
    return bytes(mask)


def _caps(p, caps):
    c = p.c
    avail = cap_bounding()
    last = cap_last_cap()
    c.cap_last_cap = last
    c.set_caps = 1
    warned = set()
    for field, attr in (
        ("bounding", "cap_bounding"),
        ("effective", "cap_effective"),
        ("permitted", "cap_permitted"),
        ("inheritable", "cap_inheritable"),
        ("ambient", "cap_ambient"),
    ):
        mask = 0
        for name in caps.get(field) or []:
            n = CAP_NUMBERS.get(name)
            if n is None or n > last:
                if name not in warned:
                    log.LOG.warning("process.capabilities.%s: unknown capability %s: ignored" % (field, name))
                    warned.add(name)
                continue
            if not (avail >> n) & 1:
                if name not in warned:
                    log.LOG.warning(
                        "process.capabilities.%s: %s is not available on this host: ignored" % (field, name)
                    )
                    warned.add(name)
                continue
            mask |= 1 << n
        setattr(c, attr, mask)
    # Ambient capabilities that cannot be raised are dropped with a warning (tolerance.py).
    for name in tolerance.ambient_dropped(caps, caps.get("ambient") or ()):
        n = CAP_NUMBERS.get(name)
        if n is not None and (c.cap_ambient >> n) & 1:
            log.LOG.warning("process.capabilities.ambient: " + tolerance.ambient_message(name))
            c.cap_ambient &= ~(1 << n)


def parse_nodes(text, field):
    """'0-3,7' -> the node numbers, for a nodemask."""
    try:
        return _ranges(text, 4096)
    except ValueError:
        raise _err(field, "invalid node list %r" % text) from None


def memory_policy(p, mp):
    if not mp:
        return
    c = p.c
    value = MPOL_MODES[mp["mode"]]
    for f in mp.get("flags", ()):
        value |= MPOL_FLAGS[f]
    nodes = parse_nodes(mp.get("nodes", ""), "linux.memoryPolicy.nodes")
    c.set_mempolicy = 1
    c.mempolicy_mode = value
    if nodes:
        words = max(nodes) // 64 + 1
        arr = p.array("uint64_t", words)
        for n in nodes:
            arr[n // 64] |= 1 << (n % 64)
        c.mempolicy_nodes = arr
        c.mempolicy_maxnode = words * 64 + 1  # the kernel reads maxnode - 1 bits


def personality(p, pers):
    if pers:
        p.c.set_personality = 1
        p.c.personality = PERSONALITY_DOMAINS[pers["domain"]]  # (flags: validation.refusals)


def fill(p, proc, cid, no_new_keyring, listen):
    """`process`, of config.json (create) or of `exec` (its process.json or
    flags over the container's recorded process). exec's does not go
    through validation's pass, so what could be wrong in it is checked here."""
    c = p.c
    args = proc.get("args")
    if not args:
        raise _err("process.args", "missing or empty")
    env = list(proc.get("env") or [])
    if listen:
        env = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
        env.append("LISTEN_FDS=%d" % listen)
    c.argv = p.strv(list(args))
    # no HOME: the core fills it from the container's /etc/passwd for the uid
    home = [] if any(e.startswith("HOME=") for e in env) else [b"HOME=" + b"\0" * HOME_ROOM]
    envp = p.strv(env + home + (["LISTEN_PID=" + " " * 20] if listen else []))
    if home:
        c.home_env = envp[len(env)]
    if listen:
        c.listen_pid_env = envp[len(env) + len(home)]
        # fill in what is right for a new pid namespace; the core rewrites it anyway
    c.envp = envp
    path_env = None
    for e in env:
        if e.startswith("PATH="):
            path_env = e[5:]
    c.path_env = p.s(path_env if path_env is not None else DEFAULT_PATH)
    cwd = proc.get("cwd") or "/"
    if not cwd.startswith("/"):
        raise _err("process.cwd", "must be an absolute path, got %r" % cwd)
    c.cwd = p.s(cwd)
    user = proc.get("user") or {}
    c.uid = int(user.get("uid", 0))
    c.gid = int(user.get("gid", 0))
    gids = [int(g) for g in user.get("additionalGids") or []]
    ga = p.array("uint32_t", len(gids))
    for i, g in enumerate(gids):
        ga[i] = g
    c.additional_gids = ga
    c.n_additional_gids = len(gids)
    c.umask = int(user["umask"]) if user.get("umask") is not None else -1
    rl = proc.get("rlimits") or []
    ra = p.array("struct ocirun_rlimit", len(rl))
    for i, r in enumerate(rl):
        t = r.get("type")
        if t not in RLIMITS:
            raise _err("process.rlimits[%d].type" % i, "unknown rlimit %r" % t)
        ra[i].name = p.s(t)
        ra[i].resource = RLIMITS[t]
        ra[i].soft = int(r.get("soft", 0))
        ra[i].hard = int(r.get("hard", 0))
    c.rlimits = ra
    c.n_rlimits = len(rl)
    if proc.get("oomScoreAdj") is not None:
        c.set_oom_score_adj = 1
        c.oom_score_adj = int(proc["oomScoreAdj"])
    c.no_new_privileges = 1 if proc.get("noNewPrivileges") else 0
    if proc.get("capabilities") is not None:
        _caps(p, proc["capabilities"])
    sched = proc.get("scheduler")
    if sched:
        pol = sched.get("policy")
        if pol not in SCHED_POLICIES:
            raise _err("process.scheduler.policy", "unknown policy %r" % pol)
        c.set_scheduler = 1
        c.sched_policy = SCHED_POLICIES[pol]
        c.sched_nice = int(sched.get("nice", 0))
        c.sched_priority = int(sched.get("priority", 0))
        fl = 0
        for f in sched.get("flags") or []:
            if f not in SCHED_FLAGS:
                raise _err("process.scheduler.flags", "unknown flag %r" % f)
            fl |= SCHED_FLAGS[f]
        c.sched_flags = fl
        c.sched_runtime = int(sched.get("runtime", 0))
        c.sched_deadline = int(sched.get("deadline", 0))
        c.sched_period = int(sched.get("period", 0))
    io = proc.get("ioPriority")
    if io:
        cls = io.get("class")
        if cls not in IOPRIO_CLASSES:
            raise _err("process.ioPriority.class", "unknown class %r" % cls)
        c.set_ioprio = 1
        c.ioprio = (IOPRIO_CLASSES[cls] << 13) | int(io.get("priority", 0))
    aff = proc.get("execCPUAffinity")
    if aff:
        for key, attr in (("initial", "cpu_affinity_initial"), ("final", "cpu_affinity_final")):
            if aff.get(key):
                b = parse_cpus(aff[key], "process.execCPUAffinity." + key)
                buf = p.ffi.new("uint8_t[]", b)
                p.keep.append(buf)
                setattr(c, attr, buf)
                setattr(c, attr + "_len", len(b))
    if proc.get("apparmorProfile"):
        if not os.path.isdir("/sys/kernel/security/apparmor"):
            raise _err("process.apparmorProfile", "apparmor is not enabled on this system")
        c.apparmor_profile = p.s(proc["apparmorProfile"])
    if proc.get("selinuxLabel"):
        if not os.path.isdir("/sys/fs/selinux") or not os.path.exists("/sys/fs/selinux/enforce"):
            raise _err("process.selinuxLabel", "selinux is not enabled on this system")
        c.selinux_label = p.s(proc["selinuxLabel"])
    if not no_new_keyring:
        c.session_keyring = p.s(cid)
    p.terminal = bool(proc.get("terminal"))
    c.terminal = 1 if p.terminal else 0
