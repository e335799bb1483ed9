"""runtime/rootless.py's policy on configs, without running containers
(tests/rootless runs them as a real user)."""

import copy
import os
import shutil

import pytest

from runtime import errors, log, rootless, rootless_idmap


class G:
    def __init__(self, rootless="auto", root=None):
        self.rootless = rootless
        self.root = root


def base():
    return {
        "ociVersion": "1.3.0",
        "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "newinstance", "gid=5", "mode=0620"],
            },
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user")],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        },
    }


@pytest.fixture
def as_user(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: 1000)
    monkeypatch.setattr(log, "LOG", log.Logger(None, "text", False))


def test_mode(subtests):
    for v, want in (
        ("auto", "auto"),
        ("TRUE", "true"),
        ("1", "true"),
        ("false", "false"),
        ("no", "false"),
        (None, "auto"),
    ):
        with subtests.test(v=v):
            assert rootless.mode(G(v)) == want
    with pytest.raises(errors.UsageError, match="--rootless"):
        rootless.mode(G("maybe"))


def test_enabled(monkeypatch):
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert not rootless.enabled(G())
    assert rootless.enabled(G("true"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert rootless.enabled(G()) and not rootless.enabled(G("false"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: True)
    assert rootless.enabled(G())  # rootless podman: root of its own user namespace


def test_not_rootless_leaves_the_config_alone(monkeypatch):
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert rootless.adapt(G(), base()) is None


def test_adapts_sysfs_and_devpts_gid(as_user):
    cfg = base()
    rl = rootless.adapt(G(), cfg)
    assert cfg == base(), "the caller's config is not changed"
    sys_m = rl.cfg["mounts"][2]
    assert sys_m == {
        "destination": "/sys",
        "type": "bind",
        "source": "/sys",
        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
    }
    assert "gid=5" not in rl.cfg["mounts"][1]["options"]
    assert [f for f, _ in rl.warnings] == ["mounts[1]", "mounts[2]"]
    assert rl.unprivileged


def test_sysfs_with_a_network_namespace_is_kept(as_user):
    cfg = base()
    cfg["linux"]["namespaces"].append({"type": "network"})
    rl = rootless.adapt(G(), copy.deepcopy(cfg))
    assert rl.cfg["mounts"][2] == cfg["mounts"][2]


@pytest.mark.parametrize(
    "change, field",
    [
        (
            lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "user"]),
            "linux.namespaces",
        ),
        (
            lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "pid"]),
            "mounts[0]",
        ),
        (
            lambda c: (
                c["mounts"].append({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"})
                or c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "ipc"])
            ),
            "mounts[3]",
        ),
        (lambda c: c["mounts"].append({"destination": "/mnt", "type": "xfs", "source": "/dev/sdb"}), "mounts[3]"),
        (
            lambda c: c["linux"]["uidMappings"].append({"containerID": 1, "hostID": 5000, "size": 10}),
            "linux.uidMappings[1]",
        ),
        (
            lambda c: c["linux"].update(devices=[{"path": "/dev/ocirun-none", "type": "c", "major": 1, "minor": 3}]),
            "linux.devices[0]",
        ),
        (lambda c: c["linux"].update(devices=[{"path": "/dev/fifo", "type": "p"}]), "linux.devices[0]"),
    ],
)
def test_refused_naming_the_field(as_user, monkeypatch, change, field):
    monkeypatch.setattr(rootless_idmap, "_sub_ranges", lambda path, uid: [(100000, 65536)])
    cfg = base()
    change(cfg)
    with pytest.raises(errors.ConfigError) as e:
        rootless.adapt(G(), cfg)
    assert len(e.value.lines) == 1 and e.value.lines[0].startswith(field + ":"), e.value.lines


