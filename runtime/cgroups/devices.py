"""linux.resources.devices: the device rules, parsed once (parse_device_rules)
and completed into the list in force (effective_devices: deny all, the
config's rules, the nodes linux.devices creates, the spec's default devices).
The cgroupfs managers write them (v1 lines, v2 BPF program: core/devices_bpf.c)
and systemd's driver translates them to DeviceAllow=.
"""

from .values import PREFIX, UINT32_MAX, bad, boolean, integer, string

# The devices runtime-spec says every container gets, allowed after the
# config's own rules (so a leading "deny all" in the config cannot hide them).
DEFAULT_DEVICES = (
    # mknod of any node is allowed (opening it is not), as runc and crun do:
    # images ship device nodes, and creating one grants no access to it.
    ("c", -1, -1, "m"),
    ("b", -1, -1, "m"),
    ("c", 1, 3, "rwm"),  # /dev/null
    ("c", 1, 5, "rwm"),  # /dev/zero
    ("c", 1, 7, "rwm"),  # /dev/full
    ("c", 1, 8, "rwm"),  # /dev/random
    ("c", 1, 9, "rwm"),  # /dev/urandom
    ("c", 5, 0, "rwm"),  # /dev/tty
    ("c", 5, 1, "rwm"),  # /dev/console
    ("c", 5, 2, "rwm"),  # /dev/ptmx
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


def parse_device_rules(rules):
    """linux.resources.devices as [DeviceRule], or None when absent."""
    field = PREFIX + ".devices"
    if rules is None:
        return None
    if not isinstance(rules, list):
        raise bad(field, rules, "want a JSON array")
    out = []
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
        major = integer(r, "major", f + ".major", lo=-1, hi=UINT32_MAX)
        minor = integer(r, "minor", f + ".minor", lo=-1, hi=UINT32_MAX)
        access = string(r, "access", f + ".access")
        if access is None or access == "":
            access = "rwm"
        if not set(access) <= set("rwm"):
            raise bad(f + ".access", access, "want letters from rwm")
        # Keep the canonical order r, w, m so equal rules compare equal.
        access = "".join(c for c in "rwm" if c in access)
        out.append(DeviceRule(allow, t, -1 if major is None else major, -1 if minor is None else minor, access))
    return out


def device_allowances(devices):
    """linux.devices (the nodes the config creates) as allow rules: the container must be able to use them."""
    out = []
    for d in devices or ():
        if (
            isinstance(d, dict)
            and d.get("type") in ("b", "c")
            and isinstance(d.get("major"), int)
            and isinstance(d.get("minor"), int)
        ):
            out.append(DeviceRule(True, d["type"], d["major"], d["minor"], "rwm"))
    return out


def effective_devices(rules, allowances=()):
    """The rule list in force: deny all, the config's rules, the allowances, then the default devices."""
    out = [DeviceRule(False)] + list(rules or ()) + list(allowances)
    out += [DeviceRule(True, t, major, minor, access) for t, major, minor, access in DEFAULT_DEVICES]
    # Nothing before the last rule covering every device can matter.
    for i in range(len(out) - 1, -1, -1):
        if out[i].covers_everything():
            return out[i:]
    return out
