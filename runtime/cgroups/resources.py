"""linux.resources: parsed once into typed values, and what the managers share.

parse(raw) turns the JSON object into a Resources, one typed value per
section, or raises one line naming the field and value (validation reports
it, before anything is made: problems()). The managers (v1, v2, hybrid and
systemd) read only these values, never the raw JSON. Also here: the v1 -> v2
value conversions, the write helper both cgroupfs versions use, and runc's
command-line value formats (update). The device rules are devices.py's, the
JSON value readers values.py's.
"""

from .. import errors
from .devices import parse_device_rules
from .values import (
    INT64_MAX,
    PREFIX,
    UINT32_MAX,
    UINT64_MAX,
    ResourceError,
    bad,
    boolean,
    integer,
    key_path,
    section,
    show,
    string,
)

# -- conversions for cgroup v2 ---------------------------------------------


def shares_to_weight(shares):
    """cpu.shares [2, 262144] onto cpu.weight [1, 10000], linearly (the documented mapping)."""
    if shares <= 0:
        return None
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight):
    """blkio.weight [10, 1000] onto io.weight [1, 10000], linearly."""
    if weight <= 0:
        return None
    weight = min(max(weight, 10), 1000)
    return 1 + ((weight - 10) * 9999) // 990


def swap_to_v2(swap, limit, field):
    """The spec's swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.

    Returns the memory.swap.max text, or None when nothing is to be written.
    """
    if swap is None:
        # Unlimited memory without a word on swap means unlimited swap too,
        # as on v1 where memsw must not stay below the memory limit.
        return "max" if limit is not None and limit < 0 else None
    if swap < 0:
        return "max"
    if swap == 0:
        return None
    if limit is None or limit < 0:
        raise bad(field, swap, "a swap limit needs a memory limit (linux.resources.memory.limit)")
    if swap < limit:
        raise bad(field, swap, "memory+swap must be at least the memory limit %d" % limit)
    return str(swap - limit)


# -- the sections ------------------------------------------------------------


class Memory:
    """linux.resources.memory, checked once for both cgroup versions.

    Sizes are None when unset, -1 when unlimited; 0 means "not set" (engines
    send it so), never "no memory at all".
    """

    __slots__ = ("limit", "swap", "reservation", "swappiness", "oom_off", "hierarchy", "check", "kernel", "kernel_tcp")
    FIELD = PREFIX + ".memory."

    def __init__(self, mem):
        f = self.FIELD
        sizes = [integer(mem, k, f + k, hi=INT64_MAX) for k in ("limit", "swap", "reservation")]
        self.limit, self.swap, self.reservation = (
            None if v == 0 else (-1 if v is not None and v < 0 else v) for v in sizes
        )
        self.swappiness = integer(mem, "swappiness", f + "swappiness", lo=0, hi=100)
        self.oom_off = boolean(mem, "disableOOMKiller", f + "disableOOMKiller")
        self.hierarchy = boolean(mem, "useHierarchy", f + "useHierarchy")
        self.check = boolean(mem, "checkBeforeUpdate", f + "checkBeforeUpdate")
        self.kernel = integer(mem, "kernel", f + "kernel")
        self.kernel_tcp = integer(mem, "kernelTCP", f + "kernelTCP")
        limit, swap = self.limit, self.swap
        if swap is not None and swap > 0 and limit is not None and limit >= 0 and swap < limit:
            raise bad(f + "swap", swap, "memory+swap must be at least the memory limit %d" % limit)

    def check_usage(self, updating, read_usage):
        """checkBeforeUpdate: an update may not set the limit below what is in use."""
        if updating and self.check and self.limit is not None and self.limit >= 0:
            usage = int(read_usage().strip() or 0)
            if self.limit < usage:
                raise bad(self.FIELD + "limit", self.limit, "below the current usage %d (checkBeforeUpdate)" % usage)


class Cpu:
    """linux.resources.cpu: each value None when unset."""

    __slots__ = ("shares", "quota", "burst", "period", "rt_runtime", "rt_period", "idle", "cpus", "mems")
    FIELD = PREFIX + ".cpu."

    def __init__(self, cpu):
        f = self.FIELD
        self.shares = integer(cpu, "shares", f + "shares", lo=0)
        self.quota = integer(cpu, "quota", f + "quota", hi=INT64_MAX)
        self.burst = integer(cpu, "burst", f + "burst", lo=0)
        self.period = integer(cpu, "period", f + "period", lo=0)
        self.rt_runtime = integer(cpu, "realtimeRuntime", f + "realtimeRuntime", hi=INT64_MAX)
        self.rt_period = integer(cpu, "realtimePeriod", f + "realtimePeriod", lo=0)
        self.idle = integer(cpu, "idle", f + "idle", lo=0, hi=1)
        self.cpus = string(cpu, "cpus", f + "cpus")
        self.mems = string(cpu, "mems", f + "mems")


