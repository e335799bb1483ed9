"""Rootless (issue 13): a non-root user runs containers with ocirun.

Every test runs the installed binary as the session's user (conftest.py):
`spec --rootless` + `run`, the whole lifecycle, `exec` (and `exec -t`
through a console socket), ranges through newuidmap/newgidmap, and configs
that need privileges the user lacks: one line, nothing left behind.
"""

import array
import json
import os
import socket
import stat
import subprocess
import time

import pytest
from rootless_common import SUB_START, one_line

import helpers


def test_installed_ocirun_is_usable_by_the_user(user):
    """hack/install: the launcher, interpreter and package are open to every user."""
    r = user.ocirun("--version")
    assert r.returncode == 0 and r.stdout.startswith("ocirun version"), (r.returncode, r.stderr)


def test_spec_rootless_then_run(user, rbundle, rcid):
    """`ocirun spec --rootless` writes what ocirun runs as that user, out of
    the box: the caller's id mapped to 0, no network namespace, /sys bound."""
    cfg = rbundle.config
    types = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert "user" in types and "network" not in types, types
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": user.uid, "size": 1}]
    assert cfg["linux"]["gidMappings"] == [{"containerID": 0, "hostID": user.gid, "size": 1}]
    assert "resources" not in cfg["linux"]
    rbundle.set_args("sh", "-c", "id -u; cat /proc/self/uid_map; test -d /sys/kernel && echo sys").write()
    r = user.ocirun("run", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # nothing to adapt, nothing to warn about
    lines = r.stdout.split("\n")
    assert lines[0] == "0" and lines[1].split() == ["0", str(user.uid), "1"] and lines[2] == "sys", r.stdout
    assert not os.path.exists(os.path.join(user.root, rcid)), os.listdir(user.root)


def _status(user, cid):
    r = user.ocirun("state", cid)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_create_start_state_kill_delete(user, rbundle, rcid):
    """The lifecycle as the user, in the user's default state root
    (/tmp/ocirun-<uid>, 0700, the user's), with the container's init running
    as the user on the host."""
    rbundle.set_args("sleep", "600").write()
    r = user.ocirun("create", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    try:
        st = os.lstat(user.root)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == user.uid and stat.S_IMODE(st.st_mode) == 0o700
        s = _status(user, rcid)
        assert s["status"] == "created"
        with open("/proc/%d/status" % s["pid"]) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        assert set(uids) == {str(user.uid)}, uids
        # not yet (README): exec before start is one clear line, and the container is unharmed
        r = user.ocirun("exec", rcid, "true")
        assert r.returncode == 255 and "created container rootless" in one_line(r), r.stderr
        assert _status(user, rcid)["status"] == "created"
        assert user.ocirun("start", rcid).returncode == 0
        assert _status(user, rcid)["status"] == "running"
        r = user.ocirun("kill", rcid, "KILL")
        assert r.returncode == 0, r.stderr
        helpers.wait_for(lambda: _status(user, rcid)["status"] == "stopped", timeout=30, what="stopped")
        r = user.ocirun("delete", rcid)
        assert r.returncode == 0, r.stderr
        assert user.ocirun("state", rcid).returncode != 0
        assert not os.path.exists(os.path.join(user.root, rcid))
    finally:
        user.ocirun("delete", "--force", rcid)


def test_exec_and_exec_tty_through_a_console_socket(user, rbundle, rcid):
    rbundle.set_args("sleep", "600").write()
    r = user.ocirun("run", "--detach", "--bundle", rbundle.path, rcid)
    assert r.returncode == 0, r.stderr
    try:
        r = user.ocirun("exec", rcid, "sh", "-c", "id -u; echo out")
        assert (r.returncode, r.stdout) == (0, "0\nout\n"), r.stderr
        r = user.ocirun("exec", rcid, "sh", "-c", "exit 7")
        assert r.returncode == 7, r.stderr
        if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            # no cgroup on this host: what needs one says why, in one line
            for cmd in (["pause", rcid], ["update", "--pids-limit", "10", rcid]):
                one_line(user.ocirun(*cmd), "has no cgroup", "rootless")

        path = os.path.join(user.work, "console-%s.sock" % rcid[-20:])
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chown(path, user.uid, user.gid)
        srv.listen(1)
        srv.settimeout(60)
        p = subprocess.Popen(
            user.argv(helpers.OCIRUN, "exec", "-t", "--console-socket", path, rcid, "sh", "-c", "tty; echo tty-ok"),
            env=user.env(),
            cwd=user.work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            conn, _ = srv.accept()
            conn.settimeout(60)
            fds = array.array("i")
            _msg, anc, _f, _a = conn.recvmsg(4096, socket.CMSG_SPACE(4))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data[:4])
            assert len(fds) == 1, anc
            master = fds[0]
            got = b""
            deadline = time.monotonic() + 60
            # until the process is gone (EIO): closing the master earlier would hang it up (SIGHUP)
            while time.monotonic() < deadline:
                import select

                if not select.select([master], [], [], 1)[0]:
                    continue
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the last slave fd closed
                    break
                if not chunk:
                    break
                got += chunk
            os.close(master)
            conn.close()
            _out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            srv.close()
        assert p.returncode == 0, err
        assert b"/dev/pts/" in got and b"tty-ok" in got, got
    finally:
        user.ocirun("delete", "--force", rcid)


def test_ranges_through_newuidmap(user, rbundle, rcid):
    """uidMappings/gidMappings with the user's /etc/subuid and /etc/subgid
    ranges go through newuidmap/newgidmap: the process is uid 1000 in the
    container, SUB_START+999 on the host."""
    maps = [{"containerID": 0, "hostID": user.uid, "size": 1}, {"containerID": 1, "hostID": SUB_START, "size": 65536}]
    gmaps = [{"containerID": 0, "hostID": user.gid, "size": 1}, {"containerID": 1, "hostID": SUB_START, "size": 65536}]
    rbundle.config["linux"]["uidMappings"] = maps
    rbundle.config["linux"]["gidMappings"] = gmaps
    rbundle.process["user"] = {"uid": 1000, "gid": 1000}
    rbundle.set_args("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; exec sleep 600").write()
    r = user.ocirun("run", "--detach", "--bundle", rbundle.path, rcid)
    try:
        assert r.returncode == 0, r.stderr
        pid = _status(user, rcid)["pid"]

        def host_ids():
            with open("/proc/%d/status" % pid) as f:
                return {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid:", "Gid:"))}

        helpers.wait_for(
            lambda: set(host_ids()["Uid"]) == {str(SUB_START + 999)},
            timeout=30,
            what="the process to run as host uid %d" % (SUB_START + 999),
        )
        assert set(host_ids()["Gid"]) == {str(SUB_START + 999)}
        r = user.ocirun("exec", rcid, "sh", "-c", "id -u; id -g")
        assert (r.returncode, r.stdout) == (0, "1000\n1000\n"), r.stderr
        with open("/proc/%d/uid_map" % pid) as f:
            assert [l.split() for l in f] == [["0", str(user.uid), "1"], ["1", str(SUB_START), "65536"]]
    finally:
        user.ocirun("delete", "--force", rcid)


def _nothing_left(user, cid):
    assert not os.path.exists(os.path.join(user.root, cid)), os.listdir(user.root)
    assert not os.path.exists(os.path.join(user.root, ".locks", cid))
    assert not [p for p in helpers.procs_with(cid)], helpers.procs_with(cid)


@pytest.mark.parametrize(
    "case",
    ["no-userns", "beyond-subuid", "mqueue-no-ipc", "proc-no-pid", "ext4", "device-not-on-host", "newuidmap-refuses"],
)
def test_privileges_the_user_lacks_one_line_nothing_left(user, rbundle, rcid, case):
    """A config needing what the user may not do fails before anything is
    made: one line naming the field, no state, no process."""
    cfg = rbundle.config
    linux = cfg["linux"]
    if case == "no-userns":
        linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "user"]
        del linux["uidMappings"], linux["gidMappings"]
        want = ["linux.namespaces", "user namespace"]
    elif case == "beyond-subuid":
        linux["uidMappings"] = [
            {"containerID": 0, "hostID": user.uid, "size": 1},
            {"containerID": 1, "hostID": SUB_START, "size": 65537},
        ]
        want = ["linux.uidMappings[1]", "/etc/subuid"]
    elif case == "mqueue-no-ipc":
        linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "ipc"]
        want = ["mounts[4]", "mqueue", "ipc namespace"]
    elif case == "proc-no-pid":
        linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "pid"]
        want = ["mounts[0]", "proc", "pid namespace"]
    elif case == "ext4":
        cfg["mounts"].append({"destination": "/mnt", "type": "ext4", "source": "/dev/sda1"})
        want = ["mounts[%d]" % (len(cfg["mounts"]) - 1), "ext4", "real root"]
    elif case == "device-not-on-host":
        linux["devices"] = [{"path": "/dev/ocirun-no-such", "type": "c", "major": 1, "minor": 3}]
        want = ["linux.devices[0]", "/dev/ocirun-no-such"]
    else:
        # allowed ranges, but overlapping inside: newuidmap runs (the container
        # is half made) and refuses; its own message, and everything undone
        linux["uidMappings"] = [
            {"containerID": 0, "hostID": user.uid, "size": 1},
            {"containerID": 1, "hostID": SUB_START, "size": 10},
            {"containerID": 5, "hostID": SUB_START + 20, "size": 10},
        ]
        want = ["linux.uidMappings", "newuidmap"]
    rbundle.set_args("true").write()
    r = user.ocirun("run", "--bundle", rbundle.path, rcid)
    one_line(r, *want)
    _nothing_left(user, rcid)


