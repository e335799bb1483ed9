"""What the checks are written with.

A *check* is one observable requirement of the runtime-spec, named after its
section (``config-linux.md#namespaces``), its level (MUST, SHOULD, or
DE-FACTO for behaviour the peers agree on where the spec says otherwise) and
a title.  Checks run as pytest subtests inside `with spec.check(...)`; the
outcome of each is recorded for the report:

* pass        - the body ran to its end (every body asserts something)
* fail        - an assertion or any error, including a container that
                could not be created for it
* unsupported - the body raised `Unsupported`: this host lacks the kernel
                feature, with the reason; never counted as a pass
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from .bundle import Bundle, base_config
from .runtime import Runtime, RuntimeFailure, cgroup_dirs, cgroup_rel, remove_cgroup


class Unsupported(Exception):
    """The host cannot show whether the runtime meets this requirement."""


@dataclasses.dataclass
class Outcome:
    section: str
    level: str
    title: str
    status: str
    reason: str = ""
    test: str = ""

    @property
    def key(self) -> str:
        return f"{self.section} {self.title}"


class Lazy:
    """Compute once on first use; a failure is remembered and re-raised for
    every check that depends on it, so each of them is recorded as failed."""

    def __init__(self, fn):
        self.fn = fn
        self.done = False
        self.value = None
        self.error = None

    def __call__(self):
        if not self.done:
            self.done = True
            try:
                self.value = self.fn()
            except Unsupported as e:
                self.error = e
            except Exception as e:  # noqa: BLE001 - recorded as the checks' failure
                self.error = e
        if self.error is not None:
            if isinstance(self.error, Unsupported):
                raise Unsupported(str(self.error))
            raise RuntimeFailure(f"setup failed: {_short(self.error)}") from self.error
        return self.value


def _short(e: BaseException) -> str:
    text = str(e).strip() or e.__class__.__name__
    first = text.splitlines()[0] if isinstance(e, AssertionError) else " ".join(text.split())
    return first[:400]


class Spec:
    """Records the outcome of each check; one per test function."""

    def __init__(self, subtests, outcomes: list, test_name: str, expected_failures=None):
        self.subtests = subtests
        self.outcomes = outcomes
        self.test_name = test_name
        # Checks this runtime is known to fail on purpose (--expect-fail FILE):
        # still recorded as fail in the report, but an xfail for pytest, and
        # an error if one starts passing, so the list cannot go stale.
        self.expected_failures = expected_failures or {}

    @contextlib.contextmanager
    def check(self, section: str, level: str, title: str):
        assert level in ("MUST", "SHOULD", "DE-FACTO"), level
        o = Outcome(section, level, title, "pass", test=self.test_name)
        with self.subtests.test(msg=f"[{level}] {section}: {title}"):
            try:
                yield
            except Unsupported as e:
                o.status, o.reason = "unsupported", str(e)
                self.outcomes.append(o)
                pytest.skip(f"unsupported here: {e}")
            except pytest.skip.Exception as e:
                o.status, o.reason = "unsupported", str(e.msg)
                self.outcomes.append(o)
                raise
            except BaseException as e:
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                o.status, o.reason = "fail", _short(e)
                self.outcomes.append(o)
                why = self.expected_failures.get(o.key)
                if why is not None:
                    pytest.xfail(f"expected: {why}")
                raise
            else:
                self.outcomes.append(o)
                if o.key in self.expected_failures:
                    raise AssertionError(
                        f"listed as an expected failure but passes: {o.key!r}; remove it from the --expect-fail file"
                    )


@dataclasses.dataclass
class Run:
    """What one container left behind: facts from inside, notes from outside."""

    bundle: Bundle
    cid: str
    facts: dict
    host: dict
    state_created: dict


class Env:
    """Everything a check needs: the runtime, the rootfs, bundles, containers."""

    def __init__(self, runtime: Runtime, workdir: Path, rootfs: Path, checker: Path):
        self.rt = runtime
        self.workdir = workdir
        self.rootfs = rootfs
        self.checker = checker
        self.bundles = workdir / "bundles"
        self.bundles.mkdir(exist_ok=True)
        self.probe = None  # (ok, message) of the first trivial container

    def need_working(self):
        """A refusal proves something only from a runtime that can run a valid container."""
        if self.probe is not None and not self.probe[0]:
            raise RuntimeFailure(
                f"the runtime cannot run a trivial valid container, so its refusal shows nothing: {self.probe[1]}"
            )

    # -- bundles

    def bundle(self, hint: str, args=("/checker", "facts", "/out/facts.json"), mutate=None, oci_version=None):
        cid = self.rt.new_id(hint)
        cfg = base_config(self.rootfs, args, self.rt.cgroups_path(cid))
        if oci_version:
            cfg["ociVersion"] = oci_version
        b = Bundle(self.bundles / cid, cfg)
        if mutate:
            mutate(b.config, b)
        b.write()
        return cid, b

    # -- containers

    @contextlib.contextmanager
    def container(self, cid: str, bundle: Bundle, **create_kw):
        """create; yield the state; always clean up after."""
        try:
            self.rt.must(self.rt.create(cid, bundle.path, **create_kw))
            st = self.rt.state(cid)
            if st is None:
                raise RuntimeFailure(f"`state {cid}` failed right after create: {self.rt.state_result(cid).describe()}")
            yield st
        finally:
            self.rt.cleanup(cid)

    def run(
        self, hint: str, probes=(), mutate=None, inspect=None, oci_version=None, facts_name="facts.json", args=None
    ) -> Run:
        """Run the checker once: create, optionally `inspect(state)` from the
        host while the container is created, start, wait for stopped, read
        the facts, delete."""
        if args is None:
            args = ["/checker", "facts", f"/out/{facts_name}", *probes]
        cid, b = self.bundle(hint, args=args, mutate=mutate, oci_version=oci_version)
        host = {}
        with self.container(cid, b) as st:
            if inspect:
                host = inspect(st) or {}
            self.rt.must(self.rt.start(cid))
            self.rt.wait_status(cid)
            facts = b.read_json(facts_name)
            self.rt.must(self.rt.delete(cid))
            host["cgroup_dirs_after_delete"] = cgroup_dirs(b.config["linux"].get("cgroupsPath", ""))
            if self.rt.systemd is not None:
                unit = cgroup_rel(b.config["linux"].get("cgroupsPath", "")).rsplit("/", 1)[-1]
                host["unit_after_delete"] = self.rt.systemd.show(unit, "LoadState", "ActiveState")
        return Run(b, cid, facts, host, st)

    def lazy(self, *a, **kw) -> Lazy:
        return Lazy(lambda: self.run(*a, **kw))


# ---- small helpers for the checks --------------------------------------


def caps_mask(names) -> int:
    from .capnames import CAPS

    mask = 0
    for n in names:
        mask |= 1 << CAPS.index(n)
    return mask


def mountinfo(text: str) -> list:
    """Parse mountinfo lines into dicts."""
    rows = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        f = left.split()
        r = right.split()
        rows.append(
            {
                "id": int(f[0]),
                "parent": int(f[1]),
                "root": f[3],
                "mountpoint": f[4],
                "opts": set(f[5].split(",")),
                "optional": f[6:],
                "fstype": r[0],
                "source": r[1] if len(r) > 1 else "",
                "super": set(r[2].split(",")) if len(r) > 2 else set(),
            }
        )
    return rows


def mount_at(rows: list, point: str):
    """The mount visible at `point`: the last one mounted there."""
    found = [r for r in rows if r["mountpoint"] == point]
    return found[-1] if found else None


def host_ns(pid, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def wait_for(pred, timeout=5.0, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def read_cgroup_file(pid: int, controller: str, name: str):
    """Read `name` in the cgroup `pid` is in, for a v1 controller (or the
    unified hierarchy when controller is ''). Raises Unsupported when the
    controller is not mounted here."""
    cg = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    for line in cg:
        _, ctrls, path = line.split(":", 2)
        if controller and controller in ctrls.split(","):
            base = f"/sys/fs/cgroup/{controller}"
            break
        if not controller and ctrls == "":
            base = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
            break
    else:
        raise Unsupported(f"no {controller or 'cgroup2'} hierarchy on this host")
    f = Path(base) / path.lstrip("/") / name
    if not f.exists():
        raise Unsupported(f"{f.relative_to(base)} does not exist in {base}")
    return f.read_text()


def parse_json_lines(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


__all__ = [
    "Unsupported",
    "Lazy",
    "Spec",
    "Env",
    "Run",
    "caps_mask",
    "mountinfo",
    "mount_at",
    "host_ns",
    "wait_for",
    "read_cgroup_file",
    "parse_json_lines",
    "remove_cgroup",
]