THROTTLES = (
    ("throttleReadBpsDevice", "read_bps_device"),
    ("throttleWriteBpsDevice", "write_bps_device"),
    ("throttleReadIOPSDevice", "read_iops_device"),
    ("throttleWriteIOPSDevice", "write_iops_device"),
)


class BlockIO:
    """linux.resources.blockIO: weights, per-device weights and throttles."""

    __slots__ = ("weight", "leaf_weight", "weight_devices", "throttles")
    FIELD = PREFIX + ".blockIO."

    def __init__(self, bio):
        f = self.FIELD
        self.weight = integer(bio, "weight", f + "weight", lo=0, hi=1000)
        self.leaf_weight = integer(bio, "leafWeight", f + "leafWeight", lo=0, hi=1000)
        self.weight_devices = []  # (major, minor, weight, leafWeight, field)
        for i, wd in enumerate(section(bio, "weightDevice", f + "weightDevice", list) or ()):
            fi = "%sweightDevice[%d]" % (f, i)
            major, minor = device_numbers(wd, fi)
            self.weight_devices.append(
                (
                    major,
                    minor,
                    integer(wd, "weight", fi + ".weight", lo=0, hi=1000),
                    integer(wd, "leafWeight", fi + ".leafWeight", lo=0, hi=1000),
                    fi,
                )
            )
        self.throttles = []  # (spec key, v1 file suffix, major, minor, rate, field)
        for key, fname in THROTTLES:
            for i, td in enumerate(section(bio, key, f + key, list) or ()):
                fi = "%s%s[%d]" % (f, key, i)
                major, minor = device_numbers(td, fi)
                rate = integer(td, "rate", fi + ".rate", lo=0)
                if rate is None:
                    raise bad(fi + ".rate", "null", "is required")
                self.throttles.append((key, fname, major, minor, rate, fi))


def device_numbers(d, field):
    """(major, minor) of a blockIO device entry."""
    if not isinstance(d, dict):
        raise bad(field, d, "want a JSON object")
    major = integer(d, "major", field + ".major", lo=0, hi=UINT32_MAX)
    minor = integer(d, "minor", field + ".minor", lo=0, hi=UINT32_MAX)
    if major is None or minor is None:
        raise bad(field, d, "want a major and a minor")
    return major, minor


def hugepage(hl, field):
    """(page size as the kernel's files name it, limit, field) from a hugepageLimits entry."""
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
    return size, limit, field


class Network:
    """linux.resources.network: the net_cls class id and net_prio priorities (v1 only)."""

    __slots__ = ("class_id", "priorities")
    FIELD = PREFIX + ".network."

    def __init__(self, net):
        f = self.FIELD
        self.class_id = integer(net, "classID", f + "classID", lo=0, hi=UINT32_MAX)
        self.priorities = []  # (interface, priority, field)
        for i, p in enumerate(section(net, "priorities", f + "priorities", list) or ()):
            fi = "%spriorities[%d]" % (f, i)
            if not isinstance(p, dict):
                raise bad(fi, p, "want a JSON object")
            name = string(p, "name", fi + ".name")
            prio = integer(p, "priority", fi + ".priority", lo=0, hi=UINT32_MAX)
            if not name or prio is None:
                raise bad(fi, p, "want a name and a priority")
            self.priorities.append((name, prio, fi))


class Pids:
    __slots__ = ("limit",)

    def __init__(self, pids):
        self.limit = integer(pids, "limit", PREFIX + ".pids.limit", hi=INT64_MAX)


def pids_max(limit):
    # 0 or less is "no limit": a pids.max of 0 would let nothing run at all.
    return "max" if limit <= 0 else str(limit)


def rdma_lines(rdma):
    """[(rdma.max line, field)], one per device with a limit."""
    out = []
    for dev in sorted(rdma):
        fi = key_path(PREFIX + ".rdma", dev)
        v = rdma[dev]
        if not isinstance(v, dict):
            raise bad(fi, v, "want a JSON object")
        handles = integer(v, "hcaHandles", fi + ".hcaHandles", lo=0, hi=UINT32_MAX)
        objects = integer(v, "hcaObjects", fi + ".hcaObjects", lo=0, hi=UINT32_MAX)
        parts = [dev]
        if handles is not None:
            parts.append("hca_handle=%d" % handles)
        if objects is not None:
            parts.append("hca_object=%d" % objects)
        if len(parts) > 1:
            out.append((" ".join(parts), fi))
    return out


