"""A real systemd for the systemd cgroup driver's tests, started once per session.

systemd runs as pid 1 of a private pid and mount namespace (issue 12), with
the protections a booting systemd needs on a host it does not own:

- its own /run, /tmp and /var/tmp (tmpfs) and the tmpfiles units masked:
  otherwise `D /tmp` in tmpfiles.d empties the HOST's /tmp;
- its own /sys/fs/cgroup tmpfs holding bind mounts of the host's hierarchies:
  systemd adds directories and symlinks there (hugetlb, perf_event,
  cpu,cpuacct...) and that tmpfs is shared with the host otherwise.

The cgroups it makes in the real hierarchies (init.scope, system.slice, ...)
are removed at the end: empty directories only, and only new top-level
entries named like units. Bundles and state live under /var/lib, not /tmp.

ocirun runs inside systemd's pid and mount namespaces (nsenter), as it runs
beside a host's systemd: StartTransientUnit's PIDs are pids in systemd's
namespace, and systemd refuses a connection on its private socket from a
process it cannot see. There ocirun finds /run/systemd/private (the Manager
API without a bus daemon) by itself.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import helpers  # noqa: E402

SYSTEMD = "/lib/systemd/systemd"
BASE = "/var/lib/ocirun-test-systemd"
UNIT_SUFFIXES = (".slice", ".scope", ".mount", ".service", ".socket", ".swap", ".automount")

BOOT = r"""
set -e
mount -t proc proc /proc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer systemd-tmpfiles-setup-dev.service; do
    mount --bind /dev/null /lib/systemd/system/$u
done
mkdir /run/.hostcg
mount --rbind /sys/fs/cgroup /run/.hostcg
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
for d in /run/.hostcg/*; do
    n=${d##*/}
    if [ -L "$d" ]; then ln -s "$(readlink "$d")" "/sys/fs/cgroup/$n"; continue; fi
    mkdir "/sys/fs/cgroup/$n"
    mount --bind "$d" "/sys/fs/cgroup/$n"
done
umount -R /run/.hostcg
rmdir /run/.hostcg
exec env container=ocirun-test /lib/systemd/systemd --system --unit=basic.target
"""


def _hierarchies():
    return [os.path.join(helpers.CGROUP_ROOT, h) for h in sorted(os.listdir(helpers.CGROUP_ROOT))
            if os.path.ismount(os.path.join(helpers.CGROUP_ROOT, h))]


def _unit_dirs():
    found = set()
    for h in _hierarchies():
        for n in os.listdir(h):
            if n.endswith(UNIT_SUFFIXES) and os.path.isdir(os.path.join(h, n)):
                found.add(os.path.join(h, n))
    return found


def _rmdir_tree(top):
    """rmdir every directory of a cgroup tree, deepest first; a busy one stays."""
    left = []
    for d, subs, _ in os.walk(top, topdown=False):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(d)
    return left


def _child_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


class Systemd:
    def __init__(self, pid, proc, log):
        self.pid = pid              # systemd, as the host sees it
        self.proc = proc            # the unshare process around it
        self.log = log
        self.private = "/proc/%d/root/run/systemd/private" % pid

    def nsenter(self):
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "--"]

    def ocirun(self, root, *args, timeout=60, env=None):
        """The installed ocirun in systemd's namespaces. Output goes through files:
        a detached container inherits them and would keep a pipe open."""
        import tempfile
        argv = self.nsenter() + [helpers.OCIRUN, "--root", root] + [str(a) for a in args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            r = subprocess.run(argv, stdout=out, stderr=err, text=True, timeout=timeout, env=env)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, r.returncode, out.read(), err.read())

    def run(self, *argv, timeout=30):
        """A command inside systemd's namespaces (systemctl sees this systemd)."""
        return subprocess.run(self.nsenter() + list(argv),
                              capture_output=True, text=True, timeout=timeout)

    def systemctl(self, *args):
        return self.run("systemctl", "--no-pager", *args)

    def show(self, unit, *props):
        """{property: value} of `systemctl show` for the unit."""
        r = self.systemctl("show", unit, *["-p" + p for p in props])
        assert r.returncode == 0, r.stderr
        return dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)

    def unit_exists(self, unit):
        return self.show(unit, "LoadState")["LoadState"] == "loaded" and \
            self.show(unit, "ActiveState")["ActiveState"] not in ("inactive",)

    def log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""


def _answers(sd):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(sd.private)
        s.close()
    except OSError:
        return False
    r = sd.systemctl("is-system-running")
    return r.stdout.strip() in ("running", "degraded")


