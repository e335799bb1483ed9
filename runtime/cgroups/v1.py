"""cgroup v1: one directory per mounted hierarchy, one file per setting."""

import os

from .. import errors
from . import fs
from .resources import PREFIX, Memory, bad, device_rules, integer, section, string

INT64_MIN = -(1 << 63)
BIG = 1 << 62   # v1 reports "unlimited" as a page-rounded 2^63-1


class CpusetGroup(fs.Group):
    def after_mkdir(self, d):
        # A new v1 cpuset starts with no cpus and no mems, and no task can
        # join it until it has some: start from the parent's.
        parent = d.rsplit("/", 1)[0]
        for name in ("cpuset.cpus", "cpuset.mems"):
            try:
                mine = self.host.read(d + "/" + name).strip()
                if not mine:
                    self.host.write(d + "/" + name, self.host.read(parent + "/" + name).strip() or b"\n")
            except OSError as e:
                raise errors.os_error("cannot initialise", d + "/" + name, e) from None


class NullGroup:
    """Stands in for a controller that is not mounted: values are still checked, nothing is written."""

    dir = None

    def has(self, name):
        return False

    def read(self, name):
        return ""

    def read_opt(self, name):
        return None

    def write(self, name, value, field=None):
        pass


NULL = NullGroup()
# Percent of the parent's real-time budget a level without one gets: a group
# above the container's (shared by containers) and the container's own, when
# it asks for no amount. Never all of it: siblings need theirs.
RT_SHARE_ABOVE, RT_SHARE_LEAF = 50, 10


def _rt_runtime(host, d):
    try:
        return int(host.read(d + "/cpu.rt_runtime_us").strip())
    except (OSError, ValueError):
        return 0


