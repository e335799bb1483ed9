"""Real engines driving ocirun: podman (with conmon) and containerd (ctr).

Each engine gets private storage and sockets under a temp dir, so the host's
engine state is untouched; every daemon started here is stopped by its pid.
These check what a user of the engine sees: output, exit codes, limits,
exec, pause/resume and stats.
"""

import hashlib
import io
import json
import os
import shutil
import tarfile
import signal
import subprocess
import time

import pytest

import helpers

OCIRUN = helpers.OCIRUN


def _need(binary):
    path = shutil.which(binary)
    if path is None:
        pytest.skip("%s is not installed (hack/install installs it)" % binary)
    return path


@pytest.fixture(scope="module")
def rootfs_tar(bundle_template, tmp_path_factory):
    tar = tmp_path_factory.mktemp("engine-image") / "rootfs.tar"
    subprocess.run(["tar", "-C", os.path.join(bundle_template, "rootfs"), "-cf", str(tar), "."], check=True)
    return tar


# -- podman -------------------------------------------------------------------

@pytest.fixture(scope="module")
def podman(rootfs_tar, tmp_path_factory):
    _need("podman")
    _need("conmon")
    d = tmp_path_factory.mktemp("podman")
    conf = d / "containers.conf"
    # This machine caps nofile at 20000 and lacks CAP_SYS_RESOURCE (shared/ENGINES.md).
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    base = ["podman", "--root", str(d / "root"), "--runroot", str(d / "run"), "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", OCIRUN]

    def run(*args, timeout=120, **kw):
        return subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout, env=env, **kw)

    before = set(_podman_cgroups())
    r = run("import", str(rootfs_tar), "localhost/ocirun-test:latest")
    assert r.returncode == 0, r.stderr
    yield run
    run("rm", "--all", "--force", "--time", "0")
    # podman leaves its own (empty) libpod_parent/conmon cgroups: remove those it made here
    for path in sorted(set(_podman_cgroups()) - before, key=len, reverse=True):
        try:
            os.rmdir(path)
        except OSError:
            pass
    subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)
    subprocess.run(["umount", "-R", str(d / "run")], capture_output=True)


def _podman_cgroups():
    import glob
    return glob.glob(os.path.join(helpers.CGROUP_ROOT, "*", "libpod_parent")) + \
        glob.glob(os.path.join(helpers.CGROUP_ROOT, "*", "libpod_parent", "*"))


IMG = "localhost/ocirun-test:latest"


def test_podman_run_output_and_exit_codes(podman, subtests):
    for args, code, out in ((["echo", "hi from podman"], 0, "hi from podman\n"),
                            (["sh", "-c", "exit 3"], 3, ""), (["false"], 1, "")):
        with subtests.test(args=args):
            r = podman("run", "--rm", "--network", "none", IMG, *args)
            assert (r.returncode, r.stdout) == (code, out), r.stderr


