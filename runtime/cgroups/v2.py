"""cgroup v2: one directory in the unified hierarchy, spec values converted to v2 files."""

from .. import errors
from . import fs
from .fs import SIGKILL
from .resources import (
    blkio_weight_to_io_weight,
    pids_max,
    shares_to_weight,
    swap_to_v2,
    write_in_some_order,
)
from .values import PREFIX, bad

_IO_MAX_KEYS = {
    "throttleReadBpsDevice": "rbps",
    "throttleWriteBpsDevice": "wbps",
    "throttleReadIOPSDevice": "riops",
    "throttleWriteIOPSDevice": "wiops",
}


class DelegatingGroup(fs.Group):
    def after_mkdir(self, d):
        if d != self.dir:
            delegate(self.host, d)


def delegate(host, d):
    """Enable in d's cgroup.subtree_control every controller d has, so its children get them."""
    try:
        have = host.read(d + "/cgroup.controllers").decode().split()
    except OSError:
        return
    try:
        on = set(host.read(d + "/cgroup.subtree_control").decode().split())
    except OSError:
        on = set()
    for c in have:
        if c in on:
            continue
        try:
            host.write(d + "/cgroup.subtree_control", ("+" + c).encode())
        except OSError:
            # A parent holding processes cannot delegate (the "no internal
            # processes" rule); the limit needing it then fails by name.
            pass


