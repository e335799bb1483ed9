"""ocirun: an OCI runtime-spec container runtime.

Kept empty of imports on purpose: engines call `state`, `kill`, `start` and
`delete` many times per container, and every import here is paid by each call.
"""

__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"
