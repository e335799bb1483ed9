"""Real engines driving ocirun: podman (with conmon), containerd (ctr) and dockerd.

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
import signal
import subprocess
import tarfile
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
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    base = [
        "podman",
        "--root",
        str(d / "root"),
        "--runroot",
        str(d / "run"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
        "--runtime",
        OCIRUN,
    ]

    def run(*args, timeout=120, env_extra=None, **kw):
        return subprocess.run(
            base + list(args), capture_output=True, text=True, timeout=timeout, env=dict(env, **(env_extra or {})), **kw
        )

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

    return glob.glob(os.path.join(helpers.CGROUP_ROOT, "*", "libpod_parent")) + glob.glob(
        os.path.join(helpers.CGROUP_ROOT, "*", "libpod_parent", "*")
    )


IMG = "localhost/ocirun-test:latest"


def test_podman_run_output_and_exit_codes(podman, subtests):
    for args, code, out in (
        (["echo", "hi from podman"], 0, "hi from podman\n"),
        (["sh", "-c", "exit 3"], 3, ""),
        (["false"], 1, ""),
    ):
        with subtests.test(args=args):
            r = podman("run", "--rm", "--network", "none", IMG, *args)
            assert (r.returncode, r.stdout) == (code, out), r.stderr


def test_podman_limits_exec_pause_stats(podman):
    name = "ocirun-p%d" % os.getpid()
    r = podman(
        "run", "-d", "--name", name, "--network", "none", "--memory", "64m", "--pids-limit", "50", IMG, "sleep", "300"
    )
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


# A tiny static sd_notify sender for the image (busybox has none): sends its
# argument as one datagram to $NOTIFY_SOCKET.
_SDNOTIFY_C = r"""
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (argc < 2 || path == NULL || strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "sdnotify: NOTIFY_SOCKET unset or too long\n");
        return 2;
    }
    strcpy(a.sun_path, path);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, len) < 0) {
        perror("sdnotify");
        return 1;
    }
    return 0;
}
"""

EXTRA_IMG = "localhost/ocirun-extra:latest"


@pytest.fixture(scope="module")
def podman_extra(podman, rootfs_tar, tmp_path_factory):
    """An image with /data/file (for tmpcopyup) and /sdnotify (for --sdnotify=container)."""
    d = tmp_path_factory.mktemp("podman-extra")
    _need("gcc")
    (d / "sdnotify.c").write_text(_SDNOTIFY_C)
    r = subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(d / "sdnotify"), str(d / "sdnotify.c")], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    tar = d / "extra.tar"
    shutil.copyfile(rootfs_tar, tar)
    data = b"in the image\n"
    with tarfile.open(tar, "a") as t:
        info = tarfile.TarInfo("./data")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        t.addfile(info)
        info = tarfile.TarInfo("./data/file")
        info.size, info.mode = len(data), 0o644
        t.addfile(info, io.BytesIO(data))
        t.add(str(d / "sdnotify"), "./sdnotify")
    r = podman("import", str(tar), EXTRA_IMG)
    assert r.returncode == 0, r.stderr
    return podman


def test_podman_tmpfs_copies_up_image_files(podman_extra):
    """podman marks every tmpfs `tmpcopyup`: the tmpfs starts with what the
    image has at that path."""
    r = podman_extra(
        "run",
        "--rm",
        "--network",
        "none",
        "--tmpfs",
        "/data",
        EXTRA_IMG,
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts; cat /data/file",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["tmpfs", "/data", "tmpfs"], r.stdout
    assert lines[1:] == ["in the image"], r.stdout + r.stderr


def test_podman_sdnotify_container(podman_extra, tmp_path):
    """--sdnotify=container: the READY=1 the container sends reaches the
    NOTIFY_SOCKET podman was started with. Debian's podman (4.3) relays it
    itself: it bind-mounts its own socket at /run/notify and sets
    NOTIFY_SOCKET=/run/notify/notify.sock in the config's env, and conmon
    starts the runtime without NOTIFY_SOCKET; so the runtime's part is to pass
    that env and bind mount through (runc and crun pass this test too)."""
    import socket

    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    name = "ocirun-sd%d" % os.getpid()
    try:
        r = podman_extra(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "--sdnotify=container",
            EXTRA_IMG,
            "sh",
            "-c",
            "/sdnotify READY=1 && exec sleep 300",
            env_extra={"NOTIFY_SOCKET": path},
        )
        assert r.returncode == 0, r.stderr
        got = []
        while not any(m == "READY=1" for m in got):
            got.extend(s.recv(4096).decode(errors="replace").split("\n"))  # times out after 60 s
        r = podman_extra("inspect", "--format", "{{.State.Status}}", name)
        assert r.stdout.strip() == "running", r.stdout + r.stderr
    finally:
        s.close()
        podman_extra("rm", "--force", "--time", "0", name)


# -- containerd ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ctr(rootfs_tar, tmp_path_factory):
    _need("containerd")
    _need("ctr")
    d = tmp_path_factory.mktemp("containerd")
    sock = d / "containerd.sock"
    (d / "config.toml").write_text(
        'version = 2\nroot = "%s"\nstate = "%s"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        '[grpc]\n  address = "%s"\n' % (d / "root", d / "state", sock)
    )
    log = open(d / "containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", str(d / "config.toml")], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert daemon.poll() is None and time.monotonic() < deadline, (d / "containerd.log").read_text()
        time.sleep(0.1)

    def run(*args, timeout=120):
        return subprocess.run(["ctr", "-a", str(sock)] + list(args), capture_output=True, text=True, timeout=timeout)

    # `ctr images import` takes a `docker save` archive: make one from the rootfs tar.
    r = run(
        "images",
        "import",
        "--base-name",
        "localhost/ocirun-test",
        "--no-unpack",
        "--all-platforms",
        str(_docker_archive(rootfs_tar, d)),
    )
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
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_id]},
        }
    ).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        [
            {
                "Config": config_id + ".json",
                "RepoTags": ["localhost/ocirun-test:latest"],
                "Layers": [layer_id + "/layer.tar"],
            }
        ]
    ).encode()
    out = d / "image.tar"
    with tarfile.open(out, "w") as t:
        for name, data in (
            (config_id + ".json", config),
            (layer_id + "/layer.tar", layer),
            ("manifest.json", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out


CTR_IMG = "localhost/ocirun-test:latest"


def test_containerd_run_output_and_exit_codes(ctr, subtests):
    for i, (args, code, out) in enumerate(
        ((["echo", "hi from containerd"], 0, "hi from containerd\n"), (["sh", "-c", "exit 4"], 4, ""))
    ):
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


# -- dockerd ------------------------------------------------------------------
#
# dockerd (Debian's docker.io) with everything of its own under a temp dir:
# data root, exec root, pid file, socket, config file, cgroup parent, and a
# containerd started here on its own socket, handed to dockerd with
# --containerd. (Without --containerd, dockerd 20.10 uses the host's
# containerd whenever /run/containerd/containerd.sock exists, and otherwise
# spawns one: naming ours keeps the host's daemons out of it either way.)
# The docker CLI only ever talks to our socket (-H), with its own config dir.

DOCKER_UP_TIMEOUT = 60


def _log_tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(no log: %s)" % e


def _stop_pid(proc, what, timeout=30):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _unmount_under(d):
    """Unmount every mount at or under d, deepest first (dockerd's netns files,
    shm, storage; containerd's rootfs and state)."""
    d = os.path.realpath(str(d))
    for _ in range(3):
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4].replace("\\040", " ") for line in f]
        mine = [m for m in points if m == d or m.startswith(d + "/")]
        if not mine:
            return
        for m in sorted(set(mine), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)


