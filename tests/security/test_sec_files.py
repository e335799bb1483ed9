"""Files ocirun writes and reads back, and hooks that outstay their timeout.

* pid files: the atomic write's temp file is never a name an attacker can
  plant a symlink at (the old `.<name>.<pid>.tmp` was), and a link planted at
  the final name is replaced, never written through;
* the state root, its `.cache`, a container's directory, state.json and
  seccomp.json are used only if they are ours and nobody else may write
  them: a compiled seccomp program planted by another user (the allow-all
  one) is never loaded;
* a hook's timeout also bounds writing its stdin (a state larger than the
  pipe buffer), and on expiry the hook's whole process group is killed.

The other user is uid/gid 65534 through `setpriv`; planted files are made as
that user, so the kernel, not the test, says who owns them.
"""

import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import uuid

import pytest
from sec_common import one_line_error

import helpers

NOBODY = 65534
DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
}
MKDIR_PROBE = "mkdir /dev/probe 2>&1; echo mkdir-rc=$?"
# struct sock_filter {u16 code; u8 jt, jf; u32 k}: BPF_RET|BPF_K, SECCOMP_RET_ALLOW
ALLOW_ALL = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)


def as_nobody(*argv, **kw):
    return subprocess.run(
        ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + list(argv),
        check=True,
        capture_output=True,
        **kw,
    )


