"""runtime.md: state, lifecycle, errors and the five operations."""

from __future__ import annotations

import json
import os
import re
import time

from conformance.harness import Lazy, cgroup_dirs, wait_for
from conformance.runtime import _alive

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
ANNOTATIONS = {"org.ocirun.conformance": "lifecycle", "org.ocirun.empty": ""}


def _ids(rt):
    r = rt.cmd("list", "--format", "json")
    try:
        return {c["id"] for c in json.loads(r.out or "[]") or []}
    except (ValueError, TypeError, KeyError):
        return set()


def test_create_errors(env, spec):
    rt = env.rt

    with spec.check("runtime.md#create", "MUST", "create without a container id fails"):
        env.need_working()
        _, b = env.bundle("noid")
        r = rt.cmd("create", "--bundle", b.path)
        assert not r.ok, "create with no id succeeded"

    with spec.check("runtime.md#create", "MUST", "create with a missing bundle fails and creates nothing"):
        env.need_working()
        cid = rt.new_id("nobundle")
        r = rt.create(cid, env.workdir / "no-such-bundle")
        try:
            assert not r.ok, "create succeeded without a bundle"
            assert rt.state(cid) is None, "a container exists after the failed create"
            assert cid not in _ids(rt), "the failed container is listed"
        finally:
            rt.cleanup(cid)

    with spec.check("runtime.md#errors", "MUST", "create with an unparsable config.json fails and creates nothing"):
        env.need_working()
        cid, b = env.bundle("badjson")
        (b.path / "config.json").write_text('{"ociVersion": "1.0.2", "process": ')
        r = rt.create(cid, b.path)
        try:
            assert not r.ok, "create succeeded with a truncated config.json"
            assert rt.state(cid) is None, "a container exists after the failed create"
            assert not cgroup_dirs(b.config["linux"]["cgroupsPath"]), "its cgroup was left behind"
        finally:
            rt.cleanup(cid)

    with spec.check(
        "runtime.md#lifecycle",
        "MUST",
        "create fails when the environment cannot be built, leaving no container, process or cgroup",
    ):
        env.need_working()

        def bad_mount(c, b):
            c["mounts"].append({"destination": "/mnt", "type": "no-such-fs", "source": "none"})

        cid, b = env.bundle("badmount", args=["/checker", "touch", "/out/ran"], mutate=bad_mount)
        r = rt.create(cid, b.path)
        try:
            assert not r.ok, "create succeeded with a mount of an unknown filesystem type"
            assert rt.state(cid) is None, "a container exists after the failed create"
            left = cgroup_dirs(b.config["linux"]["cgroupsPath"])
            assert not left, f"cgroup directories left behind: {left}"
            assert not b.out_file("ran").exists(), "the process ran"
        finally:
            rt.cleanup(cid)

    with spec.check("runtime.md#create", "MUST", "create with an invalid id (`a/b`) fails"):
        env.need_working()
        _, b = env.bundle("badid")
        r = rt.cmd("create", "--bundle", b.path, "a/b")
        try:
            assert not r.ok, "create accepted the id `a/b`"
            assert not (rt.root / "a").exists(), "a state directory `a` was made"
        finally:
            rt.cmd("delete", "--force", "a/b")


def test_create_duplicate(env, spec):
    rt = env.rt
    cid, b = env.bundle("dup", args=["/checker", "sleep", "30"])
    _, b2 = env.bundle("dup2")
    first = Lazy(lambda: rt.must(rt.create(cid, b.path)) and rt.state(cid))
    try:
        with spec.check(
            "runtime.md#create",
            "MUST",
            "create with an id already in use fails and leaves the first container unchanged",
        ):
            st = first()
            r = rt.create(cid, b2.path)
            assert not r.ok, "a second create with the same id succeeded"
            st2 = rt.state(cid)
            assert st2 and st2.get("status") == "created", f"the first container changed: {st2}"
            assert st2.get("pid") == st.get("pid"), "the first container's pid changed"
            assert st2.get("bundle") == st.get("bundle"), "the first container's bundle changed"
    finally:
        rt.cleanup(cid)


