"""cffi builder for the C core: the cdef is core/ocirun.h itself (the header is the boundary)."""

import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(HERE, "core")


def _sources():
    return sorted(os.path.join("runtime", "core", f) for f in os.listdir(CORE) if f.endswith(".c"))


def _cdef():
    # ocirun.h is written so that cffi can read it: no #include, no macros in the
    # part between the CDEF markers.
    with open(os.path.join(CORE, "ocirun.h")) as f:
        text = f.read()
    start = text.index("/* CDEF-BEGIN */") + len("/* CDEF-BEGIN */")
    return text[start:text.index("/* CDEF-END */")]


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "runtime._core",
    '#include "ocirun.h"\n',
    sources=_sources(),
    include_dirs=[CORE],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
