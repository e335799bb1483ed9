"""Builds and runs tests/c/test_core.c: the C core's path resolver, procfs
handle and error helpers, tested in C on a temporary tree (as root)."""

import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(HERE, "..", "..", "runtime", "core")

# The core's own warnings (runtime/_core_build.py), plus checks of the test
# build only: fortified libc calls and undefined behaviour abort the run.
CFLAGS = [
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-D_GNU_SOURCE",
    "-D_FORTIFY_SOURCE=2",
    "-fsanitize=undefined",
    "-fno-sanitize-recover=all",
]
SOURCES = ["safepath.c", "error.c"]


def test_core_c_program(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (hack/install installs gcc)"
    exe = str(tmp_path / "test_core")
    build = subprocess.run(
        [cc]
        + CFLAGS
        + ["-I", CORE, os.path.join(HERE, "test_core.c")]
        + [os.path.join(CORE, s) for s in SOURCES]
        + ["-o", exe],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, "test_core.c does not build:\n" + build.stderr
    run = subprocess.run([exe], capture_output=True, text=True, timeout=300, env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 failed" in run.stdout, run.stdout
