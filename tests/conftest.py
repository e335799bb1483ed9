"""Shared fixtures for the integration tests (real containers, as root).

They run the installed /usr/local/bin/ocirun (hack/test installs it first) on
a busybox bundle built once per session with hack/mkbundle.
"""

import glob
import itertools
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helpers  # noqa: E402

_ids = itertools.count()


def pytest_collection_modifyitems(config, items):
    ok = helpers.can_run_containers()
    skip = pytest.mark.skip(reason="integration tests need root and an installed %s (hack/install)" % helpers.OCIRUN)
    for item in items:
        if os.sep + "integration" + os.sep in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if not ok:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: runs real containers (root, installed ocirun)")


@pytest.fixture(scope="session")
def bundle_template(tmp_path_factory):
    d = tmp_path_factory.mktemp("busybox-bundle")
    subprocess.run([os.path.join(helpers.REPO, "hack", "mkbundle"), str(d), "ocirun"], check=True, capture_output=True)
    return str(d)


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    return str(d)


@pytest.fixture
def cid(request):
    name = "".join(ch if ch.isalnum() else "-" for ch in request.node.name)[:40].strip("-")
    return "t%d-%d-%s" % (os.getpid(), next(_ids), name)


@pytest.fixture
def bundle(bundle_template, tmp_path):
    return helpers.make_bundle(bundle_template, str(tmp_path / "bundle"))


@pytest.fixture
def own_bundle(bundle_template, tmp_path):
    """A bundle with its own copy of the rootfs, to plant things in."""
    return helpers.make_bundle(bundle_template, str(tmp_path / "ownbundle"), own_rootfs=True)


@pytest.fixture
def run_ocirun(root):
    """run_ocirun(*args, **subprocess_kw) -> CompletedProcess; every id used is deleted at the end."""
    used = set()

    def run(*args, **kw):
        for a in args:
            if isinstance(a, str) and a.startswith("t%d-" % os.getpid()):
                used.add(a)
        return helpers.ocirun(root, *args, **kw)

    yield run
    for c in sorted(used):
        helpers.ocirun(root, "delete", "--force", c)
    # Whatever the test did, nothing of its containers may outlive delete.
    left = [d for c in used for d in glob.glob(os.path.join(helpers.CGROUP_ROOT, "*", "ocirun", c))]
    assert not left, "cgroups left behind: %s" % left