def _remove_cgroups(parent):
    import glob

    for ctl in glob.glob(os.path.join(helpers.CGROUP_ROOT, "*")):
        top = os.path.join(ctl, parent)
        if not os.path.isdir(top):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


DOCKER_IMG = "localhost/ocirun-test:latest"


@pytest.fixture(scope="session")
def docker(bundle_template, tmp_path_factory):
    dockerd = _need("dockerd")
    _need("containerd")
    # the CLI that comes with this dockerd (another `docker` may be earlier on PATH)
    cli = os.path.join(os.path.dirname(os.path.realpath(dockerd)), "docker")
    if not os.access(cli, os.X_OK):
        cli = os.path.join("/usr/bin", "docker") if os.access("/usr/bin/docker", os.X_OK) else _need("docker")
    d = tmp_path_factory.mktemp("dockerd")
    sock, csock = d / "docker.sock", d / "containerd.sock"
    cgparent = "ocirun-test-docker-%d" % os.getpid()

    (d / "containerd.toml").write_text(
        'version = 2\nroot = "%s"\nstate = "%s"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        '[grpc]\n  address = "%s"\n' % (d / "c-root", d / "c-state", csock)
    )
    (d / "daemon.json").write_text(
        json.dumps(
            {
                "runtimes": {"ocirun": {"path": OCIRUN}},
                "cgroup-parent": "/" + cgparent,
                "storage-driver": "vfs",
                "log-driver": "json-file",
            }
        )
    )
    clog = open(d / "containerd.log", "w")
    dlog = open(d / "dockerd.log", "w")
    procs = []
    # the fixed paths dockerd 20.10 writes whatever its flags (plugin discovery
    # dir, identity key): removed at the end if they were not there before
    made = [p for p in ("/etc/docker/key.json", "/run/docker/plugins", "/run/docker") if not os.path.exists(p)]

    def teardown():
        for p, what in reversed(procs):
            _stop_pid(p, what)
        clog.close()
        dlog.close()
        _unmount_under(d)
        _remove_cgroups(cgparent)
        for p in made:
            try:
                os.rmdir(p) if os.path.isdir(p) else os.unlink(p)
            except OSError:
                pass

    try:
        cd = subprocess.Popen(["containerd", "--config", str(d / "containerd.toml")], stdout=clog, stderr=clog)
        procs.append((cd, "containerd"))
        deadline = time.monotonic() + DOCKER_UP_TIMEOUT
        while not csock.exists():
            if cd.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "dockerd's containerd did not come up in %d s; log tail:\n%s"
                    % (DOCKER_UP_TIMEOUT, _log_tail(d / "containerd.log"))
                )
            time.sleep(0.2)
        dd = subprocess.Popen(
            [
                dockerd,
                "--config-file",
                str(d / "daemon.json"),
                "--data-root",
                str(d / "root"),
                "--exec-root",
                str(d / "exec"),
                "--pidfile",
                str(d / "docker.pid"),
                "-H",
                "unix://%s" % sock,
                "--containerd",
                str(csock),
                "--containerd-namespace",
                "moby",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
            ],
            stdout=dlog,
            stderr=dlog,
        )
        procs.append((dd, "dockerd"))
        env = dict(os.environ, DOCKER_CONFIG=str(d / "cli"), DOCKER_HOST="unix://%s" % sock)
        env.pop("DOCKER_CONTEXT", None)

        def run(*args, timeout=120, **kw):
            return subprocess.run(
                [cli, "-H", "unix://%s" % sock] + list(args),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                **kw,
            )

        deadline = time.monotonic() + DOCKER_UP_TIMEOUT
        while True:
            if dd.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "dockerd did not come up in %d s (%s); log tail:\n%s"
                    % (
                        DOCKER_UP_TIMEOUT,
                        "running" if dd.poll() is None else "exit %d" % dd.poll(),
                        _log_tail(d / "dockerd.log"),
                    )
                )
            if sock.exists() and run("version", timeout=20).returncode == 0:
                break
            time.sleep(0.5)
        tar = d / "rootfs.tar"
        subprocess.run(["tar", "-C", os.path.join(bundle_template, "rootfs"), "-cf", str(tar), "."], check=True)
        r = run("import", str(tar), DOCKER_IMG)
        assert r.returncode == 0, r.stderr
        run.dir = d
        yield run
        for c in run("ps", "-aq").stdout.split():
            run("rm", "-f", c)
    finally:
        teardown()


