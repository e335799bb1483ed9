"""Namespaces, mounts, hooks and process attributes, seen from inside."""

import json
import os

import helpers


def test_hooks_order_and_state(bundle, root, cid, run_ocirun, tmp_path):
    log = tmp_path / "hooks"
    log.mkdir()
    os.chmod(str(log), 0o777)

    def hook(name):
        # appends its name and the state it was given
        return {"path": "/bin/sh", "args": ["sh", "-c", "echo %s $(cat) >> /hooklog/log" % name], "env": ["X=1"]}

    bundle.config["hooks"] = {
        k: [hook(k)]
        for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
    }
    # runtime-namespace hooks see the host's /hooklog? no: give them the host path
    for k in ("prestart", "createRuntime", "poststart", "poststop", "createContainer"):
        bundle.config["hooks"][k][0]["args"][2] = "echo %s $(cat) >> %s/log" % (k, log)
    bundle.config["mounts"].append(
        {"destination": "/hooklog", "type": "bind", "source": str(log), "options": ["rbind"]}
    )
    bundle.set_args("sh", "-c", "echo process >> /hooklog/log").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    lines = (log / "log").read_text().splitlines()
    names = [l.split(" ", 1)[0] for l in lines]
    assert names == [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "process",
        "poststart",
        "poststop",
    ] or names == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "process", "poststop"]
    states = {l.split(" ", 1)[0]: json.loads(l.split(" ", 1)[1]) for l in lines if l.split(" ", 1)[0] != "process"}
    assert states["createRuntime"]["id"] == cid and states["createRuntime"]["pid"] > 0
    assert states["createRuntime"]["bundle"] == bundle.path
    assert states["poststart"]["status"] == "running"
    assert states["poststop"]["status"] == "stopped"


def test_hooks_in_the_container_get_its_pid(bundle, root, cid, run_ocirun, tmp_path, subtests):
    """runtime.md#state: the pid as seen from the hook's pid namespace; 1 in a
    new one, the host's pid when the container shares ocirun's."""
    log = tmp_path / "hooks"
    log.mkdir()
    bundle.config["mounts"].append(
        {"destination": "/hooklog", "type": "bind", "source": str(log), "options": ["rbind"]}
    )

    def hook(kind, path):
        return [{"path": "/bin/sh", "args": ["sh", "-c", "echo %s $(cat) >> %s/%s" % (kind, path, kind)]}]

    namespaces = bundle.config["linux"]["namespaces"]
    for n, own_pid_ns in enumerate((True, False)):
        with subtests.test(pid_namespace=own_pid_ns):
            c = "%s-%d" % (cid, n)
            for f in log.iterdir():
                f.unlink()
            bundle.config["linux"]["namespaces"] = [ns for ns in namespaces if own_pid_ns or ns["type"] != "pid"]
            bundle.config["hooks"] = {
                "createRuntime": hook("createRuntime", log),
                "createContainer": hook("createContainer", log),
                "startContainer": hook("startContainer", "/hooklog"),
            }
            bundle.set_args("sleep", "30").write()
            r = run_ocirun("create", "-b", bundle.path, c)
            assert r.returncode == 0, r.stderr
            host_pid = helpers.state(root, c)["pid"]
            assert run_ocirun("start", c).returncode == 0
            pids = {
                k: json.loads((log / k).read_text().split(" ", 1)[1])["pid"]
                for k in ("createRuntime", "createContainer", "startContainer")
            }
            inside = 1 if own_pid_ns else host_pid
            assert pids == {"createRuntime": host_pid, "createContainer": inside, "startContainer": inside}
            assert run_ocirun("delete", "--force", c).returncode == 0


def test_user_namespace_mappings(bundle, cid, run_ocirun):
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    # root stays host root (the session's bundle lives under 0700 pytest dirs)
    maps = [{"containerID": 0, "hostID": 0, "size": 1}, {"containerID": 1, "hostID": 100001, "size": 65535}]
    bundle.config["linux"]["uidMappings"] = maps
    bundle.config["linux"]["gidMappings"] = maps
    # cgroup v1 cannot be mounted from a user namespace; sysfs is fine
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["type"] != "cgroup"]
    bundle.set_args("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c '%t:%T' /dev/null").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[:12] == ["0", "0", "1", "1", "100001", "65535"] * 2
    assert out[12:] == ["0", "1:3"]  # /dev/null bind-mounted from the host


def test_time_namespace_offsets(bundle, cid, run_ocirun):
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 400, "nanosecs": 0}}
    bundle.set_args("cat", "/proc/uptime").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split()[0]) > 86400 * 400


