"""Test corpus for the OCI runtime-spec 1.3.0 JSON Schemas in ``oci-schemas/``.

Exposes three lists of ``(name, document, expect_valid)`` tuples:

* ``CONFIG_CASES``   -- config.json documents (``config-schema.json``)
* ``STATE_CASES``    -- container state documents (``state-schema.json``)
* ``FEATURES_CASES`` -- Features structures (``features-schema.json``)

Nearly every case is a single mutation of a known-valid base document, named
after the JSON path it touches, e.g. ``linux.namespaces[0].type="foo"`` or
``process.cwd (missing)``.  ``expect_valid`` states what the specification
text says about the mutated document, so the corpus can be run against any
draft-04 validator that loads the schemas.

The module is pure data: importing it runs no external program.  The
``RUNC_SPEC_CONFIG``, ``CRUN_SPEC_CONFIG`` and ``RUNC_FEATURES`` literals are
the verbatim output of ``runc spec`` (runc 1.1.5), ``crun spec`` (crun 1.8.1)
and ``runc features`` captured on the development machine.
"""

import copy
import json
import re

__all__ = [
    "CONFIG_CASES",
    "STATE_CASES",
    "FEATURES_CASES",
    "BASE_CONFIG",
    "FULL_CONFIG",
    "RUNC_SPEC_CONFIG",
    "CRUN_SPEC_CONFIG",
    "RUNC_FEATURES",
    "DELETE",
    "mutate",
]


class _Delete:
    def __repr__(self):
        return "DELETE"


#: Sentinel value for :func:`mutate`: remove the key / list item at the path.
DELETE = _Delete()

_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"]*)"\]')


def _parse(path):
    """Split ``a.b[0]["x.y"]`` into ``["a", "b", 0, "x.y"]``."""
    keys, pos = [], 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise ValueError(f"bad path {path!r} at {pos}")
        name, index, quoted = m.groups()
        keys.append(int(index) if index is not None else (name if name is not None else quoted))
        pos = m.end()
    return keys


def mutate(doc, path, value):
    """Return a deep copy of ``doc`` with ``value`` stored at ``path``.

    Intermediate containers must exist (so a typo in a path fails loudly);
    the last key may be new, or one past the end of a list (append).
    ``value`` may be :data:`DELETE`.
    """
    out = copy.deepcopy(doc)
    keys = _parse(path)
    node = out
    for k in keys[:-1]:
        node = node[k]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list) and last == len(node):
        node.append(copy.deepcopy(value))
    else:
        if isinstance(node, list):
            node[last]  # IndexError on a wrong index
        elif not isinstance(node, dict):
            raise TypeError(f"{path}: parent is {type(node).__name__}")
        node[last] = copy.deepcopy(value)
    return out


def _label(path, value):
    if value is DELETE:
        return f"{path} (missing)"
    return f"{path}={json.dumps(value, sort_keys=True)}"


class _Cases(list):
    """A list of (name, doc, expect_valid) with unique names and helpers."""

    def add(self, name, doc, ok):
        base, n = name, 2
        names = {c[0] for c in self}
        while name in names:
            name = f"{base} #{n}"
            n += 1
        self.append((name, doc, bool(ok)))

    def set(self, base, path, value, ok, prefix=""):
        self.add(prefix + _label(path, value), mutate(base, path, value), ok)

    def many(self, base, path, good=(), bad=(), prefix=""):
        for v in good:
            self.set(base, path, v, True, prefix)
        for v in bad:
            self.set(base, path, v, False, prefix)

    # typed field helpers -------------------------------------------------

    def integer(self, base, path, lo, hi, prefix=""):
        """Bounds are inclusive; also checks non-integer JSON values."""
        self.many(base, path, good=(lo, hi), bad=(lo - 1, hi + 1, 1.5, "1"), prefix=prefix)

    def enum(self, base, path, values, bad=("bogus",), prefix=""):
        wrong = list(bad)
        if isinstance(values[0], str):
            wrong.append(values[0].lower() if values[0] != values[0].lower() else values[0].upper())
        wrong.append(1)
        self.many(base, path, good=values, bad=wrong, prefix=prefix)

    def string(self, base, path, good=("x",), prefix=""):
        self.many(base, path, good=good, bad=(1, None, ["x"]), prefix=prefix)

    def boolean(self, base, path, prefix=""):
        self.many(base, path, good=(True, False), bad=("true", 0, None), prefix=prefix)

    def strings(self, base, path, prefix=""):
        self.many(base, path, good=([], ["a", "b"]), bad=("a", [1], {}), prefix=prefix)

    def obj(self, base, path, prefix=""):
        self.many(base, path, bad=("x", [], 1), prefix=prefix)

    def required(self, base, *paths, prefix=""):
        for p in paths:
            self.set(base, p, DELETE, False, prefix)

    def optional(self, base, *paths, prefix=""):
        for p in paths:
            self.set(base, p, DELETE, True, prefix)


# integer kinds (inclusive ranges), after the spec's Go types
I32 = (-(2**31), 2**31 - 1)
I64 = (-(2**63), 2**63 - 1)
U16 = (0, 2**16 - 1)
U32 = (0, 2**32 - 1)
U64 = (0, 2**64 - 1)

VOLUME_GUID_PATH = "\\\\?\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}\\"

NAMESPACE_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]
SECCOMP_ACTIONS = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
]
SECCOMP_ARCHES = [
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
]
SECCOMP_FLAGS = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]
SECCOMP_OPS = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
]
MPOL_MODES = [
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
]
MPOL_FLAGS = ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
SCHED_POLICIES = [
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
]
SCHED_FLAGS = [
    "SCHED_FLAG_RESET_ON_FORK",
    "SCHED_FLAG_RECLAIM",
    "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",
    "SCHED_FLAG_KEEP_PARAMS",
    "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
]
HOOK_NAMES = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
]

# --------------------------------------------------------------------------
# base documents
# --------------------------------------------------------------------------

#: A runc-``spec``-like default config declaring runtime-spec 1.3.0.
BASE_CONFIG = {
    "ociVersion": "1.3.0",
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        },
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
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
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
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [
            {"type": "pid"},
            {"type": "network"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
            {"type": "cgroup"},
        ],
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
        ],
        "readonlyPaths": [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ],
    },
}

_IDMAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]

