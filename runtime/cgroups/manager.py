"""The interface every cgroup manager implements: v1.py, v2.py, hybrid.py and systemd.py.

The package's open_manager picks one (and from_dict rebuilds one from the
state); callers see only this.
"""


class Manager:
    """What every manager does. Paths are host paths; pids are host pids."""

    layout = "?"  # "v1", "v2" or "hybrid"

    def create(self):
        """Make the cgroup directories; remembers which ones it made."""
        raise NotImplementedError

    def join(self, pid):
        """Move pid into the cgroup in every hierarchy."""
        raise NotImplementedError

    def prepare_realtime(self, field, runtime=None):
        """Before join: give the cgroup what a real-time policy (`field`,
        process.scheduler) needs to run in it. Only v1 cpu groups have such a
        budget; elsewhere there is nothing to do."""

    def check(self, resources=None):
        """Refuse what this host's hierarchies cannot take (unified files on
        v1, real-time budgets on v2): one line naming the field. The factory
        calls it, so such a config fails before anything is made."""
        raise NotImplementedError

    def apply(self, resources=None):
        """Write the resources the manager was opened with (or `resources`: a
        Resources, or a dict parsed here); a refused value raises OciError
        naming field, file and value."""
        raise NotImplementedError

    def update(self, resources):
        """apply() on a running container (checkBeforeUpdate is honoured here)."""
        raise NotImplementedError

    def all_groups(self):
        """The fs.Group of every hierarchy the container is in."""
        raise NotImplementedError

    def close(self):
        """Let go of what the manager holds open (the systemd driver's bus connection)."""

    def hierarchies(self):
        """[(fs.Group, its v1 controllers, or None for the cgroup2 one)] of every hierarchy the container is in."""
        raise NotImplementedError

    def dirs(self):
        """{hierarchy name under /sys/fs/cgroup ('' for a pure v2 host): the container's cgroup directory}."""
        return {hierarchy_name(g.mount): g.dir for g in self.all_groups()}

    def to_dict(self):
        """JSON-able description; valid before create() (it names what create will make)."""
        raise NotImplementedError

    def destroy(self, deadline=None):
        """Remove the directories this container made, leaf first; missing ones
        are fine. Processes still in them are killed; bounded (fs.remove)."""
        raise NotImplementedError

    def check_unused(self):
        """OciError naming the cgroup if any hierarchy's has a process or is frozen."""
        raise NotImplementedError

    def kill_all(self, sig):
        """Send sig to every process in the cgroup."""
        raise NotImplementedError

    def pids(self):
        """Host pids of every process in the cgroup (sorted)."""
        raise NotImplementedError

    def freeze(self):
        raise NotImplementedError

    def thaw(self):
        raise NotImplementedError

    def frozen(self):
        raise NotImplementedError

    def oom_source(self):
        """Where OOM events come from: ("v1", memory cgroup dir), ("v2", cgroup dir) or None."""
        raise NotImplementedError

    def stats(self):
        """runc's stats shape: {"cpu":…, "memory":…, "pids":…, "blkio":…, "hugetlb":…}."""
        raise NotImplementedError


def hierarchy_name(mount):
    """How a container's cgroup mount names the hierarchy mounted at `mount` (plan.cgroup_layout)."""
    m = mount.rstrip("/")
    return "" if m == "/sys/fs/cgroup" else m.rsplit("/", 1)[-1]