def test_lifecycle(env, spec):
    """One container through created -> running -> stopped -> deleted."""
    rt = env.rt

    def mutate(c, b):
        c["annotations"] = dict(ANNOTATIONS)

    args = ["/checker", "touch", "/out/ran", "--and", "wait-signal", "/out/signal"]
    cid, b = env.bundle("life", args=args, mutate=mutate)
    ran = b.out_file("ran")
    created = Lazy(lambda: rt.must(rt.create(cid, b.path)) and rt.state(cid))
    try:
        with spec.check("runtime.md#create", "MUST", "status is `created` after create"):
            st = created()
            assert st is not None, "state failed after create"
            assert st.get("status") == "created", f"status is {st.get('status')!r}"

        with spec.check("runtime.md#state", "MUST", "state has ociVersion, id, status, pid and bundle"):
            st = created()
            missing = [k for k in ("ociVersion", "id", "status", "pid", "bundle") if k not in st]
            assert not missing, f"missing {missing} in {st}"

        with spec.check("runtime.md#state", "MUST", "state id is the container's id"):
            st = created()
            assert st["id"] == cid, f"id {st['id']!r}"

        with spec.check("runtime.md#state", "MUST", "state ociVersion is the SemVer version the state complies with"):
            # the version of the state document, not the config's (runc says 1.0.2-dev)
            st = created()
            assert isinstance(st["ociVersion"], str) and SEMVER.match(st["ociVersion"]), (
                f"ociVersion {st['ociVersion']!r}"
            )

        with spec.check("runtime.md#state", "MUST", "state bundle is the absolute bundle path"):
            st = created()
            assert os.path.isabs(st["bundle"]), f"bundle {st['bundle']!r} is not absolute"
            assert os.path.realpath(st["bundle"]) == os.path.realpath(b.path), st["bundle"]

        with spec.check("runtime.md#state", "MUST", "state pid is the container process as seen by the host"):
            st = created()
            pid = st.get("pid")
            assert isinstance(pid, int) and pid > 0, f"pid {pid!r}"
            assert _alive(pid), f"pid {pid} is not a live process"

        with spec.check("runtime.md#state", "MUST", "state annotations are the config's annotations"):
            st = created()
            assert st.get("annotations") == ANNOTATIONS, f"annotations {st.get('annotations')!r}"

        with spec.check("runtime.md#create", "MUST", "the user-specified program does not run before start"):
            st = created()
            time.sleep(0.3)
            assert not ran.exists(), "the process ran before start"
            exe = os.readlink(f"/proc/{st['pid']}/exe")
            assert not exe.endswith("/checker"), f"the container process already is {exe}"

        with spec.check(
            "runtime.md#lifecycle", "MUST", "changes to config.json after create do not affect the container"
        ):
            created()
            changed = dict(b.config)
            changed["process"] = dict(b.config["process"], args=["/checker", "touch", "/out/changed"])
            (b.path / "config.json").write_text(json.dumps(changed))
            started = rt.start(cid)
            assert started.ok, started.describe()
            assert wait_for(ran.exists), "the configured process did not run"
            assert not b.out_file("changed").exists(), "the edited config.json was used"

        with spec.check("runtime.md#start", "MUST", "start runs the process and the status becomes `running`"):
            created()
            assert wait_for(ran.exists), "the process did not run after start"
            st = rt.state(cid)
            assert st and st.get("status") == "running", f"state after start: {st}"

        with spec.check("runtime.md#start", "MUST", "start of a running container fails and has no effect"):
            st0 = created()
            assert wait_for(ran.exists), "the process is not running"
            ran.unlink()
            r = rt.start(cid)
            assert not r.ok, "a second start succeeded"
            time.sleep(0.1)
            st = rt.state(cid)
            assert st and st.get("status") == "running", f"state after the second start: {st}"
            assert st.get("pid") == st0["pid"], "the pid changed"
            assert not ran.exists(), "the process was run again"

        with spec.check("runtime.md#kill", "MUST", "kill sends the given signal to the container process"):
            created()
            r = rt.kill(cid, "USR1")
            assert r.ok, r.describe()
            sig = wait_for(lambda: b.out_file("signal").exists() and b.out_file("signal").read_text().strip())
            assert sig == "10", f"the process received signal {sig!r}, not SIGUSR1 (10)"

        with spec.check("runtime.md#kill", "MUST", "after the process exits the status is `stopped`"):
            created()
            st = rt.wait_status(cid, timeout=5)
            assert st["status"] == "stopped"

        with spec.check("runtime.md#start", "MUST", "start of a stopped container fails"):
            created()
            rt.wait_status(cid, timeout=5)
            r = rt.start(cid)
            assert not r.ok, "start of a stopped container succeeded"
            st = rt.state(cid)
            assert st and st.get("status") == "stopped", f"state after it: {st}"

        with spec.check("runtime.md#kill", "MUST", "kill of a stopped container fails and has no effect"):
            created()
            rt.wait_status(cid, timeout=5)
            r = rt.kill(cid, "KILL")
            assert not r.ok, "kill of a stopped container succeeded"
            st = rt.state(cid)
            assert st and st.get("status") == "stopped", f"state after it: {st}"

        with spec.check("runtime.md#delete", "MUST", "delete of a stopped container removes it"):
            created()
            rt.wait_status(cid, timeout=5)
            r = rt.delete(cid)
            assert r.ok, r.describe()
            assert rt.state(cid) is None, "state still answers after delete"
            assert cid not in _ids(rt), "the container is still listed"

        with spec.check("runtime.md#delete", "MUST", "delete removes the resources create made (cgroups)"):
            created()
            left = cgroup_dirs(b.config["linux"]["cgroupsPath"])
            assert not left, f"cgroup directories left: {left}"

        with spec.check("runtime.md#create", "MUST", "an id is free again once its container is deleted"):
            created()
            _, b3 = env.bundle("reuse", args=["/checker", "touch", "/out/ran"])
            r = rt.create(cid, b3.path)
            assert r.ok, r.describe()
    finally:
        rt.cleanup(cid)


