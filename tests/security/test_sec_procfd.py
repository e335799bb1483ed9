"""CVE-2024-21626 class, through another process's fds: a container process
with CAP_SYS_PTRACE (`--cap-add SYS_PTRACE`, no user namespace) can walk
/proc/PID/fd/N of every process in its pid namespace, non-dumpable or not.
ocirun's own processes live there before their last execve: the init while
the container is `created` (pid 1, waiting on the exec fifo) and the child
of every `ocirun exec`. None of them may hold a directory fd of the host
(the host's /proc above all: its 1/root is the host's /), at any moment.
"""

import os
import subprocess
import uuid

from sec_common import parse

import helpers
from helpers import wait_for


def test_ocirun_fds_reach_nothing_of_the_host(box, tools, root, cid, run_ocirun, tmp_path):
    """While the container is `created`, a process exec'd into it keeps
    opening /proc/P/fd/N/1/root/<a host file> for every fd N of every ocirun
    process it sees (the waiting init, pid 1, and the children of 20 more
    `ocirun exec`), for the first pids P: a host /proc among those fds would
    open the host file through a kernel thread's root."""
    caps = box.process["capabilities"]
    for kind in ("bounding", "effective", "permitted"):
        caps[kind] = sorted(set(caps.get(kind) or ()) | {"CAP_SYS_PTRACE"})
    box.set_args("sleep", "600").write()
    marker = tmp_path / "host-only"
    secret = "host-only-%s" % uuid.uuid4().hex
    marker.write_text(secret + "\n")
    assert not os.path.exists(os.path.join(box.rootfs, str(marker).lstrip("/")))
    # /proc/1/root of the host may be refused (its init can hold more caps
    # than the container); kthreadd (2) and the first kernel threads never
    # are, and their root is the host's /
    rels = ["%d/root%s" % (pid, marker) for pid in range(1, 13)]

    assert run_ocirun("create", "-b", box.path, cid).returncode == 0
    assert helpers.state(root, cid)["status"] == "created"
    out = tmp_path / "reach.out"
    with open(out, "w") as f:
        scan = subprocess.Popen(
            [helpers.OCIRUN, "--root", root, "exec", cid, "/bin/sectool", "reach", "/dev/shm/stop", "ocirun"] + rels,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "P 1\n" in out.read_text(), timeout=60, what="the scan seeing the created init")
        for _ in range(20):
            r = run_ocirun("exec", cid, "true")
            assert r.returncode == 0, r.stderr
        assert run_ocirun("exec", cid, "touch", "/dev/shm/stop").returncode == 0
        assert scan.wait(timeout=120) == 0, out.read_text()[-2000:]
    finally:
        if scan.poll() is None:
            scan.kill()
            scan.wait()
    text = out.read_text()
    assert helpers.state(root, cid)["status"] == "created"  # the init waited all along
    seen = {f[1] for f in parse(text) if f[0] == "P"}
    assert "1" in seen, text[-2000:]  # the waiting init was scanned, or this proves nothing
    reached = [line for line in text.splitlines() if line.startswith("R ")]
    assert reached == [], "an ocirun process's fd reached the host:\n" + "\n".join(reached[:20])
    assert secret not in text


def test_created_init_state_memfd_is_not_writable(box, tools, root, cid, run_ocirun):
    """The created init keeps the state JSON of the startContainer hooks (a
    memfd on their stdin) until `start`: a process exec'd into the created
    container, reopening it through /proc/1/fd/N, must not change what the
    hook reads (the parent seals it against writes)."""
    caps = box.process["capabilities"]
    for kind in ("bounding", "effective", "permitted"):
        caps[kind] = sorted(set(caps.get(kind) or ()) | {"CAP_SYS_PTRACE"})
    box.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/shm/hookstate"]}]}
    box.set_args("sleep", "600").write()
    assert run_ocirun("create", "-b", box.path, cid).returncode == 0
    forge = (
        'n=0; for f in /proc/1/fd/*; do case "$(readlink $f)" in *ocirun-state*) '
        'n=$((n+1)); printf "%s" "{\\"FORGED\\":1}" 1<>"$f" && echo wrote $f;; esac; done; echo seen=$n'
    )
    r = run_ocirun("exec", cid, "sh", "-c", forge)
    assert "seen=1" in r.stdout, r.stdout + r.stderr  # the memfd was there and reached
    assert run_ocirun("start", cid).returncode == 0
    got = run_ocirun("exec", cid, "cat", "/dev/shm/hookstate").stdout
    assert "FORGED" not in got, got
    assert '"id": "%s"' % cid in got or '"id":"%s"' % cid in got, got