#: A Linux config that sets every field defined for Linux in runtime-spec 1.3.0.
FULL_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "ocirun",
    "domainname": "example.test",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/data",
            "type": "none",
            "source": "/srv/data",
            "options": ["rbind", "rw", "idmap"],
            "uidMappings": _IDMAP,
            "gidMappings": _IDMAP,
        },
    ],
    "process": {
        "terminal": True,
        "consoleSize": {"height": 25, "width": 80},
        "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
        "args": ["sh", "-c", "true"],
        "env": ["PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY="],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL"],
            "inheritable": ["CAP_AUDIT_WRITE"],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [
            {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
            {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
        ],
        "noNewPrivileges": True,
        "apparmorProfile": "ocirun-default",
        "selinuxLabel": "system_u:system_r:container_t:s0:c124,c675",
        "oomScoreAdj": 100,
        "scheduler": {
            "policy": "SCHED_OTHER",
            "nice": 5,
            "priority": 0,
            "flags": ["SCHED_FLAG_RESET_ON_FORK"],
            "runtime": 0,
            "deadline": 0,
            "period": 0,
        },
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "execCPUAffinity": {"initial": "7", "final": "0-3,7"},
    },
    "hooks": {
        "prestart": [
            {
                "path": "/usr/bin/fix-mounts",
                "args": ["fix-mounts", "arg1"],
                "env": ["key1=value1"],
                "timeout": 5,
            }
        ],
        "createRuntime": [{"path": "/usr/bin/setup-network"}],
        "createContainer": [{"path": "/usr/bin/mount-hook", "args": ["-mount"]}],
        "startContainer": [{"path": "/usr/bin/refresh-ldcache"}],
        "poststart": [{"path": "/usr/bin/notify-start", "timeout": 1}],
        "poststop": [{"path": "/usr/sbin/cleanup.sh", "args": ["cleanup.sh", "-f"]}],
    },
    "annotations": {
        "com.example.key1": "value1",
        "com.example.empty": "",
        "org.opencontainers.image.os": "linux",
    },
    "linux": {
        "namespaces": [{"type": t} for t in NAMESPACE_TYPES[:-1]] + [{"type": "time", "path": "/proc/1234/ns/time"}],
        "uidMappings": _IDMAP,
        "gidMappings": _IDMAP,
        "timeOffsets": {
            "monotonic": {"secs": 172800, "nanosecs": 0},
            "boottime": {"secs": -604800, "nanosecs": 500},
        },
        "devices": [
            {
                "path": "/dev/fuse",
                "type": "c",
                "major": 10,
                "minor": 229,
                "fileMode": 438,
                "uid": 0,
                "gid": 0,
            },
            {"path": "/run/fifo", "type": "p"},
        ],
        "netDevices": {"eth1": {"name": "ctr_eth1"}, "ens4": {}},
        "cgroupsPath": "/ocirun/ctr1",
        "resources": {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},
            ],
            "memory": {
                "limit": 536870912,
                "reservation": 268435456,
                "swap": 1073741824,
                "kernel": -1,
                "kernelTCP": -1,
                "swappiness": 0,
                "disableOOMKiller": False,
                "useHierarchy": True,
                "checkBeforeUpdate": True,
            },
            "cpu": {
                "shares": 1024,
                "quota": 1000000,
                "burst": 1000000,
                "period": 500000,
                "realtimeRuntime": 950000,
                "realtimePeriod": 1000000,
                "cpus": "2-3",
                "mems": "0-7",
                "idle": 0,
            },
            "blockIO": {
                "weight": 10,
                "leafWeight": 10,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
            },
            "hugepageLimits": [
                {"pageSize": "2MB", "limit": 209715200},
                {"pageSize": "64KB", "limit": 1000000},
            ],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            "pids": {"limit": 32771},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "rxe3": {"hcaObjects": 1}},
            "unified": {"io.max": "259:0 rbps=2097152 wiops=120", "memory.high": "max"},
        },
        "intelRdt": {
            "closID": "guaranteed_group",
            "l3CacheSchema": "L3:0=7f0;1=1f",
            "memBwSchema": "MB:0=20;1=70",
            "schemata": ["L2:0=f;1=f"],
            "enableMonitoring": True,
        },
        "memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "2-3", "flags": ["MPOL_F_STATIC_NODES"]},
        "sysctl": {"net.ipv4.ip_forward": "1", "net.core.somaxconn": "256"},
        "seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "listenerPath": "/run/seccomp-agent.sock",
            "listenerMetadata": "MKNOD=/dev/null",
            "syscalls": [
                {
                    "names": ["getcwd", "chmod"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 1,
                    "args": [{"index": 1, "value": 2, "valueTwo": 3, "op": "SCMP_CMP_EQ"}],
                },
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            ],
        },
        "rootfsPropagation": "slave",
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "mountLabel": "system_u:object_r:container_file_t:s0:c715,c811",
        "personality": {"domain": "LINUX", "flags": []},
    },
}

#: Minimal valid config for a POSIX target.
MINIMAL_CONFIG = {"ociVersion": "1.3.0", "root": {"path": "rootfs"}}

SOLARIS_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {
        "cwd": "/root",
        "args": ["/usr/bin/bash"],
        "user": {"uid": 1, "gid": 1, "umask": 7, "additionalGids": [2, 8]},
        "rlimits": [{"type": "RLIMIT_CORE", "hard": 1024, "soft": 1024}],
    },
    "mounts": [
        {"destination": "/opt/local", "type": "lofs", "source": "/usr/local", "options": ["ro"]},
    ],
    "solaris": {
        "milestone": "svc:/milestone/container:default",
        "limitpriv": "default",
        "maxShmMemory": "512m",
        "cappedCPU": {"ncpus": "8"},
        "cappedMemory": {"physical": "512m", "swap": "512m"},
        "anet": [
            {
                "allowedAddress": "172.17.0.2/16",
                "configureAllowedAddress": "true",
                "defrouter": "172.17.0.1/16",
                "linkProtection": "mac-nospoof, ip-nospoof",
                "linkname": "net0",
                "lowerLink": "net2",
                "macAddress": "02:42:f8:52:c7:16",
            }
        ],
    },
}

WINDOWS_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": VOLUME_GUID_PATH},
    "process": {
        "terminal": False,
        "user": {"username": "ContainerUser"},
        "env": ["VARIABLE=1"],
        "cwd": "C:\\foo",
        "args": ["someapp.exe"],
        "commandLine": "someapp.exe --flag",
    },
    "mounts": [
        {
            "destination": "C:\\folder-inside-container",
            "source": "C:\\folder-on-host",
            "options": ["ro"],
        }
    ],
    "windows": {
        "layerFolders": ["C:\\Layers\\layer1", "C:\\Layers\\layer-base", "C:\\scratch"],
        "devices": [{"id": "24E552D7-6523-47F7-A647-D3465BF1F5CA", "idType": "class"}],
        "resources": {
            "memory": {"limit": 2097152},
            "cpu": {"maximum": 5000, "affinity": [{"mask": 15, "group": 0}]},
            "storage": {"iops": 50, "bps": 1048576, "sandboxSize": 21474836480},
        },
        "network": {
            "endpointList": ["7a010682-17e0-4455-a838-02e5d9655fe6"],
            "allowUnqualifiedDNSQuery": True,
            "DNSSearchList": ["a.com", "b.com"],
            "networkSharedContainerName": "containerName",
            "networkNamespace": "168f3daf-efc6-4377-b20a-2c86764ba892",
        },
        "credentialSpec": {"CmsPlugins": ["ActiveDirectory"]},
        "servicing": False,
        "ignoreFlushesDuringBoot": True,
    },
}

HYPERV_CONFIG = {
    "ociVersion": "1.3.0",
    "process": {"cwd": "C:\\", "commandLine": "cmd /c echo hi"},
    "windows": {
        "layerFolders": ["C:\\Layers\\layer1", "C:\\scratch"],
        "hyperv": {"utilityVMPath": "C:\\path\\to\\utilityvm"},
    },
}

VM_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "vm": {
        "hypervisor": {"path": "/path/to/vmm", "parameters": ["opts1=foo", "opts2=bar"]},
        "kernel": {
            "path": "/path/to/vmlinuz",
            "parameters": ["foo=bar", "hello world"],
            "initrd": "/path/to/initrd.img",
        },
        "image": {"path": "/path/to/vm/rootfs.img", "format": "raw"},
        "hwConfig": {
            "deviceTree": "/path/to/vm/devicetree.dtb",
            "vcpus": 1,
            "memory": 4194304,
            "dtdevs": ["path/to/dev1_node", "path/to/dev2_node"],
            "iomems": [
                {"firstMFN": 12288, "nrMFNs": 1},
                {"firstGFN": 12544, "firstMFN": 33024, "nrMFNs": 2},
            ],
            "irqs": [11, 22],
        },
    },
}

ZOS_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {
        "cwd": "/",
        "args": ["sh"],
        "user": {"uid": 1, "gid": 1},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "mounts": [{"destination": "/dev", "type": "tfs", "source": "tmpfs", "options": ["-p 1755"]}],
    "zos": {
        "namespaces": [
            {"type": "pid", "path": "/proc/1234/ns/pid"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
        ]
    },
}

FREEBSD_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
    "mounts": [
        {"destination": "/dev", "type": "devfs", "source": "devfs", "options": ["ruleset=4"]},
    ],
    "freebsd": {
        "devices": [{"path": "pf", "mode": 448}],
        "jail": {
            "parent": "parentjail",
            "host": "new",
            "ip4": "inherit",
            "ip4Addr": ["10.11.12.13"],
            "ip6": "disable",
            "ip6Addr": ["fd10::11:12:13"],
            "vnet": "new",
            "interface": "lo1",
            "vnetInterfaces": ["epair0b"],
            "sysvmsg": "new",
            "sysvsem": "new",
            "sysvshm": "new",
            "enforceStatfs": 1,
            "allow": {
                "setHostname": True,
                "rawSockets": True,
                "chflags": True,
                "mount": ["tmpfs"],
                "quotas": False,
                "socketAf": False,
                "mlock": False,
                "reservedPorts": False,
                "suser": True,
            },
        },
    },
}

BASE_STATE = {
    "ociVersion": "1.3.0",
    "id": "oci-container1",
    "status": "running",
    "pid": 4422,
    "bundle": "/containers/redis",
    "annotations": {"myKey": "myValue"},
}

