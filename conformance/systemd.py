"""A real systemd, booted safely as pid 1 of a private pid and mount namespace.

Shared by tests/systemd (the systemd cgroup driver's tests) and the
conformance suite's `--systemd-cgroup` mode. Nothing here depends on pytest.

systemd runs as pid 1 of a private pid and mount namespace (issue 12), with
the protections a booting systemd needs on a host it does not own:

- its own /run, /tmp and /var/tmp (tmpfs) and the tmpfiles units masked:
  otherwise `D /tmp` in tmpfiles.d empties the HOST's /tmp;
- its own /sys/fs/cgroup tmpfs holding bind mounts of the host's hierarchies,
  READ-ONLY before systemd starts, as the host's is: a booting systemd mounts
  a v1 hierarchy for every controller /proc/cgroups lists that is not mounted
  yet (here perf_event and net_cls,net_prio, and hugetlb, which it would take
  away from the host's cgroup2), making a mount point for each. Those
  hierarchies are kernel-global: one with a child cgroup outlives systemd,
  unmounted, in every process's /proc/PID/cgroup, and containerd or runc then
  fail ("cannot find cgroup mount destination"). On a read-only tmpfs systemd
  cannot make the mount points, logs the failed mounts and carries on.

The cgroups it makes in the real hierarchies (init.scope, system.slice, ...)
are removed at the end: empty directories only, and only new top-level
entries named like units. Then the kernel's hierarchies must be as before the
boot (/proc/cgroups, /proc/self/cgroup, the host's cgroup mounts, cgroup2's
controllers): a new hierarchy is emptied and freed (_restore_cgroups), and
what cannot be restored fails, named (`booted`). Keep bundles and state out
of /tmp (systemd's /tmp is its own tmpfs): under /var/lib, say.

systemd boots in one of three cgroup layouts (MODES), chosen by `booted(mode=)`
or $OCIRUN_SYSTEMD_MODE (so `OCIRUN_SYSTEMD_MODE=unified python3 -m conformance
--systemd-cgroup --systemd-only` checks the runtimes' drivers on cgroup2):
hybrid (the host's), unified (the host's cgroup2 bound at its /sys/fs/cgroup:
a v2 host as systemd and the runtimes see it, with the controllers this
kernel leaves to cgroup2) and legacy (the v1 hierarchies and name=systemd, no
cgroup2). The hierarchies are the same kernel objects in every mode, so the
same teardown and the same checks apply.

Runtimes run inside systemd's pid and mount namespaces (`Systemd.nsenter()`),
as they run beside a host's systemd: StartTransientUnit's PIDs are pids in
systemd's namespace, and systemd refuses a connection on its private socket
from a process it cannot see.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup"


class BootError(AssertionError):
    """systemd did not boot, or its teardown left the host not as it was."""


SYSTEMD = "/lib/systemd/systemd"
BASE = "/var/lib/ocirun-test-systemd"
UNIT_SUFFIXES = (".slice", ".scope", ".mount", ".service", ".socket", ".swap", ".automount")

# The cgroup layouts systemd can boot in (its own view of /sys/fs/cgroup, in
# its mount namespace; the hierarchies are the host's, kernel-global):
#   hybrid   the host's layout: v1 controllers, name=systemd, cgroup2 at unified
#   unified  the host's cgroup2 hierarchy at /sys/fs/cgroup, nothing else (v2).
#            On a hybrid host the controllers bound to v1 stay there: cgroup2
#            offers only what no v1 hierarchy holds (hugetlb, here)
#   legacy   the v1 hierarchies and name=systemd, no cgroup2 (v1)
MODES = ("hybrid", "unified", "legacy")

# $1 the mode, $2 the host's cgroup2 mount below /sys/fs/cgroup ("" when none).
# systemd in a container reads its "kernel command line" from its own argv: the
# systemd.* options there say the layout it wants, matching the one it finds.
BOOT = r"""
set -e
MODE=$1 UNIFIED=$2
mount -t proc proc /proc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer systemd-tmpfiles-setup-dev.service; do
    mount --bind /dev/null /lib/systemd/system/$u
done
mkdir /run/.hostcg
mount --rbind /sys/fs/cgroup /run/.hostcg
umount -R /sys/fs/cgroup
if [ "$MODE" = unified ]; then
    # A bind of the host's cgroup2: a new mount of it would apply its root options anew.
    mount --bind "/run/.hostcg/$UNIFIED" /sys/fs/cgroup
    set -- systemd.unified_cgroup_hierarchy=1