@pytest.fixture
def shared_dir():
    """A directory under /tmp that uid 65534 can reach (pytest's tmp_path is 0700)."""
    d = "/tmp/ocirun-shared-%s" % uuid.uuid4().hex[:12]
    os.mkdir(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def snapshot(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        return f.read(), stat.S_IMODE(st.st_mode), st.st_uid


def _victim(d, name):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(b"precious, do not overwrite\n")
    os.chmod(path, 0o644)
    return path


# -- 4. pid files ----------------------------------------------------------


def test_pid_file_temp_names_are_not_followed(bundle, root, cid, run_ocirun, tmp_path):
    """`create --pid-file` and `exec --pid-file` into a writable directory
    where every name the old atomic write could pick (`.<name>.<pid>.tmp`
    for every pid up to pid_max) and the final name are symlinks to files of
    ours: the files keep their content and mode, and the pid files are
    regular files holding the pids."""
    victims = tmp_path / "victims"
    victims.mkdir()
    temp_target = _victim(str(victims), "temp-target")
    final_target = _victim(str(victims), "final-target")
    before = {p: snapshot(p) for p in (temp_target, final_target)}
    piddir = tmp_path / "pids"
    piddir.mkdir()
    os.chmod(str(piddir), 0o1777)
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    names = ("create.pid", "exec.pid")
    for name in names:
        for pid in range(1, pid_max + 1):
            os.symlink(temp_target, str(piddir / (".%s.%d.tmp" % (name, pid))))
        os.symlink(temp_target, str(piddir / (".%s.tmp" % name)))
        os.symlink(final_target, str(piddir / name))

    bundle.set_args("sleep", "300").write()
    r = run_ocirun("create", "-b", bundle.path, "--pid-file", str(piddir / "create.pid"), cid)
    assert r.returncode == 0, r.stderr
    r = run_ocirun("exec", "--pid-file", str(piddir / "exec.pid"), cid, "true")
    assert r.returncode == 0, r.stderr

    for p, snap in before.items():
        assert snapshot(p) == snap, "%s was written through a planted symlink" % p
    init_pid = helpers.state(root, cid)["pid"]
    for name in names:
        st = os.lstat(str(piddir / name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, name
        pid = int((piddir / name).read_text())
        assert pid > 0 and (name != "create.pid" or pid == init_pid), (name, pid)
    # nothing of ours is left beside them
    left = [n for n in os.listdir(str(piddir)) if not os.path.islink(str(piddir / n)) and n not in names]
    assert left == []


# -- 5. state root, seccomp cache, records read back -----------------------


def _learn_cache_entry(bundle, root, cid, run_ocirun):
    """Run a deny-mkdir container in a safe root: the cache entry's name and
    header, as ocirun computes them (the attacker can do the same)."""
    bundle.config["linux"]["seccomp"] = DENY_MKDIR
    bundle.set_args("sh", "-c", MKDIR_PROBE).write()
    r = run_ocirun("run", "-b", bundle.path, cid + "-learn")
    assert r.returncode == 0, r.stderr
    assert "mkdir-rc=1" in r.stdout, r.stdout  # the profile works
    cache = os.path.join(root, ".cache")
    (name,) = [n for n in os.listdir(cache) if n.startswith("seccomp-")]
    with open(os.path.join(cache, name), "rb") as f:
        head = json.loads(f.read().partition(b"\n")[0])
    head["len"] = len(ALLOW_ALL)
    return name, json.dumps(head).encode() + b"\n" + ALLOW_ALL


def _assert_still_denied(r, refused_path):
    """Either the command refused the planted state with one line naming the
    path, or the container ran under the real filter (mkdir denied)."""
    if r.returncode == 0:
        assert "mkdir-rc=1" in r.stdout, "the planted allow-all filter was loaded: %r" % r.stdout
    else:
        one_line_error(r)
        assert refused_path in r.stderr, r.stderr


def test_planted_seccomp_cache_in_a_shared_root(bundle, root, cid, run_ocirun, shared_dir):
    """Another user plants `.cache/seccomp-<sha>` (allow-all) in a 1777
    --root: a container whose profile denies mkdir still cannot mkdir (the
    root is refused with one line naming it)."""
    name, planted = _learn_cache_entry(bundle, root, cid, run_ocirun)
    shared = os.path.join(shared_dir, "root")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    staged = os.path.join(shared_dir, "staged")
    with open(staged, "wb") as f:
        f.write(planted)
    os.chmod(staged, 0o644)
    as_nobody("sh", "-c", 'mkdir -m 0755 "$1/.cache" && cat "$2" > "$1/.cache/$3"', "sh", shared, staged, name)
    assert os.stat(os.path.join(shared, ".cache", name)).st_uid == NOBODY
    try:
        r = helpers.ocirun(shared, "run", "-b", bundle.path, cid)
        _assert_still_denied(r, shared)
        assert sorted(os.listdir(shared)) == [".cache"]
    finally:
        helpers.ocirun(shared, "delete", "--force", cid)


def test_untrusted_root_is_refused(bundle, cid, shared_dir, subtests):
    """A --root others may write (1777 like /tmp, 0770) or owned by someone
    else is refused by create, state and list: one line naming it, nothing
    made in it."""
    bundle.set_args("true").write()
    for label, mode, uid in (("sticky-1777", 0o1777, 0), ("group-writable", 0o770, 0), ("nobody's", 0o700, NOBODY)):
        with subtests.test(root=label):
            r_dir = os.path.join(shared_dir, label)
            os.mkdir(r_dir)
            os.chmod(r_dir, mode)
            os.chown(r_dir, uid, uid)
            try:
                for cmd in (["create", "-b", bundle.path, cid], ["state", cid], ["list"]):
                    r = helpers.ocirun(r_dir, *cmd)
                    one_line_error(r)
                    assert "`%s`" % r_dir in r.stderr, r.stderr
                assert os.listdir(r_dir) == []
            finally:
                helpers.ocirun(r_dir, "delete", "--force", cid)


def test_planted_cache_entries_in_a_safe_root(bundle, root, cid, run_ocirun, shared_dir, subtests):
    """The root is fine but its cache is not: a `.cache` owned by another
    user is refused by name; an entry that is a symlink to an allow-all
    program, is owned by another user or is group-writable is ignored,
    recompiled and replaced, never loaded."""
    name, planted = _learn_cache_entry(bundle, root, cid, run_ocirun)
    cache = os.path.join(root, ".cache")
    entry = os.path.join(cache, name)
    elsewhere = os.path.join(shared_dir, "allow-all")
    with open(elsewhere, "wb") as f:
        f.write(planted)
    os.chmod(elsewhere, 0o644)

    def plant_symlink():
        os.unlink(entry)
        os.symlink(elsewhere, entry)

    def plant_nobody():
        made = os.path.join(shared_dir, "by-nobody")
        os.chmod(shared_dir, 0o777)
        try:
            as_nobody("cp", elsewhere, made)
        finally:
            os.chmod(shared_dir, 0o755)
        os.rename(made, entry)  # keeps its owner
        assert os.lstat(entry).st_uid == NOBODY

    def plant_group_writable():
        with open(entry, "wb") as f:
            f.write(planted)
        os.chmod(entry, 0o620)

    bundle.set_args("sh", "-c", MKDIR_PROBE).write()
    for i, (label, plant) in enumerate(
        (("symlink", plant_symlink), ("owned by nobody", plant_nobody), ("group-writable", plant_group_writable))
    ):
        with subtests.test(entry=label):
            plant()
            r = run_ocirun("run", "-b", bundle.path, "%s-%d" % (cid, i))
            assert r.returncode == 0, r.stderr
            assert "mkdir-rc=1" in r.stdout, "the planted allow-all filter was loaded: %r" % r.stdout
            st = os.lstat(entry)
            assert stat.S_ISREG(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
            with open(entry, "rb") as f:
                assert f.read() != planted
    with subtests.test(cache="owned by nobody"):
        with open(entry, "wb") as f:
            f.write(planted)
        os.chown(cache, NOBODY, NOBODY)
        try:
            r = run_ocirun("run", "-b", bundle.path, cid + "-dir")
            _assert_still_denied(r, cache)
        finally:
            os.chown(cache, 0, 0)


def test_state_records_read_back(bundle, root, cid, run_ocirun, tmp_path, subtests):
    """state.json a symlink to a forged state, state.json group-writable, the
    container dir group-writable, seccomp.json a symlink to an allow-all
    profile: the command refuses with one line naming the file, never reads
    the forged content, and the link's target is untouched. (Each plant is undone before the
    container is deleted: a state that cannot be trusted cannot say which
    process and cgroup to remove either.)"""
    forged = tmp_path / "forged.json"
    forged.write_text(
        json.dumps(
            {
                "ociVersion": "1.0.0",
                "id": "x",
                "pid": 1,
                "status": "running",
                "bundle": "/forged-bundle-marker",
                "rootfs": "/",
                "created": "",
            }
        )
    )
    allow = tmp_path / "allow.json"
    allow.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW"}))
    targets = {p: snapshot(str(p)) for p in (forged, allow)}
    bundle.config["linux"]["seccomp"] = DENY_MKDIR
    bundle.set_args("sleep", "300").write()

    def symlink_state(d):
        real = os.path.join(d, "state.json")
        os.rename(real, real + ".aside")
        os.symlink(str(forged), real)
        return real, ["state"], lambda: os.rename(real + ".aside", real)

    def group_writable_state(d):
        real = os.path.join(d, "state.json")
        os.chmod(real, 0o660)
        return real, ["state"], lambda: os.chmod(real, 0o600)

    def group_writable_dir(d):
        os.chmod(d, 0o770)
        return d, ["state"], lambda: os.chmod(d, 0o700)

    def symlink_seccomp(d):
        real = os.path.join(d, "seccomp.json")
        os.rename(real, real + ".aside")
        os.symlink(str(allow), real)
        return real, ["exec", "sh", "-c", MKDIR_PROBE], lambda: os.rename(real + ".aside", real)

    for i, plant in enumerate((symlink_state, group_writable_state, group_writable_dir, symlink_seccomp)):
        with subtests.test(plant=plant.__name__):
            c = "%s-%d" % (cid, i)
            r = run_ocirun("create", "-b", bundle.path, c)
            assert r.returncode == 0, r.stderr
            bad, cmd, undo = plant(os.path.join(root, c))
            try:
                r = run_ocirun(*([cmd[0], c] + cmd[1:]))
                assert "mkdir-rc=0" not in r.stdout and "forged-bundle-marker" not in r.stdout, r.stdout
                one_line_error(r, code=255 if cmd[0] == "exec" else 1)  # exec's own failure: 255, as runc's
                assert "`%s" % bad in r.stderr, r.stderr
                for p, snap in targets.items():
                    assert snapshot(str(p)) == snap
            finally:
                undo()
            r = run_ocirun("delete", "--force", c)
            assert r.returncode == 0, r.stderr


# -- 7. hooks ----------------------------------------------------------------


def _pids_in(path):
    try:
        with open(path) as f:
            return [int(l) for l in f.read().split()]
    except FileNotFoundError:
        return []


def _kill_all(pids):
    for p in pids:
        if helpers.pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


BIG = {"big.annotation": "x" * 80000}  # the state JSON is far above the 64 KiB pipe buffer


def test_hook_timeout_with_a_state_larger_than_the_pipe(bundle, root, cid, run_ocirun, tmp_path):
    """~80 KB of annotations, a createRuntime hook that never reads its stdin
    and sleeps 20 s, timeout 2: create fails naming the hook and its timeout,
    the hook is gone, nothing is left (it used to block writing stdin, then
    succeed once the hook exited)."""
    pids = str(tmp_path / "hook.pids")
    bundle.config["annotations"] = BIG
    bundle.config["hooks"] = {
        "createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", 'echo $$ >> "$0"; exec sleep 20', pids], "timeout": 2}
        ]
    }
    bundle.set_args("sleep", "300").write()
    try:
        r = run_ocirun("create", "-b", bundle.path, cid, timeout=120)
        one_line_error(r)
        assert "createRuntime hook `/bin/sh` timed out after 2 s" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(root, cid))
        assert helpers.cgroup_dirs(cid) == []
        assert len(_pids_in(pids)) == 1
        helpers.wait_for(
            lambda: not any(map(helpers.pid_alive, _pids_in(pids))), timeout=30, what="the hook to be killed"
        )
    finally:
        _kill_all(_pids_in(pids))


def test_hook_timeout_kills_the_whole_group(bundle, root, cid, run_ocirun, tmp_path):
    """A hook that backgrounds a child and then waits: on expiry the child is
    killed too (the hook runs in its own process group)."""
    pids = str(tmp_path / "hook.pids")
    bundle.config["hooks"] = {
        "createRuntime": [
            {
                "path": "/bin/sh",
                "args": ["sh", "-c", 'sleep 300 & echo $! >> "$0"; echo $$ >> "$0"; wait', pids],
                "timeout": 2,
            }
        ]
    }
    bundle.set_args("sleep", "300").write()
    try:
        r = run_ocirun("create", "-b", bundle.path, cid, timeout=120)
        one_line_error(r)
        assert "createRuntime hook `/bin/sh` timed out after 2 s" in r.stderr, r.stderr
        assert len(_pids_in(pids)) == 2
        helpers.wait_for(
            lambda: not any(map(helpers.pid_alive, _pids_in(pids))),
            timeout=30,
            what="the hook and its background child to die",
        )
        assert not os.path.exists(os.path.join(root, cid))
    finally:
        _kill_all(_pids_in(pids))


def test_hook_without_timeout_exits_without_reading(bundle, root, cid, run_ocirun, tmp_path, subtests):
    """No timeout, a state larger than the pipe buffer, a hook that exits
    without reading it: create succeeds (EPIPE is not an error), also when
    the hook leaves a child holding its stdin open (ocirun stops writing
    when the hook exits instead of waiting for that child)."""
    pids = str(tmp_path / "hook.pids")
    bundle.config["annotations"] = BIG
    bundle.set_args("sleep", "300").write()
    scripts = (
        ("exits", "exit 0"),
        (
            "leaves a child",
            # (an async list's stdin is /dev/null unless redirected)
            'exec 3<&0; sleep 100000 <&3 3<&- & echo $! >> "$0"; exit 0',
        ),
    )
    try:
        for i, (label, script) in enumerate(scripts):
            with subtests.test(hook=label):
                bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script, pids]}]}
                bundle.write()
                r = run_ocirun("create", "-b", bundle.path, "%s-%d" % (cid, i), timeout=120)
                assert r.returncode == 0, r.stderr
    finally:
        _kill_all(_pids_in(pids))
