"""config.md: root, mounts, process, hostname, as seen from inside the container."""

from __future__ import annotations

import os

import pytest

from conformance.capnames import names
from conformance.harness import mount_at, mountinfo

BOUNDING = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
]
INHERITABLE = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
AMBIENT = ["CAP_NET_BIND_SERVICE"]
ENV = ["PATH=/usr/bin:/bin", "CONF_A=1", "CONF_B=two words", "HOME=/root", "EMPTY="]
RLIMITS = {"RLIMIT_NOFILE": (1021, 2049), "RLIMIT_CORE": (4096, 8192), "RLIMIT_MSGQUEUE": (40000, 50000)}


def caps_of(facts, field):
    return set(names(int(facts["status"][field], 16)))


@pytest.fixture(scope="module")
def root_run(env):
    """uid 0, a read-only rootfs, explicit capabilities, rlimits, env, cwd, umask."""

    def mutate(c, b):
        p = c["process"]
        p["env"] = list(ENV)
        p["cwd"] = "/out"
        p["user"] = {"uid": 0, "gid": 0, "additionalGids": [10, 20], "umask": 0o027}
        p["capabilities"] = {
            "bounding": BOUNDING,
            "effective": BOUNDING,
            "permitted": BOUNDING,
            "inheritable": INHERITABLE,
            "ambient": AMBIENT,
        }
        p["rlimits"] = [{"type": t, "soft": s, "hard": h} for t, (s, h) in RLIMITS.items()]
        p["noNewPrivileges"] = True
        p["oomScoreAdj"] = 123
        c["hostname"] = "conformance-host"
        c["mounts"] += [
            {
                "destination": "/mnt/a",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=750"],
            },
            {"destination": "/mnt/a/b", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "size=1m"]},
            {
                "destination": "/mnt/ro-bind",
                "type": "bind",
                "source": str(env.workdir / "share"),
                "options": ["rbind", "ro"],
            },
            {"destination": "/mnt/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]},
            {"destination": "/mnt/unbindable", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"]},
            {"destination": "/mnt/noatime", "type": "tmpfs", "source": "tmpfs", "options": ["noatime", "nosuid"]},
        ]

    (env.workdir / "share").mkdir(exist_ok=True)
    (env.workdir / "share" / "file").write_text("shared\n")
    probes = [
        "--stat",
        "/checker",
        "--create",
        "/rootfs-is-writable",
        "--create",
        "/mnt/ro-bind/x",
        "--read",
        "/mnt/ro-bind/file",
        "--create",
        "/mnt/a/x",
        "--create",
        "/out/x",
    ]
    return env.lazy("root", probes=probes, mutate=mutate)


@pytest.fixture(scope="module")
def user_run(env):
    """uid 1000 with supplementary groups, capabilities through the ambient set."""

    def mutate(c, b):
        p = c["process"]
        p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 6, 1000]}
        p["cwd"] = "/home/user"
        p["capabilities"] = {
            "bounding": BOUNDING,
            "effective": INHERITABLE,
            "permitted": INHERITABLE,
            "inheritable": INHERITABLE,
            "ambient": AMBIENT,
        }
        p["noNewPrivileges"] = False
        p.pop("oomScoreAdj", None)
        c["root"]["readonly"] = False

    return env.lazy("user", probes=["--create", "/home/user/x"], mutate=mutate)


