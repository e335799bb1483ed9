"""cgroup v2: one directory in the unified hierarchy, spec values converted to v2 files."""

from .. import errors
from . import fs
from .resources import (PREFIX, Memory, bad, blkio_weight_to_io_weight, device_rules, integer,
                        section, shares_to_weight, string, swap_to_v2)
from .v1 import _device, throttles, hugepage, pids_max, rdma_lines, write_in_some_order
from .fs import SIGKILL

# Files a container must not set through linux.resources.unified: they move
# processes or reshape the tree rather than limit anything.
_UNIFIED_FORBIDDEN = frozenset(("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill",
                                "cgroup.type", "cgroup.events", "cgroup.controllers", "cgroup.freeze"))

_IO_MAX_KEYS = {"throttleReadBpsDevice": "rbps", "throttleWriteBpsDevice": "wbps",
                "throttleReadIOPSDevice": "riops", "throttleWriteIOPSDevice": "wiops"}


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

    def __init__(self, host, dir, mount, made=None):
        self.group = DelegatingGroup(host, dir, mount, made)
        super().__init__(host, [self.group])

    @classmethod
    def from_dict(cls, d, host):
        return cls(host, d["dir"], d["mount"], d["made"])

    def to_dict(self):
        d = self.group.to_dict()
        d.update(driver="cgroupfs", layout="v2")
        return d

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
                delegate(self.host, a)   # the ones create makes delegate as they appear
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
    def apply(self, resources, updating=False, only=None):
        if resources is None:
            return
        if not isinstance(resources, dict):
            raise bad(PREFIX, resources, "want a JSON object")
        g = self.group
        for name in ("devices", "memory", "cpu", "blockIO", "hugepageLimits", "network", "pids", "rdma", "unified"):
            if only is not None and name not in only:
                continue
            if name == "devices":
                if not updating:
                    self._devices(resources.get("devices"))
                continue
            sec = section(resources, name, list if name == "hugepageLimits" else dict)
            if sec:
                getattr(self, "_" + name.lower())(g, sec, updating)

    def _memory(self, g, mem, updating):
        m = Memory(mem)
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

    def _cpu(self, g, cpu, updating):
        f = PREFIX + ".cpu."
        shares = integer(cpu, "shares", f + "shares", lo=0)
        quota = integer(cpu, "quota", f + "quota", hi=(1 << 63) - 1)
        burst = integer(cpu, "burst", f + "burst", lo=0)
        period = integer(cpu, "period", f + "period", lo=0)
        idle = integer(cpu, "idle", f + "idle", lo=0, hi=1)
        cpus = string(cpu, "cpus", f + "cpus")
        mems = string(cpu, "mems", f + "mems")
        for key in ("realtimeRuntime", "realtimePeriod"):
            v = integer(cpu, key, f + key)
            if v:
                raise bad(f + key, v, "cgroup v2 has no realtime group scheduling")
        weight = shares_to_weight(shares) if shares else None
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
        if idle is not None:
            g.write("cpu.idle", idle, f + "idle")
        if cpus:
            g.write("cpuset.cpus", cpus, f + "cpus")
        if mems:
            g.write("cpuset.mems", mems, f + "mems")

    def _blockio(self, g, bio, updating):
        f = PREFIX + ".blockIO."
        weight = integer(bio, "weight", f + "weight", lo=0, hi=1000)
        # BFQ's io.bfq.weight takes blkio's own scale; io.weight is 1..10000.
        bfq = g.has("io.bfq.weight")
        if weight:
            if bfq:
                g.write("io.bfq.weight", weight, f + "weight")
            else:
                g.write("io.weight", "default %d" % blkio_weight_to_io_weight(weight), f + "weight")
        if integer(bio, "leafWeight", f + "leafWeight", lo=0, hi=1000):
            self.warn("%sleafWeight: cgroup v2 has no leaf weight; ignored" % f)
        for i, wd in enumerate(section(bio, "weightDevice", list)):
            fi = "%sweightDevice[%d]" % (f, i)
            major, minor = _device(wd, fi)
            w = integer(wd, "weight", fi + ".weight", lo=0, hi=1000)
            if integer(wd, "leafWeight", fi + ".leafWeight", lo=0, hi=1000):
                self.warn("%s.leafWeight: cgroup v2 has no leaf weight; ignored" % fi)
            if w:
                if bfq:
                    g.write("io.bfq.weight", "%d:%d %d" % (major, minor, w), fi + ".weight")
                else:
                    g.write("io.weight", "%d:%d %d" % (major, minor, blkio_weight_to_io_weight(w)), fi + ".weight")
        for key, _, major, minor, rate, fi in throttles(bio, f):
            # On v1 a rate of 0 removes the limit; v2 spells that "max".
            g.write("io.max", "%d:%d %s=%s" % (major, minor, _IO_MAX_KEYS[key], rate or "max"), fi + ".rate")

    def _hugepagelimits(self, g, limits, updating):
        for i, hl in enumerate(limits):
            fi = "%s.hugepageLimits[%d]" % (PREFIX, i)
            size, limit = hugepage(hl, fi)
            g.write("hugetlb.%s.max" % size, limit, fi + ".limit")
            if g.has("hugetlb.%s.rsvd.max" % size):
                g.write("hugetlb.%s.rsvd.max" % size, limit, fi + ".limit")

    def _network(self, g, net, updating):
        if net.get("classID") is not None or net.get("priorities"):
            self.warn("%s.network: cgroup v2 has no net_cls/net_prio; ignored" % PREFIX)

    def _pids(self, g, pids, updating):
        limit = integer(pids, "limit", PREFIX + ".pids.limit", hi=(1 << 63) - 1)
        if limit is not None:
            g.write("pids.max", pids_max(limit), PREFIX + ".pids.limit")

    def _rdma(self, g, rdma, updating):
        for line, field in rdma_lines(rdma):
            g.write("rdma.max", line, field)

    def _unified(self, g, unified, updating):
        for key in sorted(unified):
            fi = "%s.unified.%s" % (PREFIX, key)
            value = unified[key]
            if not isinstance(value, str):
                raise bad(fi, value, "want a string")
            if not key or "/" in key or key.startswith(".") or "." not in key or key in _UNIFIED_FORBIDDEN:
                raise bad(PREFIX + ".unified", key, "not a settable cgroup v2 file")
            g.write(key, value, fi)

    def _devices(self, rules):
        effective = device_rules(rules, getattr(self, "extra_devices", ()))
        try:
            self.host.attach_device_filter(self.group.dir, effective)
        except OSError as e:
            raise errors.OciError("cannot attach the device filter to `%s`: %s"
                                  % (self.group.dir, errors.strerror(e.errno))) from None

    def oom_source(self):
        """("v2", cgroup dir) when memory.events exists (the memory controller is on), or None."""
        return ("v2", self.group.dir) if self.group.has("memory.events") else None

    def stats(self):
        from . import stats
        return stats.v2(self)
