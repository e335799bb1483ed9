"""plan.py, table by table: a config in, the fields of `struct ocirun_plan` out.

Each case is a small change to one minimal config that validation passes;
plan.build runs for real (cffi, nothing spawned) and the test reads back the
C struct. The tables follow plan.py's own: namespaces, mount options and
propagation, capabilities, rlimits, user and ids, devices, sysctls, seccomp,
hooks, process attributes, and the tolerances; refusals (what create refuses
although the spec allows it) are one table of exact lines.
"""

import copy
import os
import sys

import pytest

from runtime import core, errors, linux, log, mounts, plan as planmod, process, validation
from runtime.linux import (
    CAP_NUMBERS,
    MOUNT_ATTR__ATIME,
    MOUNT_FLAGS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_SHARED,
    MS_SLAVE,
    MS_UNBINDABLE,
    NS_FLAGS,
    PROPAGATION,
    RECURSIVE_ATTRS,
    RLIMITS,
    S_IFBLK,
    S_IFCHR,
    S_IFIFO,
)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from fakes import RecordingHost, install_layout  # noqa: E402

ffi, lib = core.load()

BASE = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"]},
    "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]},
}


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "file").write_text("")
    return str(tmp_path)


class Warnings:
    """log.LOG while a plan is built: keeps the warnings."""

    debug_enabled = False

    def __init__(self):
        self.lines = []

    def warning(self, msg):
        self.lines.append(msg)

    def error(self, msg):
        self.lines.append(msg)

    def debug(self, *args):
        pass


@pytest.fixture
def make(bundle, monkeypatch):
    """make(mutate) -> the Plan of BASE changed by mutate(cfg); its warnings in make.warnings."""
    plans = []
    warned = Warnings()
    monkeypatch.setattr(log, "LOG", warned)

    def build(mutate=None, **kw):
        cfg = copy.deepcopy(BASE)
        if mutate:
            mutate(cfg)
        assert validation.problems(cfg, bundle) == []  # plan.build is only ever given a validated config
        p = planmod.build(ffi, cfg, bundle, "cid", sync_fd=-1, parent_sync_fd=-1, fifo_fd=-1, **kw)
        plans.append(p)
        return p

    build.warnings = warned.lines
    build.bundle = bundle
    yield build
    for p in plans:
        p.close()


def refused(bundle, mutate):
    """The one line plan.build refuses the changed config with."""
    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    assert validation.problems(cfg, bundle) == []
    with pytest.raises(errors.ConfigError) as e:
        planmod.build(ffi, cfg, bundle, "cid", sync_fd=-1, parent_sync_fd=-1, fifo_fd=-1)
    assert len(e.value.lines) == 1
    return e.value.lines[0]


# -- reading the struct back ----------------------------------------------------


def s(ptr):
    return None if ptr == ffi.NULL else ffi.string(ptr).decode()


def strv(ptr):
    out, i = [], 0
    while ptr[i] != ffi.NULL:
        out.append(ffi.string(ptr[i]).decode())
        i += 1
    return out


def mounts_of(p):
    return [
        {
            "source": s(m.source),
            "destination": s(m.destination),
            "fstype": s(m.fstype),
            "data": s(m.data),
            "flags": m.flags,
            "remount_flags": m.remount_flags,
            "propagation": m.propagation,
            "attr_set": m.attr_set,
            "attr_clr": m.attr_clr,
            "idmap_userns_fd": m.idmap_userns_fd,
            "idmap_recursive": m.idmap_recursive,
            "dest_is_file": m.dest_is_file,
            "is_remount": m.is_remount,
            "tmpcopyup": m.tmpcopyup,
            "field": s(m.field),
        }
        for m in (p.c.mounts[i] for i in range(p.c.n_mounts))
    ]


def joins(p):
    return [(p.c.join_types[i], s(p.c.join_paths[i])) for i in range(p.c.n_join)]


def devices(p):
    return [
        (s(d.path), d.mode, d.major, d.minor, d.uid, d.gid, d.from_parent)
        for d in (p.c.devices[i] for i in range(p.c.n_devices))
    ]


def hooks(arr, n):
    return [(s(h.path), strv(h.argv), strv(h.envp), h.timeout) for h in (arr[i] for i in range(n))]


def ns(*types, **paths):
    return [{"type": t} for t in types] + [{"type": t, "path": p} for t, p in paths.items()]


def setl(**fields):
    return lambda c: c["linux"].update(fields)


def setp(**fields):
    return lambda c: c["process"].update(fields)


def add_mount(**m):
    return lambda c: c.setdefault("mounts", []).append(m)


