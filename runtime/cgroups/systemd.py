"""The systemd driver: systemd makes and owns the container's cgroup, a transient scope.

cgroupsPath is "slice:prefix:name"; the container gets the unit
`<prefix>-<name>.scope` in `<slice>` (system.slice when empty, the root slice
for "-"), started over D-Bus with StartTransientUnit, Delegate=yes and the
setup process in PIDs. The resources systemd has a property for go to it as
unit properties (the v1 names on v1 and hybrid hosts, the v2 names on v2);
then every resource is written into the scope's cgroup files by the cgroupfs
manager, as for any container, so the limits are exact and the ones systemd
has no property for apply too. Hierarchies systemd does not manage (freezer,
cpuset, net_cls... on v1) get the same path, made and removed by us.

    m = open_manager(cid, cgroups_path, host, cgroupfs)   # connects: no bus, no container
    m.create(); m.join(setup_pid); m.apply()              # join starts the scope
    m.destroy()                                           # StopUnit (bounded), reset-failed, our directories

D-Bus goes through sdbus.py (jeepney), imported only here, and this module
only for containers made with the systemd driver: the hot commands of
cgroupfs containers never load either. The bus address is kept in the state,
so later commands reach the same systemd.
"""

import os

from .. import errors
from . import layout
from .devices import effective_devices
from .fs import check_unused
from .manager import Manager
from .resources import blkio_weight_to_io_weight, parse, shares_to_weight
from .sdbus import Bus, bus_address, reachable  # noqa: F401  (reachable: for features)

DEFAULT_SLICE = "system.slice"
DEFAULT_PREFIX = "ocirun"
UINT64_MAX = (1 << 64) - 1


# -- names and paths -----------------------------------------------------------


def parse_path(cgroups_path, cid):
    """(slice, unit) from cgroupsPath "slice:prefix:name"; the default is system.slice:ocirun:<id>."""
    p = cgroups_path or ""
    if not isinstance(p, str):
        raise errors.OciError("invalid linux.cgroupsPath `%s`: want a string" % (p,))
    if not p:
        p = ":%s:%s" % (DEFAULT_PREFIX, cid)
    parts = p.split(":")
    if len(parts) != 3:
        raise errors.OciError("invalid linux.cgroupsPath `%s`: the systemd driver wants slice:prefix:name" % p)
    slice_, prefix, name = parts
    if not name:
        raise errors.OciError("invalid linux.cgroupsPath `%s`: the name part is empty" % p)
    if name.endswith(".slice"):
        raise errors.OciError("invalid linux.cgroupsPath `%s`: a slice as the container's unit is not supported" % p)
    unit = (prefix + "-" + name if prefix else name) + ".scope"
    if not _unit_name_ok(unit):
        raise errors.OciError("invalid linux.cgroupsPath `%s`: `%s` is not a valid unit name" % (p, unit))
    if slice_ == "":
        slice_ = DEFAULT_SLICE
    elif slice_ == "-":
        slice_ = "-.slice"
    expand_slice(slice_, p)
    return slice_, unit


def _unit_name_ok(unit):
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@")
    return 0 < len(unit) <= 255 and set(unit) <= ok and not unit.startswith(".")


def expand_slice(slice_, field=None):
    """The cgroup path of a slice: a-b-c.slice lives at /a.slice/a-b.slice/a-b-c.slice."""
    what = "invalid linux.cgroupsPath `%s`: " % field if field else ""
    if slice_ == "-.slice":
        return ""
    if not slice_.endswith(".slice") or "/" in slice_:
        raise errors.OciError("%sslice `%s` is not a valid slice name (want NAME.slice)" % (what, slice_))
    base = slice_[: -len(".slice")]
    if not base or base.startswith("-") or base.endswith("-") or "--" in base or not _unit_name_ok(slice_):
        raise errors.OciError("%sslice `%s` is not a valid slice name" % (what, slice_))
    out, acc = [], ""
    for part in base.split("-"):
        acc = acc + "-" + part if acc else part
        out.append(acc + ".slice")
    return "/" + "/".join(out)


def _same_pid_namespace(pid, address, host):
    """systemd reads PIDs in its own pid namespace: from another one they would name other processes."""
    try:
        theirs = os.readlink("/proc/%d/ns/pid" % pid) if pid > 0 else None
        ours = os.readlink("/proc/self/ns/pid")
    except OSError:
        theirs, ours = None, True
    if theirs != ours:
        raise errors.OciError(
            "systemd at `%s` runs in another pid namespace than ocirun: run ocirun in systemd's pid namespace" % address
        )


def tracking_key(kind):
    """The /proc/PID/cgroup entry of the hierarchy systemd tracks units in: cgroup2 on
    a v2 host ("" key; a name=systemd hierarchy may exist there, unused by systemd),
    name=systemd on v1 and hybrid hosts."""
    return "" if kind == "v2" else "name=systemd"


