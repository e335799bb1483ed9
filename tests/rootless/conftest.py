"""Fixtures for the rootless suite: real containers run by a real non-root user.

Run as root (which makes the user): the session creates a user
`ocirl<pid>` with /etc/subuid and /etc/subgid ranges, runs the installed
$OCIRUN as that user with `runuser -u` (or `setpriv`), and at the end
deletes every container it made, kills what is left of the user's
processes (by pid), and removes the user, its ranges, its work directory
and its state root.
"""

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest
from rootless_common import HERE, SUB_COUNT, SUB_START, one_line  # noqa: F401  (shared with the test modules)

import helpers

helpers.OCIRUN = os.environ.get("OCIRUN") or helpers.OCIRUN


def pytest_collection_modifyitems(config, items):
    ok = (
        helpers.can_run_containers()
        and shutil.which("useradd")
        and shutil.which("runuser")
        and shutil.which("newuidmap")
    )
    skip = pytest.mark.skip(
        reason="rootless tests need root (to make the user), useradd, runuser, newuidmap "
        "(uidmap) and %s" % helpers.OCIRUN
    )
    for item in items:
        if os.sep + "rootless" + os.sep in str(item.fspath) and not ok:
            item.add_marker(skip)


class User:
    """The test user: its name, uid, gid, work directory, and how to run as it."""

    def __init__(self, name, work):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid
        self.work = work
        self.home = pw.pw_dir
        os.chmod(self.work, 0o755)
        os.chown(self.work, self.uid, self.gid)
        self.root = "/tmp/ocirun-%d" % self.uid  # the default state root of a user without XDG_RUNTIME_DIR

    def env(self, extra=None):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "LANG": "C.UTF-8",
        }
        env.update(extra or {})
        return env

    def argv(self, *args, setpriv=False):
        if setpriv:
            return [
                shutil.which("setpriv"),
                "--reuid",
                str(self.uid),
                "--regid",
                str(self.gid),
                "--init-groups",
                "--",
            ] + list(args)
        return [shutil.which("runuser"), "-u", self.name, "--"] + list(args)

    def run(self, *args, setpriv=False, env=None, **kw):
        """Run argv as the user; CompletedProcess with text output (through files)."""
        kw.setdefault("timeout", 90)
        kw.setdefault("cwd", self.work)
        argv = self.argv(*[str(a) for a in args], setpriv=setpriv)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            r = subprocess.run(
                argv,
                stdout=out,
                stderr=err,
                text=True,
                env=self.env(env),
                stdin=kw.pop("stdin", subprocess.DEVNULL),
                **kw,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, r.returncode, out.read(), err.read())

    def ocirun(self, *args, **kw):
        return self.run(helpers.OCIRUN, *args, **kw)

    def pids(self):
        """Pids of every process running as the user (real or effective uid)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/status" % d) as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            if str(self.uid) in line.split()[1:3]:
                                out.append(int(d))
                            break
            except OSError:
                pass
        return out


@pytest.fixture(scope="session")
def user():
    name = "ocirl%d" % (os.getpid() % 100000)
    work = tempfile.mkdtemp(prefix="ocirun-rootless-")
    subprocess.run(["useradd", "-m", "-d", os.path.join(work, "home"), "-s", "/bin/sh", name], check=True)
    subprocess.run(
        [
            "usermod",
            "--add-subuids",
            "%d-%d" % (SUB_START, SUB_START + SUB_COUNT - 1),
            "--add-subgids",
            "%d-%d" % (SUB_START, SUB_START + SUB_COUNT - 1),
            name,
        ],
        check=True,
    )
    u = User(name, work)
    try:
        yield u
    finally:
        r = u.ocirun("list", "-q", timeout=60)
        for c in r.stdout.split():
            u.ocirun("delete", "--force", c, timeout=60)
        for pid in u.pids():  # only the test user's processes, by pid
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while u.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True)
        for f in ("/etc/subuid", "/etc/subgid"):  # userdel should have; make sure
            with open(f) as fh:
                lines = fh.readlines()
            keep = [l for l in lines if not l.startswith(name + ":")]
            if keep != lines:
                with open(f, "w") as fh:
                    fh.writelines(keep)
        shutil.rmtree(u.work, ignore_errors=True)
        shutil.rmtree(u.root, ignore_errors=True)


@pytest.fixture(scope="session")
def rootfs(user, bundle_template):
    """The busybox rootfs, a copy the user owns."""
    d = os.path.join(user.work, "rootfs")
    subprocess.run(["cp", "-a", os.path.join(bundle_template, "rootfs"), d], check=True)
    subprocess.run(["chown", "-R", "%d:%d" % (user.uid, user.gid), d], check=True)
    return d


_n = [0]


@pytest.fixture
def rbundle(user, rootfs):
    """A bundle directory the user owns, with the config `ocirun spec --rootless`
    writes (as the user), no terminal, its rootfs the shared copy; .write() after edits."""
    _n[0] += 1
    d = os.path.join(user.work, "bundle%d" % _n[0])
    os.mkdir(d)
    os.chown(d, user.uid, user.gid)
    r = user.ocirun("spec", "--rootless", "--bundle", d)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"]["path"] = rootfs
    cfg["process"]["terminal"] = False
    b = helpers.Bundle(d, cfg, rootfs)
    return b.write()


@pytest.fixture
def rcid(request):
    name = "".join(ch if ch.isalnum() else "-" for ch in request.node.name)[:30].strip("-")
    _n[0] += 1
    return "rl%d-%d-%s" % (os.getpid(), _n[0], name)
