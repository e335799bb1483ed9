"""`ocirun exec`: what the new process gets must be the container's, never
the host's: no host fd in the preserved range (CVE-2024-21626 class), never
the host's namespaces when the init dies mid-exec, never ids that mean "leave
it as root", never a weaker process than the one `create` set up."""

import json
import os
import shutil
import subprocess

import pytest
from sec_common import one_line_error, parse

import helpers
from helpers import wait_for

EXEC_FAILED = 255  # exec's own failures exit 255, as runc's

MAX_ID = 2147483647


def fd_targets(out):
    return {int(f[1]): (f[2] if len(f) > 2 else "") for f in parse(out) if f[0] == "F"}


def _run_detached(box, root, cid, run_ocirun):
    box.set_args("sleep", "600").write()
    r = run_ocirun("run", "-d", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    return helpers.state(root, cid)["pid"]


# --- A: the preserved fd range ------------------------------------------------


def _placing(files):
    """preexec_fn: put each open file at its fd number, close every other fd above 2."""

    def f():
        dups = {want: os.dup(fd) for want, fd in files.items()}
        for want, fd in dups.items():
            os.dup2(fd, want)
        keep = set(files)
        for fd in range(3, 1024):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass

    return f


def _assert_only(out, root, passed, n):
    """fds: 0-2, then 3..3+n-1 each either what the caller passed there or a
    /dev/null placeholder; nothing of ocirun's (state root, cgroup, /proc)."""
    fds = fd_targets(out)
    assert set(fds) == {0, 1, 2} | set(range(3, 3 + n)), out
    for fd in range(3, 3 + n):
        want = passed.get(fd, "/dev/null")
        assert fds[fd] == want, "fd %d is %r, want %r (host fd leaked):\n%s" % (fd, fds[fd], want, out)
    for target in fds.values():
        assert root not in target and "cgroup" not in target and not target.startswith("/proc"), out


def test_exec_preserve_fds_hole_does_not_get_the_state_dir(box, root, cid, run_ocirun):
    """CVE-2024-21626 class: `exec --preserve-fds 1` with fd 3 closed must
    give the process /dev/null at 3, not the state directory ocirun opened."""
    _run_detached(box, root, cid, run_ocirun)
    # subprocess closes every fd above 2 in the child: fd 3 is a hole
    r = helpers.ocirun(root, "exec", "--preserve-fds", "1", cid, "/bin/sectool", "fds")
    assert r.returncode == 0, r.stderr
    _assert_only(r.stdout, root, {}, 1)
    r = helpers.ocirun(root, "exec", "--preserve-fds", "1", cid, "readlink", "/proc/self/fd/3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "/dev/null", r.stdout


def test_exec_preserve_fds_all_holes(box, root, cid, run_ocirun):
    """CVE-2024-21626 class: fds 3..10 all closed, --preserve-fds 8: every one
    of them is a placeholder, none is ocirun's."""
    _run_detached(box, root, cid, run_ocirun)
    r = helpers.ocirun(root, "exec", "--preserve-fds", "8", cid, "/bin/sectool", "fds")
    assert r.returncode == 0, r.stderr
    _assert_only(r.stdout, root, {}, 8)


def test_exec_preserve_fds_mixed(box, root, cid, run_ocirun, tmp_path):
    """CVE-2024-21626 class: passed files at 3 and 6, holes at 4, 5 and 7
    (--preserve-fds 5): the files come through, the holes are placeholders."""
    _run_detached(box, root, cid, run_ocirun)
    a = open(tmp_path / "a", "w")
    b = open(tmp_path / "b", "w")
    try:
        r = helpers.ocirun(
            root,
            "exec",
            "--preserve-fds",
            "5",
            cid,
            "/bin/sectool",
            "fds",
            close_fds=False,
            preexec_fn=_placing({3: a.fileno(), 6: b.fileno()}),
        )
    finally:
        a.close()
        b.close()
    assert r.returncode == 0, r.stderr
    _assert_only(r.stdout, root, {3: str(tmp_path / "a"), 6: str(tmp_path / "b")}, 5)


# --- B: the init dies mid-exec ----------------------------------------------

SYS_SOCKETPAIR = 53  # x86_64


def _children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _in_syscall(pid, nr):
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split(" ", 1)[0] == str(nr)
    except OSError:
        return False


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="socketpair's syscall number is x86_64's")
def test_exec_never_runs_on_the_host_when_the_init_dies(box, root, cid, run_ocirun, tmp_path):
    """The init is killed while `exec` is held (by strace) between its status
    check and the namespace lookup: exec must fail with one line, and its
    process must never run in ocirun's own namespaces (on the host)."""
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace)"
    init = _run_detached(box, root, cid, run_ocirun)
    hostdir = tmp_path / "host-only"
    hostdir.mkdir()
    marker = hostdir / "marker"
    out, err = tmp_path / "out", tmp_path / "err"
    argv = [
        strace,
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=socketpair",
        "-e",
        "inject=socketpair:delay_enter=12000000",
        helpers.OCIRUN,
        "--root",
        root,
        "exec",
        cid,
        "/bin/sh",
        "-c",
        "cat /proc/1/comm; echo ran > %s" % marker,
    ]
    with open(out, "w") as fo, open(err, "w") as fe:
        tracer = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
        try:
            # ocirun (strace's child) sits in socketpair, held by strace
            held = wait_for(
                lambda: [c for c in _children(tracer.pid) if _in_syscall(c, SYS_SOCKETPAIR)],
                timeout=60,
                what="ocirun exec held in socketpair",
            )
            assert held
            os.kill(init, 9)
            wait_for(lambda: not helpers.pid_alive(init), timeout=30, what="the init to die")
            rc = tracer.wait(timeout=120)
        finally:
            if tracer.poll() is None:
                tracer.kill()
                tracer.wait()
    stdout, stderr = out.read_text(), err.read_text()
    assert not marker.exists(), "the exec'd process ran on the host: %r %r" % (stdout, stderr)
    assert stdout == "", "the exec'd process ran: %r" % stdout
    one_line_error(subprocess.CompletedProcess(argv, rc, stdout, stderr), EXEC_FAILED)
    assert "stopped" in stderr, stderr


