"""create's unwinding, on stand-ins: the core's side of the sync protocol is
a scripted channel, the setup process and the init are `sleep`s of ours,
the cgroup manager is tests/fakes.py's FakeCgroupManager. Whatever step
fails, create leaves nothing: no state dir, no process, no fd, and the
cgroup it made is killed and removed."""

import os
import subprocess
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fakes import FakeCgroupManager  # noqa: E402
from runtime import cgroups, cli, errors, sealed, sync  # noqa: E402
from runtime.__main__ import Context  # noqa: E402
from runtime.cli.spec import default_config  # noqa: E402
from runtime.ops import create as create_op  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="plan.build opens the rootfs as root")

MSG = {
    "GO": 1,
    "USERNS": 2,
    "MAPS_DONE": 3,
    "INIT_PID": 4,
    "HOOKS": 5,
    "HOOKS_DONE": 6,
    "TERMINAL": 7,
    "READY": 8,
    "ERROR": 9,
    "WARNING": 10,
    "MOUNT_FD": 11,
    "SECCOMP_FD": 12,
}


class ScriptedChannel:
    """The core's side: answers each wait from the script; `fail_at` (a
    message name) is where the child reports an error instead."""

    def __init__(self, who, fail_at, children):
        self.who, self.fail_at, self.children = who, fail_at, children
        self.lib = types.SimpleNamespace(**{"OCIRUN_MSG_" + k: v for k, v in MSG.items()})
        self.sent = []

    def send(self, mtype, fd=None):
        self.sent.append(mtype)

    def wait(self, want, step):
        name = next(k for k, v in MSG.items() if v == want)
        if name == self.fail_at:
            raise errors.CoreError(1, "mounts", "scripted failure during %s" % step)
        if name == "INIT_PID":
            os.kill(self.who, 9)  # the setup process exits once it has cloned the init
            init = subprocess.Popen(["sleep", "300"])
            self.children.append(init)
            return types.SimpleNamespace(pid=init.pid), None
        return types.SimpleNamespace(pid=0), None


def _fds():
    return sorted(os.listdir("/proc/self/fd"))


CASES = [
    # (what fails, the manager calls create makes before it unwinds)
    ("check_unused", ["create", "check_unused", "destroy"]),
    ("join", ["create", "check_unused", "join", "destroy"]),
    ("apply", ["create", "check_unused", "join", "apply", "destroy"]),
    ("INIT_PID", ["create", "check_unused", "join", "apply", "destroy"]),
    ("HOOKS", ["create", "check_unused", "join", "apply", "kill_all", "destroy"]),
    ("READY", ["create", "check_unused", "join", "apply", "kill_all", "destroy"]),
]


@pytest.mark.parametrize("fail_at,calls", CASES, ids=[c[0] for c in CASES])
def test_create_unwinds(tmp_path, monkeypatch, fail_at, calls):
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    cfg = default_config()
    cfg["process"]["terminal"] = False
    import json

    (bundle / "config.json").write_text(json.dumps(cfg))
    mgr = FakeCgroupManager()
    if fail_at in ("check_unused", "join", "apply"):
        mgr.fail[fail_at] = errors.OciError("scripted %s failure" % fail_at)
    children = []

    def fake_spawn(ffi, lib, p, parent_sock, undo, mask=False):
        setup = subprocess.Popen(["sleep", "300"])
        children.append(setup)
        undo.callback(sync.kill_and_reap, setup.pid)
        p.close()
        return ScriptedChannel(setup.pid, fail_at, children)

    monkeypatch.setattr(create_op, "spawn", fake_spawn)
    monkeypatch.setattr(sealed, "ensure", lambda: None)
    monkeypatch.setattr(cgroups, "open_manager", lambda *a, **k: mgr)
    gopts, _ = cli.parse(cli.GLOBAL_FLAGS, ["--root", str(tmp_path / "root")], "ocirun")
    ctx = Context(gopts, None)
    before = _fds()
    try:
        with pytest.raises(errors.OciError, match="scripted"):
            create_op.create(ctx, "unwind", str(bundle))
        leftover = [c.pid for c in children if c.poll() is None]
    finally:
        for child in children:  # never leave a sleep behind, whatever failed
            if child.pid not in sync.REAPED and child.poll() is None:
                child.kill()
                child.wait()
    assert leftover == []
    assert [c[0] for c in mgr.calls if c[0] != "prepare_realtime"] == calls
    assert mgr.destroyed
    if "kill_all" in calls:
        assert ("kill_all", (9,)) in mgr.calls
    assert not os.path.exists(tmp_path / "root" / "unwind")
    for child in children:  # killed and reaped by the undo steps, never left running
        assert child.pid in sync.REAPED
        with pytest.raises(ProcessLookupError):
            os.kill(child.pid, 0)
    assert len(children) == (2 if fail_at in ("HOOKS", "READY") else 1)
    assert _fds() == before
