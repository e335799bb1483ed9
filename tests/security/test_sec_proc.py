"""/proc, /sys and /dev tricks: a symlinked or pre-populated /proc, masked
paths and /dev/null swapped for symlinks (CVE-2025-31133), /dev/console
bind-target races (CVE-2025-52565), procfs writes redirected through the
rootfs (CVE-2025-52881)."""

import array
import os
import socket
import subprocess
import threading

import pytest
from sec_common import one_line_error

from helpers import state, wait_for

PROBE = (
    "stat -f -c %T /proc; cat /proc/sys/kernel/domainname; cat /proc/self/oom_score_adj; "
    "echo pwned > /proc/self/attr/exec 2>/dev/null; true"
)


def host_values():
    out = {}
    for p in (
        "/proc/sys/kernel/domainname",
        "/proc/self/oom_score_adj",
        "/proc/1/oom_score_adj",
        "/proc/sys/kernel/core_pattern",
    ):
        with open(p) as f:
            out[p] = f.read()
    return out


def with_proc_writes(bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.domainname": "secdomain"}
    bundle.process["oomScoreAdj"] = 500
    bundle.set_args("sh", "-c", PROBE)
    return bundle.write()


def test_proc_symlinked(box, victim, cid, run_ocirun, subtests):
    """CVE-2025-52881 class: the rootfs's /proc is a symlink (into the rootfs,
    to an absolute host path, through `..`) while the config asks for a
    sysctl and an oomScoreAdj: procfs is never mounted through the symlink,
    the host's sysctls, oom scores and the victim are unchanged."""
    proc = os.path.join(box.rootfs, "proc")
    os.rmdir(proc)
    for n, target in enumerate(["/tmp", victim.path, "../../../../../..%s" % victim.path]):
        with subtests.test(target=target):
            if os.path.lexists(proc):
                os.unlink(proc)
            os.symlink(target, proc)
            with_proc_writes(box)
            before = host_values()
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, n))
            if r.returncode != 0:
                one_line_error(r)
            else:
                assert r.stdout.startswith("proc\nsecdomain\n500\n"), (r.stdout, r.stderr)
            assert host_values() == before
            victim.assert_untouched()
            assert not os.path.exists(os.path.join(box.rootfs, "tmp", "sys")), "procfs landed on the rootfs /tmp"


def test_proc_prepopulated(box, victim, cid, run_ocirun):
    """CVE-2025-52881 class: a rootfs /proc pre-populated with fake
    sys/kernel/domainname and with self -> a host victim: procfs is mounted
    over it and every write goes to the real procfs of the container."""
    proc = os.path.join(box.rootfs, "proc")
    os.makedirs(os.path.join(proc, "sys", "kernel"))
    with open(os.path.join(proc, "sys", "kernel", "domainname"), "w") as f:
        f.write("planted\n")
    os.symlink(victim.path, os.path.join(proc, "self"))
    with_proc_writes(box)
    before = host_values()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("proc\nsecdomain\n500\n"), (r.stdout, r.stderr)
    assert host_values() == before
    victim.assert_untouched()
    with open(os.path.join(proc, "sys", "kernel", "domainname")) as f:
        assert f.read() == "planted\n"


def no_dev_tmpfs(bundle):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/dev"]


def test_masked_paths_and_dev_null_symlinks(box, victim, cid, run_ocirun):
    """CVE-2025-31133 class: with the image's own /dev, /dev/null is a symlink
    to a host file, and two masked paths are symlinks to a host file and a
    host directory. Masking must never bind a symlink's target: /proc/keys
    and /proc/timer_list are masked by the real null device, /sys/firmware
    by an empty tmpfs, and the victim is untouched."""
    no_dev_tmpfs(box)
    dev = os.path.join(box.rootfs, "dev")
    os.symlink(victim.file, os.path.join(dev, "null"))
    os.symlink(victim.file, os.path.join(box.rootfs, "etc", "masked-file"))
    os.symlink(victim.path, os.path.join(box.rootfs, "etc", "masked-dir"))
    box.config["linux"]["maskedPaths"] = box.config["linux"].get("maskedPaths", []) + [
        "/etc/masked-file",
        "/etc/masked-dir",
    ]
    box.set_args(
        "sh",
        "-c",
        "echo pwned > /proc/keys; echo pwned > /proc/timer_list; "
        "stat -c %t:%T /proc/keys /proc/timer_list; ls /sys/firmware; "
        "cat /proc/keys /etc/masked-dir/file; true",
    ).write()
    before = host_values()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["1:3", "1:3"], r.stdout  # then nothing from ls /sys/firmware
    assert "victim" not in r.stdout, r.stdout
    assert host_values() == before
    victim.assert_untouched()