# -- namespaces ------------------------------------------------------------------

F = NS_FLAGS
NAMESPACE_CASES = [
    # (name, linux.namespaces, unshare_flags, joins [(type flag, path)], has_userns, new namespaces)
    ("mount and pid", ns("mount", "pid"), F["mount"] | F["pid"], [], 0, {"mount", "pid"}),
    ("every type new", ns(*F), sum(F.values()), [], 1, set(F)),
    (
        "network joined by path",
        ns("mount", network="/proc/self/ns/net"),
        F["mount"],
        [(F["network"], "/proc/self/ns/net")],
        0,
        {"mount"},
    ),
    (
        "a joined user namespace is joined first",
        ns("mount", network="/proc/self/ns/net", user="/proc/self/ns/user"),
        F["mount"],
        [(F["user"], "/proc/self/ns/user"), (F["network"], "/proc/self/ns/net")],
        1,
        {"mount"},
    ),
]


@pytest.mark.parametrize("name,nss,unshare,joined,has_userns,new", NAMESPACE_CASES, ids=[c[0] for c in NAMESPACE_CASES])
def test_namespaces(make, name, nss, unshare, joined, has_userns, new):
    p = make(setl(namespaces=nss))
    assert (p.c.unshare_flags, joins(p), p.c.has_userns) == (unshare, joined, has_userns)
    assert p.new_namespaces == new
    assert p.namespaces == {n["type"] for n in nss}
    assert p.new_userns == ("user" in new)
    assert len(p.fds) == len(joined)  # one fd per namespace joined, closed with the plan


def test_time_offsets(make):
    p = make(
        setl(
            namespaces=ns("mount", "time"),
            timeOffsets={"boottime": {"secs": 5}, "monotonic": {"secs": -2, "nanosecs": 7}},
        )
    )
    assert s(p.c.timens_offsets) == "monotonic -2 7\nboottime 5 0\n"
    assert s(make().c.timens_offsets) is None


def test_names(make):
    p = make(lambda c: (c.update(hostname="h", domainname="d"), c["linux"].update(namespaces=ns("mount", "uts"))))
    assert (s(p.c.hostname), s(p.c.domainname)) == ("h", "d")
    assert (s(make().c.hostname), s(make().c.domainname)) == (None, None)


# -- rootfs --------------------------------------------------------------------------

ROOTFS_PROPAGATION = [
    # rootfsPropagation -> (root_propagation before the rootfs is set up, rootfs_propagation after pivot)
    (None, MS_SLAVE | MS_REC, 0),
    ("private", MS_PRIVATE | MS_REC, 0),
    ("slave", MS_SLAVE | MS_REC, 0),
    ("shared", MS_SLAVE | MS_REC, MS_SHARED),
    ("unbindable", MS_SLAVE | MS_REC, MS_UNBINDABLE),
    # the recursive forms engines write (tolerated, tolerance.py)
    ("rprivate", MS_PRIVATE | MS_REC, 0),
    ("rslave", MS_SLAVE | MS_REC, 0),
    ("rshared", MS_SLAVE | MS_REC, MS_SHARED | MS_REC),
    ("runbindable", MS_SLAVE | MS_REC, MS_UNBINDABLE | MS_REC),
]


@pytest.mark.parametrize("prop,before,after", ROOTFS_PROPAGATION, ids=[str(c[0]) for c in ROOTFS_PROPAGATION])
def test_rootfs_propagation(make, prop, before, after):
    p = make(setl(rootfsPropagation=prop) if prop else None)
    assert (p.c.root_propagation, p.c.rootfs_propagation) == (before, after)


def test_rootfs(make):
    p = make(lambda c: c["root"].update(path="./rootfs/", readonly=True))
    assert s(p.c.rootfs) == p.rootfs == os.path.join(make.bundle, "rootfs")
    assert (p.c.readonly_root, p.c.no_pivot) == (1, 0)
    assert make(no_pivot=True).c.no_pivot == 1


# -- mounts --------------------------------------------------------------------------


def _tmpfs_flag_cases():
    for opt, (clear, flag) in sorted(MOUNT_FLAGS.items()):
        if flag & MS_BIND:
            continue  # bind and rbind make a bind mount (BIND_CASES)
        yield ("option " + opt, [opt], dict(flags=0 if clear else flag))


