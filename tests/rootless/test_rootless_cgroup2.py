"""Rootless in a delegated cgroup v2 subtree (issue 13), for real.

The module makes what systemd's user@.service gives a user: a directory in
the host's cgroup2 hierarchy owned by the user (the directory, its
cgroup.procs, cgroup.subtree_control and cgroup.threads), the user's shell
in a leaf of it, and a pure v2 view: each command runs in a private mount
namespace of its own (made as root, unshare -m) where the host's cgroup2
mount is bound at /sys/fs/cgroup and nothing else is, then as the user
(runuser), as tests/systemd's "unified" mode does. The host's cgroup mounts
are left as they were (checked at the end), the directories are removed.

In it, the user's containers get a child cgroup of the delegated one with
their hugetlb limits (the one controller this host's cgroup2 has), freeze,
ps, events and delete work; a limit the subtree has no controller for is
one line and leaves nothing; a root-owned subtree means no cgroup and one
warning, as on cgroup v1.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from rootless_common import one_line

# As root in a private mount namespace: the host's cgroup2 ($2) alone at
# /sys/fs/cgroup, this shell moved into the leaf $1 (relative to it), then the rest as the user.
VIEW = r"""
set -e
leaf=$1 unified=$2
shift 2
t=$(mktemp -d /tmp/ocirun-rlcg.XXXXXX)
mount --rbind /sys/fs/cgroup "$t"
umount -R /sys/fs/cgroup
mount --bind "$t/$unified" /sys/fs/cgroup
umount -R "$t"
rmdir "$t"
echo $$ > "/sys/fs/cgroup/$leaf/cgroup.procs"
exec "$@"
"""


def _cgroup_mounts():
    with open("/proc/self/mountinfo") as f:
        return sorted(" ".join(l.split()[3:]) for l in f if " - cgroup" in l)


def _unified():
    """The host's cgroup2 mount below /sys/fs/cgroup (name), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2" and fields[4].startswith("/sys/fs/cgroup/") and fields[3] == "/":
                return fields[4][len("/sys/fs/cgroup/") :]
    return None


def _pids_under(d):
    out = []
    for top, _dirs, files in os.walk(d):
        if "cgroup.procs" in files:
            with open(os.path.join(top, "cgroup.procs")) as f:
                out += [int(x) for x in f.read().split()]
    return out


def _remove_tree(d):
    """Kill what is left in d (by pid), then rmdir bottom-up; bounded."""
    if not os.path.isdir(d):
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = _pids_under(d)
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        for top, _dirs, _files in sorted(os.walk(d), key=lambda t: -len(t[0])):
            try:
                os.rmdir(top)
            except OSError:
                pass
        if not os.path.exists(d):
            return
        time.sleep(0.2)


class View:
    """The delegated subtree and how to run as the user in it."""

    def __init__(self, user, unified, name):
        self.user, self.unified, self.name = user, unified, name
        self.host_dir = os.path.join("/sys/fs/cgroup", unified, name)  # as the host sees it
        self.dir = "/sys/fs/cgroup/" + name  # as the view sees it
        self.undelegated = name + "-root"
        self.undelegated_host_dir = self.host_dir + "-root"

    def run(self, *args, timeout=90, leaf=None):
        """args as the user in the view, from the cgroup `leaf` (the delegated one's `shell`)."""
        argv = [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            VIEW,
            "sh",
            leaf or self.name + "/shell",
            self.unified,
        ] + self.user.argv(*[str(a) for a in args])
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            r = subprocess.run(
                argv,
                stdout=out,
                stderr=err,
                text=True,
                env=self.user.env(),
                cwd=self.user.work,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, r.returncode, out.read(), err.read())

    def ocirun(self, *args, **kw):
        import helpers

        return self.run(helpers.OCIRUN, *args, **kw)

    def children(self):
        return sorted(e for e in os.listdir(self.host_dir) if os.path.isdir(os.path.join(self.host_dir, e)))


