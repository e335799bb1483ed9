"""Drive a runc-compatible binary: one private `--root`, unique ids, cleanup.

Only the operations of runtime.md are used by the checks (create, start,
state, kill, delete), spelled the way runc, crun and engines spell them.
Every container created through a `Runtime` is tracked, and `cleanup()`
removes whatever is left of it: `delete --force`, a SIGKILL to a surviving
init, its cgroup directories, mounts under the work directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import itertools
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclasses.dataclass
class Result:
    argv: list
    rc: int
    out: str
    err: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self) -> str:
        text = (self.err.strip() or self.out.strip()).splitlines()
        tail = text[-1] if text else ""
        return f"`{' '.join(map(str, self.argv[3:]))}` exited {self.rc}: {tail[:300]}"


class RuntimeFailure(AssertionError):
    """An operation the check needed did not succeed."""


# ---- the hybrid-cgroup workaround -----------------------------------------


def cgroup_v1_mounts() -> list:
    """(mountpoint, options) of the cgroup v1 hierarchies directly under /sys/fs/cgroup."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            fstype, _source, sopts = right.split()[:3]
            mnt = fields[4]
            if fstype == "cgroup" and os.path.dirname(mnt) == CGROUP_ROOT:
                opts = [o for o in sopts.split(",") if o not in ("rw", "ro")]
                if all(o.startswith("name=") for o in opts):
                    opts.insert(0, "none")
                found.append((mnt, ",".join(opts)))
    return found


def is_hybrid() -> bool:
    unified = os.path.join(CGROUP_ROOT, "unified")
    return bool(cgroup_v1_mounts()) and os.path.exists(os.path.join(unified, "cgroup.controllers"))


def v1_only_view():
    """A preexec_fn: run the runtime in a mount namespace (a slave of the
    host's) whose /sys/fs/cgroup holds only the v1 hierarchies.

    crun 1.8.1 refuses a hybrid layout whatever its --cgroup-manager (it
    reads /sys/fs/cgroup/unified/cgroup.controllers first), but works on the
    same v1 hierarchies once the cgroup2 mount is out of its sight."""
    mounts = cgroup_v1_mounts()
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    CLONE_NEWNS, MS_REC, MS_SLAVE = 0x00020000, 0x4000, 0x80000

    def setup():
        def chk(rc, what):
            if rc != 0:
                os.write(2, f"conformance: v1-only view: {what}: {os.strerror(ctypes.get_errno())}\n".encode())
                os._exit(125)

        chk(libc.unshare(CLONE_NEWNS), "unshare")
        chk(libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None), "make / rslave")
        chk(libc.mount(b"cgroupv1only", CGROUP_ROOT.encode(), b"tmpfs", 0, b"mode=755"), "tmpfs")
        for mnt, opts in mounts:
            os.mkdir(mnt)
            chk(libc.mount(b"cgroup", mnt.encode(), b"cgroup", 0, opts.encode()), f"mount {mnt}")

    return setup


# ---- systemd mode ----------------------------------------------------------

SYSTEMD_SLICE = "system.slice"
SYSTEMD_PREFIX = "conformance"


def cgroup_rel(path: str) -> str:
    """The directory a cgroupsPath names, relative to a hierarchy's root: an
    absolute path as it is; runc's systemd form `slice:prefix:name` is the
    scope `prefix-name.scope` in the slice (nested slices `a-b.slice` live in
    `a.slice/a-b.slice`, as systemd lays them out)."""
    if path.count(":") == 2 and not path.startswith("/"):
        slice_, prefix, name = path.split(":")
        slice_ = slice_ or "system.slice"
        parts, acc = [], ""
        for word in slice_[: -len(".slice")].split("-") if slice_ != "-.slice" else []:
            acc = f"{acc}-{word}" if acc else word
            parts.append(acc + ".slice")
        scope = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
        return "/".join(parts + [scope])
    return path.lstrip("/")


