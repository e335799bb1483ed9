"""Helpers for tests that run real containers with the installed ocirun."""

import copy
import json
import os
import shutil
import subprocess
import time

OCIRUN = os.environ.get("OCIRUN", "/usr/local/bin/ocirun")  # hack/test sets it
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CGROUP_ROOT = "/sys/fs/cgroup"


def can_run_containers():
    return os.geteuid() == 0 and os.access(OCIRUN, os.X_OK)


class Bundle:
    """A bundle directory: config.json (editable as .config) and a rootfs.

    The rootfs is the session's busybox tree, shared read-only, unless a test
    asks for its own copy (own_rootfs=True) to plant things in it.
    """

    def __init__(self, path, config, rootfs):
        self.path = path
        self.config = config
        self.rootfs = rootfs

    @property
    def process(self):
        return self.config["process"]

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        return self


def make_bundle(template, dest, own_rootfs=False):
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(template, "config.json")) as f:
        config = json.load(f)
    if own_rootfs:
        rootfs = os.path.join(dest, "rootfs")
        subprocess.run(["cp", "-a", os.path.join(template, "rootfs"), rootfs], check=True)
        config["root"]["path"] = "rootfs"
    else:
        rootfs = os.path.join(template, "rootfs")
        config["root"]["path"] = rootfs
    b = Bundle(dest, copy.deepcopy(config), rootfs)
    return b.write()


def ocirun(root, *args, **kw):
    """Run the binary. Output goes through files, not pipes: a detached
    container inherits them and would keep a pipe open long after we return."""
    import tempfile

    argv = [OCIRUN, "--root", root] + [str(a) for a in args]
    kw.setdefault("timeout", 60)
    if "stdout" in kw or "capture_output" in kw:
        kw.setdefault("text", True)
        return subprocess.run(argv, **kw)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        r = subprocess.run(argv, stdout=out, stderr=err, text=True, **kw)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, r.returncode, out.read(), err.read())


def state(root, cid):
    r = ocirun(root, "state", cid)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s" % what)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return data[data.rindex(")") + 2] not in "ZX"


def cgroup_dirs(cid):
    """Every directory named after the container under the host's cgroup mounts."""
    found = []
    for hier in sorted(os.listdir(CGROUP_ROOT)):
        base = os.path.join(CGROUP_ROOT, hier)
        for cand in (os.path.join(base, "ocirun", cid), os.path.join(base, cid)):
            if os.path.isdir(cand):
                found.append(cand)
    return found


def host_mounts_mentioning(text):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f.read().splitlines() if text in l]


def cleanup_dir(path):
    shutil.rmtree(path, ignore_errors=True)


def procs_with(text):
    """Pids of the processes whose command line contains text."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if text.encode() in f.read():
                    out.append(int(p))
        except OSError:
            pass
    return out


def launcher_paths(ocirun=None):
    """(interpreter, boot script) the installed launcher starts: hack/install
    compiles both paths into it (runtime/core/launcher.c); a script launcher
    (an older install) is its own boot script and names its interpreter."""
    import re

    with open(ocirun or OCIRUN, "rb") as f:
        data = f.read()
    if data.startswith(b"#!"):
        return data.splitlines()[0][2:].split()[0].decode(), ocirun or OCIRUN
    interp = re.search(rb"(/[^\0]*/bin/python3)\0", data)
    boot = re.search(rb"(/[^\0]*/libexec/ocirun\.py)\0", data)
    assert interp and boot, "cannot find the interpreter and boot script in %s" % (ocirun or OCIRUN)
    return interp.group(1).decode(), boot.group(1).decode()


def launcher_site_line(ocirun=None):
    """The boot script's `sys.path[:0] = [...]` line (where the package is installed)."""
    _, boot = launcher_paths(ocirun)
    with open(boot) as f:
        return [line for line in f if line.startswith("sys.path")][0]
