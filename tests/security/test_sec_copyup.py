"""tmpcopyup as a way out of the rootfs: the copy's source is the image's
directory at the destination, which the image controls. A destination that is
a symlink to a host path, or entries that are symlinks to host files, must
never bring host contents into the container (CVE-2021-30465 class applied to
the copy), nor write anything on the host."""

import os


def _copyup_mount(dst):
    return {"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "tmpcopyup"]}


def _plain(b):
    return [m for m in b.config["mounts"] if m["type"] != "cgroup"]


def test_copyup_destination_symlink_to_host_dir_copies_the_rootfs_one(own_bundle, cid, run_ocirun):
    b = own_bundle
    host_only = "/usr/share/common-licenses"  # on the host, not in the busybox rootfs
    assert os.path.isdir(host_only) and not os.path.lexists(os.path.join(b.rootfs, host_only.lstrip("/")))
    inner = os.path.join(b.rootfs, "usr", "share", "common-licenses")
    os.makedirs(inner)
    with open(os.path.join(inner, "marker-from-rootfs"), "w") as f:
        f.write("rootfs\n")
    os.symlink("/../../../../../../usr/share/common-licenses", os.path.join(b.rootfs, "cu"))
    b.config["mounts"] = _plain(b) + [_copyup_mount("/cu")]
    b.set_args("sh", "-c", "ls -A /usr/share/common-licenses").write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["marker-from-rootfs"], r.stdout  # nothing of the host's directory
    assert os.listdir(inner) == ["marker-from-rootfs"]


def test_copyup_entries_that_are_symlinks_to_host_files_stay_symlinks(own_bundle, cid, run_ocirun):
    b = own_bundle
    d = os.path.join(b.rootfs, "cu")
    os.makedirs(d)
    os.symlink("/etc/shadow", os.path.join(d, "shadow"))
    os.symlink("/../../../../etc", os.path.join(d, "etcdir"))
    b.config["mounts"] = _plain(b) + [_copyup_mount("/cu")]
    b.set_args(
        "sh",
        "-c",
        "stat -c '%n %F' /cu/shadow /cu/etcdir; ls /cu/etcdir/ | grep -c passwd; cat /cu/shadow 2>/dev/null | wc -c",
    ).write()
    r = run_ocirun("run", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["/cu/shadow symbolic link", "/cu/etcdir symbolic link"]
    # they resolve in the container, where /etc is the rootfs's (no shadow there)
    assert lines[3].strip() == "0"
    assert not os.path.exists(os.path.join(b.rootfs, "etc", "shadow"))
