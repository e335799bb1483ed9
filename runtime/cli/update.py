"""`ocirun update [flags] ID`: change a running container's resource limits.

--resources FILE (or - for stdin) takes a LinuxResources JSON object; the
per-field flags take runc's formats (sizes such as 100M, -1 for unlimited)
and are laid over it. The result is merged into the stored resources
(state.json "resources"), so a later update starts from what is in force.
"""

import sys

from . import Command, Flag
from .. import errors

_FLAGS = [
    Flag("resources,r", "str", "", "a LinuxResources JSON file to apply ('-': read it from stdin)", "FILE"),
    Flag("blkio-weight", "str", "", "block I/O weight, 10 to 1000", "WEIGHT"),
    Flag("cpu-period", "str", "", "CFS period in microseconds", "USECS"),
    Flag("cpu-quota", "str", "", "CFS quota per period in microseconds (-1: none)", "USECS"),
    Flag("cpu-rt-period", "str", "", "realtime scheduling period in microseconds", "USECS"),
    Flag("cpu-rt-runtime", "str", "", "realtime runtime per period in microseconds", "USECS"),
    Flag("cpu-shares,cpu-share", "str", "", "relative CPU weight (cpu.shares; cpu.weight on cgroup v2); --cpu-share is runc's spelling", "SHARES"),
    Flag("cpuset-cpus", "str", "", "CPUs the container may run on, e.g. 0-2,4", "CPUS"),
    Flag("cpuset-mems", "str", "", "memory nodes the container may use, e.g. 0", "MEMS"),
    Flag("kernel-memory", "str", "", "kernel memory limit (ignored: kernels dropped it)", "BYTES"),
    Flag("kernel-memory-tcp", "str", "", "kernel TCP buffer limit (cgroup v1 only)", "BYTES"),
    Flag("memory", "str", "", "memory limit, e.g. 512M (-1: none)", "BYTES"),
    Flag("memory-reservation", "str", "", "memory soft limit, e.g. 256M", "BYTES"),
    Flag("memory-swap", "str", "", "memory plus swap limit, e.g. 1G (-1: unlimited swap)", "BYTES"),
    Flag("pids-limit", "str", "", "most processes the container may hold (-1: none)", "N"),
]

_DESCRIPTION = """The update command changes the resources of a running container;
unset flags leave their limits as they are.

--resources (-r) FILE, or - for stdin, holds one JSON object shaped like
config.json's linux.resources. Give only what changes, for example:

  {
    "memory":  {"limit": 536870912, "reservation": 268435456, "swap": 1073741824,
                "kernelTCP": 0, "swappiness": 60, "disableOOMKiller": false},
    "cpu":     {"shares": 1024, "quota": 50000, "period": 100000,
                "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "0-1", "mems": "0"},
    "blockIO": {"weight": 500,
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
    "pids":    {"limit": 100},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 1}]},
    "rdma":    {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10}},
    "unified": {"memory.high": "max"}
  }

Sizes are bytes, times microseconds; -1 means no limit for memory.limit,
memory.swap, cpu.quota and pids.limit. "devices" is accepted and ignored
(device rules are fixed at create). The flags below are laid over the file,
and the result is merged into the limits already in force."""

COMMAND = Command("update", "update container resource constraints", flags=_FLAGS, description=_DESCRIPTION)

INT64 = (1 << 63) - 1
UINT64 = (1 << 64) - 1


def read_resources(arg, stdin=None):
    from .. import fastjson
    try:
        if arg == "-":
            text = (stdin or sys.stdin).read()
        else:
            with open(arg, "rb") as f:
                text = f.read()
    except OSError as e:
        raise errors.os_error("cannot read --resources", arg, e) from None
    try:
        res = fastjson.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.UsageError("invalid --resources `%s`: %s" % (arg, e)) from None
    if not isinstance(res, dict):
        raise errors.UsageError("invalid --resources `%s`: want a JSON object (LinuxResources)" % arg)
    return res


def flag_resources(opts):
    """The per-field flags as a LinuxResources fragment (only the flags given)."""
    from ..cgroups.resources import parse_bytes, parse_int
    out = {}

    def put(sec, key, value):
        out.setdefault(sec, {})[key] = value

    for flag, key in (("memory", "limit"), ("memory_swap", "swap"), ("memory_reservation", "reservation"),
                      ("kernel_memory", "kernel"), ("kernel_memory_tcp", "kernelTCP")):
        v = getattr(opts, flag)
        if v:
            put("memory", key, parse_bytes(v, flag.replace("_", "-")))
    ints = (("cpu_shares", "cpu", "shares", 0, UINT64), ("cpu_quota", "cpu", "quota", -INT64 - 1, INT64),
            ("cpu_period", "cpu", "period", 0, UINT64), ("cpu_rt_runtime", "cpu", "realtimeRuntime", -INT64 - 1, INT64),
            ("cpu_rt_period", "cpu", "realtimePeriod", 0, UINT64), ("pids_limit", "pids", "limit", -INT64 - 1, INT64),
            ("blkio_weight", "blockIO", "weight", 0, 1000))
    for flag, sec, key, lo, hi in ints:
        v = getattr(opts, flag)
        if v:
            put(sec, key, parse_int(v, flag.replace("_", "-"), lo, hi))
    if opts.blkio_weight and 0 < out["blockIO"]["weight"] < 10:
        raise errors.UsageError("invalid value for --blkio-weight `%s`: want 10 to 1000" % opts.blkio_weight)
    if opts.cpuset_cpus:
        put("cpu", "cpus", opts.cpuset_cpus)
    if opts.cpuset_mems:
        put("cpu", "mems", opts.cpuset_mems)
    return out


def stored_resources(c):
    """The resources in force: state.json's, else the bundle's config.json as created."""
    if "resources" in c.data:
        return c.data["resources"] or {}
    from .. import fastjson
    try:
        with open(c.data.get("bundle", "") + "/config.json", "rb") as f:
            cfg = fastjson.loads(f.read())
        return ((cfg.get("linux") or {}).get("resources") or {}) if isinstance(cfg, dict) else {}
    except (OSError, ValueError):
        return {}


def main(ctx, opts, args):
    from .. import cgroups, state
    from ..cgroups.resources import merge
    delta = read_resources(opts.resources) if opts.resources else {}
    delta = merge(delta, flag_resources(opts))
    if delta.pop("devices", None) is not None:
        # As with runc: device rules are fixed at create.
        from ..log import LOG
        LOG.warning("linux.resources.devices: update does not change device rules; ignored")
    with ctx.store.load(args[0], lock=True) as c:
        if c.status() == state.STOPPED:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        m = cgroups.of_container(c)
        merged = merge(stored_resources(c), delta)
        # The whole merged set is written, so v1's memory/memsw order and
        # v2's cpu.max halves see the limits already in force.
        m.update({k: v for k, v in merged.items() if k != "devices"})
        c.data["resources"] = merged
        c.save()
    return 0
