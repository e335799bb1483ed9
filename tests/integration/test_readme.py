"""README.md's walkthrough ("Using it"), run verbatim on a real ocirun.

Every line of the first ``sh`` block under "## Using it" runs, as written, in
one bash session whose HOME and working directory are fresh temp dirs, so the
README cannot drift from what ocirun does. The only input is what a person
would type into the interactive shell that `ocirun run demo` opens.
"""

import os
import re
import subprocess

import helpers

README = os.path.join(helpers.REPO, "README.md")


def walkthrough():
    text = open(README, encoding="utf-8").read()
    section = text.split("\n## Using it", 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)
    assert block, "README: no sh block under '## Using it'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_walkthrough_runs_verbatim(tmp_path):
    lines = walkthrough()
    assert any(line.startswith("ocirun run demo") for line in lines)
    home = tmp_path / "home"
    home.mkdir()
    # After each line, its exit status on a line of its own.
    script = "".join('%s\necho "@@status $?"\n' % line for line in lines)
    env = dict(os.environ, HOME=str(home), PATH="%s:%s" % (os.path.dirname(helpers.OCIRUN), os.environ["PATH"]))
    try:
        p = subprocess.run(
            ["bash", "-c", script],
            cwd=str(tmp_path),
            env=env,
            input="hostname; exit 3\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        subprocess.run([helpers.OCIRUN, "delete", "--force", "demo2"], capture_output=True)
        subprocess.run([helpers.OCIRUN, "delete", "--force", "demo"], capture_output=True)
    statuses = [int(s) for s in re.findall(r"^@@status (\d+)$", p.stdout, re.M)]
    assert len(statuses) == len(lines), p.stdout + p.stderr
    for line, status in zip(lines, statuses):
        # `ocirun run` exits with the shell's own status: the 3 typed into it.
        want = 3 if line.startswith("ocirun run demo") else 0
        assert status == want, "README line %r exited %d\n%s%s" % (line, status, p.stdout, p.stderr)
    assert '"status": "running"' in p.stdout
    assert "sleep 3600" in p.stdout  # exec'd ps and ocirun ps both see the container's process
    assert re.search(r"^demo2 .* paused ", p.stdout, re.M)
    assert "Traceback" not in p.stderr
    assert not helpers.cgroup_dirs("demo2")
    assert not os.path.exists("/run/ocirun/demo2")
