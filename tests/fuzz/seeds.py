"""Seed configs for the fuzzers: config.json as engines write it.

Written by hand after the shapes dockerd, containerd's CRI plugin, CRI-O and
podman hand to their runtime (the fields each one sets, not their exact
values). `ocirun spec`, `runc spec` and `crun spec` output is made at test
time (generated_specs) and never kept in the tree.
"""

import copy
import json
import os
import shutil
import subprocess
import tempfile

_NS = lambda *names: [{"type": n} for n in names]  # noqa: E731

_MASKED = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
]
_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
_CAPS = [
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


def _seccomp(arches, extra_action=None):
    """A small profile in the shape engines write: default errno, an allow list, arg filters."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": arches,
        "syscalls": [
            {
                "names": ["read", "write", "openat", "close", "execve", "exit_group", "futex", "mmap", "brk"],
                "action": "SCMP_ACT_ALLOW",
            },
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
            },
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
            },
            {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["reboot"], "action": extra_action or "SCMP_ACT_KILL_PROCESS"},
        ],
    }


def _base_mounts(propagation_opt=None):
    m = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
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
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["ro", "nosuid", "noexec", "nodev"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        },
    ]
    if propagation_opt:
        m.append(
            {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", propagation_opt, "rw"]}
        )
    return m


def docker():
    """dockerd (moby) via containerd: -v with :rslave, --ulimit, --device, -m, --cpus, a hook."""
    return {
        "ociVersion": "1.1.0",
        "process": {
            "user": {"uid": 0, "gid": 0, "additionalGids": [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27]},
            "args": ["sh", "-c", "echo hi"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=4f2a", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576},
                {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 2048},
            ],
            "apparmorProfile": "",
            "oomScoreAdj": 0,
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs"},
        "hostname": "4f2a",
        "mounts": _base_mounts("rslave")
        + [
            {
                "destination": "/etc/resolv.conf",
                "type": "bind",
                "source": "/etc/resolv.conf",
                "options": ["rbind", "rprivate"],
            },
        ],
        "hooks": {
            "prestart": [{"path": "/usr/bin/true", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "4f2a"]}]
        },
        "linux": {
            "resources": {
                "devices": [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
                ],
                "memory": {"limit": 536870912, "swap": 1073741824, "disableOOMKiller": False},
                "cpu": {"shares": 512, "quota": 150000, "period": 100000, "cpus": "0-1", "mems": "0"},
                "pids": {"limit": 100},
                "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            },
            "cgroupsPath": "/docker/4f2a",
            "namespaces": _NS("mount", "network", "uts", "pid", "ipc", "cgroup"),
            "devices": [
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}
            ],
            "seccomp": _seccomp(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
            # engines write "rslave" here, which the runtime-spec schema (and so
            # ocirun's validation) refuses today: "slave" keeps the seed valid
            "rootfsPropagation": "slave",
            "maskedPaths": _MASKED,
            "readonlyPaths": _READONLY,
            "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"},
        },
    }


def containerd_cri():
    """containerd's CRI plugin (a Kubernetes pod's container): HostToContainer -> rslave,
    a pod sandbox's namespaces joined by path, hugepages, unified, oomScoreAdj."""
    return {
        "ociVersion": "1.1.0",
        "process": {
            "user": {"uid": 65534, "gid": 65534, "additionalGids": [65534]},
            "args": ["/pause"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KUBERNETES_SERVICE_HOST=10.96.0.1"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
            "oomScoreAdj": 1000,
        },
        "root": {"path": "rootfs", "readonly": True},
        "mounts": _base_mounts("rslave")
        + [
            {
                "destination": "/etc/hosts",
                "type": "bind",
                "source": "/etc/hosts",
                "options": ["rbind", "rprivate", "rw"],
            },
            {
                "destination": "/var/run/secrets/kubernetes.io/serviceaccount",
                "type": "bind",
                "source": "/tmp",
                "options": ["rbind", "rprivate", "ro"],
            },
        ],
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.sandbox-id": "a1b2c3",
            "io.kubernetes.cri.container-name": "app",
        },
        "linux": {
            "resources": {
                "devices": [{"allow": False, "access": "rwm"}],
                "memory": {"limit": 134217728, "swap": 134217728},
                "cpu": {"shares": 102, "quota": 50000, "period": 100000},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 0}, {"pageSize": "1GB", "limit": 0}],
                "unified": {"memory.oom.group": "1", "memory.high": "120000000"},
            },
            "cgroupsPath": "/kubepods/burstable/pod1234/app",
            "namespaces": [
                {"type": "pid"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
                {"type": "network", "path": "/proc/self/ns/net"},
            ],
            "seccomp": _seccomp(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "SCMP_ACT_LOG"),
            # engines write "rslave" here, which the runtime-spec schema (and so
            # ocirun's validation) refuses today: "slave" keeps the seed valid
            "rootfsPropagation": "slave",
            "maskedPaths": _MASKED + ["/sys/devices/virtual/powercap"],
            "readonlyPaths": _READONLY,
        },
    }


