"""The C core's one error convention seen from Python: errno, stage and a
message naming the config field and the step (runtime/core/error.c)."""

import pytest

from runtime.cgroups import devices
from runtime.host import LINUX


def test_device_filter_error_names_the_field_and_the_step(tmp_path):
    # A plain directory is no cgroup: the filter loads, listing the programs
    # attached there fails. (Needs root, as the whole suite: bpf(2).)
    with pytest.raises(OSError) as e:
        LINUX.attach_device_filter(str(tmp_path), [devices.DeviceRule(False)])
    assert e.value.errno, "no errno came back"
    assert e.value.strerror == "linux.resources.devices: list the cgroup's device filters (bpf BPF_PROG_QUERY)"
    assert e.value.filename == str(tmp_path)
