"""config-linux.md#control-groups: cgroupsPath and the resources a config
asks for, read from the host while the container is `created`.

cgroup v1, v2 and hybrid hosts are told apart at run time; a controller or
a knob this host lacks makes its check "unsupported here"."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from conformance.harness import Lazy, Unsupported
from conformance.runtime import cgroup_rel

MiB = 1 << 20
ROOT = Path("/sys/fs/cgroup")


class CgroupView:
    """Where one process sits in each hierarchy mounted under /sys/fs/cgroup."""

    def __init__(self, pid: int):
        self.v1 = {}  # controller -> directory
        self.v2 = None  # directory in the cgroup2 hierarchy
        v2_root = (
            ROOT / "unified"
            if (ROOT / "unified" / "cgroup.controllers").exists()
            else (ROOT if (ROOT / "cgroup.controllers").exists() else None)
        )
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if ctrls == "":
                if v2_root:
                    self.v2 = v2_root / path.lstrip("/")
                continue
            for c in ctrls.split(","):
                c = c.replace("name=", "")
                d = ROOT / c
                if d.is_dir():
                    self.v1[c] = d / path.lstrip("/")
        self.paths = {c: "/" + str(p.relative_to(ROOT / c)).lstrip(".") for c, p in self.v1.items()}
        self.v2_controllers = set()
        if v2_root:
            self.v2_controllers = set((v2_root / "cgroup.controllers").read_text().split())
        # the checks run after delete: keep a copy of every readable file now
        self.files = {}
        for d in list(self.v1.values()) + ([self.v2] if self.v2 else []):
            for f in d.iterdir() if d.is_dir() else ():
                try:
                    self.files[f] = f.read_text().strip()
                except OSError:
                    pass

    def read(self, v1=None, v2=None) -> str:
        """Read (controller, file) on v1 or `file` on v2, whichever hierarchy has the controller."""
        if v1 and v1[0] in self.v1:
            f = self.v1[v1[0]] / v1[1]
        elif v2 and self.v2 is not None and v2.split(".")[0] in self.v2_controllers:
            f = self.v2 / v2
        else:
            raise Unsupported(f"no {(v1 or v2.split('.'))[0]} controller mounted here")
        if f not in self.files:
            ctrl = v2.split(".")[0] if f.parent == self.v2 else None
            here = self.files.get(self.v2 / "cgroup.controllers") if ctrl else None
            if here is not None and ctrl not in here.split():
                # on the host's cgroup2, but not enabled for the container's cgroup
                raise AssertionError(
                    f"{ctrl} is not enabled in the container's cgroup2 directory {self.v2} "
                    f"(its cgroup.controllers: {here!r}), so no {f.name} limit applies"
                )
            raise Unsupported(f"{f.name} does not exist on this kernel")
        return self.files[f]


def _block_device():
    for dev in sorted(glob.glob("/sys/block/*/dev")):
        name = dev.split("/")[3]
        if not name.startswith(("loop", "ram")):
            major, minor = open(dev).read().strip().split(":")
            return int(major), int(minor)
    return None


RESOURCES = {
    "memory": {
        "limit": 64 * MiB,
        "reservation": 32 * MiB,
        "swap": 128 * MiB,
        "swappiness": 10,
        "disableOOMKiller": True,
    },
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
    "pids": {"limit": 77},
    "devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 42, "minor": 42, "access": "rw"},
        {"allow": False, "type": "c", "major": 42, "minor": 42, "access": "w"},
    ],
}


def _inspect(st):
    view = CgroupView(st["pid"])
    return {"view": view}


def _inspect_with_unit(env):
    """_inspect, plus in systemd mode the state of the container's scope unit."""

    def inspect(st):
        out = _inspect(st)
        if env.rt.systemd is not None:
            unit = cgroup_rel(env.rt.cgroups_path(st["id"])).rsplit("/", 1)[-1]
            out["unit"] = env.rt.systemd.show(unit, "LoadState", "ActiveState")
        return out

    return inspect


