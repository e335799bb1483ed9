"""Test doubles for the Host seam (runtime/host.py).

RecordingHost records every call as (name, args) in `.calls`; `.fail[name] =
errno` makes that call raise OSError, and `.fail[name] = (errno, "text")`
only when the call's path contains "text".

Without a root it keeps an in-memory filesystem (`files`: path -> bytes,
`dirs`: set of paths). With root=<tmp dir> every absolute path is mapped under
that directory and the real calls run there (a fake cgroupfs tree); `on_mkdir`
then plays the kernel, filling a new cgroup directory with its files.
"""

import errno as E
import os


class RecordingHost:
    def __init__(self, root=None):
        self.root = root
        self.calls = []
        self.fail = {}
        self.files = {}
        self.dirs = {"/"}
        self.on_mkdir = None  # f(host, path) after a successful mkdir
        self.killed = []

    # -- plumbing ---------------------------------------------------------
    def _rec(self, name, *args):
        self.calls.append((name, args))
        f = self.fail.get(name)
        if f is None:
            return
        err, text = (f, None) if isinstance(f, int) else f
        path = str(args[0]) if args else ""
        if text is None or text in path:
            raise OSError(err, os.strerror(err), path)

    def real(self, path):
        return self.root.rstrip("/") + path if self.root else path

    def names(self, name=None):
        """The recorded calls, or the args of those with this name."""
        if name is None:
            return [c[0] for c in self.calls]
        return [c[1] for c in self.calls if c[0] == name]

    def writes(self):
        """[(path, text)] of every write, in order."""
        return [(a[0], a[1].decode()) for a in self.names("write")]

    # -- in-memory helpers ------------------------------------------------
    def add_file(self, path, data=b""):
        if isinstance(data, str):
            data = data.encode()
        if self.root:
            p = self.real(path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            return
        self.add_dir(os.path.dirname(path))
        self.files[path] = data

    def add_dir(self, path):
        if self.root:
            os.makedirs(self.real(path), exist_ok=True)
            return
        while path not in self.dirs:
            self.dirs.add(path)
            path = os.path.dirname(path)

    # -- the Host interface ---------------------------------------------------
    def read(self, path):
        self._rec("read", path)
        if self.root:
            with open(self.real(path), "rb") as f:
                return f.read()
        if path in self.files:
            return self.files[path]
        raise FileNotFoundError(E.ENOENT, "No such file or directory", path)

    def write(self, path, data, create=False):
        self._rec("write", path, data)
        if self.root:
            flags = os.O_WRONLY | (os.O_CREAT | os.O_TRUNC if create else os.O_TRUNC)
            fd = os.open(self.real(path), flags, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return
        if path not in self.files and not create:
            raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
        self.files[path] = data

    def mkdir(self, path, mode=0o755):
        self._rec("mkdir", path, mode)
        if self.root:
            os.mkdir(self.real(path), mode)
        else:
            if path in self.dirs or path in self.files:
                raise FileExistsError(E.EEXIST, "File exists", path)
            if os.path.dirname(path) not in self.dirs:
                raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
            self.dirs.add(path)
        if self.on_mkdir:
            self.on_mkdir(self, path)

    def rmdir(self, path):
        self._rec("rmdir", path)
        if self.root:
            # A cgroup directory goes with its files: the kernel owns them.
            p = self.real(path)
            if not os.path.isdir(p):
                raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
            for n in os.listdir(p):
                if os.path.isdir(os.path.join(p, n)):
                    raise OSError(E.EBUSY, "Device or resource busy", path)
            for n in os.listdir(p):
                os.unlink(os.path.join(p, n))
            os.rmdir(p)
            return
        if path not in self.dirs:
            raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
        if any(d.startswith(path + "/") for d in self.dirs):
            raise OSError(E.EBUSY, "Device or resource busy", path)
        self.dirs.discard(path)
        for f in [f for f in self.files if f.startswith(path + "/")]:
            del self.files[f]

    def listdir(self, path):
        self._rec("listdir", path)
        if self.root:
            return os.listdir(self.real(path))
        if path not in self.dirs:
            raise FileNotFoundError(E.ENOENT, "No such file or directory", path)
        pre = path.rstrip("/") + "/"
        names = {
            p[len(pre) :].split("/")[0] for p in list(self.dirs) + list(self.files) if p.startswith(pre) and p != path
        }
        return sorted(names)

    def exists(self, path):
        self._rec("exists", path)
        if self.root:
            return os.path.exists(self.real(path))
        return path in self.dirs or path in self.files

    def isdir(self, path):
        self._rec("isdir", path)
        if self.root:
            return os.path.isdir(self.real(path))
        return path in self.dirs

    def subdirs(self, path):
        return [n for n in self.listdir(path) if self.isdir(path.rstrip("/") + "/" + n)]

    def kill(self, pid, sig):
        self._rec("kill", pid, sig)
        self.killed.append((pid, sig))

    def proc_stat(self, pid):
        self._rec("proc_stat", pid)
        return ("S", 1)

    def flock(self, fd, exclusive=True, blocking=True):
        self._rec("flock", fd, exclusive, blocking)

    def attach_device_filter(self, cgroup_dir, rules):
        self._rec("attach_device_filter", cgroup_dir, list(rules))

    def eventfd_oom(self, cgroup_dir):
        self._rec("eventfd_oom", cgroup_dir)
        return os.eventfd(0, os.EFD_CLOEXEC)


# -- cgroup layouts for tests ------------------------------------------------

V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")


def mountinfo_line(n, mountpoint, fstype, superopts, root="/"):
    return "%d 31 0:%d %s %s rw,relatime - %s %s %s" % (30 + n, 30 + n, root, mountpoint, fstype, fstype, superopts)


def install_layout(host, kind, own="/", v2_controllers="hugetlb", base="/sys/fs/cgroup"):
    """Write /proc/self/mountinfo and /proc/self/cgroup for a v1, v2 or hybrid host,
    and the root directory of each hierarchy with the files ocirun looks at there."""
    lines = [mountinfo_line(0, base, "tmpfs", "rw,mode=755")]
    cg = []
    if kind in ("v1", "hybrid"):
        for i, c in enumerate(V1_CONTROLLERS):
            lines.append(mountinfo_line(i + 1, "%s/%s" % (base, c), "cgroup", "rw," + c))
            cg.append("%d:%s:%s" % (len(V1_CONTROLLERS) - i, c, own))
            host.add_dir("%s/%s" % (base, c))
            host.add_file("%s/%s/cgroup.procs" % (base, c), "")
        host.add_file(base + "/cpuset/cpuset.cpus", "0-3\n")
        host.add_file(base + "/cpuset/cpuset.mems", "0\n")
    if kind in ("v2", "hybrid"):
        mount = base if kind == "v2" else base + "/unified"
        lines.append(mountinfo_line(20, mount, "cgroup2", "rw"))
        cg.append("0::%s" % own)
        host.add_dir(mount)
        host.add_file(
            mount + "/cgroup.controllers",
            (v2_controllers if kind == "hybrid" else "cpuset cpu io memory hugetlb pids rdma") + "\n",
        )
        host.add_file(mount + "/cgroup.subtree_control", "")
        host.add_file(mount + "/cgroup.procs", "")
    host.add_file("/proc/self/mountinfo", "\n".join(lines) + "\n")
    host.add_file("/proc/self/cgroup", "\n".join(cg) + "\n")


V2_FILES = (
    "cgroup.procs",
    "cgroup.freeze",
    "cgroup.kill",
    "cgroup.subtree_control",
    "cgroup.controllers",
    "cpu.weight",
    "cpu.max",
    "cpu.max.burst",
    "cpu.idle",
    "cpuset.cpus",
    "cpuset.mems",
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "memory.current",
    "memory.events",
    "memory.stat",
    "io.weight",
    "io.max",
    "io.stat",
    "pids.max",
    "pids.current",
    "hugetlb.2MB.max",
    "hugetlb.2MB.rsvd.max",
    "hugetlb.1GB.max",
    "hugetlb.2MB.current",
    "rdma.max",
    "cpu.stat",
)

V1_FILES = {
    "cpu": (
        "cpu.shares",
        "cpu.cfs_period_us",
        "cpu.cfs_quota_us",
        "cpu.cfs_burst_us",
        "cpu.rt_period_us",
        "cpu.rt_runtime_us",
        "cpu.idle",
        "cpu.stat",
    ),
    "cpuacct": ("cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"),
    "cpuset": ("cpuset.cpus", "cpuset.mems"),
    "memory": (
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.swappiness",
        "memory.oom_control",
        "memory.use_hierarchy",
        "memory.kmem.tcp.limit_in_bytes",
        "memory.usage_in_bytes",
        "memory.stat",
    ),
    "devices": ("devices.allow", "devices.deny", "devices.list"),
    "freezer": ("freezer.state",),
    "blkio": (
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
        "blkio.bfq.weight",
        "blkio.bfq.weight_device",
    ),
    "pids": ("pids.max", "pids.current"),
}


def cgroupfs_on_mkdir(host, path):
    """Play the kernel: a new cgroup directory comes with its controller files."""
    name = path.split("/")
    if "unified" in name or not any(("/%s/" % c) in path + "/" for c in V1_FILES):
        files = V2_FILES
        init = {
            "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma\n",
            "cgroup.subtree_control": "",
            "cpu.max": "max 100000\n",
            "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        }
    else:
        ctrl = next(c for c in V1_FILES if ("/%s/" % c) in path + "/")
        files = V1_FILES[ctrl] + ("cgroup.procs",)
        init = {
            "memory.memsw.limit_in_bytes": "9223372036854771712\n",
            "memory.usage_in_bytes": "4096\n",
            "freezer.state": "THAWED\n",
            "cpuset.cpus": "",
            "cpuset.mems": "",
        }
    for f in files:
        host.add_file(path + "/" + f, init.get(f, ""))


class FakeCgroupManager:
    """Stands in for a runtime.cgroups manager in tests of the operations: records what it was asked.

    `.calls` holds (name, args); `.fail[name] = OciError(...)` makes that call raise it.
    """

    layout = "fake"

    def __init__(self, pids=()):
        self.calls = []
        self.fail = {}
        self.joined = []
        self.applied = []
        self._pids = list(pids)
        self._frozen = False
        self.destroyed = False

    def _rec(self, name, *args):
        self.calls.append((name, args))
        if name in self.fail:
            raise self.fail[name]

    def create(self):
        self._rec("create")

    def check_unused(self):
        self._rec("check_unused")

    def prepare_realtime(self, field, runtime):
        self._rec("prepare_realtime", field, runtime)

    def join(self, pid):
        self._rec("join", pid)
        self.joined.append(pid)

    def apply(self, resources=None):
        """None: the resources it was opened with (as the real managers)."""
        self._rec("apply", resources)
        self.applied.append(resources)

    def update(self, resources):
        self._rec("update", resources)
        self.applied.append(resources)

    def to_dict(self):
        return {"driver": "fake", "layout": "fake"}

    def dirs(self):
        return {}

    def hierarchies(self):
        return []

    def destroy(self, deadline=None):
        self._rec("destroy")
        self.destroyed = True

    def kill_all(self, sig):
        self._rec("kill_all", sig)

    def pids(self):
        self._rec("pids")
        return list(self._pids)

    def freeze(self):
        self._rec("freeze")
        self._frozen = True

    def thaw(self):
        self._rec("thaw")
        self._frozen = False

    def frozen(self):
        return self._frozen

    def stats(self):
        self._rec("stats")
        return {}

    def oom_source(self):
        return None
