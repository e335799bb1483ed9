"""Fixtures for the security regression suite (real containers, as root).

Every test here is a real attack attempted from inside a container (or from
a racing process next to it) that must fail. The suite runs the binary named
by $OCIRUN (default: the installed /usr/local/bin/ocirun), so that it can be
pointed at a deliberately weakened private build to prove it catches it.

Reuses tests/conftest.py (bundle_template, own_bundle, root, cid, run_ocirun)
and adds: the compiled C helpers (sectool, fakeld, setuid_ids; compiled here,
never committed as binaries), host-side victims that are always removed, and
a parser for sectool's line protocol.
"""

import json
import os
import shutil
import stat
import subprocess
import uuid

import pytest

import helpers

helpers.OCIRUN = os.environ.get("OCIRUN") or helpers.OCIRUN
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="security tests need root, gcc -static and %s" % helpers.OCIRUN)
    ok = helpers.can_run_containers() and shutil.which("gcc")
    for item in items:
        if os.sep + "security" + os.sep in str(item.fspath) and not ok:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tools(tmp_path_factory):
    """Static helpers compiled from the .c files next to this one."""
    d = tmp_path_factory.mktemp("sec-tools")
    out = {}
    for name, extra in [
        ("sectool", ["-static"]),
        ("setuid_ids", ["-static"]),
        ("fakeld", ["-static", "-nostdlib", "-fno-stack-protector", "-fno-pie", "-no-pie"]),
    ]:
        dst = str(d / name)
        subprocess.run(
            ["gcc", "-O2", "-Wall", "-Wextra", "-Werror"] + extra + ["-o", dst, os.path.join(HERE, name + ".c")],
            check=True,
            capture_output=True,
        )
        out[name] = dst
    return out


@pytest.fixture
def box(own_bundle, tools):
    """A bundle with its own rootfs copy and /bin/sectool in it."""
    shutil.copy(tools["sectool"], os.path.join(own_bundle.rootfs, "bin", "sectool"))
    return own_bundle


class Victim:
    """A host directory /tmp/victim-<rand> with one file in it. snapshot()
    records names, modes and contents; the tests compare before and after."""

    def __init__(self):
        self.path = "/tmp/victim-%s" % uuid.uuid4().hex[:12]
        os.mkdir(self.path, 0o755)
        self.file = os.path.join(self.path, "file")
        with open(self.file, "w") as f:
            f.write("victim\n")
        self.before = self.snapshot()

    def snapshot(self):
        found = {}
        for dirpath, dirnames, filenames in os.walk(self.path):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                data = None
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        data = f.read(4096)
                found[os.path.relpath(p, self.path)] = (stat.S_IFMT(st.st_mode), data)
        return found

    def assert_untouched(self):
        assert helpers.host_mounts_mentioning(self.path) == [], "a mount landed on the host victim"
        assert self.snapshot() == self.before, "the host victim %s was changed" % self.path

    def cleanup(self):
        for _ in range(8):
            if not helpers.host_mounts_mentioning(self.path):
                break
            for line in helpers.host_mounts_mentioning(self.path):
                subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def victim():
    v = Victim()
    yield v
    v.cleanup()


@pytest.fixture(scope="session")
def host_runtime_inodes():
    """(dev, ino) of every file the runtime has mapped on the host: its
    interpreter, libpython, the compiled core, libc... (CVE-2019-5736 prize)."""
    interp, boot = helpers.launcher_paths()
    with open(boot, "rb") as f:
        head = f.read(4096).decode("utf-8", "replace")
    site = []
    for line in head.splitlines():
        if line.startswith("sys.path[:0] = "):
            site = json.loads(line.split("=", 1)[1].strip().replace("'", '"'))
    code = "import sys; sys.path[:0] = %r; import runtime._core\nprint(open('/proc/self/maps').read())" % site
    out = subprocess.run([interp, "-IS", "-c", code], capture_output=True, text=True, check=True).stdout
    inodes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[5].startswith("/"):
            st = os.stat(parts[5])
            inodes["%d:%d" % (st.st_dev, st.st_ino)] = parts[5]
    assert any("_core" in p for p in inodes.values()), "the compiled core is not among %s" % inodes
    return inodes