# Files a container must not set through linux.resources.unified: they move
# processes or reshape the tree rather than limit anything.
UNIFIED_FORBIDDEN = frozenset(
    (
        "cgroup.procs",
        "cgroup.threads",
        "cgroup.subtree_control",
        "cgroup.kill",
        "cgroup.type",
        "cgroup.events",
        "cgroup.controllers",
        "cgroup.freeze",
    )
)


def unified_files(unified):
    """[(file, value, field)] of linux.resources.unified, sorted by file."""
    out = []
    for key in sorted(unified):
        fi = key_path(PREFIX + ".unified", key)
        value = unified[key]
        if not isinstance(value, str):
            raise bad(fi, value, "want a string")
        if not key or "/" in key or key.startswith(".") or "." not in key or key in UNIFIED_FORBIDDEN:
            raise bad(PREFIX + ".unified", key, "not a settable cgroup v2 file")
        out.append((key, value, fi))
    return out


class Resources:
    """linux.resources parsed: each section a typed value, None when absent or empty.

    devices is the config's rule list ([DeviceRule], None when absent): the
    managers add the deny-all first and the default devices last.
    """

    __slots__ = ("devices", "memory", "cpu", "blockio", "hugepages", "network", "pids", "rdma", "unified")

    def __init__(self, raw=None):
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise bad(PREFIX, raw, "want a JSON object")
        f = PREFIX + "."
        self.devices = parse_device_rules(raw.get("devices"))
        sec = section(raw, "memory", f + "memory")
        self.memory = Memory(sec) if sec else None
        sec = section(raw, "cpu", f + "cpu")
        self.cpu = Cpu(sec) if sec else None
        sec = section(raw, "blockIO", f + "blockIO")
        self.blockio = BlockIO(sec) if sec else None
        sec = section(raw, "hugepageLimits", f + "hugepageLimits", list)
        self.hugepages = [hugepage(hl, "%shugepageLimits[%d]" % (f, i)) for i, hl in enumerate(sec or ())] or None
        sec = section(raw, "network", f + "network")
        self.network = Network(sec) if sec else None
        sec = section(raw, "pids", f + "pids")
        self.pids = Pids(sec) if sec else None
        sec = section(raw, "rdma", f + "rdma")
        self.rdma = rdma_lines(sec) if sec else None
        sec = section(raw, "unified", f + "unified")
        self.unified = unified_files(sec) if sec else None


def parse(raw):
    """A Resources from linux.resources (a dict, None, or a Resources already); ResourceError names the field."""
    return raw if isinstance(raw, Resources) else Resources(raw)


def problems(raw):
    """Validation's view: [] or one 'path: message' line naming the first bad field."""
    try:
        parse(raw)
    except ResourceError as e:
        return ["%s: invalid value `%s`: %s" % (e.field, show(e.value), e.why)]
    return []


def write_in_some_order(g, writes):
    """Write in the given order; if the kernel refuses one, try the reverse order once.

    The kernel checks some values against others in place (a burst above the
    quota, a runtime above the period): the order that works depends on the
    values already there."""
    try:
        for w in writes:
            g.write(*w)
    except errors.OciError:
        if len(writes) < 2:
            raise
        for w in reversed(writes):
            g.write(*w)


# -- runc's command-line value formats (update) -------------------------------

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(text, flag):
    """`100M`, `1g`, `512kb`, `1.5GiB`, `1024` (binary multiples), or -1 for unlimited."""
    s = text.strip()
    if s == "-1":
        return -1
    low = s.lower()
    for suffix in ("ib", "b"):
        if low.endswith(suffix) and len(low) > len(suffix):
            low = low[: -len(suffix)]
            break
    unit = ""
    if low and low[-1] in "kmgtp":
        unit, low = low[-1], low[:-1]
    low = low.rstrip(" ")
    try:
        if not low or low.startswith(("-", "+")):
            raise ValueError
        value = float(low) if "." in low else int(low)
    except ValueError:
        raise errors.UsageError("invalid value for --%s `%s`: want a size such as 100M or -1" % (flag, text)) from None
    return int(value * _UNITS[unit])


def parse_int(text, flag, lo=-INT64_MAX - 1, hi=UINT64_MAX):
    try:
        v = int(text.strip(), 10)
    except ValueError:
        raise errors.UsageError("invalid value for --%s `%s`: want an integer" % (flag, text)) from None
    if v < lo or v > hi:
        raise errors.UsageError("invalid value for --%s `%s`: out of range [%d, %d]" % (flag, text, lo, hi))
    return v


def merge(old, new):
    """Resources `new` laid over `old`, recursively for objects; lists replace."""
    out = dict(old or {})
    for k, v in (new or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out