def test_unknown_and_missing_ids(env, spec):
    rt = env.rt
    ghost = rt.new_id("ghost")
    for op in ("state", "start", "kill", "delete"):
        with spec.check(
            f"runtime.md#{'query-state' if op == 'state' else op}",
            "MUST",
            f"{op} of a container that does not exist fails",
        ):
            env.need_working()
            args = [op, ghost] + (["KILL"] if op == "kill" else [])
            r = rt.cmd(*args)
            assert not r.ok, f"{op} of an unknown id succeeded"
        with spec.check(
            f"runtime.md#{'query-state' if op == 'state' else op}", "MUST", f"{op} without a container id fails"
        ):
            env.need_working()
            r = rt.cmd(op)
            assert not r.ok, f"{op} without an id succeeded"


def test_kill_created(env, spec):
    rt = env.rt
    cid, b = env.bundle("killcreated", args=["/checker", "touch", "/out/ran"])
    created = Lazy(lambda: rt.must(rt.create(cid, b.path)) and rt.state(cid))
    try:
        with spec.check("runtime.md#kill", "MUST", "kill of a created container is allowed and stops it"):
            st = created()
            r = rt.kill(cid, "KILL")
            assert r.ok, r.describe()
            st = rt.wait_status(cid, timeout=5)
            assert st["status"] == "stopped"
            assert not b.out_file("ran").exists(), "the process ran although never started"
    finally:
        rt.cleanup(cid)


def test_delete_not_stopped(env, spec):
    rt = env.rt
    cid, b = env.bundle("delrunning", args=["/checker", "touch", "/out/ran", "--and", "sleep", "30"])
    running = Lazy(
        lambda: (
            rt.must(rt.create(cid, b.path)),
            rt.must(rt.start(cid)),
            wait_for(b.out_file("ran").exists),
            rt.state(cid),
        )[-1]
    )
    try:
        with spec.check("runtime.md#delete", "MUST", "delete of a running container fails and leaves it running"):
            st = running()
            r = rt.delete(cid)
            assert not r.ok, "delete of a running container succeeded"
            st2 = rt.state(cid)
            assert st2 and st2.get("status") == "running", f"state after it: {st2}"
            assert _alive(st["pid"]), "the process is gone"
    finally:
        rt.cleanup(cid)

    cid, b = env.bundle("delcreated", args=["/checker", "touch", "/out/ran"])
    created = Lazy(lambda: rt.must(rt.create(cid, b.path)) and rt.state(cid))
    outcome = {}

    def try_delete():
        if not outcome:
            st = created()
            r = rt.delete(cid)
            outcome.update(st=st, r=r, after=rt.state(cid), alive=not wait_for(lambda: not _alive(st["pid"]), 2))
        return outcome

    try:
        with spec.check(
            "runtime.md#delete", "MUST", "delete of a created (not stopped) container fails and has no effect"
        ):
            o = try_delete()
            assert not o["r"].ok, "delete of a created container succeeded"
            assert o["after"] and o["after"].get("status") == "created", f"state after it: {o['after']}"
        with spec.check(
            "runtime.md#delete", "DE-FACTO", "delete of a created container removes it and its process (runc, crun)"
        ):
            o = try_delete()
            assert o["r"].ok, f"delete of a created container failed: {o['r'].describe()}"
            assert o["after"] is None, "the container still exists"
            assert not o["alive"], "its process still runs"
            assert not b.out_file("ran").exists(), "the process was started by delete"
    finally:
        rt.cleanup(cid)
