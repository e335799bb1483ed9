"""Hooks that run in the runtime's namespaces: prestart, createRuntime,
poststart, poststop (createContainer and startContainer run inside the
container, from the C core: runtime/core/hooks.c).

Each hook gets the container's state JSON on stdin, its own args and env,
and is killed when its timeout expires. `run_hooks` raises OciError on the
first failure; callers decide whether that is fatal (it is for all but
poststop, which only warns).
"""

import os

from . import errors, fastjson, log


def state_json(data, status, pid):
    st = {"ociVersion": data.get("ociVersion", ""), "id": data.get("id", ""), "status": status,
          "pid": pid, "bundle": data.get("bundle", "")}
    if data.get("annotations"):
        st["annotations"] = data["annotations"]
    return fastjson.dumps(st).encode()


def run_hooks(hooks, which, state):
    for h in hooks or []:
        run_hook(h, which, state)


def run_hook(h, which, state):
    import subprocess
    path = h["path"]
    args = list(h.get("args") or [path])
    env = list(h.get("env") or [])
    timeout = h.get("timeout")
    envd = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    log.LOG.debug("%s hook `%s`", which, path)
    try:
        proc = subprocess.Popen(args, executable=path, env=envd, stdin=subprocess.PIPE,
                                close_fds=True, bufsize=0)
    except OSError as e:
        raise errors.OciError("%s hook `%s`: %s" % (which, path, errors.strerror(e.errno))) from None
    try:
        # A hook need not read its stdin: EPIPE here (or at close) is fine.
        try:
            proc.stdin.write(state)
        except BrokenPipeError:
            pass
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = proc.wait(timeout=timeout or None)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise errors.OciError("%s hook `%s` timed out after %d s" % (which, path, timeout)) from None
    if rc != 0:
        if rc < 0:
            raise errors.OciError("%s hook `%s` killed by signal %d" % (which, path, -rc))
        raise errors.OciError("%s hook `%s` exited with status %d" % (which, path, rc))


def memfd_with(data):
    """A sealed-ish in-memory file holding `data` (stdin of the core's hooks)."""
    fd = os.memfd_create("ocirun-state", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd

