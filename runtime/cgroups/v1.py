"""cgroup v1: one directory per mounted hierarchy, one file per setting."""

import os

from .. import errors
from . import fs
from .resources import pids_max, write_in_some_order
from .values import PREFIX, bad

INT64_MIN = -(1 << 63)
BIG = 1 << 62  # v1 reports "unlimited" as a page-rounded 2^63-1


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


def _unlimited_as_inf(v):
    """A memory size to compare: -1 and v1's page-rounded 2^63-1 are both unlimited."""
    return float("inf") if v < 0 or v >= BIG else v


def _rt_runtime(host, d):
    try:
        return int(host.read(d + "/cpu.rt_runtime_us").strip())
    except (OSError, ValueError):
        return 0


class V1Manager(fs.FsManager):
    layout = "v1"

    def __init__(self, host, hierarchies, groups=None, resources=None, extra_devices=()):
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
        super().__init__(host, gs, resources, extra_devices)

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

    def hierarchies(self):
        return list(zip(self.groups, self.controllers))

    def group(self, controller):
        return self.by_controller.get(controller)

    def serves(self, controller):
        return controller in self.by_controller

    # -- processes --------------------------------------------------------
    def join(self, pid):
        for g in self.groups:
            g.write("cgroup.procs", pid)

    def self_join_paths(self):
        """(`tasks` files, cgroup2 dir or None): what create's setup process
        joins by itself, with no pid written for it (core/spawn.c: a pid
        written to cgroup.procs waits out an RCU grace period, a thread
        moving itself does not)."""
        return [g.dir + "/tasks" for g in self.groups], None

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
            used = sum(
                _rt_runtime(self.host, os.path.join(parent, n))
                for n in self.host.listdir(parent)
                if os.path.join(parent, n) != d and self.host.exists(os.path.join(parent, n, "cpu.rt_runtime_us"))
            )
            free = budget - max(used, 0)
            if leaf and runtime:
                want = runtime
            else:
                share = budget * (RT_SHARE_LEAF if leaf else RT_SHARE_ABOVE) // 100
                want = min(free, max(share, runtime or 0))
            if want <= 0:
                raise errors.OciError(
                    "%s: a real-time policy needs a real-time budget (cpu.rt_runtime_us) in "
                    "cgroup `%s`, and `%s` has none to spare" % (field, d, parent)
                )
            try:
                self.host.write(d + "/cpu.rt_runtime_us", str(want).encode())
            except OSError as e:
                raise errors.OciError(
                    "%s: a real-time policy needs a real-time budget: write cpu.rt_runtime_us "
                    "`%d` to `%s`: %s" % (field, want, d, errors.strerror(e.errno))
                ) from None
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
    def check(self, resources=None, only=None):
        res = self.resources_of(resources)
        if res.unified and (only is None or "unified" in only):
            raise bad(
                PREFIX + ".unified",
                ",".join(k for k, _, _ in res.unified),
                "needs cgroup v2, and this host runs cgroup v1",
            )

    def apply(self, resources=None, updating=False, only=None):
        """Write resources; `only` limits it to some sections (JSON names: the hybrid manager splits them)."""
        res = self.resources_of(resources)
        self.check(res, only)
        want = lambda name: only is None or name in only  # noqa: E731
        if want("devices") and not updating:  # as with runc, update leaves the device rules alone
            self._devices(res)
        if res.memory and want("memory"):
            self._memory(res.memory, updating)
        if res.cpu and want("cpu"):
            self._cpu(res.cpu)
        if res.blockio and want("blockIO"):
            self._blockio(res.blockio)
        if res.hugepages and want("hugepageLimits"):
            self._hugepages(res.hugepages)
        if res.network and want("network"):
            self._network(res.network)
        if res.pids and want("pids"):
            self._pids(res.pids)
        if res.rdma is not None and want("rdma"):
            self._rdma(res.rdma)

    def _need(self, controller, field):
        g = self.group(controller)
        if g is None:
            self.warn("%s: the %s controller is not mounted; ignored" % (field, controller))
            return NULL
        return g

    def _memory(self, m, updating):
        f = m.FIELD
        g = self._need("memory", PREFIX + ".memory")
        limit, swap, reservation = m.limit, m.swap, m.reservation
        swappiness, oom_off, hier, kernel, tcp = m.swappiness, m.oom_off, m.hierarchy, m.kernel, m.kernel_tcp
        if swap is None and limit == -1:
            swap = -1  # unlimited memory, nothing said of swap: unlimited memory+swap
        m.check_usage(updating, lambda: g.read("memory.usage_in_bytes"))
        has_memsw = g.has("memory.memsw.limit_in_bytes")
        if swap is not None and not has_memsw and g is not NULL:
            self.warn("%sswap: this kernel has no swap accounting (memory.memsw.*); ignored" % f)
            swap = None
        # memsw may never be below the memory limit: raise memsw first when it
        # grows, lower the memory limit first when memsw shrinks.
        if swap is not None and limit is not None:
            cur = int(g.read("memory.memsw.limit_in_bytes").strip() or -1)
            if _unlimited_as_inf(swap) >= _unlimited_as_inf(cur):
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

    def _cpu(self, cpu):
        f = cpu.FIELD
        shares, quota, burst, period = cpu.shares, cpu.quota, cpu.burst, cpu.period
        rt_runtime, rt_period, idle, cpus, mems = cpu.rt_runtime, cpu.rt_period, cpu.idle, cpu.cpus, cpu.mems
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

    def _blockio(self, bio):
        f = bio.FIELD
        g = self._need("blkio", PREFIX + ".blockIO")
        weight, leaf = bio.weight, bio.leaf_weight
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
        for major, minor, w, lw, fi in bio.weight_devices:
            if w:
                g.write(wfile + "_device", "%d:%d %d" % (major, minor, w), fi + ".weight")
            if lw:
                if has_leaf:
                    g.write("blkio.leaf_weight_device", "%d:%d %d" % (major, minor, lw), fi + ".leafWeight")
                else:
                    self.warn("%s.leafWeight: the BFQ scheduler has no leaf weight; ignored" % fi)
        for _key, fname, major, minor, rate, fi in bio.throttles:
            g.write("blkio.throttle." + fname, "%d:%d %d" % (major, minor, rate), fi + ".rate")

    def _hugepages(self, limits):
        g = self._need("hugetlb", PREFIX + ".hugepageLimits")
        for size, limit, fi in limits:
            g.write("hugetlb.%s.limit_in_bytes" % size, limit, fi + ".limit")
            if g.has("hugetlb.%s.rsvd.limit_in_bytes" % size):
                g.write("hugetlb.%s.rsvd.limit_in_bytes" % size, limit, fi + ".limit")

    def _network(self, net):
        f = net.FIELD
        if net.class_id is not None:
            self._need("net_cls", f + "classID").write("net_cls.classid", net.class_id, f + "classID")
        if net.priorities:
            g = self._need("net_prio", f + "priorities")
            for name, prio, fi in net.priorities:
                g.write("net_prio.ifpriomap", "%s %d" % (name, prio), fi)

    def _pids(self, pids):
        f = PREFIX + ".pids.limit"
        g = self._need("pids", PREFIX + ".pids")
        if pids.limit is not None:
            g.write("pids.max", pids_max(pids.limit), f)

    def _rdma(self, lines):
        g = self._need("rdma", PREFIX + ".rdma")
        for line, field in lines:
            g.write("rdma.max", line, field)

    def _devices(self, res):
        g = self.group("devices")
        effective = self.device_rules(res)
        if g is None:
            if res.devices:
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
