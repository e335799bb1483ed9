"""The state store: ids, permissions, atomic writes, derived status, locking."""

import multiprocessing
import os
import signal
import stat
import subprocess
import time

import pytest

from runtime import errors, fastjson, files, state

BAD_IDS = ["", "../x", "a/b", "..", ".", "-a", "_a", ".hidden", "a b", "a\x00b", "é", "x" * 1025, "a\nb", "a:b", "/abs"]
GOOD_IDS = ["a", "A1", "0", "abc-def_g.h+i", "x" * 1024, "1.2.3"]


def test_check_id(subtests):
    for cid in BAD_IDS:
        with subtests.test(bad=cid):
            with pytest.raises(errors.InvalidContainerId):
                state.check_id(cid)
    for cid in GOOD_IDS:
        with subtests.test(good=cid):
            assert state.check_id(cid) == cid


def test_bad_ids_create_nothing(tmp_path, subtests):
    store = state.StateStore(str(tmp_path / "root"))
    for cid in BAD_IDS:
        with subtests.test(cid=cid):
            with pytest.raises(errors.InvalidContainerId):
                store.create(cid, {})
    assert not (tmp_path / "root").exists()


@pytest.mark.parametrize("umask", [0o000, 0o077, 0o777])
def test_create_makes_0700_dir_and_state(tmp_path, umask):
    old = os.umask(umask)  # neither a permissive nor a strict umask changes the modes
    try:
        store = state.StateStore(str(tmp_path / "root"))
        c = store.create("c1", {"status": "creating", "pid": 0})
        c.close()
    finally:
        os.umask(old)
    st = os.stat(tmp_path / "root" / "c1")
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "root").st_mode) == 0o700
    data = fastjson.loads((tmp_path / "root" / "c1" / "state.json").read_text())
    assert data["id"] == "c1" and data["status"] == "creating"
    assert stat.S_IMODE(os.stat(tmp_path / "root" / "c1" / "state.json").st_mode) == 0o600


def test_create_twice_is_an_error(tmp_path):
    store = state.StateStore(str(tmp_path))
    store.create("dup", {}).close()
    with pytest.raises(errors.ContainerExists) as e:
        store.create("dup", {})
    assert str(e.value) == "container with given ID already exists"


def test_missing_container(tmp_path):
    store = state.StateStore(str(tmp_path))
    with pytest.raises(errors.ContainerNotExist) as e:
        store.load("nope")
    assert str(e.value) == "container does not exist"


def test_symlinked_state_dir_is_not_followed(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "state.json").write_text('{"id": "x"}')
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path / "elsewhere", root / "evil")
    with pytest.raises(errors.ContainerNotExist):
        state.StateStore(str(root)).load("evil")


def test_corrupt_state_is_a_clear_error_and_removable(tmp_path, subtests):
    store = state.StateStore(str(tmp_path))
    for i, junk in enumerate([b"{", b"", b"[1]", b"\xff\xfe", b'{"id": "x", ']):
        cid = "bad%d" % i
        with subtests.test(junk=junk):
            store.create(cid, {}).close()
            (tmp_path / cid / "state.json").write_bytes(junk)
            with pytest.raises(errors.StateCorrupt) as e:
                store.load(cid)
            assert "cannot read state" in str(e.value) and "\n" not in str(e.value)
            store.remove_broken(cid)
            assert not (tmp_path / cid).exists()


class FakeHost:
    def __init__(self, procs):
        self.procs = procs

    def proc_stat(self, pid):
        return self.procs.get(pid)

    def exists(self, path):
        return os.path.exists(path)

    def flock(self, fd, exclusive=True, blocking=True):
        pass