@pytest.fixture(scope="module")
def view(user):
    unified = _unified()
    if unified is None or shutil.which("unshare") is None:
        pytest.skip("needs the host's cgroup2 mounted below /sys/fs/cgroup (a hybrid host) and unshare")
    root = os.path.join("/sys/fs/cgroup", unified)
    with open(os.path.join(root, "cgroup.controllers")) as f:
        if "hugetlb" not in f.read().split():
            pytest.skip("the host's cgroup2 has no hugetlb controller")
    before = _cgroup_mounts()
    v = View(user, unified, "ocirun-rlcg-%d" % os.getpid())
    enabled_here = False
    with open(os.path.join(root, "cgroup.subtree_control")) as f:
        if "hugetlb" not in f.read().split():
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as w:
                w.write("+hugetlb")  # as the delegating root does
            enabled_here = True
    try:
        os.mkdir(v.host_dir)
        os.mkdir(os.path.join(v.host_dir, "shell"))
        # systemd's delegation: the directory and these three files are the user's
        for f in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            os.chown(os.path.join(v.host_dir, f), user.uid, user.gid)
        os.mkdir(v.undelegated_host_dir)  # root's, for the non-delegated case
        yield v
    finally:
        r = user.ocirun("list", "-q", timeout=60)
        for c in r.stdout.split():
            v.ocirun("delete", "--force", c, timeout=60)
        _remove_tree(v.host_dir)
        _remove_tree(v.undelegated_host_dir)
        if enabled_here:
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as w:
                w.write("-hugetlb")
        assert not os.path.exists(v.host_dir) and not os.path.exists(v.undelegated_host_dir)
        assert _cgroup_mounts() == before, "the host's cgroup mounts changed"


LIMIT = 4 * 1024 * 1024  # 2 huge pages of 2MB


def _bundle(rbundle, cgroups_path, resources, *args):
    rbundle.config["linux"]["cgroupsPath"] = cgroups_path
    rbundle.config["linux"]["resources"] = resources
    rbundle.set_args(*args)
    return rbundle.write()


def _wait_status(view, cid, want):
    deadline = time.monotonic() + 30
    while True:
        r = view.ocirun("state", cid)
        if r.returncode == 0 and json.loads(r.stdout)["status"] == want:
            return
        assert time.monotonic() < deadline, "container %s never became %s: %s %s" % (cid, want, r.stdout, r.stderr)
        time.sleep(0.2)