MINIMAL_FEATURES = {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0"}

FULL_FEATURES = {
    "ociVersionMin": "1.0.0",
    "ociVersionMax": "1.3.0",
    "hooks": list(HOOK_NAMES),
    "mountOptions": ["bind", "rbind", "ro", "rw", "idmap", "ridmap", "tmpcopyup"],
    "potentiallyUnsafeConfigAnnotations": ["com.example.foo.bar", "org.systemd.property."],
    "annotations": {"org.example.ocirun.version": "0.1.0"},
    "linux": {
        "namespaces": list(NAMESPACE_TYPES),
        "capabilities": ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"],
        "cgroup": {"v1": False, "v2": True, "systemd": True, "systemdUser": True, "rdma": False},
        "seccomp": {
            "enabled": True,
            "actions": list(SECCOMP_ACTIONS),
            "operators": list(SECCOMP_OPS),
            "archs": list(SECCOMP_ARCHES),
            "knownFlags": list(SECCOMP_FLAGS),
            "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG"],
        },
        "apparmor": {"enabled": True},
        "selinux": {"enabled": False},
        "intelRdt": {"enabled": True, "schemata": True, "monitoring": False},
        "memoryPolicy": {"modes": list(MPOL_MODES), "flags": list(MPOL_FLAGS)},
        "mountExtensions": {"idmap": {"enabled": True}},
        "netDevices": {"enabled": True},
    },
}


# --------------------------------------------------------------------------
# config cases
# --------------------------------------------------------------------------