class V1Manager(fs.FsManager):
    layout = "v1"

    def __init__(self, host, hierarchies, groups=None):
        """hierarchies: [(controllers, dir, mountpoint)], one per mounted v1 hierarchy."""
        self.by_controller = {}
        made = groups or [None] * len(hierarchies)
        gs = []
        for (ctrls, d, mount), m in zip(hierarchies, made):
            cls = CpusetGroup if "cpuset" in ctrls else fs.Group
            g = cls(host, d, mount, m)
            gs.append(g)
            for c in ctrls:
                self.by_controller[c] = g
        self.controllers = [tuple(c) for c, _, _ in hierarchies]
        super().__init__(host, gs)

    @classmethod
    def from_dict(cls, d, host):
        hs = [(tuple(g["controllers"]), g["dir"], g["mount"]) for g in d["groups"]]
        return cls(host, hs, [g["made"] for g in d["groups"]])

    def to_dict(self):
        out = []
        for ctrls, g in zip(self.controllers, self.groups):
            e = g.to_dict()
            e["controllers"] = list(ctrls)
            out.append(e)
        return {"driver": "cgroupfs", "layout": "v1", "groups": out}

    def group(self, controller):
        return self.by_controller.get(controller)

    def serves(self, controller):
        return controller in self.by_controller

    # -- processes --------------------------------------------------------
    def join(self, pid):
        for g in self.groups:
            g.write("cgroup.procs", pid)

    def prepare_realtime(self, field, runtime=None):
        """A SCHED_FIFO/SCHED_RR task can only run in a v1 cpu cgroup with a
        real-time budget (cpu.rt_runtime_us, CONFIG_RT_GROUP_SCHED), and a
        cgroup can only have one its parent can spare: new groups start with
        none. From the top down, every level without a budget gets one out of
        what its parent has free: ours `runtime` (resources.cpu.realtimeRuntime)
        or RT_SHARE_LEAF percent of the parent's budget, one above ours
        RT_SHARE_ABOVE percent (at least `runtime`). A kernel without RT group
        scheduling has no such file: an RT policy needs no budget there."""
        g = self.group("cpu")
        if g is None or not g.has("cpu.rt_runtime_us"):
            return
        rel = os.path.relpath(g.dir, g.mount)
        if rel == "." or rel.startswith(".."):
            return
        parent, levels = g.mount, []
        for part in rel.split("/"):
            levels.append(os.path.join(levels[-1] if levels else g.mount, part))
        for i, d in enumerate(levels):
            mine = _rt_runtime(self.host, d)
            leaf = i == len(levels) - 1
            if mine != 0 and not (leaf and runtime):
                parent = d
                continue
            budget = _rt_runtime(self.host, parent)
            if budget < 0:  # unlimited: the whole period
                budget = int(self.host.read(parent + "/cpu.rt_period_us").strip() or 0)
            used = sum(_rt_runtime(self.host, os.path.join(parent, n)) for n in self.host.listdir(parent)
                       if os.path.join(parent, n) != d and self.host.exists(os.path.join(parent, n, "cpu.rt_runtime_us")))
            free = budget - max(used, 0)
            if leaf and runtime:
                want = runtime
            else:
                share = budget * (RT_SHARE_LEAF if leaf else RT_SHARE_ABOVE) // 100
                want = min(free, max(share, runtime or 0))
            if want <= 0:
                raise errors.OciError("%s: a real-time policy needs a real-time budget (cpu.rt_runtime_us) in "
                                      "cgroup `%s`, and `%s` has none to spare" % (field, d, parent))
            try:
                self.host.write(d + "/cpu.rt_runtime_us", str(want).encode())
            except OSError as e:
                raise errors.OciError("%s: a real-time policy needs a real-time budget: write cpu.rt_runtime_us "
                                      "`%d` to `%s`: %s" % (field, want, d, errors.strerror(e.errno))) from None
            parent = d

    def _main_group(self):
        for c in ("pids", "freezer", "memory", "cpu", "devices"):
            if c in self.by_controller:
                return self.by_controller[c]
        return self.groups[0]

    def pids(self):
        return self._main_group().procs()

    def can_freeze(self):
        return "freezer" in self.by_controller

    def freeze(self):
        g = self._freezer()
        g.write("freezer.state", "FROZEN")
        # FREEZING until every task stopped; writing again nudges tasks that
        # were forked while the first write was being processed.
        def done():
            state = g.read("freezer.state").strip()
            if state == "FREEZING":
                g.write("freezer.state", "FROZEN")
            return state == "FROZEN"
        try:
            fs.wait_until(done, "freezing `%s`" % g.dir)
        except errors.OciError:
            g.write("freezer.state", "THAWED")
            raise

    def thaw(self):
        g = self._freezer()
        g.write("freezer.state", "THAWED")
        fs.wait_until(lambda: g.read("freezer.state").strip() == "THAWED", "thawing `%s`" % g.dir)

    def frozen(self):
        g = self.group("freezer")
        if g is None:
            return False
        return (g.read_opt("freezer.state") or "").strip() == "FROZEN"

    def _freezer(self):
        g = self.group("freezer")
        if g is None:
            raise errors.OciError("cannot freeze: the freezer controller is not mounted")
        return g

    # -- resources --------------------------------------------------------
    def apply(self, resources, updating=False, only=None):
        """Write resources; `only` limits it to some sections (the hybrid manager splits them)."""
        if resources is None:
            return
        if not isinstance(resources, dict):
            raise bad(PREFIX, resources, "want a JSON object")
        for name in ("devices", "memory", "cpu", "blockIO", "hugepageLimits", "network", "pids", "rdma", "unified"):
            if only is not None and name not in only:
                continue
            if name == "devices":
                if not updating:  # as with runc, update leaves the device rules alone
                    self._devices(resources.get("devices"))
                continue
            if name in ("hugepageLimits",):
                sec = section(resources, name, list)
            else:
                sec = section(resources, name)
            if sec:
                getattr(self, "_" + name.lower())(sec, updating)

    def _need(self, controller, field):
        g = self.group(controller)
        if g is None:
            self.warn("%s: the %s controller is not mounted; ignored" % (field, controller))
            return NULL
        return g

    def _memory(self, mem, updating):
        m = Memory(mem)
        f = m.FIELD
        g = self._need("memory", PREFIX + ".memory")
        limit, swap, reservation = m.limit, m.swap, m.reservation
        swappiness, oom_off, hier, kernel, tcp = m.swappiness, m.oom_off, m.hierarchy, m.kernel, m.kernel_tcp
        if swap is None and limit == -1:
            swap = -1   # unlimited memory, nothing said of swap: unlimited memory+swap
        if swap is not None and swap > 0 and limit is not None and limit >= 0 and swap < limit:
            raise bad(f + "swap", swap, "memory+swap must be at least the memory limit %d" % limit)
        m.check_usage(updating, lambda: g.read("memory.usage_in_bytes"))
        has_memsw = g.has("memory.memsw.limit_in_bytes")
        if swap is not None and not has_memsw and g is not NULL:
            self.warn("%sswap: this kernel has no swap accounting (memory.memsw.*); ignored" % f)
            swap = None
        # memsw may never be below the memory limit: raise memsw first when it
        # grows, lower the memory limit first when memsw shrinks.
        if swap is not None and limit is not None:
            cur = int(g.read("memory.memsw.limit_in_bytes").strip() or -1)
            inf = lambda v: float("inf") if v < 0 or v >= BIG else v
            if inf(swap) >= inf(cur):
                g.write("memory.memsw.limit_in_bytes", swap, f + "swap")
                g.write("memory.limit_in_bytes", limit, f + "limit")
            else:
                g.write("memory.limit_in_bytes", limit, f + "limit")
                g.write("memory.memsw.limit_in_bytes", swap, f + "swap")
        elif limit is not None:
            g.write("memory.limit_in_bytes", limit, f + "limit")
        elif swap is not None:
            g.write("memory.memsw.limit_in_bytes", swap, f + "swap")
        if reservation is not None:
            g.write("memory.soft_limit_in_bytes", -1 if reservation < 0 else reservation, f + "reservation")
        if kernel is not None:
            # Kernel 5.4 deprecated it and later kernels accept and ignore it.
            self.warn("%skernel: kernel memory limits are not supported by this runtime; ignored" % f)
        if tcp is not None:
            if g.has("memory.kmem.tcp.limit_in_bytes") or g is NULL:
                g.write("memory.kmem.tcp.limit_in_bytes", -1 if tcp < 0 else tcp, f + "kernelTCP")
            else:
                self.warn("%skernelTCP: this kernel has no memory.kmem.tcp.limit_in_bytes; ignored" % f)
        if swappiness is not None:
            g.write("memory.swappiness", swappiness, f + "swappiness")
        if oom_off is not None and (oom_off or updating):
            g.write("memory.oom_control", 1 if oom_off else 0, f + "disableOOMKiller")
        if hier is not None:
            g.write("memory.use_hierarchy", 1 if hier else 0, f + "useHierarchy")

    def _cpu(self, cpu, updating):
        f = PREFIX + ".cpu."
        shares = integer(cpu, "shares", f + "shares", lo=0)
        quota = integer(cpu, "quota", f + "quota", hi=(1 << 63) - 1)
        burst = integer(cpu, "burst", f + "burst", lo=0)
        period = integer(cpu, "period", f + "period", lo=0)
        rt_runtime = integer(cpu, "realtimeRuntime", f + "realtimeRuntime", hi=(1 << 63) - 1)
        rt_period = integer(cpu, "realtimePeriod", f + "realtimePeriod", lo=0)
        idle = integer(cpu, "idle", f + "idle", lo=0, hi=1)
        cpus = string(cpu, "cpus", f + "cpus")
        mems = string(cpu, "mems", f + "mems")
        if any(v is not None for v in (shares, quota, burst, period, rt_runtime, rt_period, idle)):
            g = self._need("cpu", PREFIX + ".cpu")
            if shares:
                g.write("cpu.shares", shares, f + "shares")
            # The kernel checks each value against the others in place (a
            # burst above the quota, a runtime above the period): the order
            # that works depends on the values already there.
            writes = []
            if period:
                writes.append(("cpu.cfs_period_us", period, f + "period"))
            if quota:
                writes.append(("cpu.cfs_quota_us", -1 if quota < 0 else quota, f + "quota"))
            if burst is not None:
                writes.append(("cpu.cfs_burst_us", burst, f + "burst"))
            write_in_some_order(g, writes)
            writes = []
            if rt_period:
                writes.append(("cpu.rt_period_us", rt_period, f + "realtimePeriod"))
            if rt_runtime:
                writes.append(("cpu.rt_runtime_us", rt_runtime, f + "realtimeRuntime"))
            write_in_some_order(g, writes)
            if idle is not None:
                g.write("cpu.idle", idle, f + "idle")
        if cpus or mems:
            g = self._need("cpuset", PREFIX + ".cpu.cpus/mems")
            if cpus:
                g.write("cpuset.cpus", cpus, f + "cpus")
            if mems:
                g.write("cpuset.mems", mems, f + "mems")

    def _blockio(self, bio, updating):
        f = PREFIX + ".blockIO."
        g = self._need("blkio", PREFIX + ".blockIO")
        weight = integer(bio, "weight", f + "weight", lo=0, hi=1000)
        leaf = integer(bio, "leafWeight", f + "leafWeight", lo=0, hi=1000)
        # CFQ's blkio.weight went with CFQ; BFQ offers blkio.bfq.weight instead.
        wfile = "blkio.weight" if g.has("blkio.weight") or not g.has("blkio.bfq.weight") else "blkio.bfq.weight"
        if weight:
            g.write(wfile, weight, f + "weight")
        # Leaf weights were CFQ's alone: BFQ has none to set.
        has_leaf = g.has("blkio.leaf_weight") or not g.has("blkio.bfq.weight")
        if leaf:
            if has_leaf:
                g.write("blkio.leaf_weight", leaf, f + "leafWeight")
            else:
                self.warn("%sleafWeight: the BFQ scheduler has no leaf weight; ignored" % f)
        for i, wd in enumerate(section(bio, "weightDevice", list)):
            fi = "%sweightDevice[%d]" % (f, i)
            major, minor = _device(wd, fi)
            w = integer(wd, "weight", fi + ".weight", lo=0, hi=1000)
            lw = integer(wd, "leafWeight", fi + ".leafWeight", lo=0, hi=1000)
            if w:
                g.write(wfile + "_device", "%d:%d %d" % (major, minor, w), fi + ".weight")
            if lw:
                if has_leaf:
                    g.write("blkio.leaf_weight_device", "%d:%d %d" % (major, minor, lw), fi + ".leafWeight")
                else:
                    self.warn("%s.leafWeight: the BFQ scheduler has no leaf weight; ignored" % fi)
        for key, fname, major, minor, rate, fi in throttles(bio, f):
            g.write("blkio.throttle." + fname, "%d:%d %d" % (major, minor, rate), fi + ".rate")

    def _hugepagelimits(self, limits, updating):
        g = self._need("hugetlb", PREFIX + ".hugepageLimits")
        for i, hl in enumerate(limits):
            fi = "%s.hugepageLimits[%d]" % (PREFIX, i)
            size, limit = hugepage(hl, fi)
            g.write("hugetlb.%s.limit_in_bytes" % size, limit, fi + ".limit")
            if g.has("hugetlb.%s.rsvd.limit_in_bytes" % size):
                g.write("hugetlb.%s.rsvd.limit_in_bytes" % size, limit, fi + ".limit")

    def _network(self, net, updating):
        f = PREFIX + ".network."
        cls = integer(net, "classID", f + "classID", lo=0, hi=(1 << 32) - 1)
        prios = section(net, "priorities", list)
        if cls is not None:
            self._need("net_cls", f + "classID").write("net_cls.classid", cls, f + "classID")
        if prios:
            g = self._need("net_prio", f + "priorities")
            for i, p in enumerate(prios):
                fi = "%spriorities[%d]" % (f, i)
                if not isinstance(p, dict):
                    raise bad(fi, p, "want a JSON object")
                name = string(p, "name", fi + ".name")
                prio = integer(p, "priority", fi + ".priority", lo=0, hi=(1 << 32) - 1)
                if not name or prio is None:
                    raise bad(fi, p, "want a name and a priority")
                g.write("net_prio.ifpriomap", "%s %d" % (name, prio), fi)

    def _pids(self, pids, updating):
        f = PREFIX + ".pids.limit"
        limit = integer(pids, "limit", f, hi=(1 << 63) - 1)
        g = self._need("pids", PREFIX + ".pids")
        if limit is not None:
            g.write("pids.max", pids_max(limit), f)

    def _rdma(self, rdma, updating):
        g = self._need("rdma", PREFIX + ".rdma")
        for line, field in rdma_lines(rdma):
            g.write("rdma.max", line, field)

    def _unified(self, unified, updating):
        raise bad(PREFIX + ".unified", ",".join(sorted(unified)), "needs cgroup v2, and this host runs cgroup v1")

    def _devices(self, rules):
        g = self.group("devices")
        effective = device_rules(rules, getattr(self, "extra_devices", ()))
        if g is None:
            if rules:
                self.warn("%s.devices: the devices controller is not mounted; ignored" % PREFIX)
            return
        for r in effective:
            for line in r.v1_lines():
                g.write("devices.allow" if r.allow else "devices.deny", line, PREFIX + ".devices")

    # -- stats ------------------------------------------------------------
    def oom_source(self):
        """("v1", memory cgroup dir) for OOM notifications, or None."""
        g = self.group("memory")
        return ("v1", g.dir) if g is not None else None

    def stats(self):
        from . import stats
        return stats.v1(self)


