"""runtime.linux: the kernel facts written once, checked against this kernel
and against Python's own copies of them (which ocirun does not import on its
hot paths)."""

import fcntl
import os
import resource
import signal

import pytest

from runtime import errors, linux


def test_namespace_flags_and_files_are_the_kernels(subtests):
    assert set(linux.NS_FLAGS) == set(linux.NS_FILES)
    for t, f in linux.NS_FILES.items():
        with subtests.test(t):
            fd = os.open("/proc/self/ns/" + f, os.O_RDONLY | os.O_CLOEXEC)
            try:
                assert fcntl.ioctl(fd, linux.NS_GET_NSTYPE) == linux.NS_FLAGS[t]
            finally:
                os.close(fd)
    assert linux.CLONE_NEWUSER == linux.NS_FLAGS["user"] == 0x10000000


def test_capabilities():
    # a kernel with more would have capabilities ocirun cannot name (features, config.json)
    assert 37 <= linux.cap_last_cap() <= len(linux.CAPS) - 1
    assert [linux.CAP_NUMBERS[n] for n in linux.CAPS] == list(range(len(linux.CAPS)))
    assert linux.CAP_NUMBERS["CAP_SYS_ADMIN"] == 21
    assert linux.cap_bounding() >> len(linux.CAPS) == 0


def test_rlimits_are_pythons():
    assert len(set(linux.RLIMITS.values())) == len(linux.RLIMITS) == 16
    theirs = {name: getattr(resource, name) for name in linux.RLIMITS if hasattr(resource, name)}
    assert set(linux.RLIMITS) - set(theirs) <= {"RLIMIT_LOCKS"}  # Python's resource has no RLIMIT_LOCKS
    assert theirs == {name: n for name, n in linux.RLIMITS.items() if name in theirs}


def test_signals_are_pythons():
    for name, n in linux.SIGNALS.items():
        assert getattr(signal, "SIG" + name) == n, name
    assert (linux.SIGKILL, linux.SIGTERM) == (signal.SIGKILL, signal.SIGTERM)


SIGNAL_CASES = [
    ("KILL", 9),
    ("sigterm", 15),
    ("SIGUSR1", 10),
    (" 9 ", 9),
    ("0", 0),
    ("64", 64),
    ("RTMIN", 34),
    ("RTMIN+3", 37),
    ("SIGRTMAX", 64),
    ("RTMAX-2", 62),
    ("IOT", 6),
]


@pytest.mark.parametrize("text,n", SIGNAL_CASES)
def test_parse_signal(text, n):
    assert linux.parse_signal(text) == n


@pytest.mark.parametrize("text", ["65", "-1", "FOO", "RTMIN+31", "RTMAX-31", "RTMIN-1", "²", "SIG", ""])
def test_parse_signal_refuses(text):
    with pytest.raises(errors.OciError) as e:
        linux.parse_signal(text)
    assert str(e.value) == "invalid signal %r" % text


def test_v1_controllers_include_this_hosts():
    with open("/proc/self/cgroup") as f:
        mine = {c for line in f for c in line.split(":")[1].split(",") if c and not c.startswith("name=")}
    assert mine <= set(linux.V1_CONTROLLERS)