def start_systemd(workdir, timeout=60.0):
    if not os.access(SYSTEMD, os.X_OK):
        pytest.fail("%s is not installed: the systemd driver's tests need a real systemd" % SYSTEMD)
    log = os.path.join(workdir, "systemd.log")
    with open(log, "w") as out:
        proc = subprocess.Popen(["unshare", "-fpm", "--propagation", "private", "sh", "-c", BOOT],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + timeout
    pid = None
    while time.monotonic() < deadline and proc.poll() is None:
        pid = pid or _child_of(proc.pid)
        if pid:
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                exe = ""
            if exe.endswith("/systemd"):
                sd = Systemd(pid, proc, log)
                if _answers(sd):
                    return sd
            else:
                pid = None if exe == "" or exe.endswith(("/sh", "/dash", "/unshare")) else pid
        time.sleep(0.2)
    sd = Systemd(pid or 0, proc, log)
    stop_systemd(sd)
    pytest.fail("systemd did not answer on its bus within %ds: %s" % (timeout, sd.log_tail()))


def stop_systemd(sd, timeout=30.0):
    """Power off (SIGRTMIN+4: systemd stops its units and exits), then SIGKILL if it is stuck."""
    if sd.pid and sd.proc.poll() is None:
        try:
            os.kill(sd.pid, signal.SIGRTMIN + 4)
        except ProcessLookupError:
            pass
        try:
            sd.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # pid 1 of its namespace: killing it takes every process there along.
            try:
                os.kill(sd.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if sd.proc.poll() is None:
        try:
            sd.proc.wait(10)
        except subprocess.TimeoutExpired:
            sd.proc.kill()
            sd.proc.wait(10)


@pytest.fixture(scope="session")
def systemd_workdir():
    if os.geteuid() != 0 or not os.access(helpers.OCIRUN, os.X_OK):
        pytest.fail("the systemd driver's tests need root and an installed %s" % helpers.OCIRUN)
    d = os.path.join(BASE, str(os.getpid()))
    os.makedirs(d, exist_ok=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)
    try:
        os.rmdir(BASE)
    except OSError:
        pass


@pytest.fixture(scope="session")
def systemd(systemd_workdir):
    """The session's systemd (a Systemd); stopped, and its cgroups removed, at the end."""
    canary = "/tmp/.ocirun-systemd-canary-%d" % os.getpid()
    with open(canary, "w") as f:
        f.write("the host's /tmp must survive a booting systemd\n")
    cg_before = _unit_dirs()
    cg_root_before = set(os.listdir(helpers.CGROUP_ROOT))
    sd = start_systemd(systemd_workdir)
    try:
        assert os.path.exists(canary), "systemd emptied the host's /tmp"
        yield sd
    finally:
        stop_systemd(sd)
        left = []
        for d in sorted(_unit_dirs() - cg_before):
            left += _rmdir_tree(d)
        tmp_ok = os.path.exists(canary)
        try:
            os.unlink(canary)
        except OSError:
            pass
        stray = set(os.listdir(helpers.CGROUP_ROOT)) - cg_root_before
        assert tmp_ok, "systemd emptied the host's /tmp"
        assert not stray, "systemd left entries in the host's %s: %s" % (helpers.CGROUP_ROOT, sorted(stray))
        assert not left, "cgroups left behind (busy): %s" % left


@pytest.fixture(scope="session")
def bundle_template(systemd_workdir):
    d = os.path.join(systemd_workdir, "busybox-bundle")
    os.makedirs(d, exist_ok=True)
    subprocess.run([os.path.join(helpers.REPO, "hack", "mkbundle"), d, "ocirun"], check=True,
                   capture_output=True)
    return d


@pytest.fixture
def sd_dir(systemd_workdir, cid):
    d = os.path.join(systemd_workdir, cid)
    os.makedirs(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def root(sd_dir):
    d = os.path.join(sd_dir, "state")
    os.mkdir(d)
    return d


@pytest.fixture
def bundle(bundle_template, sd_dir):
    """Without a cgroup namespace: the container's /sys/fs/cgroup shows its own cgroups (the scope's)."""
    b = helpers.make_bundle(bundle_template, os.path.join(sd_dir, "bundle"))
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "cgroup"]
    b.config["process"]["terminal"] = False
    return b.write()


@pytest.fixture
def sd_ocirun(systemd, root):
    """sd_ocirun(*args) in systemd's namespaces; every container id used is deleted at the end."""
    used = set()

    def run(*args, **kw):
        for a in args:
            if isinstance(a, str) and a.startswith("t%d-" % os.getpid()):
                used.add(a)
        return systemd.ocirun(root, *args, **kw)

    yield run
    for c in sorted(used):
        systemd.ocirun(root, "delete", "--force", c)