def write_in_some_order(g, writes):
    """Write in the given order; if the kernel refuses one, try the reverse order once."""
    try:
        for w in writes:
            g.write(*w)
    except errors.OciError:
        if len(writes) < 2:
            raise
        for w in reversed(writes):
            g.write(*w)


THROTTLES = (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
             ("throttleReadIOPSDevice", "read_iops_device"), ("throttleWriteIOPSDevice", "write_iops_device"))


def throttles(bio, f):
    """(key, v1 file suffix, major, minor, rate, field) of every blockIO throttle entry."""
    for key, fname in THROTTLES:
        for i, td in enumerate(section(bio, key, list)):
            fi = "%s%s[%d]" % (f, key, i)
            major, minor = _device(td, fi)
            rate = integer(td, "rate", fi + ".rate", lo=0)
            if rate is None:
                raise bad(fi + ".rate", "null", "is required")
            yield key, fname, major, minor, rate, fi


def _device(d, field):
    if not isinstance(d, dict):
        raise bad(field, d, "want a JSON object")
    major = integer(d, "major", field + ".major", lo=0, hi=(1 << 32) - 1)
    minor = integer(d, "minor", field + ".minor", lo=0, hi=(1 << 32) - 1)
    if major is None or minor is None:
        raise bad(field, d, "want a major and a minor")
    return major, minor


