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
    deny_mkdir = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }
    script = "mkdir /tmp/x 2>&1; echo rc=$?; grep '^Seccomp:' /proc/self/status"
    for nnp, user in ((True, {"uid": 0, "gid": 0}), (False, {"uid": 0, "gid": 0}), (False, {"uid": 1000, "gid": 1000})):
        with subtests.test(noNewPrivileges=nnp, uid=user["uid"]):
            r = _run(
                run_ocirun,
                bundle,
                "%s-%d-%d" % (cid, nnp, user["uid"]),
                deny_mkdir,
                script,
                noNewPrivileges=nnp,
                user=user,
            )
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
    r = _run(
        run_ocirun, bundle, cid, prof, "ls / >/dev/null && echo $((6*7)) && cat /proc/self/status | grep -c Seccomp"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "42"


def test_bad_profile_is_one_line_and_leaves_nothing(run_ocirun, bundle, cid, root):
    prof = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}
        ],
    }
    r = _run(run_ocirun, bundle, cid, prof, "true")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "linux.seccomp.syscalls[0].args[0].op" in r.stderr, r.stderr
    assert os.listdir(root) == []


def _procs_with(text):
    out = []
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if p.isdigit() and text.encode() in f.read():
                    out.append(int(p))
        except OSError:
            pass
    return out


class Agent:
    """A seccomp agent at `path`: takes one connection, keeps the JSON and the
    fds of its first message, then answers one notification on the listener
    with `answer` = (val, errno) and closes it."""

    def __init__(self, path, answer):
        import socket
        import threading

        self.path, self.answer = path, answer
        self.msg, self.fds, self.notification, self.error = None, [], None, None
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.srv.settimeout(30)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select
        import socket

        from runtime import core

        ffi, lib = core.load()
        try:
            conn, _ = self.srv.accept()
            with conn:
                conn.settimeout(10)
                data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
                while True:  # the JSON may come in more than one piece; the fd with the first
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
            self.msg, self.fds = json.loads(data), list(fds)
            listener = self.fds[0]
            r, _, _ = select.select([listener], [], [], 20)
            assert r, "no notification in 20 s"
            n = ffi.new("struct ocirun_seccomp_notification *")
            assert lib.ocirun_seccomp_notify_receive(listener, n) == 0
            self.notification = (n.pid, n.nr)
            val, err_no = self.answer
            assert lib.ocirun_seccomp_notify_respond(listener, n.id, val, err_no, 0) == 0
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            for fd in self.fds:
                os.close(fd)
            self.srv.close()

    def join(self):
        self.thread.join(30)
        assert not self.thread.is_alive(), "the agent is still waiting"
        assert self.error is None, repr(self.error)


def _notify_mkdir(path, **extra):
    return dict(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": path,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        },
        **extra,
    )


def test_notify_hands_the_listener_to_the_agent(run_ocirun, bundle, cid, root, tmp_path, subtests):
    """listenerPath gets the state and exactly one fd; the agent's answer is
    what the container's mkdir returns, with and without noNewPrivileges (the
    filter is loaded at two different places)."""
    import errno as E

    from runtime import seccomp

    assert "SCMP_ACT_NOTIFY" in seccomp.FEATURES()["actions"]
    mkdirs = {seccomp._syscall_nr(seccomp._core()[1], n) for n in ("mkdir", "mkdirat")}
    script = "mkdir /tmp/x 2>&1; echo rc=$?; test -d /tmp/x && echo made || echo not-made"
    for n, (nnp, answer, want) in enumerate(
        ((True, (0, E.EXDEV), "Invalid cross-device link"), (False, (0, 0), "rc=0"))
    ):
        with subtests.test(noNewPrivileges=nnp, answer=answer):
            c = "%s-%d" % (cid, n)
            path = str(tmp_path / ("agent%d.sock" % n))
            agent = Agent(path, answer)
            r = _run(
                run_ocirun, bundle, c, _notify_mkdir(path, listenerMetadata="meta-%d" % n), script, noNewPrivileges=nnp
            )
            agent.join()
            assert (r.returncode, r.stderr) == (0, ""), r.stderr
            assert want in r.stdout and "not-made" in r.stdout, r.stdout  # the kernel never ran mkdir
            assert len(agent.fds) == 1
            m = agent.msg
            assert m["fds"] == ["seccompFd"] and m["metadata"] == "meta-%d" % n and m["ociVersion"]
            assert m["state"]["id"] == c and m["state"]["status"] == "creating"
            assert m["state"]["bundle"] == bundle.path
            assert m["pid"] == m["state"]["pid"] > 1  # the init, as the host sees it
            assert agent.notification[1] in mkdirs
            assert not os.path.exists(os.path.join(root, c))


