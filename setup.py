"""Only here for cffi's setuptools hook (`cffi_modules`) and to ship oci-schemas/."""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

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
            commit = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                                    text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
        with open(os.path.join(self.build_lib, "runtime", "_build_info.py"), "w") as f:
            f.write("COMMIT = %r\n" % commit)


setup(cmdclass={"build_py": BuildPy}, cffi_modules=["runtime/_core_build.py:ffibuilder"])
