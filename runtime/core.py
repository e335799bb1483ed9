"""Loads the compiled C core and checks it matches these sources.

A stale `_core` (built from other sources than this package's) would let the
Python side hand the child a plan of another shape: refuse it loudly.
"""

from . import errors

EXPECTED_CORE_VERSION = 11


def load():
    try:
        from ._core import ffi, lib
    except ImportError as e:
        raise errors.OciError("the C core is not built (%s): reinstall ocirun (hack/install)" % e) from None
    have = lib.ocirun_core_version()
    if have != EXPECTED_CORE_VERSION or lib.OCIRUN_CORE_VERSION != EXPECTED_CORE_VERSION:
        raise errors.OciError(
            "the C core is version %d, this package wants %d: reinstall ocirun" % (have, EXPECTED_CORE_VERSION)
        )
    return ffi, lib