TMPFS_CASES = (
    list(_tmpfs_flag_cases())
    + [
        # (name, options of a tmpfs mount, the fields they set)
        ("no options", [], dict(flags=0, data=None, propagation=0, attr_set=0, attr_clr=0)),
        ("the last of ro, rw wins", ["ro", "rw"], dict(flags=0)),
        ("rw then ro", ["rw", "ro"], dict(flags=MS_RDONLY)),
        (
            "flags and data",
            ["nosuid", "size=1m", "nodev", "mode=700"],
            dict(flags=MS_NOSUID | MS_NODEV, data="size=1m,mode=700"),
        ),
        ("tmpcopyup is ocirun's, not data", ["tmpcopyup"], dict(tmpcopyup=1, data=None)),
        ("recursive atime", ["rnoatime"], dict(attr_set=linux.MOUNT_ATTR_NOATIME, attr_clr=MOUNT_ATTR__ATIME)),
        ("recursive relatime", ["rrelatime"], dict(attr_set=0, attr_clr=MOUNT_ATTR__ATIME)),
        ("recursive atime cleared", ["ratime"], dict(attr_set=0, attr_clr=MOUNT_ATTR__ATIME)),
        (
            "recursive atimes: the last one",
            ["rnoatime", "rstrictatime"],
            dict(attr_set=linux.MOUNT_ATTR_STRICTATIME, attr_clr=MOUNT_ATTR__ATIME),
        ),
    ]
    + [("propagation " + o, [o], dict(propagation=v)) for o, v in sorted(PROPAGATION.items())]
    + [
        ("recursive " + o, [o], dict(attr_set=0 if clear else a, attr_clr=a if clear else 0))
        for o, (clear, a) in sorted(RECURSIVE_ATTRS.items())
    ]
)


@pytest.mark.parametrize("name,options,want", TMPFS_CASES, ids=[c[0] for c in TMPFS_CASES])
def test_tmpfs_mount_options(make, name, options, want):
    p = make(add_mount(destination="/t", type="tmpfs", source="tmpfs", options=options))
    m = mounts_of(p)[-1]
    assert (m["destination"], m["fstype"], m["source"], m["field"]) == ("/t", "tmpfs", "tmpfs", "mounts[0]")
    assert {k: m[k] for k in want} == want


BIND_CASES = [
    # (name, mount, the fields of the C mount)
    (
        "rbind ro nosuid",
        dict(type="bind", source="src", options=["rbind", "ro", "nosuid"]),
        dict(flags=MS_BIND | MS_REC, remount_flags=MS_RDONLY | MS_NOSUID, fstype=None, data=None, dest_is_file=0),
    ),
    ("bind by option", dict(type="none", source="src", options=["bind"]), dict(flags=MS_BIND, remount_flags=0)),
    ("bind by type", dict(type="bind", source="src"), dict(flags=MS_BIND, remount_flags=0)),
    ("a file source", dict(type="bind", source="file", options=["rbind"]), dict(dest_is_file=1)),
    (
        "propagation and recursive attrs",
        dict(type="bind", source="src", options=["rbind", "rslave", "rro"]),
        dict(propagation=MS_SLAVE | MS_REC, attr_set=linux.MOUNT_ATTR_RDONLY),
    ),
]


@pytest.mark.parametrize("name,mount,want", BIND_CASES, ids=[c[0] for c in BIND_CASES])
def test_bind_mounts(make, name, mount, want):
    p = make(add_mount(destination="/b", **mount))
    m = mounts_of(p)[-1]
    assert m["source"] == os.path.join(make.bundle, mount["source"])
    assert {k: m[k] for k in want} == want


def test_mount_destinations_are_cleaned(make):
    p = make(add_mount(destination="a/./b/../c//", type="tmpfs", source="tmpfs"))
    assert mounts_of(p)[-1]["destination"] == "/a/b/../c"  # lexical only: `..` is the core's to resolve


def test_idmapped_mounts(make):
    def userns(c):
        c["linux"].update(
            namespaces=ns("mount", "user"),
            uidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}],
            gidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}],
        )

    p = make(
        lambda c: (userns(c), add_mount(destination="/i", type="bind", source="src", options=["rbind", "ridmap"])(c))
    )
    m = mounts_of(p)[-1]
    assert (m["idmap_userns_fd"], m["idmap_recursive"]) == (-2, 1)
    assert p.idmap_mounts == [(os.path.join(make.bundle, "src"), True, True, None, "mounts[0]")]
    maps = [{"containerID": 0, "hostID": 2000, "size": 5}]
    p = make(
        add_mount(destination="/i", type="bind", source="src", options=["idmap"], uidMappings=maps, gidMappings=maps)
    )
    assert p.idmap_mounts == [
        (os.path.join(make.bundle, "src"), False, False, ("0 2000 5\n", "0 2000 5\n"), "mounts[0]")
    ]