def crio():
    """CRI-O: rprivate root, a tmpfs /run, createRuntime/poststop hooks, user namespace and an
    idmapped mount (hostUsers: false; ocirun refuses per-mount mappings), pids limit, sysctls."""
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "user": {"uid": 1000, "gid": 1000, "umask": 18},
            "args": ["/bin/sh"],
            "env": ["PATH=/bin", "container=crio"],
            "cwd": "/home",
            "terminal": False,
            "capabilities": {k: ["CAP_CHOWN", "CAP_KILL"] for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "selinuxLabel": "",
        },
        "root": {"path": "rootfs"},
        "hostname": "pod-a",
        "mounts": _base_mounts()
        + [
            {
                "destination": "/run",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
            },
            {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "rshared", "idmap"]},
        ],
        "hooks": {
            "createRuntime": [{"path": "/usr/libexec/crio/hook", "args": ["hook", "create"], "timeout": 10}],
            "poststop": [{"path": "/usr/libexec/crio/hook", "env": ["A=b"]}],
        },
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "resources": {
                "pids": {"limit": 1024},
                "cpu": {"shares": 2, "cpus": "0"},
                "memory": {"limit": -1, "reservation": 1048576},
            },
            "cgroupsPath": "crio-a1b2",
            "namespaces": _NS("user", "mount", "network", "uts", "pid", "ipc"),
            "rootfsPropagation": "private",
            "maskedPaths": _MASKED,
            "readonlyPaths": _READONLY,
            "sysctl": {"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"},
        },
    }


def podman():
    """podman (conmon): a terminal with consoleSize, tmpfs with tmpcopyup, sdnotify,
    devices, personality, ioPriority, scheduler, a time namespace with offsets."""
    return {
        "ociVersion": "1.2.0",
        "process": {
            "terminal": True,
            "consoleSize": {"height": 24, "width": 80},
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sh"],
            "env": ["PATH=/bin", "TERM=xterm", "NOTIFY_SOCKET=/run/notify/notify.sock", "container=podman"],
            "cwd": "/",
            "capabilities": {
                k: list(_CAPS[:6]) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")
            },
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 524288, "soft": 524288},
                {"type": "RLIMIT_NPROC", "hard": 4194304, "soft": 4194304},
            ],
            "oomScoreAdj": 0,
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            "scheduler": {"policy": "SCHED_OTHER", "nice": 5},
            "execCPUAffinity": {"initial": "0", "final": "0-1"},
        },
        "root": {"path": "rootfs"},
        "hostname": "pod",
        "domainname": "example",
        "mounts": _base_mounts()
        + [
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
            },
            {
                "destination": "/run/.containerenv",
                "type": "bind",
                "source": "/etc/hostname",
                "options": ["bind", "rprivate", "rro", "rnosuid"],
            },
        ],
        "annotations": {"io.podman.annotations.autoremove": "FALSE", "org.opencontainers.image.stopSignal": "15"},
        "linux": {
            "resources": {
                "devices": [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"},
                ],
                "pids": {"limit": 2048},
                "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000}},
                "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            },
            "cgroupsPath": "machine.slice-libpod-abc",
            "namespaces": _NS("pid", "network", "ipc", "uts", "mount", "cgroup", "time"),
            "timeOffsets": {"monotonic": {"secs": 3600, "nanosecs": 0}, "boottime": {"secs": -60, "nanosecs": 5}},
            "devices": [{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0, "fileMode": 432}],
            "personality": {"domain": "LINUX"},
            "seccomp": _seccomp(["SCMP_ARCH_X86_64"]),
            "maskedPaths": _MASKED,
            "readonlyPaths": _READONLY,
        },
    }


ENGINE_SEEDS = {"docker": docker, "containerd-cri": containerd_cri, "cri-o": crio, "podman": podman}


def generated_specs(ocirun):
    """{name: config} of `spec` output of ocirun (the installed binary), runc and crun,
    each made now in a temporary directory; a missing tool is left out."""
    out = {}
    for name, argv in (("ocirun", [ocirun, "spec"]), ("runc", ["runc", "spec"]), ("crun", ["crun", "spec"])):
        exe = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if not exe or not os.access(exe, os.X_OK):
            continue
        d = tempfile.mkdtemp(prefix="ocirun-fuzz-spec-")
        try:
            subprocess.run([exe] + argv[1:], cwd=d, check=True, capture_output=True, timeout=60)
            with open(os.path.join(d, "config.json")) as f:
                out[name] = json.load(f)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return out


def all_seeds(ocirun):
    seeds = {k: f() for k, f in ENGINE_SEEDS.items()}
    seeds.update({k + " spec": v for k, v in generated_specs(ocirun).items()})
    return {k: copy.deepcopy(v) for k, v in seeds.items()}
