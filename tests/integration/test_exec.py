"""`ocirun exec`: a second process inside a running container."""

import os
import pty
import subprocess

import helpers
from helpers import pid_alive, state, wait_for


def _running(bundle, root, cid, run_ocirun):
    bundle.set_args("sleep", "60").write()
    assert run_ocirun("run", "-d", "-b", bundle.path, cid).returncode == 0
    return state(root, cid)["pid"]


def test_exec_joins_the_container(bundle, root, cid, run_ocirun):
    init = _running(bundle, root, cid, run_ocirun)
    r = run_ocirun(
        "exec",
        cid,
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
        "for n in mnt pid net; do readlink /proc/self/ns/$n; done; exit 6",
    )
    assert r.returncode == 6, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "ocirun" and lines[1].strip() == "sleep 60"
    assert lines[2:5] == [os.readlink("/proc/%d/ns/%s" % (init, n)) for n in ("mnt", "pid", "net")]


def test_exec_env_user_cwd(bundle, root, cid, run_ocirun):
    _running(bundle, root, cid, run_ocirun)
    r = run_ocirun(
        "exec",
        "--user",
        "65534:65534",
        "--cwd",
        "/tmp",
        "-e",
        "FOO=bar",
        cid,
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $FOO",
    )
    assert (r.returncode, r.stdout.split()) == (0, ["65534", "65534", "/tmp", "bar"]), r.stderr


def test_exec_process_json_and_pid_file(bundle, root, cid, run_ocirun, tmp_path):
    _running(bundle, root, cid, run_ocirun)
    proc = dict(bundle.process, args=["sleep", "30"])
    import json

    (tmp_path / "p.json").write_text(json.dumps(proc))
    pidfile = tmp_path / "exec.pid"
    r = run_ocirun("exec", "--process", str(tmp_path / "p.json"), "--detach", "--pid-file", str(pidfile), cid)
    assert (r.returncode, r.stderr) == (0, "")
    pid = int(pidfile.read_text())
    assert pid_alive(pid)
    with open("/proc/%d/cgroup" % pid) as f:
        assert cid in f.read()  # joined the container's cgroup
    run_ocirun("delete", "--force", cid)
    wait_for(lambda: not pid_alive(pid), what="exec'd process to die with the container")


def test_exec_errors(bundle, root, cid, run_ocirun):
    _running(bundle, root, cid, run_ocirun)
    r = run_ocirun("exec", cid, "no-such-thing")
    assert (r.returncode, r.stderr) == (255, 'exec: "no-such-thing": executable file not found in $PATH\n')
    run_ocirun("kill", cid, "KILL")
    wait_for(lambda: state(root, cid)["status"] == "stopped", what="stopped")
    r = run_ocirun("exec", cid, "true")
    assert r.returncode == 255 and "stopped" in r.stderr


def test_exec_tty(bundle, root, cid, run_ocirun):
    _running(bundle, root, cid, run_ocirun)
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [helpers.OCIRUN, "--root", root, "exec", "-t", cid, "sh", "-c", "tty; exit 2"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        from test_io import _read_until

        assert b"/dev/pts/" in _read_until(master, b"/dev/pts/")
        assert p.wait(timeout=20) == 2
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def test_exec_gets_the_container_seccomp_filter(bundle, root, cid, run_ocirun):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    _running(bundle, root, cid, run_ocirun)
    r = run_ocirun("exec", cid, "sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; echo rc=$?")
    assert r.returncode == 0, r.stderr
    assert "Seccomp:\t2" in r.stdout and "rc=1" in r.stdout
