"""CVE-2019-5736 class: overwriting the host runtime through /proc/self/exe,
/proc/<pid>/exe, /proc/<pid>/map_files and /proc/<pid>/fd.

For ocirun the prize is the host's Python interpreter, libpython and the
compiled core: every process of ours that ends up exec'ing inside a container
(the init, a startContainer hook) starts life as a fork of that interpreter.
"""

import os
import re
import shutil
import subprocess

import pytest
from sec_common import one_line_error, parse, writable_opens

import helpers
from helpers import launcher_paths, state, wait_for


def plant_exe_trick(bundle, tools):
    """/bin/evil is `#!/proc/self/exe`: exec'd by a runtime process, the kernel
    runs whatever binary that process is (the host interpreter, unless sealed),
    with our fakeld as its ELF interpreter (found in the rootfs)."""
    lib64 = os.path.join(bundle.rootfs, "lib64")
    os.makedirs(lib64, exist_ok=True)
    shutil.copy(tools["fakeld"], os.path.join(lib64, "ld-linux-x86-64.so.2"))
    evil = os.path.join(bundle.rootfs, "bin", "evil")
    with open(evil, "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(evil, 0o755)


def assert_no_host_binary(out, host_runtime_inodes):
    assert writable_opens(out) == [], "opened a runtime file for writing:\n" + out
    got = {f[2]: f[1] for f in parse(out) if f[0] == "H" and f[2] in host_runtime_inodes}
    assert not got, "the container holds a handle on host runtime files %s:\n%s" % (
        {host_runtime_inodes[k]: v for k, v in got.items()},
        out,
    )


def test_exe_interpreter_trick_run(box, tools, cid, run_ocirun, host_runtime_inodes):
    """CVE-2019-5736 class (`run`): process.args = a `#!/proc/self/exe` script
    must not hand the container the host interpreter (no writable open of
    /proc/self/exe, no O_PATH handle on any host runtime file)."""
    plant_exe_trick(box, tools)
    box.set_args("/bin/evil").write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert_no_host_binary(r.stdout + r.stderr, host_runtime_inodes)


def test_exe_interpreter_trick_create_start(box, tools, root, cid, run_ocirun, host_runtime_inodes, tmp_path):
    """CVE-2019-5736 class (`create` + `start`, detached): the same trick when
    no foreground ocirun keeps the interpreter busy (ETXTBSY is no defence:
    it only holds while some process on the host executes the file)."""
    plant_exe_trick(box, tools)
    box.set_args("/bin/evil").write()
    out = tmp_path / "out"
    with open(out, "w") as f:
        r = subprocess.run(
            [helpers.OCIRUN, "--root", root, "create", "-b", box.path, cid],
            stdout=f,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
    try:
        assert r.returncode == 0, out.read_text()
        assert run_ocirun("start", cid).returncode == 0
        wait_for(lambda: state(root, cid)["status"] == "stopped", what="stopped")
    finally:
        run_ocirun("delete", "--force", cid)
    assert_no_host_binary(out.read_text(), host_runtime_inodes)


def test_start_container_hook_attacks_init(box, tools, cid, run_ocirun, host_runtime_inodes):
    """CVE-2019-5736 class (hook racing `start`): startContainer hooks are
    binaries of the rootfs, run while pid 1 of the container is still the
    runtime (a fork of the host interpreter). One hook scans /proc/1/exe,
    /proc/1/map_files/* and /proc/1/fd/* for anything writable; another is
    the `#!/proc/self/exe` script."""
    plant_exe_trick(box, tools)
    box.set_args("true")
    box.config.setdefault("hooks", {})["startContainer"] = [
        {"path": "/bin/sectool", "args": ["sectool", "scan", "1"]},
        {"path": "/bin/evil", "args": ["evil"]},
    ]
    box.write()
    r = run_ocirun("run", "-b", box.path, cid)
    out = r.stdout + r.stderr
    assert ["P", "1"] in parse(out), out
    assert_no_host_binary(out, host_runtime_inodes)


def test_host_pidns_container_attacks_ocirun(box, tools, cid, run_ocirun, host_runtime_inodes):
    """CVE-2019-5736 class (no pid namespace): a container that shares the
    host's pid namespace sees the foreground `ocirun run` and every other
    ocirun process; none of their exe, map_files or fd may be opened for
    writing, nor held as a handle."""
    box.set_args("/bin/sectool", "scan", "match:ocirun")
    ns = box.config["linux"]["namespaces"]
    box.config["linux"]["namespaces"] = [n for n in ns if n["type"] != "pid"]
    box.write()
    r = run_ocirun("run", "-b", box.path, cid)
    assert r.returncode == 0, r.stderr
    assert [f for f in parse(r.stdout) if f[0] == "P"], "no ocirun process was visible:\n" + r.stdout
    assert_no_host_binary(r.stdout, host_runtime_inodes)


def test_exec_exe_trick(box, tools, root, cid, run_ocirun, host_runtime_inodes):
    """CVE-2019-5736 class (`exec`): the `#!/proc/self/exe` trick as the
    exec'd process of a running container."""
    plant_exe_trick(box, tools)
    box.set_args("sleep", "30").write()
    assert run_ocirun("run", "-d", "-b", box.path, cid).returncode == 0
    r = run_ocirun("exec", cid, "/bin/evil")
    if "not implemented" in r.stderr:
        pytest.skip("ocirun exec: not implemented yet")
    assert_no_host_binary(r.stdout + r.stderr, host_runtime_inodes)


@pytest.mark.parametrize("ptrace", [False, True], ids=["default-caps", "CAP_SYS_PTRACE"])
def test_container_races_exec(box, tools, root, cid, run_ocirun, host_runtime_inodes, ptrace):
    """CVE-2019-5736 class (racing `exec`): while `ocirun exec` runs, the
    container's own process keeps scanning /proc for ocirun processes (the
    tenant joining its pid namespace is a fork of the interpreter until it
    execs) and tries their exe, map_files and fd for writing. With
    CAP_SYS_PTRACE (`--cap-add SYS_PTRACE`) non-dumpable does not keep it out
    of /proc/PID/exe: only an interpreter image that is a sealed memfd copy
    (runtime/core/launcher.c, runtime/sealed.py) leaves it nothing to hold."""
    if ptrace:
        caps = box.process["capabilities"]
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = sorted(set(caps.get(kind) or ()) | {"CAP_SYS_PTRACE"})
    box.set_args(
        "sh",
        "-c",
        "i=0; while [ $i -lt 4000 ]; do /bin/sectool scan match:ocirun; i=$((i+1)); "
        "done > /dev/shm/scan; touch /dev/shm/done; sleep 60",
    ).write()
    assert run_ocirun("run", "-d", "-b", box.path, cid).returncode == 0
    r = run_ocirun("exec", cid, "true")
    if "not implemented" in r.stderr:
        pytest.skip("ocirun exec: not implemented yet")
    for _ in range(15):
        run_ocirun("exec", cid, "true")
    wait_for(
        lambda: run_ocirun("exec", cid, "test", "-e", "/dev/shm/done").returncode == 0, timeout=60, what="scan loop"
    )
    out = run_ocirun("exec", cid, "cat", "/dev/shm/scan").stdout
    if ptrace:  # it must have seen our processes, or it proves nothing
        assert [f for f in parse(out) if f[0] == "P"], "the scan never saw an ocirun process:\n" + out[-2000:]
        # stdin/out/err of `ocirun exec` are the exec'd process's own: the caller hands them to it
        out = "\n".join(line for line in out.splitlines() if not re.match(r"W /proc/\d+/fd/[012] ", line))
    assert_no_host_binary(out, host_runtime_inodes)


def test_core_refuses_an_unsealed_interpreter(bundle, root, cid):
    """Fail closed: a way into create that skips the sealed copy (here the
    Python side's own re-exec turned off) gets one line from the core and
    no container, rather than container processes forked from a writable
    image of the host's interpreter."""
    interp, boot = launcher_paths()
    with open(boot) as f:
        site = [line for line in f if line.startswith("sys.path[:0] = ")][0]
    code = (
        site + "import runtime.sealed as s\ns.ensure = lambda: None\n"
        "from runtime.__main__ import main\nsys.exit(main())\n"
    )
    bundle.set_args("true").write()
    r = subprocess.run(
        [interp, "-I", "-S", "-c", "import sys\n" + code, "--root", root, "create", "-b", bundle.path, cid],
        capture_output=True,
        text=True,
        timeout=60,
    )
    one_line_error(r)
    assert "not a sealed copy" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(root, cid))
    assert not helpers.cgroup_dirs(cid)


def test_create_and_exec_run_from_a_sealed_interpreter(bundle, root, cid, run_ocirun):
    """The processes ocirun makes for a container are forks of a sealed memfd
    copy of the interpreter: /proc/PID/exe of the waiting init is that memfd,
    whether ocirun was started by its launcher or as `python boot.py`."""
    bundle.set_args("sleep", "30").write()
    assert run_ocirun("create", "-b", bundle.path, cid).returncode == 0
    pid = state(root, cid)["pid"]
    assert os.readlink("/proc/%d/exe" % pid).startswith("/memfd:ocirun-python")
    interp, boot = launcher_paths()
    try:
        with open(os.path.join(bundle.path, "py.err"), "w+") as err:  # the init keeps its stdio: no pipes
            r = subprocess.run(
                [interp, "-I", "-S", boot, "--root", root, "create", "-b", bundle.path, cid + "-py"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=60,
            )
            err.seek(0)
            r.stderr = err.read()
        assert r.returncode == 0, r.stderr
        pid = state(root, cid + "-py")["pid"]
        assert os.readlink("/proc/%d/exe" % pid).startswith("/memfd:ocirun-python")
    finally:
        run_ocirun("delete", "--force", cid + "-py")
