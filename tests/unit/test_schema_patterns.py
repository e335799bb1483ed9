"""The hand-written pattern matchers of runtime/schema.py say exactly what
re.search says (which is what jsonschema uses), on crafted and random strings."""

import random
import re

from runtime import schema

CRAFTED = [
    "",
    "/",
    "//",
    "a",
    "/a",
    "a/",
    "\n",
    "/\n",
    "C:\\x",
    "c:/x",
    "C:",
    "1:\\",
    "\\\\srv\\x",
    "\\x",
    "MB:",
    "MB:0=10",
    "mb:",
    "L3:0=f",
    "a\nb",
    "a\rb",
    "A=1",
    "=1",
    "A=",
    "A",
    "A==",
    "\n=",
    "=",
    "CAP_CHOWN",
    "CAP_",
    "CAP_chown",
    "CAP_SYS_ADMIN\n",
    "CAP_SYS_ADMIN\n\n",
    "XCAP_A",
    "CAP_A B",
    "RLIMIT_NOFILE",
    "RLIMIT_",
    "RLIMIT_NO_FILE",
    "RLIMIT_NOFILE\n",
    "rlimit_nofile",
    "rwm",
    "",
    "r",
    "mwr",
    "rwx",
    "rwm\n",
    "rw m",
    "2MB",
    "64KB",
    "1GB",
    "0MB",
    "10B",
    "B",
    "MB",
    "2mB",
    "2MB\n",
    "02MB",
    "1EB",
    "1ZB",
    "2KMB",
    "0",
    "0-3",
    "0-3,7",
    "0,",
    ",0",
    "0--3",
    "0-3-5",
    "1,2,3",
    "a",
    "0-",
    "-3",
    "0-3\n",
    "٣",
    "1.3.0",
    "1.0.2-dev",
    "1.3.0+dev",
    "1.3.0-rc.1+build.5",
    "01.3.0",
    "1.03.0",
    "1.3",
    "1.3.0-",
    "1.3.0+",
    "1.3.0-01",
    "1.3.0-0",
    "1.3.0-0a",
    "1.3.0-a.01",
    "1.3.0-a..b",
    "1.3.0+a..b",
    "1.3.0+01",
    "1.3.0\n",
    "1.3.0-x-y",
    "1.3.0--",
    "1.3.0-+",
    "v1.3.0",
    "1.3.0 ",
    "1.3.0-ü",
    "1.3.0+ü",
    "\\\\?\\Volume{01234567-89ab-cdef-0123-456789abcdef}",
    "\\\\?\\Volume{01234567-89ab-cdef-0123-456789abcdef}\\",
    "\\\\?\\Volume{01234567-89ab-cdef-0123-456789abcdeg}",
    "\\\\?\\Volume{0123456-789ab-cdef-0123-456789abcdef}",
    "\\\\?\\Volume{01234567-89AB-CDEF-0123-456789ABCDEF}\n",
    "\\\\?\\Volume{}",
    "\\?\\Volume{x}",
]
ALPHABET_GUID = "0123456789abcdefgABCDEF-{}\\?Volume\n"
ALPHABET = "0123456789.-+=:/\\\nrwmABCKMGTPEBLIMTCAP_xyzé\r "


def _random_strings(n, seed=7):
    rnd = random.Random(seed)
    for _ in range(n):
        yield "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 12)))


def _variants(base):
    rnd = random.Random(11)
    for s in base:
        yield s
        for _ in range(3):
            i = rnd.randint(0, len(s))
            yield s[:i] + rnd.choice(ALPHABET) + s[i:]
            if s:
                yield s[:i] + s[i + 1 :]


def test_fast_matchers_agree_with_re(subtests):
    strings = list(_variants(CRAFTED)) + list(_random_strings(4000))
    rnd = random.Random(3)
    guid = "\\\\?\\Volume{01234567-89ab-cdef-0123-456789abcdef}\\"
    for _ in range(2000):  # near-misses of a volume GUID path
        i = rnd.randint(0, len(guid))
        strings.append(guid[:i] + rnd.choice(ALPHABET_GUID) + guid[i + 1 :])
    for pattern, fast in schema.FAST_PATTERNS.items():
        with subtests.test(pattern=pattern):
            rx = re.compile(pattern)
            wrong = [s for s in strings if bool(fast.search(s)) != bool(rx.search(s))]
            assert wrong == [], wrong[:10]


def test_validation_imports_no_re():
    import subprocess
    import sys

    code = (
        "import sys; from runtime import schema, validation; validation.schemas().validate("
        "__import__('runtime.cli.spec', fromlist=['x']).default_config()); print('re' in sys.modules)"
    )
    r = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path[:0] = %r; %s" % (sys.path, code)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
