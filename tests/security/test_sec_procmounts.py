"""Mounts over /proc (CVE-2019-16884, CVE-2025-52881 class) and options of a
mount applied to another one (the remount-by-path race).

A mount that shadows /proc or something in it hands the init a fake
/proc/self/fd/N (its exec fifo: the process runs before `start`) or a fake
/proc/self/attr/exec; so such mounts are refused, however the destination is
spelled or reached, and the init's own /proc accesses never go through the
container's /proc at all. A bind's `ro` (and nosuid, propagation, the r*
options) must land on the mount ocirun made, not on whatever the destination
path names when it is looked up a second time."""

import os

import pytest
from sec_common import one_line_error

import helpers
from helpers import state, wait_for


def bind(dst, src, *opts):
    return {"destination": dst, "type": "bind", "source": src, "options": ["bind"] + list(opts)}


@pytest.fixture
def fake_proc(tmp_path):
    """A directory dressed up as procfs: self/fd/0..255 and self/attr/exec as
    plain files, so a write through it succeeds silently."""
    d = tmp_path / "fakeproc"
    (d / "self" / "fd").mkdir(parents=True)
    (d / "self" / "attr").mkdir()
    for i in range(256):
        (d / "self" / "fd" / str(i)).write_text("")
    (d / "self" / "attr" / "exec").write_text("")
    (d / "uptime").write_text("1.00 2.00\n")
    return str(d)


def assert_nothing_left(root, cid, bundle, run_ocirun):
    assert run_ocirun("state", cid).returncode != 0, "state left"
    assert not os.path.exists(os.path.join(root, cid)), "state dir left"
    assert helpers.cgroup_dirs(cid) == [], "cgroup left"
    assert helpers.host_mounts_mentioning(bundle.rootfs) == [], "mount left on the host"


def test_bind_over_proc_refused(box, fake_proc, root, cid, run_ocirun, subtests):
    """A bind of a fake procfs onto /proc or into it, after the proc mount and
    in every spelling of the path: refused with the mount's JSON path, and
    nothing is left behind (no state, cgroup or mount)."""
    base = box.config["mounts"]
    spellings = [
        "/proc",
        "//proc",
        "/proc/",
        "/./proc",
        "/proc/../proc",
        "proc",
        "/proc//",
        "/proc/self",
        "//proc/self/",
        "/proc/./self",
        "/proc/self/fd",
        "/proc/sys/kernel/../..",
        "/tmp/../proc",
    ]
    for n, dst in enumerate(spellings):
        with subtests.test(destination=dst):
            c = "%s-%d" % (cid, n)
            box.config["mounts"] = base + [bind(dst, fake_proc)]
            box.set_args("true").write()
            r = run_ocirun("create", "-b", box.path, c)
            one_line_error(r)
            # refused by the validation, before anything is made
            assert r.stderr.startswith("config.json: mounts[%d].destination: " % len(base)), r.stderr
            assert_nothing_left(root, c, box, run_ocirun)
    box.config["mounts"] = base


def test_other_fs_over_proc_refused(box, root, cid, run_ocirun, subtests):
    """tmpfs (or anything but procfs) on /proc, and a bind whose source is
    not the root of a procfs, are refused; a second procfs on /proc is fine."""
    base = box.config["mounts"]
    cases = [
        ({"destination": "/proc/", "type": "tmpfs", "source": "tmpfs"}, False),
        (bind("/proc", "/proc/self"), False),
        (bind("/proc", "/proc/sys"), False),
        ({"destination": "/proc", "type": "proc", "source": "proc"}, True),
    ]
    for n, (m, ok) in enumerate(cases):
        with subtests.test(mount=m):
            c = "%s-%d" % (cid, n)
            box.config["mounts"] = base + [m]
            box.set_args("sh", "-c", "stat -f -c %T /proc/self/fd").write()
            r = run_ocirun("run", "-b", box.path, c)
            if ok:
                assert r.returncode == 0 and r.stdout == "proc\n", (r.stdout, r.stderr)
            else:
                one_line_error(r)
                assert "mounts[%d].destination" % len(base) in r.stderr, r.stderr
                assert_nothing_left(root, c, box, run_ocirun)
    box.config["mounts"] = base


def test_symlink_into_proc_refused(box, fake_proc, root, cid, run_ocirun, subtests):
    """The destination is a symlink in the rootfs that leads into /proc
    (absolute, relative, through `..`): validation sees a harmless path, the
    core resolves it at mount time and refuses, naming the mount."""
    os.symlink("/proc", os.path.join(box.rootfs, "abs"))
    os.symlink("../proc/self", os.path.join(box.rootfs, "etc", "rel"))
    os.symlink("../../../../proc", os.path.join(box.rootfs, "dots"))
    base = box.config["mounts"]
    for n, dst in enumerate(["/abs", "/abs/self", "/etc/rel", "/etc/rel/fd", "/dots/", "/dots/self/attr"]):
        with subtests.test(destination=dst):
            c = "%s-%d" % (cid, n)
            box.config["mounts"] = base + [bind(dst, fake_proc)]
            box.set_args("true").write()
            r = run_ocirun("create", "-b", box.path, c)
            one_line_error(r)
            assert "mounts[%d].destination" % len(base) in r.stderr, r.stderr
            assert "/proc" in r.stderr, r.stderr
            assert_nothing_left(root, c, box, run_ocirun)
    box.config["mounts"] = base


