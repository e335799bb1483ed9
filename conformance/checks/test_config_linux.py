"""config-linux.md and runtime-linux.md: namespaces, id mappings, devices,
masked and read-only paths, sysctl, seccomp, time offsets, personality,
rootfs propagation, file descriptors and /dev symlinks."""

from __future__ import annotations

import os
import re

import pytest

from conformance.harness import Lazy, Unsupported, host_ns, mount_at, mountinfo

DEFAULT_DEVICES = {
    "/dev/null": (1, 3),
    "/dev/zero": (1, 5),
    "/dev/full": (1, 7),
    "/dev/random": (1, 8),
    "/dev/urandom": (1, 9),
    "/dev/tty": (5, 0),
}
EXTRA_DEVICES = [
    {"path": "/dev/conf-char", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640, "uid": 1000, "gid": 1001},
    {"path": "/dev/conf-block", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 0},
    {"path": "/dev/conf-fifo", "type": "p", "fileMode": 0o644},
]
SYSCTL = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
NS_NEW = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt"}


@pytest.fixture(scope="module")
def linux_run(env):
    def mutate(c, b):
        c["linux"]["devices"] = [dict(d) for d in EXTRA_DEVICES]
        c["linux"]["sysctl"] = dict(SYSCTL)

    probes = []
    for p in (
        list(DEFAULT_DEVICES)
        + [d["path"] for d in EXTRA_DEVICES]
        + ["/dev/ptmx", "/dev/pts/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/console"]
    ):
        probes += ["--stat", p]
    for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list"):
        probes += ["--read", p]
    probes += [
        "--ls",
        "/sys/firmware",
        "--write",
        "/proc/sys/kernel/hostname",
        "--write",
        "/proc/sysrq-trigger",
        "--write",
        "/proc/bus",
        "--read",
        "/proc/sys/net/ipv4/ip_forward",
        "--read",
        "/proc/sys/kernel/shm_rmid_forced",
        "--stat",
        "/proc/bus",
    ]
    return env.lazy("linux", probes=probes, mutate=mutate)


def test_namespaces(env, spec, linux_run):
    me = os.getpid()
    for typ, kind in NS_NEW.items():
        with spec.check("config-linux.md#namespaces", "MUST", f"a `{typ}` entry without path makes a new namespace"):
            f = linux_run().facts
            assert f["ns"][kind] != host_ns(me, kind), f"{kind} namespace is the runtime's"
    with spec.check("config-linux.md#namespaces", "MUST", "the process is pid 1 of its new pid namespace"):
        assert linux_run().facts["pid"] == 1, linux_run().facts["pid"]
    for kind in ("user", "cgroup", "time"):
        with spec.check("config-linux.md#namespaces", "MUST", f"a type absent from namespaces (`{kind}`) is inherited"):
            if not os.path.exists(f"/proc/self/ns/{kind}"):
                raise Unsupported(f"this kernel has no {kind} namespaces")
            f = linux_run().facts
            assert f["ns"][kind] == host_ns(me, kind), f"{kind}: {f['ns'][kind]} != {host_ns(me, kind)}"


