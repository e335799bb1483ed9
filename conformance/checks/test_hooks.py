"""config.md#posix-platform-hooks and the hook steps of runtime.md#lifecycle.

Every hook is the checker's `hook` step: it appends one JSON line (its name,
the state it read on stdin, its namespaces and root) to BUNDLE/out/hooks.log,
which the container sees as /out/hooks.log.  The container process appends
its own line, so the log gives the order of everything."""

from __future__ import annotations

import json
import os
import time

from conformance.harness import Lazy, host_ns, parse_json_lines, wait_for
from conformance.runtime import _alive

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
ORDER = ["prestart", "createRuntime", "createContainer", "startContainer", "process", "poststart", "poststop"]


def _hook(env, b, name, *extra, container_side=False, timeout=None, environ=None):
    log = "/out/hooks.log" if container_side else str(b.out / "hooks.log")
    path = "/checker" if container_side else str(env.checker)
    h = {"path": path, "args": ["conformance-hook", "hook", name, log, *extra]}
    if environ is not None:
        h["env"] = environ
    if timeout is not None:
        h["timeout"] = timeout
    return h


def _hooks_bundle(env, hint, fail=None, timeout_kind=None, oci_version=None):
    """A bundle whose every hook kind logs; `fail` names a kind whose first hook exits 1."""

    def mutate(c, b):
        hooks = {}
        for kind in KINDS:
            extra = ("fail",) if kind == fail else ()
            if kind == timeout_kind:
                extra = ("sleep=10",)
            first = _hook(
                env,
                b,
                f"{kind}-1",
                *extra,
                container_side=(kind == "startContainer"),
                environ=["CONF_HOOK=1", f"CONF_KIND={kind}"],
                timeout=1 if kind == timeout_kind else None,
            )
            second = _hook(env, b, f"{kind}-2", container_side=(kind == "startContainer"))
            hooks[kind] = [first, second]
        c["hooks"] = hooks
        c["annotations"] = {"org.ocirun.hooks": hint}

    return env.bundle(
        hint, args=["/checker", "hook", "process", "/out/hooks.log"], mutate=mutate, oci_version=oci_version
    )


def _names(log):
    return [e["hook"] for e in log]


