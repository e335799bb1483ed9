"""The two doors (issue 11): the `ocirun` launcher answers state, start, kill
and delete in C (runtime/core/door.c) and hands everything else to the Python
CLI. Both must say the same: output bytes, error line, exit code.

Two launchers are built here from the checkout's sources with the installed
interpreter and boot script: a Python-only door (-DOCIRUN_DOOR_OFF, every
command handed over), and a trap whose "interpreter" only records that it was
started and fails. Containers are made with the installed ocirun.
"""

import fcntl
import json
import os
import subprocess

import pytest

import helpers

CORE = os.path.join(helpers.REPO, "runtime", "core")
SOURCES = [
    os.path.join(CORE, f) for f in ("launcher.c", "door.c", "store.c", "json.c", "hooks.c", "error.c", "exeseal.c")
]


def _build(out, python, boot, *flags):
    subprocess.run(
        [
            "cc",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-D_GNU_SOURCE",
            *flags,
            "-o",
            out,
            *SOURCES,
            '-DOCIRUN_PYTHON="%s"' % python,
            '-DOCIRUN_BOOT="%s"' % boot,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def doors(tmp_path_factory):
    d = tmp_path_factory.mktemp("doors")
    python, boot = helpers.launcher_paths()
    trap = d / "python-trap"
    marker = d / "interpreter-started"
    trap.write_text('#!/bin/sh\necho "$@" >> %s\nexit 97\n' % marker)
    trap.chmod(0o755)
    return {
        # Built here, not $OCIRUN: hack/test also runs the suite with OCIRUN
        # pointing at a Python-only door, and these tests are about the C one.
        "c": _build(str(d / "ocirun-c"), python, boot),
        "python": _build(str(d / "ocirun-python"), python, boot, "-DOCIRUN_DOOR_OFF"),
        "trap": _build(str(d / "ocirun-trap"), str(trap), boot),
        "marker": str(marker),
    }


def _run(door, root, *args, timeout=60):
    r = subprocess.run([door, "--root", root] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def _both(doors, root, *args, timeout=60):
    """The same command through the C door and the Python door: (rc, stdout, stderr) of each."""
    return _run(doors["c"], root, *args, timeout=timeout), _run(doors["python"], root, *args, timeout=timeout)


def _created(run_ocirun, bundle, root, cid):
    bundle.set_args("sleep", "600").write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    return helpers.state(root, cid)


def test_hot_commands_start_no_interpreter(doors, run_ocirun, bundle, root, cid):
    """state, start, kill and delete through a launcher whose interpreter
    only records that it ran: they all work, and it never ran."""
    trap = doors["trap"]
    st = _created(run_ocirun, bundle, root, cid)
    rc, out, err = _run(trap, root, "state", cid)
    assert rc == 0 and json.loads(out)["status"] == "created", err
    assert json.loads(out)["cgroupsPath"] == "/ocirun/" + cid
    assert _run(trap, root, "start", cid)[0] == 0
    assert json.loads(_run(trap, root, "state", cid)[1])["status"] == "running"
    rc, _, err = _run(trap, root, "delete", cid)
    assert rc == 1 and err == "cannot delete container %s that is not stopped: running\n" % cid
    assert _run(trap, root, "kill", cid, "KILL")[0] == 0
    helpers.wait_for(lambda: not helpers.pid_alive(st["pid"]), 30, "the init to die")
    assert json.loads(_run(trap, root, "state", cid)[1])["status"] == "stopped"
    assert _run(trap, root, "delete", cid) == (0, "", "")
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []
    assert _run(trap, root, "state", cid) == (1, "", "container does not exist\n")
    # delete --force of a running container, and of nothing
    _created(run_ocirun, bundle, root, cid)
    assert _run(trap, root, "start", cid)[0] == 0
    assert _run(trap, root, "delete", "--force", cid) == (0, "", "")
    assert _run(trap, root, "delete", "--force", cid) == (0, "", "")
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []
    assert not os.path.exists(doors["marker"]), open(doors["marker"]).read()
    # and what the door does not answer does reach the interpreter (the trap is live)
    assert _run(trap, root, "list")[0] == 97 and os.path.exists(doors["marker"])
    os.unlink(doors["marker"])


def test_poststop_hooks_run_without_an_interpreter(doors, run_ocirun, bundle, root, cid, tmp_path):
    """delete runs the poststop hooks from the C door: each gets the state
    on stdin, a failing one is a warning and the others still run, one that
    outlives its timeout is killed; the cgroup and the state go."""
    out = tmp_path / "hook-out"
    bundle.config["annotations"] = {"a": "b"}
    bundle.config.setdefault("hooks", {})["poststop"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", "cat > %s.1; echo $X >> %s.1" % (out, out)], "env": ["X=one"]},
        {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]},
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 60"], "timeout": 1},
        {"path": "/nonexistent/hook"},
        {"path": "/bin/sh", "args": ["sh", "-c", "cat > %s.2" % out]},
    ]
    st = _created(run_ocirun, bundle, root, cid)
    trap = doors["trap"]
    assert _run(trap, root, "kill", cid, "KILL")[0] == 0
    helpers.wait_for(lambda: not helpers.pid_alive(st["pid"]), 30, "the init to die")
    rc, stdout, err = _run(trap, root, "delete", cid, timeout=120)
    assert (rc, stdout) == (0, ""), err
    assert err == (
        "warning: poststop hook `/bin/sh` exited with status 3\n"
        "warning: poststop hook `/bin/sh` timed out after 1 s\n"
        "warning: poststop hook `/nonexistent/hook`: ENOENT (No such file or directory)\n"
    ), err
    want = {
        "ociVersion": st["ociVersion"],
        "id": cid,
        "status": "stopped",
        "pid": 0,
        "bundle": bundle.path,
        "annotations": {"a": "b"},
    }
    first = (tmp_path / "hook-out.1").read_text()  # the state (no newline), then $X
    assert first.endswith("}one\n") and json.loads(first[:-4]) == want, first
    assert json.loads((tmp_path / "hook-out.2").read_text()) == want
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []
    assert not os.path.exists(doors["marker"])


def test_state_is_the_same_on_both_doors(doors, run_ocirun, bundle, root, cid):
    """Byte for byte, created, running and stopped, annotations (with
    characters json escapes) included."""
    bundle.config["annotations"] = {"org.example/a": 'b "q" \\ \u00e9 \U0001f600 \t', "z": ""}
    _created(run_ocirun, bundle, root, cid)
    seen = []
    for step in ("create", "start", "kill"):
        if step == "start":
            assert run_ocirun("start", cid).returncode == 0
        if step == "kill":
            pid = helpers.state(root, cid)["pid"]
            assert run_ocirun("kill", cid, "9").returncode == 0
            helpers.wait_for(lambda: not helpers.pid_alive(pid), 30, "the init to die")
        c, py = _both(doors, root, "state", cid)
        assert c == py and c[0] == 0, (c, py)
        seen.append(json.loads(c[1])["status"])
        assert list(json.loads(c[1]))[-2:] == ["annotations", "cgroupsPath"]
    assert seen == ["created", "running", "stopped"]


def test_errors_are_the_same_on_both_doors(doors, run_ocirun, bundle, root, cid):
    """Each error case: the same line and exit code through both doors."""
    _created(run_ocirun, bundle, root, cid)
    cases = [
        ("state", "nope"),
        ("kill", "nope"),
        ("start", "nope"),
        ("delete", "nope"),
        ("delete", "--force", "nope"),
        ("state", "a/b"),
        ("kill", cid, "FOO"),
        ("kill", cid, "RTMIN+40"),
        ("kill", cid, "0"),
        ("state",),
        ("kill",),
        ("delete", "--bogus", cid),
        ("--bogus", "state", cid),
    ]
    for args in cases:
        c, py = _both(doors, root, *args)
        assert c == py, (args, c, py)
        assert c[0] != 0 or args in (("kill", cid, "0"), ("delete", "--force", "nope")), (args, c)
    assert run_ocirun("start", cid).returncode == 0
    for args in [("start", cid), ("delete", cid)]:
        c, py = _both(doors, root, *args)
        assert c == py and c[0] == 1, (args, c, py)
    assert py[2] == "cannot delete container %s that is not stopped: running\n" % cid
    pid = helpers.state(root, cid)["pid"]
    assert run_ocirun("kill", cid, "KILL").returncode == 0
    helpers.wait_for(lambda: not helpers.pid_alive(pid), 30, "the init to die")
    for args in [("kill", cid), ("start", cid)]:
        c, py = _both(doors, root, *args)
        assert c == py and c[0] == 1, (args, c, py)
    assert c[2] == "cannot start a container that has stopped\n"


def test_broken_records_are_the_same_on_both_doors(doors, run_ocirun, bundle, root, cid):
    """A corrupt, an untrusted and a missing state.json: same line, same code."""
    _created(run_ocirun, bundle, root, cid)
    path = os.path.join(root, cid, "state.json")
    with open(path) as f:
        good = f.read()
    for broken in ("{not json", "[1, 2]", '{"status": "sideways", "pid": 0}', '{"pid": "x"}'):
        with open(path, "w") as f:
            f.write(broken)
        for cmd in ("state", "kill", "start"):
            c, py = _both(doors, root, cmd, cid)
            assert c == py, (broken, cmd, c, py)
    with open(path, "w") as f:
        f.write(good)
    os.chmod(path, 0o666)
    c, py = _both(doors, root, "state", cid)
    assert c == py and c[0] == 1 and "writable by group or others" in c[2], (c, py)
    os.chmod(path, 0o600)
    os.rename(path, path + ".away")
    c, py = _both(doors, root, "state", cid)
    assert c == py == (1, "", "container does not exist\n"), (c, py)
    os.rename(path + ".away", path)


def test_held_lock_is_a_bounded_wait_on_both_doors(doors, run_ocirun, bundle, root, cid):
    """A command holding the id's lock: start and delete wait for it (10 s),
    then fail with the same line naming the holder, on both doors."""
    _created(run_ocirun, bundle, root, cid)
    fd = os.open(os.path.join(root, ".locks", cid), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        c, py = _both(doors, root, "delete", cid, timeout=120)
    finally:
        os.close(fd)
    want = "container `%s` is locked by another ocirun command (pid %d): gave up waiting after 10s\n" % (
        cid,
        os.getpid(),
    )
    assert c == py == (1, "", want), (c, py)
    assert helpers.state(root, cid)["status"] == "created"


def test_log_file_gets_the_error_on_both_doors(doors, root, tmp_path):
    for fmt in ("text", "json"):
        lines = []
        for door in ("c", "python"):
            log = tmp_path / ("%s-%s.log" % (door, fmt))
            r = subprocess.run(
                [doors[door], "--root", root, "--log", str(log), "--log-format", fmt, "state", "nope"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert (r.returncode, r.stderr) == (1, "container does not exist\n")
            lines.append(log.read_text())
        strip = (
            (lambda l: l.split(" level=")[1])
            if fmt == "text"
            else (lambda l: {k: v for k, v in json.loads(l).items() if k != "time"})
        )
        assert [strip(l) for l in lines] == [strip(lines[1])] * 2, lines


def test_pip_installed_executable_is_the_c_door(root):
    """`pip install .` puts the C launcher in the environment's bin/ (setup.py
    BuildDoor): `state` there is answered by one execve, no interpreter."""
    import shutil
    import sys

    exe = os.path.join(sys.prefix, "bin", "ocirun")
    with open(exe, "rb") as f:
        assert f.read(4) == b"\x7fELF", exe
    if not shutil.which("strace"):
        pytest.fail("strace is needed (hack/install installs it)")
    r = subprocess.run(
        ["strace", "-f", "-e", "trace=execve", exe, "--root", root, "state", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "container does not exist" in r.stderr, r.stderr
    execs = [line for line in r.stderr.splitlines() if "execve(" in line and line.endswith("= 0")]
    assert len(execs) == 1 and execs[0].startswith('execve("%s"' % exe), r.stderr
    # and what it does not answer reaches the environment's interpreter and package
    r = subprocess.run([exe, "--root", root, "list", "-q"], capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r


def test_what_the_door_hands_over(doors, run_ocirun, bundle, root, cid):
    """Records that ask for more than the door does go to Python before
    anything is changed: a systemd-managed cgroup (delete), a poststart hook
    (start), kill --all, --debug. Through the trap: exit 97, nothing done."""
    trap, marker = doors["trap"], doors["marker"]
    st = _created(run_ocirun, bundle, root, cid)
    path = os.path.join(root, cid, "state.json")
    with open(path) as f:
        good = f.read()
    rec = json.loads(good)
    asks = [
        (
            {"cgroup": {"driver": "systemd", "layout": "v1", "unit": "x.scope", "fs": rec["cgroup"]}},
            ("delete", "--force", cid),
        ),
        ({"hooks": {"poststart": [{"path": "/bin/true"}]}}, ("start", cid)),
        ({}, ("kill", "--all", cid, "KILL")),
        ({}, ("--debug", "state", cid)),
    ]
    for change, args in asks:
        with open(path, "w") as f:
            json.dump(dict(rec, **change), f)
        assert _run(trap, root, *args)[0] == 97, args
        assert os.path.exists(marker), args
        os.unlink(marker)
        assert helpers.pid_alive(st["pid"]) and os.path.isdir(os.path.join(root, cid)), args
    with open(path, "w") as f:
        f.write(good)
    assert json.loads(_run(trap, root, "state", cid)[1])["status"] == "created"
    # no --root with an XDG_RUNTIME_DIR: the default root is rootless.state_root's to choose
    r = subprocess.run(
        [trap, "state", cid], capture_output=True, text=True, timeout=60, env=dict(os.environ, XDG_RUNTIME_DIR=root)
    )
    assert r.returncode == 97 and os.path.exists(marker), r
    os.unlink(marker)


# ------------------------------------------- delete's handover: one door, one bound


def _strace(log, *argv, trace, timeout=180):
    r = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=" + trace, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return r, log.read_text().splitlines()


def _after_python(lines):
    """The traced lines after the launcher's execve of the interpreter (its
    second execve: the same pid)."""
    pid = lines[0].split()[0]
    execs = [i for i, line in enumerate(lines) if line.split()[0] == pid and "execve(" in line and line.endswith("= 0")]
    assert len(execs) == 2, [lines[i] for i in execs]
    return lines[execs[1] + 1 :]


def test_delete_handover_runs_the_door_once(doors, run_ocirun, bundle, root, cid, tmp_path):
    """The door finds the cgroup busy (no pid namespace: the init's
    background child outlives it) and hands delete over: the Python CLI
    finishes it (kills the child, removes everything, runs the poststop
    hook) WITHOUT running the door again. Counted by the id's lock, which
    every run of the door's delete takes: twice in all (the door, then
    delete.py), not three times."""
    if not __import__("shutil").which("strace"):
        pytest.fail("strace is needed (hack/install installs it)")
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.set_args("sh", "-c", "sleep 600 </dev/null >/dev/null 2>&1 & exit 0").write()
    r = run_ocirun("create", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert run_ocirun("start", cid).returncode == 0
    helpers.wait_for(lambda: helpers.state(root, cid)["status"] == "stopped", 60, "the init to exit")
    with open(os.path.join(root, cid, "state.json")) as f:
        groups = json.load(f)["cgroup"]["v1"]["groups"]
    pids_dir = next(g["dir"] for g in groups if g["controllers"] == ["pids"])
    with open(os.path.join(pids_dir, "cgroup.procs")) as f:
        assert f.read().split(), "the background child is not in the cgroup"
    log = tmp_path / "strace"
    r, lines = _strace(log, doors["c"], "--root", root, "delete", cid, trace="openat,execve")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r

    def _locks(lines):
        return [
            line for line in lines if '"%s", O_RDWR|O_CREAT' % cid in line and not line.endswith("<unfinished ...>")
        ]

    assert len(_locks(lines)) == 2, _locks(lines)
    assert len(_locks(_after_python(lines))) == 1, _locks(lines)  # delete.py's
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []


def test_delete_handover_keeps_one_bound(doors, run_ocirun, bundle, root, cid, tmp_path):
    """An init that cannot die (its freezer cgroup frozen from the host):
    the door waits its REMOVE_TIMEOUT and hands over; the Python CLI
    finishes within what is left of that one bound: it fails at once with
    the one line, without waiting (no sleep after the interpreter starts;
    before, the in-process door and delete.py each waited a bound again)."""
    if not __import__("shutil").which("strace"):
        pytest.fail("strace is needed (hack/install installs it)")
    st = _created(run_ocirun, bundle, root, cid)
    with open(os.path.join(root, cid, "state.json")) as f:
        groups = json.load(f)["cgroup"]["v1"]["groups"]
    freezer = next(g["dir"] for g in groups if g["controllers"] == ["freezer"])
    state_file = os.path.join(freezer, "freezer.state")
    with open(state_file, "w") as f:
        f.write("FROZEN")
    try:
        helpers.wait_for(lambda: open(state_file).read().strip() == "FROZEN", 60, "the freezer")
        log = tmp_path / "strace"
        r, lines = _strace(log, doors["c"], "--root", root, "delete", cid, trace="execve,nanosleep,clock_nanosleep")
        assert r.returncode == 1 and r.stderr.startswith(
            "container init still running: pid %d did not die within 8s of SIGKILL" % st["pid"]
        ), r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr
        assert any("nanosleep(" in line for line in lines)  # the door's own wait, in the launcher
        assert not [line for line in _after_python(lines) if "nanosleep(" in line]
    finally:
        with open(state_file, "w") as f:
            f.write("THAWED")
    assert run_ocirun("delete", "--force", cid).returncode == 0


def test_a_marker_set_by_hand_only_makes_python_do_the_work(doors, run_ocirun, bundle, root, cid):
    """OCIRUN_DOOR_HANDED set by hand on a command: the Python CLI answers it
    itself, with the same bytes as the C door (delete included)."""
    st = _created(run_ocirun, bundle, root, cid)
    for value in ("", "junk", "99999999999999999999"):
        env = dict(os.environ, OCIRUN_DOOR_HANDED=value)
        for args in (("state", cid), ("kill", cid, "FOO"), ("start", "nope")):
            by_hand = subprocess.run(
                [doors["python"], "--root", root, *args], capture_output=True, text=True, timeout=60, env=env
            )
            assert (by_hand.returncode, by_hand.stdout, by_hand.stderr) == _run(doors["c"], root, *args), args
    assert run_ocirun("kill", cid, "KILL").returncode == 0
    helpers.wait_for(lambda: not helpers.pid_alive(st["pid"]), 30, "the init to die")
    r = subprocess.run(
        [doors["python"], "--root", root, "delete", cid],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OCIRUN_DOOR_HANDED=""),
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    assert not os.path.exists(os.path.join(root, cid)) and helpers.cgroup_dirs(cid) == []


def test_the_marker_is_taken_out_of_the_environment_first(root, monkeypatch, capsys):
    """__main__ removes OCIRUN_DOOR_HANDED before anything else: nothing it
    starts (a hook, a nested ocirun) inherits it and skips its door."""
    from runtime import __main__ as entry

    monkeypatch.setenv("OCIRUN_DOOR_HANDED", "")
    assert entry.main(["--root", root, "state", "nope"]) == 1
    assert capsys.readouterr().err == "container does not exist\n"
    assert "OCIRUN_DOOR_HANDED" not in os.environ


def test_poststop_warnings_are_the_same_on_both_doors(doors, run_ocirun, bundle, root, cid, tmp_path):
    """The C door runs poststop hooks through the core's runner (hooks.c),
    delete.py through hooks.py (--debug, its lines in --log: the C door
    hands over at once): the same warnings, byte for byte."""
    bundle.config.setdefault("hooks", {})["poststop"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]},
        {"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $$"]},
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 60"], "timeout": 1},
        {"path": "/nonexistent/hook"},
        {"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null"]},
    ]
    seen = {}
    for door in ("c", "python"):
        name = "%s-%s" % (cid, door)
        st = _created(run_ocirun, bundle, root, name)
        assert run_ocirun("kill", name, "KILL").returncode == 0
        helpers.wait_for(lambda: not helpers.pid_alive(st["pid"]), 30, "the init to die")
        debug = ("--debug", "--log", tmp_path / "debug.log") if door == "python" else ()
        seen[door] = _run(doors[door], root, *debug, "delete", name, timeout=120)
        assert not os.path.exists(os.path.join(root, name)) and helpers.cgroup_dirs(name) == []
    assert "poststop hook" in (tmp_path / "debug.log").read_text()  # hooks.py ran them
    assert seen["c"] == seen["python"], seen
    assert seen["c"] == (
        0,
        "",
        "warning: poststop hook `/bin/sh` exited with status 3\n"
        "warning: poststop hook `/bin/sh` killed by signal 9\n"
        "warning: poststop hook `/bin/sh` timed out after 1 s\n"
        "warning: poststop hook `/nonexistent/hook`: ENOENT (No such file or directory)\n",
    ), seen
