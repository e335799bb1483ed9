"""Fields an engine sends that must take effect or be refused, never dropped
(issue 10, part 2): tmpcopyup, per-mount id mappings, netDevices, intelRdt,
mountLabel. Real containers, run by the installed ocirun."""

import json
import os
import shutil
import subprocess
import tempfile

import helpers


def _plain_mounts(b):
    return [x for x in b.config["mounts"] if x["type"] != "cgroup"]


def _tmpcopyup_bundle(own_bundle):
    """A rootfs directory /data with a file, a subdirectory, a symlink that
    points out of the rootfs, each with its own owner and mode."""
    data = os.path.join(own_bundle.rootfs, "data")
    os.makedirs(os.path.join(data, "sub"))
    with open(os.path.join(data, "f"), "w") as f:
        f.write("hello")
    with open(os.path.join(data, "sub", "g"), "w") as f:
        f.write("deep")
    os.symlink("/etc/hostname-of-the-host", os.path.join(data, "link"))
    os.chown(os.path.join(data, "f"), 1000, 1001)
    os.chmod(os.path.join(data, "f"), 0o604)  # the process has no CAP_DAC_OVERRIDE
    os.chown(os.path.join(data, "sub"), 1002, 1003)
    os.chmod(os.path.join(data, "sub"), 0o751)
    os.lchown(os.path.join(data, "link"), 1004, 1005)
    os.chmod(data, 0o1777)
    return own_bundle


def test_tmpcopyup_tmpfs_starts_with_the_image_directory(own_bundle, cid, run_ocirun):
    b = _tmpcopyup_bundle(own_bundle)
    b.config["mounts"] = _plain_mounts(b) + [
        {
            "destination": "/data",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
        }
    ]
    b.set_args(
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts | cut -d' ' -f3; cat /data/f /data/sub/g; echo; "
        "stat -c '%n %u:%g %a' /data /data/f /data/sub; stat -c '%n %u:%g %F' /data/link; "
        "readlink /data/link; touch /data/new && echo writable",
    ).write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "tmpfs"
    assert lines[1] == "hellodeep", (r.stdout, r.stderr)
    assert lines[2:6] == [
        "/data 0:0 1777",
        "/data/f 1000:1001 604",
        "/data/sub 1002:1003 751",
        "/data/link 1004:1005 symbolic link",
    ]
    assert lines[6] == "/etc/hostname-of-the-host"
    assert lines[7] == "writable"
    # the copy is the tmpfs's: the image's directory is untouched
    assert not os.path.exists(os.path.join(b.rootfs, "data", "new"))


def test_tmpcopyup_read_only_tmpfs_is_filled_then_read_only(own_bundle, cid, run_ocirun):
    b = _tmpcopyup_bundle(own_bundle)
    b.config["mounts"] = _plain_mounts(b) + [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid", "tmpcopyup"]}
    ]
    b.set_args(
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts | cut -d' ' -f3,4 | cut -d, -f1; cat /data/sub/g; echo; "
        "touch /data/new 2>/dev/null || echo refused",
    ).write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["tmpfs ro", "deep", "refused"]


def test_tmpfs_without_tmpcopyup_is_empty(own_bundle, cid, run_ocirun):
    b = _tmpcopyup_bundle(own_bundle)
    b.config["mounts"] = _plain_mounts(b) + [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid"]}
    ]
    b.set_args("sh", "-c", "grep ' /data ' /proc/mounts | cut -d' ' -f3; ls -A /data | wc -l").write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["tmpfs", "0"]


def test_tmpcopyup_on_a_bind_mount_is_refused(bundle, cid, run_ocirun, root):
    bundle.config["mounts"] = _plain_mounts(bundle) + [
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "tmpcopyup"]}
    ]
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode != 0
    assert "tmpcopyup" in r.stderr and "mounts[" in r.stderr
    assert not os.path.exists(os.path.join(root, cid))


def _idmap_dir(base):
    src = os.path.join(base, "src")
    os.mkdir(src)
    for name, uid in (("u1000", 1000), ("u1001", 1001), ("u0", 0)):
        with open(os.path.join(src, name), "w") as f:
            f.write(name)
        os.chown(os.path.join(src, name), uid, uid)
    return src