def test_namespaces_join(env, spec):
    rt = env.rt
    holder_id, holder = env.bundle("nsholder", args=["/checker", "sleep", "60"])
    st = Lazy(lambda: rt.must(rt.create(holder_id, holder.path)) and rt.state(holder_id))
    try:

        def joined():
            pid = st()["pid"]

            def mutate(c, b):
                c["linux"]["namespaces"] = [
                    {"type": "pid"},
                    {"type": "mount"},
                    {"type": "network", "path": f"/proc/{pid}/ns/net"},
                    {"type": "ipc", "path": f"/proc/{pid}/ns/ipc"},
                    {"type": "uts", "path": f"/proc/{pid}/ns/uts"},
                ]
                c.pop("hostname", None)

            return pid, env.run("nsjoin", mutate=mutate)

        j = Lazy(joined)
        for typ, kind in (("network", "net"), ("ipc", "ipc"), ("uts", "uts")):
            with spec.check("config-linux.md#namespaces", "MUST", f"a `{typ}` entry with a path joins that namespace"):
                pid, run = j()
                assert run.facts["ns"][kind] == host_ns(pid, kind), (
                    f"{kind}: {run.facts['ns'][kind]} != {host_ns(pid, kind)}"
                )

        with spec.check(
            "config-linux.md#namespaces", "MUST", "a path that is not a namespace of the entry's type is an error"
        ):
            pid = st()["pid"]
            cid, b = env.bundle(
                "nswrong",
                args=["/checker", "touch", "/out/ran"],
                mutate=lambda c, b: c["linux"].__setitem__(
                    "namespaces",
                    [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": f"/proc/{pid}/ns/ipc"}],
                ),
            )
            try:
                r = rt.create(cid, b.path)
                assert not r.ok, "create joined an ipc namespace as the network namespace"
                assert rt.state(cid) is None
            finally:
                rt.cleanup(cid)
    finally:
        rt.cleanup(holder_id)

    with spec.check("config-linux.md#namespaces", "MUST", "duplicated namespace types are an error"):
        env.need_working()
        cid, b = env.bundle(
            "nsdup",
            args=["/checker", "touch", "/out/ran"],
            mutate=lambda c, b: c["linux"]["namespaces"].append({"type": "ipc"}),
        )
        try:
            r = rt.create(cid, b.path)
            assert not r.ok, "create accepted two `ipc` entries"
            assert rt.state(cid) is None
        finally:
            rt.cleanup(cid)


def test_user_namespace(env, spec):
    def mutate(c, b):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        c["linux"].pop("resources", None)

    def go():
        if not os.path.exists("/proc/self/ns/user"):
            raise Unsupported("this kernel has no user namespaces")
        return env.run("userns", mutate=mutate)

    run = Lazy(go)
    before = os.stat(env.rootfs / "checker")

    with spec.check("config-linux.md#namespaces", "MUST", "a `user` entry without path makes a new user namespace"):
        assert run().facts["ns"]["user"] != host_ns(os.getpid(), "user")
    with spec.check("config-linux.md#user-namespace-mappings", "MUST", "uidMappings are the uid_map"):
        assert run().facts["uid_map"].split() == ["0", "100000", "65536"], run().facts["uid_map"]
    with spec.check("config-linux.md#user-namespace-mappings", "MUST", "gidMappings are the gid_map"):
        assert run().facts["gid_map"].split() == ["0", "200000", "65536"], run().facts["gid_map"]
    with spec.check("config-linux.md#user-namespace-mappings", "MUST", "the process runs as the mapped uid 0"):
        assert run().facts["uid"] == [0, 0, 0]
    with spec.check(
        "config-linux.md#user-namespace-mappings",
        "SHOULD",
        "the rootfs ownership is not changed to realize the mapping",
    ):
        run()
        after = os.stat(env.rootfs / "checker")
        assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid), "rootfs files were chowned"


def test_devices(env, spec, linux_run):
    stats = lambda: linux_run().facts["stat"]  # noqa: E731
    for path, (major, minor) in DEFAULT_DEVICES.items():
        with spec.check("config-linux.md#default-devices", "MUST", f"{path} is character device {major}:{minor}"):
            s = stats()[path]
            assert s["errno"] == 0, f"{path}: errno {s['errno']}"
            st = s["stat"]
            assert isinstance(st, dict) and st["type"] == "c" and (st["major"], st["minor"]) == (major, minor), st

    with spec.check("config-linux.md#default-devices", "MUST", "/dev/ptmx is the container's /dev/pts/ptmx"):
        s, pts = stats()["/dev/ptmx"], stats()["/dev/pts/ptmx"]
        assert s["errno"] == 0 and pts["errno"] == 0, (s, pts)
        if s["lstat"]["type"] == "l":
            assert s["link"] in ("pts/ptmx", "/dev/pts/ptmx"), s["link"]
        else:
            assert (s["stat"]["dev"], s["stat"]["ino"]) == (pts["stat"]["dev"], pts["stat"]["ino"]), (
                "/dev/ptmx is neither a symlink to nor a bind mount of /dev/pts/ptmx"
            )

    for d in EXTRA_DEVICES:
        with spec.check(
            "config-linux.md#devices",
            "MUST",
            f"linux.devices `{d['type']}` entry {d['path']} is created with its type, numbers, mode and owner",
        ):
            s = stats()[d["path"]]
            assert s["errno"] == 0, f"{d['path']}: errno {s['errno']}"
            st = s["stat"]
            want_type = {"c": "c", "u": "c", "b": "b", "p": "p"}[d["type"]]
            assert st["type"] == want_type, st
            if d["type"] != "p":
                assert (st["major"], st["minor"]) == (d["major"], d["minor"]), st
            assert st["mode"] == d["fileMode"], f"mode {st['mode']:o}, expected {d['fileMode']:o}"
            assert (st["uid"], st["gid"]) == (d.get("uid", 0), d.get("gid", 0)), st

    for link, target in (
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ):
        with spec.check("runtime-linux.md#dev-symbolic-links", "MUST", f"{link} is a symlink to {target}"):
            s = stats()[link]
            assert s["errno"] == 0 and s["lstat"]["type"] == "l", s
            assert s["link"] == target, s["link"]


