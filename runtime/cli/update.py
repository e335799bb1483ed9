"""`ocirun update [flags] ID`: change a running container's resource limits.

--resources FILE (or - for stdin) takes a LinuxResources JSON object; the
per-field flags take runc's formats (sizes such as 100M, -1 for unlimited)
and are laid over it. The result is merged into the resources in force
(recorded by create in state.json), so a later update starts from them.
"""

from . import Command, Flag

_FLAGS = [
    Flag("resources,r", "str", "", "a LinuxResources JSON file to apply ('-': read it from stdin)", "FILE"),
    Flag("blkio-weight", "str", "", "block I/O weight, 10 to 1000", "WEIGHT"),
    Flag("cpu-period", "str", "", "CFS period in microseconds", "USECS"),
    Flag("cpu-quota", "str", "", "CFS quota per period in microseconds (-1: none)", "USECS"),
    Flag("cpu-rt-period", "str", "", "realtime scheduling period in microseconds", "USECS"),
    Flag("cpu-rt-runtime", "str", "", "realtime runtime per period in microseconds", "USECS"),
    Flag(
        "cpu-shares,cpu-share",
        "str",
        "",
        "relative CPU weight (cpu.shares; cpu.weight on cgroup v2); --cpu-share is runc's spelling",
        "SHARES",
    ),
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


def main(ctx, opts, args):
    from ..ops import update

    update.update(ctx, args[0], opts.resources or None, opts)
    return 0