else
    mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
    for d in /run/.hostcg/*; do
        n=${d##*/}
        if [ "$MODE" = legacy ] && [ "$n" = "$UNIFIED" ]; then continue; fi
        if [ -L "$d" ]; then ln -s "$(readlink "$d")" "/sys/fs/cgroup/$n"; continue; fi
        mkdir "/sys/fs/cgroup/$n"
        mount --bind "$d" "/sys/fs/cgroup/$n"
    done
    mount -o remount,ro /sys/fs/cgroup
    if [ "$MODE" = legacy ]; then
        set -- systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1
    else
        set -- systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0
    fi
fi
umount -R /run/.hostcg
rmdir /run/.hostcg
exec env container=ocirun-test /lib/systemd/systemd --system --unit=basic.target "$@"
"""


# Run by _reap_hierarchy in a private mount namespace (a mount dies with it).
# Mounts the hierarchy, removes every child cgroup deepest first, unmounts, and
# again until the hierarchy is gone or the deadline passes: the kernel frees a
# hierarchy at its unmount only if no child is left, and a removed cgroup stays
# a child until the kernel has released it (asynchronously). Prints what stayed.
REAPER = r"""
import json, os, subprocess, sys, tempfile, time
prefix, opts, deadline = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])

def alive():
    with open("/proc/self/cgroup") as f:
        return any(l.startswith(prefix) for l in f.read().splitlines())

top = tempfile.mkdtemp(prefix="ocirun-cgreap-")
left = {}
try:
    while alive():
        if time.monotonic() > deadline:
            left = left or {"": "the hierarchy is still alive with no child cgroup left"}
            break
        # Gone between the check and the mount, the hierarchy would be made anew
        # here: with no child, the unmount below frees that one at once.
        r = subprocess.run(["mount", "-t", "cgroup", "-o", opts, "cgroup", top], capture_output=True, text=True)
        if r.returncode != 0:
            left = {"": "mount -t cgroup -o %s: %s" % (opts, r.stderr.strip())}
            break
        left = {}
        for d, subs, _ in os.walk(top, topdown=False):
            if d == top:
                continue
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as e:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids = f.read().split()
                except OSError:
                    pids = []
                left[os.path.relpath(d, top)] = "%s, pids %s" % (e.strerror, pids)
        # A parent is busy because of its child: name the deepest ones.
        left = {d: w for d, w in left.items() if not any(o.startswith(d + "/") for o in left)}
        r = subprocess.run(["umount", top], capture_output=True, text=True)
        if r.returncode != 0:
            left = {"": "umount %s: %s" % (top, r.stderr.strip())}
            break
        time.sleep(0.5)
finally:
    os.rmdir(top)
