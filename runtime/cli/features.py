"""`ocirun features`: the runtime-spec 1.3.0 features document, measured, not assumed.

Each part comes from the module that implements it (its FEATURES), intersected
with what this kernel offers, so the document cannot claim what the build or
the host lacks: a module that is not there contributes nothing.
"""

import os
import sys

from .. import SPEC_VERSION, __version__, fastjson
from ..linux import CAPS, NS_FILES, cap_last_cap
from . import Command

COMMAND = Command(
    "features",
    "show the enabled features",
    usage="",
    nargs=(0, 0),
    description="Prints the features document of runtime-spec 1.3.0 as JSON.",
)


def _module_features(name):
    """FEATURES of runtime.<name>, or None if that part is not built."""
    try:
        from importlib import import_module

        mod = import_module("runtime." + name)
    except ImportError:
        return None
    f = getattr(mod, "FEATURES", None)
    return f() if callable(f) else f


def _have_tools(*names):
    """netDevices are moved with iproute2's `ip` (under util-linux's nsenter)."""
    import shutil

    return all(shutil.which(n) for n in names)


def _intel_rdt():
    """Enabled only where resctrl is mounted (create refuses the field elsewhere)."""
    try:
        from .. import resctrl
    except ImportError:
        return {"enabled": False}
    root = resctrl.mount_point()
    if not root:
        return {"enabled": False}
    mon = any(os.path.isdir(os.path.join(root, "info", d)) for d in ("L3_MON", "MB_MON"))
    return {"enabled": True, "schemata": True, "monitoring": mon}


def kernel_namespaces():
    return sorted(t for t, f in NS_FILES.items() if os.path.exists("/proc/self/ns/" + f))


def document():
    lifecycle = _module_features("ops.features") or {}
    rootfs = _module_features("plan") or {}
    linux = {
        "namespaces": [t for t in kernel_namespaces() if t in lifecycle.get("namespaces", ())],
        "capabilities": CAPS[: cap_last_cap() + 1],
        "cgroup": _module_features("cgroups")
        or {"v1": False, "v2": False, "systemd": False, "systemdUser": False, "rdma": False},
        "seccomp": _module_features("seccomp") or {"enabled": False},
        "apparmor": {"enabled": os.path.isdir("/sys/kernel/security/apparmor") and bool(lifecycle.get("apparmor"))},
        "selinux": {"enabled": os.path.isdir("/sys/fs/selinux") and bool(lifecycle.get("selinux"))},
        "intelRdt": _intel_rdt(),
        "mountExtensions": {"idmap": {"enabled": bool(rootfs.get("idmap"))}},
        "netDevices": {"enabled": bool(lifecycle.get("netDevices")) and _have_tools("ip", "nsenter")},
        "memoryPolicy": rootfs.get("memoryPolicy") or {"modes": [], "flags": []},
    }
    doc = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(lifecycle.get("hooks", ())),
        "mountOptions": list(rootfs.get("mountOptions", ())),
        "linux": linux,
        "annotations": {
            "io.github.ocirun.version": __version__,
            "io.github.ocirun.python": "%d.%d.%d" % sys.version_info[:3],
        },
        "potentiallyUnsafeConfigAnnotations": [],
    }
    doc["annotations"].update(_rootless())
    return doc


def _rootless():
    """What rootless supports here (rootless.py), as annotations: the spec's
    document has no rootless part."""
    try:
        from .. import rootless
    except ImportError:
        return {}
    return rootless.features()


def main(ctx, opts, args):
    sys.stdout.write(fastjson.dumps(document(), indent="    ") + "\n")
    return 0
