"""Usage counters in the shape runc's `events --stats` prints.

    {"cpu": {"usage": {"total", "percpu", "percpu_kernel", "percpu_user", "kernel", "user"},
             "throttling": {"periods", "throttled_periods", "throttled_time"}},
     "memory": {"cache", "usage": {"limit", "usage", "max", "failcnt"}, "swap": {…},
                "kernel": {…}, "kernelTCP": {…}, "raw": {memory.stat}},
     "pids": {"current", "limit"},
     "blkio": {"ioServiceBytesRecursive": [{"major", "minor", "op", "value"}], …},
     "hugetlb": {"2MB": {"usage", "max", "failcnt"}}}

Times are nanoseconds. A file this kernel lacks leaves its fields out (or 0).
"""

import os


def _num(text, default=0):
    if text is None:
        return default
    t = text.strip()
    if t == "max":
        return 0
    try:
        return int(t)
    except ValueError:
        return default


def _keyed(text):
    """`key value` lines as a dict of ints."""
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _ints(text):
    return [int(x) for x in (text or "").split()]


def _entry(g, prefix):
    """{"limit", "usage", "max", "failcnt"} from a v1 memory.* / memory.memsw.* family."""
    if g is None or g.read_opt(prefix + "usage_in_bytes") is None:
        return None
    return {
        "limit": _num(g.read_opt(prefix + "limit_in_bytes")),
        "usage": _num(g.read_opt(prefix + "usage_in_bytes")),
        "max": _num(g.read_opt(prefix + "max_usage_in_bytes")),
        "failcnt": _num(g.read_opt(prefix + "failcnt")),
    }


def _tick_ns():
    return 10**9 // os.sysconf("SC_CLK_TCK")


def _hugepage_sizes():
    """Sizes as the hugetlb files spell them: 2MB, 1GB, 64KB."""
    sizes = []
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return sizes
    for n in names:
        kb = int(n[len("hugepages-") : -2])
        if kb % (1 << 20) == 0:
            sizes.append("%dGB" % (kb >> 20))
        elif kb % (1 << 10) == 0:
            sizes.append("%dMB" % (kb >> 10))
        else:
            sizes.append("%dKB" % kb)
    return sorted(sizes)


def _blkio_v1(text):
    """`8:0 Read 4096` lines (the `Total` line is the sum and is left out)."""
    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
    return out


def v1(m):
    s = {}
    acct = m.group("cpuacct")
    cpu = m.group("cpu")
    usage = {}
    if acct is not None:
        usage["total"] = _num(acct.read_opt("cpuacct.usage"))
        usage["percpu"] = _ints(acct.read_opt("cpuacct.usage_percpu"))
        k = acct.read_opt("cpuacct.usage_percpu_sys")
        if k is not None:
            usage["percpu_kernel"] = _ints(k)
            usage["percpu_user"] = _ints(acct.read_opt("cpuacct.usage_percpu_user"))
        st = _keyed(acct.read_opt("cpuacct.stat"))
        tick = _tick_ns()
        usage["kernel"] = st.get("system", 0) * tick
        usage["user"] = st.get("user", 0) * tick
    thr = {}
    if cpu is not None:
        st = _keyed(cpu.read_opt("cpu.stat"))
        thr = {
            "periods": st.get("nr_periods", 0),
            "throttled_periods": st.get("nr_throttled", 0),
            "throttled_time": st.get("throttled_time", 0),
        }
    s["cpu"] = {"usage": usage, "throttling": thr}

    mem = m.group("memory")
    if mem is not None:
        raw = _keyed(mem.read_opt("memory.stat"))
        md = {"cache": raw.get("total_cache", raw.get("cache", 0)), "raw": raw}
        for key, prefix in (
            ("usage", "memory."),
            ("swap", "memory.memsw."),
            ("kernel", "memory.kmem."),
            ("kernelTCP", "memory.kmem.tcp."),
        ):
            e = _entry(mem, prefix)
            if e is not None:
                md[key] = e
        s["memory"] = md

    pids = m.group("pids")
    if pids is not None:
        s["pids"] = {"current": _num(pids.read_opt("pids.current")), "limit": _num(pids.read_opt("pids.max"))}

    blk = m.group("blkio")
    if blk is not None:
        bd = {}
        # CFQ's files when present, else BFQ's, else the throttling layer's (always there).
        for stem in ("blkio.", "blkio.bfq.", "blkio.throttle."):
            if blk.read_opt(stem + "io_service_bytes_recursive") is not None:
                bd["ioServiceBytesRecursive"] = _blkio_v1(blk.read_opt(stem + "io_service_bytes_recursive"))
                bd["ioServicedRecursive"] = _blkio_v1(blk.read_opt(stem + "io_serviced_recursive"))
                break
        s["blkio"] = bd

    huge = m.group("hugetlb")
    if huge is not None:
        s["hugetlb"] = {
            size: {
                "usage": _num(huge.read_opt("hugetlb.%s.usage_in_bytes" % size)),
                "max": _num(huge.read_opt("hugetlb.%s.max_usage_in_bytes" % size)),
                "failcnt": _num(huge.read_opt("hugetlb.%s.failcnt" % size)),
            }
            for size in _hugepage_sizes()
        }
    return s


