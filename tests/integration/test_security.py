"""A malicious rootfs or container must not reach the host."""

import os
import subprocess

import pytest

import helpers

# safepath.c resolves with openat2(RESOLVE_IN_ROOT), or by hand where the
# kernel lacks it: both must hold.
RESOLVERS = pytest.mark.parametrize("resolver", ["openat2", "fallback"])


def resolver_env(resolver):
    return dict(os.environ, OCIRUN_TEST_NO_OPENAT2="1" if resolver == "fallback" else "0")


@RESOLVERS
def test_mount_destination_symlink_stays_inside(own_bundle, root, cid, run_ocirun, tmp_path, resolver):
    host_dir = tmp_path / "host-target"
    host_dir.mkdir()
    (host_dir / "host-file").write_text("host\n")
    # /evil in the rootfs points at an absolute host path
    os.symlink(str(host_dir), os.path.join(own_bundle.rootfs, "evil"))
    own_bundle.config["mounts"].append({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"})
    own_bundle.config["root"]["readonly"] = False
    own_bundle.set_args(
        "sh", "-c", "touch /evil/from-container; ls %s; grep -c host-target /proc/self/mountinfo" % host_dir
    ).write()
    r = run_ocirun("run", "-b", own_bundle.path, cid, env=resolver_env(resolver))
    assert r.returncode == 0, r.stderr
    # inside: the tmpfs sits on <rootfs><host_dir>, i.e. at host_dir as the container sees it
    assert r.stdout.split() == ["from-container", "1"]
    # outside: nothing happened to the host directory, no mount there
    assert sorted(os.listdir(host_dir)) == ["host-file"]
    assert helpers.host_mounts_mentioning(str(host_dir)) == []
    assert os.path.isdir(os.path.join(own_bundle.rootfs, str(host_dir).lstrip("/")))


@RESOLVERS
def test_dotdot_destination_stays_inside(own_bundle, root, cid, run_ocirun, tmp_path, resolver):
    own_bundle.config["mounts"].append(
        {"destination": "/../../../../tmp/dotdot-%s" % cid, "type": "tmpfs", "source": "tmpfs"}
    )
    own_bundle.config["root"]["readonly"] = False
    own_bundle.set_args("true").write()
    r = run_ocirun("run", "-b", own_bundle.path, cid, env=resolver_env(resolver))
    assert r.returncode == 0, r.stderr
    assert not os.path.exists("/tmp/dotdot-%s" % cid)
    assert os.path.isdir(os.path.join(own_bundle.rootfs, "tmp", "dotdot-%s" % cid))


@RESOLVERS
def test_masked_path_symlink_is_not_followed(own_bundle, root, cid, run_ocirun, tmp_path, resolver):
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    os.symlink(str(victim), os.path.join(own_bundle.rootfs, "masklink"))
    own_bundle.config["linux"]["maskedPaths"].append("/masklink")
    own_bundle.set_args("true").write()
    r = run_ocirun("run", "-b", own_bundle.path, cid, env=resolver_env(resolver))
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "secret\n"
    assert helpers.host_mounts_mentioning(str(victim)) == []


def test_init_is_not_dumpable_before_exec(bundle, root, cid, run_ocirun):
    """While the init is still ocirun (the host's Python), a process in the
    container cannot reach its exe, memory or fds (CVE-2019-5736 class)."""
    probe = (
        "for f in exe mem; do if cat /proc/1/$f >/dev/null 2>&1; then echo $f:open; else echo $f:denied; fi; done; "
        "readlink /proc/1/fd/0 >/dev/null 2>&1 && echo fd:open || echo fd:denied"
    )
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", probe]}]}
    bundle.set_args("true").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["exe:denied", "mem:denied", "fd:denied"]


def test_created_init_is_not_dumpable(bundle, root, cid, run_ocirun):
    bundle.set_args("true").write()
    assert run_ocirun("create", "-b", bundle.path, cid).returncode == 0
    pid = helpers.state(root, cid)["pid"]
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    # a non-dumpable process's /proc files belong to root whatever its uid; the
    # kernel reports it through the owner of /proc/PID/exe being unreachable
    # to an unprivileged reader: check as nobody
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "readlink", "/proc/%d/exe" % pid],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    assert "ocirun:[init]" in status


def test_cwd_through_proc_fd_is_refused(bundle, root, cid, run_ocirun):
    """CVE-2024-21626: a cwd of /proc/self/fd/N must not land outside the container."""
    for n in range(3, 8):
        bundle.process["cwd"] = "/proc/self/fd/%d" % n
        bundle.set_args("sh", "-c", "pwd; ls ..").write()
        c = "%s-%d" % (cid, n)
        r = run_ocirun("run", "-b", bundle.path, c)
        assert r.returncode != 0 or "/proc/self/fd" in r.stdout, r.stdout
        assert "home" not in r.stdout.split()


def test_proc_self_exe_interpreter_never_runs_the_host_binary(own_bundle, root, cid, run_ocirun):
    """CVE-2019-5736: an entrypoint `#!/proc/self/exe` must not get the host's
    Python (what the init is until its last exec): the init execs through a
    sealed memfd trampoline, which refuses to serve as an interpreter."""
    evil = os.path.join(own_bundle.rootfs, "evil")
    with open(evil, "w") as f:
        f.write("#!/proc/self/exe\nprint('host python ran')\n")
    os.chmod(evil, 0o755)
    own_bundle.set_args("/evil").write()
    r = run_ocirun("run", "-b", own_bundle.path, cid)
    assert r.returncode == 127
    assert "host python ran" not in r.stdout
    assert r.stderr == "ocirun: exec failed\n"