def test_mount_own_mappings_without_idmap_option(own_bundle, cid, run_ocirun, tmp_path):
    """The mount's own uidMappings/gidMappings, no `idmap` option, no user
    namespace: on-disk 1000 is seen as 2000 through the mount."""
    src = _idmap_dir(str(tmp_path))
    own_bundle.config["mounts"] = _plain_mounts(own_bundle) + [
        {
            "destination": "/mapped",
            "type": "bind",
            "source": src,
            "options": ["rbind"],
            "uidMappings": [{"containerID": 1000, "hostID": 2000, "size": 2}],
            "gidMappings": [{"containerID": 1000, "hostID": 3000, "size": 2}],
        },
        {"destination": "/plain", "type": "bind", "source": src, "options": ["rbind"]},
    ]
    own_bundle.set_args("sh", "-c", "stat -c '%n %u:%g' /mapped/u1000 /mapped/u1001 /plain/u1000").write()
    r = run_ocirun("run", "-b", own_bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["/mapped/u1000 2000:3000", "/mapped/u1001 2001:3001", "/plain/u1000 1000:1000"]


def test_idmap_option_with_own_mappings_uses_them(own_bundle, cid, run_ocirun, tmp_path):
    """`idmap` plus the mount's mappings: those mappings, not the container's
    user namespace (there is none here; ocirun used to refuse this)."""
    src = _idmap_dir(str(tmp_path))
    own_bundle.config["mounts"] = _plain_mounts(own_bundle) + [
        {
            "destination": "/mapped",
            "type": "bind",
            "source": src,
            "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 5000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 6000, "size": 1}],
        }
    ]
    own_bundle.set_args("sh", "-c", "stat -c '%n %u:%g' /mapped/u0 /mapped/u1000").write()
    r = run_ocirun("run", "-b", own_bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["/mapped/u0 5000:6000", "/mapped/u1000 65534:65534"]


def test_mount_own_mappings_in_a_user_namespace(bundle_template, cid, run_ocirun):
    """What the kubelet sends for a pod with a user namespace: the volume
    mapped with the pod's mapping, so files owned by host 1000 show as 1000
    inside, where the plain bind shows them unmapped (65534)."""
    base = tempfile.mkdtemp(prefix="ocirun-mntmap-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        b = helpers.make_bundle(bundle_template, os.path.join(base, "bundle"), own_rootfs=True)
        os.chmod(b.path, 0o755)
        src = _idmap_dir(base)
        b.config["linux"]["namespaces"].append({"type": "user"})
        m = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        b.config["linux"]["uidMappings"] = m
        b.config["linux"]["gidMappings"] = m
        b.config["mounts"] = _plain_mounts(b) + [
            {
                "destination": "/tmp/vol",
                "type": "bind",
                "source": src,
                "options": ["rbind"],
                "uidMappings": m,
                "gidMappings": m,
            },
            {"destination": "/tmp/plain", "type": "bind", "source": src, "options": ["rbind"]},
        ]
        b.set_args("sh", "-c", "stat -c '%n %u:%g' /tmp/vol/u1000 /tmp/vol/u0 /tmp/plain/u1000").write()
        r = run_ocirun("run", "-b", b.path, cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["/tmp/vol/u1000 1000:1000", "/tmp/vol/u0 0:0", "/tmp/plain/u1000 65534:65534"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_mount_mappings_need_both_maps_and_a_bind(bundle, cid, run_ocirun, root, tmp_path):
    m = [{"containerID": 0, "hostID": 1000, "size": 1}]
    mounts = _plain_mounts(bundle)
    for extra, want in (
        ({"type": "bind", "source": str(tmp_path), "options": ["rbind"], "uidMappings": m}, "mounts[%d].gidMappings"),
        ({"type": "tmpfs", "source": "tmpfs", "uidMappings": m, "gidMappings": m}, "mounts[%d].uidMappings"),
    ):
        bundle.config["mounts"] = mounts + [dict(extra, destination="/x")]
        bundle.write()
        r = run_ocirun("run", "-b", bundle.path, cid)
        assert r.returncode != 0
        assert want.split(".")[0] % len(mounts) in r.stderr, r.stderr
        assert want.split(".")[1] in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(root, cid))


def _host_link(name):
    """A network device of the test's own: dummy, or ifb where the kernel has
    no dummy driver (both are virtual, the kernel deletes them with the
    container's network namespace)."""
    for kind in ("dummy", "ifb"):
        r = subprocess.run(["ip", "link", "add", name, "type", kind], capture_output=True)
        if r.returncode == 0:
            return kind
    raise AssertionError("cannot create a dummy or ifb device: " + r.stderr.decode())


def _link_exists(name):
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


def _net_bundle(bundle):
    if not any(n["type"] == "network" for n in bundle.config["linux"]["namespaces"]):
        bundle.config["linux"]["namespaces"].append({"type": "network"})
    return bundle


def test_net_device_moves_into_the_container_renamed(bundle, cid, run_ocirun):
    name = "ocitest%d" % (os.getpid() % 10000)
    _host_link(name)
    try:
        subprocess.run(["ip", "addr", "add", "10.231.7.5/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", "dev", name, "up"], check=True)
        mac = open("/sys/class/net/%s/address" % name).read().strip()
        b = _net_bundle(bundle)
        b.config["linux"]["netDevices"] = {name: {"name": "eth9"}}
        b.set_args(
            "sh",
            "-c",
            "cat /sys/class/net/eth9/address; ls /sys/class/net | grep -c %s; "
            "ip -o -4 addr show dev eth9 | grep -o '10.231.7.5/24'; "
            "ip link show dev eth9 | grep -o '<[^>]*>'" % name,
        ).write()
        r = run_ocirun("run", "-b", b.path, cid)
        assert r.returncode == 0, r.stderr
        out = r.stdout.split()
        assert out[0] == mac  # the host's device, not a new one
        assert out[1] == "0"  # under its new name only
        assert out[2] == "10.231.7.5/24"  # its address survived the move
        assert "UP" in out[3].strip("<>").split(","), out
    finally:
        if _link_exists(name):
            subprocess.run(["ip", "link", "del", name])


def test_net_device_missing_or_without_network_namespace_is_an_error(bundle, cid, run_ocirun, root):
    b = _net_bundle(bundle)
    b.config["linux"]["netDevices"] = {"ocinosuchdev0": {"name": "eth1"}}
    b.write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode != 0
    assert "linux.netDevices.ocinosuchdev0" in r.stderr and "no network device" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(root, cid))
    name = "ocitestn%d" % (os.getpid() % 1000)
    _host_link(name)
    try:
        b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "network"]
        b.config["linux"]["netDevices"] = {name: {"name": "eth1"}}
        b.write()
        r = run_ocirun("run", "-b", b.path, cid)
        assert r.returncode != 0
        assert "linux.netDevices" in r.stderr and "network namespace" in r.stderr, r.stderr
        assert _link_exists(name), "the device left the host"
        assert not os.path.exists(os.path.join(root, cid))
    finally:
        if _link_exists(name):
            subprocess.run(["ip", "link", "del", name])


def test_intel_rdt_without_resctrl_is_an_error_naming_the_field(bundle, cid, run_ocirun, root):
    with open("/proc/self/mountinfo") as f:
        assert not any(" - resctrl " in line for line in f), "this test is for a host without resctrl"
    bundle.config["linux"]["intelRdt"] = {"closID": "ocitest", "l3CacheSchema": "L3:0=ff"}
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "linux.intelRdt" in r.stderr and "resctrl" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(root, cid))


def test_mount_label_is_accepted_without_selinux(own_bundle, cid, run_ocirun):
    """SELinux is off here: linux.mountLabel is ignored (as runc does), the
    container runs and its tmpfs mounts carry no context=."""
    assert not os.path.exists("/sys/fs/selinux/enforce"), "this test is for a host without SELinux"
    own_bundle.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"
    own_bundle.config["mounts"] = _plain_mounts(own_bundle) + [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
    ]
    own_bundle.set_args("sh", "-c", "grep ' /data ' /proc/mounts").write()
    r = run_ocirun("run", "-b", own_bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("tmpfs /data tmpfs") and "context=" not in r.stdout


def test_mount_label_becomes_context_with_selinux(bundle, monkeypatch):
    """With SELinux enabled the label reaches each labelable mount as
    context=; proc and sysfs keep their kernel labels, bind mounts take none."""
    from runtime import core, mounts, plan

    monkeypatch.setattr(mounts, "selinux_enabled", lambda: True)
    ffi, _lib = core.load()
    cfg = json.loads(json.dumps(bundle.config))
    cfg["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"
    cfg["mounts"] = _plain_mounts(bundle) + [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
        {"destination": "/b", "type": "bind", "source": "/tmp", "options": ["rbind"]},
    ]
    p = plan.build(ffi, cfg, bundle.path, "label", sync_fd=-1, parent_sync_fd=-1, fifo_fd=-1)
    try:
        data = {}
        for i in range(p.c.n_mounts):
            m = p.c.mounts[i]
            d = ffi.string(m.data).decode() if m.data != ffi.NULL else ""
            data[ffi.string(m.destination).decode()] = d
        want = 'context="system_u:object_r:container_file_t:s0:c1,c2"'
        assert data["/data"] == "size=1m," + want
        assert want in data["/dev"]
        assert "context=" not in data["/proc"] and "context=" not in data["/sys"] and data["/b"] == ""
    finally:
        p.close()


def test_features_says_exactly_what_is_supported(run_ocirun):
    r = run_ocirun("features")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "tmpcopyup" in doc["mountOptions"]
    assert {"idmap", "ridmap"} <= set(doc["mountOptions"])
    assert doc["linux"]["netDevices"] == {"enabled": True}
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is True
    assert doc["linux"]["intelRdt"] == {"enabled": False}  # no resctrl here: refused with a line naming the field
    assert doc["linux"]["selinux"]["enabled"] == os.path.isdir("/sys/fs/selinux")
