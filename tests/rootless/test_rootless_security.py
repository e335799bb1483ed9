"""The security suite's attack classes that apply rootless, run by the
session's non-root user (tests/security has the root variants):

- CVE-2019-5736 class: a `#!/proc/self/exe` entrypoint (run, and exec) must
  re-run the sealed trampoline, never a runtime binary; no writable open, no
  handle on a host runtime file.
- CVE-2021-30465 class: mount destinations that are symlinks to host paths
  (here a directory the user owns, which the user could write: the prize of
  a rootless escape) land inside the rootfs; the host directory is untouched.
- CVE-2024-21626 class: the process (run and exec) gets fds 0, 1, 2 only.
"""

import importlib.util
import os
import shutil
import subprocess
import uuid

import pytest
from rootless_common import HERE

import helpers

SEC = os.path.join(os.path.dirname(HERE), "security")


def _sec_common():
    """tests/security's parsers (sectool's line protocol), loaded by path."""
    spec = importlib.util.spec_from_file_location("sec_common_rootless", os.path.join(SEC, "sec_common.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sec = _sec_common()


@pytest.fixture(scope="session")
def rtools(user):
    """sectool and fakeld (tests/security's sources), compiled for this session."""
    d = os.path.join(user.work, "tools")
    os.mkdir(d, 0o755)
    out = {}
    for name, extra in [
        ("sectool", ["-static"]),
        ("fakeld", ["-static", "-nostdlib", "-fno-stack-protector", "-fno-pie", "-no-pie"]),
    ]:
        dst = os.path.join(d, name)
        subprocess.run(
            ["gcc", "-O2", "-Wall"] + extra + ["-o", dst, os.path.join(SEC, name + ".c")],
            check=True,
            capture_output=True,
        )
        out[name] = dst
    return out


@pytest.fixture
def rbox(user, rbundle, rtools):
    """rbundle with its own rootfs copy (owned by the user) and /bin/sectool in it."""
    own = os.path.join(rbundle.path, "rootfs")
    subprocess.run(["cp", "-a", rbundle.rootfs, own], check=True)
    shutil.copy(rtools["sectool"], os.path.join(own, "bin", "sectool"))
    subprocess.run(["chown", "-R", "%d:%d" % (user.uid, user.gid), own], check=True)
    rbundle.rootfs = own
    rbundle.config["root"]["path"] = "rootfs"
    return rbundle.write()


def _plant_exe_trick(box, tools, user):
    lib64 = os.path.join(box.rootfs, "lib64")
    os.makedirs(lib64, exist_ok=True)
    shutil.copy(tools["fakeld"], os.path.join(lib64, "ld-linux-x86-64.so.2"))
    evil = os.path.join(box.rootfs, "bin", "evil")
    with open(evil, "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(evil, 0o755)
    subprocess.run(["chown", "-R", "%d:%d" % (user.uid, user.gid), lib64, evil], check=True)


def _assert_trampoline_refused(r, inodes):
    out = r.stdout + r.stderr
    assert sec.writable_opens(out) == [], "opened a runtime file for writing:\n" + out
    held = {f[2] for f in sec.parse(out) if f[0] == "H"} & set(inodes)
    assert not held, "the container holds a handle on host runtime files %s:\n%s" % ([inodes[k] for k in held], out)
    # the sealed trampoline re-ran itself: no runtime binary ran at all
    assert r.returncode == 127 and "ocirun: exec failed" in r.stderr, (r.returncode, out)


@pytest.fixture(scope="session")
def runtime_inodes():
    """(dev, ino) of every file the runtime maps on the host (as tests/security)."""
    import json

    interp, boot = helpers.launcher_paths()
    with open(boot, "rb") as f:
        head = f.read(4096).decode("utf-8", "replace")
    site = []
    for line in head.splitlines():
        if line.startswith("sys.path[:0] = "):
            site = json.loads(line.split("=", 1)[1].strip().replace("'", '"'))
    code = "import sys; sys.path[:0] = %r; import runtime._core\nprint(open('/proc/self/maps').read())" % site
    out = subprocess.run([interp, "-IS", "-c", code], capture_output=True, text=True, check=True).stdout
    inodes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[5].startswith("/"):
            st = os.stat(parts[5])
            inodes["%d:%d" % (st.st_dev, st.st_ino)] = parts[5]
    assert any("_core" in p for p in inodes.values())
    return inodes


def test_exe_interpreter_trick_rootless(user, rbox, rtools, rcid, runtime_inodes):
    """CVE-2019-5736 class, rootless `run` and `exec`: the entrypoint
    `#!/proc/self/exe` re-runs the sealed trampoline (made in the container's
    namespaces when unprivileged), which refuses: exit 127, `ocirun: exec
    failed`; the host interpreter is never run, opened or held."""
    _plant_exe_trick(rbox, rtools, user)
    rbox.set_args("/bin/evil").write()
    r = user.ocirun("run", "--bundle", rbox.path, rcid)
    _assert_trampoline_refused(r, runtime_inodes)
    c = rcid + "-x"
    rbox.set_args("sleep", "600").write()
    r = user.ocirun("run", "--detach", "--bundle", rbox.path, c)
    try:
        assert r.returncode == 0, r.stderr
        r = user.ocirun("exec", c, "/bin/evil")
        _assert_trampoline_refused(r, runtime_inodes)
    finally:
        user.ocirun("delete", "--force", c)


def _bind(dst, src):
    return {"destination": dst, "type": "bind", "source": src, "options": ["rbind", "rw"]}


def _tmpfs(dst):
    return {"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}


CASES = [
    ("dest-abs", {"dst": "{v}"}, "/mnt/dst", "{v}"),
    ("dest-abs-new-leaf", {"dst": "{v}/new"}, "/mnt/dst", "{v}/new"),
    ("parent-abs", {"par": "{v}"}, "/mnt/par/sub", "{v}/sub"),
    ("dest-dotdot", {"dd": "../../../../../../../..{v}/dd"}, "/mnt/dd", "{v}/dd"),
    ("chain", {"c1": "/mnt/c2", "c2": "{v}/chain"}, "/mnt/c1/x", "{v}/chain/x"),
]


def test_mount_destination_symlinks_rootless(user, rbox, rcid, subtests):
    """CVE-2021-30465 class, rootless: destinations that are (or sit under)
    symlinks to a host directory the user owns: every mount lands inside the
    rootfs; nothing is created or mounted in the host directory."""
    victim = "/tmp/victim-rl-%s" % uuid.uuid4().hex[:12]
    os.mkdir(victim, 0o755)
    os.chown(victim, user.uid, user.gid)
    with open(os.path.join(victim, "file"), "w") as f:
        f.write("victim\n")
    source = os.path.join(rbox.path, "source")
    os.mkdir(source)
    with open(os.path.join(source, "from-source"), "w") as f:
        f.write("source\n")
    subprocess.run(["chown", "-R", "%d:%d" % (user.uid, user.gid), source], check=True)
    before = sorted(os.listdir(victim))
    mnt = os.path.join(rbox.rootfs, "mnt")
    os.makedirs(mnt, exist_ok=True)
    base = rbox.config["mounts"][:]
    try:
        for n, (name, links, dst, inside) in enumerate(CASES):
            with subtests.test(case=name):
                for ln, target in links.items():
                    p = os.path.join(mnt, ln)
                    if os.path.lexists(p):
                        os.unlink(p)
                    os.symlink(target.format(v=victim), p)
                    os.lchown(p, user.uid, user.gid)
                inside_ = inside.format(v=victim)
                for kind, m in (("bind", _bind(dst, source)), ("tmpfs", _tmpfs(dst))):
                    c = "%s-%d%s" % (rcid, n, kind[0])
                    rbox.config["mounts"] = base + [m]
                    probe = ("cat %s/from-source" if kind == "bind" else "stat -f -c %%T %s") % inside_
                    rbox.set_args("sh", "-c", probe + " 2>&1; true").write()
                    r = user.ocirun("run", "--bundle", rbox.path, c)
                    assert r.returncode == 0, r.stderr  # the mount is made, inside the rootfs
                    assert r.stdout == ("source\n" if kind == "bind" else "tmpfs\n"), (
                        "%s mount not at %s inside the rootfs: %r %r" % (kind, inside_, r.stdout, r.stderr)
                    )
                    assert sorted(os.listdir(victim)) == before, "the host directory changed: %s" % os.listdir(victim)
                    with open(os.path.join(victim, "file")) as f:
                        assert f.read() == "victim\n"
    finally:
        rbox.config["mounts"] = base
        shutil.rmtree(victim, ignore_errors=True)


def _fds(out):
    return sorted(int(l.split()[1]) for l in out.splitlines() if l.startswith("F "))


def test_only_stdio_reaches_the_process_rootless(user, rbox, rcid):
    """CVE-2024-21626 class, rootless: the process of `run`, of `create` +
    `start`, and of `exec` has fds 0, 1, 2 and nothing else (no state dir,
    fifo, sync socket, trampoline, procfs handle)."""
    rbox.set_args("/bin/sectool", "fds").write()
    r = user.ocirun("run", "--bundle", rbox.path, rcid)
    assert r.returncode == 0, r.stderr
    assert _fds(r.stdout) == [0, 1, 2], r.stdout
    c = rcid + "-x"
    rbox.set_args("sleep", "600").write()
    r = user.ocirun("run", "--detach", "--bundle", rbox.path, c)
    try:
        assert r.returncode == 0, r.stderr
        r = user.ocirun("exec", c, "/bin/sectool", "fds")
        assert r.returncode == 0, r.stderr
        assert _fds(r.stdout) == [0, 1, 2], r.stdout
    finally:
        user.ocirun("delete", "--force", c)
