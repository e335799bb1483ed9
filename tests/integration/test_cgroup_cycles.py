"""Issue 5's leak check: many create/start/kill/delete cycles with limits
leave no cgroup directory behind in any hierarchy, and no state."""

import glob
import os

import helpers

CYCLES = 50


def test_cycles_leave_no_cgroup(run_ocirun, bundle, cid, root):
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 32},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
    }
    bundle.set_args("sleep", "60").write()
    ids = ["%s-%d" % (cid, i) for i in range(CYCLES)]
    for i, c in enumerate(ids):
        bundle.config["linux"]["cgroupsPath"] = "/ocirun/" + c
        bundle.write()
        r = run_ocirun("create", "--bundle", bundle.path, c)
        assert r.returncode == 0, (i, r.stderr)
        assert run_ocirun("start", c).returncode == 0
        assert os.path.isdir(os.path.join(helpers.CGROUP_ROOT, "memory", "ocirun", c))
        assert run_ocirun("kill", c, "KILL").returncode == 0
        helpers.wait_for(lambda: helpers.state(root, c)["status"] == "stopped", what="stopped")
        r = run_ocirun("delete", "--force", c)
        assert r.returncode == 0, (i, r.stderr)
    left = [d for c in ids for d in glob.glob(os.path.join(helpers.CGROUP_ROOT, "*", "ocirun", c))]
    assert left == []
    assert os.listdir(root) in ([], [".cache"])
