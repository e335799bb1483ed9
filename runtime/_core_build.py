"""cffi builder for the C core: the cdef is core/ocirun.h itself (the header is the boundary)."""

import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(HERE, "core")
LAUNCHER_ONLY = ("launcher.c",)


def _sources():
    # the launcher is a program of its own (hack/install, setup.py build it with door.c, store.c, json.c, hooks.c, error.c, exeseal.c)
    return sorted(
        os.path.join("runtime", "core", f) for f in os.listdir(CORE) if f.endswith(".c") and f not in LAUNCHER_ONLY
    )


def _headers():
    # ocirun.h first: the others may use its types.
    names = sorted(f for f in os.listdir(CORE) if f.endswith(".h"))
    names.sort(key=lambda n: n != "ocirun.h")
    return names


def _cdef():
    # Each header holds a part written so that cffi can read it: no #include, no
    # macros between its CDEF markers. Headers without markers are private to C.
    parts = []
    for name in _headers():
        with open(os.path.join(CORE, name)) as f:
            text = f.read()
        if "/* CDEF-BEGIN */" not in text:
            continue
        start = text.index("/* CDEF-BEGIN */") + len("/* CDEF-BEGIN */")
        parts.append(text[start : text.index("/* CDEF-END */")])
    return "\n".join(parts)


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "runtime._core",
    "".join('#include "%s"\n' % h for h in _headers()),
    sources=_sources(),
    include_dirs=[CORE],
    # rebuild when only a header changed (setuptools compares sources alone)
    depends=[os.path.join("runtime", "core", h) for h in _headers()],
    libraries=[":libseccomp.so.2"],  # the soname itself: no libseccomp-dev needed (core/seccomp.h)
    # every warning is an error: the core is small enough to keep clean (tests/c builds it the same way)
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
