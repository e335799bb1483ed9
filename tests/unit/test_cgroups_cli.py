"""pause, resume, ps, events and update, run in-process against a stand-in container.

The stand-in is what the lifecycle leaves behind: a state.json whose init is
a live process of ours, sitting in real cgroups made by runtime.cgroups.
"""

import io
import json
import os
import subprocess
import sys

import pytest

from runtime import cgroups, state
from runtime.__main__ import main
from runtime.host import LINUX

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make cgroups")


@pytest.fixture
def box(tmp_path):
    """(root, id, init process, manager) of a running stand-in container."""
    cid = "cli%d" % os.getpid()
    m = cgroups.open_manager(cid, {"cgroupsPath": "/ocirun-test-cli-%d/%s" % (os.getpid(), cid)})
    saved = m.to_dict()
    m.create()
    p = subprocess.Popen(["sleep", "300"])
    try:
        m.join(p.pid)
        m.update({"pids": {"limit": 100}})
        store = state.StateStore(str(tmp_path / "root"))
        c = store.create(
            cid,
            {
                "pid": p.pid,
                "init_start": LINUX.proc_stat(p.pid)[1],
                "status": state.RUNNING,
                "cgroup": saved,
                "resources": {"pids": {"limit": 100}},
            },
        )
        c.close()
        yield str(tmp_path / "root"), cid, p, m
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        m.destroy()


def run(capsys, root, *argv, stdin=None):
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        rc = main(["--root", root] + list(argv))
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return rc, out, err


def stored(root, cid):
    with open(os.path.join(root, cid, "state.json")) as f:
        return json.load(f)


def test_pause_resume(box, capsys):
    root, cid, p, m = box
    assert run(capsys, root, "pause", cid) == (0, "", "")
    assert m.frozen()
    rc, out, _ = run(capsys, root, "state", cid)
    assert json.loads(out)["status"] == "paused"
    assert run(capsys, root, "pause", cid) == (1, "", "container not running\n")
    assert run(capsys, root, "resume", cid) == (0, "", "")
    assert not m.frozen()
    assert json.loads(run(capsys, root, "state", cid)[1])["status"] == "running"
    assert run(capsys, root, "resume", cid) == (1, "", "container not paused\n")


def test_pause_stopped_container(box, capsys):
    root, cid, p, m = box
    p.kill()
    p.wait()
    assert run(capsys, root, "pause", cid) == (1, "", "container not running\n")
    assert run(capsys, root, "resume", cid) == (1, "", "container not running\n")
    assert run(capsys, root, "pause", "nosuch") == (1, "", "container does not exist\n")


def test_ps(box, capsys, subtests):
    root, cid, p, m = box
    with subtests.test("json"):
        rc, out, err = run(capsys, root, "ps", "--format", "json", cid)
        assert (rc, err) == (0, "") and json.loads(out) == [p.pid]
    with subtests.test("table, default -ef"):
        rc, out, err = run(capsys, root, "ps", cid)
        lines = out.splitlines()
        assert rc == 0 and "PID" in lines[0].split()
        assert len(lines) == 2 and str(p.pid) in lines[1].split() and "sleep 300" in lines[1]
    with subtests.test("ps arguments"):
        rc, out, err = run(capsys, root, "ps", cid, "-o", "pid,comm")
        assert out.split() == ["PID", "COMMAND", str(p.pid), "sleep"]
    with subtests.test("no PID column"):
        rc, out, err = run(capsys, root, "ps", cid, "-o", "comm")
        assert rc == 1 and err.startswith("`ps` output has no PID column") and err.count("\n") == 1
    with subtests.test("bad format"):
        assert run(capsys, root, "ps", "--format", "yaml", cid)[0] == 1


def test_events_stats(box, capsys):
    root, cid, p, m = box
    rc, out, err = run(capsys, root, "events", "--stats", cid)
    assert rc == 0 and out.count("\n") == 1
    ev = json.loads(out)
    assert ev["type"] == "stats" and ev["id"] == cid
    assert ev["data"]["pids"] == {"current": 1, "limit": 100}
    assert {"cpu", "memory", "pids", "blkio"} <= set(ev["data"])


