"""A newcomer's first hour, with the installed binary and real containers:
validate agrees with create, --debug says what happens, errors name what the
user got wrong, and runc's small habits (kill ID 0, --no-subreaper) work.
"""

import json
import os

import pytest

import helpers


def _lines_without_label(text, label="config.json: "):
    return [l[len(label) :] if l.startswith(label) else l for l in text.splitlines()]


# (name, mutation of the bundle config, the line both validate and create print)
REFUSED_BEFORE_SPAWN = [
    (
        "missing bind source",
        lambda c: c["mounts"].append(
            {"destination": "/x", "type": "bind", "source": "/no/such/src", "options": ["rbind"]}
        ),
        "mounts[{n}].source: `/no/such/src`: ENOENT (No such file or directory)",
    ),
    (
        "unknown bind option",
        lambda c: c["mounts"].append(
            {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "nosiud"]}
        ),
        "mounts[{n}].options[1]: 'nosiud' is not a mount option ocirun knows for a bind mount",
    ),
    (
        "personality flags",
        lambda c: c["linux"].update(personality={"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
        "linux.personality.flags: personality flags are not supported",
    ),
]


@pytest.mark.parametrize("name,mutate,want", REFUSED_BEFORE_SPAWN, ids=[c[0] for c in REFUSED_BEFORE_SPAWN])
def test_validate_refuses_what_create_refuses(bundle, root, cid, run_ocirun, name, mutate, want):
    mutate(bundle.config)
    bundle.write()
    want = want.format(n=len(bundle.config["mounts"]) - 1)
    v = run_ocirun("validate", "--bundle", bundle.path)
    assert (v.returncode, v.stdout) == (1, ""), v.stderr
    assert _lines_without_label(v.stderr) == [want]
    c = run_ocirun("create", "--bundle", bundle.path, cid)
    assert c.returncode == 1
    assert c.stderr == want + "\n"  # the very same line
    assert os.listdir(root) == []  # refused before anything was made


def test_validate_asks_the_kernel_about_filesystem_options(bundle, root, cid, run_ocirun):
    # create passes the option to mount(2), which fails with EINVAL in the
    # container; validate finds it first (fsopen/fsconfig, nothing mounted)
    bundle.config["mounts"].append(
        {"destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m", "bogusopt"]}
    )
    bundle.write()
    n = len(bundle.config["mounts"]) - 1
    v = run_ocirun("validate", "--bundle", bundle.path)
    assert v.returncode == 1
    assert v.stderr.startswith("config.json: mounts[%d].options[2]: 'bogusopt': EINVAL (Invalid argument)" % n)
    assert v.stderr.count("\n") == 1
    c = run_ocirun("create", "--bundle", bundle.path, cid)
    assert c.returncode == 1 and "EINVAL" in c.stderr
    assert os.listdir(root) == []


def test_validate_knows_unknown_filesystem_types(bundle, run_ocirun):
    bundle.config["mounts"].append({"destination": "/y", "type": "nosuchfs", "source": "x"})
    bundle.write()
    v = run_ocirun("validate", "--bundle", bundle.path)
    n = len(bundle.config["mounts"]) - 1
    assert (v.returncode, v.stderr) == (
        1,
        "config.json: mounts[%d].type: 'nosuchfs' is not a filesystem this kernel knows\n" % n,
    )