CGROUP_LAYOUTS = [
    # (host layout, mounts made for a `cgroup` mount at /sys/fs/cgroup: (destination, fstype, data))
    ("v2", [("/sys/fs/cgroup", "cgroup2", None)]),
    (
        "v1",
        [("/sys/fs/cgroup", "tmpfs", "mode=755")]
        + [
            ("/sys/fs/cgroup/" + c, "cgroup", c)
            for c in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
        ],
    ),
    (
        "hybrid",
        [("/sys/fs/cgroup", "tmpfs", "mode=755")]
        + [
            ("/sys/fs/cgroup/" + c, "cgroup", c)
            for c in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
        ]
        + [("/sys/fs/cgroup/unified", "cgroup2", None)],
    ),
]


@pytest.mark.parametrize("kind,want", CGROUP_LAYOUTS, ids=[c[0] for c in CGROUP_LAYOUTS])
def test_cgroup_mounts_follow_the_host_layout(make, monkeypatch, kind, want):
    host = RecordingHost()
    install_layout(host, kind)
    real = mounts.cgroup_layout
    monkeypatch.setattr(mounts, "cgroup_layout", lambda: real(host))
    p = make(add_mount(destination="/sys/fs/cgroup", type="cgroup", source="cgroup", options=["ro", "nosuid"]))
    got = mounts_of(p)
    assert [(m["destination"], m["fstype"], m["data"]) for m in got if not m["is_remount"]] == want
    assert {m["field"] for m in got} == {"mounts[0]"}
    if kind != "v2":  # ro: the tmpfs is remounted read-only after the hierarchies
        assert got[-1]["is_remount"] == 1
        assert got[-1]["remount_flags"] == MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        assert all(m["flags"] & MS_RDONLY for m in got[1:-1])


def test_cgroup_mount_without_cgroupns_binds_the_containers_own_dirs(make, monkeypatch):
    host = RecordingHost()
    install_layout(host, "v2")
    real = mounts.cgroup_layout
    monkeypatch.setattr(mounts, "cgroup_layout", lambda: real(host))
    p = make(
        add_mount(destination="/sys/fs/cgroup", type="cgroup", source="cgroup", options=["nosuid", "relatime"]),
        cgroup_dirs={"": "/sys/fs/cgroup/ocirun/cid"},
    )
    assert [(m["source"], m["flags"], m["remount_flags"]) for m in mounts_of(p)] == [
        ("/sys/fs/cgroup/ocirun/cid", MS_BIND | MS_REC, MS_NOSUID | MS_RELATIME)
    ]


# -- capabilities ------------------------------------------------------------------


def bits(*names):
    return sum(1 << CAP_NUMBERS[n] for n in names)


