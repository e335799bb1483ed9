"""Fuzz the command line: arbitrary argv through the parser and the command's
own checks, in-process (runtime.__main__.main) on a temporary --root and
working directory, with container ids that do not exist, so nothing can start
a container; and a few through the installed binary.

Whatever the argv, the answer is an exit status and at most error lines:
never "internal error" (an exception no check turned into a line naming the
input) and never a traceback.
"""

import contextlib
import io
import os
import subprocess
import sys
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given, strategies as st  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from test_fuzz_config import fuzz_settings  # noqa: E402

from helpers import OCIRUN  # noqa: E402
from runtime import __main__ as entry, cli, errors, linux, log as logmod  # noqa: E402
from runtime.cli import events  # noqa: E402


def _flag_tokens():
    import importlib

    out = set()
    mods = [importlib.import_module("runtime.cli." + m.replace("-", "_")) for m, _ in cli.COMMANDS.values()]
    for flags in [cli.GLOBAL_FLAGS] + [m.COMMAND.flags for m in mods]:
        for f in flags:
            for n in f.names:
                out.add(("--" if len(n) > 1 else "-") + n)
    return sorted(out)


FLAGS = _flag_tokens()
COMMANDS = sorted(cli.COMMANDS) + ["help", "nosuch"]
VALUES = [
    "",
    "0",
    "1",
    "-1",
    "9",
    "64",
    "65",
    "²",
    "٣",
    "１",
    "KILL",
    "SIGKILL",
    "sigterm",
    "RTMIN+3",
    "RTMAX-٣",
    "RTMIN+99999999999999999999",
    "5s",
    "500ms",
    "1m30s",
    "1.5h",
    "99999999999999999999h",
    "2562048h",
    "0.0000000001ns",
    "µs",
    "1e9s",
    "inf",
    "nan",
    "..",
    ".",
    "-",
    "--",
    "=",
    "true",
    "false",
    "json",
    "table",
    "text",
    "0x10",
    "0o7",
    "1_000",
    "99999999999999999999",
    "-99999999999999999999",
    "512M",
    "1G",
    "-1",
    "1:2",
    "a:b",
    "0-3",
    "CAP_SYS_ADMIN",
    "FOO=bar",
    "nosuch-id",
    "x" * 2000,
    "\x00",
    "a\x00b",
    "\ud800",
    "é",
]
NO_SLASH = st.text(max_size=20).filter(lambda s: "/" not in s)  # never an absolute or parent path
token = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(VALUES),
    NO_SLASH,
    st.tuples(st.sampled_from(FLAGS), st.sampled_from(VALUES + ["x"])).map("=".join),
)
argvs = st.tuples(
    st.lists(
        st.sampled_from(
            [
                "--debug",
                "--log-format",
                "json",
                "--systemd-cgroup",
                "--cgroup-manager",
                "disabled",
                "--rootless",
                "--log",
                "log",
            ]
        ),
        max_size=3,
    ),
    st.sampled_from(COMMANDS),
    st.lists(token, max_size=8),
).map(lambda t: t[0] + [t[1]] + t[2])

# argv the fuzzer found (or was told of) that were internal errors
PINNED = [
    ["kill", "nosuch-id", "²"],
    ["kill", "nosuch-id", "RTMAX-٣"],
    ["events", "--interval", "99999999999999999999h", "x"],
    ["create", "--preserve-fds", "99999999999", "x"],
]


def run_inproc(argv):
    """main(argv) in this process: (status, stderr)."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="ocirun-fuzz-cli-") as d:
        root = os.path.join(d, "root")
        os.mkdir(root)
        err, out = io.StringIO(), io.StringIO()
        try:
            os.chdir(d)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                old_in, sys.stdin = sys.stdin, io.StringIO("")
                try:
                    rc = entry.main(["--root", root] + list(argv))
                finally:
                    sys.stdin = old_in
        finally:
            os.chdir(cwd)
            logmod.LOG.configure()  # back to the defaults: the flags of this argv were for it alone
        return rc, err.getvalue()


def _check(argv, rc, stderr):
    assert isinstance(rc, int), (argv, rc)
    assert "internal error" not in stderr and "Traceback" not in stderr, (argv, stderr)


@fuzz_settings(300)
@given(argv=argvs)
@example(argv=PINNED[0])
@example(argv=PINNED[1])
@example(argv=PINNED[2])
@example(argv=PINNED[3])
def test_argv_in_process(argv):
    rc, stderr = run_inproc(argv)
    _check(argv, rc, stderr)


@fuzz_settings(500)
@given(text=st.one_of(st.sampled_from(VALUES), st.text(max_size=12)))
@example(text="²")
def test_signal_names(text):
    """kill's signal: a number 0..64 (0: runc's "does it exist" probe) or one line naming the input."""
    try:
        n = linux.parse_signal(text)
    except errors.OciError as e:
        assert "\n" not in str(e)
        return
    assert 0 <= n <= 64
    assert n != 0 or text.strip().isdigit(), text  # 0 only when asked for by number


@fuzz_settings(500)
@given(text=st.one_of(st.sampled_from(VALUES), st.text(alphabet="0123456789.smhnuµ٣²", max_size=30)))
@example(text="99999999999999999999h")
def test_event_intervals(text):
    """events --interval: a duration Go could hold (so every wait on it is bounded) or one line."""
    try:
        secs = events.parse_duration(text)
    except errors.UsageError as e:
        assert "\n" not in str(e)
        return
    assert 0 < secs <= ((1 << 63) - 1) / 1e9


def _encodable(argv):
    return all("\x00" not in a and _utf8(a) for a in argv)


def _utf8(s):
    try:
        s.encode()
        return True
    except UnicodeEncodeError:
        return False


@pytest.mark.skipif(not os.access(OCIRUN, os.X_OK), reason="needs the installed binary (hack/install)")
@fuzz_settings(15)
@given(argv=argvs.filter(_encodable))
@example(argv=PINNED[0])
@example(argv=PINNED[2])
def test_argv_real_binary(argv):
    with tempfile.TemporaryDirectory(prefix="ocirun-fuzz-bin-") as d:
        os.mkdir(os.path.join(d, "root"))
        r = subprocess.run(
            [OCIRUN, "--root", os.path.join(d, "root")] + argv,
            cwd=d,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
        )
    _check(argv, r.returncode, r.stderr)