def test_adapted_with_one_warning_each(user, rbundle, rcid):
    """What rootless adapts runs, with one warning line each: a sysfs without
    a network namespace (a recursive bind of the host's /sys), a device node
    (a bind of the host's), resource limits on a host without a delegated
    cgroup (none: no cgroup is made)."""
    cfg = rbundle.config
    cfg["mounts"] = [
        m
        if m["destination"] != "/sys"
        else {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "ro"]}
        for m in cfg["mounts"]
    ]
    cfg["linux"]["devices"] = [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]
    cfg["linux"]["resources"] = {"memory": {"limit": 256 << 20}, "pids": {"limit": 100}}
    rbundle.set_args("sh", "-c", "test -c /dev/full && test -d /sys/kernel && echo ok").write()
    r = user.ocirun("run", "--bundle", rbundle.path, rcid)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    lines = r.stderr.splitlines()
    delegated = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert len(lines) == (2 if delegated else 3), r.stderr
    assert "sysfs" in lines[0] and "/sys" in lines[0]
    assert "linux.devices[0]" in lines[1]
    if not delegated:
        assert "linux.resources" in lines[2] and "not applied" in lines[2]
        assert not [
            d for d in os.listdir("/sys/fs/cgroup") if os.path.exists(os.path.join("/sys/fs/cgroup", d, "ocirun", rcid))
        ]


