"""The CLI as engines and people see it: the installed binary, its output and exit codes."""

import json
import os
import subprocess

import pytest

import helpers

OCIRUN = os.environ.get("OCIRUN", "/usr/local/bin/ocirun")


def ocirun(*args, root=None, cwd=None, input=None):
    argv = [OCIRUN] + (["--root", str(root)] if root else []) + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, input=input, timeout=60)


def test_version():
    r = ocirun("--version")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ocirun version ")
    assert lines[1].startswith("commit: ")
    assert lines[2] == "spec: 1.3.0"


def test_help_lists_every_command():
    r = ocirun("--help")
    assert r.returncode == 0
    for cmd in (
        "create",
        "start",
        "run",
        "state",
        "kill",
        "delete",
        "list",
        "exec",
        "ps",
        "pause",
        "resume",
        "events",
        "update",
        "spec",
        "features",
        "validate",
    ):
        assert "\n   %s " % cmd in r.stdout


def test_errors_are_one_line_exit_1(tmp_path, subtests):
    cases = [
        (["state", "nope"], "container does not exist"),
        (["state"], 'ocirun: "state" requires exactly 1 argument(s)'),
        (["state", "a", "b"], 'ocirun: "state" requires exactly 1 argument(s)'),
        (["state", "../x"], "invalid container ID format: '../x'"),
        (["state", "a/b"], "invalid container ID format: 'a/b'"),
        (["state", ""], "invalid container ID format: ''"),
        (["state", "x" * 1025], "invalid container ID format"),
        (["list", "--format", "yaml"], "invalid format option 'yaml'"),
        (["bogus"], "ocirun: no such command 'bogus'"),
        (["state", "--nope", "x"], "flag provided but not defined: -nope"),
        (["--log-format", "xml", "state", "x"], "invalid --log-format 'xml'"),
    ]
    for argv, msg in cases:
        with subtests.test(argv=argv):
            r = ocirun(*argv, root=tmp_path)
            assert r.returncode == 1
            assert r.stdout == ""
            assert r.stderr.count("\n") == 1, r.stderr
            assert msg in r.stderr
            assert "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []  # nothing was created by any of them


def test_every_command_is_built(subtests):
    # No command may be a stub: each one parses its flags and does its job.
    import importlib

    from runtime import cli

    for name, (module, _) in cli.COMMANDS.items():
        with subtests.test(command=name):
            mod = importlib.import_module("runtime.cli." + module)
            assert mod.COMMAND.name == name
            assert "not_yet" not in getattr(mod.main, "__qualname__", "")
            r = ocirun(name, "--help")
            assert r.returncode == 0 and ("ocirun %s - " % name) in r.stdout


def test_log_file_json_and_text(tmp_path):
    log = tmp_path / "log.json"
    r = ocirun("--log", log, "--log-format", "json", "state", "nope", root=tmp_path / "root")
    assert r.returncode == 1
    assert r.stderr.strip() == "container does not exist"
    entry = json.loads(log.read_text().strip())
    assert entry["level"] == "error" and entry["msg"] == "container does not exist"
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    text = tmp_path / "log.txt"
    ocirun("--log", text, "state", "nope", root=tmp_path / "root")
    line = text.read_text().strip()
    assert line.startswith('time="') and 'level=error msg="container does not exist"' in line


