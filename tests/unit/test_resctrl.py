"""runtime/resctrl.py against a fake resctrl tree (this host has no resctrl
mount, so no container can use it here: tests/integration/test_fields.py
checks the refusal with real containers)."""

import os

import pytest

from runtime import errors, resctrl


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A directory that acts like resctrl: mkdir makes a group with its files;
    writes are recorded (as the kernel takes them: one write per line)."""
    root = tmp_path / "resctrl"
    (root / "info" / "L3_MON").mkdir(parents=True)
    writes = []
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777):
        real_mkdir(path, mode)
        for f in ("schemata", "tasks"):
            open(os.path.join(path, f), "w").close()
        if os.path.basename(os.path.dirname(path)) != "mon_groups":  # a group, not a monitoring group
            real_mkdir(os.path.join(path, "mon_groups"))

    real_rmdir = os.rmdir

    def rmdir(path, **kw):  # resctrl's rmdir takes a group with its files
        if kw or not os.path.isdir(path):
            return real_rmdir(path, **kw)
        for d, _dirs, files in os.walk(path, topdown=False):
            for f in files:
                os.unlink(os.path.join(d, f))
            real_rmdir(d)

    monkeypatch.setattr(resctrl.os, "mkdir", mkdir)
    monkeypatch.setattr(resctrl.os, "rmdir", rmdir)
    monkeypatch.setattr(resctrl, "_write", lambda path, text, field: writes.append((path, text)))
    return str(root), writes


def test_refused_without_a_resctrl_mount(monkeypatch):
    monkeypatch.setattr(resctrl, "mount_point", lambda: None)
    with pytest.raises(errors.ConfigError) as e:
        resctrl.plan({"closID": "x"}, "c1")
    assert "linux.intelRdt" in str(e.value) and "resctrl is not mounted" in str(e.value)


def test_new_group_gets_schemata_pid_and_monitoring_then_is_removed(tree):
    root, writes = tree
    st = resctrl.plan(
        {"l3CacheSchema": "L3:0=ff;1=f0", "memBwSchema": "MB:0=50", "schemata": ["L2:0=3"], "enableMonitoring": True},
        "c1",
        root=root,
    )
    resctrl.apply(st, 4242)
    g = os.path.join(root, "c1")
    assert st["created"] and st["mon_created"]
    assert writes == [
        (g + "/schemata", "L3:0=ff;1=f0\n"),
        (g + "/schemata", "MB:0=50\n"),
        (g + "/schemata", "L2:0=3\n"),
        (g + "/tasks", "4242\n"),
        (g + "/mon_groups/c1/tasks", "4242\n"),
    ]
    resctrl.remove(st)
    assert not os.path.exists(g)
    resctrl.remove(st)  # idempotent


def test_existing_closid_is_joined_never_rewritten(tree):
    root, writes = tree
    g = os.path.join(root, "shared")
    os.makedirs(g)
    with open(os.path.join(g, "schemata"), "w") as f:
        f.write("    L3:0=ff;1=ff\n")
    st = resctrl.plan({"closID": "shared", "l3CacheSchema": "L3:0=ff;1=ff"}, "c2", root=root)
    resctrl.apply(st, 7)
    assert writes == [(g + "/tasks", "7\n")] and not st["created"]
    resctrl.remove(st)
    assert os.path.isdir(g)  # not ours to remove
    st = resctrl.plan({"closID": "shared", "l3CacheSchema": "L3:0=0f"}, "c3", root=root)
    with pytest.raises(errors.CoreError) as e:
        resctrl.apply(st, 8)
    assert "linux.intelRdt.closID" in str(e.value)


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "info", "mon_groups"])
def test_closid_that_is_not_a_group_name_is_refused(tree, name):
    with pytest.raises(errors.ConfigError) as e:
        resctrl.plan({"closID": name}, "c1", root=tree[0])
    assert "linux.intelRdt.closID" in str(e.value)


def test_monitoring_needs_the_host_to_have_it(tmp_path):
    with pytest.raises(errors.ConfigError) as e:
        resctrl.plan({"enableMonitoring": True}, "c1", root=str(tmp_path))
    assert "linux.intelRdt.enableMonitoring" in str(e.value)