def test_exec_into_a_stopped_container(box, root, cid, run_ocirun, tmp_path):
    """`exec` into a container whose init is dead: one clear line, nothing runs."""
    init = _run_detached(box, root, cid, run_ocirun)
    os.kill(init, 9)
    wait_for(lambda: helpers.state(root, cid)["status"] == "stopped", timeout=30, what="stopped")
    marker = tmp_path / "marker"
    r = run_ocirun("exec", cid, "/bin/sh", "-c", "echo ran > %s" % marker)
    one_line_error(r, EXEC_FAILED)
    assert "stopped" in r.stderr, r.stderr
    assert not marker.exists()


# --- C: ids that mean "unchanged" ---------------------------------------------


def _nothing_left(root, cid):
    assert not os.path.exists(os.path.join(root, cid)), os.listdir(root)
    assert helpers.cgroup_dirs(cid) == []


BAD_IDS = [4294967295, MAX_ID + 1]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("field", ["uid", "gid", "additionalGids"])
def test_create_refuses_big_process_ids(box, root, cid, run_ocirun, field, bad):
    """uid/gid/additionalGids above 2147483647 ((uid_t)-1 = "unchanged": root
    stays root) are refused at create with the field's path; nothing is left."""
    box.set_args("/bin/sectool", "ids").process["user"] = {"uid": 1000, "gid": 1000}
    if field == "additionalGids":
        box.process["user"]["additionalGids"] = [5, bad]
        path = "process.user.additionalGids[1]"
    else:
        box.process["user"][field] = bad
        path = "process.user." + field
    box.write()
    r = run_ocirun("create", "-b", box.path, cid)
    one_line_error(r)
    assert path + ":" in r.stderr, r.stderr
    _nothing_left(root, cid)


def _userns(box):
    cfg = box.config
    nss = cfg["linux"]["namespaces"]
    if not any(n["type"] == "user" for n in nss):
        nss.append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.mark.parametrize(
    "key,field,mapping",
    [
        ("uidMappings", "containerID", {"containerID": 4294967295, "hostID": 100000, "size": 1}),
        ("uidMappings", "hostID", {"containerID": 0, "hostID": 4294967295, "size": 1}),
        ("gidMappings", "size", {"containerID": 0, "hostID": 100000, "size": 4294967295}),
        ("gidMappings", "", {"containerID": 0, "hostID": MAX_ID - 10, "size": 65536}),
        ("uidMappings", "", {"containerID": MAX_ID, "hostID": 100000, "size": 2}),
    ],
)
def test_create_refuses_big_mapping_ids(box, root, cid, run_ocirun, key, field, mapping):
    """id mappings past 2147483647 (each value, and start + size) are refused
    with the field's path; nothing is left."""
    _userns(box)
    box.config["linux"][key] = [mapping]
    box.write()
    r = run_ocirun("create", "-b", box.path, cid)
    one_line_error(r)
    path = "linux.%s[0]%s" % (key, "." + field if field else "")
    assert path + ":" in r.stderr, r.stderr
    _nothing_left(root, cid)


def test_create_refuses_big_mount_idmap(box, root, cid, run_ocirun, tmp_path):
    """An idmapped mount's uidMappings past 2147483647: refused with its path."""
    _userns(box)
    src = tmp_path / "src"
    src.mkdir()
    box.config["mounts"].append(
        {
            "destination": "/mnt",
            "type": "bind",
            "source": str(src),
            "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 4294967295, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}],
        }
    )
    box.write()
    r = run_ocirun("create", "-b", box.path, cid)
    one_line_error(r)
    path = "mounts[%d].uidMappings[0].hostID" % (len(box.config["mounts"]) - 1)
    assert path + ":" in r.stderr, r.stderr
    _nothing_left(root, cid)


