"""Bad input the fuzzers (tests/fuzz) found: each is one clear line naming the
field or argument, a non-zero exit, no traceback, and nothing left behind."""

import os

import helpers


def _one_line(r, *words):
    assert r.returncode != 0, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def _nothing_left(root, cid):
    assert not os.path.exists(os.path.join(root, cid)), os.listdir(root)
    assert helpers.cgroup_dirs(cid) == []


def test_kill_non_ascii_digit_signal(run_ocirun, bundle, root, cid):
    bundle.set_args("sleep", "600").write()
    assert run_ocirun("create", "--bundle", bundle.path, cid).returncode == 0
    r = run_ocirun("kill", cid, "²")
    _one_line(r, "invalid signal", "²")
    assert helpers.state(root, cid)["status"] == "created"


def test_events_interval_beyond_go_duration(run_ocirun, bundle, cid):
    bundle.set_args("sleep", "600").write()
    assert run_ocirun("create", "--bundle", bundle.path, cid).returncode == 0
    # the old code printed one stats line, then died in poll() on the wait
    r = run_ocirun("events", "--interval", "99999999999999999999h", cid, timeout=60)
    _one_line(r, "--interval", "99999999999999999999h")
    assert r.stdout == ""


def test_console_size_above_65535(run_ocirun, bundle, root, cid):
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 70000, "width": 80}
    bundle.write()
    sock = os.path.join(root, "console.sock")
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.listen(1)
    try:
        r = run_ocirun("create", "--bundle", bundle.path, "--console-socket", sock, cid)
    finally:
        s.close()
    _one_line(r, "process.consoleSize.height", "70000")
    _nothing_left(root, cid)


def test_nul_in_unified_key(run_ocirun, bundle, root, cid):
    bundle.config["linux"].setdefault("resources", {})["unified"] = {"memory.h\x00igh": "1"}
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    _one_line(r, "linux.resources.unified", "NUL")
    _nothing_left(root, cid)


def test_nul_in_cgroups_path(run_ocirun, bundle, root, cid):
    bundle.config["linux"]["cgroupsPath"] = "/ocirun-test/a\x00b"
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    _one_line(r, "linux.cgroupsPath", "NUL")
    _nothing_left(root, cid)


def test_preserve_fds_beyond_open_files_limit(run_ocirun, bundle, root, cid):
    r = run_ocirun("create", "--preserve-fds", "99999999999", "--bundle", bundle.path, cid)
    _one_line(r, "--preserve-fds", "99999999999")
    _nothing_left(root, cid)


def test_namespace_path_is_a_fifo(run_ocirun, bundle, root, cid, tmp_path):
    """A fifo named as a namespace blocked open() with no writer: create hung."""
    fifo = str(tmp_path / "ns-fifo")
    os.mkfifo(fifo)
    nss = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "network"]
    bundle.config["linux"]["namespaces"] = nss + [{"type": "network", "path": fifo}]
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid, timeout=120)
    _one_line(r, "linux.namespaces[", "not a namespace")
    _nothing_left(root, cid)


def test_umask_beyond_int32(run_ocirun, bundle, root, cid):
    bundle.process["user"]["umask"] = 4294967295  # a valid uint32 for the schema
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    _one_line(r, "process.user.umask", "4294967295")
    _nothing_left(root, cid)


def test_hooks_key_that_is_no_hook_kind(run_ocirun, bundle, root, cid):
    """The schema lets hooks carry other keys: validation iterated them as hook lists."""
    bundle.config["hooks"] = {"x-engine": None}
    bundle.set_args("true").write()
    r = run_ocirun("run", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_device_number_beyond_32_bits(run_ocirun, bundle, root, cid):
    bundle.config["linux"]["devices"] = [{"path": "/dev/xx", "type": "c", "major": 1, "minor": 2**63 - 1}]
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    _one_line(r, "linux.devices[0].minor", str(2**63 - 1))
    _nothing_left(root, cid)