def v2(m):
    g = m.group
    s = {}
    st = _keyed(g.read_opt("cpu.stat"))
    s["cpu"] = {
        "usage": {
            "total": st.get("usage_usec", 0) * 1000,
            "kernel": st.get("system_usec", 0) * 1000,
            "user": st.get("user_usec", 0) * 1000,
        },
        "throttling": {
            "periods": st.get("nr_periods", 0),
            "throttled_periods": st.get("nr_throttled", 0),
            "throttled_time": st.get("throttled_usec", 0) * 1000,
        },
    }
    if g.read_opt("memory.current") is not None:
        raw = _keyed(g.read_opt("memory.stat"))
        events = _keyed(g.read_opt("memory.events"))
        md = {
            "cache": raw.get("file", 0),
            "raw": raw,
            "usage": {
                "limit": _num(g.read_opt("memory.max")),
                "usage": _num(g.read_opt("memory.current")),
                "max": _num(g.read_opt("memory.peak")),
                "failcnt": events.get("max", 0),
            },
        }
        if g.read_opt("memory.swap.current") is not None:
            md["swap"] = {
                "limit": _num(g.read_opt("memory.swap.max")),
                "usage": _num(g.read_opt("memory.swap.current")),
                "max": _num(g.read_opt("memory.swap.peak")),
                "failcnt": _keyed(g.read_opt("memory.swap.events")).get("max", 0),
            }
        s["memory"] = md
    if g.read_opt("pids.current") is not None:
        s["pids"] = {"current": _num(g.read_opt("pids.current")), "limit": _num(g.read_opt("pids.max"))}
    io = g.read_opt("io.stat")
    if io is not None:
        served, count = [], []
        for line in io.splitlines():
            parts = line.split()
            if not parts or ":" not in parts[0]:
                continue
            major, _, minor = parts[0].partition(":")
            kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            for key, op, into in (
                ("rbytes", "Read", served),
                ("wbytes", "Write", served),
                ("rios", "Read", count),
                ("wios", "Write", count),
            ):
                if key in kv:
                    into.append({"major": int(major), "minor": int(minor), "op": op, "value": int(kv[key])})
        s["blkio"] = {"ioServiceBytesRecursive": served, "ioServicedRecursive": count}
    huge = {}
    for size in _hugepage_sizes():
        cur = g.read_opt("hugetlb.%s.current" % size)
        if cur is None:
            continue
        # v2 keeps no peak usage for hugetlb.
        huge[size] = {"usage": _num(cur), "failcnt": _keyed(g.read_opt("hugetlb.%s.events" % size)).get("max", 0)}
    if huge:
        s["hugetlb"] = huge
    return s
