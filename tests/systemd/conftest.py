"""A real systemd for the systemd cgroup driver's tests, started once per session
and cgroup layout (hybrid, unified, legacy: conformance/systemd.py MODES).

The boot and the teardown (and why each protection is there) live in
conformance/systemd.py, shared with the conformance suite's --systemd-cgroup
mode. Bundles and state live under /var/lib, not /tmp.

ocirun runs inside systemd's pid and mount namespaces (nsenter), as it runs
beside a host's systemd. There ocirun finds /run/systemd/private (the Manager
API without a bus daemon) by itself.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import helpers  # noqa: E402

# The boot and the teardown are shared with the conformance suite's
# --systemd-cgroup mode: conformance/systemd.py, loaded by path (the repository
# root is not on sys.path: `runtime` must come from the installed package).
_spec = importlib.util.spec_from_file_location(
    "ocirun_systemd_boot", os.path.join(helpers.REPO, "conformance", "systemd.py")
)
boot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(boot)

BASE = "/var/lib/ocirun-test-systemd"
CgroupState = boot.CgroupState


class Systemd(boot.Systemd):
    def host_pid(self, nspid):
        """The host's pid of pid `nspid` in systemd's pid namespace (None when there is none)."""
        return boot.host_pid(self, nspid)

    def ocirun(self, root, *args, timeout=60, env=None):
        """The installed ocirun in systemd's namespaces. Output goes through files:
        a detached container inherits them and would keep a pipe open."""
        import tempfile

        argv = self.nsenter() + [helpers.OCIRUN, "--root", root] + [str(a) for a in args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            r = subprocess.run(argv, stdout=out, stderr=err, text=True, timeout=timeout, env=env)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, r.returncode, out.read(), err.read())


@pytest.fixture(scope="session")
def systemd_workdir():
    if os.geteuid() != 0 or not os.access(helpers.OCIRUN, os.X_OK):
        pytest.fail("the systemd driver's tests need root and an installed %s" % helpers.OCIRUN)
    d = os.path.join(BASE, str(os.getpid()))
    os.makedirs(d, exist_ok=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)
    try:
        os.rmdir(BASE)
    except OSError:
        pass


@pytest.fixture(scope="session", params=boot.MODES)
def systemd(request, systemd_workdir):
    """The session's systemd (a Systemd) in one cgroup layout (boot.MODES: hybrid,
    unified, legacy), booted once per mode: pytest groups the tests by mode and
    stops one systemd, and removes its cgroups, before it boots the next.
    A module tied to some modes says so: pytest.mark.parametrize("systemd", [...], indirect=True)."""
    why = boot.mode_unavailable(request.param)
    if why:
        pytest.skip("systemd in %s mode: %s" % (request.param, why))
    try:
        with boot.booted(systemd_workdir, cls=Systemd, mode=request.param) as sd:
            yield sd
    except boot.BootError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def bundle_template(systemd_workdir):
    d = os.path.join(systemd_workdir, "busybox-bundle")
    os.makedirs(d, exist_ok=True)
    subprocess.run([os.path.join(helpers.REPO, "hack", "mkbundle"), d, "ocirun"], check=True, capture_output=True)
    return d


@pytest.fixture
def sd_dir(systemd_workdir, cid):
    d = os.path.join(systemd_workdir, cid)
    os.makedirs(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def root(sd_dir):
    d = os.path.join(sd_dir, "state")
    os.mkdir(d)
    return d


@pytest.fixture
def bundle(bundle_template, sd_dir):
    """Without a cgroup namespace: the container's /sys/fs/cgroup shows its own cgroups (the scope's)."""
    b = helpers.make_bundle(bundle_template, os.path.join(sd_dir, "bundle"))
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "cgroup"]
    b.config["process"]["terminal"] = False
    return b.write()


@pytest.fixture
def sd_ocirun(systemd, root):
    """sd_ocirun(*args) in systemd's namespaces; every container id used is deleted at the end."""
    used = set()

    def run(*args, **kw):
        for a in args:
            if isinstance(a, str) and a.startswith("t%d-" % os.getpid()):
                used.add(a)
        return systemd.ocirun(root, *args, **kw)

    yield run
    for c in sorted(used):
        systemd.ocirun(root, "delete", "--force", c)