def test_process(env, spec, root_run, user_run):
    with spec.check("config.md#process", "MUST", "process.args is executed (argv as given)"):
        f = root_run().facts
        assert f["pid"] > 0

    with spec.check("config.md#process", "MUST", "process.env is the environment of the process"):
        f = root_run().facts
        missing = [e for e in ENV if e not in f["env"]]
        assert not missing, f"missing {missing}; got {f['env']}"

    with spec.check("config.md#process", "SHOULD", "the environment holds nothing but process.env"):
        f = root_run().facts
        extra = sorted(set(f["env"]) - set(ENV))
        assert not extra, f"added {extra}"

    with spec.check("config.md#process", "MUST", "process.cwd is the working directory"):
        assert root_run().facts["cwd"] == "/out"
        assert user_run().facts["cwd"] == "/home/user"

    with spec.check("config.md#user", "MUST", "user.uid and user.gid are the process's ids (root)"):
        f = root_run().facts
        assert f["uid"] == [0, 0, 0] and f["gid"] == [0, 0, 0], (f["uid"], f["gid"])

    with spec.check("config.md#user", "MUST", "user.uid and user.gid are the process's ids (uid 1000)"):
        f = user_run().facts
        assert f["uid"] == [1000, 1000, 1000], f"uid (real, effective, saved) {f['uid']}"
        assert f["gid"] == [1000, 1000, 1000], f"gid (real, effective, saved) {f['gid']}"

    with spec.check("config.md#user", "MUST", "user.additionalGids are the supplementary groups"):
        assert sorted(root_run().facts["groups"]) == [10, 20], root_run().facts["groups"]
        assert sorted(user_run().facts["groups"]) == [5, 6, 1000], user_run().facts["groups"]

    with spec.check("config.md#user", "MUST", "user.umask is the process's umask"):
        assert root_run().facts["status"]["Umask"] == "0027", root_run().facts["status"]["Umask"]

    with spec.check("config.md#user", "SHOULD", "without user.umask the umask is not changed (0022 here)"):
        assert user_run().facts["status"]["Umask"] == "%04o" % _our_umask()

    for field, key, want in (
        ("bounding", "CapBnd", BOUNDING),
        ("effective", "CapEff", BOUNDING),
        ("permitted", "CapPrm", BOUNDING),
        ("inheritable", "CapInh", INHERITABLE),
        ("ambient", "CapAmb", AMBIENT),
    ):
        with spec.check("config.md#linux-process", "MUST", f"capabilities.{field} is the {field} set (root)"):
            got = caps_of(root_run().facts, key)
            assert got == set(want), f"{key}: extra {sorted(got - set(want))}, missing {sorted(set(want) - got)}"

    with spec.check("config.md#linux-process", "MUST", "capabilities.bounding is the bounding set (uid 1000)"):
        got = caps_of(user_run().facts, "CapBnd")
        assert got == set(BOUNDING), sorted(got ^ set(BOUNDING))

    with spec.check(
        "config.md#linux-process",
        "MUST",
        "capabilities.ambient survives execve for uid 1000 (permitted = effective = ambient)",
    ):
        f = user_run().facts
        for key, want in (("CapAmb", AMBIENT), ("CapPrm", AMBIENT), ("CapEff", AMBIENT), ("CapInh", INHERITABLE)):
            got = caps_of(f, key)
            assert got == set(want), f"{key} is {sorted(got)}, expected {want}"

    with spec.check("config.md#linux-process", "MUST", "noNewPrivileges: true sets no_new_privs"):
        assert root_run().facts["status"]["NoNewPrivs"] == "1"

    with spec.check("config.md#linux-process", "MUST", "noNewPrivileges: false leaves no_new_privs unset"):
        assert user_run().facts["status"]["NoNewPrivs"] == "0"

    for name, (soft, hard) in RLIMITS.items():
        with spec.check("config.md#posix-process", "MUST", f"rlimits: {name} soft and hard are applied"):
            got = root_run().facts["rlimits"][name]
            assert got == [soft, hard], f"{name} is {got}, expected {[soft, hard]}"

    with spec.check("config.md#linux-process", "MUST", "oomScoreAdj is written to oom_score_adj"):
        assert root_run().facts["oom_score_adj"].strip() == "123"

    with spec.check("config.md#linux-process", "MUST", "without oomScoreAdj the value is not changed"):
        with open("/proc/self/oom_score_adj") as f:
            ours = f.read().strip()
        assert user_run().facts["oom_score_adj"].strip() == ours


def _our_umask() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def test_root_and_hostname(env, spec, root_run, user_run):
    with spec.check("config.md#root", "MUST", "root.readonly: true makes the root filesystem read-only"):
        got = root_run().facts["create"]["/rootfs-is-writable"]["errno"]
        assert got == 30, f"creating a file in / gave errno {got}, expected EROFS (30)"

    with spec.check("config.md#root", "MUST", "root.readonly: false leaves the root filesystem writable"):
        got = user_run().facts["create"]["/home/user/x"]["errno"]
        assert got == 0, f"creating a file in the rootfs gave errno {got}"
        root = mount_at(mountinfo(user_run().facts["mountinfo"]), "/")
        assert "rw" in root["opts"], f"/ is mounted {sorted(root['opts'])}"

    with spec.check("config.md#root", "MUST", "root.path is the container's root filesystem"):
        host = os.stat(env.rootfs / "checker")
        inside = root_run().facts["stat"]["/checker"]["lstat"]
        assert (inside["dev"], inside["ino"]) == (host.st_dev, host.st_ino), (
            "/checker inside is not the file of root.path"
        )

    with spec.check("config.md#hostname", "MUST", "hostname is the container's hostname"):
        assert root_run().facts["hostname"] == "conformance-host"

    with spec.check("config.md#domainname", "MUST", "domainname is the container's NIS domain name (1.1)"):

        def mutate(c, b):
            c["domainname"] = "conformance.example"

        f = env.run("domain", mutate=mutate, oci_version="1.1.0").facts
        assert f["domainname"] == "conformance.example", f"domainname is {f['domainname']!r}"