print(json.dumps({"left": left}))
"""


class CgroupState:
    """What the kernel's cgroup hierarchies look like from the host: taken before
    systemd boots and compared after it stopped (see _restore_cgroups)."""

    def __init__(self):
        # {controller: hierarchy id}; 0 is the cgroup2 (default) hierarchy or none.
        self.controllers = {}
        with open("/proc/cgroups") as f:
            for l in f.read().splitlines()[1:]:
                name, hid = l.split()[:2]
                self.controllers[name] = int(hid)
        # The v1 hierarchies this process is in, each as (id, "controllers[,name=...]"):
        # every hierarchy alive is listed, mounted or not.
        with open("/proc/self/cgroup") as f:
            self.hierarchies = {
                (int(l.split(":", 2)[0]), l.split(":", 2)[1]) for l in f.read().splitlines() if not l.startswith("0::")
            }
        # The host's cgroup mounts: (mount point, fs type, root, super options).
        self.mounts = set()
        # ... and their mountinfo lines, which must come back identical (ids and all).
        self.mountinfo = []
        with open("/proc/self/mountinfo") as f:
            for l in f.read().splitlines():
                a, b = l.split(" - ", 1)
                fields, tail = a.split(), b.split()
                if tail[0] in ("cgroup", "cgroup2"):
                    self.mounts.add((fields[4], tail[0], fields[3], tail[2]))
                    self.mountinfo.append(l)
        # The controllers of each cgroup2 mount's root (hugetlb on this host).
        # and what its root hands down (cgroup.subtree_control): a systemd on
        # the host's cgroup2 (unified mode) may enable controllers there.
        self.unified = {}
        for mp, fstype, _, _ in self.mounts:
            if fstype == "cgroup2":
                for name in ("cgroup.controllers", "cgroup.subtree_control"):
                    try:
                        with open(os.path.join(mp, name)) as f:
                            self.unified[os.path.join(mp, name)] = f.read().split()
                    except OSError:
                        self.unified[os.path.join(mp, name)] = None

    def unified_mount(self):
        """The host's cgroup2 mount below /sys/fs/cgroup, relative to it ("" when none)."""
        for mp, fstype, _, _ in sorted(self.mounts):
            if fstype == "cgroup2" and os.path.dirname(mp) == CGROUP_ROOT:
                return os.path.basename(mp)
        return ""

    def differences(self, before):
        """What is not as in `before`, one readable line each."""
        out = []
        for h in sorted(self.hierarchies - before.hierarchies):
            out.append("new cgroup hierarchy %d:%s (in /proc/self/cgroup)" % h)
        for h in sorted(before.hierarchies - self.hierarchies):
            out.append("cgroup hierarchy %d:%s is gone" % h)
        for c in sorted(set(before.controllers) | set(self.controllers)):
            if before.controllers.get(c) != self.controllers.get(c):
                out.append(
                    "controller %s: hierarchy %s in /proc/cgroups, was %s"
                    % (c, self.controllers.get(c), before.controllers.get(c))
                )
        for m in sorted(self.mounts ^ before.mounts):
            out.append(
                "host cgroup mount %s %s (root %s, %s) %s"
                % (m[0], m[1], m[2], m[3], "appeared" if m in self.mounts else "is gone")
            )
        for f in sorted(set(before.unified) | set(self.unified)):
            if before.unified.get(f) != self.unified.get(f):
                out.append("%s is %s, was %s" % (f, self.unified.get(f), before.unified.get(f)))
        if not out and self.mountinfo != before.mountinfo:
            out.append(
                "the host's cgroup lines in /proc/self/mountinfo changed: %s, were %s"
                % (self.mountinfo, before.mountinfo)
            )
        return out


def _reap_hierarchy(hid, opts, timeout):
    """Mount the hierarchy `opts` names (privately) and remove its child cgroups.
    Only a hierarchy the session's systemd created comes here: it was mounted in
    systemd's mount namespace alone, so every cgroup in it is the fixture's.
    Nothing is killed: a cgroup with processes in it stays and is reported."""
    mount_opts = "none," + opts if opts.startswith("name=") else opts
    try:
        r = subprocess.run(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                sys.executable,
                "-c",
                REAPER,
                "%d:%s:" % (hid, opts),
                mount_opts,
                str(timeout),
            ],
            capture_output=True,
            text=True,
            timeout=timeout + 30,
        )
    except subprocess.TimeoutExpired:
        return ["removing the cgroups of hierarchy %s did not finish within %ds" % (opts, timeout + 30)]
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return ["removing the cgroups of hierarchy %s failed: %s" % (opts, (r.stdout + r.stderr).strip())]
    return ["cgroup hierarchy %d:%s, /%s: %s" % (hid, opts, d, why) for d, why in sorted(res["left"].items())]


def _restore_cgroups(before, timeout=30.0):
    """Bring the kernel's cgroup hierarchies back to `before` (a CgroupState).

    A v1 hierarchy systemd created (perf_event, net_cls,net_prio, hugetlb taken
    from cgroup2...) is kernel-global: it outlives systemd's mount namespace as
    long as it has a child cgroup, unmounted, listed in every /proc/PID/cgroup,
    and then containerd or runc fail to find its mount. Each new one is mounted
    privately, emptied, unmounted; then the kernel frees it (asynchronously:
    waited for, bounded). Returns what could not be restored, one line each."""
    problems = []
    for hid, opts in sorted(CgroupState().hierarchies - before.hierarchies):
        problems += _reap_hierarchy(hid, opts, timeout)
    deadline = time.monotonic() + timeout
    while True:
        diff = CgroupState().differences(before)
        if not diff or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return problems + diff