def test_resources(env, spec):
    blk = _block_device()

    def mutate(c, b):
        res = {k: (list(v) if isinstance(v, list) else dict(v)) for k, v in RESOURCES.items()}
        # keep the runtime's default device rules in front, as engines do
        if blk:
            res["blockIO"] = {"throttleReadBpsDevice": [{"major": blk[0], "minor": blk[1], "rate": 1048576}]}
        c["linux"]["resources"] = res

    run = env.lazy(
        "cgroups",
        probes=["--mknod-open", "/dev/conf-kmsg", "c", "1", "11"],
        mutate=mutate,
        inspect=_inspect_with_unit(env),
    )
    view = lambda: run().host["view"]  # noqa: E731
    path = lambda: run().bundle.config["linux"]["cgroupsPath"]  # noqa: E731

    if env.rt.systemd is None:
        with spec.check(
            "config-linux.md#cgroups-path",
            "MUST",
            "an absolute cgroupsPath is taken relative to each hierarchy's mount point",
        ):
            v = view()
            wanted = [c for c in ("memory", "cpu", "cpuset", "pids", "devices", "blkio") if c in v.v1]
            if not wanted and v.v2 is None:
                raise Unsupported("no cgroup hierarchy mounted")
            for c in wanted:
                assert v.paths[c] == path(), f"{c}: the process is in {v.paths[c]}, not {path()}"
            if not wanted:
                assert str(v.v2).endswith(path()), f"cgroup2: {v.v2}"
    else:
        # runc's convention, which engines rely on; the spec leaves the form to the runtime
        with spec.check(
            "config-linux.md#cgroups-path",
            "DE-FACTO",
            "with --systemd-cgroup, cgroupsPath slice:prefix:name puts the process in the "
            "transient scope prefix-name.scope of that slice (or a cgroup below it)",
        ):
            v = view()
            scope = "/" + cgroup_rel(path())
            wanted = [c for c in ("memory", "cpu", "cpuset", "pids", "devices", "blkio", "systemd") if c in v.v1]
            if not wanted and v.v2 is None:
                raise Unsupported("no cgroup hierarchy mounted")
            for c in wanted:
                assert v.paths[c] == scope or v.paths[c].startswith(scope + "/"), (
                    f"{c}: the process is in {v.paths[c]}, not in {scope}"
                )
            if not wanted:
                assert f"{scope}/" in f"{v.v2}/", f"cgroup2: {v.v2}"
            unit = scope.rsplit("/", 1)[1]
            show = run().host.get("unit", {})
            assert show.get("ActiveState") == "active", f"{unit} while created: {show or 'not found'}"

    cases = [
        (
            "memory",
            "memory.limit is the memory limit",
            ("memory", "memory.limit_in_bytes"),
            "memory.max",
            str(64 * MiB),
        ),
        (
            "memory",
            "memory.reservation is the soft limit",
            ("memory", "memory.soft_limit_in_bytes"),
            "memory.low",
            str(32 * MiB),
        ),
        (
            "memory",
            "memory.swap is the memory+swap limit",
            ("memory", "memory.memsw.limit_in_bytes"),
            None,
            str(128 * MiB),
        ),
        ("memory", "memory.swappiness is applied", ("memory", "memory.swappiness"), None, "10"),
        (
            "memory",
            "memory.disableOOMKiller disables the OOM killer",
            ("memory", "memory.oom_control"),
            None,
            "oom_kill_disable 1",
        ),
        ("cpu", "cpu.shares is applied", ("cpu", "cpu.shares"), None, "512"),
        ("cpu", "cpu.quota is the CFS quota", ("cpu", "cpu.cfs_quota_us"), "cpu.max", "50000"),
        ("cpu", "cpu.period is the CFS period", ("cpu", "cpu.cfs_period_us"), "cpu.max", "100000"),
        ("cpu", "cpu.cpus is the cpuset", ("cpuset", "cpuset.cpus"), "cpuset.cpus", "0"),
        ("cpu", "cpu.mems is the memory-node set", ("cpuset", "cpuset.mems"), "cpuset.mems", "0"),
        ("pids", "pids.limit is pids.max", ("pids", "pids.max"), "pids.max", "77"),
    ]
    for group, title, v1, v2, want in cases:
        with spec.check(f"config-linux.md#{group}", "MUST", title):
            got = view().read(v1=v1, v2=v2)
            if v2 == "cpu.max" and v1[0] not in view().v1:
                got = got.split()[0 if "quota" in title else 1]
            if "oom_control" in v1[1]:
                assert want in got.splitlines(), got
            else:
                assert got == want, f"{v1[1] if v1[0] in view().v1 else v2} is {got!r}, expected {want!r}"

    with spec.check("config-linux.md#block-io", "MUST", "blockIO.throttleReadBpsDevice is applied"):
        if blk is None:
            raise Unsupported("no block device on this host")
        v = view()
        got = v.read(v1=("blkio", "blkio.throttle.read_bps_device"), v2="io.max")
        want = f"{blk[0]}:{blk[1]} 1048576" if "blkio" in v.v1 else f"{blk[0]}:{blk[1]} rbps=1048576"
        assert want in got, f"{got!r} lacks {want!r}"

    with spec.check(
        "config-linux.md#allowed-device-list",
        "MUST",
        "device rules are applied in order (allow c 42:42 rw, then deny w, leaves r)",
    ):
        v = view()
        if "devices" not in v.v1:
            raise Unsupported("devices are controlled by eBPF on cgroup2; no list to read")
        rules = v.read(v1=("devices", "devices.list")).splitlines()
        assert "a *:* rwm" not in rules, "everything is allowed"
        assert "c 42:42 r" in rules, f"devices.list: {rules}"

    with spec.check(
        "config-linux.md#allowed-device-list",
        "MUST",
        "a device the rules do not allow cannot be opened (mknod c 1:11, open)",
    ):
        r = run().facts["mknod-open"]["/dev/conf-kmsg"]
        assert r["mknod_errno"] == 0, f"mknod failed with errno {r['mknod_errno']}"
        assert r["open_errno"] == 1, f"open gave errno {r['open_errno']}, expected EPERM (1)"

    with spec.check("config-linux.md#control-groups", "MUST", "the container's cgroups are removed by delete"):
        left = run().host["cgroup_dirs_after_delete"]
        assert not left, f"left: {left}"
        if env.rt.systemd is not None:
            unit = run().host["unit_after_delete"]
            assert unit.get("LoadState") == "not-found" or unit.get("ActiveState") == "inactive", (
                f"the scope unit after delete: {unit}"
            )