def test_validate_passes_what_create_runs(bundle, run_ocirun, cid):
    bundle.config["mounts"].append(
        {"destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m", "mode=700"]}
    )
    bundle.set_args("true").write()
    v = run_ocirun("validate", "--bundle", bundle.path)
    assert (v.returncode, v.stderr) == (0, "")
    assert v.stdout == "%s: valid (runtime-spec 1.3.0)\n" % os.path.join(bundle.path, "config.json")
    r = run_ocirun("run", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr


DEBUG_STEPS = [
    "command run",
    "loaded and validated",
    "exec fifo",
    "setup process",
    "cgroup made",
    "sync: sent GO",
    "sync: received INIT_PID",
    "sync: received HOOKS",
    "prestart hook `/bin/true`",
    "hooks run in the container: createContainer `/bin/true`",
    "sync: sent HOOKS_DONE",
    "sync: received READY",
    "created, init",
    "goes on to exec",
    "process executed",
    "process exited, exit status 3",
    "delete",
]


def test_debug_says_what_happens_on_stderr(bundle, run_ocirun, cid):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/true"}], "createContainer": [{"path": "/bin/true"}]}
    bundle.set_args("sh", "-c", "exit 3").write()
    r = run_ocirun("--debug", "run", "--bundle", bundle.path, cid)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.splitlines()
    assert lines and all(l.startswith('time="') and ' level=debug msg="' in l for l in lines), lines
    text = "\n".join(lines)
    pos = [text.find(step) for step in DEBUG_STEPS]
    assert all(p >= 0 for p in pos), [s for s, p in zip(DEBUG_STEPS, pos) if p < 0]
    assert text.index("loaded and validated") < text.index("sync: sent GO") < text.index("process exited")


def test_debug_goes_to_the_log_file_as_json(bundle, run_ocirun, cid, tmp_path):
    log = tmp_path / "log.json"
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/true"}], "createContainer": [{"path": "/bin/true"}]}
    bundle.set_args("sh", "-c", "exit 3").write()
    r = run_ocirun("--debug", "--log", log, "--log-format", "json", "run", "--bundle", bundle.path, cid)
    assert r.returncode == 3 and r.stderr == ""
    entries = [json.loads(l) for l in log.read_text().splitlines()]
    assert entries and {e["level"] for e in entries} == {"debug"}
    msgs = "\n".join(e["msg"] for e in entries)
    for step in DEBUG_STEPS:
        assert step in msgs, step


def test_no_debug_no_lines(bundle, run_ocirun, cid, tmp_path):
    log = tmp_path / "log"
    bundle.set_args("true").write()
    r = run_ocirun("--log", log, "run", "--bundle", bundle.path, cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert not log.exists() or log.read_text() == ""


def test_kill_signal_0_checks_the_init(bundle, run_ocirun, cid):
    bundle.set_args("sleep", "1000").write()
    assert run_ocirun("create", "--bundle", bundle.path, cid).returncode == 0
    r = run_ocirun("kill", cid, "0")
    assert (r.returncode, r.stderr) == (0, "")  # created: the init is there
    assert run_ocirun("start", cid).returncode == 0
    r = run_ocirun("kill", cid, "0")
    assert (r.returncode, r.stderr) == (0, "")
    assert _status(run_ocirun, cid) == "running"
    assert run_ocirun("kill", cid, "KILL").returncode == 0
    helpers.wait_for(lambda: _status(run_ocirun, cid) == "stopped", what="the container to stop")
    r = run_ocirun("kill", cid, "0")
    assert (r.returncode, r.stderr) == (1, "container not running\n")


def _status(run_ocirun, cid):
    r = run_ocirun("state", cid)
    return json.loads(r.stdout)["status"] if r.returncode == 0 else None


def test_run_no_subreaper(bundle, run_ocirun, cid):
    bundle.set_args("sh", "-c", "exit 7").write()
    r = run_ocirun("run", "--no-subreaper", "--bundle", bundle.path, cid)
    assert (r.returncode, r.stderr) == (7, "")


def test_pid_file_errors_name_the_pid_file(bundle, root, run_ocirun, cid, tmp_path):
    bundle.set_args("true").write()
    missing = tmp_path / "no" / "such" / "pid"
    cases = [
        (tmp_path, "write --pid-file `%s`: EISDIR (Is a directory)" % tmp_path),
        (missing, "write --pid-file `%s`: ENOENT (No such file or directory)" % missing),
    ]
    for path, want in cases:
        for cmd in ("create", "run"):
            r = run_ocirun(cmd, "--pid-file", path, "--bundle", bundle.path, cid)
            assert (r.returncode, r.stderr) == (1, want + "\n")
            assert os.listdir(root) == []


def test_root_that_is_a_file(bundle, tmp_path, cid):
    f = tmp_path / "afile"
    f.write_text("")
    for argv in (["state", cid], ["create", "--bundle", bundle.path, cid], ["list"], ["kill", cid, "0"]):
        r = helpers.ocirun(str(f), *argv)
        assert (r.returncode, r.stderr) == (1, "--root `%s`: not a directory\n" % f), argv


def test_missing_bundle(root, run_ocirun, cid, tmp_path):
    for cmd in ("create", "run"):
        r = run_ocirun(cmd, "-b", tmp_path / "nope", cid)
        assert (r.returncode, r.stderr) == (1, "--bundle `%s`: no such directory\n" % (tmp_path / "nope"))
    assert os.listdir(root) == []