def test_join_network_namespace_by_path(bundle, root, cid, run_ocirun, bundle_template, tmp_path):
    other = helpers.make_bundle(bundle_template, str(tmp_path / "other"))
    other.config["hostname"] = "other"
    other.set_args("sleep", "60").write()
    c1 = cid + "-a"
    assert run_ocirun("run", "-d", "-b", other.path, c1).returncode == 0
    pid = helpers.state(root, c1)["pid"]
    bundle.config["linux"]["namespaces"] = [
        n for n in bundle.config["linux"]["namespaces"] if n["type"] not in ("network", "uts")
    ]
    bundle.config["linux"]["namespaces"] += [
        {"type": "network", "path": "/proc/%d/ns/net" % pid},
        {"type": "uts", "path": "/proc/%d/ns/uts" % pid},
    ]
    bundle.config.pop("hostname", None)
    bundle.set_args("sh", "-c", "hostname; readlink /proc/self/ns/net").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["other", os.readlink("/proc/%d/ns/net" % pid)]


def test_no_pivot(bundle, cid, run_ocirun):
    bundle.set_args("sh", "-c", "echo ok; cat /proc/self/mountinfo | head -1 | awk '{print $5}'").write()
    r = run_ocirun("run", "--no-pivot", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok", "/"]


def test_mount_options(bundle, cid, run_ocirun, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_text("x\n")
    (tmp_path / "single").write_text("single\n")
    bundle.config["mounts"] += [
        {"destination": "/m/ro", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nosuid", "nodev"]},
        {"destination": "m/rel", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "noexec"]},
        {"destination": "/m/single", "type": "bind", "source": str(tmp_path / "single"), "options": ["bind", "ro"]},
        {"destination": "/m/rro", "type": "bind", "source": str(src), "options": ["rbind", "rro"]},
    ]
    bundle.config["root"]["readonly"] = False
    bundle.set_args(
        "sh",
        "-c",
        'for d in /m/ro /m/rel /m/single /m/rro; do grep " $d " /proc/self/mountinfo | '
        "awk '{print $5, $6}'; done; cat /m/single; touch /m/ro/x 2>/dev/null || echo ro-ok; "
        "stat -c %a /m/rel",
    ).write()
    # the rootfs is shared: give /m a tmpfs so nothing is created in it
    bundle.config["mounts"].insert(
        len(bundle.config["mounts"]) - 4, {"destination": "/m", "type": "tmpfs", "source": "tmpfs"}
    )
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    opts = dict(l.split() for l in lines[:4])
    assert opts["/m/ro"].split(",")[:3] == ["ro", "nosuid", "nodev"]
    assert "noexec" in opts["/m/rel"].split(",")
    assert opts["/m/single"].startswith("ro")
    assert opts["/m/rro"].startswith("ro")
    assert lines[4:] == ["single", "ro-ok", "700"]


def test_apparmor_requested_but_unsupported(bundle, root, cid, run_ocirun):
    if os.path.isdir("/sys/kernel/security/apparmor"):
        return
    bundle.process["apparmorProfile"] = "docker-default"
    bundle.write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 1 and "apparmor" in r.stderr
    assert not os.path.exists(os.path.join(root, cid))


def test_oom_score_adj_and_keyring(bundle, cid, run_ocirun):
    bundle.process["oomScoreAdj"] = 123
    bundle.set_args("sh", "-c", "cat /proc/self/oom_score_adj; grep -c _ses /proc/keys || true").write()
    r = run_ocirun("run", "-b", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "123"


def test_idmapped_bind_mount(bundle_template, root, cid, run_ocirun):
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="ocirun-idmap-", dir="/tmp")
    try:
        os.chmod(base, 0o755)  # container root is host 100000: it must reach the rootfs
        b = helpers.make_bundle(bundle_template, os.path.join(base, "bundle"), own_rootfs=True)
        os.chmod(b.path, 0o755)
        src = os.path.join(base, "src")
        os.mkdir(src)
        with open(os.path.join(src, "f"), "w") as f:
            f.write("x")
        b.config["linux"]["namespaces"].append({"type": "user"})
        m = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        b.config["linux"]["uidMappings"] = m
        b.config["linux"]["gidMappings"] = m
        b.config["mounts"] = [x for x in b.config["mounts"] if x["type"] != "cgroup"] + [
            {"destination": "/tmp/idmapped", "type": "bind", "source": src, "options": ["rbind", "idmap"]},
            {"destination": "/tmp/plain", "type": "bind", "source": src, "options": ["rbind"]},
        ]
        b.set_args("sh", "-c", "stat -c %u /tmp/idmapped/f /tmp/plain/f").write()
        r = run_ocirun("run", "-b", b.path, cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["0", "65534"]
    finally:
        shutil.rmtree(base, ignore_errors=True)