class V2Manager(fs.FsManager):
    layout = "v2"
    # False for a rootless container (rootless.decide_cgroups): an unprivileged
    # user cannot attach a BPF device program; the user namespace already keeps
    # the container from making or opening devices its user cannot.
    device_filter = True

    def __init__(self, host, dir, mount, made=None, resources=None, extra_devices=()):
        self.group = DelegatingGroup(host, dir, mount, made)
        super().__init__(host, [self.group], resources, extra_devices)

    @classmethod
    def from_dict(cls, d, host):
        return cls(host, d["dir"], d["mount"], d["made"])

    def to_dict(self):
        d = self.group.to_dict()
        d.update(driver="cgroupfs", layout="v2")
        return d

    def hierarchies(self):
        return [(self.group, None)]

    def available(self):
        """Controllers this hierarchy offers at all (its root's cgroup.controllers)."""
        try:
            return self.host.read(self.group.mount.rstrip("/") + "/cgroup.controllers").decode().split()
        except OSError:
            return []

    # -- making -----------------------------------------------------------
    def create(self):
        g = self.group
        # Every cgroup above ours must delegate the controllers down to it.
        ancestors, cur = [], g.dir
        while cur != g.mount and "/" in cur and len(cur) > len(g.mount):
            cur = cur.rsplit("/", 1)[0]
            ancestors.append(cur)
        ancestors.reverse()
        made = set(g.made)
        for a in ancestors:
            if a not in made:
                delegate(self.host, a)  # the ones create makes delegate as they appear
        super().create()

    # -- processes --------------------------------------------------------
    def join(self, pid):
        self.group.write("cgroup.procs", pid)

    def pids(self):
        return self.group.procs()

    def can_freeze(self):
        return self.group.has("cgroup.freeze")

    def _events(self):
        ev = {}
        for line in (self.group.read_opt("cgroup.events") or "").splitlines():
            k, _, v = line.partition(" ")
            ev[k] = v.strip()
        return ev

    def freeze(self):
        self.group.write("cgroup.freeze", "1")
        try:
            fs.wait_until(lambda: self._events().get("frozen") == "1", "freezing `%s`" % self.group.dir)
        except errors.OciError:
            self.group.write("cgroup.freeze", "0")
            raise

    def thaw(self):
        self.group.write("cgroup.freeze", "0")
        fs.wait_until(lambda: self._events().get("frozen") != "1", "thawing `%s`" % self.group.dir)

    def frozen(self):
        return self._events().get("frozen") == "1"

    def kill_all(self, sig):
        # cgroup.kill (5.14) kills every process at once, forks included.
        if sig == SIGKILL and self.group.has("cgroup.kill"):
            self.group.write("cgroup.kill", "1")
            return
        super().kill_all(sig)

    # -- resources --------------------------------------------------------
    def check(self, resources=None, only=None):
        res = self.resources_of(resources)
        want = lambda name: only is None or name in only  # noqa: E731
        cpu, mem = res.cpu, res.memory
        if cpu and want("cpu"):
            for key, v in (("realtimeRuntime", cpu.rt_runtime), ("realtimePeriod", cpu.rt_period)):
                if v:
                    raise bad(cpu.FIELD + key, v, "cgroup v2 has no realtime group scheduling")
        if mem and want("memory"):
            swap_to_v2(mem.swap, mem.limit, mem.FIELD + "swap")  # a swap limit needs a memory limit here

    def apply(self, resources=None, updating=False, only=None):
        """Write resources; `only` limits it to some sections (JSON names: the hybrid manager splits them)."""
        res = self.resources_of(resources)
        self.check(res, only)
        want = lambda name: only is None or name in only  # noqa: E731
        g = self.group
        if want("devices") and not updating and self.device_filter:  # update leaves the rules alone, as runc
            self._devices(res)
        if res.memory and want("memory"):
            self._memory(g, res.memory, updating)
        if res.cpu and want("cpu"):
            self._cpu(g, res.cpu)
        if res.blockio and want("blockIO"):
            self._blockio(g, res.blockio)
        if res.hugepages and want("hugepageLimits"):
            self._hugepages(g, res.hugepages)
        if res.network and want("network"):
            if res.network.class_id is not None or res.network.priorities:
                self.warn("%s.network: cgroup v2 has no net_cls/net_prio; ignored" % PREFIX)
        if res.pids and want("pids"):
            if res.pids.limit is not None:
                g.write("pids.max", pids_max(res.pids.limit), PREFIX + ".pids.limit")
        if res.rdma is not None and want("rdma"):
            for line, field in res.rdma:
                g.write("rdma.max", line, field)
        if res.unified and want("unified"):
            for key, value, field in res.unified:
                g.write(key, value, field)

    def _memory(self, g, m, updating):
        f = m.FIELD
        limit, reservation = m.limit, m.reservation
        swap_max = swap_to_v2(m.swap, limit, f + "swap")
        m.check_usage(updating, lambda: g.read("memory.current"))
        # memory.swap.max is independent of memory.max on v2: no ordering.
        if limit is not None:
            g.write("memory.max", "max" if limit < 0 else limit, f + "limit")
        if swap_max is not None:
            if g.has("memory.swap.max") or not g.has("memory.max"):
                g.write("memory.swap.max", swap_max, f + "swap")
            else:
                self.warn("%sswap: this kernel has no memory.swap.max (swap accounting off); ignored" % f)
        if reservation is not None:
            g.write("memory.low", "max" if reservation < 0 else reservation, f + "reservation")
        for key, value in (("kernel", m.kernel), ("kernelTCP", m.kernel_tcp)):
            if value is not None:
                self.warn("%s%s: cgroup v2 has no kernel memory limit; ignored" % (f, key))
        if m.swappiness is not None:
            self.warn("%sswappiness: cgroup v2 has no per-cgroup swappiness; ignored" % f)
        if m.oom_off:
            self.warn("%sdisableOOMKiller: cgroup v2 cannot disable the OOM killer; ignored" % f)
        if m.hierarchy is False:
            self.warn("%suseHierarchy: cgroup v2 is always hierarchical; ignored" % f)

    def _cpu(self, g, cpu):
        f = cpu.FIELD
        quota, period, burst = cpu.quota, cpu.period, cpu.burst
        weight = shares_to_weight(cpu.shares) if cpu.shares else None
        if weight is not None:
            g.write("cpu.weight", weight, f + "shares")
        writes = []
        if quota or period:
            # cpu.max is "QUOTA PERIOD": keep the half not being changed.
            cur = (g.read_opt("cpu.max") or "max 100000").split()
            q = cur[0] if not quota else ("max" if quota < 0 else str(quota))
            p = str(period) if period else (cur[1] if len(cur) > 1 else "100000")
            writes.append(("cpu.max", "%s %s" % (q, p), f + ("quota" if quota else "period")))
        if burst is not None:
            writes.append(("cpu.max.burst", burst, f + "burst"))
        # The burst may not exceed the quota in place: the working order depends on both.
        write_in_some_order(g, writes)
        if cpu.idle is not None:
            g.write("cpu.idle", cpu.idle, f + "idle")
        if cpu.cpus:
            g.write("cpuset.cpus", cpu.cpus, f + "cpus")
        if cpu.mems:
            g.write("cpuset.mems", cpu.mems, f + "mems")

    def _blockio(self, g, bio):
        f = bio.FIELD
        # BFQ's io.bfq.weight takes blkio's own scale; io.weight is 1..10000.
        bfq = g.has("io.bfq.weight")
        if bio.weight:
            if bfq:
                g.write("io.bfq.weight", bio.weight, f + "weight")
            else:
                g.write("io.weight", "default %d" % blkio_weight_to_io_weight(bio.weight), f + "weight")
        if bio.leaf_weight:
            self.warn("%sleafWeight: cgroup v2 has no leaf weight; ignored" % f)
        for major, minor, w, lw, fi in bio.weight_devices:
            if lw:
                self.warn("%s.leafWeight: cgroup v2 has no leaf weight; ignored" % fi)
            if w:
                if bfq:
                    g.write("io.bfq.weight", "%d:%d %d" % (major, minor, w), fi + ".weight")
                else:
                    g.write("io.weight", "%d:%d %d" % (major, minor, blkio_weight_to_io_weight(w)), fi + ".weight")
        for key, _, major, minor, rate, fi in bio.throttles:
            # On v1 a rate of 0 removes the limit; v2 spells that "max".
            g.write("io.max", "%d:%d %s=%s" % (major, minor, _IO_MAX_KEYS[key], rate or "max"), fi + ".rate")

    def _hugepages(self, g, limits):
        for size, limit, fi in limits:
            g.write("hugetlb.%s.max" % size, limit, fi + ".limit")
            if g.has("hugetlb.%s.rsvd.max" % size):
                g.write("hugetlb.%s.rsvd.max" % size, limit, fi + ".limit")

    def _devices(self, res):
        try:
            self.host.attach_device_filter(self.group.dir, self.device_rules(res))
        except OSError as e:
            raise errors.OciError(
                "cannot attach the device filter to `%s`: %s" % (self.group.dir, errors.strerror(e.errno))
            ) from None

    def oom_source(self):
        """("v2", cgroup dir) when memory.events exists (the memory controller is on), or None."""
        return ("v2", self.group.dir) if self.group.has("memory.events") else None

    def stats(self):
        from . import stats

        return stats.v2(self)