def test_masked_readonly(env, spec, linux_run):
    f = lambda: linux_run().facts  # noqa: E731
    for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list"):
        with spec.check("config-linux.md#masked-paths", "MUST", f"masked file {p} reads as empty"):
            if not os.path.exists(p):
                raise Unsupported(f"the host has no {p}")
            r = f()["read"][p]
            assert r["errno"] == 0 and r["data"] == "", f"{p}: errno {r['errno']}, {len(r['data'] or '')} bytes"
    with spec.check("config-linux.md#masked-paths", "MUST", "masked directory /sys/firmware is empty"):
        ls = f()["ls"]["/sys/firmware"]
        if not os.path.isdir("/sys/firmware"):
            raise Unsupported("the host has no /sys/firmware")
        assert ls["errno"] == 0 and ls["entries"] == [], ls
    for p in ("/proc/sys/kernel/hostname", "/proc/sysrq-trigger"):
        with spec.check("config-linux.md#readonly-paths", "MUST", f"read-only path {p} cannot be opened for writing"):
            if not os.path.exists(p):
                raise Unsupported(f"the host has no {p}")
            w = f()["write"][p]
            assert w["errno"] == 30, f"errno {w['errno']}, expected EROFS (30)"
    with spec.check("config-linux.md#readonly-paths", "MUST", "read-only paths are mounted ro"):
        rows = mountinfo(f()["mountinfo"])
        present = [
            p for p in ("/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger") if os.path.exists(p)
        ]
        assert present
        for p in present:
            m = mount_at(rows, p)
            assert m and "ro" in m["opts"], f"{p}: {m and sorted(m['opts'])}"


def test_sysctl(env, spec, linux_run):
    for key, value in SYSCTL.items():
        with spec.check("config-linux.md#sysctl", "MUST", f"sysctl {key}={value} is set in the container"):
            path = "/proc/sys/" + key.replace(".", "/")
            r = linux_run().facts["read"][path]
            assert r["errno"] == 0 and r["data"].strip() == value, r


def test_file_descriptors(env, spec, linux_run):
    with spec.check("runtime-linux.md#file-descriptors", "SHOULD", "only fds 0, 1 and 2 are open in the process"):
        fds = linux_run().facts["fds"]
        # the checker's own output file is open while it lists its fds
        extra = {k: v for k, v in fds.items() if k not in ("0", "1", "2") and not v.endswith("facts.json.tmp")}
        assert not extra, f"open: {extra}"