def _hierarchies():
    return [
        os.path.join(CGROUP_ROOT, h)
        for h in sorted(os.listdir(CGROUP_ROOT))
        if os.path.ismount(os.path.join(CGROUP_ROOT, h))
    ]


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
    for d, _subs, _ in os.walk(top, topdown=False):
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
    def __init__(self, pid, proc, log, mode="hybrid"):
        self.pid = pid  # systemd, as the host sees it
        self.proc = proc  # the unshare process around it
        self.log = log
        self.mode = mode  # one of MODES: the layout systemd sees
        self.private = "/proc/%d/root/run/systemd/private" % pid
        self.kernel_before = None  # the CgroupState before the boot

    def nsenter(self):
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "--"]

    def run(self, *argv, timeout=30):
        """A command inside systemd's namespaces (systemctl sees this systemd)."""
        return subprocess.run(self.nsenter() + list(argv), capture_output=True, text=True, timeout=timeout)

    def systemctl(self, *args):
        return self.run("systemctl", "--no-pager", *args)

    def show(self, unit, *props):
        """{property: value} of `systemctl show` for the unit."""
        r = self.systemctl("show", unit, *["-p" + p for p in props])
        assert r.returncode == 0, r.stderr
        return dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)

    def unit_exists(self, unit):
        return self.show(unit, "LoadState")["LoadState"] == "loaded" and self.show(unit, "ActiveState")[
            "ActiveState"
        ] not in ("inactive",)

    def hierarchy_changes(self):
        """How the kernel's cgroup hierarchies differ from before the boot (CgroupState)."""
        return CgroupState().differences(self.kernel_before)

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


def mode_unavailable(mode, state=None):
    """Why this host cannot give systemd the layout `mode`, or None when it can."""
    if mode not in MODES:
        return "unknown systemd cgroup mode `%s` (want one of %s)" % (mode, ", ".join(MODES))
    state = state or CgroupState()
    if any(m[0] == CGROUP_ROOT for m in state.mounts):
        return (
            "the host's %s is a cgroup2 mount (a v2 host): the fixture wants a tmpfs of hierarchies "
            "(a hybrid or v1 host)" % CGROUP_ROOT
        )
    if mode == "unified" and not state.unified_mount():
        return "the host has no cgroup2 mount below %s to give systemd as its /sys/fs/cgroup" % CGROUP_ROOT
    if not any(m[1] == "cgroup" and "name=systemd" in m[3].split(",") for m in state.mounts) and mode != "unified":
        return "the host has no name=systemd hierarchy mounted below %s" % CGROUP_ROOT
    return None


def start_systemd(workdir, timeout=60.0, cls=Systemd, mode="hybrid"):
    if not os.access(SYSTEMD, os.X_OK):
        raise BootError("%s is not installed: a real systemd is needed" % SYSTEMD)
    state = CgroupState()
    why = mode_unavailable(mode, state)
    if why:
        raise BootError(why)
    log = os.path.join(workdir, "systemd.log")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["unshare", "-fpm", "--propagation", "private", "sh", "-c", BOOT, "sh", mode, state.unified_mount()],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
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
                sd = cls(pid, proc, log, mode)
                if _answers(sd):
                    return sd
            else:
                pid = None if exe == "" or exe.endswith(("/sh", "/dash", "/unshare")) else pid
        time.sleep(0.2)
    sd = cls(pid or 0, proc, log, mode)
    stop_systemd(sd)
    raise BootError("systemd did not answer on its bus within %ds: %s" % (timeout, sd.log_tail()))


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


LOCK = "/run/lock/ocirun-private-systemd.lock"


def other_systemds(own=0):
    """Pids of systemd managers running in a pid namespace other than ours
    (another session's private systemd), but `own`."""
    host_ns = os.readlink("/proc/self/ns/pid")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, own):
            continue
        try:
            if (
                os.readlink("/proc/%s/exe" % entry).endswith("/systemd")
                and os.readlink("/proc/%s/ns/pid" % entry) != host_ns
            ):
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    if b"--system" in f.read():
                        found.append(int(entry))
        except OSError:
            continue
    return found


def _wait_alone(what, own=0, timeout=600.0):
    """Two private systemds share the host's hierarchies (system.slice, init.scope
    are the same directories for both): one's teardown would remove the other's
    cgroups. Wait, bounded, until no other one runs."""
    deadline = time.monotonic() + timeout
    while True:
        others = other_systemds(own)
        if not others:
            return
        if time.monotonic() > deadline:
            raise BootError(
                "%s: another private systemd (pid %s) still runs after %ds; it shares the "
                "host's cgroup hierarchies with this one" % (what, others, timeout)
            )
        time.sleep(1)


