"""pytest wiring: `--runtime PATH` (default $OCI_RUNTIME), the session's
work directory, the checker binary, the rootfs, and the `spec` fixture.

    python3 -m pytest conformance --runtime /usr/sbin/runc
    python3 -m pytest conformance --runtime crun --conformance-json out.json
    python3 -m pytest conformance/checks/test_cgroups.py --runtime runc --systemd-cgroup

With `--systemd-cgroup` the session boots a real systemd (conformance/systemd.py:
pid 1 of a private pid and mount namespace, its own /run and /tmp), runs the
runtime in its namespaces with `--systemd-cgroup` and cgroupsPath
`system.slice:conformance:<id>`, and stops it (and removes what it made) at
the end. Its work directory is then under /var/lib, not /tmp.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from . import systemd as boot
from .bundle import build_checker, build_rootfs
from .harness import Env, Spec
from .runtime import Runtime, is_hybrid, remove_cgroup, umount_under

SYSTEMD_WORKDIR = "/var/lib/ocirun-conformance"

_OUTCOMES: list = []
_INFO: dict = {}
_CONFIG: list = []


def pytest_addoption(parser):
    g = parser.getgroup("conformance", "OCI runtime conformance")
    g.addoption(
        "--runtime",
        default=os.environ.get("OCI_RUNTIME"),
        help="runc-compatible runtime binary to check (default: $OCI_RUNTIME)",
    )
    g.addoption("--conformance-json", default=None, help="write every check's outcome to this JSON file")
    g.addoption(
        "--systemd-cgroup",
        action="store_true",
        default=False,
        help="boot a private systemd and run the runtime with --systemd-cgroup against it",
    )
    g.addoption(
        "--expect-fail",
        default=None,
        help="file of checks (`section title` per line, `# reason` above) this runtime fails on purpose",
    )


def _read_expected_failures(path):
    """{check key: reason}; the reason is the comment block above each key."""
    out, why = {}, []
    if not path:
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                why.append(line.lstrip("# "))
            elif line:
                out[line] = " ".join(why) or "listed"
                why = []
            else:
                why = []
    return out


@pytest.fixture(scope="session")
def workdir(request):
    systemd_mode = request.config.getoption("--systemd-cgroup")
    # systemd's /tmp is its own tmpfs: bundles and state must be where it sees them
    base = os.environ.get("CONFORMANCE_TMP") or (SYSTEMD_WORKDIR if systemd_mode else "/tmp")
    if (
        systemd_mode
        and os.path.realpath(base).startswith(("/tmp/", "/var/tmp/", "/run/"))
        or systemd_mode
        and os.path.realpath(base) in ("/tmp", "/var/tmp", "/run")
    ):
        pytest.exit(
            f"conformance: --systemd-cgroup needs a work directory outside /tmp, /var/tmp and /run "
            f"(CONFORMANCE_TMP={base})",
            returncode=2,
        )
    os.makedirs(base, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="ocirun-conformance-", dir=base))
    os.chmod(d, 0o755)
    yield d
    umount_under(str(d))
    shutil.rmtree(d, ignore_errors=True)
    if base == SYSTEMD_WORKDIR:
        try:
            os.rmdir(base)
        except OSError:
            pass


@pytest.fixture(scope="session")
def systemd(request, workdir):
    """With --systemd-cgroup: the session's systemd (conformance.systemd.Systemd),
    stopped and cleaned up at the end (a failure there fails the session); else None."""
    if not request.config.getoption("--systemd-cgroup"):
        yield None
        return
    if not request.config.getoption("--runtime"):
        pytest.skip("no runtime to check: pass --runtime PATH or set OCI_RUNTIME")
    try:
        with boot.booted(str(workdir)) as sd:
            yield sd
    except boot.BootError as e:
        _INFO["systemd_error"] = " ".join(str(e).split())[:600]
        pytest.fail(f"the private systemd: {e}")


@pytest.fixture(scope="session")
def checker(workdir):
    return build_checker(workdir / "checker")


@pytest.fixture(scope="session")
def rootfs(workdir, checker):
    return build_rootfs(workdir / "rootfs", checker)


def _probe(env: Env) -> tuple:
    """Run one trivial container; returns (ok, message)."""

    def attempt():
        cid, b = env.bundle("probe", args=["/checker", "touch", "/out/ran"])
        r = env.rt.create(cid, b.path)
        try:
            if not r.ok:
                return False, r.describe(), r.err
            r2 = env.rt.start(cid)
            if not r2.ok:
                return False, r2.describe(), r2.err
            env.rt.wait_status(cid)
            return (b.out_file("ran").exists(), "ok" if b.out_file("ran").exists() else "the process did not run", "")
        except AssertionError as e:
            return False, str(e), ""
        finally:
            env.rt.cleanup(cid)

    ok, msg, err = attempt()
    if not ok and "hybrid" in err and is_hybrid():
        env.rt.use_v1_only_view()
        ok, msg, _ = attempt()
        if not ok:
            env.rt.use_v1_only_view(False)
    return ok, msg


@pytest.fixture(scope="session")
def env(request, workdir, rootfs, checker, systemd):
    path = request.config.getoption("--runtime")
    if not path:
        pytest.skip("no runtime to check: pass --runtime PATH or set OCI_RUNTIME")
    rt = Runtime(path, workdir, systemd=systemd)
    e = Env(rt, workdir, rootfs, checker)
    ok, msg = _probe(e) if rt.available else (False, f"{path}: not found or not executable")
    e.probe = (ok, msg)
    _INFO.update(
        path=rt.binary,
        name=rt.name,
        version=rt.version,
        quirks=rt.quirks,
        probe=("ok" if ok else msg),
        hybrid_cgroups=is_hybrid(),
        cgroup_manager="systemd" if systemd is not None else "cgroupfs",
    )
    yield e
    rt.cleanup_all()
    if systemd is not None:
        # scopes the runtime left: stopped by their systemd, which removes their cgroups
        r = systemd.systemctl("list-units", "--all", "--plain", "--no-legend", f"conformance-conf-{rt.tag}-*")
        units = [l.split()[0] for l in r.stdout.splitlines() if l.split()]
        if units:
            systemd.systemctl("stop", *units)
        for d in glob.glob(f"/sys/fs/cgroup/*/system.slice/conformance-conf-{rt.tag}-*.scope"):
            remove_cgroup(os.path.relpath(d, os.path.dirname(os.path.dirname(d))))
    for d in glob.glob(f"/sys/fs/cgroup/*/conformance-conf-{rt.tag}-*") + glob.glob(
        f"/sys/fs/cgroup/conformance-conf-{rt.tag}-*"
    ):
        remove_cgroup("/" + os.path.basename(d))


@pytest.fixture
def spec(subtests, request):
    expected = _read_expected_failures(request.config.getoption("--expect-fail"))
    return Spec(subtests, _OUTCOMES, request.node.nodeid, expected)


def _write_json(config, finished: bool):
    path = config.getoption("--conformance-json", None)
    if not path:
        return
    data = {
        "runtime": _INFO,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z") if finished else None,
        "outcomes": [o.__dict__ | {"key": o.key} for o in _OUTCOMES],
    }
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def pytest_runtest_logfinish(nodeid, location):
    # after every test: a session stopped by its time limit still leaves its results
    if _CONFIG:
        _write_json(_CONFIG[0], finished=False)


def pytest_configure(config):
    _CONFIG[:] = [config]


def pytest_sessionfinish(session, exitstatus):
    _write_json(session.config, finished=True)


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    counts = {}
    for o in _OUTCOMES:
        counts[o.status] = counts.get(o.status, 0) + 1
    who = f"{_INFO.get('name', '?')} {_INFO.get('version', '')}".strip()
    if _INFO.get("cgroup_manager") == "systemd":
        who += " (systemd)"
    terminalreporter.write_sep("=", f"conformance checks for {who}")
    terminalreporter.write_line("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    for q in _INFO.get("quirks", []):
        terminalreporter.write_line(f"note: {q}")