def _seccomp(errno_ret=True, **extra):
    rule = {"names": ["getsid"], "action": "SCMP_ACT_ERRNO"}
    if errno_ret:
        rule["errnoRet"] = 42
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [rule, {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"}],
        **extra,
    }


def test_seccomp(env, spec):
    def go():
        if not re.search(r"^Seccomp:", open("/proc/self/status").read(), re.M):
            raise Unsupported("this kernel has no seccomp")
        return env.run(
            "seccomp",
            probes=["--syscall", "getsid", "--syscall", "getpgid", "--syscall", "getppid"],
            mutate=lambda c, b: c["linux"].__setitem__("seccomp", _seccomp()),
        )

    run = Lazy(go)
    with spec.check("config-linux.md#seccomp", "MUST", "a seccomp filter is installed (Seccomp: 2)"):
        assert run().facts["status"]["Seccomp"] == "2"
    with spec.check("config-linux.md#seccomp", "MUST", "SCMP_ACT_ERRNO with errnoRet returns that errno"):
        s = run().facts["syscall"]["getsid"]
        assert s["ret"] == -1 and s["errno"] == 42, s
    with spec.check("config-linux.md#seccomp", "MUST", "SCMP_ACT_ERRNO without errnoRet returns EPERM"):
        s = run().facts["syscall"]["getpgid"]
        assert s["ret"] == -1 and s["errno"] == 1, s
    with spec.check("config-linux.md#seccomp", "MUST", "syscalls under defaultAction SCMP_ACT_ALLOW work"):
        s = run().facts["syscall"]["getppid"]
        assert s["errno"] == 0, s
    with spec.check("config-linux.md#seccomp", "MUST", "errnoRet on an action without an errno is an error"):
        env.need_working()
        bad = _seccomp()
        bad["syscalls"][1] = {"names": ["getpgid"], "action": "SCMP_ACT_KILL", "errnoRet": 5}
        cid, b = env.bundle(
            "seccompbad",
            args=["/checker", "touch", "/out/ran"],
            mutate=lambda c, b: c["linux"].__setitem__("seccomp", bad),
        )
        try:
            r = env.rt.create(cid, b.path)
            if r.ok:
                env.rt.start(cid)
            assert not r.ok, "create accepted errnoRet with SCMP_ACT_KILL"
        finally:
            env.rt.cleanup(cid)


def test_time_namespace(env, spec):
    offsets = {"monotonic": {"secs": 86400 * 365, "nanosecs": 0}, "boottime": {"secs": 86400 * 30, "nanosecs": 0}}

    def mutate(c, b):
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = offsets

    run = Lazy(lambda: env.run("timens", mutate=mutate, oci_version="1.1.0"))
    for clock, off in offsets.items():
        with spec.check(
            "config-linux.md#offset-for-time-namespace",
            "MUST",
            f"timeOffsets.{clock} is the {clock} offset of the new time namespace",
        ):
            if not os.path.exists("/proc/self/ns/time"):
                raise Unsupported("this kernel has no time namespaces")
            f = run().facts
            assert f["ns"]["time"] != host_ns(os.getpid(), "time"), "no new time namespace"
            table = dict((l.split()[0], l.split()[1:]) for l in (f["timens_offsets"] or "").splitlines())
            assert table.get(clock) == [str(off["secs"]), str(off["nanosecs"])], table


def test_personality(env, spec):
    def mutate(c, b):
        c["linux"]["personality"] = {"domain": "LINUX32"}

    run = Lazy(lambda: env.run("persona", mutate=mutate, oci_version="1.1.0"))
    with spec.check("config-linux.md#personality", "MUST", "personality domain LINUX32 is set"):
        p = run().facts["personality"]
        assert p & 0xFF == 0x0008, f"personality {p:#x}"


def test_rootfs_propagation(env, spec):
    for mode, tag in (("shared", "shared:"), ("unbindable", "unbindable")):
        with spec.check(
            "config-linux.md#rootfs-mount-propagation", "MUST", f"rootfsPropagation {mode} applies to the container's /"
        ):
            f = env.run(f"prop{mode}", mutate=lambda c, b: c["linux"].__setitem__("rootfsPropagation", mode)).facts
            root = mount_at(mountinfo(f["mountinfo"]), "/")
            assert any(o.startswith(tag) for o in root["optional"]), f"/ has {root['optional']}"


def test_unified_on_v1(env, spec):
    with spec.check("config-linux.md#unified", "MUST", "a unified key for a controller not on cgroup2 is an error"):
        ctrls = ""
        for cand in ("/sys/fs/cgroup/unified/cgroup.controllers", "/sys/fs/cgroup/cgroup.controllers"):
            if os.path.exists(cand):
                ctrls = open(cand).read()
                break
        if "memory" in ctrls.split():
            raise Unsupported("memory is on cgroup2 here; nothing to refuse")
        env.need_working()
        cid, b = env.bundle(
            "unified",
            args=["/checker", "touch", "/out/ran"],
            mutate=lambda c, b: c["linux"]["resources"].__setitem__("unified", {"memory.high": "max"}),
        )
        try:
            r = env.rt.create(cid, b.path)
            assert not r.ok, "create accepted unified memory.high without memory on cgroup2"
        finally:
            env.rt.cleanup(cid)
