"""Hybrid: v1 hierarchies plus a cgroup2 mount, composed from the two managers.

The container joins every v1 hierarchy and the unified one. Each resource
goes to whichever hierarchy holds its controller: v1 first (that is where the
host put it), else the cgroup2 mount when it carries the controller (hugetlb
sits there on some hosts). Freezing uses the v1 freezer when it is mounted;
killing uses cgroup.kill on the unified side, which sees every process.
"""

from .. import errors
from .fs import SIGKILL, check_unused, remove
from .manager import Manager

# resources section -> (v1 controller, v2 controller)
_SECTIONS = {
    "memory": ("memory", "memory"),
    "cpu": ("cpu", "cpu"),
    "blockIO": ("blkio", "io"),
    "hugepageLimits": ("hugetlb", "hugetlb"),
    "network": ("net_cls", None),
    "pids": ("pids", "pids"),
    "rdma": ("rdma", "rdma"),
    "devices": ("devices", "devices"),
    "unified": (None, "unified"),
}


class HybridManager(Manager):
    layout = "hybrid"

    def __init__(self, v1m, v2m):
        self.v1, self.v2 = v1m, v2m
        self._v2_available = None

    @property
    def warnings(self):
        return self.v1.warnings + self.v2.warnings

    @property
    def resources(self):
        return self.v1.resources  # both halves were opened with the same

    def resources_of(self, resources):
        return self.v1.resources_of(resources)

    @property
    def extra_devices(self):
        return self.v1.extra_devices

    def to_dict(self):
        return {"driver": "cgroupfs", "layout": "hybrid", "v1": self.v1.to_dict(), "v2": self.v2.to_dict()}

    def create(self):
        self.v1.create()
        try:
            self.v2.create()
        except BaseException:
            self.v1.destroy()
            raise

    def destroy(self, deadline=None):
        remove(self, deadline)

    def destroy_once(self):
        first = None
        for m in (self.v1, self.v2):
            try:
                m.destroy_once()
            except errors.OciError as e:
                first = first or e
        if first:
            raise first

    def all_groups(self):
        return self.v1.all_groups() + self.v2.all_groups()

    def hierarchies(self):
        return self.v1.hierarchies() + self.v2.hierarchies()

    def check_unused(self):
        check_unused(self.all_groups())

    def prepare_realtime(self, field, runtime=None):
        self.v1.prepare_realtime(field, runtime)

    def join(self, pid):
        self.v1.join(pid)
        self.v2.join(pid)

    def self_join_paths(self):
        """v1.self_join_paths: each v1 `tasks` file, and the unified dir the setup process is cloned into."""
        return self.v1.self_join_paths()[0], self.v2.group.dir

    def pids(self):
        return self.v1.pids()

    def route(self):
        """(sections for v1, sections for v2), by their JSON names."""
        if self._v2_available is None:
            self._v2_available = set(self.v2.available()) | {"devices", "unified"}
        to_v1, to_v2 = set(), set()
        for name, (c1, c2) in _SECTIONS.items():
            if name == "network" or (c1 is not None and self.v1.serves(c1)):
                to_v1.add(name)  # net_cls/net_prio exist only on v1
            elif c2 in self._v2_available:
                to_v2.add(name)
            elif c1 is not None:
                to_v1.add(name)  # neither has it: v1 says so in a warning
        return to_v1, to_v2

    def check(self, resources=None):
        res = self.resources_of(resources)
        to_v1, to_v2 = self.route()
        self.v1.check(res, only=to_v1)
        self.v2.check(res, only=to_v2)

    def apply(self, resources=None, updating=False):
        res = self.resources_of(resources)
        self.check(res)
        to_v1, to_v2 = self.route()
        self.v1.apply(res, updating, only=to_v1)
        self.v2.apply(res, updating, only=to_v2)

    def update(self, resources):
        self.apply(resources, updating=True)

    def _freezer(self):
        return self.v1 if self.v1.can_freeze() else self.v2

    def can_freeze(self):
        return self._freezer().can_freeze()

    def freeze(self):
        self._freezer().freeze()

    def thaw(self):
        self._freezer().thaw()

    def frozen(self):
        return self._freezer().frozen()

    def kill_all(self, sig):
        if sig == SIGKILL and self.v2.group.has("cgroup.kill"):
            self.v2.group.write("cgroup.kill", "1")
            # A task frozen by the v1 freezer dies only once thawed.
            if self.v1.can_freeze() and self.v1.frozen():
                self.v1.thaw()
            return
        self.v1.kill_all(sig)

    def oom_source(self):
        return self.v1.oom_source() or self.v2.oom_source()

    def stats(self):
        s = self.v1.stats()
        v2s = self.v2.stats()
        # Controllers that live on the unified side (hugetlb here) report from there.
        for key, val in v2s.items():
            if val and not s.get(key):
                s[key] = val
        return s
