"""Side-by-side timings of runc-compatible runtimes on one busybox bundle.

For every round, each runtime in turn (A B C A B C ...) does:
  run     `run` of /bin/true, end to end
  create  `create` of a container running `sleep`
  start   `start` of it
  state   `state` of it
  kill    `kill ID KILL` of it
  delete  `delete` once it is stopped
Every step is one process of the runtime, timed from spawn to wait4(); its
CPU time (user+sys) and peak RSS come from the rusage wait4 returns.

Never used for assertions: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from conformance.bundle import base_config, build_rootfs  # noqa: E402
from conformance.runtime import is_hybrid, remove_cgroup, v1_only_view  # noqa: E402

STEPS = ("run", "create", "start", "state", "kill", "delete")
DEFAULT_RUNTIMES = ("ocirun", "runc", "crun")
KNOWN_PATHS = {"ocirun": "/usr/local/bin/ocirun"}


# The measuring parent is this small static program, not Python: rusage's
# peak RSS counts a child's memory from before its execve too, and a child
# forked from Python would start with Python's whole resident set.
LAUNCHER_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    struct timespec a, b;
    struct rusage ru;
    int status = 0;
    if (argc < 2) return 2;
    int null = open("/dev/null", O_RDWR);
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = vfork();
    if (pid == 0) {
        dup2(null, 0); dup2(null, 1); dup2(null, 2);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) return 2;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%lld %lld %ld %d\n",
           (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec),
           (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
           ru.ru_maxrss, WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}
"""
LAUNCHER = None


def build_launcher(work: Path):
    global LAUNCHER
    src = work / "launch.c"
    src.write_text(LAUNCHER_C)
    LAUNCHER = str(work / "launch")
    subprocess.run([os.environ.get("CC", "gcc"), "-O2", "-static", "-o", LAUNCHER, str(src)], check=True)


class Sample:
    __slots__ = ("wall", "cpu", "rss", "ok")

    def __init__(self, wall, cpu, rss, ok):
        self.wall, self.cpu, self.rss, self.ok = wall, cpu, rss, ok


def measure(argv, preexec=None) -> Sample:
    """Time one runtime command. `preexec` prepares the launcher (not timed)."""
    out = subprocess.run([LAUNCHER, *argv], capture_output=True, text=True, preexec_fn=preexec).stdout.split()
    if len(out) != 4:
        return Sample(0, 0, 0, False)
    wall_ns, cpu_us, rss_kb, ok = map(int, out)
    return Sample(wall_ns / 1e9, cpu_us / 1e6, rss_kb * 1024, ok == 1)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="ocirun-bench-"))
        os.chmod(self.work, 0o755)
        self.rootfs = self.work / "rootfs"
        build_rootfs(self.rootfs, None)
        build_launcher(self.work)
        self.seccomp = json.loads(Path(args.with_seccomp).read_text()) if args.with_seccomp else None
        self.serial = 0
        self.leftover_cgroups = []
        self.views = {}  # runtime name -> preexec_fn giving it a v1-only cgroup view

    def root_of(self, name):
        """The runtime's --root: one directory per runtime, also for a runtime given by path."""
        return self.work / "state" / name.strip("/").replace("/", "_")

    def probe(self, name, path):
        """Give the v1-only cgroup view only to a runtime that refuses this hybrid host."""
        root = str(self.root_of(name))
        for view in (None, v1_only_view()):
            cid, b = self.bundle(name, ["/bin/true"])
            p = subprocess.run(
                [path, "--root", root, "run", "--bundle", str(b), cid], capture_output=True, text=True, preexec_fn=view
            )
            subprocess.run([path, "--root", root, "delete", "--force", cid], capture_output=True, preexec_fn=view)
            if p.returncode == 0:
                self.views[name] = view
                return (
                    None
                    if view is None
                    else (
                        f"{name} refuses hybrid cgroups: it runs in a mount namespace showing only the v1 "
                        "hierarchies (the namespace is set up before the clock starts)"
                    )
                )
            if view is None and not ("hybrid" in p.stderr and is_hybrid()):
                return f"{name}: `run` of /bin/true failed: {p.stderr.strip()[-200:]}"
        return f"{name}: `run` of /bin/true failed even with a v1-only cgroup view"

    def bundle(self, name, args):
        self.serial += 1
        # a runtime given as a path still makes a valid id
        cid = f"bench-{os.getpid()}-{self.serial}-{os.path.basename(name)}"
        cg = f"/ocirun-bench-{cid}"
        self.leftover_cgroups.append(cg)
        cfg = base_config(self.rootfs, args, cg)
        cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/out"]
        if self.seccomp is not None:
            cfg["linux"]["seccomp"] = self.seccomp
        d = self.work / "bundles" / cid
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps(cfg))
        return cid, d

    def round(self, name, path, results):
        root = str(self.root_of(name))
        rt = [path, "--root", root]
        v = self.views.get(name)
        cid, b = self.bundle(name, ["/bin/true"])
        results["run"].append(measure(rt + ["run", "--bundle", str(b), cid], v))
        measure(rt + ["delete", "--force", cid], v)
        cid, b = self.bundle(name, ["/bin/sleep", "1000"])
        results["create"].append(measure(rt + ["create", "--bundle", str(b), cid], v))
        results["start"].append(measure(rt + ["start", cid], v))
        results["state"].append(measure(rt + ["state", cid], v))
        results["kill"].append(measure(rt + ["kill", cid, "KILL"], v))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            p = subprocess.run(rt + ["state", cid], capture_output=True, text=True, preexec_fn=v)
            if p.returncode != 0 or '"stopped"' in p.stdout:
                break
            time.sleep(0.005)
        results["delete"].append(measure(rt + ["delete", cid], v))
        measure(rt + ["delete", "--force", cid], v)

    def cleanup(self, runtimes):
        for name, path in runtimes:
            root = self.root_of(name)
            if root.is_dir():
                for cid in os.listdir(root):
                    subprocess.run(
                        [path, "--root", str(root), "delete", "--force", cid],
                        capture_output=True,
                        preexec_fn=self.views.get(name),
                    )
        for cg in self.leftover_cgroups:
            remove_cgroup(cg)
        shutil.rmtree(self.work, ignore_errors=True)