def test_lifecycle_in_a_child_of_the_delegated_cgroup(view, user, rbundle, rcid):
    """create/start/exec/pause/resume/ps/events/kill/delete: the container's
    cgroup is a child of the delegated one, the user's, hugetlb limited;
    cgroup.freeze pauses it; delete removes it."""
    name = "c-" + rcid[-20:]
    _bundle(
        rbundle, "/%s/%s" % (view.name, name), {"hugepageLimits": [{"pageSize": "2MB", "limit": LIMIT}]}, "sleep", "600"
    )
    r = view.ocirun("create", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # no warning: the limits are applied
    cg = os.path.join(view.host_dir, name)
    assert os.path.isdir(cg), view.children()
    assert os.stat(cg).st_uid == user.uid
    with open(os.path.join(view.host_dir, "cgroup.subtree_control")) as f:
        assert "hugetlb" in f.read().split()
    with open(os.path.join(cg, "hugetlb.2MB.max")) as f:
        assert int(f.read()) == LIMIT
    st = json.loads(view.ocirun("state", rcid).stdout)
    pid = st["pid"]
    with open("/proc/%d/cgroup" % pid) as f:
        assert "0::/%s/%s\n" % (view.name, name) in f.read()
    assert view.ocirun("start", rcid).returncode == 0
    _wait_status(view, rcid, "running")

    r = view.ocirun("exec", rcid, "cat", "/proc/self/cgroup", "/sys/fs/cgroup/hugetlb.2MB.max")
    assert r.returncode == 0, r.stderr
    assert "0::/\n" in r.stdout and str(LIMIT) in r.stdout.split(), r.stdout

    r = view.ocirun("ps", "--format", "json", rcid)
    assert r.returncode == 0 and pid in json.loads(r.stdout), (r.stdout, r.stderr)
    r = view.ocirun("events", "--stats", rcid)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"]["hugetlb"]["2MB"]["usage"] == 0

    assert view.ocirun("pause", rcid).returncode == 0
    with open(os.path.join(cg, "cgroup.freeze")) as f:
        assert f.read().strip() == "1"
    _wait_status(view, rcid, "paused")
    assert view.ocirun("resume", rcid).returncode == 0
    _wait_status(view, rcid, "running")
    with open(os.path.join(cg, "cgroup.freeze")) as f:
        assert f.read().strip() == "0"

    assert view.ocirun("kill", rcid, "KILL").returncode == 0
    _wait_status(view, rcid, "stopped")
    r = view.ocirun("delete", rcid)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(cg)
    assert view.children() == ["shell"]


def test_run_sees_its_own_cgroup_and_limit(view, rbundle, rcid):
    """`run`: the spec's cgroup mount (with a cgroup namespace, read-only) shows
    the container's own cgroup, its limit in it; the cgroup is gone after."""
    name = "r-" + rcid[-20:]
    _bundle(
        rbundle,
        "/%s/%s" % (view.name, name),
        {"hugepageLimits": [{"pageSize": "2MB", "limit": LIMIT}]},
        "sh",
        "-c",
        "cat /proc/self/cgroup /sys/fs/cgroup/hugetlb.2MB.max; touch /sys/fs/cgroup/x || echo ro",
    )
    r = view.ocirun("run", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    # (the v1 hierarchies' lines come first: the kernel still has them)
    assert r.stdout.split()[-3:] == ["0::/", str(LIMIT), "ro"], r.stdout
    assert view.children() == ["shell"]


def test_missing_controller_is_one_line_and_leaves_nothing(view, user, rbundle, rcid):
    """pids is not in the delegated subtree: one line naming the field and the file, nothing left."""
    name = "p-" + rcid[-20:]
    _bundle(rbundle, "/%s/%s" % (view.name, name), {"pids": {"limit": 10}}, "true")
    r = view.ocirun("run", "--bundle", rbundle.path, rcid)
    one_line(r, "linux.resources.pids.limit", "pids.max")
    assert view.children() == ["shell"]
    assert rcid not in user.ocirun("list", "-q").stdout.split()
    assert not os.path.exists(os.path.join(user.root, rcid))


def test_root_owned_subtree_means_no_cgroup_and_one_warning(view, rbundle, rcid):
    """A subtree the user may not write: no cgroup, one warning, the container
    stays in the caller's cgroup (the shell's leaf), nothing made under root's
    directory; delete works."""
    _bundle(
        rbundle, "/%s/c" % view.undelegated, {"hugepageLimits": [{"pageSize": "2MB", "limit": LIMIT}]}, "sleep", "600"
    )
    r = view.ocirun("create", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "linux.resources" in lines[0] and "no delegated cgroup v2 subtree" in lines[0], lines
    assert not [
        e for e in os.listdir(view.undelegated_host_dir) if os.path.isdir(os.path.join(view.undelegated_host_dir, e))
    ]
    assert view.children() == ["shell"]
    pid = json.loads(view.ocirun("state", rcid).stdout)["pid"]
    with open("/proc/%d/cgroup" % pid) as f:
        assert "0::/%s/shell\n" % view.name in f.read()
    r = view.ocirun("delete", "--force", rcid)
    assert r.returncode == 0, r.stderr
    assert rcid not in view.ocirun("list", "-q").stdout.split()


def test_own_cgroup_outside_the_subtree_means_no_cgroup(view, user, rbundle, rcid):
    """ocirun itself runs outside the delegated subtree (in root's cgroup): the
    container's process could not be moved into it (the kernel wants write
    access to cgroup.procs of both cgroups' common ancestor), so no cgroup and
    one warning naming why, rather than a cgroup made and a failed join."""
    name = "o-" + rcid[-20:]
    _bundle(
        rbundle,
        "/%s/%s" % (view.name, name),
        {"hugepageLimits": [{"pageSize": "2MB", "limit": LIMIT}]},
        "cat",
        "/sys/fs/cgroup/cgroup.procs",
    )
    r = view.ocirun("run", "--bundle", rbundle.path, rcid, leaf=view.undelegated)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "linux.resources" in lines[0] and "outside the delegated subtree" in lines[0], lines
    assert view.children() == ["shell"]
    assert rcid not in user.ocirun("list", "-q").stdout.split()


def test_no_cgroups_path_means_beside_the_callers_cgroup(view, user, rbundle, rcid):
    """`spec --rootless` writes no cgroupsPath: as runc, the container's cgroup
    is made beside the caller's own (the shell's leaf), in the delegated
    directory, limited; delete removes it."""
    _bundle(rbundle, None, {"hugepageLimits": [{"pageSize": "2MB", "limit": LIMIT}]}, "sleep", "600")
    del rbundle.config["linux"]["cgroupsPath"]
    rbundle.write()
    r = view.ocirun("create", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    cg = os.path.join(view.host_dir, rcid)
    with open(os.path.join(cg, "hugetlb.2MB.max")) as f:
        assert int(f.read()) == LIMIT
    pid = json.loads(view.ocirun("state", rcid).stdout)["pid"]
    with open("/proc/%d/cgroup" % pid) as f:
        assert "0::/%s/%s\n" % (view.name, rcid) in f.read()
    r = view.ocirun("delete", "--force", rcid)
    assert r.returncode == 0, r.stderr
    assert view.children() == ["shell"]
    assert rcid not in user.ocirun("list", "-q").stdout.split()