def hugepage(hl, field):
    """(page size as the kernel's files name it, limit) from a hugepageLimits entry."""
    if not isinstance(hl, dict):
        raise bad(field, hl, "want a JSON object")
    size = string(hl, "pageSize", field + ".pageSize")
    limit = integer(hl, "limit", field + ".limit", lo=0)
    if not size or limit is None:
        raise bad(field, hl, "want a pageSize and a limit")
    # The file names spell sizes as 2MB, 1GB, 64KB: anything else cannot name a file.
    num = size[:-2]
    if size[-2:] not in ("KB", "MB", "GB") or not num.isdigit():
        raise bad(field + ".pageSize", size, "want a size such as 2MB or 1GB")
    return size, limit


def pids_max(limit):
    # 0 or less is "no limit": a pids.max of 0 would let nothing run at all.
    return "max" if limit <= 0 else str(limit)


def rdma_lines(rdma):
    out = []
    for dev in sorted(rdma):
        fi = "%s.rdma.%s" % (PREFIX, dev)
        v = rdma[dev]
        if not isinstance(v, dict):
            raise bad(fi, v, "want a JSON object")
        handles = integer(v, "hcaHandles", fi + ".hcaHandles", lo=0, hi=(1 << 32) - 1)
        objects = integer(v, "hcaObjects", fi + ".hcaObjects", lo=0, hi=(1 << 32) - 1)
        parts = [dev]
        if handles is not None:
            parts.append("hca_handle=%d" % handles)
        if objects is not None:
            parts.append("hca_object=%d" % objects)
        if len(parts) > 1:
            out.append((" ".join(parts), fi))
    return out
