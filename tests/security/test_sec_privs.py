"""Privileges: the bounding set is dropped before execve and ambient
capabilities are raised as asked; no remount of /proc/sys read-write
without CAP_SYS_ADMIN; noNewPrivileges blocks setuid escalation."""

import os
import shutil

import pytest
from sec_common import parse

CAPS = {"CAP_CHOWN": 0, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_CHROOT": 18}


def status_caps(out):
    return {l.split(":")[0]: int(l.split()[1], 16) for l in out.splitlines() if l.startswith("Cap")}


def test_capability_sets(box, cid, run_ocirun):
    """Privileges: as uid 1000 with bounding {CHOWN, SETGID, SETUID,
    NET_BIND_SERVICE, SYS_CHROOT} and ambient/inheritable/permitted/effective
    {NET_BIND_SERVICE}: CapBnd in /proc/self/status of the exec'd process is
    exactly the bounding set, CapAmb and CapEff exactly the ambient one."""
    box.process["user"] = {"uid": 1000, "gid": 1000}
    amb = ["CAP_NET_BIND_SERVICE"]
    box.process["capabilities"] = {
        "bounding": sorted(CAPS),
        "effective": amb,
        "permitted": amb,
        "inheritable": amb,
        "ambient": amb,
    }
    box.set_args("cat", "/proc/self/status").write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    caps = status_caps(r.stdout)
    want_bnd = sum(1 << b for b in CAPS.values())
    assert caps["CapBnd"] == want_bnd, "CapBnd %x, want %x" % (caps["CapBnd"], want_bnd)
    assert caps["CapAmb"] == 1 << 10 and caps["CapEff"] == 1 << 10 and caps["CapPrm"] == 1 << 10, caps
    assert caps["CapInh"] == 1 << 10, caps


def test_bounding_set_of_root_process(box, cid, run_ocirun):
    """Privileges: a root process with the default (docker-like, small) set
    has CapBnd exactly that set: no CAP_SYS_ADMIN, CAP_SYS_PTRACE, ..."""
    bnd = box.process["capabilities"]["bounding"]
    box.set_args("cat", "/proc/self/status").write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    names = {"CAP_AUDIT_WRITE": 29, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10}
    assert set(bnd) <= set(names), bnd
    assert status_caps(r.stdout)["CapBnd"] == sum(1 << names[c] for c in bnd)


def test_no_remount_proc_sys_rw(box, cid, run_ocirun):
    """Privileges: without CAP_SYS_ADMIN, root in the container can neither
    remount /proc/sys (a readonlyPath) read-write nor write a sysctl there;
    only a namespaced sysctl (kernel.domainname) is tried, so a failure of
    the defence cannot hurt the host."""
    box.set_args(
        "sh",
        "-c",
        "mount -o remount,rw,bind /proc/sys; echo remount=$?; "
        "mount -o remount,rw /proc/sys; echo remount2=$?; "
        "mount -t proc proc /mnt; echo newproc=$?; "
        "echo evil > /proc/sys/kernel/domainname; echo write=$?; "
        "grep ' /proc/sys ' /proc/self/mountinfo",
    ).write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for key in ("remount", "remount2", "newproc", "write"):
        v = [l for l in lines if l.startswith(key + "=")]
        assert v and v[0] != key + "=0", "%s succeeded:\n%s" % (key, r.stdout)
    mi = [l for l in lines if " /proc/sys " in l]
    assert mi and all(" ro," in l or " ro " in l for l in mi), mi


@pytest.mark.parametrize("nnp,want_euid", [(True, 1000), (False, 0)])
def test_no_new_privileges_setuid(box, tools, cid, run_ocirun, nnp, want_euid):
    """Privileges: a setuid-root static helper in the rootfs run as uid 1000:
    with noNewPrivileges true its euid stays 1000; with false it becomes 0
    (the control: proves the test can see an escalation)."""
    suid = os.path.join(box.rootfs, "bin", "suid")
    shutil.copy(tools["setuid_ids"], suid)
    os.chown(suid, 0, 0)
    os.chmod(suid, 0o4755)
    box.process["user"] = {"uid": 1000, "gid": 1000}
    box.process["noNewPrivileges"] = nnp
    box.set_args("/bin/suid").write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    ids = [f for f in parse(r.stdout) if f[0] == "U"]
    assert ids == [["U", "1000", str(want_euid)]], r.stdout
