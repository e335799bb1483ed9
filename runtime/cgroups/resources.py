"""linux.resources checked, and the conversions cgroup v2 needs.

The managers (v1.py, v2.py) turn a resources dict into file writes; this
module holds what both share: reading a field with its type checked (bad
input is one line naming the field and value), the v1 -> v2 value
conversions, and the device rule list with the spec's default devices.
"""

from .. import errors

PREFIX = "linux.resources"

INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1


def bad(field, value, why):
    return errors.OciError("invalid %s `%s`: %s" % (field, _show(value), why))


def _show(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def section(resources, name, kind=dict):
    """resources[name], or an empty value; a wrong JSON type is an error."""
    v = resources.get(name)
    if v is None:
        return kind()
    if not isinstance(v, kind):
        raise bad("%s.%s" % (PREFIX, name), v, "want a JSON %s" % ("object" if kind is dict else "array"))
    return v


def integer(sec, key, field, lo=-INT64_MAX - 1, hi=UINT64_MAX):
    """sec[key] as an int within [lo, hi], or None when absent (JSON null counts as absent)."""
    v = sec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad(field, v, "want an integer")
    if v < lo:
        raise bad(field, v, "must be at least %d" % lo)
    if v > hi:
        raise bad(field, v, "must be at most %d" % hi)
    return v


def boolean(sec, key, field):
    v = sec.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise bad(field, v, "want true or false")
    return v


def string(sec, key, field):
    v = sec.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise bad(field, v, "want a string")
    return v


def limit_text(v, unlimited="max"):
    """-1 (or any negative value) is "no limit" in the spec; v2 files spell it "max"."""
    return unlimited if v < 0 else str(v)


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


# -- memory ------------------------------------------------------------------

class Memory:
    """linux.resources.memory, checked once for both cgroup versions.

    Sizes are None when unset, -1 when unlimited; 0 means "not set" (engines
    send it so), never "no memory at all".
    """

    __slots__ = ("limit", "swap", "reservation", "swappiness", "oom_off", "hierarchy", "check",
                 "kernel", "kernel_tcp")
    FIELD = PREFIX + ".memory."

    def __init__(self, mem):
        f = self.FIELD
        sizes = [integer(mem, k, f + k, hi=(1 << 63) - 1) for k in ("limit", "swap", "reservation")]
        self.limit, self.swap, self.reservation = (None if v == 0 else (-1 if v is not None and v < 0 else v)
                                                   for v in sizes)
        self.swappiness = integer(mem, "swappiness", f + "swappiness", lo=0, hi=100)
        self.oom_off = boolean(mem, "disableOOMKiller", f + "disableOOMKiller")
        self.hierarchy = boolean(mem, "useHierarchy", f + "useHierarchy")
        self.check = boolean(mem, "checkBeforeUpdate", f + "checkBeforeUpdate")
        self.kernel = integer(mem, "kernel", f + "kernel")
        self.kernel_tcp = integer(mem, "kernelTCP", f + "kernelTCP")

    def check_usage(self, updating, read_usage):
        """checkBeforeUpdate: an update may not set the limit below what is in use."""
        if updating and self.check and self.limit is not None and self.limit >= 0:
            usage = int(read_usage().strip() or 0)
            if self.limit < usage:
                raise bad(self.FIELD + "limit", self.limit, "below the current usage %d (checkBeforeUpdate)" % usage)


# -- devices -----------------------------------------------------------------

# The devices runtime-spec says every container gets, allowed after the
# config's own rules (so a leading "deny all" in the config cannot hide them).
DEFAULT_DEVICES = (
    # mknod of any node is allowed (opening it is not), as runc and crun do:
    # images ship device nodes, and creating one grants no access to it.
    ("c", -1, -1, "m"),
    ("b", -1, -1, "m"),
    ("c", 1, 3, "rwm"),    # /dev/null
    ("c", 1, 5, "rwm"),    # /dev/zero
    ("c", 1, 7, "rwm"),    # /dev/full
    ("c", 1, 8, "rwm"),    # /dev/random
    ("c", 1, 9, "rwm"),    # /dev/urandom
    ("c", 5, 0, "rwm"),    # /dev/tty
    ("c", 5, 1, "rwm"),    # /dev/console
    ("c", 5, 2, "rwm"),    # /dev/ptmx
    ("c", 136, -1, "rwm"),  # /dev/pts/*
)


class DeviceRule:
    """One rule; major/minor -1 mean "any"; access is a subset of "rwm"."""

    __slots__ = ("allow", "type", "major", "minor", "access")

    def __init__(self, allow, type="a", major=-1, minor=-1, access="rwm"):
        self.allow, self.type, self.major, self.minor, self.access = allow, type, major, minor, access

    def __eq__(self, other):
        return isinstance(other, DeviceRule) and self.tuple() == other.tuple()

    def __repr__(self):
        return "DeviceRule%r" % (self.tuple(),)

    def tuple(self):
        return (self.allow, self.type, self.major, self.minor, self.access)

    def covers_everything(self):
        return self.type == "a" and self.access == "rwm"

    def v1_lines(self):
        """devices.allow / devices.deny lines: `c 1:3 rwm`, `*` for any, `a` for all.

        The kernel reads a line starting with `a` as "every device, every
        access", so "all devices, some access" becomes one line per type.
        """
        if self.covers_everything():
            return ["a"]
        types = ("b", "c") if self.type == "a" else (self.type,)
        major = "*" if self.major < 0 or self.type == "a" else str(self.major)
        minor = "*" if self.minor < 0 or self.type == "a" else str(self.minor)
        return ["%s %s:%s %s" % (t, major, minor, self.access) for t in types]


def device_rules(rules, extra_devices=()):
    """The effective rule list: deny all, the config's rules, then the default devices.

    extra_devices: linux.devices entries, which the container must be able to use.
    """
    field = PREFIX + ".devices"
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise bad(field, rules, "want a JSON array")
    out = [DeviceRule(False)]
    for i, r in enumerate(rules):
        f = "%s[%d]" % (field, i)
        if not isinstance(r, dict):
            raise bad(f, r, "want a JSON object")
        allow = boolean(r, "allow", f + ".allow")
        if allow is None:
            raise bad(f + ".allow", "null", "is required")
        t = string(r, "type", f + ".type") or "a"
        if t not in ("a", "b", "c"):
            raise bad(f + ".type", t, "want a, b or c")
        major = integer(r, "major", f + ".major", lo=-1, hi=(1 << 32) - 1)
        minor = integer(r, "minor", f + ".minor", lo=-1, hi=(1 << 32) - 1)
        access = string(r, "access", f + ".access")
        if access is None or access == "":
            access = "rwm"
        if not set(access) <= set("rwm"):
            raise bad(f + ".access", access, "want letters from rwm")
        # Keep the canonical order r, w, m so equal rules compare equal.
        access = "".join(c for c in "rwm" if c in access)
        out.append(DeviceRule(allow, t, -1 if major is None else major, -1 if minor is None else minor, access))
    for d in extra_devices or ():
        if isinstance(d, dict) and d.get("type") in ("b", "c") and isinstance(d.get("major"), int) \
                and isinstance(d.get("minor"), int):
            out.append(DeviceRule(True, d["type"], d["major"], d["minor"], "rwm"))
    for t, major, minor, access in DEFAULT_DEVICES:
        out.append(DeviceRule(True, t, major, minor, access))
    # Nothing before the last rule covering every device can matter.
    for i in range(len(out) - 1, -1, -1):
        if out[i].covers_everything():
            return out[i:]
    return out


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
            low = low[:-len(suffix)]
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