def test_state_root_someone_else_owns_is_refused(user, rbundle, rcid):
    """/tmp/ocirun-<uid> made by someone else first (anyone can, in /tmp) is
    refused with one line, and nothing is made in it."""
    aside = user.root + ".aside"
    moved = os.path.exists(user.root)
    if moved:
        os.rename(user.root, aside)
    try:
        os.mkdir(user.root, 0o777)
        os.chmod(user.root, 0o777)  # root's, open to all
        rbundle.set_args("true").write()
        r = user.ocirun("run", "--bundle", rbundle.path, rcid)
        one_line(r, "state root `%s`" % user.root, "owned by uid 0")
        assert os.listdir(user.root) == []
        r = user.ocirun("list")
        one_line(r, "state root `%s`" % user.root)
    finally:
        os.rmdir(user.root)
        if moved:
            os.rename(aside, user.root)


def test_xdg_runtime_dir_holds_the_state(user, rbundle, rcid):
    """With $XDG_RUNTIME_DIR a directory of the user's, state lives in
    $XDG_RUNTIME_DIR/ocirun; one that is not the user's (root's, passed on
    by runuser or sudo) is not used."""
    xdg = os.path.join(user.work, "xdg")
    os.mkdir(xdg, 0o700)
    os.chown(xdg, user.uid, user.gid)
    rbundle.set_args("sleep", "600").write()
    r = user.ocirun("run", "--detach", "--bundle", rbundle.path, rcid, env={"XDG_RUNTIME_DIR": xdg})
    try:
        assert r.returncode == 0, r.stderr
        assert os.path.isdir(os.path.join(xdg, "ocirun", rcid))
        assert not os.path.exists(os.path.join(user.root, rcid))
        r = user.ocirun("list", "-q", env={"XDG_RUNTIME_DIR": "/root"})  # not the user's: /tmp/ocirun-<uid>
        assert r.returncode == 0 and rcid not in r.stdout.split(), (r.stdout, r.stderr)
    finally:
        user.ocirun("delete", "--force", rcid, env={"XDG_RUNTIME_DIR": xdg})
    assert not os.path.exists(os.path.join(xdg, "ocirun", rcid))


def test_setpriv_and_features(user):
    """Started with setpriv too; `features` says what rootless supports here."""
    r = user.ocirun("features", setpriv=True)
    assert r.returncode == 0, r.stderr
    ann = json.loads(r.stdout)["annotations"]
    assert ann["io.github.ocirun.rootless"] == "true"
    assert "newuidmap" in ann["io.github.ocirun.rootless.idmap"]
    want = "delegated-v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "none"
    assert ann["io.github.ocirun.rootless.cgroups"] == want