CAP_CASES = [
    # (name, process.capabilities, masks (bounding, effective, permitted, inheritable, ambient), warnings)
    ("empty sets", {}, (0, 0, 0, 0, 0), []),
    (
        "each set",
        {
            "bounding": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
            "inheritable": ["CAP_NET_RAW"],
        },
        (bits("CAP_KILL", "CAP_CHOWN"), bits("CAP_KILL"), bits("CAP_KILL"), bits("CAP_NET_RAW"), 0),
        [],
    ),
    (
        "ambient, permitted and inheritable",
        {"permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        (0, 0, bits("CAP_KILL"), bits("CAP_KILL"), bits("CAP_KILL")),
        [],
    ),
    (
        "ambient not inheritable is dropped (tolerance)",
        {"permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        (0, 0, bits("CAP_KILL"), 0, 0),
        [
            "process.capabilities.ambient: CAP_KILL is not both permitted and inheritable, so it cannot be raised: "
            "ignored (as runc >= 1.2 and crun do)"
        ],
    ),
    (
        "unknown names are ignored with one warning each",
        {"bounding": ["CAP_FOO", "CAP_KILL"], "effective": ["CAP_FOO"]},
        (bits("CAP_KILL"), 0, 0, 0, 0),
        ["process.capabilities.bounding: unknown capability CAP_FOO: ignored"],
    ),
]


@pytest.mark.parametrize("name,caps,masks,warned", CAP_CASES, ids=[c[0] for c in CAP_CASES])
def test_capabilities(make, name, caps, masks, warned):
    p = make(setp(capabilities=caps))
    c = p.c
    assert (c.cap_bounding, c.cap_effective, c.cap_permitted, c.cap_inheritable, c.cap_ambient) == masks
    assert (c.set_caps, c.cap_last_cap) == (1, linux.cap_last_cap())
    assert make.warnings == warned


def test_no_capabilities_object_keeps_ours(make):
    assert make().c.set_caps == 0


def test_every_capability_name_has_its_number(make):
    names = linux.CAPS[: linux.cap_last_cap() + 1]
    p = make(setp(capabilities={"bounding": names}))
    assert p.c.cap_bounding == (1 << len(names)) - 1 & linux.cap_bounding()


# -- rlimits, user, process --------------------------------------------------------


def test_every_rlimit(make):
    rl = [{"type": t, "soft": i, "hard": 100 + i} for i, t in enumerate(sorted(RLIMITS))]
    p = make(setp(rlimits=rl))
    got = [(s(r.name), r.resource, r.soft, r.hard) for r in (p.c.rlimits[i] for i in range(p.c.n_rlimits))]
    assert got == [(r["type"], RLIMITS[r["type"]], r["soft"], r["hard"]) for r in rl]


USER_CASES = [
    # (name, process.user, (uid, gid, additional gids, umask))
    ("none", None, (0, 0, [], -1)),
    ("ids", {"uid": 5, "gid": 6, "additionalGids": [7, 8]}, (5, 6, [7, 8], -1)),
    ("umask", {"uid": 1, "gid": 1, "umask": 0o27}, (1, 1, [], 0o27)),
    ("umask 0", {"uid": 0, "gid": 0, "umask": 0}, (0, 0, [], 0)),
]


@pytest.mark.parametrize("name,user,want", USER_CASES, ids=[c[0] for c in USER_CASES])
def test_user(make, name, user, want):
    p = make(setp(user=user) if user is not None else None)
    c = p.c
    assert (c.uid, c.gid, [c.additional_gids[i] for i in range(c.n_additional_gids)], c.umask) == want


ENV_CASES = [
    # (name, env, envp without the HOME room, home filled by the core?, PATH for the lookup of args[0])
    ("no HOME", ["PATH=/bin", "A=1"], ["PATH=/bin", "A=1"], True, "/bin"),
    ("HOME given", ["HOME=/h", "A=1"], ["HOME=/h", "A=1"], False, process.DEFAULT_PATH),
    ("last PATH wins", ["PATH=/a", "PATH=/b", "HOME=/"], ["PATH=/a", "PATH=/b", "HOME=/"], False, "/b"),
]


@pytest.mark.parametrize("name,env,envp,home,path", ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_env(make, monkeypatch, name, env, envp, home, path):
    monkeypatch.delenv("LISTEN_FDS", raising=False)
    p = make(setp(env=env))
    got = strv(p.c.envp)
    if home:
        assert got[-1] == "HOME=" and p.c.home_env != ffi.NULL
        got = got[:-1]
    else:
        assert p.c.home_env == ffi.NULL
    assert got == envp
    assert s(p.c.path_env) == path


def test_socket_activation(make, monkeypatch):
    monkeypatch.setenv("LISTEN_FDS", "2")
    p = make(setp(env=["HOME=/", "LISTEN_FDS=9", "LISTEN_PID=1", "A=1"]), preserve_fds=1)
    assert strv(p.c.envp)[:3] == ["HOME=/", "A=1", "LISTEN_FDS=2"]
    assert s(p.c.listen_pid_env).startswith("LISTEN_PID=")
    assert p.c.preserve_fds == p.preserve_fds == 3


PROCESS_CASES = [
    # (name, process fields (or a mutation), {plan field: value})
    ("args and cwd", dict(args=["/bin/sh", "-c", "x"], cwd="/w"), dict(argv=["/bin/sh", "-c", "x"], cwd="/w")),
    ("terminal", dict(terminal=True), dict(terminal=1)),
    (
        "no terminal",
        {},
        dict(
            terminal=0,
            set_oom_score_adj=0,
            no_new_privileges=0,
            set_scheduler=0,
            set_ioprio=0,
            set_personality=0,
            set_mempolicy=0,
        ),
    ),
    ("oomScoreAdj", dict(oomScoreAdj=-500), dict(set_oom_score_adj=1, oom_score_adj=-500)),
    ("noNewPrivileges", dict(noNewPrivileges=True), dict(no_new_privileges=1)),
    (
        "scheduler",
        dict(
            scheduler={
                "policy": "SCHED_DEADLINE",
                "runtime": 10,
                "deadline": 20,
                "period": 30,
                "flags": ["SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN"],
            }
        ),
        dict(set_scheduler=1, sched_policy=6, sched_runtime=10, sched_deadline=20, sched_period=30, sched_flags=2 | 4),
    ),
    (
        "nice",
        dict(scheduler={"policy": "SCHED_OTHER", "nice": -5}),
        dict(set_scheduler=1, sched_policy=0, sched_nice=-5),
    ),
    (
        "ioPriority",
        dict(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 3}),
        dict(set_ioprio=1, ioprio=(2 << 13) | 3),
    ),
    ("personality", setl(personality={"domain": "LINUX32"}), dict(set_personality=1, personality=0x0008)),
    (
        "memoryPolicy",
        setl(memoryPolicy={"mode": "MPOL_BIND", "nodes": "0,65", "flags": ["MPOL_F_STATIC_NODES"]}),
        dict(set_mempolicy=1, mempolicy_mode=2 | (1 << 15), mempolicy_maxnode=129),
    ),
]


@pytest.mark.parametrize("name,change,want", PROCESS_CASES, ids=[c[0] for c in PROCESS_CASES])
def test_process(make, name, change, want):
    p = make(change if callable(change) else setp(**change))
    got = {}
    for k in want:
        v = getattr(p.c, k)
        got[k] = strv(v) if k == "argv" else s(v) if k == "cwd" else v
    assert got == want


def test_memory_policy_nodes(make):
    p = make(setl(memoryPolicy={"mode": "MPOL_BIND", "nodes": "0,65"}))
    assert [p.c.mempolicy_nodes[i] for i in range(2)] == [1, 2]


def test_exec_cpu_affinity(make):
    p = make(setp(execCPUAffinity={"initial": "0", "final": "1-2,9"}))
    initial = bytes(ffi.buffer(p.c.cpu_affinity_initial, p.c.cpu_affinity_initial_len))
    final = bytes(ffi.buffer(p.c.cpu_affinity_final, p.c.cpu_affinity_final_len))
    assert (len(initial), initial[0], final[0], final[1]) == (128, 1, 0b110, 0b10)


def test_session_keyring(make):
    assert s(make().c.session_keyring) == "cid"
    assert make(no_new_keyring=True).c.session_keyring == ffi.NULL


# -- devices, paths, sysctls --------------------------------------------------------

DEFAULTS = [
    ("/dev/null", S_IFCHR | 0o666, 1, 3, 0, 0, 0),
    ("/dev/zero", S_IFCHR | 0o666, 1, 5, 0, 0, 0),
    ("/dev/full", S_IFCHR | 0o666, 1, 7, 0, 0, 0),
    ("/dev/random", S_IFCHR | 0o666, 1, 8, 0, 0, 0),
    ("/dev/urandom", S_IFCHR | 0o666, 1, 9, 0, 0, 0),
    ("/dev/tty", S_IFCHR | 0o666, 5, 0, 0, 0, 0),
]
DEVICE_CASES = [
    # (name, linux.devices, the devices of the plan)
    ("the defaults", [], DEFAULTS),
    (
        "one of each type",
        [
            {"path": "/dev/c", "type": "c", "major": 1, "minor": 2, "fileMode": 0o600, "uid": 5, "gid": 6},
            {"path": "/dev/b", "type": "b", "major": 7, "minor": 0},
            {"path": "/dev/u", "type": "u", "major": 1, "minor": 3},
            {"path": "/dev/p", "type": "p"},
        ],
        [
            ("/dev/c", S_IFCHR | 0o600, 1, 2, 5, 6, 0),
            ("/dev/b", S_IFBLK | 0o666, 7, 0, 0, 0, 0),
            ("/dev/u", S_IFCHR | 0o666, 1, 3, 0, 0, 0),
            ("/dev/p", S_IFIFO | 0o666, 0, 0, 0, 0, 0),
        ]
        + DEFAULTS,
    ),
    (
        "a default given by the config is not added again",
        [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620}],
        [("/dev/null", S_IFCHR | 0o620, 1, 3, 0, 0, 0)] + DEFAULTS[1:],
    ),
]


@pytest.mark.parametrize("name,devs,want", DEVICE_CASES, ids=[c[0] for c in DEVICE_CASES])
def test_devices(make, name, devs, want):
    p = make(setl(devices=devs))
    assert devices(p) == want
    assert p.device_nodes == []
    links = {(s(x.target), s(x.path)) for x in (p.c.dev_symlinks[i] for i in range(p.c.n_dev_symlinks))}
    assert {("/proc/self/fd", "/dev/fd"), ("pts/ptmx", "/dev/ptmx")} <= links


def test_devices_in_a_user_namespace_come_from_the_parent(make):
    p = make(setl(namespaces=ns("mount", "user"), devices=[{"path": "/dev/c", "type": "c", "major": 1, "minor": 2}]))
    assert devices(p)[0] == ("/dev/c", S_IFCHR | 0o666, 1, 2, 0, 0, 1)
    assert p.device_nodes == [(0, "linux.devices[0]", "/dev/c", S_IFCHR | 0o666, 1, 2, 0, 0)]


def test_masked_and_readonly_paths(make):
    p = make(setl(maskedPaths=["/proc/kcore", "/a/./b/"], readonlyPaths=["/proc/sys"]))
    assert (strv(p.c.masked_paths), strv(p.c.readonly_paths)) == (["/proc/kcore", "/a/b"], ["/proc/sys"])


def test_sysctls(make):
    p = make(
        setl(
            namespaces=ns("mount", "network", "ipc"),
            sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmax": "5", "fs.mqueue.msg_max": "10"},
        )
    )
    got = [(s(x.path), s(x.value)) for x in (p.c.sysctls[i] for i in range(p.c.n_sysctls))]
    assert got == [
        ("/proc/sys/fs/mqueue/msg_max", "10"),
        ("/proc/sys/kernel/shmmax", "5"),
        ("/proc/sys/net/ipv4/ip_forward", "1"),
    ]


# -- hooks and seccomp ----------------------------------------------------------------


def test_hooks(make):
    p = make(
        lambda c: c.update(
            hooks={
                "prestart": [{"path": "/x"}],
                "poststart": [{"path": "/y"}],
                "createContainer": [
                    {"path": "/bin/true"},
                    {"path": "/bin/echo", "args": ["echo", "hi"], "env": ["A=1"], "timeout": 7},
                ],
                "startContainer": [{"path": "/bin/sh", "args": []}],
            }
        )
    )
    assert hooks(p.c.create_container_hooks, p.c.n_create_container_hooks) == [
        ("/bin/true", ["/bin/true"], [], 0),
        ("/bin/echo", ["echo", "hi"], ["A=1"], 7),
    ]
    assert hooks(p.c.start_container_hooks, p.c.n_start_container_hooks) == [("/bin/sh", ["/bin/sh"], [], 0)]
    assert p.core_hooks is True


def test_only_lifecycle_hooks(make):
    p = make(lambda c: c.update(hooks={"prestart": [{"path": "/x"}]}))
    assert (p.c.n_create_container_hooks, p.c.n_start_container_hooks, p.core_hooks) == (0, 0, False)


def test_seccomp(make):
    p = make()
    assert (p.seccomp, p.c.seccomp_bpf, p.c.seccomp_bpf_len) == (None, ffi.NULL, 0)
    p = make(
        setl(
            seccomp={
                "defaultAction": "SCMP_ACT_ALLOW",
                "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}],
            }
        )
    )
    assert p.seccomp is not None and not p.seccomp.needs_listener
    assert p.c.seccomp_bpf_len == len(p.seccomp.bpf) > 0
    assert bytes(ffi.buffer(p.c.seccomp_bpf, p.c.seccomp_bpf_len)) == p.seccomp.bpf
    assert p.c.seccomp_flags == p.seccomp.flags


# -- tolerances (tolerance.py) --------------------------------------------------------


def test_user_namespace_without_maps_maps_our_ids(make):
    p = make(setl(namespaces=ns("mount", "user")))
    assert (p.new_userns, p.unmapped_userns) == (True, True)
    assert p.uid_mappings == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert p.gid_mappings == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]


