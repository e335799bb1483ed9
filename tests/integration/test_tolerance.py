"""Configs as other tools write them, which the spec's schema or text refuses
and runc and crun run (runtime/tolerance.py; the table in oci-schemas/README.md).

Each runs for real; `validate` reports each form as a warning (exit 0) and
`validate --strict` as an error.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

import helpers


def _peer_spec(tool, bundle_template, dest):
    """A bundle whose config.json is `<tool> spec`'s, as a tutorial starts."""
    if not shutil.which(tool):
        pytest.fail("%s is not installed (hack/install installs it)" % tool)
    os.makedirs(dest)
    subprocess.run([tool, "spec"], cwd=dest, check=True, capture_output=True)
    os.symlink(os.path.join(bundle_template, "rootfs"), os.path.join(dest, "rootfs"))
    with open(os.path.join(dest, "config.json")) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False  # no console here; everything else as the tool wrote it
    cfg["process"]["args"] = ["sh", "-c", "grep -E '^Cap(Eff|Amb)' /proc/self/status; echo spec-ok"]
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(cfg, f)
    return cfg


def test_runc_spec_bundle_runs(run_ocirun, bundle_template, tmp_path, cid):
    """runc 1.1's spec lists ambient capabilities without inheritable ones:
    the process runs, without them, and create warns once per capability."""
    cfg = _peer_spec("runc", bundle_template, str(tmp_path / "b"))
    caps = cfg["process"]["capabilities"]
    assert caps["ambient"] and not set(caps["ambient"]) <= set(caps.get("inheritable") or ())
    r = run_ocirun("run", "--bundle", tmp_path / "b", cid)
    assert r.returncode == 0, r.stderr
    assert "spec-ok" in r.stdout and "CapAmb:\t0000000000000000" in r.stdout
    warned = [line for line in r.stderr.splitlines() if line]
    assert len(warned) == len(caps["ambient"]) and all("cannot be raised" in w for w in warned), r.stderr
    v = run_ocirun("validate", "--bundle", tmp_path / "b")
    assert v.returncode == 0 and v.stderr.count("warning: process.capabilities.ambient: ") == len(caps["ambient"])
    assert run_ocirun("validate", "--strict", "--bundle", tmp_path / "b").returncode == 1


def test_crun_spec_bundle_runs(run_ocirun, bundle_template, tmp_path, cid):
    _peer_spec("crun", bundle_template, str(tmp_path / "b"))
    r = run_ocirun("run", "--bundle", tmp_path / "b", cid)
    assert r.returncode == 0 and "spec-ok" in r.stdout, r.stderr


@pytest.mark.parametrize("prop", ["rprivate", "rshared", "rslave", "runbindable"])
def test_recursive_root_propagation_accepted(run_ocirun, bundle, cid, prop):
    bundle.config["linux"]["rootfsPropagation"] = prop
    bundle.set_args("true").write()
    r = run_ocirun("run", "--bundle", bundle.path, cid)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr  # no warning per container: engines send it always
    v = run_ocirun("validate", "--bundle", bundle.path)
    assert v.returncode == 0
    assert v.stderr == (
        "warning: linux.rootfsPropagation: %r is not in the spec's list (private, shared, slave, "
        "unbindable); accepted as the recursive form engines write, as runc and crun do\n" % prop
    )
    s = run_ocirun("validate", "--strict", "--bundle", bundle.path)
    assert s.returncode == 1 and "linux.rootfsPropagation" in s.stderr


def test_unknown_propagation_still_refused(run_ocirun, bundle, root, cid):
    bundle.config["linux"]["rootfsPropagation"] = "rsideways"
    bundle.write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    assert r.returncode == 1 and "linux.rootfsPropagation" in r.stderr
    assert not os.path.exists(os.path.join(root, cid))


def test_docker_rslave_volume_sees_later_host_mounts(run_ocirun, bundle, cid, tmp_path):
    """`docker run -v SRC:DST:rslave`: dockerd writes rootfsPropagation rslave
    and an rbind+rslave mount; a mount made on the host under SRC after the
    start appears in the container (HostToContainer)."""
    src = tmp_path / "vol"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "vol", str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(src)], check=True)
        bundle.config["linux"]["rootfsPropagation"] = "rslave"
        bundle.config["mounts"].append(
            {"destination": "/vol", "type": "bind", "source": str(src), "options": ["rbind", "rslave"]}
        )
        bundle.set_args("sleep", "100").write()
        r = run_ocirun("run", "-d", "--bundle", bundle.path, cid)
        assert r.returncode == 0, r.stderr
        (src / "sub").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "later", str(src / "sub")], check=True)
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline:
            e = run_ocirun("exec", cid, "cat", "/proc/self/mountinfo")
            seen = e.stdout
            if " /vol/sub " in seen:
                break
            time.sleep(0.1)
        assert " /vol/sub " in seen, seen
        line = next(ln for ln in seen.splitlines() if " /vol " in ln)
        assert "master:" in line, line  # a slave of the host's shared mount
    finally:
        run_ocirun("delete", "--force", cid)
        subprocess.run(["umount", "-R", str(src)], capture_output=True)