def systemd_root(pid, host, kind=None):
    """systemd's root cgroup, in our view of the hierarchy: its own cgroup less /init.scope."""
    try:
        own = layout.parse_proc_cgroup(host.read("/proc/%d/cgroup" % pid).decode("utf-8", "surrogateescape"))
    except OSError as e:
        raise errors.os_error("cannot read systemd's cgroup", "/proc/%d/cgroup" % pid, e) from None
    path = own.get(tracking_key(kind or layout.detect(host).kind))
    if path is None:
        raise errors.OciError("cannot find systemd's cgroup in /proc/%d/cgroup" % pid)
    for tail in ("/init.scope", "/system.slice"):
        if path.endswith(tail):
            path = path[: -len(tail)]
    return path.rstrip("/")


# -- unit properties -------------------------------------------------------------


def _cpu_quota_per_sec(quota, period):
    """CPUQuotaPerSecUSec: systemd keeps it in 10 ms steps, so round up."""
    if quota is None or quota < 0:
        return UINT64_MAX
    period = period or 100000
    v = quota * 1000000 // period
    if v % 10000:
        v = (v // 10000 + 1) * 10000
    return v


def _device_allow(rules):
    """(DevicePolicy, DeviceAllow) for the effective device rules, or None when systemd cannot say it.

    systemd names devices by node (/dev/char/M:m, /dev/block/M:m) or by class
    (char-NAME, block-NAME from /proc/devices): a rule it cannot express makes
    us leave the devices controller to the files alone (DevicePolicy=auto).
    """
    if any(r.allow and r.covers_everything() for r in rules):
        return "auto", []
    names = _proc_devices()
    allow = []
    for r in rules:
        if not r.allow:
            if not r.covers_everything():
                return None  # a deny after allows: systemd has no deny list
            allow = []
            continue
        types = ("c", "b") if r.type == "a" else (r.type,)
        for t in types:
            kind = "char" if t == "c" else "block"
            if r.major == -1:
                allow.append(("%s-*" % kind, r.access))
            elif r.minor == -1:
                name = names.get((t, r.major))
                if name is None:
                    return None
                allow.append(("%s-%s" % (kind, name), r.access))
            else:
                allow.append(("/dev/%s/%d:%d" % (kind, r.major, r.minor), r.access))
    return "strict", allow


def _proc_devices():
    out, t = {}, None
    try:
        with open("/proc/devices") as f:
            for line in f:
                line = line.strip()
                if line.startswith("Character"):
                    t = "c"
                elif line.startswith("Block"):
                    t = "b"
                elif line and t:
                    major, _, name = line.partition(" ")
                    if major.isdigit():
                        out.setdefault((t, int(major)), name)
    except OSError:
        pass
    return out


def cpuset_mask(text, field):
    """systemd's CPU set: a little-endian bit mask, bit n for cpu (or node) n."""
    bits = set()
    for part in text.strip().split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise errors.OciError("invalid %s `%s`: want a list like 0-3,5" % (field, text))
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a or b > 8191:
            raise errors.OciError("invalid %s `%s`: bad range `%s`" % (field, text, part))
        bits.update(range(a, b + 1))
    out = bytearray((max(bits) // 8 + 1) if bits else 0)
    for n in bits:
        out[n // 8] |= 1 << (n % 8)
    return bytes(out)


def unit_properties(resources, kind, extra_devices=()):
    """[(name, (signature, value))] for the resources systemd has properties for.

    resources: a resources.Resources (or the JSON, parsed here);
    extra_devices: the allow rules for linux.devices, or None (with no
    resources.devices either) to leave systemd's device policy alone. The
    cgroupfs manager writes every value into the files afterwards: here only
    their D-Bus shape matters.
    """
    props = []
    r = parse(resources)
    v2 = kind == "v2"
    mem = r.memory
    if mem is not None and mem.limit is not None:
        props.append(("MemoryMax" if v2 else "MemoryLimit", ("t", UINT64_MAX if mem.limit < 0 else mem.limit)))
    cpu = r.cpu
    if cpu is not None:
        if cpu.shares:
            if v2:
                props.append(("CPUWeight", ("t", shares_to_weight(cpu.shares))))
            else:
                props.append(("CPUShares", ("t", max(2, min(262144, cpu.shares)))))
        if cpu.quota is not None or cpu.period is not None:
            if cpu.period:
                props.append(("CPUQuotaPeriodUSec", ("t", cpu.period)))
            props.append(("CPUQuotaPerSecUSec", ("t", _cpu_quota_per_sec(cpu.quota, cpu.period))))
        if v2:
            for text, key, prop in ((cpu.cpus, "cpus", "AllowedCPUs"), (cpu.mems, "mems", "AllowedMemoryNodes")):
                if text:
                    props.append((prop, ("ay", cpuset_mask(text, cpu.FIELD + key))))
    if r.pids is not None and r.pids.limit is not None:
        props.append(("TasksMax", ("t", UINT64_MAX if r.pids.limit <= 0 else r.pids.limit)))
    if r.blockio is not None and r.blockio.weight:
        w = r.blockio.weight
        if v2:
            props.append(("IOWeight", ("t", blkio_weight_to_io_weight(w))))
        else:
            props.append(("BlockIOWeight", ("t", max(10, min(1000, w)))))
    if r.devices is not None or extra_devices is not None:
        dev = _device_allow(effective_devices(r.devices, extra_devices or ()))
        if dev is not None:
            policy, allow = dev
            props.append(("DevicePolicy", ("s", policy)))
            props.append(("DeviceAllow", ("a(ss)", allow)))
    return props


# -- the manager -------------------------------------------------------------------


class SystemdManager(Manager):
    """A transient scope; the files of its cgroup are handled by a cgroupfs manager (`fs`)."""

    def __init__(self, host, address, slice_, unit, root, fsm, started=False):
        self.host = host
        self.address = address
        self.slice = slice_
        self.unit = unit
        self.root = root  # systemd's root cgroup, in our view
        self.fs = fsm  # the cgroupfs manager of the scope's path in every hierarchy
        self.started = started
        self.layout = fsm.layout
        self._bus = None

    # What the cgroupfs manager knows.
    @property
    def warnings(self):
        return self.fs.warnings

    @property
    def resources(self):
        return self.fs.resources

    def _kind(self):
        """Which property names systemd takes here: v1's on v1 and hybrid hosts."""
        return self.fs.layout if self.fs.layout != "hybrid" else "v1"

    @property
    def cgroup_path(self):
        return self.root + expand_slice(self.slice) + "/" + self.unit

    def bus(self):
        if self._bus is None:
            self._bus = Bus(self.address)
        return self._bus

    def close(self):
        if self._bus is not None:
            self._bus.close()
            self._bus = None

    def to_dict(self):
        return {
            "driver": "systemd",
            "layout": self.layout,
            "bus": self.address,
            "slice": self.slice,
            "unit": self.unit,
            "root": self.root,
            "started": self.started,
            "fs": self.fs.to_dict(),
        }

    # -- making and unmaking ------------------------------------------------
    _pending = False

    def create(self):
        """A scope starts with a process in it: join() starts it, with the first pid."""
        self._pending = True

    def join(self, pid):
        if self._pending:
            self._start(pid)
            self._pending = False
        self.fs.join(pid)

    def _start(self, pid):
        """Start the scope with pid in it; then make what systemd left to us (other hierarchies)."""
        b = self.bus()
        props = [
            ("Description", ("s", "ocirun container " + self.unit)),
            ("Slice", ("s", self.slice)),
            ("Delegate", ("b", True)),
            ("PIDs", ("au", [pid])),
            # No Conflicts=/Before=shutdown.target: the container's life is ours.
            ("DefaultDependencies", ("b", False)),
        ]
        res = self.fs.resources
        props += unit_properties(res, self._kind(), self.fs.extra_devices)
        b.subscribe()
        try:
            reply = b.call(
                "StartTransientUnit",
                "ssa(sv)a(sa(sv))",
                self.unit,
                "fail",
                props,
                [],
                what="start unit `%s`" % self.unit,
            )
        except errors.OciError as e:
            # No answer: the unit may exist now, and is ours to stop. A refusal
            # ("already exists") names a unit that is not ours.
            if getattr(e, "dbus_name", None) is None:
                self.started = True
            raise
        self.started = True
        job = reply[0]
        result = b.wait_job(job, self.unit, "start unit")
        if result not in (None, "done"):
            raise errors.OciError(
                "systemd: start unit `%s`: job %s (see `journalctl -u %s`)" % (self.unit, result, self.unit)
            )
        self._check_placed(pid)
        # What systemd did not make (hierarchies it does not manage) is ours.
        for g in self.fs.all_groups():
            g.made = g.plan()
        self.fs.create()

    def _check_placed(self, pid):
        """The process is where we will look for it: the scope's path in systemd's hierarchy."""
        try:
            own = layout.parse_proc_cgroup(self.host.read("/proc/%d/cgroup" % pid).decode("utf-8", "replace"))
        except OSError as e:
            raise errors.os_error("cannot read", "/proc/%d/cgroup" % pid, e) from None
        got = own.get(tracking_key(self.layout))
        if got != self.cgroup_path:
            raise errors.OciError("systemd placed unit `%s` at `%s`, not at `%s`" % (self.unit, got, self.cgroup_path))

    _stop_error = None

    def check_unused(self):
        """The directories that already exist must be empty and not frozen
        (systemd refuses a unit that exists: StartTransientUnit says so)."""
        if (
            self.bus().call(
                "GetUnit",
                "s",
                self.unit,
                what="look up unit `%s`" % self.unit,
                ok_errors=("org.freedesktop.systemd1.NoSuchUnit",),
            )
            is not None
        ):
            raise errors.OciError("systemd: unit `%s` already exists: it is not this container's" % self.unit)

        # before the scope starts systemd has not made its directories yet
        check_unused([g for g in self.fs.all_groups() if self.host.exists(g.dir)])

    def all_groups(self):
        return self.fs.all_groups()

    def hierarchies(self):
        return self.fs.hierarchies()

    def destroy(self, deadline=None):
        # Callers retry destroy() while a cgroup is busy: systemd is asked once,
        # so a silent systemd costs one bounded wait, not one per retry.
        first = self._stop_error
        if self.started and first is None:
            try:
                self.stop_unit()
            except errors.OciError as e:
                first = self._stop_error = e
        try:
            self.fs.destroy(deadline)
        except errors.OciError as e:
            first = first or e
        # systemd removes the scope's directories as it stops it; a stopped
        # scope whose processes died first may leave an empty one behind.
        for g in self.fs.all_groups():
            self._rmdir_scope(g)
        self.close()
        if first:
            raise first

    def _rmdir_scope(self, g):
        import errno

        try:
            self.host.rmdir(g.dir)
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                raise errors.os_error("cannot remove cgroup", g.dir, e) from None

    def stop_unit(self):
        b = self.bus()
        b.subscribe()
        reply = b.call(
            "StopUnit",
            "ss",
            self.unit,
            "replace",
            what="stop unit `%s`" % self.unit,
            ok_errors=("org.freedesktop.systemd1.NoSuchUnit",),
        )
        if reply is not None:
            b.wait_job(reply[0], self.unit, "stop unit")
        # A failed unit stays loaded until reset.
        b.call(
            "ResetFailedUnit",
            "s",
            self.unit,
            what="reset-failed `%s`" % self.unit,
            ok_errors=("org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed"),
        )
        self.started = False

    # -- processes and resources --------------------------------------------
    def check(self, resources=None):
        res = self.fs.resources_of(resources)
        self.fs.check(res)
        unit_properties(res, self._kind())  # what systemd cannot be told (a cpu list it cannot read)

    def apply(self, resources=None, updating=False):
        res = self.fs.resources_of(resources)
        # The files first: a limit the kernel refuses (a controller this
        # hierarchy lacks, a value below the usage) fails the update before
        # systemd is told a value the cgroup does not have.
        self.fs.apply(res, updating)
        if updating and self.started:
            props = unit_properties(res, self._kind(), self.fs.extra_devices if res.devices is not None else None)
            if props:
                self.bus().call(
                    "SetUnitProperties", "sba(sv)", self.unit, True, props, what="set properties of `%s`" % self.unit
                )

    def update(self, resources):
        self.apply(resources, updating=True)

    def kill_all(self, sig):
        self.fs.kill_all(sig)

    def pids(self):
        return self.fs.pids()

    def can_freeze(self):
        return self.fs.can_freeze()

    def freeze(self):
        self.fs.freeze()

    def thaw(self):
        self.fs.thaw()

    def frozen(self):
        return self.fs.frozen()

    def oom_source(self):
        return self.fs.oom_source()

    def stats(self):
        return self.fs.stats()


def open_manager(cid, cgroups_path, host, cgroupfs):
    """The manager of a new container's scope; cgroupfs(path) opens the
    cgroupfs manager of the scope's path (the package's factory)."""
    slice_, unit = parse_path(cgroups_path, cid)
    address = bus_address()
    b = Bus(address)
    try:
        # A bus daemon reports pids as it sees them: it must see what we see.
        _same_pid_namespace(b.socket_peer_pid(), address, host)
        pid = b.peer_pid()
        _same_pid_namespace(pid, address, host)
        root = systemd_root(pid, host)
        fsm = cgroupfs(root + expand_slice(slice_) + "/" + unit)
    except BaseException:
        b.close()
        raise
    # systemd makes the directories: nothing is ours until it has started the scope.
    for g in fsm.all_groups():
        g.made = []
    m = SystemdManager(host, address, slice_, unit, root, fsm)
    m._bus = b
    return m


def from_dict(d, host, inner):
    """The manager of a stored record; `inner` is the cgroupfs manager of its "fs" part."""
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or d.get("bus") or bus_address()
    return SystemdManager(host, address, d["slice"], d["unit"], d.get("root", ""), inner, bool(d.get("started")))