class ConsoleSocket:
    """A console-socket listener: receives the pty master, drains it."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.output = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            fds = array.array("i")
            _, anc, _, _ = conn.recvmsg(256, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        for fd in fds:
            try:
                while True:
                    b = os.read(fd, 4096)
                    if not b:
                        break
                    self.output += b
            except OSError:
                pass
            os.close(fd)

    def close(self):
        self.sock.close()
        self.thread.join(timeout=10)


def run_with_console(bundle, root, cid, run_ocirun, sockpath):
    cs = ConsoleSocket(sockpath)
    try:
        r = run_ocirun("create", "--console-socket", sockpath, "-b", bundle.path, cid)
        if r.returncode != 0:
            return r, b""
        assert run_ocirun("start", cid).returncode == 0
        wait_for(lambda: state(root, cid)["status"] == "stopped", what="stopped")
    finally:
        run_ocirun("delete", "--force", cid)
        cs.close()
    return r, cs.output


@pytest.mark.parametrize("plant", ["console-link", "dev-link"])
def test_dev_console_symlink(box, victim, root, cid, run_ocirun, tmp_path, plant):
    """CVE-2025-52565 class: process.terminal with --console-socket, where the
    image's /dev/console (or /dev itself) is a symlink to a host victim: the
    pty is bound onto a fresh /dev/console inside the rootfs, never onto the
    symlink's target."""
    no_dev_tmpfs(box)
    dev = os.path.join(box.rootfs, "dev")
    if plant == "console-link":
        os.symlink(victim.file, os.path.join(dev, "console"))
    else:
        os.rmdir(dev)
        os.symlink(victim.path, dev)
    box.process["terminal"] = True
    box.set_args("sh", "-c", "echo pwned > /dev/console; stat -c %F /dev/console; true").write()
    r, out = run_with_console(box, root, cid, run_ocirun, str(tmp_path / "c.sock"))
    if r.returncode != 0:
        one_line_error(r)
    victim.assert_untouched()


def test_dev_console_swapped_during_create(box, victim, tools, root, cid, run_ocirun, tmp_path):
    """CVE-2025-52565 class (race): a racing process keeps exchanging the
    image's /dev/console (a regular file) with a symlink to a host victim
    while containers with a terminal are created."""
    no_dev_tmpfs(box)
    dev = os.path.join(box.rootfs, "dev")
    open(os.path.join(dev, "console"), "w").close()
    os.symlink(victim.file, os.path.join(dev, "console-link"))
    box.process["terminal"] = True
    box.set_args("sh", "-c", "echo pwned > /dev/console; true").write()
    stop = victim.path + "-stop"
    racer = subprocess.Popen(
        [tools["sectool"], "swap", os.path.join(dev, "console"), os.path.join(dev, "console-link"), stop]
    )
    try:
        for i in range(8):
            r, _ = run_with_console(box, root, "%s-%d" % (cid, i), run_ocirun, str(tmp_path / ("c%d.sock" % i)))
            if r.returncode != 0:
                one_line_error(r)
            victim.assert_untouched()
    finally:
        open(stop, "w").close()
        racer.wait(timeout=30)
        os.unlink(stop)
    victim.assert_untouched()


def test_sys_symlinked(box, victim, cid, run_ocirun, subtests):
    """/sys tricks (CVE-2025-52881 class): the rootfs's /sys is a symlink to an
    absolute host path or through `..`: sysfs is never mounted through it, no
    directory is created on the host."""
    sysd = os.path.join(box.rootfs, "sys")
    os.rmdir(sysd)
    for n, target in enumerate([victim.path, "../../../../..%s" % victim.path]):
        with subtests.test(target=target):
            if os.path.lexists(sysd):
                os.unlink(sysd)
            os.symlink(target, sysd)
            box.set_args("sh", "-c", "stat -f -c %T /sys; true").write()
            r = run_ocirun("run", "-b", box.path, "%s-%d" % (cid, n))
            if r.returncode != 0:
                one_line_error(r)
            victim.assert_untouched()


def test_cgroup_mount_without_cgroupns(box, cid, run_ocirun):
    """/sys tricks (CVE-2022-0492 class, cgroup v1 release_agent): with no
    cgroup namespace the cgroup mount shows the container's own cgroup only:
    no host sibling cgroup, no release_agent anywhere, nothing writable."""
    box.config["linux"]["namespaces"] = [n for n in box.config["linux"]["namespaces"] if n["type"] != "cgroup"]
    box.set_args(
        "sh",
        "-c",
        "find /sys/fs/cgroup -maxdepth 3; "
        "for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/*/notify_on_release; do "
        "[ -e $f ] && { echo x > $f; echo wrote=$?; }; done; true",
    ).write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    seen = {os.path.basename(l) for l in r.stdout.splitlines() if l.startswith("/sys/fs/cgroup/")}
    assert "release_agent" not in seen, r.stdout
    assert "wrote=0" not in r.stdout, r.stdout
    host = set()
    for hier in os.listdir("/sys/fs/cgroup"):
        base = os.path.join("/sys/fs/cgroup", hier)
        if os.path.isdir(base):
            host |= {n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n))}
    leaked = host & seen - {"ocirun", cid}
    assert not leaked, "host cgroups visible in the container: %s" % sorted(leaked)