def test_user_namespace_with_maps(make):
    maps = [{"containerID": 0, "hostID": 1000, "size": 100}]
    p = make(setl(namespaces=ns("mount", "user"), uidMappings=maps, gidMappings=maps))
    assert (p.uid_mappings, p.gid_mappings, p.unmapped_userns) == (maps, maps, False)


def test_hostname_of_a_joined_uts_namespace(make):
    p = make(lambda c: (c.update(hostname="h"), c["linux"].update(namespaces=ns("mount", uts="/proc/self/ns/uts"))))
    assert s(p.c.hostname) == "h"


# -- refusals (validation.refusals: create's one line) ----------------------------

REFUSALS = [
    (
        "no mount namespace",
        setl(namespaces=ns("pid")),
        "linux.namespaces: a mount namespace is required (ocirun never sets up a rootfs on the host's mounts)",
    ),
    ("empty root.path", lambda c: c["root"].update(path=""), "root.path: missing"),
    ("empty destination", add_mount(destination="", type="tmpfs", source="tmpfs"), "mounts[0].destination: missing"),
    (
        "tmpcopyup on a bind mount",
        add_mount(destination="/t", type="bind", source="src", options=["tmpcopyup"]),
        "mounts[0].options[0]: tmpcopyup is only supported on tmpfs mounts",
    ),
    (
        "bind by option without a source",
        add_mount(destination="/t", options=["rbind"]),
        "mounts[0].source: a bind mount needs a source",
    ),
    (
        "unknown bind option",
        add_mount(destination="/t", type="bind", source="src", options=["rbind", "nosiud"]),
        "mounts[0].options[1]: 'nosiud' is not a mount option ocirun knows for a bind mount",
    ),
    (
        "idmap off a bind mount",
        add_mount(destination="/t", type="tmpfs", source="tmpfs", options=["idmap"]),
        "mounts[0].options: idmap is only supported on bind mounts",
    ),
    (
        "idmap without a user namespace",
        add_mount(destination="/t", type="bind", source="src", options=["ridmap"]),
        "mounts[0].options: ridmap needs a user namespace",
    ),
    (
        "per-mount maps off a bind mount",
        add_mount(
            destination="/t",
            type="tmpfs",
            source="tmpfs",
            uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}],
            gidMappings=[{"containerID": 0, "hostID": 1, "size": 1}],
        ),
        "mounts[0].uidMappings: per-mount id mappings are only supported on bind mounts",
    ),
    (
        "netDevices without a network namespace",
        setl(netDevices={"lo": {}}),
        "linux.netDevices: needs a network namespace in linux.namespaces (the devices would stay on the host)",
    ),
    (
        "netDevices bad name",
        setl(namespaces=ns("mount", "network"), netDevices={"lo": {"name": "a/b"}}),
        "linux.netDevices.lo.name: 'a/b' is not a valid interface name",
    ),
    (
        "netDevices same name twice",
        setl(namespaces=ns("mount", "network"), netDevices={"lo": {"name": "e0"}, "x0": {"name": "e0"}}),
        "linux.netDevices.x0.name: 'e0' is also the name of linux.netDevices.lo",
    ),
    (
        "sysctl key",
        setl(namespaces=ns("mount", "network"), sysctl={"net..x": "1"}),
        "linux.sysctl: invalid key 'net..x'",
    ),
    (
        "personality flags",
        setl(personality={"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
        "linux.personality.flags: personality flags are not supported",
    ),
    (
        "seccomp: NOTIFY as the default",
        setl(seccomp={"defaultAction": "SCMP_ACT_NOTIFY"}),
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
    ),
    (
        "seccomp: argument index",
        setl(
            seccomp={
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {
                        "names": ["getpid"],
                        "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}],
                    }
                ],
            }
        ),
        "linux.seccomp.syscalls[0].args[0].index: 6 is not an integer from 0 to 5",
    ),
    # what only the host can tell: still plan.py's
    (
        "bind source missing",
        add_mount(destination="/t", type="bind", source="/no/such"),
        "mounts[0].source: `/no/such`: ENOENT (No such file or directory)",
    ),
    (
        "no such network device",
        setl(namespaces=ns("mount", "network"), netDevices={"nosuch0": {}}),
        "linux.netDevices.nosuch0: no network device 'nosuch0' on the host",
    ),
    ("no process.args", lambda c: c.pop("process"), "process.args: missing or empty"),
]