def test_status_is_derived(tmp_path, subtests):
    cases = [
        # (stored, pid, procs, fifo, expected)
        ("created", 100, {100: ("S", 5)}, True, "created"),
        ("created", 100, {100: ("S", 5)}, False, "running"),
        ("running", 100, {100: ("S", 5)}, False, "running"),
        ("running", 100, {}, False, "stopped"),
        ("running", 100, {100: ("Z", 5)}, False, "stopped"),
        ("running", 100, {100: ("S", 6)}, False, "stopped"),  # pid reused: other start time
        ("paused", 100, {100: ("S", 5)}, False, "paused"),
        ("stopped", 100, {100: ("S", 5)}, False, "stopped"),
        ("creating", 100, {100: ("S", 5)}, True, "creating"),
        ("creating", 0, {}, False, "stopped"),
    ]
    for i, (stored, pid, procs, fifo, want) in enumerate(cases):
        with subtests.test(stored=stored, procs=procs, fifo=fifo):
            store = state.StateStore(str(tmp_path), host=FakeHost(procs))
            cid = "s%d" % i
            c = store.create(cid, {"status": stored, "pid": pid, "init_start": 5})
            if fifo:
                os.mkfifo(c.path("exec.fifo"))
            assert c.status() == want
            st = c.oci_state()
            assert st["status"] == ("created" if want == "creating" else want)
            assert st["pid"] == (0 if want == "stopped" else pid)
            c.destroy()


def test_oci_state_fields(tmp_path):
    store = state.StateStore(str(tmp_path), host=FakeHost({}))
    c = store.create(
        "f",
        {
            "ociVersion": "1.3.0",
            "status": "stopped",
            "bundle": "/b",
            "rootfs": "/b/rootfs",
            "created": state.rfc3339_now(),
            "annotations": {"a": "b"},
            "owner": "",
        },
    )
    st = c.oci_state()
    assert list(st) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations"]
    assert st["created"].endswith("Z") and len(st["created"].split(".")[1]) == 10  # nanoseconds + Z


def test_real_pid_liveness(tmp_path):
    p = subprocess.Popen(["sleep", "30"])
    try:
        start = state.LINUX.proc_stat(p.pid)[1]
        store = state.StateStore(str(tmp_path))
        c = store.create("live", {"status": "running", "pid": p.pid, "init_start": start})
        assert c.status() == "running"
        p.kill()
        p.wait()
        assert c.status() == "stopped"
    finally:
        if p.poll() is None:
            p.kill()


def _writer(root, n, tag):
    store = state.StateStore(root)
    for _ in range(n):
        with store.load("shared", lock=True) as c:
            c.data["counter"] = c.data.get("counter", 0) + 1
            c.data["blob"] = tag * 2000  # big enough that a torn write would show
            c.save()


def test_concurrent_writers_serialize_and_never_tear(tmp_path):
    root = str(tmp_path)
    state.StateStore(root).create("shared", {"counter": 0}).close()
    procs = [multiprocessing.Process(target=_writer, args=(root, 50, t)) for t in "abcd"]
    for p in procs:
        p.start()
    # Readers (no lock) must always see a whole JSON object.
    deadline = time.time() + 30
    reads = 0
    while any(p.is_alive() for p in procs) and time.time() < deadline:
        data = fastjson.loads((tmp_path / "shared" / "state.json").read_bytes())
        assert set(data.get("blob", "a")) <= set("abcd") and len(data.get("blob", "x" * 2000)) == 2000
        reads += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = fastjson.loads((tmp_path / "shared" / "state.json").read_bytes())
    assert final["counter"] == 200  # the lock serialized every read-modify-write
    assert [n for n in os.listdir(tmp_path / "shared") if n.endswith(".tmp")] == []


def test_ids_lists_only_containers(tmp_path):
    store = state.StateStore(str(tmp_path))
    store.create("b", {}).close()
    store.create("a", {}).close()
    (tmp_path / "junk").mkdir()  # no state.json: not a container
    (tmp_path / ".tmp").mkdir()
    assert store.ids() == ["a", "b"]
    assert state.StateStore(str(tmp_path / "missing")).ids() == []


def _write_modes(monkeypatch, tmpfile):
    """Run the atomic write with O_TMPFILE (the default) or as if the
    filesystem lacked it (the random O_EXCL|O_NOFOLLOW name)."""
    if not tmpfile:
        monkeypatch.setattr(files, "WRITE_FLAGS", 1)  # core/store.h OCIRUN_STORE_NO_TMPFILE