def resolve(names):
    """Each entry is a name on PATH, or a path (an ocirun launcher of one's
    own, named `ocirun` in the table when its file is called so), or NAME=PATH."""
    found, notes = [], []
    for n in names:
        if "=" in n:
            n, _, given = n.partition("=")
            found.append((n, given)) if os.access(given, os.X_OK) else notes.append(
                f"{n}: {given} not executable, skipped"
            )
            continue
        if "/" in n and os.path.basename(n) == "ocirun" and os.access(n, os.X_OK):
            found.append(("ocirun", n))
            continue
        path = shutil.which(n) or (KNOWN_PATHS.get(n) if os.access(KNOWN_PATHS.get(n, ""), os.X_OK) else None)
        if not path:
            notes.append(f"{n}: not installed, skipped")
            continue
        found.append((n, path))
    seen, unique = set(), []
    for n, path in found:
        if n in seen:
            notes.append(f"{n}: named twice, {path} skipped (name each one: NAME=PATH)")
            continue
        seen.add(n)
        unique.append((n, path))
    return unique, notes


def version(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def summarize(samples):
    good = [s for s in samples if s.ok]
    if not good:
        return None
    return {
        "wall_ms": statistics.median(s.wall for s in good) * 1e3,
        "cpu_ms": statistics.median(s.cpu for s in good) * 1e3,
        "rss_mb": max(s.rss for s in good) / 1e6,
        "n": len(good),
        "failed": len(samples) - len(good),
    }


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def main(argv=None):
    p = argparse.ArgumentParser(prog="hack/bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=30, help="rounds (default 30)")
    p.add_argument(
        "--runtimes",
        default=",".join(DEFAULT_RUNTIMES),  # NAME, a path, or NAME=PATH
        help="comma-separated names or paths (default ocirun,runc,crun)",
    )
    p.add_argument("--with-seccomp", metavar="PROFILE", help="add this seccomp JSON (linux.seccomp) to every config")
    p.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    p.add_argument("--warmup", type=int, default=2, help="unrecorded rounds first (default 2)")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench: run as root", file=sys.stderr)
        return 2
    runtimes, notes = resolve([n for n in args.runtimes.split(",") if n])
    if not runtimes:
        print("bench: no runtime to measure: " + "; ".join(notes), file=sys.stderr)
        return 1
    bench = Bench(args)
    results = {n: {s: [] for s in STEPS} for n, _ in runtimes}
    try:
        for name, path in runtimes:
            note = bench.probe(name, path)
            if note:
                notes.append(note)
        for i in range(args.warmup + args.rounds):
            for name, path in runtimes:
                sink = {s: [] for s in STEPS}
                bench.round(name, path, results[name] if i >= args.warmup else sink)
    finally:
        bench.cleanup(runtimes)

    summary = {n: {s: summarize(results[n][s]) for s in STEPS} for n, _ in runtimes}
    names = [n for n, _ in runtimes]
    print(
        f"hack/bench: {args.rounds} rounds (+{args.warmup} warm-up), interleaved {' '.join(names)}; "
        f"busybox bundle{', seccomp ' + args.with_seccomp if args.with_seccomp else ''}"
    )
    for n, path in runtimes:
        print(f"  {n}: {path} ({version(path)})")
    for note in notes:
        print(f"  note: {note}")
    print()
    head = (
        f"{'step':<7} {'runtime':<8} {'wall ms':>9} {'cpu ms':>8} {'peak RSS MB':>12} {'ok/failed':>10}"
        f" {'ocirun/runc':>12} {'ocirun/crun':>12}"
    )
    print(head)
    print("-" * len(head))
    for s in STEPS:
        oc = summary.get("ocirun", {}).get(s)
        for n in names:
            r = summary[n][s]
            if r is None:
                print(f"{s:<7} {n:<8} {'all failed':>9}")
                continue
            rr = cr = ""
            if n == "ocirun" and oc:
                ru, cu = summary.get("runc", {}).get(s), summary.get("crun", {}).get(s)
                rr = ratio(oc["wall_ms"], ru and ru["wall_ms"])
                cr = ratio(oc["wall_ms"], cu and cu["wall_ms"])
            print(
                f"{s:<7} {n:<8} {r['wall_ms']:9.1f} {r['cpu_ms']:8.1f} {r['rss_mb']:12.1f} "
                f"{r['n']:>5}/{r['failed']:<4} {rr:>12} {cr:>12}"
            )
    if "ocirun" in summary and not any(summary["ocirun"].values()):
        print("\nocirun: every step failed, so no ratios (does it implement create/start/run yet?)")
    elif "ocirun" in summary:
        print()
        print("ratios are of median wall time; cpu and RSS ratios:")
        for s in STEPS:
            oc = summary["ocirun"][s]
            if not oc:
                continue
            parts = []
            for peer in ("runc", "crun"):
                pr = summary.get(peer, {}).get(s)
                if pr:
                    parts.append(
                        f"{peer}: cpu {ratio(oc['cpu_ms'], pr['cpu_ms'])}, rss {ratio(oc['rss_mb'], pr['rss_mb'])}"
                    )
            print(f"  {s:<7} " + "; ".join(parts))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"rounds": args.rounds, "notes": notes, "runtimes": dict(runtimes), "summary": summary}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