def test_podman_limits_exec_pause_stats(podman):
    name = "ocirun-p%d" % os.getpid()
    r = podman("run", "-d", "--name", name, "--network", "none", "--memory", "64m", "--pids-limit", "50",
               IMG, "sleep", "300")
    assert r.returncode == 0, r.stderr
    try:
        r = podman("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        assert (r.returncode, r.stdout.strip()) == (0, str(64 << 20)), r.stderr
        r = podman("exec", name, "sh", "-c", "echo exec-ok; exit 5")
        assert (r.returncode, r.stdout) == (5, "exec-ok\n"), r.stderr
        assert podman("pause", name).returncode == 0
        r = podman("inspect", "--format", "{{.State.Status}}", name)
        assert r.stdout.strip() == "paused", r.stdout + r.stderr
        assert podman("unpause", name).returncode == 0
        r = podman("inspect", "--format", "{{.State.Status}}", name)
        assert r.stdout.strip() == "running"
        r = podman("stats", "--no-stream", "--format", "{{.MemUsage}}", name)
        assert r.returncode == 0 and "/ 67.11MB" in r.stdout, r.stdout + r.stderr
        r = podman("top", name)
        assert r.returncode == 0 and "sleep 300" in r.stdout, r.stdout + r.stderr
    finally:
        r = podman("rm", "--force", "--time", "0", name)
    assert r.returncode == 0, r.stderr


# -- containerd ---------------------------------------------------------------

@pytest.fixture(scope="module")
def ctr(rootfs_tar, tmp_path_factory):
    _need("containerd")
    _need("ctr")
    d = tmp_path_factory.mktemp("containerd")
    sock = d / "containerd.sock"
    (d / "config.toml").write_text('version = 2\nroot = "%s"\nstate = "%s"\n'
                                   'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                                   '[grpc]\n  address = "%s"\n' % (d / "root", d / "state", sock))
    log = open(d / "containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", str(d / "config.toml")], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert daemon.poll() is None and time.monotonic() < deadline, (d / "containerd.log").read_text()
        time.sleep(0.1)

    def run(*args, timeout=120):
        return subprocess.run(["ctr", "-a", str(sock)] + list(args), capture_output=True, text=True, timeout=timeout)

    # `ctr images import` takes a `docker save` archive: make one from the rootfs tar.
    r = run("images", "import", "--base-name", "localhost/ocirun-test", "--no-unpack", "--all-platforms",
            str(_docker_archive(rootfs_tar, d)))
    assert r.returncode == 0, r.stderr
    yield run
    for c in run("containers", "ls", "-q").stdout.split():
        run("task", "kill", "-s", "KILL", c)
        time.sleep(0.2)
        run("task", "rm", "-f", c)
        run("containers", "rm", c)
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=20)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    log.close()
    subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)
    subprocess.run(["umount", "-R", str(d / "state")], capture_output=True)


def _docker_archive(rootfs_tar, d):
    """A minimal `docker save` tarball (manifest.json, config, one layer) of the rootfs."""
    layer = rootfs_tar.read_bytes()
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_id]}}).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": config_id + ".json", "RepoTags": ["localhost/ocirun-test:latest"],
                            "Layers": [layer_id + "/layer.tar"]}]).encode()
    out = d / "image.tar"
    with tarfile.open(out, "w") as t:
        for name, data in ((config_id + ".json", config), (layer_id + "/layer.tar", layer),
                           ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out


CTR_IMG = "localhost/ocirun-test:latest"


def test_containerd_run_output_and_exit_codes(ctr, subtests):
    for i, (args, code, out) in enumerate(((["echo", "hi from containerd"], 0, "hi from containerd\n"),
                                           (["sh", "-c", "exit 4"], 4, ""))):
        with subtests.test(args=args):
            r = ctr("run", "--rm", "--runc-binary", OCIRUN, CTR_IMG, "ocirun-c%d-%d" % (os.getpid(), i), *args)
            assert (r.returncode, r.stdout) == (code, out), r.stderr


def test_containerd_exec_pause_metrics_kill(ctr):
    cid = "ocirun-cd%d" % os.getpid()
    r = ctr("run", "-d", "--runc-binary", OCIRUN, CTR_IMG, cid, "sleep", "300")
    assert r.returncode == 0, r.stderr
    try:
        r = ctr("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo exec-ok")
        assert (r.returncode, r.stdout) == (0, "exec-ok\n"), r.stderr
        assert ctr("task", "pause", cid).returncode == 0
        assert "PAUSED" in ctr("task", "ls").stdout
        assert ctr("task", "resume", cid).returncode == 0
        assert "RUNNING" in ctr("task", "ls").stdout
        r = ctr("task", "metrics", cid)
        assert r.returncode == 0 and "memory.usage_in_bytes" in r.stdout, r.stdout + r.stderr
        assert ctr("task", "kill", "-s", "KILL", cid).returncode == 0
        helpers.wait_for(lambda: "STOPPED" in ctr("task", "ls").stdout, what="task stopped")
    finally:
        ctr("task", "rm", "-f", cid)
        ctr("containers", "rm", cid)
    assert cid not in ctr("containers", "ls", "-q").stdout