@pytest.mark.parametrize("tmpfile", [True, False], ids=["O_TMPFILE", "random-name"])
def test_atomic_write_never_writes_through_planted_links(tmp_path, monkeypatch, tmpfile):
    """Symlinks at the old predictable temp name (`.<name>.<pid>.tmp`) and
    at the final name: the targets keep content and mode; the file is a
    regular 0600 one (whatever the umask) and no temp file is left."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.chmod(victim, 0o644)
    final_victim = tmp_path / "final-victim"
    final_victim.write_bytes(b"also precious")
    d = tmp_path / "d"
    d.mkdir()
    planted = [".f.%d.tmp" % os.getpid(), ".f.tmp"]
    for n in planted:
        os.symlink(victim, d / n)
    os.symlink(final_victim, d / "f")
    _write_modes(monkeypatch, tmpfile)
    old = os.umask(0)
    try:
        files.atomic_write_path(str(d / "f"), b"one")
        fd = os.open(str(d), os.O_RDONLY | os.O_DIRECTORY)
        try:
            files.atomic_write(fd, "f", b"two")
        finally:
            os.close(fd)
    finally:
        os.umask(old)
    monkeypatch.undo()
    assert victim.read_bytes() == b"precious" and stat.S_IMODE(os.stat(victim).st_mode) == 0o644
    assert final_victim.read_bytes() == b"also precious"
    st = os.lstat(d / "f")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert (d / "f").read_bytes() == b"two"
    assert sorted(os.listdir(d)) == sorted(planted + ["f"])


def test_atomic_write_fallback_name_is_exclusive(tmp_path, monkeypatch):
    """Without O_TMPFILE the temp file is created O_CREAT|O_EXCL|O_NOFOLLOW
    under a name nobody can predict (core/store.c): seen by strace."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("strace"):
        pytest.fail("strace is needed (hack/install installs it)")
    code = (
        "import sys; from runtime import files; files.WRITE_FLAGS = 1; "
        "files.atomic_write_path(sys.argv[1], b'1'); files.atomic_write_path(sys.argv[1], b'2')"
    )
    out = subprocess.run(
        ["strace", "-f", "-e", "trace=openat", sys.executable, "-P", "-c", code, str(tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    made = [l for l in out.stderr.splitlines() if "O_CREAT" in l and ".p." in l]
    assert len(made) == 2 and made[0].split('"')[1] != made[1].split('"')[1], out.stderr[-2000:]
    for line in made:
        assert "O_EXCL" in line and "O_NOFOLLOW" in line, line
    assert os.listdir(tmp_path) == ["p"] and (tmp_path / "p").read_bytes() == b"2"


def _stuck(*_):
    raise AssertionError("blocked opening state.json")


def test_untrusted_files_are_not_read_back(tmp_path, subtests):
    """A root, container dir or state.json that is not ours or that others
    may write is refused with one line naming it; state.json a symlink too."""
    forged = tmp_path / "forged.json"
    forged.write_text('{"id": "x", "bundle": "/forged"}')
    cases = [
        ("root group-writable", lambda r, c: os.chmod(r, 0o770), errors.OciError, "state root"),
        ("root world-writable sticky", lambda r, c: os.chmod(r, 0o1777), errors.OciError, "state root"),
        ("root not ours", lambda r, c: os.chown(r, 65534, 65534), errors.OciError, "state root"),
        ("dir group-writable", lambda r, c: os.chmod(c, 0o770), errors.StateCorrupt, "/c"),
        ("dir not ours", lambda r, c: os.chown(c, 65534, 65534), errors.StateCorrupt, "/c"),
        (
            "state.json a symlink",
            lambda r, c: (os.unlink(c + "/state.json"), os.symlink(forged, c + "/state.json")),
            errors.StateCorrupt,
            "state.json",
        ),
        (
            "state.json group-writable",
            lambda r, c: os.chmod(c + "/state.json", 0o620),
            errors.StateCorrupt,
            "state.json",
        ),
        (
            "state.json not ours",
            lambda r, c: os.chown(c + "/state.json", 65534, 65534),
            errors.StateCorrupt,
            "state.json",
        ),
        (
            "state.json a fifo",
            lambda r, c: (os.unlink(c + "/state.json"), os.mkfifo(c + "/state.json", 0o600)),
            errors.StateCorrupt,
            "state.json",
        ),
    ]
    for i, (label, plant, exc, named) in enumerate(cases):
        with subtests.test(label):
            root = str(tmp_path / ("root%d" % i))
            store = state.StateStore(root)
            store.create("c", {"bundle": "/real"}).close()
            plant(root, root + "/c")
            signal.signal(signal.SIGALRM, _stuck)
            signal.alarm(30)  # a fifo must not block the read (it did)
            try:
                with pytest.raises(exc) as e:
                    store.load("c")
            finally:
                signal.alarm(0)
            assert named in str(e.value) and "\n" not in str(e.value), str(e.value)
            if exc is errors.OciError:
                with pytest.raises(errors.OciError):
                    store.ids()


def test_id_lock_goes_with_the_container(tmp_path):
    store = state.StateStore(str(tmp_path))
    c = store.create("a", {})
    b = store.create("b", {})
    assert sorted(os.listdir(tmp_path / ".locks")) == ["a", "b"]
    c.destroy()
    assert os.listdir(tmp_path / ".locks") == ["b"]
    b.destroy()
    assert os.listdir(tmp_path) == []  # .locks goes once empty


def test_lock_after_the_directory_was_replaced_is_not_exist(tmp_path):
    """A caller that opened <root>/<id> and then waited must not act on a
    directory made again under the same name meanwhile."""
    store = state.StateStore(str(tmp_path))
    store.create("x", {"v": 1}).close()
    stale = store.load("x")  # opened, not yet locked
    os.rename(tmp_path / "x", tmp_path / "gone")
    store.create("x", {"v": 2}).close()  # a new container, same id
    with pytest.raises(errors.ContainerNotExist):
        stale.lock()
    with store.load("x", lock=True) as c:
        assert c.data["v"] == 2


def test_remove_broken_spares_a_valid_container(tmp_path):
    store = state.StateStore(str(tmp_path))
    store.create("x", {}).close()
    with pytest.raises(errors.ContainerNotExist):
        store.remove_broken("x")
    assert (tmp_path / "x" / "state.json").is_file()


def test_remove_broken_runs_recover_under_the_lock_and_keeps_on_error(tmp_path):
    """delete --force of a broken container: the recovery step sees why
    state.json failed and the directory opened; its error keeps the state."""
    store = state.StateStore(str(tmp_path))
    store.create("x", {}).close()
    (tmp_path / "x" / "state.json").write_bytes(b"[1]")
    (tmp_path / "x" / state.RECOVERY_RECORD).write_bytes(b'{"pid": 0}')
    os.chmod(tmp_path / "x" / state.RECOVERY_RECORD, 0o600)
    seen = []

    def refuse(c, why):
        seen.append((c.id, type(why), c.read(state.RECOVERY_RECORD)))
        with pytest.raises(BlockingIOError):  # the id's lock is held meanwhile
            fd = os.open(tmp_path / ".locks" / "x", os.O_RDWR)
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(fd)
        raise errors.OciError("kept")

    with pytest.raises(errors.OciError, match="kept"):
        store.remove_broken("x", recover=refuse)
    assert seen == [("x", errors.StateCorrupt, b'{"pid": 0}')]
    assert (tmp_path / "x" / "state.json").is_file()
    store.remove_broken("x", recover=lambda c, why: None)
    assert not (tmp_path / "x").exists()


def test_ids_partial_lists_dirs_left_with_their_recovery_record(tmp_path):
    store = state.StateStore(str(tmp_path))
    store.create("a", {}).close()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / state.RECOVERY_RECORD).write_bytes(b"{}")
    (tmp_path / "junk").mkdir()
    assert store.ids() == ["a"]
    assert store.ids(partial=True) == ["a", "b"]