def _docker_config(docker, cid):
    """The config.json dockerd's containerd handed ocirun for container cid."""
    full = docker("inspect", "--format", "{{.Id}}", cid).stdout.strip()
    path = docker.dir / "c-state" / "io.containerd.runtime.v2.task" / "moby" / full / "config.json"
    with open(path) as f:
        return json.load(f)


def test_docker_run_output_and_exit_codes(docker, subtests):
    for args, code, out in ((["echo", "hi"], 0, "hi\n"), (["sh", "-c", "exit 3"], 3, ""), (["false"], 1, "")):
        with subtests.test(args=args):
            r = docker("run", "--rm", "--runtime", "ocirun", "--network", "none", DOCKER_IMG, *args)
            assert (r.returncode, r.stdout) == (code, out), r.stderr


def test_docker_rslave_volume(docker, tmp_path):
    """`-v SRC:DST:rslave`: dockerd writes rootfsPropagation rslave, ocirun runs
    it, the volume is there, and a mount made on the host afterwards shows up
    inside (HostToContainer propagation)."""
    src = tmp_path / "vol"
    src.mkdir()
    (src / "file").write_text("from the host\n")
    # dockerd wants the source on a shared or slave mount: make src its own shared mount
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    name = "ocirun-dv%d" % os.getpid()
    try:
        subprocess.run(["mount", "--make-shared", str(src)], check=True)
        r = docker(
            "run",
            "-d",
            "--name",
            name,
            "--runtime",
            "ocirun",
            "--network",
            "none",
            "-v",
            "%s:/vol:rslave" % src,
            DOCKER_IMG,
            "sleep",
            "300",
        )
        assert r.returncode == 0, r.stderr
        assert _docker_config(docker, name)["linux"]["rootfsPropagation"] == "rslave"
        r = docker("exec", name, "cat", "/vol/file")
        assert (r.returncode, r.stdout) == (0, "from the host\n"), r.stderr
        (src / "later").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "ocirun-later", str(src / "later")], check=True)
        (src / "later" / "x").write_text("propagated\n")
        r = docker("exec", name, "cat", "/vol/later/x")
        assert (r.returncode, r.stdout) == (0, "propagated\n"), r.stderr
    finally:
        docker("rm", "-f", name)
        subprocess.run(["umount", "-R", str(src)], capture_output=True)


def test_docker_exec_stop_rm(docker):
    name = "ocirun-de%d" % os.getpid()
    r = docker("run", "-d", "--name", name, "--runtime", "ocirun", "--network", "none", DOCKER_IMG, "sleep", "300")
    assert r.returncode == 0, r.stderr
    try:
        r = docker("exec", name, "sh", "-c", "echo exec-ok; exit 5")
        assert (r.returncode, r.stdout) == (5, "exec-ok\n"), r.stderr
        r = docker("inspect", "--format", "{{.State.Status}}", name)
        assert r.stdout.strip() == "running", r.stdout + r.stderr
        # sleep as pid 1 ignores SIGTERM: docker stop escalates to SIGKILL after -t
        r = docker("stop", "-t", "2", name)
        assert r.returncode == 0, r.stderr
        r = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
        assert r.stdout.split() == ["exited", "137"], r.stdout + r.stderr
        r = docker("rm", name)
        assert r.returncode == 0, r.stderr
        assert name not in docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    finally:
        docker("rm", "-f", name)
