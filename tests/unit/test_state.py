"""The state store: ids, permissions, atomic writes, derived status, locking."""

import multiprocessing
import os
import stat
import subprocess
import time

import pytest

from runtime import errors, fastjson, state

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
    c = store.create("f", {"ociVersion": "1.3.0", "status": "stopped", "bundle": "/b", "rootfs": "/b/rootfs",
                           "created": state.rfc3339_now(), "annotations": {"a": "b"}, "owner": ""})
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
    for i in range(n):
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


def test_id_lock_goes_with_the_container(tmp_path):
    store = state.StateStore(str(tmp_path))
    c = store.create("a", {})
    b = store.create("b", {})
    assert sorted(os.listdir(tmp_path / ".locks")) == ["a", "b"]
    c.destroy()
    assert os.listdir(tmp_path / ".locks") == ["b"]
    b.destroy()
    assert os.listdir(tmp_path) == []   # .locks goes once empty


def test_lock_after_the_directory_was_replaced_is_not_exist(tmp_path):
    """A caller that opened <root>/<id> and then waited must not act on a
    directory made again under the same name meanwhile."""
    store = state.StateStore(str(tmp_path))
    store.create("x", {"v": 1}).close()
    stale = store.load("x")                     # opened, not yet locked
    os.rename(tmp_path / "x", tmp_path / "gone")
    store.create("x", {"v": 2}).close()         # a new container, same id
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
