"""podman with cgroup_manager = "systemd" and ocirun as its runtime, under the
session's real systemd: podman (and conmon) run in systemd's namespaces, reach
it on the system bus there, and hand ocirun `--systemd-cgroup` with a
`machine.slice:libpod:<id>` cgroupsPath."""

import os
import shutil
import subprocess

import pytest

import helpers

IMG = "localhost/ocirun-test:latest"

# In unified mode cgroup2 here has no pids or memory controller: podman runs
# without its default pids limit and without limits (see test_systemd_driver.py).


@pytest.fixture(scope="module")
def podman(systemd, systemd_workdir, bundle_template):
    for b in ("podman", "conmon"):
        if shutil.which(b) is None:
            pytest.skip("%s is not installed (hack/install installs it)" % b)
    d = os.path.join(systemd_workdir, "podman")
    os.makedirs(d)
    tar = os.path.join(d, "rootfs.tar")
    subprocess.run(["tar", "-C", os.path.join(bundle_template, "rootfs"), "-cf", tar, "."], check=True)
    conf = os.path.join(d, "containers.conf")
    with open(conf, "w") as f:
        # This machine caps nofile at 20000 and lacks CAP_SYS_RESOURCE (shared/ENGINES.md).
        f.write(
            '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
            + ("pids_limit = 0\n" if systemd.mode == "unified" else "")
            + '[engine]\ncgroup_manager = "systemd"\nevents_logger = "file"\n'
        )
    env = dict(os.environ, CONTAINERS_CONF=conf)
    base = systemd.nsenter() + [
        "podman",
        "--root",
        d + "/root",
        "--runroot",
        d + "/run",
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "systemd",
        "--events-backend",
        "file",
        "--runtime",
        helpers.OCIRUN,
    ]

    def run(*args, timeout=120):
        return subprocess.run(
            base + list(args), capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
        )

    r = run("import", tar, IMG)
    assert r.returncode == 0, r.stderr
    yield run
    run("rm", "--all", "--force", "--time", "0")
    # Its storage mounts live in systemd's mount namespace and go with it.
    shutil.rmtree(d, ignore_errors=True)


def test_podman_runs_execs_stops_and_removes_in_a_systemd_scope(systemd, podman):
    r = podman("run", "--rm", "--network", "none", IMG, "echo", "hi from podman")
    assert (r.returncode, r.stdout) == (0, "hi from podman\n"), r.stderr

    v2 = systemd.mode == "unified"
    limits = () if v2 else ("--memory", "64m", "--pids-limit", "50")
    r = podman("run", "-d", "--name", "sdweb", "--network", "none", *limits, IMG, "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    unit = "libpod-%s.scope" % cid
    try:
        assert podman("inspect", "--format", "{{.OCIRuntime}}", "sdweb").stdout.strip() == helpers.OCIRUN
        assert systemd.show(unit, "ActiveState", "Slice", "Delegate") == {
            "ActiveState": "active",
            "Slice": "machine.slice",
            "Delegate": "yes",
        }
        if v2:
            # (podman gives the container a cgroup namespace on v2: look from systemd's side)
            pid = podman("inspect", "--format", "{{.State.Pid}}", "sdweb").stdout.strip()
            r = systemd.run("cat", "/sys/fs/cgroup/machine.slice/%s/cgroup.procs" % unit)
            assert r.returncode == 0 and pid in r.stdout.split(), (pid, r.stdout, r.stderr)
        else:
            assert systemd.show(unit, "MemoryLimit", "TasksMax") == {"MemoryLimit": str(64 << 20), "TasksMax": "50"}
            r = podman(
                "exec", "sdweb", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max"
            )
            assert (r.returncode, r.stdout.split()) == (0, [str(64 << 20), "50"]), r.stderr
        r = podman("exec", "sdweb", "sh", "-c", "echo exec-ok; exit 5")
        assert (r.returncode, r.stdout) == (5, "exec-ok\n"), r.stderr
        assert podman("pause", "sdweb").returncode == 0
        assert podman("inspect", "--format", "{{.State.Status}}", "sdweb").stdout.strip() == "paused"
        assert podman("unpause", "sdweb").returncode == 0
        r = podman("stop", "--time", "1", "sdweb")
        assert r.returncode == 0, r.stderr
        assert podman("inspect", "--format", "{{.State.Status}}", "sdweb").stdout.strip() == "exited"
        r = podman("rm", "sdweb")
        assert r.returncode == 0, r.stderr
        assert systemd.show(unit, "LoadState")["LoadState"] == "not-found"
        import glob

        assert glob.glob("/sys/fs/cgroup/*/machine.slice/" + unit) == []
    finally:
        podman("rm", "--force", "--time", "0", "sdweb")
