"""events: a stats event every interval and an oom event whenever the
kernel reports one (v1: an eventfd on memory.oom_control; v2: memory.events
changing), until the container stops; or one stats event (--stats)."""

import os
import sys

from .. import cgroups, errors, log
from ..state import STOPPED


def events(ctx, cid, interval, emit, once=False):
    """Each event goes to emit(dict)."""
    with ctx.store.load(cid) as c:
        if c.status() == STOPPED:
            raise errors.OciError(errors.CONTAINER_NOT_RUNNING)
        m = cgroups.of_container(c)
        if once:
            emit({"type": "stats", "id": c.id, "data": stats(c, m)})
            return
        watch(c, m, interval, emit)


_NETDEV_FIELDS = (
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_dropped",
    None,
    None,
    None,
    None,
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_dropped",
)


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


def watch(c, m, interval, emit):
    import time

    src = m.oom_source()
    oom = None
    if src is not None:
        try:
            oom = OomWatch(src, c.store.host)
        except OSError as e:
            log.LOG.warning("no OOM notifications for `%s`: %s" % (src[1], errors.strerror(e.errno)))
    try:
        next_stats = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_stats:
                if c.status() == STOPPED:
                    return
                try:
                    emit({"type": "stats", "id": c.id, "data": stats(c, m)})
                except errors.OciError:
                    if c.status() == STOPPED:
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
            if c.status() == STOPPED:
                return
    finally:
        if oom is not None:
            oom.close()
