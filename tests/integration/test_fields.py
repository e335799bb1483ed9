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
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs",
         "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}]
    b.set_args("sh", "-c", "grep ' /data ' /proc/mounts | cut -d' ' -f3; cat /data/f /data/sub/g; echo; "
               "stat -c '%n %u:%g %a' /data /data/f /data/sub; stat -c '%n %u:%g %F' /data/link; "
               "readlink /data/link; touch /data/new && echo writable").write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "tmpfs"
    assert lines[1] == "hellodeep", (r.stdout, r.stderr)
    assert lines[2:6] == ["/data 0:0 1777", "/data/f 1000:1001 604", "/data/sub 1002:1003 751",
                          "/data/link 1004:1005 symbolic link"]
    assert lines[6] == "/etc/hostname-of-the-host"
    assert lines[7] == "writable"
    # the copy is the tmpfs's: the image's directory is untouched
    assert not os.path.exists(os.path.join(b.rootfs, "data", "new"))


def test_tmpfs_without_tmpcopyup_is_empty(own_bundle, cid, run_ocirun):
    b = _tmpcopyup_bundle(own_bundle)
    b.config["mounts"] = _plain_mounts(b) + [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid"]}]
    b.set_args("sh", "-c", "grep ' /data ' /proc/mounts | cut -d' ' -f3; ls -A /data | wc -l").write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["tmpfs", "0"]


def test_tmpcopyup_on_a_bind_mount_is_refused(bundle, cid, run_ocirun, root):
    bundle.config["mounts"] = _plain_mounts(bundle) + [
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "tmpcopyup"]}]
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode != 0
    assert "tmpcopyup" in r.stderr and "mounts[" in r.stderr
    assert not os.path.exists(os.path.join(root, cid))