def test_events_stream_ends_with_the_container(box, capsys):
    root, cid, p, m = box
    import threading

    t = threading.Timer(0.3, p.kill)
    t.start()
    try:
        rc, out, err = run(capsys, root, "events", "--interval", "100ms", cid)
    finally:
        t.cancel()
    assert rc == 0
    events = [json.loads(l) for l in out.splitlines()]
    assert events and all(e["type"] == "stats" and e["id"] == cid for e in events)


def test_events_interval_parse(subtests):
    from runtime import errors
    from runtime.cli.events import parse_duration

    for text, want in (("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("1.5h", 5400.0), ("250us", 0.00025)):
        with subtests.test(text):
            assert parse_duration(text) == pytest.approx(want)
    for text in ("", "5", "s", "-1s", "0s", "5x"):
        with subtests.test(bad=text):
            with pytest.raises(errors.UsageError, match="--interval"):
                parse_duration(text)


def test_update_flags(box, capsys, subtests):
    root, cid, p, m = box
    g = {grp.dir.split("/")[4]: grp for grp in (m.v1.groups if m.layout == "hybrid" else m.groups)}
    rc, out, err = run(
        capsys,
        root,
        "update",
        "--memory",
        "100M",
        "--memory-swap",
        "200M",
        "--memory-reservation",
        "50M",
        "--cpu-shares",
        "512",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        "--pids-limit",
        "20",
        "--cpuset-cpus",
        "0",
        cid,
    )
    assert (rc, err) == (0, "")
    want = {
        ("memory", "memory.limit_in_bytes"): str(100 << 20),
        ("memory", "memory.memsw.limit_in_bytes"): str(200 << 20),
        ("memory", "memory.soft_limit_in_bytes"): str(50 << 20),
        ("cpu", "cpu.shares"): "512",
        ("cpu", "cpu.cfs_quota_us"): "50000",
        ("pids", "pids.max"): "20",
        ("cpuset", "cpuset.cpus"): "0",
    }
    for (ctrl, f), v in want.items():
        if ctrl in g:
            with subtests.test(f):
                assert open(g[ctrl].path(f)).read().strip() == v
    res = stored(root, cid)["resources"]
    assert res["memory"] == {"limit": 100 << 20, "swap": 200 << 20, "reservation": 50 << 20}
    assert res["pids"] == {"limit": 20} and res["cpu"]["shares"] == 512
    # A later update starts from what is stored: only the pids limit changes.
    assert run(capsys, root, "update", "--pids-limit", "30", cid)[0] == 0
    res = stored(root, cid)["resources"]
    assert res["pids"] == {"limit": 30} and res["memory"]["limit"] == 100 << 20


def test_update_resources_file_and_stdin(box, capsys, tmp_path):
    root, cid, p, m = box
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"pids": {"limit": 40}}))
    assert run(capsys, root, "update", "--resources", str(f), cid)[0] == 0
    assert stored(root, cid)["resources"]["pids"] == {"limit": 40}
    assert run(capsys, root, "update", "--resources=-", cid, stdin='{"pids": {"limit": 41}}')[0] == 0
    assert stored(root, cid)["resources"]["pids"] == {"limit": 41}


def test_update_bad_input_changes_nothing(box, capsys, tmp_path, subtests):
    root, cid, p, m = box
    before = stored(root, cid)
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    cases = [
        (["--memory", "lots"], "invalid value for --memory `lots`"),
        (["--pids-limit", "1.5"], "invalid value for --pids-limit `1.5`"),
        (["--blkio-weight", "5"], "--blkio-weight `5`"),
        (["--resources", str(bad)], "invalid --resources `%s`" % bad),
        (["--resources", str(tmp_path / "missing.json")], "cannot read --resources"),
        (["--resources=-"], "want a JSON object", "[1]"),
        (["--resources=-"], "invalid linux.resources.pids.limit `x`", '{"pids": {"limit": "x"}}'),
    ]
    for case in cases:
        argv, msg = case[0], case[1]
        with subtests.test(argv=argv):
            rc, out, err = run(capsys, root, "update", *argv, cid, stdin=case[2] if len(case) > 2 else None)
            assert rc == 1 and msg in err and err.count("\n") == 1, err
            assert stored(root, cid) == before


def test_update_stopped(box, capsys):
    root, cid, p, m = box
    p.kill()
    p.wait()
    assert run(capsys, root, "update", "--pids-limit", "3", cid) == (1, "", "container not running\n")