def test_hooks_lifecycle(env, spec):
    rt = env.rt
    cid, b = _hooks_bundle(env, "hooks", oci_version="1.0.2")
    logf = b.out / "hooks.log"
    seen = {}

    def drive():
        rt.must(rt.create(cid, b.path))
        seen["after_create"] = _names(parse_json_lines(logf))
        st = rt.state(cid)
        seen["state"] = st
        seen["container_mnt"] = host_ns(st["pid"], "mnt")
        rt.must(rt.start(cid))
        seen["after_start"] = _names(parse_json_lines(logf))
        rt.wait_status(cid)
        seen["before_delete"] = _names(parse_json_lines(logf))
        rt.must(rt.delete(cid))
        seen["after_delete"] = _names(parse_json_lines(logf))
        seen["log"] = parse_json_lines(logf)
        return seen

    run = Lazy(drive)
    try:
        with spec.check(
            "runtime.md#lifecycle", "MUST", "prestart, createRuntime and createContainer hooks run during create"
        ):
            s = run()
            for kind in ("prestart", "createRuntime", "createContainer"):
                assert f"{kind}-1" in s["after_create"], f"{kind} had not run when create returned: {s['after_create']}"
            assert "startContainer-1" not in s["after_create"] and "process" not in s["after_create"]

        with spec.check(
            "runtime.md#lifecycle",
            "MUST",
            "prestart, createRuntime, createContainer, startContainer hooks, then the process",
        ):
            names = _names(run()["log"])
            seq = [
                "prestart-2",
                "createRuntime-1",
                "createRuntime-2",
                "createContainer-1",
                "createContainer-2",
                "startContainer-1",
                "startContainer-2",
                "process",
            ]
            missing = [n for n in seq if n not in names]
            assert not missing, f"never ran: {missing}; log {names}"
            pos = [names.index(n) for n in seq]
            assert pos == sorted(pos), f"order {names}"

        with spec.check(
            "runtime.md#lifecycle",
            "MUST",
            "poststart hooks run after the process is executed (not before startContainer)",
        ):
            s = run()
            assert "poststart-1" not in s["after_create"], f"poststart ran during create: {s['after_create']}"
            names = _names(s["log"])
            assert "poststart-1" in names and "startContainer-2" in names, names
            assert names.index("startContainer-2") < names.index("poststart-1"), f"order {names}"

        with spec.check("runtime.md#lifecycle", "MUST", "poststop hooks run after everything else"):
            names = _names(run()["log"])
            assert names[-2:] == ["poststop-1", "poststop-2"], f"order {names}"

        with spec.check("config.md#posix-platform-hooks", "MUST", "hooks of one kind run in the listed order"):
            names = _names(run()["log"])
            for kind in KINDS:
                assert f"{kind}-1" in names and f"{kind}-2" in names, f"{kind}: {names}"
                assert names.index(f"{kind}-1") < names.index(f"{kind}-2"), f"{kind}: {names}"

        with spec.check("runtime.md#lifecycle", "MUST", "poststart hooks run before start returns"):
            s = run()
            assert "poststart-1" in s["after_start"] and "poststart-2" in s["after_start"], s["after_start"]

        with spec.check("runtime.md#lifecycle", "MUST", "poststop hooks run during delete, before it returns"):
            s = run()
            assert "poststop-1" not in s["before_delete"], "poststop ran before delete"
            assert "poststop-2" in s["after_delete"], s["after_delete"]

        with spec.check("config.md#posix-platform-hooks", "MUST", "the container state is passed on the hook's stdin"):
            s = run()
            for e in s["log"]:
                if e["hook"] == "process":
                    continue
                st = json.loads(e["stdin"])
                assert st.get("id") == cid, f"{e['hook']}: id {st.get('id')!r}"
                assert os.path.realpath(st.get("bundle", "")) == os.path.realpath(b.path), f"{e['hook']}: {st}"
                assert st.get("ociVersion"), f"{e['hook']}: no ociVersion"
                assert isinstance(st.get("status"), str) and st["status"], f"{e['hook']}: status {st.get('status')!r}"
                assert st.get("annotations", {}).get("org.ocirun.hooks") == "hooks", f"{e['hook']}: annotations"

        with spec.check(
            "config.md#posix-platform-hooks",
            "MUST",
            "hooks in the runtime namespace get the container pid as the host sees it",
        ):
            s = run()
            for e in s["log"]:
                if e["hook"].split("-")[0] in ("prestart", "createRuntime", "poststart"):
                    st = json.loads(e["stdin"])
                    assert st.get("pid") == s["state"]["pid"], f"{e['hook']}: pid {st.get('pid')}"

        with spec.check(
            "runtime.md#state", "SHOULD", "hooks in the container namespace get the pid as the container sees it (1)"
        ):
            # spelled out from runtime-spec 1.1 on
            for e in run()["log"]:
                if e["hook"].split("-")[0] in ("createContainer", "startContainer"):
                    st = json.loads(e["stdin"])
                    assert st.get("pid") == 1, f"{e['hook']}: pid {st.get('pid')}"

        with spec.check("config.md#posix-platform-hooks", "MUST", "hook env and args are used as given"):
            e = next(x for x in run()["log"] if x["hook"] == "prestart-1")
            assert e["argv"][0] == "conformance-hook", e["argv"]
            assert sorted(e["env"]) == ["CONF_HOOK=1", "CONF_KIND=prestart"], e["env"]

        with spec.check(
            "config.md#prestart",
            "MUST",
            "prestart, createRuntime, poststart and poststop hooks run in the runtime namespace",
        ):
            for e in run()["log"]:
                if e["hook"].split("-")[0] in ("prestart", "createRuntime", "poststart", "poststop"):
                    for kind in ("pid", "uts", "net"):
                        assert e["ns"][kind] == host_ns(os.getpid(), kind), f"{e['hook']} in another {kind} namespace"

        with spec.check(
            "config.md#createcontainer-hooks", "MUST", "createContainer hooks run in the container's mount namespace"
        ):
            s = run()
            e = next(x for x in s["log"] if x["hook"] == "createContainer-1")
            assert e["ns"]["mnt"] == s["container_mnt"], f"{e['ns']['mnt']} != {s['container_mnt']}"

        with spec.check(
            "config.md#startcontainer-hooks",
            "MUST",
            "startContainer hooks run in the container (its namespaces and root)",
        ):
            s = run()
            e = next(x for x in s["log"] if x["hook"] == "startContainer-1")
            p = next(x for x in s["log"] if x["hook"] == "process")
            assert e["ns"] == p["ns"], f"{e['ns']} != the process's {p['ns']}"
            assert e["root_ino"] == os.stat(env.rootfs).st_ino, "not run inside the container's root"
    finally:
        rt.cleanup(cid)