def test_hostname_in_a_joined_uts_namespace(run_ocirun, bundle, cid):
    """runc and crun set the names of a uts namespace joined by path (pods
    share one); with no uts namespace at all it is still refused."""
    holder = subprocess.Popen(["unshare", "--uts", "sleep", "60"])
    try:
        ns = "/proc/%d/ns/uts" % holder.pid
        helpers.wait_for(lambda: os.readlink(ns) != os.readlink("/proc/self/ns/uts"), what="the holder's uts ns")
        nss = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "uts"]
        bundle.config["linux"]["namespaces"] = nss + [{"type": "uts", "path": ns}]
        bundle.config["hostname"] = "joined-host"
        bundle.set_args("hostname").write()
        r = run_ocirun("run", "--bundle", bundle.path, cid)
        assert (r.returncode, r.stdout.strip()) == (0, "joined-host"), r.stderr
        held = subprocess.run(["nsenter", "-u", "-t", str(holder.pid), "hostname"], capture_output=True, text=True)
        assert held.stdout.strip() == "joined-host"
        v = run_ocirun("validate", "--bundle", bundle.path)
        assert v.returncode == 0 and v.stderr.startswith("warning: hostname: sets the hostname of the joined uts")
        bundle.config["linux"]["namespaces"] = nss
        bundle.write()
        r = run_ocirun("run", "--bundle", bundle.path, cid + "-x")
        assert r.returncode == 1 and "hostname" in r.stderr and "uts namespace" in r.stderr
        assert os.uname().nodename != "joined-host"
    finally:
        holder.kill()
        holder.wait()


def _unmapped_userns(bundle):
    """A new user namespace with no uidMappings/gidMappings. devpts loses its
    gid=5: only 0 is mapped in such a namespace (crun fails on gid=5 too)."""
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"].pop("uidMappings", None)
    bundle.config["linux"].pop("gidMappings", None)
    for m in bundle.config["mounts"]:
        if m["type"] == "devpts":
            m["options"] = [o for o in m["options"] if not o.startswith("gid=")]


def test_userns_without_mappings_runs(run_ocirun, bundle, cid):
    """A user namespace without maps: crun runs it with the namespace's 0
    mapped to its own uid and gid (size 1); so does ocirun. The process is
    root of its own namespace, not of ours; exec joins it the same way."""
    _unmapped_userns(bundle)
    bundle.set_args("sleep", "100").write()
    r = run_ocirun("run", "-d", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r.stderr
    st = run_ocirun("state", cid)
    assert st.returncode == 0, st.stderr
    pid = json.loads(st.stdout)["pid"]
    assert os.readlink("/proc/%d/ns/user" % pid) != os.readlink("/proc/self/ns/user")
    for name, mine in (("uid_map", os.geteuid()), ("gid_map", os.getegid())):
        with open("/proc/%d/%s" % (pid, name)) as f:
            assert f.read().split() == ["0", str(mine), "1"], name
    e = run_ocirun("exec", cid, "sh", "-c", "id -u; id -g; readlink /proc/self/ns/user")
    assert e.returncode == 0, e.stderr
    assert e.stdout.split() == ["0", "0", os.readlink("/proc/%d/ns/user" % pid)], e.stdout
    v = run_ocirun("validate", "--bundle", bundle.path)
    assert v.returncode == 0, v.stderr
    assert v.stderr.count("warning: linux.uidMappings: a new user namespace without uid or gid mappings") == 1, v.stderr
    assert run_ocirun("validate", "--strict", "--bundle", bundle.path).returncode == 1


def test_userns_without_mappings_other_user_refused(run_ocirun, bundle, root, cid):
    """Only 0 is mapped there: any other process user is refused, naming
    process.user, and nothing is left behind."""
    _unmapped_userns(bundle)
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.set_args("true").write()
    r = run_ocirun("create", "--bundle", bundle.path, cid)
    assert r.returncode == 1 and "process.user" in r.stderr, r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, r.stderr
    assert not os.path.exists(os.path.join(root, cid))