def test_lxcfs_single_file_binds_still_work(box, tmp_path, cid, run_ocirun, subtests):
    """lxcfs's single files may still be shadowed (runc's list): a host file
    bound onto /proc/uptime, directly or through a symlink in the rootfs, is
    what the container reads there; and procfs stays procfs around it."""
    up = tmp_path / "uptime"
    up.write_text("4242.00 17.00\n")
    os.symlink("/proc", os.path.join(box.rootfs, "procdir"))
    base = box.config["mounts"]
    for n, dst in enumerate(["/proc/uptime", "//proc/./uptime", "/procdir/uptime"]):
        with subtests.test(destination=dst):
            box.config["mounts"] = base + [bind(dst, str(up), "ro")]
            box.set_args("sh", "-c", "cat /proc/uptime; stat -f -c %T /proc/self/fd").write()
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, n))
            assert r.returncode == 0, r.stderr
            assert r.stdout == "4242.00 17.00\nproc\n", (r.stdout, r.stderr)
    box.config["mounts"] = base


HOST_SYSCTL = "/proc/sys/kernel/printk_ratelimit_burst"


def test_sysctl_redirected_to_host_procfs_file(box, root, cid, run_ocirun, subtests):
    """CVE-2025-52881 class: a host procfs file (a real procfs, so an
    is-it-procfs check passes) bound over the container's
    /proc/sys/kernel/domainname, directly or through a symlink in the
    rootfs, while the config sets kernel.domainname: the sysctl write must
    never reach the host file."""
    os.symlink("/proc/sys/kernel/domainname", os.path.join(box.rootfs, "etc", "dn"))
    base = box.config["mounts"]
    box.config["linux"]["sysctl"] = {"kernel.domainname": "17"}
    with open(HOST_SYSCTL) as f:
        before = f.read()
    try:
        for n, dst in enumerate(["/proc/sys/kernel/domainname", "/etc/dn"]):
            with subtests.test(destination=dst):
                c = "%s-%d" % (cid, n)
                box.config["mounts"] = base + [bind(dst, HOST_SYSCTL)]
                box.set_args("true").write()
                r = run_ocirun("run", "-b", box.path, c)
                with open(HOST_SYSCTL) as f:
                    assert f.read() == before, "the container's sysctl was written to the host's " + HOST_SYSCTL
                one_line_error(r)
                assert "mounts[%d].destination" % len(base) in r.stderr, r.stderr
                assert_nothing_left(root, c, box, run_ocirun)
    finally:
        with open(HOST_SYSCTL) as f:
            if f.read() != before:
                with open(HOST_SYSCTL, "w") as w:
                    w.write(before)
        box.config["mounts"] = base


SHADOW_HOOK = """#!/bin/sh
# createContainer hook: shadow the container's procfs, where validation cannot see it
r=%s
mount -t tmpfs fake "$r/proc" || exit 1
mkdir -p "$r/proc/self/fd" "$r/proc/self/attr" "$r/proc/sys/kernel"
i=0
while [ $i -lt 256 ]; do : > "$r/proc/self/fd/$i"; i=$((i+1)); done
: > "$r/proc/self/attr/exec"
"""


