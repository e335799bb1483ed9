"""CVE-2021-30465 class: mount destinations that are (or become) symlinks to
host paths. Every mount must land inside the rootfs, resolved as if the
rootfs were `/`, and no directory or file may be created on the host."""

import os
import subprocess

import pytest
from sec_common import one_line_error


def bind(dst, src):
    return {"destination": dst, "type": "bind", "source": src, "options": ["rbind", "rw"]}


def tmpfs(dst):
    return {"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}


@pytest.fixture
def source(tmp_path):
    d = tmp_path / "source"
    d.mkdir()
    (d / "from-source").write_text("source\n")
    return str(d)


# (name, symlinks to plant under rootfs/mnt: {name: target}, destination,
#  where the mount must show up inside the container)
CASES = [
    ("dest-abs", {"dst": "{v}"}, "/mnt/dst", "{v}"),
    ("dest-abs-new-leaf", {"dst": "{v}/new"}, "/mnt/dst", "{v}/new"),
    ("parent-abs", {"par": "{v}"}, "/mnt/par/sub", "{v}/sub"),
    ("dest-dotdot", {"dd": "../../../../../../../..{v}/dd"}, "/mnt/dd", "{v}/dd"),
    ("parent-dotdot", {"pd": "../../../../../../..{v}"}, "/mnt/pd/a/b", "{v}/a/b"),
    ("chain", {"c1": "/mnt/c2", "c2": "{v}/chain"}, "/mnt/c1/x", "{v}/chain/x"),
    ("dest-root", {"r": "/"}, "/mnt/r/etc/mnt-at-root", "/etc/mnt-at-root"),
]


def test_mount_destination_symlinks(box, victim, source, cid, run_ocirun, subtests):
    """CVE-2021-30465 class: a bind and a tmpfs mount whose destination, or a
    parent of it, is a symlink (absolute, `..`-laden, chained, dangling) to a
    host path /tmp/victim-<rand>: the mount and any directory it needs are
    made inside the rootfs, the host victim is untouched."""
    mnt = os.path.join(box.rootfs, "mnt")
    os.makedirs(mnt, exist_ok=True)
    for n, (name, links, dst, inside) in enumerate(CASES):
        with subtests.test(case=name):
            for ln, target in links.items():
                p = os.path.join(mnt, ln)
                if os.path.lexists(p):
                    os.unlink(p)
                os.symlink(target.format(v=victim.path), p)
            inside = inside.format(v=victim.path)
            base = box.config["mounts"][:]
            for kind, m in (("bind", bind(dst, source)), ("tmpfs", tmpfs(dst))):
                c = "%s-%d%s" % (cid, n, kind[0])
                box.config["mounts"] = base + [m]
                # the probe always exits 0: a non-zero status is ocirun's
                probe = ("cat %s/from-source" if kind == "bind" else "stat -f -c %%T %s") % inside
                probe += " 2>&1; true"
                box.set_args("sh", "-c", probe).write()
                r = run_ocirun("run", "-b", box.path, c)
                if r.returncode != 0:
                    one_line_error(r)
                else:
                    assert r.stdout == ("source\n" if kind == "bind" else "tmpfs\n"), (
                        "%s mount not at %s inside the rootfs: %r %r" % (kind, inside, r.stdout, r.stderr)
                    )
                victim.assert_untouched()
            box.config["mounts"] = base


def test_mount_destination_swapped_during_create(box, victim, source, tools, cid, run_ocirun):
    """CVE-2021-30465 class (race): while containers are created, a racing
    process (standing in for a second container sharing the volume) keeps
    exchanging a directory of the rootfs with a symlink to a host victim. No
    run may put a mount, or create anything, on the host."""
    mnt = os.path.join(box.rootfs, "mnt")
    os.makedirs(os.path.join(mnt, "race"), exist_ok=True)
    os.symlink(victim.path, os.path.join(mnt, "link"))
    box.config["mounts"] = box.config["mounts"] + [bind("/mnt/race/sub", source)]
    box.set_args("true").write()
    stop = os.path.join(victim.path + "-stop")
    racer = subprocess.Popen([tools["sectool"], "swap", os.path.join(mnt, "race"), os.path.join(mnt, "link"), stop])
    try:
        for i in range(16):
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, i))
            if r.returncode != 0:
                one_line_error(r)
            victim.assert_untouched()
    finally:
        open(stop, "w").close()
        racer.wait(timeout=30)
        os.unlink(stop)
    victim.assert_untouched()