def test_notify_without_an_agent_fails_create(run_ocirun, bundle, cid, root, tmp_path, subtests):
    import socket

    from helpers import cgroup_dirs

    dead = str(tmp_path / "bound-not-listening.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)  # a socket file nobody accepts on: the send itself fails
    try:
        for n, (path, want) in enumerate(
            (
                (
                    str(tmp_path / "missing.sock"),
                    "linux.seccomp.listenerPath: `%s`: ENOENT" % (tmp_path / "missing.sock"),
                ),
                (dead, "send the seccomp listener to `%s`: ECONNREFUSED" % dead),
            )
        ):
            with subtests.test(want=want):
                c = "%s-%d" % (cid, n)
                r = _run(run_ocirun, bundle, c, _notify_mkdir(path), "true")
                assert r.returncode == 1
                assert r.stderr.count("\n") == 1 and want in r.stderr, r.stderr
                assert [e for e in os.listdir(root) if e != ".cache"] == []
                assert n == 1 or os.listdir(root) == []  # refused before anything was compiled
                assert cgroup_dirs(c) == []
                assert _procs_with(c) == [], "process left"
    finally:
        s.close()


def test_profile_denying_the_inits_own_calls_still_starts(run_ocirun, bundle, cid, subtests):
    """The filter is loaded last, right before the exec: a profile that makes
    calls of the runtime's own checks fail (getcwd for the cwd check,
    faccessat for the PATH lookup, close_range for the fd sweep, pidfd_open
    for a hook's timeout) does not stop the process from starting (crun
    starts it too). The process itself never makes these calls."""
    prof = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": ["getcwd", "faccessat", "faccessat2", "close_range", "pidfd_open"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1,
            }
        ],
    }
    for nnp, user in (
        (False, {"uid": 0, "gid": 0}),
        (False, {"uid": 1000, "gid": 1000}),
        (True, {"uid": 1000, "gid": 1000}),
    ):
        with subtests.test(noNewPrivileges=nnp, uid=user["uid"]):
            bundle.config["linux"]["seccomp"] = prof
            bundle.process.update(noNewPrivileges=nnp, user=user, cwd="/tmp")
            bundle.set_args("echo", "started").write()
            r = run_ocirun("run", "--bundle", bundle.path, "%s-%d-%d" % (cid, nnp, user["uid"]))
            assert (r.returncode, r.stdout.strip()) == (0, "started"), r.stderr


def test_sys_admin_kept_for_the_load_never_reaches_the_process(run_ocirun, bundle, cid, subtests):
    """Without noNewPrivileges the init keeps CAP_SYS_ADMIN just long enough
    to load the filter last; the process gets exactly the configured sets."""
    prof = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    for user in ({"uid": 0, "gid": 0}, {"uid": 1000, "gid": 1000}):
        with subtests.test(uid=user["uid"]):
            caps = bundle.process.get("capabilities") or {}
            assert "CAP_SYS_ADMIN" not in caps.get("bounding", []) + caps.get("permitted", [])
            bundle.config["linux"]["seccomp"] = prof
            bundle.process.update(noNewPrivileges=False, user=user)
            bundle.set_args("grep", "-E", "^Cap(Inh|Prm|Eff|Bnd|Amb):", "/proc/self/status").write()
            r = run_ocirun("run", "--bundle", bundle.path, "%s-%d" % (cid, user["uid"]))
            assert r.returncode == 0, r.stderr
            sets = {ln.split(":")[0]: int(ln.split()[1], 16) for ln in r.stdout.splitlines()}
            assert len(sets) == 5, r.stdout
            assert all(not v & (1 << 21) for v in sets.values()), r.stdout