@pytest.mark.parametrize("resolver", ["openat2", "fallback"])
def test_init_proc_writes_use_the_verified_handle(box, tmp_path, root, cid, run_ocirun, resolver):
    """CVE-2019-16884 class, with a shadow validation cannot see: a
    createContainer hook mounts a fake procfs (self/fd/N plain files) over
    the container's /proc. The init's start byte must still go to the real
    exec fifo: the container stays `created` with its process not run until
    `start`, and `start` works. (Through the container's /proc the byte lands
    in the fake file: the process runs at `create` and `start` fails.)
    Also with safepath.c's by-hand resolver (kernels without openat2)."""
    env = dict(os.environ, OCIRUN_TEST_NO_OPENAT2="1" if resolver == "fallback" else "0")
    hook = tmp_path / "shadow.sh"
    hook.write_text(SHADOW_HOOK % os.path.realpath(box.rootfs))
    hook.chmod(0o755)
    marks = tmp_path / "marks"
    marks.mkdir()
    box.config["mounts"] = box.config["mounts"] + [bind("/marks", str(marks))]
    box.config.setdefault("hooks", {})["createContainer"] = [{"path": str(hook)}]
    box.set_args("sh", "-c", "echo ran > /marks/ran").write()
    r = run_ocirun("create", "-b", box.path, cid, env=env)
    assert r.returncode == 0, r.stderr
    assert state(root, cid)["status"] == "created"
    assert not (marks / "ran").exists(), "the process ran before start"
    r = run_ocirun("start", cid, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    wait_for(
        lambda: (marks / "ran").exists() and (marks / "ran").read_text() == "ran\n",
        timeout=60,
        what="the process to run after start",
    )


# ---- the options of a bind, on that bind (remount-by-path race) ----


@pytest.fixture
def volume(tmp_path):
    """A host directory standing for a volume another container shares: it
    holds a marker and a symlink `x` -> `/` that the other container planted."""
    d = tmp_path / "volume"
    d.mkdir()
    (d / "from-source").write_text("source\n")
    os.symlink("/", str(d / "x"))
    return d


# the marker, WRITABLE if a write went through, then the mount's own options (mountinfo field 6)
RO_PROBE = (
    "cat {d}/from-source; touch {d}/written 2>/dev/null && echo WRITABLE; "
    'awk \'$5 == "{d}" {{ o = $6 }} END {{ split(o, f, ","); print f[1] }}\' /proc/self/mountinfo'
)


def test_ro_bind_options_land_on_that_bind(box, volume, cid, run_ocirun, subtests):
    """A bind's `ro` is applied by a remount after the mount. Looked up again
    by path, the destination `/mnt/x/..` now runs through the volume's own
    symlink `x` -> `/`: the remount would hit the rootfs and leave the bind
    writable (the host volume written from the container). Applied through
    the new mount's fd it is the bind that turns read-only, whatever the
    options around it (rbind, nosuid, propagation)."""
    os.makedirs(os.path.join(box.rootfs, "mnt", "x"))
    base = box.config["mounts"]
    box.config["root"]["readonly"] = False
    for n, opts in enumerate([("ro",), ("ro", "nosuid", "nodev"), ("ro", "rslave"), ("ro", "private"), ("ro", "rro")]):
        for kind in ("bind", "rbind"):
            with subtests.test(opts=opts, kind=kind):
                m = bind("/mnt/x/..", str(volume), *opts)
                m["options"][0] = kind
                box.config["mounts"] = base + [m]
                box.set_args("sh", "-c", RO_PROBE.format(d="/mnt")).write()
                r = run_ocirun("run", "-b", box.path, "%s-%d%s" % (cid, n, kind[0]))
                assert r.returncode == 0, r.stderr
                assert not (volume / "written").exists(), "the ro bind wrote to the host volume"
                assert r.stdout == "source\nro\n", (r.stdout, r.stderr)
    box.config["mounts"] = base


def test_ro_bind_through_rootfs_symlink(box, volume, cid, run_ocirun, subtests):
    """The destination is reached through a symlink inside the rootfs
    (absolute and relative), with plain, recursive (`rro`) and propagation
    options: the bind is read-only where it lands, and the rootfs around it
    stays writable."""
    os.symlink("/srv", os.path.join(box.rootfs, "abslink"))
    os.symlink("../srv", os.path.join(box.rootfs, "etc", "rellink"))
    os.makedirs(os.path.join(box.rootfs, "srv"), exist_ok=True)
    base = box.config["mounts"]
    box.config["root"]["readonly"] = False
    probe = RO_PROBE.format(d="/srv") + "; touch /root-w && echo rootfs-rw"
    for n, (dst, opts) in enumerate(
        [
            ("/abslink", ("ro",)),
            ("/etc/rellink", ("ro", "rslave")),
            ("/abslink/", ("rbind", "rro")),
            ("/etc/rellink", ("rbind", "ro", "rro")),
        ]
    ):
        with subtests.test(destination=dst, opts=opts):
            box.config["mounts"] = base + [bind(dst, str(volume), *opts)]
            box.set_args("sh", "-c", probe).write()
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, n))
            assert r.returncode == 0, r.stderr
            assert not (volume / "written").exists(), "the ro bind wrote to the host volume"
            assert r.stdout == "source\nro\nrootfs-rw\n", (r.stdout, r.stderr)
    box.config["mounts"] = base


def test_tmpfs_options_through_fd(box, cid, run_ocirun, subtests):
    """Non-bind mounts with options set after the mount (propagation, the r*
    attributes) get them on the mount just made, proved by statmount."""
    base = box.config["mounts"]
    for n, opts in enumerate([["rro"], ["rslave", "rnosuid"], ["private", "rro", "rnoexec"]]):
        with subtests.test(opts=opts):
            box.config["mounts"] = base + [
                {"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": opts}
            ]
            box.set_args(
                "sh",
                "-c",
                "touch /mnt/t/w 2>/dev/null && echo rw; grep ' /mnt/t ' /proc/self/mountinfo | cut -d' ' -f6",
            ).write()
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, n))
            assert r.returncode == 0, r.stderr
            flags = r.stdout.splitlines()[-1].split(",")
            assert ("ro" in flags) == ("rro" in opts), r.stdout
            assert ("rw\n" in r.stdout) == ("rro" not in opts), r.stdout
            assert ("nosuid" in flags) == ("rnosuid" in opts), r.stdout
    box.config["mounts"] = base
