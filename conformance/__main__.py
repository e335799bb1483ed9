"""Run the conformance suite against several runtimes and write the report.

    python3 -m conformance --runtime runc --runtime crun --runtime ocirun \\
        --out conformance/RESULTS

Each runtime gets its own pytest session (a subprocess, so one runtime that
crashes or hangs cannot take the others down); their outcomes are merged into
a check x runtime table, printed, and written as OUT.md and OUT.json.

With --systemd-cgroup every runtime is also checked with its systemd cgroup
driver, against a private systemd booted for that session (conformance/
systemd.py), on the checks in --systemd-checks (the cgroup and lifecycle
ones by default); each such run is a column "NAME VERSION (systemd)".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import report

HERE = Path(__file__).resolve().parent


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m conformance", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--runtime", action="append", default=[], help="runtime binary or name on PATH (repeat; default: $OCI_RUNTIME)"
    )
    p.add_argument(
        "--out", default=str(HERE / "RESULTS"), help="write OUT.md and OUT.json (default: conformance/RESULTS)"
    )
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per runtime (default 900)")
    p.add_argument("-k", dest="keyword", default=None, help="pytest -k expression, to run a subset")
    p.add_argument("--verbose", "-v", action="store_true", help="show each runtime's pytest output")
    p.add_argument(
        "--systemd-cgroup",
        action="store_true",
        help="also run each runtime with --systemd-cgroup against a private systemd",
    )
    p.add_argument(
        "--systemd-only", action="store_true", help="with --systemd-cgroup: skip the runs with the cgroupfs driver"
    )
    p.add_argument(
        "--systemd-checks",
        default="test_cgroups.py,test_runtime.py",
        help="comma-separated check files for the systemd runs (default: %(default)s; 'all' for every one)",
    )
    return p


def pytest_missing() -> str:
    """Why this python cannot run the checks ('' when it can): pytest."""
    r = subprocess.run(
        [sys.executable, "-c", "import pytest"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    if r.returncode == 0:
        return ""
    last = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
    return "%s cannot import pytest (%s)" % (sys.executable, last)


def run_one(runtime: str, args, systemd=False) -> dict:
    with tempfile.TemporaryDirectory(prefix="conformance-report-") as tmp:
        out = Path(tmp) / "outcomes.json"
        where = [str(HERE)]
        if systemd and args.systemd_checks != "all":
            where = [str(HERE / "checks" / f.strip()) for f in args.systemd_checks.split(",") if f.strip()]
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            *where,
            "--runtime",
            runtime,
            "--conformance-json",
            str(out),
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-header",
        ]
        if systemd:
            cmd.append("--systemd-cgroup")
        if args.keyword:
            cmd += ["-k", args.keyword]
        t0 = time.monotonic()
        log = Path(tmp) / "pytest.log"
        with open(log, "w") as logf:
            p = subprocess.Popen(cmd, cwd=HERE.parent, stdout=None if args.verbose else logf, stderr=subprocess.STDOUT)
            try:
                rc = p.wait(timeout=args.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                # SIGINT first: pytest then runs the session teardown, which cleans up
                timed_out = True
                p.send_signal(signal.SIGINT)
                try:
                    rc = p.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    rc = p.wait()
        tail = log.read_text()[-3000:] if log.exists() else ""
        elapsed = time.monotonic() - t0
        if out.exists():
            data = json.loads(out.read_text())
            if timed_out:
                data["error"] = f"stopped after {args.timeout:.0f} s; the checks not reached are missing"
        else:
            data = {
                "runtime": {
                    "path": runtime,
                    "name": os.path.basename(runtime),
                    "version": "?",
                    "cgroup_manager": "systemd" if systemd else "cgroupfs",
                },
                "outcomes": [],
                "error": f"the pytest session wrote no results (exit {rc}): {tail[-500:]}",
            }
        data["pytest_exit"] = rc
        data["seconds"] = round(elapsed, 1)
        return data


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    runtimes = args.runtime or ([os.environ["OCI_RUNTIME"]] if os.environ.get("OCI_RUNTIME") else [])
    if not runtimes:
        print("conformance: give at least one --runtime (or set OCI_RUNTIME)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("conformance: containers need root here; run as root", file=sys.stderr)
        return 2
    missing = pytest_missing()
    if missing:
        print("conformance: %s; nothing run, nothing written" % missing, file=sys.stderr)
        return 2
    runs = []
    plan = [] if args.systemd_cgroup and args.systemd_only else [(rt, False) for rt in runtimes]
    plan += [(rt, True) for rt in runtimes] if args.systemd_cgroup else []
    for rt, systemd in plan:
        what = f"{rt} (systemd)" if systemd else rt
        print(f"conformance: checking {what} ...", file=sys.stderr, flush=True)
        data = run_one(rt, args, systemd=systemd)
        runs.append(data)
        c = report.counts(data["outcomes"])
        print(
            f"conformance: {what}: pass {c['pass']}, fail {c['fail']}, unsupported {c['unsupported']} "
            f"({data['seconds']} s)",
            file=sys.stderr,
            flush=True,
        )
    empty = [d["runtime"]["path"] for d in runs if not d["outcomes"]]
    if empty:
        # A session that ran no check says nothing about the runtime: no report on nothing.
        print("conformance: no check ran for %s; nothing written" % ", ".join(empty), file=sys.stderr)
        return 1
    merged = report.merge(runs)
    print(report.text_table(merged))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(merged, indent=1) + "\n")
    out.with_suffix(".md").write_text(report.markdown(merged))
    print(f"conformance: wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