def test_mounts(env, spec, root_run):
    rows = lambda: mountinfo(root_run().facts["mountinfo"])  # noqa: E731

    with spec.check("config.md#mounts", "MUST", "mounts are mounted in the listed order (nested tmpfs)"):
        r = rows()
        a, b = mount_at(r, "/mnt/a"), mount_at(r, "/mnt/a/b")
        assert a and b, "a mount is missing"
        assert b["parent"] == a["id"], "/mnt/a/b is not mounted on top of /mnt/a"

    with spec.check("config.md#mounts", "MUST", "mount options nosuid, nodev, noexec are applied"):
        a = mount_at(rows(), "/mnt/a")
        assert {"nosuid", "nodev", "noexec"} <= a["opts"], sorted(a["opts"])

    with spec.check("config.md#mounts", "MUST", "filesystem data options (size=, mode=) are passed to the filesystem"):
        a = mount_at(rows(), "/mnt/a")
        assert a["fstype"] == "tmpfs"
        assert "size=1024k" in a["super"] and "mode=750" in a["super"], sorted(a["super"])

    with spec.check("config.md#mounts", "MUST", "mount option ro makes a mount read-only"):
        b = mount_at(rows(), "/mnt/a/b")
        assert "ro" in b["opts"], sorted(b["opts"])

    with spec.check("config.md#mounts", "MUST", "a bind mount (rbind, ro) shows the host directory read-only"):
        f = root_run().facts
        assert f["read"]["/mnt/ro-bind/file"]["data"] == "shared\n", f["read"]["/mnt/ro-bind/file"]
        assert f["create"]["/mnt/ro-bind/x"]["errno"] == 30, f["create"]["/mnt/ro-bind/x"]
        m = mount_at(rows(), "/mnt/ro-bind")
        assert m and "ro" in m["opts"]

    with spec.check("config.md#mounts", "MUST", "mount option noatime is applied"):
        m = mount_at(rows(), "/mnt/noatime")
        assert m and "noatime" in m["opts"], m and sorted(m["opts"])

    with spec.check("config.md#mounts", "MUST", "propagation option shared makes a shared mount"):
        m = mount_at(rows(), "/mnt/shared")
        assert m and any(o.startswith("shared:") for o in m["optional"]), m and m["optional"]

    with spec.check("config.md#mounts", "MUST", "propagation option unbindable makes an unbindable mount"):
        m = mount_at(rows(), "/mnt/unbindable")
        assert m and "unbindable" in m["optional"], m and m["optional"]

    with spec.check("config.md#mounts", "MUST", "a read-write bind mount is writable"):
        assert root_run().facts["create"]["/out/x"]["errno"] == 0

    with spec.check(
        "config-linux.md#default-filesystems",
        "SHOULD",
        "/proc, /sys, /dev/pts and /dev/shm are proc, sysfs, devpts and tmpfs",
    ):
        r = rows()
        for point, fstype in (("/proc", "proc"), ("/sys", "sysfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs")):
            m = mount_at(r, point)
            assert m and m["fstype"] == fstype, f"{point}: {m and m['fstype']}"


def test_invalid_process(env, spec):
    rt = env.rt
    cases = [
        (
            "config.md#posix-process",
            "rlimits with a duplicated type are an error",
            lambda p: p.__setitem__(
                "rlimits",
                [
                    {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                    {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200},
                ],
            ),
        ),
        (
            "config.md#posix-process",
            "an rlimit type the kernel does not know is an error",
            lambda p: p.__setitem__("rlimits", [{"type": "RLIMIT_NO_SUCH_LIMIT", "soft": 1, "hard": 1}]),
        ),
    ]
    for section, title, change in cases:
        with spec.check(section, "MUST", title):
            env.need_working()
            cid, b = env.bundle(
                "badproc", args=["/checker", "touch", "/out/ran"], mutate=lambda c, b: change(c["process"])
            )
            try:
                r = rt.create(cid, b.path)
                if r.ok:
                    rt.start(cid)
                assert not r.ok, "create accepted it"
                assert rt.state(cid) is None, "the failed container still exists"
            finally:
                rt.cleanup(cid)
