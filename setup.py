"""Only here for cffi's setuptools hook (`cffi_modules`), to ship oci-schemas/,
and to build the front door: `ocirun` in the environment's bin/ is the C
launcher (runtime/core/launcher.c), as hack/install's is."""

import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

build_scripts = Distribution().get_command_class("build_scripts")

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPy(build_py):
    """Copy oci-schemas/ into the package and record the commit being built."""

    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "runtime", "oci-schemas")
        os.makedirs(dst, exist_ok=True)
        src = os.path.join(HERE, "oci-schemas")
        for name in os.listdir(src):
            if name.endswith(".json"):
                shutil.copy2(os.path.join(src, name), dst)
        try:
            commit = subprocess.run(
                ["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
        with open(os.path.join(self.build_lib, "runtime", "_build_info.py"), "w") as f:
            f.write("COMMIT = %r\n" % commit)


class BuildDoor(build_scripts):
    """bin/ocirun: the C front door, built for the interpreter beside it
    (-DOCIRUN_PYVER: <prefix>/bin/python3, <prefix>/lib/pythonX.Y/site-packages)."""

    def run(self):
        core = os.path.join(HERE, "runtime", "core")
        os.makedirs(self.build_dir, exist_ok=True)
        out = os.path.join(self.build_dir, "ocirun")
        cc = (sysconfig.get_config_var("CC") or "cc").split()
        subprocess.run(
            cc
            + [
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-D_GNU_SOURCE",
                '-DOCIRUN_PYVER="%d.%d"' % sys.version_info[:2],
                "-o",
                out,
            ]
            + [
                os.path.join(core, f)
                for f in ("launcher.c", "door.c", "store.c", "json.c", "hooks.c", "error.c", "exeseal.c")
            ],
            check=True,
        )
        os.chmod(out, 0o755)


setup(
    cmdclass={"build_py": BuildPy, "build_scripts": BuildDoor},
    cffi_modules=["runtime/_core_build.py:ffibuilder"],
    scripts=["runtime/core/launcher.c"],
)  # a placeholder: BuildDoor builds bin/ocirun from the core's sources
