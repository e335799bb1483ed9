"""The systemd driver's pure parts: cgroupsPath parsing, slice expansion, unit
properties. Real scopes under a real systemd: tests/systemd."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from runtime import errors  # noqa: E402
from runtime.cgroups import systemd as sd  # noqa: E402
from runtime.cgroups.devices import DeviceRule  # noqa: E402


@pytest.mark.parametrize(
    "path,want",
    [
        ("", ("system.slice", "ocirun-c1.scope")),
        (None, ("system.slice", "ocirun-c1.scope")),
        ("machine.slice:libpod:abc", ("machine.slice", "libpod-abc.scope")),
        (":pfx:n", ("system.slice", "pfx-n.scope")),
        ("-::n", ("-.slice", "n.scope")),
        ("a-b-c.slice:p:n", ("a-b-c.slice", "p-n.scope")),
    ],
)
def test_parse_path(path, want):
    assert sd.parse_path(path, "c1") == want


@pytest.mark.parametrize(
    "path,msg",
    [
        ("/a/b", "the systemd driver wants slice:prefix:name"),
        ("a:b:c:d", "the systemd driver wants slice:prefix:name"),
        ("s.slice:p:", "the name part is empty"),
        ("s.slice:p:n.slice", "a slice as the container's unit is not supported"),
        ("s.slice:p:a/b", "is not a valid unit name"),
        ("nope:p:n", "slice `nope` is not a valid slice name (want NAME.slice)"),
        ("-a.slice:p:n", "slice `-a.slice` is not a valid slice name"),
        ("a-.slice:p:n", "slice `a-.slice` is not a valid slice name"),
        ("a--b.slice:p:n", "slice `a--b.slice` is not a valid slice name"),
    ],
)
def test_parse_path_refuses(path, msg):
    with pytest.raises(errors.OciError) as e:
        sd.parse_path(path, "c1")
    assert str(e.value).startswith("invalid linux.cgroupsPath `%s`: " % path) and msg in str(e.value)


def test_expand_slice():
    assert sd.expand_slice("-.slice") == ""
    assert sd.expand_slice("system.slice") == "/system.slice"
    assert sd.expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice"


def test_cpuset_mask():
    assert sd.cpuset_mask("0", "f") == b"\x01"
    assert sd.cpuset_mask("0-2,9", "f") == b"\x07\x02"
    with pytest.raises(errors.OciError, match="invalid f `3-1`"):
        sd.cpuset_mask("3-1", "f")


def test_cpu_quota_per_sec_rounds_up_to_10ms():
    assert sd._cpu_quota_per_sec(50000, 100000) == 500000
    assert sd._cpu_quota_per_sec(12345, 100000) == 130000
    assert sd._cpu_quota_per_sec(-1, 100000) == sd.UINT64_MAX


def test_unit_properties_v1_and_v2_names():
    res = {
        "memory": {"limit": 1 << 26},
        "cpu": {"shares": 1024, "quota": 20000, "period": 100000, "cpus": "0-1"},
        "pids": {"limit": -1},
        "blockIO": {"weight": 500},
    }
    v1 = dict(sd.unit_properties(res, "v1", None))
    assert v1["MemoryLimit"] == ("t", 1 << 26) and v1["CPUShares"] == ("t", 1024)
    assert v1["CPUQuotaPerSecUSec"] == ("t", 200000) and v1["TasksMax"] == ("t", sd.UINT64_MAX)
    assert v1["BlockIOWeight"] == ("t", 500) and "AllowedCPUs" not in v1  # v1 cpusets are files
    v2 = dict(sd.unit_properties(res, "v2", None))
    assert v2["MemoryMax"] == ("t", 1 << 26) and v2["CPUWeight"] == ("t", 39)
    assert v2["AllowedCPUs"] == ("ay", b"\x03") and v2["IOWeight"] == ("t", 4950)
    assert "MemoryLimit" not in v2 and "CPUShares" not in v2


def test_device_rules_as_systemd_says_them():
    rules = [DeviceRule(False), DeviceRule(True, "c", 1, 3, "rwm"), DeviceRule(True, "a", -1, -1, "m")]
    policy, allow = sd._device_allow(rules)
    assert policy == "strict" and ("/dev/char/1:3", "rwm") in allow
    assert ("char-*", "m") in allow and ("block-*", "m") in allow
    assert sd._device_allow([DeviceRule(True)]) == ("auto", [])
    # A deny after an allow: systemd has no deny list, the files alone say it.
    assert (
        sd._device_allow([DeviceRule(False), DeviceRule(True, "c", 1, 3, "rwm"), DeviceRule(False, "c", 1, 3, "w")])
        is None
    )


def test_reachable_is_false_without_a_socket(tmp_path):
    assert sd.reachable("unix:path=%s/none" % tmp_path) is False
    assert sd.reachable("tcp:host=localhost,port=1") is False
