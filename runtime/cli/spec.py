"""`ocirun spec`: write a default config.json, as `runc spec` does."""

import os

from .. import SPEC_VERSION, errors, fastjson
from . import Command, Flag

COMMAND = Command(
    "spec",
    "create a new specification file",
    usage="",
    nargs=(0, 0),
    flags=[
        Flag("bundle,b", "str", "", "path to the root of the bundle directory", "DIR"),
        Flag("rootless", "bool", help="generate a configuration for a rootless container"),
    ],
    description='The spec command creates the new specification file named "config.json" for\n'
    "the bundle. Edit it to run what you want, then `ocirun run ID` in the bundle.",
)

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]


def default_config(rootless=False):
    """The default container: a shell in a busybox-like rootfs, confined like runc's."""
    devpts_opts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if not rootless:
        devpts_opts.append("gid=5")
    sys_mount = (
        {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind"] + _NOSUID_NOEXEC_NODEV + ["ro"]}
        if rootless
        else {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": _NOSUID_NOEXEC_NODEV + ["ro"]}
    )
    linux = {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
            "/sys/devices/virtual/powercap",
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    }
    if rootless:
        linux["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup", "user")]
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    else:
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    return {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "ocirun",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts_opts},
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": _NOSUID_NOEXEC_NODEV + ["mode=1777", "size=65536k"],
            },
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": list(_NOSUID_NOEXEC_NODEV)},
            sys_mount,
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": _NOSUID_NOEXEC_NODEV + ["relatime", "ro"],
            },
        ],
        "linux": linux,
    }


def main(ctx, opts, args):
    path = os.path.join(opts.bundle or ".", "config.json")
    if os.path.lexists(path):
        raise errors.OciError("File %s exists. Remove it first" % path)
    data = (fastjson.dumps(default_config(opts.rootless), indent="\t") + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise errors.os_error("create", path, e) from None
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return 0
