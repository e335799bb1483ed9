"""`ocirun events [--stats] [--interval D] ID`: JSON lines of stats and OOM events.

Without --stats it prints a stats event every interval and an "oom" event
whenever the kernel reports one (v1: an eventfd on memory.oom_control; v2:
memory.events changing), until the container stops.
"""

import sys

from .. import errors
from . import Command, Flag

COMMAND = Command(
    "events",
    "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
    flags=[
        Flag("interval", "str", "5s", "time between two stats events, e.g. 5s or 500ms (default: 5s)", "DURATION"),
        Flag("stats", "bool", help="print one stats event and exit"),
    ],
    description="Prints JSON lines: a stats event every interval and an oom event whenever\n"
    "the kernel reports one, until the container stops.",
)

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
    from ..ops import events

    interval = parse_duration(opts.interval)
    events.events(ctx, args[0], interval, emit, once=opts.stats)
    return 0