def _config_cases():
    c = _Cases()
    F = FULL_CONFIG

    # whole documents ------------------------------------------------------
    c.add("runc spec (runc 1.1.5)", RUNC_SPEC_CONFIG, True)
    c.add("crun spec (crun 1.8.1)", CRUN_SPEC_CONFIG, True)
    c.add("base (runc-spec-like, 1.3.0)", BASE_CONFIG, True)
    c.add("full linux config", FULL_CONFIG, True)
    c.add("minimal {ociVersion, root}", MINIMAL_CONFIG, True)
    c.add("solaris config", SOLARIS_CONFIG, True)
    c.add("windows server container", WINDOWS_CONFIG, True)
    c.add("windows hyper-v container", HYPERV_CONFIG, True)
    c.add("vm config", VM_CONFIG, True)
    c.add("zos config", ZOS_CONFIG, True)
    c.add("freebsd config", FREEBSD_CONFIG, True)
    c.add("freebsd minimal {freebsd: {}}", dict(MINIMAL_CONFIG, freebsd={}), True)
    c.add("zos minimal {zos: {}}", dict(MINIMAL_CONFIG, zos={}), True)
    c.add("not an object: []", [], False)
    c.add('not an object: "config"', "config", False)
    c.add("empty object", {}, False)

    # extensibility: unknown properties are ignored, at any depth
    c.set(F, "x-ocirun-extension", {"any": ["thing"]}, True)
    c.set(F, "process.xFuture", 1, True)
    c.set(F, "linux.xFuture", "y", True)
    c.set(F, "linux.resources.xFuture", [], True)
    c.set(F, "linux.seccomp.xFuture", None, True)
    c.set(F, "linux.intelRdt.enableCMT", True, True)  # removed in 1.3.0 -> unknown

    # ociVersion -----------------------------------------------------------
    c.required(F, "ociVersion")
    c.many(
        F,
        "ociVersion",
        good=("1.3.0", "1.0.0", "0.1.0", "1.0.2-dev", "1.3.0+dev", "1.1.0-rc.2", "10.20.30"),
        bad=("1.3", "v1.3.0", "1.3.0.0", "01.3.0", "1.3.0-", "1.3.0-01", "", 1, None),
    )

    # root -----------------------------------------------------------------
    c.required(F, "root")  # REQUIRED outside Hyper-V
    c.obj(F, "root")
    c.required(F, "root.path")
    c.string(F, "root.path", good=("rootfs", "/abs/rootfs"))
    c.optional(F, "root.readonly")
    c.boolean(F, "root.readonly")

    # hostname / domainname --------------------------------------------------
    for p in ("hostname", "domainname"):
        c.optional(F, p)
        c.string(F, p, good=("", "ctr"))

    # mounts ---------------------------------------------------------------
    c.optional(F, "mounts")
    c.many(F, "mounts", good=([],), bad=({}, "x"))
    c.required(F, "mounts[0].destination")
    c.string(F, "mounts[0].destination", good=("/proc", "relative/deprecated"))
    c.optional(F, "mounts[0].source", "mounts[0].type", "mounts[1].options")
    c.string(F, "mounts[0].source")
    c.string(F, "mounts[0].type", good=("proc", "none"))
    c.strings(F, "mounts[1].options")
    c.set(F, "mounts[0]", "proc", False)
    # idmapped mounts: uidMappings and gidMappings come as a pair
    c.set(F, "mounts[1].uidMappings", DELETE, False)
    c.set(F, "mounts[1].gidMappings", DELETE, False)
    c.add(
        "mounts[1] without uidMappings and gidMappings",
        mutate(mutate(F, "mounts[1].uidMappings", DELETE), "mounts[1].gidMappings", DELETE),
        True,
    )
    c.many(F, "mounts[1].uidMappings", good=([],), bad=({}, [{}]))
    c.set(F, "mounts[1].uidMappings[1]", {"containerID": 1, "hostID": 2, "size": 3}, True)
    for k in ("containerID", "hostID", "size"):
        c.required(F, f"mounts[1].uidMappings[0].{k}")
        c.integer(F, f"mounts[1].gidMappings[0].{k}", *U32)

    # process --------------------------------------------------------------
    c.optional(F, "process")
    c.obj(F, "process")
    c.required(F, "process.cwd")
    c.many(F, "process.cwd", good=("/", "/home/user", "C:\\work"), bad=("relative", "", 1))
    c.optional(F, "process.terminal", "process.consoleSize", "process.env", "process.user")
    c.boolean(F, "process.terminal")
    c.obj(F, "process.consoleSize")
    for k in ("height", "width"):
        c.required(F, f"process.consoleSize.{k}")
        c.integer(F, f"process.consoleSize.{k}", *U32)
    c.many(
        F,
        "process.env",
        good=([], ["A=1"], ["A="], ["A=b=c"]),
        bad=(["NOEQUALS"], ["=value"], "A=1", [1]),
    )
    # args: at least one entry on POSIX platforms
    c.required(F, "process.args")
    c.many(F, "process.args", good=(["sh"], ["/bin/true", "-x"]), bad=([], "sh", [1]))
    c.set(F, "process.commandLine", "sh -c true", True)
    c.add(
        "process.commandLine without args (not windows)",
        mutate(mutate(F, "process.commandLine", "sh"), "process.args", DELETE),
        False,
    )
    # user
    c.obj(F, "process.user")
    c.required(F, "process.user.uid", "process.user.gid")
    c.optional(F, "process.user.umask", "process.user.additionalGids")
    for k in ("uid", "gid", "umask"):
        c.integer(F, f"process.user.{k}", *U32)
    c.integer(F, "process.user.additionalGids[0]", *U32)
    c.many(F, "process.user.additionalGids", good=([],), bad=("5", [-1]))
    c.set(F, "process.user.username", "ignored-on-posix", True)
    c.set(F, "process.user.uid", True, False)
    # rlimits
    c.optional(F, "process.rlimits")
    c.many(F, "process.rlimits", good=([],), bad=({},))
    c.required(F, "process.rlimits[0].type", "process.rlimits[0].soft", "process.rlimits[0].hard")
    c.many(
        F,
        "process.rlimits[0].type",
        good=("RLIMIT_AS", "RLIMIT_MSGQUEUE", "RLIMIT_RTTIME"),
        bad=("NOFILE", "rlimit_nofile", "RLIMIT_", "RLIMIT_NO FILE", 7),
    )
    c.integer(F, "process.rlimits[0].soft", *U64)
    c.integer(F, "process.rlimits[0].hard", *U64)
    c.set(F, "process.rlimits[1]", {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}, False)
    # linux process fields
    c.optional(
        F,
        "process.capabilities",
        "process.noNewPrivileges",
        "process.apparmorProfile",
        "process.selinuxLabel",
        "process.oomScoreAdj",
        "process.scheduler",
        "process.ioPriority",
        "process.execCPUAffinity",
    )
    c.obj(F, "process.capabilities")
    for s in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        c.optional(F, f"process.capabilities.{s}")
        c.many(
            F,
            f"process.capabilities.{s}",
            good=([], ["CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"]),
            bad=(["cap_chown"], ["CHOWN"], ["CAP_"], ["CAP_NET_RAW "], "CAP_KILL", [1]),
        )
    c.boolean(F, "process.noNewPrivileges")
    c.string(F, "process.apparmorProfile", good=("unconfined",))
    c.string(F, "process.selinuxLabel", good=("system_u:system_r:container_t:s0",))
    c.integer(F, "process.oomScoreAdj", *I32)
    c.many(F, "process.oomScoreAdj", good=(-1000, 0, 1000), bad=(True, 1.0))
    # scheduler
    c.obj(F, "process.scheduler")
    c.required(F, "process.scheduler.policy")
    c.enum(F, "process.scheduler.policy", SCHED_POLICIES, bad=("SCHED_NORMAL", "other"))
    c.optional(F, "process.scheduler.nice", "process.scheduler.flags")
    c.integer(F, "process.scheduler.nice", *I32)
    c.integer(F, "process.scheduler.priority", *I32)
    c.enum(F, "process.scheduler.flags[0]", SCHED_FLAGS, bad=("SCHED_FLAG_BOGUS",))
    c.many(F, "process.scheduler.flags", good=([],), bad=("SCHED_FLAG_RECLAIM",))
    for k in ("runtime", "deadline", "period"):
        c.integer(F, f"process.scheduler.{k}", *U64)
    # ioPriority
    c.obj(F, "process.ioPriority")
    c.required(F, "process.ioPriority.class", "process.ioPriority.priority")
    c.enum(
        F,
        "process.ioPriority.class",
        ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"],
        bad=("IOPRIO_CLASS_NONE", "BE"),
    )
    c.integer(F, "process.ioPriority.priority", 0, 7)
    # execCPUAffinity
    c.obj(F, "process.execCPUAffinity")
    c.optional(F, "process.execCPUAffinity.initial", "process.execCPUAffinity.final")
    for k in ("initial", "final"):
        c.many(
            F,
            f"process.execCPUAffinity.{k}",
            good=("", "0", "0-3", "0-3,7", "1,3,5-9"),
            bad=("0-", ",1", "a", "0 - 3", "1;2", 3),
        )

    # hooks ----------------------------------------------------------------
    c.optional(F, "hooks")
    c.obj(F, "hooks")
    for h in HOOK_NAMES:
        c.optional(F, f"hooks.{h}")
        c.many(F, f"hooks.{h}", good=([],), bad=({}, "x"))
        c.required(F, f"hooks.{h}[0].path")
    c.set(F, "hooks.futureHook", [{"path": "/x"}], True)
    c.many(F, "hooks.prestart[0].path", good=("/usr/bin/x",), bad=("relative/hook", "", 1))
    c.strings(F, "hooks.prestart[0].args")
    c.many(F, "hooks.prestart[0].env", good=([], ["A=1"]), bad=(["A"], "A=1"))
    c.optional(F, "hooks.prestart[0].timeout", "hooks.prestart[0].args", "hooks.prestart[0].env")
    c.integer(F, "hooks.prestart[0].timeout", 1, I32[1])
    c.set(F, "hooks.poststart[0].timeout", 0, False)

    # annotations ----------------------------------------------------------
    c.optional(F, "annotations")
    c.many(F, "annotations", good=({},), bad=([], "k=v"))
    c.set(F, 'annotations["com.example.new"]', "v", True)
    c.set(F, 'annotations[""]', "empty key", False)
    c.set(F, 'annotations["com.example.key1"]', 1, False)
    c.set(F, 'annotations["com.example.key1"]', None, False)
    c.set(F, 'annotations["com.example.key1"]', {"nested": "x"}, False)

    # linux ----------------------------------------------------------------
    L = "linux"
    c.optional(F, L)
    c.obj(F, L)
    c.set(F, L, {}, True)
    # namespaces
    c.optional(F, "linux.namespaces")
    c.many(F, "linux.namespaces", good=([],), bad=({"type": "pid"},))
    c.required(F, "linux.namespaces[0].type")
    one_ns = mutate(F, "linux.namespaces", [{"type": "pid"}])
    c.enum(one_ns, "linux.namespaces[0].type", NAMESPACE_TYPES, bad=("net", "foo", ""), prefix="(single namespace) ")
    c.many(F, "linux.namespaces[0].path", good=("/proc/1/ns/pid",), bad=("proc/1/ns/pid", "", 1))
    c.set(F, "linux.namespaces[8]", {"type": "pid"}, False)  # exact duplicate of [0]
    c.set(F, "linux.namespaces[0]", "pid", False)
    # uid/gid mappings
    for m in ("uidMappings", "gidMappings"):
        c.optional(F, f"linux.{m}")
        c.many(F, f"linux.{m}", good=([],), bad=({},))
        for k in ("containerID", "hostID", "size"):
            c.required(F, f"linux.{m}[0].{k}")
    for k in ("containerID", "hostID", "size"):
        c.integer(F, f"linux.uidMappings[0].{k}", *U32)
    # timeOffsets
    c.optional(F, "linux.timeOffsets")
    c.obj(F, "linux.timeOffsets")
    c.set(F, "linux.timeOffsets.monotonic", {}, True)
    c.set(F, "linux.timeOffsets.realtime", {"secs": 1}, True)
    c.set(F, "linux.timeOffsets.boottime", 5, False)
    c.integer(F, "linux.timeOffsets.monotonic.secs", *I64)
    c.integer(F, "linux.timeOffsets.monotonic.nanosecs", *U32)
    # devices
    c.optional(F, "linux.devices")
    c.required(F, "linux.devices[0].type", "linux.devices[0].path")
    c.enum(F, "linux.devices[0].type", ["c", "b", "u", "p"], bad=("x", "char", ""))
    c.string(F, "linux.devices[0].path", good=("/dev/fuse", "/opt/dev/null"))
    c.required(F, "linux.devices[0].major", "linux.devices[0].minor")  # type c needs them
    c.set(F, "linux.devices[1].major", 1, True)
    c.add("linux.devices[1] (type p) without major/minor", F, True)
    c.set(F, "linux.devices[1].type", "b", False)  # b without major/minor
    c.optional(F, "linux.devices[0].fileMode", "linux.devices[0].uid", "linux.devices[0].gid")
    for k in ("major", "minor"):
        c.integer(F, f"linux.devices[0].{k}", *I64)
    c.integer(F, "linux.devices[0].fileMode", *U32)
    c.integer(F, "linux.devices[0].uid", *U32)
    c.integer(F, "linux.devices[0].gid", *U32)
    # netDevices
    c.optional(F, "linux.netDevices")
    c.obj(F, "linux.netDevices")
    c.set(F, "linux.netDevices.eth2", {"name": "net%d"}, True)
    c.set(F, "linux.netDevices.eth1.name", 23, False)
    c.set(F, "linux.netDevices.eth1", "ctr_eth1", False)
    c.set(F, "linux.netDevices.eth1", {}, True)
    # cgroupsPath
    c.optional(F, "linux.cgroupsPath")
    c.string(F, "linux.cgroupsPath", good=("/abs/path", "relative/path", "system.slice:ocirun:ctr"))
    # resources
    R = "linux.resources"
    c.optional(F, R)
    c.obj(F, R)
    c.set(F, R, {}, True)
    c.required(F, f"{R}.devices[0].allow")
    c.boolean(F, f"{R}.devices[0].allow")
    c.enum(F, f"{R}.devices[1].type", ["a", "c", "b"], bad=("u", "p", "all"))
    for k in ("major", "minor"):
        c.optional(F, f"{R}.devices[1].{k}")
        c.integer(F, f"{R}.devices[1].{k}", *I64)
    c.many(F, f"{R}.devices[1].access", good=("", "r", "rw", "rwm", "mwr"), bad=("x", "rwx", "RW", 7))
    c.set(F, f"{R}.devices", "a *:* rwm", False)
    # memory
    c.obj(F, f"{R}.memory")
    c.set(F, f"{R}.memory", {}, True)
    for k in ("limit", "reservation", "swap", "kernel", "kernelTCP"):
        c.integer(F, f"{R}.memory.{k}", *I64)
    c.set(F, f"{R}.memory.limit", -1, True)
    c.integer(F, f"{R}.memory.swappiness", 0, 100)
    for k in ("disableOOMKiller", "useHierarchy", "checkBeforeUpdate"):
        c.boolean(F, f"{R}.memory.{k}")
    # cpu
    c.obj(F, f"{R}.cpu")
    for k in ("shares", "burst", "period", "realtimePeriod"):
        c.integer(F, f"{R}.cpu.{k}", *U64)
    for k in ("quota", "realtimeRuntime", "idle"):
        c.integer(F, f"{R}.cpu.{k}", *I64)
    c.set(F, f"{R}.cpu.quota", -1, True)
    c.set(F, f"{R}.cpu.idle", 1, True)
    for k in ("cpus", "mems"):
        c.many(F, f"{R}.cpu.{k}", good=("", "0", "0-7", "0-3,7", "2,4,6"), bad=("0-3,", "all", "0..3", 0))
    # blockIO
    B = f"{R}.blockIO"
    c.obj(F, B)
    c.set(F, B, {}, True)
    c.integer(F, f"{B}.weight", *U16)
    c.integer(F, f"{B}.leafWeight", *U16)
    c.required(F, f"{B}.weightDevice[0].major", f"{B}.weightDevice[0].minor")
    c.integer(F, f"{B}.weightDevice[0].major", *I64)
    c.integer(F, f"{B}.weightDevice[0].weight", *U16)
    c.integer(F, f"{B}.weightDevice[0].leafWeight", *U16)
    c.optional(F, f"{B}.weightDevice[0].weight", f"{B}.weightDevice[0].leafWeight")
    c.set(F, f"{B}.weightDevice[0]", {"major": 8, "minor": 0}, False)  # neither weight
    for t in ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"):
        c.required(F, f"{B}.{t}[0].major", f"{B}.{t}[0].minor", f"{B}.{t}[0].rate")
        c.many(F, f"{B}.{t}", good=([],), bad=({},))
    c.integer(F, f"{B}.throttleReadBpsDevice[0].rate", *U64)
    c.integer(F, f"{B}.throttleWriteIOPSDevice[0].minor", *I64)
    # hugepageLimits
    c.required(F, f"{R}.hugepageLimits[0].pageSize", f"{R}.hugepageLimits[0].limit")
    c.many(
        F,
        f"{R}.hugepageLimits[0].pageSize",
        good=("2MB", "1GB", "64KB", "16GB"),
        bad=("64kB", "2M", "2 MB", "0MB", "MB", "", 2),
    )
    c.integer(F, f"{R}.hugepageLimits[0].limit", *U64)
    # network
    c.obj(F, f"{R}.network")
    c.integer(F, f"{R}.network.classID", *U32)
    c.required(F, f"{R}.network.priorities[0].name", f"{R}.network.priorities[0].priority")
    c.string(F, f"{R}.network.priorities[0].name", good=("eth1",))
    c.integer(F, f"{R}.network.priorities[0].priority", *U32)
    # pids
    c.obj(F, f"{R}.pids")
    c.set(F, f"{R}.pids", {}, True)  # limit is OPTIONAL in 1.3.0
    c.integer(F, f"{R}.pids.limit", *I64)
    c.many(F, f"{R}.pids.limit", good=(-1, 0), bad=("max",))
    # rdma
    c.obj(F, f"{R}.rdma")
    c.set(F, f"{R}.rdma.mlx5_1", {}, False)  # needs hcaHandles or hcaObjects
    c.set(F, f"{R}.rdma.mlx4_0", {"hcaHandles": 1}, True)
    c.integer(F, f"{R}.rdma.mlx5_1.hcaHandles", *U32)
    c.integer(F, f"{R}.rdma.mlx5_1.hcaObjects", *U32)
    c.set(F, f"{R}.rdma.mlx5_1.hcaHandles", "not a uint32", False)
    # unified
    c.obj(F, f"{R}.unified")
    c.set(F, f"{R}.unified", {}, True)
    c.set(F, f'{R}.unified["pids.max"]', "max", True)
    c.set(F, f'{R}.unified["pids.max"]', 100, False)
    # intelRdt
    I = "linux.intelRdt"
    c.optional(F, I)
    c.obj(F, I)
    c.set(F, I, {}, True)
    c.set(F, f"{I}.closID", "/", True)
    c.string(F, f"{I}.closID")
    c.string(F, f"{I}.l3CacheSchema", good=("L3:0=ff", "not-L3-but-only-a-SHOULD"))
    c.many(
        F,
        f"{I}.memBwSchema",
        good=("MB:0=20;1=70", "MB:"),
        bad=("L3:0=ff", "mb:0=20", "MB:0=20\nMB:1=70", "MB:0=20\n", 20),
    )
    c.many(
        F,
        f"{I}.schemata",
        good=([], ["L3:0=7f0;1=1f", "L2:0=f", "MB:0=20"]),
        bad=(["L3:0=f\nMB:0=1"], ["L3:0=f\n"], "L3:0=f", [1]),
    )
    c.boolean(F, f"{I}.enableMonitoring")
    # memoryPolicy
    M = "linux.memoryPolicy"
    c.optional(F, M)
    c.obj(F, M)
    c.required(F, f"{M}.mode")
    c.many(
        F,
        f"{M}.mode",
        good=("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY"),
        bad=("MPOL_DEFAULT", "MPOL_LOCAL", "MPOL_BOGUS", "mpol_bind", 1),
    )  # with nodes "2-3"
    nodeless = mutate(F, f"{M}.nodes", DELETE)
    c.many(
        nodeless,
        f"{M}.mode",
        good=("MPOL_DEFAULT", "MPOL_LOCAL", "MPOL_PREFERRED", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED_MANY"),
        bad=("MPOL_BIND", "MPOL_INTERLEAVE"),
        prefix="(no nodes) ",
    )
    c.add(f'{M}={{"mode":"MPOL_DEFAULT","nodes":""}}', mutate(F, M, {"mode": "MPOL_DEFAULT", "nodes": ""}), True)
    c.add(f'{M}={{"mode":"MPOL_BIND","nodes":""}}', mutate(F, M, {"mode": "MPOL_BIND", "nodes": ""}), False)
    c.many(F, f"{M}.nodes", good=("0", "0-3,7"), bad=("0-", "node0", 1))
    c.enum(F, f"{M}.flags[0]", MPOL_FLAGS, bad=("MPOL_F_BOGUS",))
    c.many(F, f"{M}.flags", good=([],), bad=("MPOL_F_STATIC_NODES",))
    # sysctl
    c.optional(F, "linux.sysctl")
    c.obj(F, "linux.sysctl")
    c.set(F, 'linux.sysctl["kernel.shmmax"]', "4294967295", True)
    c.set(F, 'linux.sysctl["net.ipv4.ip_forward"]', 1, False)
    # seccomp
    S = "linux.seccomp"
    c.optional(F, S)
    c.obj(F, S)
    c.set(F, S, {"defaultAction": "SCMP_ACT_ALLOW"}, True)
    c.set(F, S, {}, False)
    c.required(F, f"{S}.defaultAction")
    c.enum(F, f"{S}.defaultAction", SECCOMP_ACTIONS, bad=("SCMP_ACT_DENY", "ALLOW"))
    c.set(mutate(F, f"{S}.defaultAction", "SCMP_ACT_ERRNO"), f"{S}.defaultErrnoRet", 1, True)
    c.set(mutate(F, f"{S}.defaultAction", "SCMP_ACT_TRACE"), f"{S}.defaultErrnoRet", 0, True)
    c.set(F, f"{S}.defaultErrnoRet", 1, False)  # SCMP_ACT_ALLOW takes no errno
    c.integer(
        mutate(F, f"{S}.defaultAction", "SCMP_ACT_ERRNO"), f"{S}.defaultErrnoRet", *U32, prefix="(SCMP_ACT_ERRNO) "
    )
    c.enum(F, f"{S}.architectures[0]", SECCOMP_ARCHES, bad=("SCMP_ARCH_AMD64", "x86_64"))
    c.many(F, f"{S}.architectures", good=([],), bad=("SCMP_ARCH_X86",))
    c.enum(F, f"{S}.flags[0]", SECCOMP_FLAGS, bad=("SECCOMP_FILTER_FLAG_NEW_LISTENER",))
    c.many(F, f"{S}.flags", good=([],), bad=("SECCOMP_FILTER_FLAG_LOG",))
    c.string(F, f"{S}.listenerPath", good=("/run/agent.sock",))
    c.string(F, f"{S}.listenerMetadata", good=("",))
    c.set(F, f"{S}.listenerPath", DELETE, False)  # metadata without a path
    c.add(
        f"{S} without listenerPath and listenerMetadata",
        mutate(mutate(F, f"{S}.listenerPath", DELETE), f"{S}.listenerMetadata", DELETE),
        True,
    )
    c.optional(F, f"{S}.syscalls")
    c.many(F, f"{S}.syscalls", good=([],), bad=({},))
    c.required(F, f"{S}.syscalls[0].names", f"{S}.syscalls[0].action")
    c.many(F, f"{S}.syscalls[0].names", good=(["mount"],), bad=([], "getcwd", [1]))
    c.enum(F, f"{S}.syscalls[1].action", SECCOMP_ACTIONS, bad=("SCMP_ACT_KILL_ALL",))
    c.many(
        F,
        f"{S}.syscalls[0].action",
        good=("SCMP_ACT_TRACE",),
        bad=("SCMP_ACT_ALLOW", "SCMP_ACT_KILL", "SCMP_ACT_NOTIFY"),
    )  # errnoRet is set
    c.optional(F, f"{S}.syscalls[0].errnoRet", f"{S}.syscalls[0].args")
    c.integer(F, f"{S}.syscalls[0].errnoRet", *U32)
    c.set(F, f"{S}.syscalls[1].errnoRet", 1, False)  # errno with SCMP_ACT_ALLOW
    A = f"{S}.syscalls[0].args[0]"
    c.required(F, f"{A}.index", f"{A}.value", f"{A}.op")
    c.optional(F, f"{A}.valueTwo")
    c.integer(F, f"{A}.index", *U32)
    c.integer(F, f"{A}.value", *U64)
    c.integer(F, f"{A}.valueTwo", *U64)
    c.enum(F, f"{A}.op", SECCOMP_OPS, bad=("SCMP_CMP_MASKED_NE", "=="))
    # rootfsPropagation
    c.optional(F, "linux.rootfsPropagation")
    c.enum(
        F,
        "linux.rootfsPropagation",
        ["shared", "slave", "private", "unbindable"],
        bad=("rshared", "rslave", "rprivate", ""),
    )
    # maskedPaths / readonlyPaths
    for p in ("maskedPaths", "readonlyPaths"):
        c.optional(F, f"linux.{p}")
        c.many(
            F, f"linux.{p}", good=([], ["/proc/kcore", "/sys/firmware"]), bad=(["proc/kcore"], [""], "/proc/kcore", [1])
        )
    # mountLabel
    c.optional(F, "linux.mountLabel")
    c.string(F, "linux.mountLabel")
    # personality
    P = "linux.personality"
    c.optional(F, P)
    c.obj(F, P)
    c.required(F, f"{P}.domain")
    c.enum(F, f"{P}.domain", ["LINUX", "LINUX32"], bad=("LINUX64", "PER_LINUX"))
    c.optional(F, f"{P}.flags")
    c.strings(F, f"{P}.flags")

    # platform-dependent rules ----------------------------------------------
    W = WINDOWS_CONFIG
    c.required(W, "root", prefix="windows: ")
    c.many(
        W,
        "root.path",
        good=("\\\\?\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}",),
        bad=("C:\\rootfs", "rootfs", "\\\\?\\Volume{not-a-guid}\\"),
        prefix="windows: ",
    )
    c.many(W, "root.readonly", good=(False,), bad=(True,), prefix="windows: ")
    c.optional(W, "process.args", prefix="windows: ")
    c.optional(W, "process.commandLine", prefix="windows: ")
    c.add(
        "windows: process without args and commandLine",
        mutate(mutate(W, "process.args", DELETE), "process.commandLine", DELETE),
        False,
    )
    c.set(W, "process.user", {}, True, prefix="windows: ")  # uid/gid are POSIX-only
    c.set(W, "process.cwd", "relative\\dir", False, prefix="windows: ")
    c.set(HYPERV_CONFIG, "root", {"path": VOLUME_GUID_PATH}, False, prefix="hyperv: ")
    c.set(HYPERV_CONFIG, "windows.hyperv", {}, True, prefix="hyperv: ")
    c.add(
        "hyperv: windows.hyperv removed (now a server container without root)",
        mutate(HYPERV_CONFIG, "windows.hyperv", DELETE),
        False,
    )
    c.add(
        "linux config + windows section: root.path must then be a volume GUID path",
        mutate(F, "windows", W["windows"]),
        False,
    )
    c.add(
        "linux config + windows section + volume GUID root.path",
        mutate(mutate(F, "windows", W["windows"]), "root.path", VOLUME_GUID_PATH),
        True,
    )

    # windows section --------------------------------------------------------
    pw = "windows: "
    c.required(W, "windows.layerFolders", prefix=pw)
    c.many(W, "windows.layerFolders", good=(["C:\\scratch"],), bad=([], "C:\\scratch", [1]), prefix=pw)
    c.required(W, "windows.devices[0].id", "windows.devices[0].idType", prefix=pw)
    c.enum(W, "windows.devices[0].idType", ["class"], bad=("guid", "interface"), prefix=pw)
    c.string(W, "windows.devices[0].id", prefix=pw)
    c.integer(W, "windows.resources.memory.limit", *U64, prefix=pw)
    c.integer(W, "windows.resources.cpu.maximum", *U16, prefix=pw)
    cpu_only = mutate(W, "windows.resources.cpu", {})
    c.integer(cpu_only, "windows.resources.cpu.count", *U64, prefix=pw)
    c.integer(cpu_only, "windows.resources.cpu.shares", *U16, prefix=pw)
    c.set(W, "windows.resources.cpu.shares", 5000, False, prefix=pw)  # with maximum
    c.set(W, "windows.resources.cpu.count", 2, False, prefix=pw)  # with maximum
    c.set(cpu_only, "windows.resources.cpu.affinity", [{"mask": 1, "group": 0}], True, prefix=pw)
    c.required(W, "windows.resources.cpu.affinity[0].mask", "windows.resources.cpu.affinity[0].group", prefix=pw)
    c.integer(W, "windows.resources.cpu.affinity[0].mask", *U64, prefix=pw)
    c.integer(W, "windows.resources.cpu.affinity[0].group", *U32, prefix=pw)
    c.set(W, "windows.resources.cpu.affinity", {"mask": 1, "group": 0}, False, prefix=pw)
    for k in ("iops", "bps", "sandboxSize"):
        c.integer(W, f"windows.resources.storage.{k}", *U64, prefix=pw)
    c.strings(W, "windows.network.endpointList", prefix=pw)
    c.strings(W, "windows.network.DNSSearchList", prefix=pw)
    c.boolean(W, "windows.network.allowUnqualifiedDNSQuery", prefix=pw)
    c.string(W, "windows.network.networkSharedContainerName", prefix=pw)
    c.string(W, "windows.network.networkNamespace", prefix=pw)
    c.many(W, "windows.credentialSpec", good=({},), bad=("spec", []), prefix=pw)
    c.boolean(W, "windows.servicing", prefix=pw)
    c.boolean(W, "windows.ignoreFlushesDuringBoot", prefix=pw)
    c.string(HYPERV_CONFIG, "windows.hyperv.utilityVMPath", prefix="hyperv: ")
    c.many(HYPERV_CONFIG, "windows.hyperv", bad=(True, "C:\\vm"), prefix="hyperv: ")

    # solaris section -------------------------------------------------------
    ps = "solaris: "
    for k in ("milestone", "limitpriv", "maxShmMemory"):
        c.string(SOLARIS_CONFIG, f"solaris.{k}", prefix=ps)
    c.string(SOLARIS_CONFIG, "solaris.cappedCPU.ncpus", good=("1.25",), prefix=ps)
    c.set(SOLARIS_CONFIG, "solaris.cappedCPU.ncpus", 8, False, prefix=ps)
    c.string(SOLARIS_CONFIG, "solaris.cappedMemory.physical", prefix=ps)
    c.string(SOLARIS_CONFIG, "solaris.cappedMemory.swap", prefix=ps)
    for k in (
        "linkname",
        "lowerLink",
        "allowedAddress",
        "configureAllowedAddress",
        "defrouter",
        "macAddress",
        "linkProtection",
    ):
        c.string(SOLARIS_CONFIG, f"solaris.anet[0].{k}", prefix=ps)
    c.set(SOLARIS_CONFIG, "solaris.anet[0].configureAllowedAddress", True, False, prefix=ps)
    c.many(SOLARIS_CONFIG, "solaris.anet", good=([],), bad=({},), prefix=ps)
    c.set(SOLARIS_CONFIG, "solaris", "zone", False, prefix=ps)

    # vm section ------------------------------------------------------------
    pv = "vm: "
    V = VM_CONFIG
    c.required(V, "vm.kernel", "vm.kernel.path", "vm.hypervisor.path", "vm.image.path", "vm.image.format", prefix=pv)
    c.optional(V, "vm.hypervisor", "vm.image", "vm.hwConfig", "vm.kernel.initrd", "vm.kernel.parameters", prefix=pv)
    for p in ("vm.hypervisor.path", "vm.kernel.path", "vm.kernel.initrd", "vm.image.path"):
        c.many(V, p, good=("/opt/vm/file",), bad=("relative/file", "", 1), prefix=pv)
    c.strings(V, "vm.hypervisor.parameters", prefix=pv)
    c.strings(V, "vm.kernel.parameters", prefix=pv)
    c.many(V, "vm.image.format", good=("qcow2", "vdi", "vmdk", "vhd"), bad=(1, None), prefix=pv)
    c.string(V, "vm.hwConfig.deviceTree", prefix=pv)
    c.integer(V, "vm.hwConfig.vcpus", *U32, prefix=pv)
    c.integer(V, "vm.hwConfig.memory", *U64, prefix=pv)
    c.strings(V, "vm.hwConfig.dtdevs", prefix=pv)
    c.required(V, "vm.hwConfig.iomems[0].firstMFN", "vm.hwConfig.iomems[0].nrMFNs", prefix=pv)
    c.optional(V, "vm.hwConfig.iomems[1].firstGFN", prefix=pv)
    for k in ("firstGFN", "firstMFN", "nrMFNs"):
        c.integer(V, f"vm.hwConfig.iomems[1].{k}", *U64, prefix=pv)
    c.integer(V, "vm.hwConfig.irqs[0]", *U32, prefix=pv)
    c.many(V, "vm.hwConfig.irqs", good=([],), bad=(11,), prefix=pv)
    c.set(V, "vm", {}, False, prefix=pv)  # kernel is REQUIRED

    # zos section -----------------------------------------------------------
    pz = "zos: "
    Z = ZOS_CONFIG
    c.required(Z, "zos.namespaces[0].type", prefix=pz)
    c.enum(
        mutate(Z, "zos.namespaces", [{"type": "pid"}]),
        "zos.namespaces[0].type",
        ["pid", "mount", "ipc", "uts"],
        bad=("network", "user", "cgroup", "time"),
        prefix=pz + "(single namespace) ",
    )
    c.many(Z, "zos.namespaces[0].path", good=("/proc/1/ns/pid",), bad=("proc/1",), prefix=pz)
    c.set(Z, "zos.namespaces[4]", {"type": "ipc"}, False, prefix=pz)  # duplicate of [1]
    c.boolean(Z, "process.noNewPrivileges", prefix=pz)
    c.integer(Z, "process.rlimits[0].hard", *U64, prefix=pz)

    # freebsd section -------------------------------------------------------
    pf = "freebsd: "
    FB = FREEBSD_CONFIG
    c.required(FB, "freebsd.devices[0].path", prefix=pf)
    c.optional(FB, "freebsd.devices[0].mode", "freebsd.jail", prefix=pf)
    c.integer(FB, "freebsd.devices[0].mode", *U32, prefix=pf)
    c.string(FB, "freebsd.devices[0].path", good=("pf", "bpf0"), prefix=pf)
    c.string(FB, "freebsd.jail.parent", prefix=pf)
    c.enum(FB, "freebsd.jail.host", ["new", "inherit"], bad=("disable",), prefix=pf)
    c.enum(FB, "freebsd.jail.vnet", ["new", "inherit"], bad=("disable",), prefix=pf)
    for k in ("ip4", "ip6", "sysvmsg", "sysvsem", "sysvshm"):
        c.enum(FB, f"freebsd.jail.{k}", ["disable", "new", "inherit"], bad=("share",), prefix=pf)
    for k in ("ip4Addr", "ip6Addr", "vnetInterfaces", "allow.mount"):
        c.strings(FB, f"freebsd.jail.{k}", prefix=pf)
    c.string(FB, "freebsd.jail.interface", prefix=pf)
    c.integer(FB, "freebsd.jail.enforceStatfs", 0, 2, prefix=pf)
    for k in ("setHostname", "rawSockets", "chflags", "quotas", "socketAf", "mlock", "reservedPorts", "suser"):
        c.boolean(FB, f"freebsd.jail.allow.{k}", prefix=pf)
    c.set(FB, "freebsd.jail.allow", [], False, prefix=pf)

    return c


# --------------------------------------------------------------------------
# state cases
# --------------------------------------------------------------------------


def _state_cases():
    c = _Cases()
    S = BASE_STATE
    c.add("spec example state", S, True)
    c.add("minimal state", {"ociVersion": "1.3.0", "id": "c", "status": "stopped", "bundle": "/b"}, True)
    c.add("not an object", ["state"], False)
    c.add("empty object", {}, False)
    c.required(S, "ociVersion", "id", "status", "bundle")
    c.optional(S, "pid", "annotations")
    c.string(S, "ociVersion", good=("1.3.0", "1.0.2-dev"))
    c.string(S, "id", good=("abc", "my-container_1"))
    c.many(S, "status", good=("creating", "created", "running", "stopped", "paused"), bad=("", 1, None, ["running"]))
    c.integer(S, "pid", 0, I32[1])
    c.set(S, "pid", True, False)
    c.many(S, "bundle", good=("/run/bundle", "C:\\bundles\\ctr"), bad=("relative/bundle", "", 1))
    c.many(S, "annotations", good=({}, {"k": ""}), bad=({"": "v"}, {"k": 1}, []))
    c.set(S, "x-runtime-extra", {"anything": True}, True)
    return c


# --------------------------------------------------------------------------
# features cases
# --------------------------------------------------------------------------


def _features_cases():
    c = _Cases()
    F = FULL_FEATURES
    c.add("runc features (runc 1.1.5)", RUNC_FEATURES, True)
    c.add("minimal features", MINIMAL_FEATURES, True)
    c.add("full features", F, True)
    c.add("not an object", [], False)
    c.add("empty object", {}, False)
    c.required(F, "ociVersionMin", "ociVersionMax")
    for k in ("ociVersionMin", "ociVersionMax"):
        c.many(F, k, good=("1.0.0", "1.0.2-dev", "1.1.0-rc.2"), bad=("1.0", "", None, 1))
    # everything except the two versions may be absent or null
    for p in (
        "hooks",
        "mountOptions",
        "annotations",
        "potentiallyUnsafeConfigAnnotations",
        "linux",
        "linux.namespaces",
        "linux.capabilities",
        "linux.cgroup",
        "linux.cgroup.v1",
        "linux.cgroup.rdma",
        "linux.seccomp",
        "linux.seccomp.enabled",
        "linux.seccomp.actions",
        "linux.seccomp.operators",
        "linux.seccomp.archs",
        "linux.seccomp.knownFlags",
        "linux.seccomp.supportedFlags",
        "linux.apparmor",
        "linux.apparmor.enabled",
        "linux.selinux",
        "linux.selinux.enabled",
        "linux.intelRdt",
        "linux.intelRdt.enabled",
        "linux.intelRdt.schemata",
        "linux.intelRdt.monitoring",
        "linux.memoryPolicy",
        "linux.memoryPolicy.modes",
        "linux.memoryPolicy.flags",
        "linux.mountExtensions",
        "linux.mountExtensions.idmap",
        "linux.mountExtensions.idmap.enabled",
        "linux.netDevices",
        "linux.netDevices.enabled",
    ):
        c.many(F, p, good=(DELETE, None))
    c.set(F, "x-future-feature", {"enabled": True}, True)
    c.set(F, "linux.xFuture", [], True)
    # top level
    c.enum(F, "hooks[0]", HOOK_NAMES, bad=("preStart", "poststarted"))
    c.many(F, "hooks", good=([],), bad=("prestart", {}))
    c.strings(F, "mountOptions")
    c.many(
        F, "potentiallyUnsafeConfigAnnotations", good=([], ["org.systemd.property."]), bad=([""], [1], "com.example.")
    )
    c.many(F, "annotations", good=({},), bad=({"": "x"}, {"k": True}, []))
    c.obj(F, "linux")
    # linux
    c.enum(F, "linux.namespaces[0]", NAMESPACE_TYPES, bad=("net", "foo"))
    c.many(F, "linux.capabilities", good=([], ["CAP_BPF"]), bad=(["chown"], ["CAP_"], "CAP_BPF"))
    for k in ("v1", "v2", "systemd", "systemdUser", "rdma"):
        c.many(F, f"linux.cgroup.{k}", good=(True, False), bad=("true", 1))
    c.obj(F, "linux.cgroup")
    c.many(F, "linux.seccomp.enabled", good=(True, False), bad=("yes", 0))
    c.enum(F, "linux.seccomp.actions[0]", SECCOMP_ACTIONS, bad=("SCMP_ACT_DENY",))
    c.enum(F, "linux.seccomp.operators[0]", SECCOMP_OPS, bad=("SCMP_CMP_XX",))
    c.enum(F, "linux.seccomp.archs[0]", SECCOMP_ARCHES, bad=("SCMP_ARCH_AMD64",))
    c.enum(F, "linux.seccomp.knownFlags[0]", SECCOMP_FLAGS, bad=("SECCOMP_FILTER_FLAG_X",))
    c.enum(F, "linux.seccomp.supportedFlags[0]", SECCOMP_FLAGS, bad=("TSYNC",))
    c.set(F, "linux.seccomp.actions", "SCMP_ACT_ALLOW", False)
    for k in ("apparmor", "selinux", "netDevices"):
        c.many(F, f"linux.{k}.enabled", good=(True, False), bad=("true", 1))
        c.obj(F, f"linux.{k}")
    for k in ("enabled", "schemata", "monitoring"):
        c.many(F, f"linux.intelRdt.{k}", good=(True, False), bad=("yes", 1))
    c.enum(F, "linux.memoryPolicy.modes[0]", MPOL_MODES, bad=("MPOL_X",))
    c.enum(F, "linux.memoryPolicy.flags[0]", MPOL_FLAGS, bad=("MPOL_F_X",))
    c.many(F, "linux.mountExtensions.idmap.enabled", good=(True, False), bad=("on", 1))
    c.many(F, "linux.mountExtensions.idmap", good=({},), bad=(True,))
    c.many(F, "linux.mountExtensions", good=({},), bad=([],))
    return c


# --------------------------------------------------------------------------
# literal outputs of the reference runtimes (generated output, pasted verbatim)
# --------------------------------------------------------------------------

#: ``runc spec`` (runc 1.1.5, spec 1.0.2-dev)
RUNC_SPEC_CONFIG = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": True,
        "user": {
            "uid": 0,
            "gid": 0,
        },
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [
            {
                "type": "RLIMIT_NOFILE",
                "hard": 1024,
                "soft": 1024,
            },
        ],
        "noNewPrivileges": True,
    },
    "root": {
        "path": "rootfs",
        "readonly": True,
    },
    "hostname": "runc",
    "mounts": [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
        },
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
            "options": [
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
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
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {
            "devices": [
                {
                    "allow": False,
                    "access": "rwm",
                },
            ],
        },
        "namespaces": [
            {
                "type": "pid",
            },
            {
                "type": "network",
            },
            {
                "type": "ipc",
            },
            {
                "type": "uts",
            },
            {
                "type": "mount",
            },
        ],
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
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}