def test_readme_rootless_commands_run_verbatim(user):
    """README.md's "Rootless" block, every line as written, as the new user
    in one bash session in their home directory; what they type
    into the container's shell is `id -u; exit 3`."""
    import re

    with open(os.path.join(helpers.REPO, "README.md"), encoding="utf-8") as f:
        section = f.read().split("\n## Rootless", 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)
    assert block, "README: no sh block under '## Rootless'"
    lines = [l for l in block.group(1).splitlines() if l.strip()]
    assert any(l.startswith("ocirun spec --rootless") for l in lines) and any(
        l.startswith("ocirun run demo") for l in lines
    )
    home = user.home
    script = "".join('%s\necho "@@status $?"\n' % l for l in lines)
    path = "%s:/usr/local/bin:/usr/bin:/bin" % os.path.dirname(helpers.OCIRUN)
    r = user.run("bash", "-c", script, cwd=home, env={"HOME": home, "PATH": path}, input="id -u; exit 3\n", stdin=None)
    statuses = [int(s) for s in re.findall(r"^@@status (\d+)$", r.stdout, re.M)]
    assert len(statuses) == len(lines), r.stdout + r.stderr
    for line, status in zip(lines, statuses):
        assert status == (3 if line.startswith("ocirun run demo") else 0), (line, status, r.stdout, r.stderr)
    assert re.search(r"^0\r?$", r.stdout, re.M), r.stdout  # the user is root in the container
    assert "Traceback" not in r.stderr, r.stderr


@pytest.fixture(scope="module")
def podman_image(user, rootfs):
    """The busybox rootfs as a local image in the user's podman storage."""
    import shutil

    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    tar = os.path.join(user.work, "rootfs.tar")
    subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
    os.chmod(tar, 0o644)
    r = user.run("podman", "import", tar, "localhost/ocirun-rl-busybox", cwd=user.home, timeout=300)
    assert r.returncode == 0, r.stderr
    yield "localhost/ocirun-rl-busybox"
    for d in ("/tmp/podman-run-%d" % user.uid, "/tmp/containers-user-%d" % user.uid, "/tmp/storage-run-%d" % user.uid):
        subprocess.run(["rm", "-rf", d], check=False)


def test_rootless_podman_with_ocirun(user, podman_image):
    """Rootless podman, as the user, with `--runtime` ocirun: podman runs
    ocirun as the root of its own user namespace (rootless auto-detected,
    state in $XDG_RUNTIME_DIR/ocirun, no cgroup on this host, the `cgroup`
    mount a bind of our own cgroups). `run --rm`; `run -d`, `exec`, `stop`, `rm`."""
    pm = ["podman", "--runtime", helpers.OCIRUN]
    name = "ocirl-pd-%d" % os.getpid()
    r = user.run(
        *pm,
        "run",
        "--rm",
        "--network",
        "none",
        podman_image,
        "sh",
        "-c",
        "id -u; echo run-ok",
        cwd=user.home,
        timeout=300,
    )
    assert (r.returncode, r.stdout) == (0, "0\nrun-ok\n"), r.stderr
    r = user.run(
        *pm, "run", "-d", "--name", name, "--network", "none", podman_image, "sleep", "600", cwd=user.home, timeout=300
    )
    assert r.returncode == 0, r.stderr
    try:
        r = user.run(*pm, "exec", name, "sh", "-c", "echo exec-ok", cwd=user.home, timeout=300)
        assert (r.returncode, r.stdout) == (0, "exec-ok\n"), r.stderr
        r = user.run(*pm, "stop", "-t", "1", name, cwd=user.home, timeout=300)
        assert r.returncode == 0, r.stderr
        r = user.run(*pm, "rm", name, cwd=user.home, timeout=300)
        assert r.returncode == 0, r.stderr
        r = user.run(*pm, "ps", "-a", "-q", cwd=user.home, timeout=300)
        assert (r.returncode, r.stdout) == (0, ""), (r.stdout, r.stderr)
    finally:
        user.run(*pm, "rm", "-f", name, cwd=user.home, timeout=300)


def test_validate_says_what_rootless_adapts_and_refuses(user, rbundle):
    """`ocirun validate`, run by the user, reports rootless's adaptations as
    warnings and its refusals as errors, as create would."""
    cfg = rbundle.config
    cfg["mounts"] = [
        m if m["destination"] != "/sys" else {"destination": "/sys", "type": "sysfs", "source": "sysfs"}
        for m in cfg["mounts"]
    ]
    rbundle.write()
    r = user.ocirun("validate", "--bundle", rbundle.path)
    assert r.returncode == 0 and "valid" in r.stdout, (r.stdout, r.stderr)
    assert "mounts[5]" in r.stderr and "sysfs" in r.stderr, r.stderr
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "ipc"]
    rbundle.write()
    r = user.ocirun("validate", "--bundle", rbundle.path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "mounts[4]" in r.stderr and "ipc namespace" in r.stderr, r.stderr
    r = helpers.ocirun(os.path.join(user.work, "rootstate"), "validate", "--bundle", rbundle.path)
    assert r.returncode == 0, r.stderr  # root: nothing of rootless applies
