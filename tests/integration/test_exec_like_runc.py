"""`exec` behaves like runc 1.1.5 (and crun): with the installed binary and
real containers.

* Only `create` may create the initial process.cwd (runtime-spec); an exec
  into a cwd that does not exist fails, and nothing is made in the rootfs.
* When exec itself fails (no such container, stopped or paused, command not
  found, bad cwd, bad --user, no command), the status is 255, so a script can
  tell the runtime's failure from the process's own status, which is passed
  through. A malformed command line (unknown flag, no container id) is a
  usage error: 1, as runc's.
* A failure after the PATH lookup, up to the sealed trampoline's execveat,
  comes back to exec over the sync socket (read to end-of-file, as `start`
  reads the exec fifo): exec's own failure too, not the process's status.
"""

import json
import os

import pytest

import helpers

EXEC_FAILED = 255


@pytest.fixture
def running(own_bundle, run_ocirun, cid):
    """A running container on its own writable rootfs (an exec that made its
    cwd would succeed there)."""
    own_bundle.config["root"]["readonly"] = False
    own_bundle.set_args("sleep", "1000").write()
    r = run_ocirun("run", "-d", "--bundle", own_bundle.path, cid)
    assert r.returncode == 0, r.stderr
    return cid


def test_exec_does_not_create_its_cwd(running, own_bundle, run_ocirun):
    r = run_ocirun("exec", "--cwd", "/newdir", running, "pwd")
    assert r.returncode == EXEC_FAILED
    assert r.stdout == ""
    assert r.stderr == "process: chdir to cwd `/newdir`: ENOENT (No such file or directory)\n"
    assert not os.path.lexists(os.path.join(own_bundle.rootfs, "newdir"))
    # an existing one is used as it is
    r = run_ocirun("exec", "--cwd", "/tmp", running, "pwd")
    assert (r.returncode, r.stdout, r.stderr) == (0, "/tmp\n", "")


def test_create_still_makes_the_initial_cwd(own_bundle, run_ocirun, cid):
    own_bundle.config["root"]["readonly"] = False
    own_bundle.process["cwd"] = "/made/by/create"
    own_bundle.set_args("pwd").write()
    r = run_ocirun("run", "--bundle", own_bundle.path, cid)
    assert (r.returncode, r.stdout, r.stderr) == (0, "/made/by/create\n", "")


EXEC_FAILURES = [
    # (name, argv after `exec`, with {id} for the container, stderr)
    ("command not found", ["{id}", "nosuchcmd"], 'exec: "nosuchcmd": executable file not found in $PATH\n'),
    (
        "detached, command not found",
        ["-d", "{id}", "nosuchcmd"],
        'exec: "nosuchcmd": executable file not found in $PATH\n',
    ),
    (
        "missing cwd",
        ["--cwd", "/no/such/dir", "{id}", "true"],
        "process: chdir to cwd `/no/such/dir`: ENOENT (No such file or directory)\n",
    ),
    ("bad --user", ["--user", "abc", "{id}", "true"], "--user: want UID[:GID] as numbers, got 'abc'\n"),
    ("no command", ["{id}"], 'ocirun: "exec" requires a command (or --process FILE)\n'),
    ("no such container", ["nosuch-{id}", "true"], "container does not exist\n"),
]


@pytest.mark.parametrize("name,argv,err", EXEC_FAILURES, ids=[c[0] for c in EXEC_FAILURES])
def test_exec_failure_is_255(running, run_ocirun, name, argv, err):
    r = run_ocirun("exec", *[a.format(id=running) for a in argv])
    assert (r.returncode, r.stdout, r.stderr) == (EXEC_FAILED, "", err)


def test_exec_in_paused_and_stopped_containers_is_255(running, run_ocirun, root):
    assert run_ocirun("pause", running).returncode == 0
    r = run_ocirun("exec", running, "true")
    assert (r.returncode, r.stderr) == (
        EXEC_FAILED,
        "cannot exec in a paused container (use --ignore-paused to override)\n",
    )
    assert run_ocirun("resume", running).returncode == 0
    assert run_ocirun("kill", running, "KILL").returncode == 0
    helpers.wait_for(
        lambda: helpers.state(root, running)["status"] == "stopped", timeout=30, what="the container to stop"
    )
    r = run_ocirun("exec", running, "true")
    assert (r.returncode, r.stderr) == (EXEC_FAILED, "cannot exec in a stopped container\n")


def test_exec_usage_errors_are_1(running, run_ocirun):
    r = run_ocirun("exec", "--bogus", running, "true")
    assert (r.returncode, r.stderr) == (1, "ocirun exec: flag provided but not defined: -bogus\n")
    r = run_ocirun("exec")
    assert (r.returncode, r.stderr) == (1, 'ocirun: "exec" requires a minimum of 1 argument(s)\n')


@pytest.mark.parametrize("code", [0, 1, 7, 127, 255])
def test_exec_passes_the_process_status_through(running, run_ocirun, code):
    r = run_ocirun("exec", running, "sh", "-c", "exit %d" % code)
    assert (r.returncode, r.stderr) == (code, "")


@pytest.mark.parametrize("detach", [False, True], ids=["foreground", "detached"])
def test_exec_failure_after_the_path_lookup_is_reported_by_exec(running, run_ocirun, tmp_path, detach):
    """A failure between the PATH lookup and the process (here the execveat
    of the sealed trampoline: one env string above the kernel's 128 KiB
    MAX_ARG_STRLEN) is exec's own failure: one line from ocirun, 255, as
    runc's `argument list too long`; it used to surface as the process's
    status 126, with the line printed by the dying child."""
    pj = tmp_path / "process.json"
    pj.write_text(
        json.dumps(
            {
                "args": ["/bin/true"],
                "cwd": "/",
                "user": {"uid": 0, "gid": 0},
                "env": ["PATH=/bin:/usr/bin", "BIG=" + "x" * 200000],
            }
        )
    )
    r = run_ocirun("exec", *(["-d"] if detach else []), "-p", pj, running)
    assert (r.returncode, r.stdout) == (EXEC_FAILED, "")
    assert r.stderr.startswith("exec: exec `/bin/true` (the argument list and environment")
    assert r.stderr.endswith(": E2BIG (Argument list too long)\n") and r.stderr.count("\n") == 1
    # the same process with a small environment runs (the socket's end-of-file is success)
    pj.write_text(
        json.dumps(
            {
                "args": ["sh", "-c", "echo ran; exit 4"],
                "cwd": "/",
                "user": {"uid": 0, "gid": 0},
                "env": ["PATH=/bin:/usr/bin"],
            }
        )
    )
    r = run_ocirun("exec", "-p", pj, running)
    assert (r.returncode, r.stdout, r.stderr) == (4, "ran\n", "")