def test_subuid_ranges_are_allowed(as_user, monkeypatch):
    monkeypatch.setattr(rootless_idmap, "_sub_ranges", lambda path, uid: [(100000, 65536)])
    if not shutil.which("newuidmap", path="/usr/bin:/bin:/usr/sbin:/sbin"):
        pytest.skip("no newuidmap")
    cfg = base()
    for k in ("uidMappings", "gidMappings"):
        cfg["linux"][k].append({"containerID": 1, "hostID": 100000, "size": 65536})
    assert rootless.adapt(G(), cfg) is not None


def test_device_bound_from_the_host(as_user):
    cfg = base()
    cfg["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]
    rl = rootless.adapt(G(), cfg)
    assert any(f == "linux.devices[0]" for f, _ in rl.warnings)
    cfg["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 5}]
    with pytest.raises(errors.ConfigError, match="linux.devices"):
        rootless.adapt(G(), cfg)


def test_tmp_root_someone_else_owns_is_refused():
    uid = 3999999  # nobody's: the directory root makes here is not its
    path = "/tmp/ocirun-%d" % uid
    shutil.rmtree(path, ignore_errors=True)
    os.mkdir(path, 0o700)
    try:
        with pytest.raises(errors.OciError, match="owned by uid %d, not %d" % (os.geteuid(), uid)):
            rootless.tmp_root(uid)
    finally:
        os.rmdir(path)
    if os.geteuid() == 0:
        os.symlink("/root", path)
        try:
            with pytest.raises(errors.OciError, match="not a directory"):
                rootless.tmp_root(uid)
        finally:
            os.unlink(path)


class FakeManager:
    layout = "v2"

    def __init__(self, d, mount="/sys/fs/cgroup"):
        import types

        self.d = d
        self.group = types.SimpleNamespace(dir=d, mount=mount)

    def close(self):
        pass

    def to_dict(self):
        return {"driver": "cgroupfs", "layout": "v2", "dir": self.d, "mount": "/sys/fs/cgroup"}

    def dirs(self):
        return {"": self.d}


def test_cgroups_decided(as_user, monkeypatch, tmp_path, capfd):
    """v1/hybrid: none (one warning when resources are asked for); pure v2:
    the manager when the container's cgroup would be made in a directory the
    user may write (delegated), none otherwise; systemd: none."""
    from runtime import cgroups

    linux = {"resources": {"pids": {"limit": 10}}}
    real_exists = os.path.exists
    v2 = [False]
    monkeypatch.setattr(
        os.path, "exists", lambda p: v2[0] if p == "/sys/fs/cgroup/cgroup.controllers" else real_exists(p)
    )
    assert rootless.decide_cgroups("c", linux, "cgroupfs") is None
    assert "linux.resources" in capfd.readouterr().err
    assert rootless.decide_cgroups("c", {}, "cgroupfs") is None
    assert capfd.readouterr().err == ""
    assert rootless.decide_cgroups("c", linux, "disabled") is None

    v2[0] = True
    delegated = tmp_path / "user.slice"
    delegated.mkdir()
    (delegated / "cgroup.subtree_control").write_text("")
    monkeypatch.setattr(
        cgroups, "open_manager", lambda cid, l, kind: FakeManager(str(delegated / "ocirun" / cid), str(tmp_path))
    )
    monkeypatch.setattr(os, "access", lambda p, mode: str(p).startswith(str(delegated)))
    monkeypatch.setattr(rootless, "own_cgroup_dirs", lambda: {"": str(delegated / "shell")})
    mgr = rootless.decide_cgroups("c", linux, "cgroupfs")
    assert isinstance(mgr, FakeManager)
    # ocirun's own cgroup outside the subtree: the join would fail, so none
    monkeypatch.setattr(rootless, "own_cgroup_dirs", lambda: {"": str(tmp_path / "elsewhere")})
    assert rootless.decide_cgroups("c", linux, "cgroupfs") is None
    assert "outside the delegated subtree" in capfd.readouterr().err
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    assert rootless.decide_cgroups("c", linux, "cgroupfs") is None
    assert "no delegated cgroup v2 subtree" in capfd.readouterr().err
    assert rootless.decide_cgroups("c", linux, "systemd") is None
    assert "systemd" in capfd.readouterr().err