@pytest.mark.parametrize(
    "flags,path",
    [
        (["--user", "4294967295"], "process.user.uid"),
        (["--user", "1000:4294967295"], "process.user.gid"),
        (["--user", "2147483648:1000"], "process.user.uid"),
        (["--user", "1000:1000", "--additional-gids", "4294967295"], "process.user.additionalGids[0]"),
    ],
)
def test_exec_refuses_big_ids(box, root, cid, run_ocirun, flags, path, tmp_path):
    """`exec --user/--additional-gids` with an id above 2147483647 is refused
    with the field's path, and nothing runs."""
    _run_detached(box, root, cid, run_ocirun)
    marker = tmp_path / "marker"
    r = run_ocirun("exec", *flags, cid, "/bin/sh", "-c", "id > %s" % marker)
    one_line_error(r, EXEC_FAILED)
    assert path + ":" in r.stderr, r.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    "user,path",
    [
        ({"uid": 4294967295, "gid": 0}, "process.user.uid"),
        ({"uid": 0, "gid": 4294967295}, "process.user.gid"),
        ({"uid": 0, "gid": 0, "additionalGids": [1, 4294967295]}, "process.user.additionalGids[1]"),
    ],
)
def test_exec_process_json_refuses_big_ids(box, root, cid, run_ocirun, tmp_path, user, path):
    """`exec -p process.json` with an id above 2147483647: refused with the path."""
    _run_detached(box, root, cid, run_ocirun)
    pj = tmp_path / "process.json"
    pj.write_text(json.dumps({"args": ["/bin/sectool", "ids"], "cwd": "/", "user": user}))
    r = run_ocirun("exec", "-p", str(pj), cid)
    one_line_error(r, EXEC_FAILED)
    assert path + ":" in r.stderr, r.stderr
    assert r.stdout == ""


# --- D: exec inherits the process create set up ---------------------------------

CAPS = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]


def _status(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


def _confined(box, root, cid, run_ocirun):
    p = box.process
    p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [2000]}
    p["noNewPrivileges"] = True
    p["capabilities"] = {k: list(CAPS) for k in ("bounding", "effective", "permitted")}
    init = _run_detached(box, root, cid, run_ocirun)
    with open("/proc/%d/status" % init) as f:
        want = _status(f.read())
    assert want["Uid"][0] == "1000" and want["NoNewPrivs"] == ["1"], want
    return want


def _exec_status(run_ocirun, cid):
    r = run_ocirun("exec", cid, "grep", "-E", "^(Uid|Gid|Groups|CapEff|CapPrm|CapBnd|NoNewPrivs)", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    return _status(r.stdout)


def _assert_same(got, want):
    for k in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs"):
        assert got.get(k) == want[k], "%s: exec got %r, the container's process has %r" % (k, got.get(k), want[k])
    assert got["Groups"] == ["2000"], got


def test_exec_does_not_reread_a_moved_config(box, root, cid, run_ocirun):
    """config.json moved away after create: exec must still run as the
    container's user, with its capabilities and noNewPrivileges (not as root
    with every capability)."""
    want = _confined(box, root, cid, run_ocirun)
    cfg = os.path.join(box.path, "config.json")
    os.rename(cfg, cfg + ".away")
    _assert_same(_exec_status(run_ocirun, cid), want)


def test_exec_does_not_reread_a_rewritten_config(box, root, cid, run_ocirun):
    """config.json rewritten after create (root, every capability, no
    noNewPrivileges): exec still runs with what create set up."""
    want = _confined(box, root, cid, run_ocirun)
    box.process["user"] = {"uid": 0, "gid": 0}
    box.process["noNewPrivileges"] = False
    allcaps = ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE"] + CAPS
    box.process["capabilities"] = {k: allcaps for k in ("bounding", "effective", "permitted")}
    box.write()
    _assert_same(_exec_status(run_ocirun, cid), want)
    # garbage is no reason to fall back to root either
    with open(os.path.join(box.path, "config.json"), "w") as f:
        f.write("{not json")
    _assert_same(_exec_status(run_ocirun, cid), want)


def test_exec_without_the_record_fails(box, root, cid, run_ocirun):
    """The recorded process is missing or corrupt: exec fails with one line
    and runs nothing (never a fallback to root)."""
    _confined(box, root, cid, run_ocirun)
    d = os.path.join(root, cid)
    # recovery.json is delete --force's record of a broken container, not exec's
    names = set(os.listdir(d)) - {"state.json", "exec.fifo", "seccomp.json", "recovery.json"}
    assert names, "create recorded nothing but state.json: %r" % os.listdir(d)
    for name in sorted(names):
        path = os.path.join(d, name)
        st = os.stat(path)
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        with open(path, "rb") as f:
            saved = f.read()
        try:
            os.unlink(path)
            r = run_ocirun("exec", cid, "id")
            one_line_error(r, EXEC_FAILED)
            assert r.stdout == "", r.stdout
            with open(path, "wb") as f:
                f.write(b"{corrupt")
            r = run_ocirun("exec", cid, "id")
            one_line_error(r, EXEC_FAILED)
            assert r.stdout == "", r.stdout
        finally:
            with open(path, "wb") as f:
                f.write(saved)
    # and with it back, exec works
    r = run_ocirun("exec", cid, "true")
    assert r.returncode == 0, r.stderr