def test_flag_parsing(subtests):
    from runtime import cli, errors

    flags = [
        cli.Flag("all,a"),
        cli.Flag("bundle,b", "str", ""),
        cli.Flag("env,e", "list"),
        cli.Flag("preserve-fds", "int", 0),
    ]
    cases = [
        # argv, stop_after, (all, bundle, env, preserve_fds), positionals
        (["id", "--all"], None, (True, "", [], 0), ["id"]),
        (["--all", "id", "KILL"], None, (True, "", [], 0), ["id", "KILL"]),
        (["-a", "id"], None, (True, "", [], 0), ["id"]),
        (["-all=false", "id"], None, (False, "", [], 0), ["id"]),
        (["--bundle", "/b", "id"], None, (False, "/b", [], 0), ["id"]),
        (["id", "--bundle=/b"], None, (False, "/b", [], 0), ["id"]),
        (["-b", "/b", "id", "-e", "A=1", "--env", "B=2"], None, (False, "/b", ["A=1", "B=2"], 0), ["id"]),
        (["--preserve-fds", "3", "id"], None, (False, "", [], 3), ["id"]),
        (["id", "--", "--all"], None, (False, "", [], 0), ["id", "--all"]),
        (["id", "sh", "-c", "--all"], 1, (False, "", [], 0), ["id", "sh", "-c", "--all"]),
        (["-a", "id", "ps", "-a"], 1, (True, "", [], 0), ["id", "ps", "-a"]),
    ]
    for argv, stop_after, want, pos in cases:
        with subtests.test(argv=argv):
            opts, args = cli.parse(flags, argv, "t", stop_after=stop_after)
            assert (opts.all, opts.bundle, opts.env, opts.preserve_fds) == want
            assert args == pos
    bad = [
        (["--nope"], "flag provided but not defined: -nope"),
        (["--bundle"], "flag needs an argument: -bundle"),
        (["--preserve-fds", "x"], "invalid value 'x' for flag -preserve-fds"),
        (["--all=maybe"], "invalid boolean value 'maybe' for flag -all"),
    ]
    for argv, msg in bad:
        with subtests.test(bad=argv):
            with pytest.raises(errors.UsageError) as e:
                cli.parse(flags, argv, "t")
            assert msg in str(e.value)


def test_list_empty_and_with_state(tmp_path):
    r = ocirun("list", root=tmp_path)
    assert r.returncode == 0
    assert r.stdout == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    r = ocirun("list", "--format", "json", root=tmp_path)
    assert r.stdout.strip() == "null"
    # A stopped container, written the way create writes it.
    from runtime import state

    c = state.StateStore(str(tmp_path)).create(
        "c1",
        {
            "ociVersion": "1.3.0",
            "status": "stopped",
            "pid": 0,
            "bundle": "/some/bundle",
            "created": "2026-01-01T00:00:00.000000001Z",
        },
    )
    c.close()
    r = ocirun("list", "--format", "json", root=tmp_path)
    rows = json.loads(r.stdout)
    assert [(x["id"], x["status"], x["pid"], x["bundle"], x["owner"]) for x in rows] == [
        ("c1", "stopped", 0, "/some/bundle", "root")
    ]
    r = ocirun("list", root=tmp_path)
    header, row = r.stdout.splitlines()
    assert row.split() == ["c1", "0", "stopped", "/some/bundle", "2026-01-01T00:00:00.000000001Z", "root"]
    assert ocirun("list", "-q", root=tmp_path).stdout == "c1\n"
    st = json.loads(ocirun("state", "c1", root=tmp_path).stdout)
    assert st["status"] == "stopped" and st["pid"] == 0 and st["id"] == "c1"


def test_state_of_corrupt_container(tmp_path):
    from runtime import state

    state.StateStore(str(tmp_path)).create("bad", {}).close()
    (tmp_path / "bad" / "state.json").write_text("{ not json")
    r = ocirun("state", "bad", root=tmp_path)
    assert r.returncode == 1 and "cannot read state" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


def test_spec_writes_a_valid_config(tmp_path, subtests):
    for rootless in (False, True):
        with subtests.test(rootless=rootless):
            d = tmp_path / ("rootless" if rootless else "plain")
            (d / "rootfs").mkdir(parents=True)
            r = ocirun("spec", "--bundle", d, *(["--rootless"] if rootless else []))
            assert r.returncode == 0 and r.stdout == ""
            cfg = json.loads((d / "config.json").read_text())
            assert cfg["ociVersion"] == "1.3.0" and cfg["root"]["path"] == "rootfs"
            types = [n["type"] for n in cfg["linux"]["namespaces"]]
            assert ("user" in types) == rootless and ("network" in types) != rootless
            v = ocirun("validate", "--bundle", d)
            assert (v.returncode, v.stdout, v.stderr) == (
                0,
                "%s: valid (runtime-spec 1.3.0)\n" % (d / "config.json"),
                "",
            )
            again = ocirun("spec", "--bundle", d)
            assert again.returncode == 1 and "exists" in again.stderr


def test_spec_in_cwd(tmp_path):
    r = ocirun("spec", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "config.json").exists()


