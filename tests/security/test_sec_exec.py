"""The last exec of the init and of core-run hooks (CVE-2019-5736 class) and
the terminal of `exec -t`.

Until its last exec every process ocirun starts in a container is a fork of
the host's Python interpreter. The exec must go through the sealed trampoline
(runtime/core/exeseal.c) on every path, or fail with one clear line: never a
plain execve from an image of the host interpreter. The rootfs here carries
the host's dynamic loader, libc and libm, so a `#!/proc/self/exe` script
that reaches the host interpreter shows it plainly (the loader then asks for
libpython, which the rootfs lacks).
"""

import os
import pty
import shutil
import subprocess
import time

import pytest

import helpers
from helpers import state, wait_for

LONG = ["x"] * 8200  # past the 8,189 arguments the trampoline used to take


def plant_python_trick(box):
    """/evil = `#!/proc/self/exe` + a line of Python, with every shared
    library the host interpreter loads copied into the rootfs: a runtime
    process that execs it unprotected runs the host's Python, which prints
    HOST-PYTHON-RAN (a build with libpython.so fails on that library instead)."""
    interp = os.path.realpath(helpers.launcher_paths()[0])
    libs = subprocess.run(["ldd", interp], capture_output=True, text=True).stdout
    for line in libs.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if path.startswith("/") and os.path.exists(path) and "libpython" not in path:
            d = os.path.join(box.rootfs, os.path.dirname(path).lstrip("/"))
            os.makedirs(d, exist_ok=True)
            shutil.copy(path, os.path.join(d, os.path.basename(path)))
    evil = os.path.join(box.rootfs, "evil")
    with open(evil, "w") as f:
        f.write("#!/proc/self/exe\nprint('HOST-PYTHON-RAN')\n")
    os.chmod(evil, 0o755)


# What the host interpreter, started in the container, would print.
HOST_SIGNS = (
    "HOST-PYTHON",
    "libpython",
    "error while loading shared libraries",
    "Python path configuration",
    "Traceback",
)


