"""linux.seccomp in real containers: the filter compiled by the parent is the
one the container's process runs under, whatever noNewPrivileges says."""

import json
import os

from helpers import REPO

LARGE = os.path.join(REPO, "tests", "seccomp_profiles", "large.json")


def _run(run_ocirun, bundle, cid, seccomp, script, **process):
    bundle.config["linux"]["seccomp"] = seccomp
    bundle.process.update(process)
    bundle.set_args("sh", "-c", script).write()
    return run_ocirun("run", "--bundle", bundle.path, cid)


def test_denied_syscall_gets_the_configured_errno(run_ocirun, bundle, cid, subtests):
    deny_mkdir = {"defaultAction": "SCMP_ACT_ALLOW",
                  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    script = "mkdir /tmp/x 2>&1; echo rc=$?; grep '^Seccomp:' /proc/self/status"
    for nnp, user in ((True, {"uid": 0, "gid": 0}), (False, {"uid": 0, "gid": 0}), (False, {"uid": 1000, "gid": 1000})):
        with subtests.test(noNewPrivileges=nnp, uid=user["uid"]):
            r = _run(run_ocirun, bundle, "%s-%d-%d" % (cid, nnp, user["uid"]), deny_mkdir, script,
                     noNewPrivileges=nnp, user=user)
            assert r.returncode == 0, r.stderr
            assert "Permission denied" in r.stdout and "rc=1" in r.stdout
            assert "Seccomp:\t2" in r.stdout  # filter mode


def test_default_errno_ret(run_ocirun, bundle, cid):
    # Everything a shell needs is allowed; mkdir is left to the default action.
    with open(LARGE) as f:
        profile = json.load(f)
    allowed = [s for s in profile["syscalls"] if s["action"] == "SCMP_ACT_ALLOW"]
    for s in allowed:
        s["names"] = [n for n in s["names"] if n not in ("mkdir", "mkdirat")]
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": allowed}
    r = _run(run_ocirun, bundle, cid, prof, "mkdir /tmp/y 2>&1; echo rc=$?")
    assert r.returncode == 0, r.stderr
    assert "Function not implemented" in r.stdout and "rc=1" in r.stdout, r.stdout


def test_kill_action_kills_with_sigsys(run_ocirun, bundle, cid):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    bundle.config["linux"]["seccomp"] = prof
    # busybox's `sh -c 'echo $PPID'` calls getppid at start-up
    r = _run(run_ocirun, bundle, cid, prof, "echo $PPID")
    assert r.returncode == 128 + 31, (r.returncode, r.stderr)  # SIGSYS


def test_large_profile_runs_a_shell(run_ocirun, bundle, cid):
    with open(LARGE) as f:
        prof = json.load(f)
    r = _run(run_ocirun, bundle, cid, prof, "ls / >/dev/null && echo $((6*7)) && cat /proc/self/status | grep -c Seccomp")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "42"


def test_bad_profile_is_one_line_and_leaves_nothing(run_ocirun, bundle, cid, root):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}
    r = _run(run_ocirun, bundle, cid, prof, "true")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "linux.seccomp.syscalls[0].args[0].op" in r.stderr, r.stderr
    assert os.listdir(root) == []


def test_notify_is_refused_until_wired(run_ocirun, bundle, cid, root):
    from runtime import seccomp
    if seccomp.NOTIFY_WIRED:
        return  # covered by the notify tests once the listener is handed over
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/tmp/nowhere.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    r = _run(run_ocirun, bundle, cid, prof, "true")
    assert r.returncode == 1 and "not supported yet" in r.stderr
    assert os.listdir(root) == []
    assert "SCMP_ACT_NOTIFY" not in seccomp.FEATURES().get("actions", [])