def _failing(env, kind):
    """Drive a container whose first `kind` hook fails; report what happened."""
    rt = env.rt
    cid, b = _hooks_bundle(env, f"fail-{kind}", fail=kind)
    logf = b.out / "hooks.log"
    o = {}
    try:
        t0 = time.monotonic()
        o["create"] = rt.create(cid, b.path)
        o["state_after_create"] = rt.state(cid)
        if o["create"].ok:
            o["start"] = rt.start(cid)
            if o["start"].ok:
                wait_for(lambda: (rt.state(cid) or {}).get("status") in (None, "stopped"), 5)
            o["pid"] = (o["state_after_create"] or {}).get("pid")
            o["delete"] = rt.delete(cid, force=not o["start"].ok)
        o["elapsed"] = time.monotonic() - t0
        o["state_end"] = rt.state(cid)
        o["log"] = _names(parse_json_lines(logf))
        return o
    finally:
        rt.cleanup(cid)


def test_hook_failures(env, spec):
    for kind in ("prestart", "createRuntime", "createContainer", "startContainer"):
        with spec.check(
            f"config.md#{kind.lower()}", "MUST", f"a failing {kind} hook is an error and the process never runs"
        ):
            env.need_working()
            o = _failing(env, kind)
            failed = not o["create"].ok or not o.get("start", o["create"]).ok
            assert failed, "create and start both succeeded"
            assert "process" not in o["log"], f"the process ran: {o['log']}"
            assert f"{kind}-2" not in o["log"], f"the next {kind} hook still ran: {o['log']}"
            pid = o.get("pid")
            assert not (pid and _alive(pid)), "the container process is still alive"

    # runtime-spec 1.3.0 made a failing poststart hook fatal (it was a warning
    # up to 1.1): the operation fails and the container is stopped.
    with spec.check(
        "config.md#poststart",
        "MUST",
        "a failing poststart hook is an error: the operation fails and the container is stopped (1.3.0)",
    ):
        o = _failing(env, "poststart")
        failed = not o["create"].ok or not o.get("start", o["create"]).ok
        assert failed, "create and start both succeeded"
        assert "poststart-2" not in o["log"], f"the next poststart hook still ran: {o['log']}"
        pid = o.get("pid")
        assert not (pid and _alive(pid)), "the container process is still alive"

    with spec.check(
        "config.md#poststop", "MUST", "a failing poststop hook is a warning: delete succeeds and the other hooks run"
    ):
        o = _failing(env, "poststop")
        assert o["create"].ok and o["start"].ok, "the container did not run"
        assert o["delete"].ok, f"delete failed: {o['delete'].describe()}"
        assert o["state_end"] is None, "the container still exists"
        assert "poststop-2" in o["log"], o["log"]


def test_hook_timeout(env, spec):
    with spec.check(
        "config.md#posix-platform-hooks", "MUST", "a hook that outlives its timeout is aborted and counts as failed"
    ):
        env.need_working()
        rt = env.rt
        cid, b = _hooks_bundle(env, "timeout", timeout_kind="prestart")
        try:
            t0 = time.monotonic()
            r = rt.create(cid, b.path, timeout=30)
            if r.ok:
                r = rt.start(cid)
            elapsed = time.monotonic() - t0
            log = _names(parse_json_lines(b.out / "hooks.log"))
            assert not r.ok, "create and start succeeded although the prestart hook timed out"
            assert elapsed < 8, f"the hook was not aborted: the runtime took {elapsed:.1f}s"
            assert "process" not in log, "the process ran"
        finally:
            rt.cleanup(cid)