def test_hot_commands_import_nothing_heavy(tmp_path):
    # Engines call these many times per container: no json, re, argparse, jsonschema.
    # Nor D-Bus: only containers of the systemd cgroup driver pay for it (tests/systemd checks those).
    # (The compiled core, _cffi_backend, is loaded: the state store is C, core/store.c; the
    # hot commands themselves are answered by the C front door, without Python.)
    heavy = ("json", "re", "argparse", "jsonschema", "cffi", "enum", "subprocess", "jeepney", "runtime.cgroups.systemd")
    for argv in (["state", "x"], ["kill", "x", "9"], ["start", "x"], ["delete", "x"]):
        script = (
            "import sys; sys.argv=['ocirun','--root',%r]+%r; from runtime.__main__ import main; main(); "
            "print(','.join(m for m in %r if m in sys.modules))" % (str(tmp_path), argv, heavy)
        )
        py, site_lines = _launcher(OCIRUN)
        r = subprocess.run(
            [py, "-I", "-S", "-c", "import sys\n" + site_lines[0] + script], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "", argv


def test_features_document_is_valid_and_truthful():
    from runtime import validation

    r = ocirun("features")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    ref = validation._ReferenceSchemas()
    assert ref.validate(doc, "features-schema.json") == []
    assert doc["ociVersionMax"] == "1.3.0"
    linux = doc["linux"]
    # Only what this kernel has: every namespace listed exists in /proc/self/ns.
    files = {"mount": "mnt", "network": "net"}
    for ns in linux["namespaces"]:
        assert os.path.exists("/proc/self/ns/" + files.get(ns, ns)), ns
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    assert len(linux["capabilities"]) == last + 1
    assert set(doc["hooks"]) == {
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    }
    assert linux["seccomp"]["enabled"] is True and "SCMP_ACT_ERRNO" in linux["seccomp"]["actions"]
    assert linux["apparmor"]["enabled"] is False and linux["selinux"]["enabled"] is False  # none here
    assert linux["cgroup"]["v1"] is True and linux["cgroup"]["v2"] is True and linux["cgroup"]["systemd"] is False
    for opt in ("bind", "rbind", "ro", "nosuid", "rprivate", "idmap"):
        assert opt in doc["mountOptions"], opt


def test_help_of_commands_without_options():
    # runc's layout: no "[command options]" when a command has none to list
    for cmd in ("start", "state"):
        r = ocirun(cmd, "--help")
        assert r.returncode == 0
        assert "[command options]" not in r.stdout and "OPTIONS:" not in r.stdout
        assert "USAGE:\n   ocirun %s <container-id>\n" % cmd in r.stdout
    r = ocirun("kill", "--help")
    assert "USAGE:\n   ocirun kill [command options] <container-id> [signal]\n" in r.stdout and "OPTIONS:" in r.stdout


def test_update_help_shows_the_resources_json():
    r = ocirun("update", "--help")
    assert r.returncode == 0
    text = r.stdout
    for field in (
        '"memory"',
        '"limit"',
        '"reservation"',
        '"swap"',
        '"cpu"',
        '"shares"',
        '"quota"',
        '"period"',
        '"realtimeRuntime"',
        '"realtimePeriod"',
        '"cpus"',
        '"mems"',
        '"blockIO"',
        '"weight"',
        '"pids"',
        '"hugepageLimits"',
        '"unified"',
    ):
        assert field in text, field
    block = text[text.index("{") : text.rindex("}") + 1]
    block = "\n".join(l.strip() for l in block.splitlines())
    assert isinstance(json.loads(block), dict)  # the example is itself valid JSON
    assert not any(l != l.rstrip() for l in text.splitlines())


def test_h_is_help():
    assert ocirun("h").stdout == ocirun("help").stdout == ocirun("--help").stdout
    r = ocirun("h", "state")
    assert r.returncode == 0 and r.stdout == ocirun("state", "--help").stdout


def test_debug_off_costs_no_formatting():
    # --debug off: debug() returns before touching its arguments
    from runtime import log

    class Boom:
        def __str__(self):
            raise AssertionError("formatted although --debug is off")

        __repr__ = __str__

    log.Logger().debug("x %s", Boom())
    lg = log.Logger(debug=True)
    import io
    import sys

    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        lg.debug("step %s of %d", "a", 2)
        out = sys.stderr.getvalue()
    finally:
        sys.stderr = saved
    assert out.startswith('time="') and out.endswith(' level=debug msg="step a of 2"\n')


def test_logger_is_one_object_whatever_the_import_order(tmp_path):
    # a module that took `from runtime.log import LOG` before the global
    # flags were parsed gets the configured logger all the same
    import io
    import sys

    from runtime import log
    from runtime.__main__ import main
    from runtime.log import LOG as early

    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        main(["--debug", "--root", str(tmp_path), "state", "nope"])
        assert early is log.LOG and early.debug_enabled
        early.debug("from an early import")
        out = sys.stderr.getvalue()
    finally:
        sys.stderr = saved
        log.LOG.configure()
    assert 'msg="from an early import"' in out
    with log.LOG.capture() as warned:
        early.warning("kept")
    assert warned == ["kept"]


def test_debug_state_line(tmp_path):
    r = ocirun("--debug", "state", "nope", root=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[-1] == "container does not exist"
    assert lines[0].startswith('time="') and "level=debug msg=\"command state ['nope']\"" in lines[0]
    log = tmp_path / "dbg.log"
    r = ocirun("--debug", "--log", log, "state", "nope", root=tmp_path)
    assert r.stderr == "container does not exist\n"
    assert "level=debug" in log.read_text() and "level=error" in log.read_text()


def test_hot_commands_import_nothing_new(tmp_path):
    # kill/start/delete stay as light as state with --debug on
    heavy = (
        "json",
        "re",
        "argparse",
        "jsonschema",
        "cffi",
        "enum",
        "subprocess",
        "ctypes",
        "runtime.plan",
        "runtime.validation",
        "runtime.spec",
    )
    py, site_lines = _launcher(OCIRUN)
    for argv in (["kill", "x", "0"], ["start", "x"], ["delete", "x"], ["--debug", "state", "x"]):
        script = (
            "import sys; sys.argv=['ocirun','--root',%r]+%r; from runtime.__main__ import main; main(); "
            "print(','.join(m for m in %r if m in sys.modules))" % (str(tmp_path), argv, heavy)
        )
        r = subprocess.run(
            [py, "-I", "-S", "-c", "import sys\n" + site_lines[0] + script], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "", argv


def _launcher(ocirun):
    """The installed launcher's interpreter and its sys.path line (tests/helpers.py)."""
    py, _ = helpers.launcher_paths(ocirun)
    return os.path.realpath(py), [helpers.launcher_site_line(ocirun)]


def test_plain_create_imports_nothing_it_does_not_use(bundle, root, cid):
    # A busybox create (no hooks, seccomp, terminal, devices, rootless, systemd)
    # leaves their modules unimported: each costs every container's create and run.
    # -X importtime lists what each process imported, the sealed re-execution too.
    unused = (
        "json",
        "re",
        "enum",
        "argparse",
        "jsonschema",
        "subprocess",
        "signal",
        "tempfile",
        "ctypes",
        "jeepney",
        "runtime.hooks",
        "runtime.seccomp",
        "runtime.terminal",
        "runtime.ops.devices",
        "runtime.rootless_idmap",
        "runtime.resctrl",
        "runtime.cgroups.systemd",
    )
    py, site_lines = _launcher(OCIRUN)
    script = "import sys\n%s\nsys.argv = ['ocirun', '--root', %r, 'create', '-b', %r, %r]\n" % (
        site_lines[0],
        root,
        bundle.path,
        cid,
    )
    script += "from runtime.__main__ import main\nsys.exit(main())\n"
    # a file, not a pipe: the created container holds its stdio open until it runs
    err_path = os.path.join(root, "..", "importtime.txt")
    try:  # the delete below runs whatever happens to create (a timeout included)
        with open(err_path, "w") as err:
            r = subprocess.run(
                [py, "-I", "-S", "-X", "importtime", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=60,
            )
        with open(err_path) as f:
            listing = f.read()
        assert r.returncode == 0, listing
        imported = {line.split("|")[-1].strip() for line in listing.splitlines() if line.startswith("import time:")}
        assert "runtime.ops.create" in imported, listing  # the listing is real
        assert sorted(imported & set(unused)) == []
    finally:
        ocirun("delete", "-f", cid, root=root)