def _hugepage_sizes():
    return sorted(os.path.basename(p).split("-")[1] for p in glob.glob("/sys/kernel/mm/hugepages/hugepages-*"))


def test_hugetlb(env, spec):
    def go():
        if "2048kB" not in _hugepage_sizes():
            raise Unsupported("no 2 MB huge pages on this kernel")
        return env.run(
            "hugetlb",
            inspect=_inspect,
            mutate=lambda c, b: c["linux"]["resources"].__setitem__(
                "hugepageLimits", [{"pageSize": "2MB", "limit": 8 * MiB}]
            ),
        )

    run = Lazy(go)
    with spec.check("config-linux.md#huge-page-limits", "MUST", "hugepageLimits 2MB is the hugetlb limit"):
        got = run().host["view"].read(v1=("hugetlb", "hugetlb.2MB.limit_in_bytes"), v2="hugetlb.2MB.max")
        assert got == str(8 * MiB), f"hugetlb limit is {got}"


def test_blkio_weight(env, spec):
    with spec.check("config-linux.md#block-io", "MUST", "blockIO.weight is applied"):
        files = [
            f
            for f in ("blkio/blkio.weight", "blkio/blkio.bfq.weight", "io.weight", "unified/io.weight", "io.bfq.weight")
            if (ROOT / f).exists()
        ]
        if not files:
            raise Unsupported("no blkio.weight or io.weight here (no CFQ/BFQ, no io controller on cgroup2)")
        run = env.run(
            "blkweight",
            inspect=_inspect,
            mutate=lambda c, b: c["linux"]["resources"].__setitem__("blockIO", {"weight": 300}),
        )
        v = run.host["view"]
        got = v.read(v1=("blkio", os.path.basename(files[0])), v2="io.weight")
        assert got.split()[-1] == "300", got


def test_network_classes(env, spec):
    with spec.check("config-linux.md#network", "MUST", "network.classID is the net_cls class id"):
        if not (ROOT / "net_cls").is_dir() and not (ROOT / "net_cls,net_prio").is_dir():
            raise Unsupported("net_cls is not mounted on this host")
        run = env.run(
            "netcls",
            inspect=_inspect,
            mutate=lambda c, b: c["linux"]["resources"].__setitem__("network", {"classID": 1048577}),
        )
        assert run.host["view"].read(v1=("net_cls", "net_cls.classid")) == "1048577"