# The wrapper given to the harness as the runtime in systemd mode: the binary
# runs in systemd's pid and mount namespaces (nsenter), as beside a host's
# systemd. With V1_ONLY it first makes a private mount namespace (inside
# systemd's) whose /sys/fs/cgroup holds only the v1 hierarchies: crun refuses
# the hybrid layout (see v1_only_view).
WRAPPER = """#!/bin/sh
# made by conformance/runtime.py for one session: {binary} in systemd's namespaces
set -e
V1_ONLY={v1_only}
if [ "$V1_ONLY" = 1 ]; then
    exec nsenter -t {pid} -m -p -- unshare -m --propagation slave sh -ec '
        mount -t tmpfs -o mode=755 cgroupv1only {cgroot}
        for m in {mounts}; do
            mkdir "{cgroot}/${{m%%=*}}"
            mount -t cgroup -o "${{m#*=}}" cgroup "{cgroot}/${{m%%=*}}"
        done
        exec "$@"' sh {binary} "$@"
fi
exec nsenter -t {pid} -m -p -- {binary} "$@"
"""


# ---- the runtime ----------------------------------------------------------


class Runtime:
    """One runtime binary with a private state root under `workdir`."""

    MAX_TIMEOUTS = 3

    _serial = itertools.count(1)

    def __init__(self, path: str, workdir: Path, systemd=None):
        self.given = path
        self.path = shutil.which(path) or path
        self.binary = self.path
        self.workdir = Path(workdir)
        self.root = self.workdir / "state"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tag = secrets.token_hex(3)
        self.preexec = None
        self.quirks: list = []
        self.tracked: dict = {}  # id -> {"pid": int|None, "cgroup": str|None}
        self.timeouts = 0  # commands that hung; past MAX_TIMEOUTS the runtime counts as wedged
        # systemd mode: a conformance.systemd.Systemd; the runtime runs through a
        # wrapper in its namespaces, with --systemd-cgroup, and pids in its state
        # are translated to the host's (see state())
        self.systemd = systemd
        self.glob: tuple = ()
        if systemd is not None:
            self.glob = ("--systemd-cgroup",)
            self.wrapper = self.workdir / "runtime-in-systemd"
            self._write_wrapper(v1_only=False)
            self.path = str(self.wrapper)
        self.name, self.version = self._identify()

    # -- identity and quirks

    def _identify(self):
        try:
            r = subprocess.run([self.path, "--version"], capture_output=True, text=True, timeout=10)
            first = (r.stdout or r.stderr).strip().splitlines()
        except (OSError, subprocess.TimeoutExpired) as e:
            return os.path.basename(self.given), f"unavailable ({e.__class__.__name__}: {e})"
        words = first[0].split() if first else []
        name = words[0] if words else os.path.basename(self.path)
        version = words[2] if len(words) > 2 and words[1] == "version" else " ".join(words[1:])
        return name, version or "unknown"

    @property
    def available(self) -> bool:
        return os.access(self.binary, os.X_OK)

    def _write_wrapper(self, v1_only: bool):
        import shlex

        mounts = " ".join(shlex.quote(f"{os.path.basename(m)}={o}") for m, o in cgroup_v1_mounts())
        text = WRAPPER.format(
            binary=shlex.quote(self.binary),
            pid=self.systemd.pid,
            cgroot=CGROUP_ROOT,
            v1_only=int(v1_only),
            mounts=mounts,
        )
        tmp = self.wrapper.with_suffix(".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, self.wrapper)

    def use_v1_only_view(self, on=True):
        if self.systemd is not None:
            self._write_wrapper(v1_only=on)
        else:
            self.preexec = v1_only_view() if on else None
        self.quirks.clear()
        if on:
            self.quirks.append(
                "runs in a private mount namespace "
                + ("(inside systemd's) " if self.systemd else "")
                + "whose /sys/fs/cgroup shows only the v1 "
                "hierarchies: it refuses this host's hybrid layout (hugetlb on cgroup2)"
            )

    # -- plumbing

    def new_id(self, hint: str = "c") -> str:
        hint = "".join(ch for ch in hint if ch.isalnum() or ch in "-_")[:24]
        return f"conf-{self.tag}-{next(self._serial)}-{hint}"

    def cgroups_path(self, cid: str) -> str:
        if self.systemd is not None:
            return f"{SYSTEMD_SLICE}:{SYSTEMD_PREFIX}:{cid}"
        return f"/conformance-{cid}"

    def host_pid(self, pid):
        """A pid from the runtime's state, as the host sees it (the same outside systemd mode)."""
        if self.systemd is None or not isinstance(pid, int) or pid <= 0:
            return pid
        from .systemd import host_pid

        return host_pid(self.systemd, pid)

    def cmd(self, *args, timeout: float = 20, stdin=subprocess.DEVNULL, pass_fds=(), cwd=None, glob=()) -> Result:
        argv = [self.path, "--root", str(self.root), *self.glob, *glob, *map(str, args)]
        if self.timeouts >= self.MAX_TIMEOUTS:
            # keep a hanging runtime from taking the whole session's time
            raise RuntimeFailure(f"not run: {self.timeouts} earlier commands of this runtime hung")
        # Files, not pipes: `create` leaves the container holding its stdio,
        # and a pipe would keep us waiting for the container's end.
        with tempfile.TemporaryFile(dir=self.workdir) as o, tempfile.TemporaryFile(dir=self.workdir) as e:
            t0 = time.monotonic()
            try:
                p = subprocess.run(
                    argv,
                    stdin=stdin,
                    stdout=o,
                    stderr=e,
                    timeout=timeout,
                    pass_fds=pass_fds,
                    cwd=cwd,
                    preexec_fn=self.preexec,
                )
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = -999
            except OSError as exc:
                # not a refusal by the runtime: no check may count it as one
                raise RuntimeFailure(f"cannot execute {self.path}: {exc}") from exc
            elapsed = time.monotonic() - t0
            o.seek(0)
            e.seek(0)
            out = o.read().decode(errors="replace")
            err = e.read().decode(errors="replace")
        if rc == -999:
            self.timeouts += 1
            raise RuntimeFailure(f"`{' '.join(map(str, args))}` hung: killed after {timeout}s")
        return Result(argv, rc, out, err, elapsed)

    # -- the operations of runtime.md

    def create(self, cid: str, bundle, console_socket=None, pid_file=None, timeout=30) -> Result:
        args = ["create", "--bundle", str(bundle)]
        if console_socket:
            args += ["--console-socket", str(console_socket)]
        if pid_file:
            args += ["--pid-file", str(pid_file)]
        self.tracked.setdefault(cid, {"pid": None, "cgroup": None})
        try:
            with open(os.path.join(bundle, "config.json")) as f:
                self.tracked[cid]["cgroup"] = json.load(f).get("linux", {}).get("cgroupsPath")
        except (OSError, ValueError, AttributeError):
            pass
        r = self.cmd(*args, cid, timeout=timeout)
        if r.ok:
            st = self.state(cid)
            if st and st.get("pid"):
                self.tracked[cid]["pid"] = st["pid"]
        return r

    def start(self, cid: str) -> Result:
        return self.cmd("start", cid)

    def state_result(self, cid: str) -> Result:
        return self.cmd("state", cid)

    def state(self, cid: str):
        """The parsed state, or None when `state` fails or prints no JSON.

        In systemd mode the runtime runs in systemd's pid namespace, its
        "host": `pid` is translated to the pid the checks' host sees (None when
        the process is gone), and the runtime's own number is kept as
        `pid_in_systemd_namespace`."""
        r = self.state_result(cid)
        if not r.ok:
            return None
        try:
            st = json.loads(r.out)
        except ValueError:
            return None
        if self.systemd is not None and isinstance(st, dict) and isinstance(st.get("pid"), int) and st["pid"] > 0:
            st["pid_in_systemd_namespace"] = st["pid"]
            st["pid"] = self.host_pid(st["pid"])
        return st

    def kill(self, cid: str, sig="KILL", all_=False) -> Result:
        args = ["kill"] + (["--all"] if all_ else []) + [cid, str(sig)]
        return self.cmd(*args)

    def delete(self, cid: str, force=False) -> Result:
        return self.cmd("delete", *(["--force"] if force else []), cid)

    # -- helpers built on them

    def must(self, r: Result) -> Result:
        if not r.ok:
            raise RuntimeFailure(r.describe())
        return r

    def wait_status(self, cid: str, wanted=("stopped",), timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.state(cid)
            if st is not None and st.get("status") in wanted:
                return st
            time.sleep(0.01)
        raise RuntimeFailure(f"status did not become {'/'.join(wanted)} within {timeout}s (last state: {st})")

    def _quiet(self, *args, timeout=10):
        try:
            return self.cmd(*args, timeout=timeout)
        except RuntimeFailure:
            return None

    def cleanup(self, cid: str):
        """Remove every trace of one container, whatever state it is in."""
        info = self.tracked.pop(cid, {})
        r = self._quiet("state", cid)
        st = None
        if r is not None and r.ok:
            try:
                st = json.loads(r.out)
            except ValueError:
                pass
        pid = self.host_pid((st or {}).get("pid")) or info.get("pid")
        self._quiet("delete", "--force", cid)
        if pid and _alive(pid) and _same_container(pid, self.workdir, info.get("cgroup")):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_gone(pid)
        if st is not None:
            self._quiet("delete", cid)  # a runtime without --force
        if info.get("cgroup"):
            remove_cgroup(info["cgroup"])

    def cleanup_all(self):
        for cid in list(self.tracked):
            self.cleanup(cid)
        r = self._quiet("list", "--format", "json")
        try:
            left = json.loads(r.out) if r is not None and r.ok and r.out.strip() else []
        except ValueError:
            left = []
        for c in left or []:
            if isinstance(c, dict) and c.get("id"):
                self.cleanup(c["id"])
        self.kill_strays()

    def kill_strays(self):
        """SIGKILL what this session started and left running: runtime processes
        whose command line names our state root (a hung or orphaned `create`),
        and container processes whose root is in our work directory."""
        mine = str(self.root).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            pid = int(entry)
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                ours = mine in cmdline or os.readlink(f"/proc/{pid}/root").startswith(str(self.workdir) + "/")
            except OSError:
                continue
            if ours:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _same_container(pid: int, workdir: Path, cgroup) -> bool:
    """Guard against pid reuse: kill only a process in our cgroup or rooted in our work dir."""
    try:
        if cgroup:
            want = "/" + cgroup_rel(cgroup)
            for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
                at = line.split(":", 2)[-1]
                if at == want or at.startswith(want + "/"):
                    return True
        return os.readlink(f"/proc/{pid}/root").startswith(str(workdir))
    except OSError:
        return False


def _wait_gone(pid: int, timeout=5.0):
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def cgroup_dirs(path: str) -> list:
    """Every directory that `path` (a cgroupsPath) names, in each mounted hierarchy."""
    rel = cgroup_rel(path)
    dirs = []
    if not rel:
        return dirs
    for entry in sorted(os.listdir(CGROUP_ROOT)):
        d = os.path.join(CGROUP_ROOT, entry, rel)
        if os.path.isdir(d):
            dirs.append(d)
    if os.path.isfile(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        d = os.path.join(CGROUP_ROOT, rel)
        if os.path.isdir(d):
            dirs.append(d)
    return dirs


def remove_cgroup(path: str):
    for d in cgroup_dirs(path):
        for sub, _dirs, _files in sorted(os.walk(d), key=lambda t: -len(t[0])):
            try:
                os.rmdir(sub)
            except OSError:
                pass


def umount_under(prefix: str):
    """Lazily unmount anything a runtime left mounted below `prefix` (deepest first)."""
    prefix = os.path.realpath(prefix)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    for mnt in sorted(set(points), key=len, reverse=True):
        if mnt == prefix or mnt.startswith(prefix + "/"):
            libc.umount2(mnt.encode(), 2)  # MNT_DETACH
