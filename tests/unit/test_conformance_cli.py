"""`python -m conformance` run by a python without pytest: it must fail, not report on nothing."""

import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="conformance runs as root")


def test_without_pytest_fails_loudly_and_writes_nothing(tmp_path):
    venv = tmp_path / "venv"
    # A venv without pip and without the system's site-packages: pytest cannot be imported there.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    assert subprocess.run([py, "-c", "import pytest"], capture_output=True).returncode != 0
    out = tmp_path / "RESULTS"
    r = subprocess.run(
        [py, "-m", "conformance", "--runtime", "runc", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pytest" in lines[0] and "nothing written" in lines[0], r.stderr
    assert "pass 0" not in r.stdout + r.stderr
    assert not os.path.exists(str(out) + ".md") and not os.path.exists(str(out) + ".json")
