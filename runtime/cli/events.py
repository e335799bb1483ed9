"""`ocirun events [--stats] [--interval D] ID`: JSON lines of stats and OOM events.

Without --stats it prints a stats event every interval and an "oom" event
whenever the kernel reports one (v1: an eventfd on memory.oom_control; v2:
memory.events changing), until the container stops.
"""

import os
import sys

from . import Command, Flag
from .. import errors

COMMAND = Command("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
                  flags=[Flag("interval", "str", "5s", "time between two stats events, e.g. 5s or 500ms (default: 5s)", "DURATION"),
                         Flag("stats", "bool", help="print one stats event and exit")],
                  description="Prints JSON lines: a stats event every interval and an oom event whenever\n"
                              "the kernel reports one, until the container stops.")

_DIGITS = "0123456789"
_MAX_DURATION = ((1 << 63) - 1) / 1e9  # seconds in Go's largest time.Duration, as runc parses it
_UNITS = (("ns", 1e-9), ("us", 1e-6), ("\u00b5s", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0))


def parse_duration(text):
    """Go's duration syntax, as runc takes it: 5s, 500ms, 1m30s, 1.5h."""
    s, total = text.strip(), 0.0
    if not s:
        raise errors.UsageError("invalid --interval ``: want a duration such as 5s")
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j] in _DIGITS or s[j] == "."):
            j += 1
        k = j
        while k < len(s) and not (s[k] in _DIGITS or s[k] == "."):
            k += 1
        num, unit = s[i:j], s[j:k]
        scale = dict(_UNITS).get(unit)
        try:
            if scale is None:
                raise ValueError
            total += float(num) * scale
        except ValueError:
            raise errors.UsageError("invalid --interval `%s`: want a duration such as 5s or 500ms" % text) from None
        i = k
    if total <= 0:
        raise errors.UsageError("invalid --interval `%s`: must be positive" % text)
    if total > _MAX_DURATION:
        raise errors.UsageError("invalid --interval `%s`: longer than Go's largest duration (2562047h)" % text)
    return total


def emit(event):
    from .. import fastjson
    sys.stdout.write(fastjson.dumps(event, tight=True) + "\n")
    sys.stdout.flush()


def main(ctx, opts, args):
    from .. import cgroups, state
    interval = parse_duration(opts.interval)
    with ctx.store.load(args[0]) as c:
        if c.status() == state.STOPPED:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        m = cgroups.of_container(c)
        if opts.stats:
            emit({"type": "stats", "id": c.id, "data": stats(c, m)})
            return 0
        watch(c, m, interval)
    return 0


_NETDEV_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", None, None, None, None,
                  "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")


def network_interfaces(pid):
    """Counters of the init's network namespace (/proc/PID/net/dev), loopback left out."""
    try:
        with open("/proc/%d/net/dev" % pid) as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return None
    out = []
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if not name or name == "lo":
            continue
        nums = rest.split()
        entry = {"name": name}
        for key, val in zip(_NETDEV_FIELDS, nums):
            if key:
                entry[key] = int(val)
        out.append(entry)
    return out


def stats(c, m):
    data = m.stats()
    if c.pid and c.init_alive():
        nets = network_interfaces(c.pid)
        if nets is not None:
            data["network_interfaces"] = nets
    return data


class OomWatch:
    """One fd that becomes readable (or POLLPRI) when the cgroup sees an OOM."""

    def __init__(self, source, host):
        import select
        self.kind, self.dir = source
        self.poll = select.poll()
        self.fd = None
        self.last = 0
        if self.kind == "v1":
            self.fd = host.eventfd_oom(self.dir)
            self.poll.register(self.fd, select.POLLIN)
        else:
            # cgroup2 files signal a change with POLLPRI (kernfs_notify).
            self.fd = os.open(self.dir + "/memory.events", os.O_RDONLY | os.O_CLOEXEC)
            self.poll.register(self.fd, select.POLLPRI | select.POLLERR)
            self.last = self._count()

    def _count(self):
        text = os.pread(self.fd, 4096, 0).decode()
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0)) + int(counts.get("oom", 0))

    def wait(self, timeout):
        """How many OOM events arrived within timeout seconds."""
        ready = self.poll.poll(max(0, int(timeout * 1000)))
        if not ready:
            return 0
        if self.kind == "v1":
            n = int.from_bytes(os.read(self.fd, 8), sys.byteorder)
            # Removing the cgroup also signals the eventfd: that is no OOM.
            return n if os.path.isdir(self.dir) else 0
        now = self._count()
        n, self.last = max(0, now - self.last), now
        # oom and oom_kill both count one event; report at least one per change.
        return 1 if n else 0

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def watch(c, m, interval):
    import time
    from .. import state
    src = m.oom_source()
    oom = None
    if src is not None:
        try:
            oom = OomWatch(src, c.store.host)
        except OSError as e:
            from ..log import LOG
            LOG.warning("no OOM notifications for `%s`: %s" % (src[1], errors.strerror(e.errno)))
    try:
        next_stats = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_stats:
                if c.status() == state.STOPPED:
                    return
                try:
                    emit({"type": "stats", "id": c.id, "data": stats(c, m)})
                except errors.OciError:
                    if c.status() == state.STOPPED:
                        return
                    raise
                next_stats = now + interval
            # at most an hour at a time: poll() takes an int of milliseconds
            wait = min(3600.0, max(0.0, next_stats - time.monotonic()))
            if oom is None:
                time.sleep(wait)
                continue
            for _ in range(oom.wait(wait)):
                emit({"type": "oom", "id": c.id})
            if c.status() == state.STOPPED:
                return
    finally:
        if oom is not None:
            oom.close()
