"""Corrupt or partial state is never silently forgotten (real containers,
installed binary).

runc 1.1.5 warns in `list` and refuses `delete` of a container whose state it
cannot read, keeping the state. ocirun does better where it safely can:

* `list` shows such a container with status `unknown` (and pid 0) and one
  warning line on stderr per container: never hidden.
* `delete --force` finds the init and the cgroup from the recovery record
  `recovery.json` that `create` writes beside state.json (before state.json
  holds them), kills the init (pidfd, checked against the recorded start
  time), removes the cgroup (killing what is left in it) and the state, and
  exits 0 only when nothing of the container runs.
* With no recovery record, or one that fails the ownership/type check, there
  is nothing trustworthy to find the processes by: like runc, delete refuses,
  with one line naming what could not be found, exits 1 and keeps the state
  (the init is not killed by an untrusted pid), so nothing is forgotten.
"""

import json
import os

import pytest

import helpers

JUNK = [
    ("garbage", lambda good: b"garbage\n"),
    ("truncated", lambda good: good[: len(good) // 2]),
    ("json list", lambda good: b"[1, 2]"),
]


def _running(bundle, run_ocirun, root, cid):
    bundle.set_args("sleep", "1000").write()
    r = run_ocirun("run", "-d", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    st = helpers.state(root, cid)
    assert st["status"] == "running" and helpers.cgroup_dirs(cid)
    return st["pid"], os.path.join(root, cid)


def _corrupt(d, junk):
    path = os.path.join(d, "state.json")
    with open(path, "rb") as f:
        good = f.read()
    with open(path, "wb") as f:
        f.write(junk(good))
    return good


def _restore(d, good):
    with open(os.path.join(d, "state.json"), "wb") as f:
        f.write(good)


@pytest.mark.parametrize("name,junk", JUNK, ids=[j[0] for j in JUNK])
def test_list_shows_unknown_with_a_warning(bundle, run_ocirun, root, cid, name, junk):
    _, d = _running(bundle, run_ocirun, root, cid)
    good = _corrupt(d, junk)
    r = run_ocirun("list")
    assert r.returncode == 0
    rows = [l.split() for l in r.stdout.splitlines()[1:]]
    assert rows == [[cid, "0", "unknown", "root"]]
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("warning: container %s: cannot read state" % cid)
    r = run_ocirun("list", "-q")
    assert r.stdout == cid + "\n"
    r = run_ocirun("list", "-f", "json")
    assert [(c["id"], c["status"], c["pid"]) for c in json.loads(r.stdout)] == [(cid, "unknown", 0)]
    _restore(d, good)  # the fixture's delete removes it


@pytest.mark.parametrize("name,junk", JUNK, ids=[j[0] for j in JUNK])
def test_delete_force_kills_the_init_and_removes_the_cgroup(bundle, run_ocirun, root, cid, name, junk):
    pid, d = _running(bundle, run_ocirun, root, cid)
    _corrupt(d, junk)
    r = run_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert "using its recovery record (init pid %d)" % pid in r.stderr
    helpers.wait_for(lambda: not helpers.pid_alive(pid), timeout=30, what="the init to be gone")
    assert helpers.cgroup_dirs(cid) == []
    assert not os.path.lexists(d)
    assert run_ocirun("list", "-q").stdout == ""


def test_delete_force_of_a_paused_container_with_corrupt_state(bundle, run_ocirun, root, cid):
    pid, d = _running(bundle, run_ocirun, root, cid)
    assert run_ocirun("pause", cid).returncode == 0
    _corrupt(d, JUNK[0][1])
    r = run_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    helpers.wait_for(lambda: not helpers.pid_alive(pid), timeout=30, what="the init to be gone")
    assert helpers.cgroup_dirs(cid) == [] and not os.path.lexists(d)


def test_state_json_missing_is_partial_state(bundle, run_ocirun, root, cid):
    """Only the recovery record is left: listed as unknown, and delete
    --force still finds and kills the init."""
    pid, d = _running(bundle, run_ocirun, root, cid)
    os.unlink(os.path.join(d, "state.json"))
    r = run_ocirun("list", "-q")
    assert r.stdout == cid + "\n" and "state.json is missing" in r.stderr
    r = run_ocirun("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    helpers.wait_for(lambda: not helpers.pid_alive(pid), timeout=30, what="the init to be gone")
    assert helpers.cgroup_dirs(cid) == [] and not os.path.lexists(d)


def test_delete_force_without_recovery_record_refuses_and_keeps(bundle, run_ocirun, root, cid):
    """runc's choice when nothing can be found: refuse, keep the state, exit
    non-zero, with one line saying what is missing (never exit 0 while the
    init may still run)."""
    pid, d = _running(bundle, run_ocirun, root, cid)
    good = _corrupt(d, JUNK[2][1])
    os.unlink(os.path.join(d, "recovery.json"))
    r = run_ocirun("delete", "--force", cid)
    assert r.returncode == 1
    assert r.stderr == (
        "cannot delete container %s: cannot read state `%s/state.json`: not a JSON object, and its "
        "recovery record `%s/recovery.json` is missing: its init and cgroup cannot be found; the "
        "state `%s` is kept\n" % (cid, d, d, d)
    )
    assert os.path.isdir(d) and helpers.pid_alive(pid) and helpers.cgroup_dirs(cid)
    _restore(d, good)  # the fixture's delete removes it


def test_untrusted_recovery_record_is_not_used(bundle, run_ocirun, root, cid):
    """A record that fails the ownership check: its pid is never signalled."""
    pid, d = _running(bundle, run_ocirun, root, cid)
    good = _corrupt(d, JUNK[0][1])
    rec = os.path.join(d, "recovery.json")
    os.chown(rec, 65534, 65534)
    r = run_ocirun("delete", "--force", cid)
    assert r.returncode == 1
    assert r.stderr == (
        "cannot delete container %s: its recovery record `%s` is not to be trusted (owned by uid "
        "65534, not 0): its pid and cgroup are not used; the state `%s` is kept\n" % (cid, rec, d)
    )
    assert os.path.isdir(d) and helpers.pid_alive(pid) and helpers.cgroup_dirs(cid)
    _restore(d, good)


def test_recovery_record_is_private_and_written_at_create(bundle, run_ocirun, root, cid):
    bundle.set_args("sleep", "1000").write()
    assert run_ocirun("create", "--bundle", bundle.path, cid).returncode == 0
    st = helpers.state(root, cid)
    rec_path = os.path.join(root, cid, "recovery.json")
    s = os.stat(rec_path)
    assert (s.st_uid, s.st_mode & 0o777) == (0, 0o600)
    with open(rec_path) as f:
        rec = json.load(f)
    with open(os.path.join(root, cid, "state.json")) as f:
        data = json.load(f)
    assert rec == {"pid": st["pid"], "init_start": data["init_start"], "cgroup": data["cgroup"]}
