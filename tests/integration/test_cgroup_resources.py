"""A bad linux.resources value is refused by validation, before anything is
made: one line naming the JSON path, no state directory, no cgroup, and no
process ever spawned (the old code found it in the manager's apply, after the
setup process existed, and unwound)."""

import os
import re
import shutil
import subprocess

import helpers

# Values the schema lets through: only the resource parser refuses them.
BAD = [
    ({"memory": {"limit": 64 << 20, "swap": 1 << 20}}, "linux.resources.memory.swap"),
    ({"blockIO": {"weight": 5000}}, "linux.resources.blockIO.weight"),
    ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle"),
    ({"unified": {"cgroup.procs": "1"}}, "linux.resources.unified"),
]


def _one_line(text, path):
    lines = text.strip().splitlines()
    assert len(lines) == 1 and path + ": " in lines[0], text
    assert "Traceback" not in text and "internal error" not in text, text


def test_validate_names_the_bad_resource(run_ocirun, bundle, subtests):
    for res, path in BAD:
        with subtests.test(res=res):
            bundle.config["linux"]["resources"] = res
            bundle.write()
            r = run_ocirun("validate", "--bundle", bundle.path)
            assert r.returncode == 1, (r.stdout, r.stderr)
            _one_line(r.stderr, path)


SPAWN = re.compile(r"^\d+\s+(clone|clone3|fork|vfork)\(", re.M)


def test_bad_resource_spawns_nothing_and_leaves_nothing(bundle, root, cid, tmp_path, subtests):
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace)"
    bundle.set_args("sleep", "600")
    for i, (res, path) in enumerate(BAD):
        with subtests.test(res=res):
            name = "%s-%d" % (cid, i)
            bundle.config["linux"]["resources"] = res
            bundle.write()
            trace, err = tmp_path / ("trace%d" % i), tmp_path / ("err%d" % i)
            # stderr to a file: a container created by mistake would hold a pipe open
            with open(err, "w") as fe:
                rc = subprocess.run(
                    [
                        strace,
                        "-f",
                        "-qq",
                        "-o",
                        str(trace),
                        "-e",
                        "trace=clone,clone3,fork,vfork",
                        helpers.OCIRUN,
                        "--root",
                        root,
                        "create",
                        "--bundle",
                        bundle.path,
                        name,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=fe,
                    timeout=120,
                ).returncode
            try:
                assert rc == 1, err.read_text()
                assert not SPAWN.search(trace.read_text()), "a process was spawned:\n" + trace.read_text()
                assert not os.path.exists(os.path.join(root, name)), os.listdir(root)
                assert helpers.cgroup_dirs(name) == []
                _one_line(err.read_text(), path)
            finally:
                helpers.ocirun(root, "delete", "--force", name)
