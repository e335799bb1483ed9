"""update: change a running container's resource limits.

The request (a LinuxResources object from --resources, with the per-field
flags laid over it) is merged into the resources in force, which create
recorded in state.json; the whole merged set is written to the cgroup and
stored again, so a later update starts from what is in force.
"""

import sys

from .. import cgroups, errors, log
from ..cgroups.resources import merge
from ..state import STOPPED

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

    for flag, key in (
        ("memory", "limit"),
        ("memory_swap", "swap"),
        ("memory_reservation", "reservation"),
        ("kernel_memory", "kernel"),
        ("kernel_memory_tcp", "kernelTCP"),
    ):
        v = getattr(opts, flag)
        if v:
            put("memory", key, parse_bytes(v, flag.replace("_", "-")))
    ints = (
        ("cpu_shares", "cpu", "shares", 0, UINT64),
        ("cpu_quota", "cpu", "quota", -INT64 - 1, INT64),
        ("cpu_period", "cpu", "period", 0, UINT64),
        ("cpu_rt_runtime", "cpu", "realtimeRuntime", -INT64 - 1, INT64),
        ("cpu_rt_period", "cpu", "realtimePeriod", 0, UINT64),
        ("pids_limit", "pids", "limit", -INT64 - 1, INT64),
        ("blkio_weight", "blockIO", "weight", 0, 1000),
    )
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
    """The resources in force: what create recorded in state.json (the
    config it was given, --config included), with every update since."""
    return c.data.get("resources") or {}


def update(ctx, cid, resources_path=None, flags=None):
    """resources_path: a LinuxResources JSON file ('-': stdin); flags: the
    per-field options (cli/update.py's flags, as attributes)."""
    delta = read_resources(resources_path) if resources_path else {}
    if flags is not None:
        delta = merge(delta, flag_resources(flags))
    if delta.pop("devices", None) is not None:
        # As with runc: device rules are fixed at create.
        log.LOG.warning("linux.resources.devices: update does not change device rules; ignored")
    with ctx.store.load(cid, lock=True) as c:
        if c.status() == STOPPED:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        m = cgroups.of_container(c)
        merged = merge(stored_resources(c), delta)
        # The whole merged set is written, so v1's memory/memsw order and
        # v2's cpu.max halves see the limits already in force.
        m.update({k: v for k, v in merged.items() if k != "devices"})
        c.data["resources"] = merged
        c.save()
