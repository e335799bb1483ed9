"""A hook without a timeout is still bounded (nothing hangs): the runners
(runtime/hooks.py, core/hooks.c for the init and the front door) kill it,
with its whole process group, once their default bound has passed, and say
so in the line of an expired timeout. The bound itself (minutes) is far
beyond a test: the runners are driven here with a small one injected (the
Python module's constant; the C runner's parameter)."""

import os
import time

import pytest

from runtime import core, errors, hooks

ffi, lib = core.load()

DEFAULT_LINE = "poststop hook `/bin/sh` timed out after 1 s (the default bound: the hook sets no timeout)"


def _stuck(tmp_path):
    """A hook that never ends on its own, and leaves its background child's pid."""
    pidfile = tmp_path / "child"
    return ["sh", "-c", "sleep 300 & echo $! > %s; wait" % pidfile], pidfile


def _gone(pidfile):
    """The child is dead (or a zombie) once SIGKILL has landed: waited for, bounded."""
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def test_one_default_for_both_languages():
    assert hooks.DEFAULT_TIMEOUT == lib.OCIRUN_HOOK_DEFAULT_TIMEOUT
    assert 300 <= hooks.DEFAULT_TIMEOUT <= 3600  # minutes: never hit by a hook in normal use


def test_python_runner_bounds_a_hook_without_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(hooks, "DEFAULT_TIMEOUT", 1)
    args, pidfile = _stuck(tmp_path)
    with pytest.raises(errors.OciError) as e:
        hooks.run_hook({"path": "/bin/sh", "args": args}, "poststop", b"{}")
    assert str(e.value) == DEFAULT_LINE
    assert _gone(pidfile), "the hook's child outlived it"
    # a timeout of its own is worded as before
    with pytest.raises(errors.OciError) as e:
        hooks.run_hook({"path": "/bin/sh", "args": args, "timeout": 1}, "poststop", b"{}")
    assert str(e.value) == "poststop hook `/bin/sh` timed out after 1 s"


def test_python_runner_lets_a_hook_without_timeout_finish(tmp_path):
    """Under the real default a hook that ends runs to its end."""
    done = tmp_path / "done"
    hooks.run_hook({"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; touch %s" % done]}, "poststop", b"{}")
    assert done.exists()


def _c_hook(argv, timeout=0):
    keep = [ffi.new("char[]", a.encode()) for a in argv]
    path = ffi.new("char[]", b"/bin/sh")
    args = ffi.new("char *[]", keep + [ffi.NULL])
    env = ffi.new("char *[]", [ffi.NULL])
    h = ffi.new("struct ocirun_hook *")
    h.path, h.argv, h.envp, h.timeout = path, args, env, timeout
    return h, (keep, path, args, env)


def _c_run(h, default):
    err = ffi.new("struct ocirun_error *")
    fd = os.memfd_create("state")
    try:
        os.write(fd, b"{}")
        rc = lib.ocirun_run_hook(h, b"poststop", fd, lib.OCIRUN_HOOK_DIRECT, default, err)
    finally:
        os.close(fd)
    return rc, err.err_no, ffi.string(err.msg).decode()


def test_c_runner_bounds_a_hook_without_timeout(tmp_path):
    args, pidfile = _stuck(tmp_path)
    h, _keep = _c_hook(args)
    assert _c_run(h, 1) == (-1, 0, DEFAULT_LINE)
    assert _gone(pidfile), "the hook's child outlived it"
    h, _keep = _c_hook(args, timeout=1)
    assert _c_run(h, 600) == (-1, 0, "poststop hook `/bin/sh` timed out after 1 s")


def test_c_runner_lets_a_hook_finish_and_words_its_failures(tmp_path):
    done = tmp_path / "done"
    h, _keep = _c_hook(["sh", "-c", "cat >/dev/null; touch %s" % done])
    assert _c_run(h, lib.OCIRUN_HOOK_DEFAULT_TIMEOUT) == (0, 0, "")
    assert done.exists()
    h, _keep = _c_hook(["sh", "-c", "exit 3"])
    assert _c_run(h, 1) == (-1, 0, "poststop hook `/bin/sh` exited with status 3")
