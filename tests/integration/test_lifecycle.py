"""create / start / state / kill / delete / run through the installed binary."""

import os
import shutil
import subprocess

import pytest

import helpers
from helpers import pid_alive, state, wait_for

STATE_KEYS = {
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
    "cgroupsPath",
}  # cgroupsPath: ours, after runc's fields


def test_run_prints_and_cleans_up(bundle, root, cid, run_ocirun):
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert (r.returncode, r.stdout, r.stderr) == (0, "hello from ocirun\n", "")
    assert not os.path.exists(os.path.join(root, cid))
    assert helpers.cgroup_dirs(cid) == []


@pytest.mark.parametrize(
    "args,code",
    [
        (["true"], 0),
        (["false"], 1),
        (["sh", "-c", "exit 3"], 3),
    ],
)
def test_run_exit_codes(bundle, cid, run_ocirun, args, code):
    bundle.set_args(*args).write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == code, r.stderr
    if shutil.which("runc"):
        rr = subprocess.run(
            ["runc", "--root", os.path.join(bundle.path, "runc-root"), "run", "-b", bundle.path, cid + "-runc"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rr.returncode == code, "runc says %d: %s" % (rr.returncode, rr.stderr)


def test_run_killed_from_outside_is_137(bundle, root, cid, run_ocirun):
    bundle.set_args("sleep", "60").write()
    proc = subprocess.Popen(
        [helpers.OCIRUN, "--root", root, "run", "-b", bundle.path, cid],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: os.path.exists(os.path.join(root, cid, "state.json")) and state(root, cid)["status"] == "running",
            what="running",
        )
        r = run_ocirun("kill", cid, "KILL")
        assert r.returncode == 0, r.stderr
        assert proc.wait(timeout=20) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not os.path.exists(os.path.join(root, cid))


def test_create_start_state_kill_delete(bundle, root, cid, run_ocirun, tmp_path):
    bundle.set_args("sleep", "60").write()
    pidfile = tmp_path / "init.pid"
    r = run_ocirun("create", "--bundle", bundle.path, "--pid-file", str(pidfile), cid)
    assert (r.returncode, r.stderr) == (0, "")
    raw = pidfile.read_text()
    assert raw.isdigit(), repr(raw)  # decimal, no newline
    pid = int(raw)
    st = state(root, cid)
    assert set(st) == STATE_KEYS
    assert st["status"] == "created" and st["pid"] == pid and st["id"] == cid
    assert st["bundle"] == bundle.path and st["rootfs"] == bundle.rootfs and st["ociVersion"] == "1.3.0"
    assert st["created"].endswith("Z") and len(st["created"]) == len("2026-01-01T00:00:00.123456789Z")
    with open("/proc/%d/comm" % pid) as f:
        assert f.read().strip() == "ocirun:[init]"
    assert os.path.exists(os.path.join(root, cid, "exec.fifo"))

    r = run_ocirun("start", cid)
    assert (r.returncode, r.stderr) == (0, "")
    st = state(root, cid)
    assert st["status"] == "running" and st["pid"] == pid
    assert not os.path.exists(os.path.join(root, cid, "exec.fifo"))
    with open("/proc/%d/comm" % pid) as f:
        assert f.read().strip() == "sleep"

    r = run_ocirun("start", cid)
    assert r.returncode == 1 and "running" in r.stderr

    r = run_ocirun("delete", cid)
    assert r.returncode == 1
    assert r.stderr == "cannot delete container %s that is not stopped: running\n" % cid

    assert run_ocirun("kill", cid, "KILL").returncode == 0
    wait_for(lambda: state(root, cid)["status"] == "stopped", what="stopped")
    assert state(root, cid)["pid"] == 0
    r = run_ocirun("kill", cid)
    assert (r.returncode, r.stderr) == (1, "container not running\n")
    r = run_ocirun("start", cid)
    assert r.returncode == 1 and r.stderr == "cannot start a container that has stopped\n"

    r = run_ocirun("delete", cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert not os.path.exists(os.path.join(root, cid))
    assert helpers.cgroup_dirs(cid) == []
    r = run_ocirun("state", cid)
    assert (r.returncode, r.stderr) == (1, "container does not exist\n")


def test_delete_created_kills_init(bundle, root, cid, run_ocirun):
    bundle.set_args("true").write()
    assert run_ocirun("create", "-b", bundle.path, cid).returncode == 0
    pid = state(root, cid)["pid"]
    r = run_ocirun("delete", cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert not pid_alive(pid)
    assert not os.path.exists(os.path.join(root, cid))


def test_delete_force_running(bundle, root, cid, run_ocirun):
    bundle.set_args("sleep", "60").write()
    assert run_ocirun("run", "-d", "-b", bundle.path, cid).returncode == 0
    pid = state(root, cid)["pid"]
    r = run_ocirun("delete", "--force", cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert not pid_alive(pid)
    assert helpers.cgroup_dirs(cid) == []


def test_delete_missing(run_ocirun, cid):
    r = run_ocirun("delete", cid)
    assert (r.returncode, r.stderr) == (1, "container does not exist\n")
    assert run_ocirun("delete", "--force", cid).returncode == 0


def test_create_existing_id(bundle, cid, run_ocirun):
    bundle.set_args("true").write()
    assert run_ocirun("create", "-b", bundle.path, cid).returncode == 0
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert (r.returncode, r.stderr) == (1, "container with given ID already exists\n")


def test_create_config_flag(bundle, root, cid, run_ocirun):
    os.rename(os.path.join(bundle.path, "config.json"), os.path.join(bundle.path, "other.json"))
    r = run_ocirun("run", "-b", bundle.path, "-f", "other.json", cid)
    assert (r.returncode, r.stdout) == (0, "hello from ocirun\n")


def test_kill_signal_spellings(bundle, root, cid, run_ocirun, subtests):
    bundle.set_args("sh", "-c", "trap 'exit 7' USR1; trap 'exit 8' TERM; while :; do sleep 0.05; done").write()
    for n, sig in enumerate(["USR1", "SIGUSR1", "10", "TERM", "sigterm", "15"]):
        with subtests.test(signal=sig):
            c = "%s-%d" % (cid, n)
            assert run_ocirun("run", "-d", "-b", bundle.path, c).returncode == 0
            pid = state(root, c)["pid"]
            r = run_ocirun("kill", c, sig)
            assert (r.returncode, r.stderr) == (0, "")
            wait_for(lambda: not pid_alive(pid), what="exit on %s" % sig)
            assert run_ocirun("delete", c).returncode == 0
    r = run_ocirun("kill", cid, "NOPE")
    assert r.returncode == 1


def test_kill_default_is_term(bundle, root, cid, run_ocirun):
    bundle.set_args("sh", "-c", "trap 'exit 8' TERM; while :; do sleep 0.05; done").write()
    assert run_ocirun("run", "-d", "-b", bundle.path, cid).returncode == 0
    pid = state(root, cid)["pid"]
    assert run_ocirun("kill", cid).returncode == 0
    wait_for(lambda: not pid_alive(pid), what="exit on TERM")


def test_kill_all(bundle, root, cid, run_ocirun):
    bundle.set_args("sh", "-c", "sleep 60 & sleep 60").write()
    assert run_ocirun("run", "-d", "-b", bundle.path, cid).returncode == 0
    pid = state(root, cid)["pid"]
    r = run_ocirun("kill", "--all", cid, "KILL")
    assert (r.returncode, r.stderr) == (0, "")
    wait_for(lambda: not pid_alive(pid), what="init gone")


def test_run_keep(bundle, root, cid, run_ocirun):
    bundle.set_args("true").write()
    assert run_ocirun("run", "--keep", "-b", bundle.path, cid).returncode == 0
    assert state(root, cid)["status"] == "stopped"
    assert run_ocirun("delete", cid).returncode == 0


def test_missing_binary(bundle, root, cid, run_ocirun):
    bundle.set_args("no-such-binary").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 1
    assert r.stderr == 'exec: "no-such-binary": executable file not found in $PATH\n'
    assert not os.path.exists(os.path.join(root, cid))
    assert helpers.cgroup_dirs(cid) == []


def test_hostname_user_cwd_env(bundle, cid, run_ocirun):
    bundle.config["hostname"] = "box1"
    bundle.process["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5, 7], "umask": 0o077}
    bundle.process["cwd"] = "/made/for/me"
    bundle.process["env"].append("FOO=bar baz")
    bundle.config["root"]["readonly"] = False
    bundle.set_args("sh", "-c", "hostname; id -u; id -g; id -G; pwd; umask; echo $FOO").write()
    # the shared rootfs must not get /made: use a writable tmpfs there
    bundle.config["mounts"].append({"destination": "/made", "type": "tmpfs", "source": "tmpfs"})
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:7] == ["box1", "65534", "65534", "65534 5 7", "/made/for/me", "0077", "bar baz"]


def test_rlimits_caps_nnp(bundle, cid, run_ocirun):
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]
    bundle.set_args(
        "sh", "-c", "ulimit -n; ulimit -Hn; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"
    ).write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[:2] == ["321", "654"]
    # CAP_AUDIT_WRITE(29) | CAP_KILL(5) | CAP_NET_BIND_SERVICE(10)
    assert "CapEff:\t0000000020000420" in lines and "CapBnd:\t0000000020000420" in lines
    assert "NoNewPrivs:\t1" in lines


def test_unknown_capability_is_a_warning(bundle, cid, run_ocirun):
    bundle.process["capabilities"]["bounding"].append("CAP_NOT_A_THING")
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0
    assert "CAP_NOT_A_THING" in r.stderr and r.stderr.startswith("warning: ")


def test_readonly_root_and_paths(bundle, cid, run_ocirun):
    bundle.set_args(
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo rootrw || echo rootro; "
        "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sysrw || echo sysro; "
        "cat /proc/keys 2>&1 | wc -c; ls /sys/firmware | wc -l",
    ).write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["rootro", "sysro", "0", "0"]


def test_sysctl(bundle, cid, run_ocirun):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
    bundle.set_args("sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert (r.returncode, r.stdout.split()) == (0, ["1", "1"]), r.stderr


def test_devices_and_dev_links(bundle, cid, run_ocirun):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 12, "gid": 34}
    ]
    bundle.set_args(
        "sh",
        "-c",
        "stat -c '%t:%T %a %u:%g' /dev/mynull /dev/null; for l in /dev/fd /dev/ptmx /dev/stdout; do readlink $l; done",
    ).write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:5] == ["1:3 600 12:34", "1:3 666 0:0", "/proc/self/fd", "pts/ptmx", "/proc/self/fd/1"]


def test_cgroup_mount(bundle, cid, run_ocirun):
    bundle.set_args("sh", "-c", "grep ' /sys/fs/cgroup' /proc/self/mountinfo | awk '{print $5, $6}'").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    mounts = dict(l.split() for l in r.stdout.splitlines())
    assert mounts["/sys/fs/cgroup"].startswith("ro")
    if os.path.isdir("/sys/fs/cgroup/memory"):  # v1 or hybrid host
        assert mounts["/sys/fs/cgroup/memory"].startswith("ro")


def test_bad_config_is_one_line(bundle, root, cid, run_ocirun):
    bundle.config["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["bind"]}
    )
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    # refused before anything is spawned, naming the field (validate prints the same)
    n = len(bundle.config["mounts"]) - 1
    assert r.stderr == "mounts[%d].source: `/no/such/source`: ENOENT (No such file or directory)\n" % n
    assert not os.path.exists(os.path.join(root, cid))


def test_terminal_needs_console_socket(bundle, root, cid, run_ocirun):
    bundle.process["terminal"] = True
    bundle.write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 1 and "console socket" in r.stderr
    assert not os.path.exists(os.path.join(root, cid))


def test_cgroup_mount_without_cgroupns_shows_only_the_container(bundle, cid, run_ocirun):
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "cgroup"]
    bundle.set_args("sh", "-c", "grep ' /sys/fs/cgroup/' /proc/self/mountinfo | cut -d' ' -f4,5").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    roots = {l.split()[1]: l.split()[0] for l in r.stdout.splitlines()}
    assert roots and all(v.endswith("/" + cid) for v in roots.values()), roots


def test_sigterm_ends_a_created_container(bundle, root, cid, run_ocirun):
    """pid 1 of a namespace ignores signals it has no handler for; the waiting
    init handles TERM (as runc's does), so `kill ID` stops a created container."""
    bundle.set_args("sleep", "60").write()
    assert run_ocirun("create", "-b", bundle.path, cid).returncode == 0
    pid = state(root, cid)["pid"]
    assert run_ocirun("kill", cid).returncode == 0
    wait_for(lambda: not pid_alive(pid), what="the created init to die of SIGTERM")
    assert state(root, cid)["status"] == "stopped"