def assert_protected_or_refused(r):
    """Either the trampoline ran (it re-runs itself for `#!/proc/self/exe`
    and exits 127 with `ocirun: exec failed`), or ocirun refused with one
    clear line. Never a sign of the host interpreter."""
    out = r.stdout + r.stderr
    assert not [s for s in HOST_SIGNS if s in out], "the host interpreter ran:\n" + out[-2000:]
    if r.returncode == 127 and "ocirun: exec failed" in out:
        return "trampoline"
    assert r.returncode != 0, out[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr[-2000:]
    return lines[0]


def test_long_argv_goes_through_the_trampoline(box, cid, run_ocirun):
    """CVE-2019-5736 class: 8,200 arguments used to skip the sealed
    trampoline (a fixed 8,192-slot array) for a plain execve from the host
    interpreter image. Now they go through it like any other argv."""
    plant_python_trick(box)
    box.set_args("/evil", *LONG).write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert assert_protected_or_refused(r) == "trampoline", r.stderr


def test_long_argv_hook_goes_through_the_trampoline(box, cid, run_ocirun):
    """The same for a startContainer hook (a fork of the init)."""
    plant_python_trick(box)
    box.set_args("true")
    box.config.setdefault("hooks", {})["startContainer"] = [{"path": "/evil", "args": ["evil"] + LONG}]
    box.write()
    r = run_ocirun("run", "-b", box.path, cid)
    out = r.stdout + r.stderr
    assert not [s for s in HOST_SIGNS if s in out], "the host interpreter ran:\n" + out[-2000:]
    assert r.returncode != 0 and "startContainer hook `/evil`" in r.stderr, out[-2000:]


def test_long_argv_still_works(box, cid, run_ocirun):
    """A long argv through the trampoline reaches the process intact."""
    box.set_args("sh", "-c", 'echo "$#" "${8201}"', "sh", *(LONG + ["last"])).write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert (r.returncode, r.stdout.split()) == (0, ["8201", "last"]), r.stderr[-2000:]


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_denying_execveat_fails_clearly(box, cid, root, run_ocirun, nnp):
    """A container profile that denies execveat used to make the init fall
    back to a plain execve from the host interpreter image."""
    plant_python_trick(box)
    box.process["noNewPrivileges"] = nnp
    box.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    box.set_args("/evil").write()
    r = run_ocirun("run", "-b", box.path, cid)
    line = assert_protected_or_refused(r)
    assert "execveat" in line, line
    assert [n for n in os.listdir(root) if n != ".cache"] == []  # `run` leaves no container behind


def test_memfd_noexec_2_fails_clearly(box, cid, root, tmp_path):
    """vm.memfd_noexec=2 refuses an executable memfd: the init used to fall
    back to a plain execve. The sysctl is per pid namespace (inherited by the
    namespaces below): it is set to 2 in a pid namespace of the test's own,
    so nothing else on the machine sees it, and it dies with it."""
    if not os.path.exists("/proc/sys/vm/memfd_noexec"):
        pytest.skip("this kernel has no vm.memfd_noexec sysctl")
    plant_python_trick(box)
    box.set_args("/evil").write()
    script = 'echo 2 > /proc/sys/vm/memfd_noexec && exec "$@"'
    r = subprocess.run(
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            script,
            "sh",
            helpers.OCIRUN,
            "--root",
            root,
            "run",
            "-b",
            box.path,
            cid,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = assert_protected_or_refused(r)
    assert "memfd" in line, line
    assert os.listdir(root) == []


def _exec_tty(root, cid, script, timeout=60):
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [helpers.OCIRUN, "--root", root, "exec", "-t", cid, "sh", "-c", script],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + timeout
        while p.poll() is None and time.monotonic() < deadline:
            import select

            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    pass
        rc = p.poll()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        try:
            while True:
                import select

                r, _, _ = select.select([master], [], [], 0.2)
                if not r:
                    break
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        os.close(master)
    return rc, out.decode(errors="replace")


def _console_mounts(pid):
    with open("/proc/%d/mountinfo" % pid) as f:
        return [ln for ln in f if ln.split()[4] == "/dev/console"]


def test_exec_tty_leaves_dev_console_alone(box, root, cid, run_ocirun):
    """`exec -t` used to bind its pty onto the container's /dev/console: the
    mount stayed behind and every later `exec -t` failed with EIO."""
    box.set_args("sleep", "120").write()
    assert run_ocirun("run", "-d", "-b", box.path, cid).returncode == 0
    try:
        init = state(root, cid)["pid"]
        for i in range(2):
            rc, out = _exec_tty(root, cid, "tty; echo round-%d; exit 3" % i)
            assert rc == 3 and "round-%d" % i in out and "/dev/pts/" in out, (i, rc, out)
            assert _console_mounts(init) == [], _console_mounts(init)
    finally:
        run_ocirun("delete", "--force", cid)


def test_exec_tty_with_a_fifo_console_ends(box, root, cid, run_ocirun):
    """A container that makes /dev/console a fifo used to hang `exec -t`
    forever (the runtime opened it for writing, blocking)."""
    box.set_args("sh", "-c", "rm -f /dev/console && mkfifo /dev/console && touch /dev/ready && sleep 120").write()
    assert run_ocirun("run", "-d", "-b", box.path, cid).returncode == 0
    try:
        init = state(root, cid)["pid"]
        wait_for(lambda: os.path.exists("/proc/%d/root/dev/ready" % init), timeout=30, what="fifo console")
        rc, out = _exec_tty(root, cid, "tty; echo fifo-ok; exit 5", timeout=60)
        assert rc is not None, "exec -t still running after 60 s:\n" + out
        assert rc == 5 and "fifo-ok" in out, (rc, out)
    finally:
        run_ocirun("delete", "--force", cid)