@pytest.mark.parametrize("name,mutate,line", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusals(bundle, name, mutate, line):
    assert refused(bundle, mutate) == line


def test_refusals_list_every_problem_in_order(bundle):
    cfg = copy.deepcopy(BASE)
    cfg["linux"].update(namespaces=ns("pid"), personality={"domain": "LINUX", "flags": ["X"]})
    cfg["mounts"] = [{"destination": "", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "idmap"]}]
    assert validation.refusals(cfg) == [
        ("linux.namespaces", "a mount namespace is required (ocirun never sets up a rootfs on the host's mounts)"),
        ("mounts[0].destination", "missing"),
        ("mounts[0].options", "idmap is only supported on bind mounts"),
        ("linux.personality.flags", "personality flags are not supported"),
    ]
    assert validation.refusals(copy.deepcopy(BASE)) == []


def test_a_checked_config_gives_the_spec_defaults():
    cfg = validation.checked(
        {
            "ociVersion": "1.3.0",
            "root": {"path": "r"},
            "linux": {"namespaces": [{"type": "mount"}, {"type": "network", "path": ""}]},
        }
    )
    assert (cfg.process, cfg.mounts, cfg.hooks) == ({}, [], {})
    assert cfg.namespaces == {"mount": None, "network": None}
    assert validation.checked(cfg) is cfg
