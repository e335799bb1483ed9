"""Bundles for the checks: a shared read-only rootfs and a base config.json.

The rootfs is built once per session: a static busybox, the checker compiled
from checker.c, /etc/passwd and /etc/group, and the directories the mounts
need.  Every bundle points at it by absolute `root.path`; what a container
writes goes to its own `/out` (a bind mount of BUNDLE/out) or a tmpfs.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKER_SRC = HERE / "checker.c"

BASE_OCI_VERSION = "1.0.2"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

MASKED = [
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
]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def build_checker(dest: Path) -> Path:
    """Compile checker.c into a static binary at `dest`."""
    cc = os.environ.get("CC", "gcc")
    cmd = [cc, "-static", "-O2", "-Wall", "-o", str(dest), str(CHECKER_SRC)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"compiling {CHECKER_SRC.name} failed: {r.stderr.strip()[-2000:]}")
    return dest


def build_rootfs(dest: Path, checker: Path | None) -> Path:
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "out",
        "mnt",
        "var/tmp",
        "home/user",
    ):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    os.chown(dest / "home/user", 1000, 1000)
    busybox = shutil.which("busybox") or "/bin/busybox"
    if os.path.exists(busybox):
        shutil.copy2(busybox, dest / "bin/busybox")
        for app in ("sh", "true", "false", "sleep", "cat", "echo", "ls", "id", "touch", "env"):
            (dest / "bin" / app).symlink_to("busybox")
    if checker is not None:
        shutil.copy2(checker, dest / "checker")
    (dest / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (dest / "etc/group").write_text("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")
    (dest / "etc/hostname").write_text("rootfs\n")
    return dest


def base_config(rootfs: Path, args, cgroups_path: str) -> dict:
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": BASE_OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": [PATH_ENV, "HOME=/root", "TERM=dumb"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
            {"destination": "/out", "type": "bind", "source": "OUT", "options": ["rbind", "rw"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
        },
    }


class Bundle:
    """BUNDLE/config.json plus BUNDLE/out, bind-mounted at /out in the container."""

    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.out = self.path / "out"
        self.out.mkdir(parents=True, exist_ok=True)
        os.chmod(self.out, 0o777)  # writable by any container user, mapped or not
        self.config = copy.deepcopy(config)
        for m in self.config.get("mounts", []):
            if m.get("source") == "OUT":
                m["source"] = str(self.out)

    def __fspath__(self):
        return str(self.path)

    def write(self):
        tmp = self.path / "config.json.tmp"
        tmp.write_text(json.dumps(self.config, indent=1))
        os.replace(tmp, self.path / "config.json")
        return self

    def out_file(self, name: str) -> Path:
        return self.out / name

    def read_json(self, name: str):
        p = self.out / name
        if not p.exists():
            raise AssertionError(f"the container did not write /out/{name}")
        return json.loads(p.read_text())