@contextlib.contextmanager
def _exclusive(timeout):
    """The lock that serialises private systemds started by this module."""
    import fcntl

    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BootError("%s is held by another session for more than %ds" % (LOCK, timeout)) from None
                time.sleep(1)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def booted(workdir, cls=Systemd, timeout=60.0, wait=600.0, mode=None):
    """One private systemd at a time (a lock, and a bounded wait for any other
    private systemd to end, before the boot and before the teardown).
    `mode` (MODES) defaults to $OCIRUN_SYSTEMD_MODE, else hybrid."""
    mode = mode or os.environ.get("OCIRUN_SYSTEMD_MODE") or "hybrid"
    with _exclusive(wait):
        _wait_alone("before the boot", timeout=wait)
        with _booted(workdir, cls, timeout, wait, mode) as sd:
            yield sd


@contextlib.contextmanager
def _booted(workdir, cls, timeout, wait, mode):
    """A systemd for the duration of the block (a `cls`, Systemd by default).

    Checks that the host's /tmp survives the boot (a canary file), and at the
    end stops systemd by its pid, removes the cgroups it made (empty ones
    only) and restores the kernel's cgroup hierarchies; raises BootError
    naming whatever is not as before the boot."""
    canary = "/tmp/.ocirun-systemd-canary-%d" % os.getpid()
    with open(canary, "w") as f:
        f.write("the host's /tmp must survive a booting systemd\n")
    cg_before = _unit_dirs()
    cg_root_before = set(os.listdir(CGROUP_ROOT))
    kernel_before = CgroupState()
    try:
        sd = start_systemd(workdir, timeout=timeout, cls=cls, mode=mode)
    except BaseException as e:
        not_restored = _restore_cgroups(kernel_before)
        try:
            os.unlink(canary)
        except OSError:
            pass
        if not_restored:
            raise BootError(
                "%s\nand the kernel's cgroup hierarchies are not as before systemd booted:\n%s"
                % (e, "\n".join(not_restored))
            ) from e
        raise
    sd.kernel_before = kernel_before
    try:
        if not os.path.exists(canary):
            raise BootError("systemd emptied the host's /tmp")
        yield sd
    finally:
        stop_systemd(sd)
        problems = []
        try:
            _wait_alone("at the teardown, before removing this systemd's cgroups", timeout=wait)
        except BootError as e:
            problems.append(str(e))
        left = []
        for d in sorted(_unit_dirs() - cg_before):
            left += _rmdir_tree(d)
        not_restored = _restore_cgroups(kernel_before)
        tmp_ok = os.path.exists(canary)
        try:
            os.unlink(canary)
        except OSError:
            pass
        stray = set(os.listdir(CGROUP_ROOT)) - cg_root_before
        if not tmp_ok:
            problems.append("systemd emptied the host's /tmp")
        if not_restored:
            problems.append(
                "the kernel's cgroup hierarchies are not as before systemd booted:\n" + "\n".join(not_restored)
            )
        if stray:
            problems.append("systemd left entries in the host's %s: %s" % (CGROUP_ROOT, sorted(stray)))
        if left:
            problems.append("cgroups left behind (busy): %s" % left)
        if problems:
            raise BootError("\n".join(problems))


def _starttime(stat_path):
    with open(stat_path) as f:
        return f.read().rpartition(")")[2].split()[19]


def host_pid(sd, nspid):
    """The host's pid of the process that is `nspid` in systemd's pid namespace,
    or None when there is none. A pid namespace of another systemd may use the
    same number: the process must also have the same start time as the one
    systemd's own /proc shows."""
    try:
        want = _starttime("/proc/%d/root/proc/%d/stat" % (sd.pid, nspid))
    except (OSError, IndexError):
        return None
    ns = os.readlink("/proc/%d/ns/pid" % sd.pid)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                nspids = next((l.split()[1:] for l in f if l.startswith("NSpid:")), [])
            if len(nspids) < 2 or nspids[1] != str(nspid) or _starttime("/proc/%s/stat" % entry) != want:
                continue
            # in systemd's namespace itself, or in one nested below it
            if len(nspids) == 2 and os.readlink("/proc/%s/ns/pid" % entry) != ns:
                continue
            return int(entry)
        except (OSError, IndexError):
            continue
    return None