#: ``crun spec`` (crun 1.8.1, spec 1.0.0)
CRUN_SPEC_CONFIG = {
    "ociVersion": "1.0.0",
    "process": {
        "terminal": True,
        "user": {
            "uid": 0,
            "gid": 0,
        },
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": [],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [
            {
                "type": "RLIMIT_NOFILE",
                "hard": 1024,
                "soft": 1024,
            },
        ],
        "noNewPrivileges": True,
    },
    "root": {
        "path": "rootfs",
        "readonly": True,
    },
    "hostname": "crun",
    "mounts": [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
        },
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
            "options": [
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
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
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {
            "devices": [
                {
                    "allow": False,
                    "access": "rwm",
                },
            ],
        },
        "namespaces": [
            {
                "type": "pid",
            },
            {
                "type": "network",
            },
            {
                "type": "ipc",
            },
            {
                "type": "uts",
            },
            {
                "type": "mount",
            },
        ],
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
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}

#: ``runc features`` (runc 1.1.5)
RUNC_FEATURES = {
    "ociVersionMin": "1.0.0",
    "ociVersionMax": "1.0.2-dev",
    "hooks": [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ],
    "mountOptions": [
        "acl",
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noacl",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "private",
        "ratime",
        "rbind",
        "rdev",
        "rdiratime",
        "relatime",
        "remount",
        "rexec",
        "rnoatime",
        "rnodev",
        "rnodiratime",
        "rnoexec",
        "rnorelatime",
        "rnostrictatime",
        "rnosuid",
        "rnosymfollow",
        "ro",
        "rprivate",
        "rrelatime",
        "rro",
        "rrw",
        "rshared",
        "rslave",
        "rstrictatime",
        "rsuid",
        "rsymfollow",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "symfollow",
        "sync",
        "tmpcopyup",
        "unbindable",
    ],
    "linux": {
        "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
        "capabilities": [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_DAC_READ_SEARCH",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SETPCAP",
            "CAP_LINUX_IMMUTABLE",
            "CAP_NET_BIND_SERVICE",
            "CAP_NET_BROADCAST",
            "CAP_NET_ADMIN",
            "CAP_NET_RAW",
            "CAP_IPC_LOCK",
            "CAP_IPC_OWNER",
            "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO",
            "CAP_SYS_CHROOT",
            "CAP_SYS_PTRACE",
            "CAP_SYS_PACCT",
            "CAP_SYS_ADMIN",
            "CAP_SYS_BOOT",
            "CAP_SYS_NICE",
            "CAP_SYS_RESOURCE",
            "CAP_SYS_TIME",
            "CAP_SYS_TTY_CONFIG",
            "CAP_MKNOD",
            "CAP_LEASE",
            "CAP_AUDIT_WRITE",
            "CAP_AUDIT_CONTROL",
            "CAP_SETFCAP",
            "CAP_MAC_OVERRIDE",
            "CAP_MAC_ADMIN",
            "CAP_SYSLOG",
            "CAP_WAKE_ALARM",
            "CAP_BLOCK_SUSPEND",
            "CAP_AUDIT_READ",
            "CAP_PERFMON",
            "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE",
        ],
        "cgroup": {
            "v1": True,
            "v2": True,
            "systemd": True,
            "systemdUser": True,
        },
        "seccomp": {
            "enabled": True,
            "actions": [
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_LOG",
                "SCMP_ACT_NOTIFY",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_TRAP",
            ],
            "operators": [
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_LE",
                "SCMP_CMP_LT",
                "SCMP_CMP_MASKED_EQ",
                "SCMP_CMP_NE",
            ],
            "archs": [
                "SCMP_ARCH_AARCH64",
                "SCMP_ARCH_ARM",
                "SCMP_ARCH_MIPS",
                "SCMP_ARCH_MIPS64",
                "SCMP_ARCH_MIPS64N32",
                "SCMP_ARCH_MIPSEL",
                "SCMP_ARCH_MIPSEL64",
                "SCMP_ARCH_MIPSEL64N32",
                "SCMP_ARCH_PPC",
                "SCMP_ARCH_PPC64",
                "SCMP_ARCH_PPC64LE",
                "SCMP_ARCH_S390",
                "SCMP_ARCH_S390X",
                "SCMP_ARCH_X32",
                "SCMP_ARCH_X86",
                "SCMP_ARCH_X86_64",
            ],
        },
        "apparmor": {
            "enabled": True,
        },
        "selinux": {
            "enabled": True,
        },
    },
    "annotations": {
        "io.github.seccomp.libseccomp.version": "2.5.4",
        "org.opencontainers.runc.checkpoint.enabled": "true",
        "org.opencontainers.runc.commit": "1.1.5+ds1-1+deb12u1",
        "org.opencontainers.runc.version": "1.1.5+ds1",
    },
}


CONFIG_CASES = _config_cases()
STATE_CASES = _state_cases()
FEATURES_CASES = _features_cases()
