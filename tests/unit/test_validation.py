"""config.json validation: the built-in validator agrees with jsonschema, and the
spec's MUSTs that a schema cannot express are each rejected with one line."""

import json
import os
import subprocess
import sys

import pytest

from runtime import errors, schema, spec, tolerance, validation
from runtime.cli.spec import default_config

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import schema_cases  # noqa: E402  (tests/schema_cases.py: the corpus)

OCIRUN = os.environ.get("OCIRUN", "/usr/local/bin/ocirun")


@pytest.fixture(scope="module")
def reference():
    return validation._ReferenceSchemas()


@pytest.fixture(scope="module")
def ours():
    return schema.Schemas(check=True)


def test_verdicts_agree_with_jsonschema(subtests, ours, reference):
    for root, cases in (
        ("config-schema.json", schema_cases.CONFIG_CASES),
        ("state-schema.json", schema_cases.STATE_CASES),
        ("features-schema.json", schema_cases.FEATURES_CASES),
    ):
        for name, doc, expect_valid in cases:
            with subtests.test(schema=root, case=name):
                ref_errs = reference.validate(doc, root)
                our_errs = ours.validate(doc, root)
                assert (not ref_errs) == expect_valid, ref_errs
                assert (not our_errs) == (not ref_errs), our_errs
                # Ours points at the field jsonschema names, or inside it (where
                # jsonschema stops at an anyOf, ours names the closest branch's fault).
                if ref_errs:
                    ref_paths = [tuple(p) for p, _ in ref_errs]
                    assert any(tuple(p)[: len(r)] == r for p, _ in our_errs for r in ref_paths), (our_errs, ref_errs)


def test_schema_errors_name_the_path(ours):
    cfg = default_config()
    cfg["linux"]["namespaces"][1]["type"] = "foo"
    cfg["process"]["user"]["uid"] = "zero"
    del cfg["process"]["cwd"]
    lines = sorted("%s: %s" % (schema.format_path(p), m) for p, m in ours.validate(cfg))
    assert any(l.startswith("linux.namespaces[1].type: 'foo' is not one of [") for l in lines), lines
    assert any(l.startswith("process.user.uid: 'zero' is not of type 'integer'") for l in lines), lines
    assert any(l == "process: 'cwd' is a required property" for l in lines), lines


def test_schemas_use_only_supported_keywords():
    # Schemas(check=True) raises UnsupportedKeyword for anything runtime/schema.py cannot check.
    s = schema.Schemas(check=True)
    assert "config-schema.json" in s.docs and "state-schema.json" in s.docs and "features-schema.json" in s.docs


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def _netns_path():
    return "/proc/self/ns/net"


# (name, mutation, expected substring of the one line); each mutation of a valid config.
SEMANTIC = [
    ("root missing", lambda c: c["root"].update(path="nope"), "root.path: 'nope' does not exist"),
    ("root not dir", lambda c: c["root"].update(path="config.json"), "root.path: 'config.json' is not a directory"),
    ("cwd relative", lambda c: c["process"].update(cwd="tmp"), "process.cwd: 'tmp' is not an absolute path"),
    ("no args", lambda c: c["process"].update(args=[]), "process.args: [] is too short"),
    (
        "hook relative",
        lambda c: c.update(hooks={"prestart": [{"path": "bin/true"}]}),
        "hooks.prestart[0].path: 'bin/true' is not an absolute POSIX path",
    ),
    (
        "dup ns",
        lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
        "linux.namespaces: has non-unique elements: [6] repeats [0] ({'type': 'pid'})",
    ),
    (
        "ns path wrong type",
        lambda c: c["linux"]["namespaces"].__setitem__(0, {"type": "pid", "path": "/proc/self/ns/net"}),
        "linux.namespaces[0].path: '/proc/self/ns/net' is a network namespace, not pid",
    ),
    (
        "ns path not ns",
        lambda c: c["linux"]["namespaces"].__setitem__(0, {"type": "pid", "path": "/etc/hostname"}),
        "linux.namespaces[0].path: '/etc/hostname' is not a namespace",
    ),
    (
        "ns path missing",
        lambda c: c["linux"]["namespaces"].__setitem__(0, {"type": "pid", "path": "/nonexistent/ns"}),
        "linux.namespaces[0].path: cannot open '/nonexistent/ns'",
    ),
    (
        "userns with uid maps only",
        lambda c: (
            c["linux"]["namespaces"].append({"type": "user"}),
            c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 0, "size": 1}]),
        ),
        "linux.gidMappings: a new user namespace with uid mappings needs gid mappings",
    ),
    (
        "userns without maps, user 1000",
        lambda c: (
            c["linux"]["namespaces"].append({"type": "user"}),
            c["process"].update(user={"uid": 1000, "gid": 0}),
        ),
        "process.user: a user namespace without uid/gid mappings maps only 0",
    ),
    (
        "maps without userns",
        lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 0, "size": 1}]),
        "linux.uidMappings: id mappings are given but there is no user namespace",
    ),
    (
        "net sysctl without netns",
        lambda c: (
            c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}),
            c["linux"].update(namespaces=[{"type": "mount"}]),
        ),
        'linux.sysctl["net.ipv4.ip_forward"]: needs a network namespace',
    ),
    (
        "ipc sysctl without ipcns",
        lambda c: (c["linux"].update(sysctl={"kernel.shmmax": "1"}), c["linux"].update(namespaces=[{"type": "mount"}])),
        'linux.sysctl["kernel.shmmax"]: needs an ipc namespace',
    ),
    (
        "mqueue sysctl without ipcns",
        lambda c: (
            c["linux"].update(sysctl={"fs.mqueue.msg_max": "1"}),
            c["linux"].update(namespaces=[{"type": "mount"}]),
        ),
        'linux.sysctl["fs.mqueue.msg_max"]: needs an ipc namespace',
    ),
    (
        "uts sysctl without utsns",
        lambda c: (
            c["linux"].update(sysctl={"kernel.domainname": "x"}),
            c["linux"].update(namespaces=[{"type": "mount"}]),
            c.pop("hostname"),
        ),
        'linux.sysctl["kernel.domainname"]: needs a uts namespace',
    ),
    (
        "host sysctl",
        lambda c: c["linux"].update(sysctl={"vm.swappiness": "1"}),
        'linux.sysctl["vm.swappiness"]: is not namespaced',
    ),
    (
        "hostname without uts",
        lambda c: c["linux"].update(namespaces=[{"type": "mount"}]),
        "hostname: setting the hostname needs a uts namespace",
    ),
    (
        "domainname without uts",
        lambda c: (c.update(domainname="d"), c.pop("hostname"), c["linux"].update(namespaces=[{"type": "mount"}])),
        "domainname: setting the domainname needs a uts namespace",
    ),
    (
        "timeOffsets without timens",
        lambda c: c["linux"].update(timeOffsets={"monotonic": {"secs": 1}}),
        "linux.timeOffsets: time offsets need a new time namespace",
    ),
    (
        "unknown rlimit",
        lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_FOO", "soft": 1, "hard": 1}),
        "process.rlimits[1].type: 'RLIMIT_FOO' is not a resource limit this kernel knows",
    ),
    (
        "dup rlimit",
        lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}),
        "process.rlimits[1].type: 'RLIMIT_NOFILE' is given more than once",
    ),
    (
        "soft above hard",
        lambda c: c["process"]["rlimits"].__setitem__(0, {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}),
        "process.rlimits[0]: soft limit 2 is above the hard limit 1",
    ),
    (
        "ociVersion not semver",
        lambda c: c.update(ociVersion="1.0"),
        "ociVersion: '1.0' is not a SemVer 2.0.0 version string",
    ),
    (
        "ociVersion leading zero",
        lambda c: c.update(ociVersion="1.02.0"),
        "ociVersion: '1.02.0' is not a SemVer 2.0.0 version string",
    ),
    (
        "dup ns type, other path",
        lambda c: c["linux"]["namespaces"].append({"type": "pid", "path": "/proc/self/ns/pid"}),
        "linux.namespaces[6].type: duplicate namespace 'pid' (also at linux.namespaces[0])",
    ),
    (
        "cwd windows-style on linux",
        lambda c: c["process"].update(cwd="C:\\x"),
        "process.cwd: 'C:\\\\x' is not an absolute path",
    ),
    (
        "ociVersion major 2",
        lambda c: c.update(ociVersion="2.0.0"),
        "ociVersion: '2.0.0': major version 2 is not supported",
    ),
    (
        "device relative",
        lambda c: c["linux"].update(devices=[{"type": "c", "path": "dev/x", "major": 1, "minor": 3}]),
        "linux.devices[0].path: 'dev/x' is not an absolute path",
    ),
    (
        "device without numbers",
        lambda c: c["linux"].update(devices=[{"type": "c", "path": "/dev/x"}]),
        "linux.devices[0]: 'major' is a required property",
    ),
    (
        "masked relative",
        lambda c: c["linux"]["maskedPaths"].append("proc/kcore"),
        "linux.maskedPaths[11]: 'proc/kcore' is not an absolute POSIX path",
    ),
    (
        "readonly relative",
        lambda c: c["linux"]["readonlyPaths"].append("sys"),
        "linux.readonlyPaths[5]: 'sys' is not an absolute POSIX path",
    ),
]

VALID_VARIANTS = [
    ("default", lambda c: None),
    ("ociVersion prerelease", lambda c: c.update(ociVersion="1.0.2-dev")),
    ("ociVersion build", lambda c: c.update(ociVersion="1.3.0+build.5")),
    (
        "joined netns",
        lambda c: c["linux"]["namespaces"].__setitem__(1, {"type": "network", "path": "/proc/self/ns/net"}),
    ),
    (
        "joined userns without maps",
        lambda c: c["linux"]["namespaces"].append({"type": "user", "path": "/proc/self/ns/user"}),
    ),
    (
        "net sysctl with netns",
        lambda c: c["linux"].update(
            sysctl={
                "net.ipv4.ip_forward": "1",
                "kernel.shmmax": "1",
                "kernel.domainname": "x",
                "fs.mqueue.msg_max": "10",
            }
        ),
    ),
    (
        "time ns with offsets",
        lambda c: (
            c["linux"]["namespaces"].append({"type": "time"}),
            c["linux"].update(timeOffsets={"boottime": {"secs": 5, "nanosecs": 0}}),
        ),
    ),
    (
        "user ns with maps",
        lambda c: (
            c["linux"]["namespaces"].append({"type": "user"}),
            c["linux"].update(
                uidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}],
                gidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}],
            ),
        ),
    ),
    ("absolute root", lambda c: c["root"].update(path="/")),
    ("no process", lambda c: c.pop("process")),
]


def _mutated(fn):
    c = default_config()
    fn(c)
    return c


def test_semantic_musts(bundle, subtests):
    (bundle / "config.json").write_text("{}")
    for name, fn, want in SEMANTIC:
        with subtests.test(name):
            lines = spec.validate(_mutated(fn), str(bundle))
            assert any(want in l for l in lines), lines
            assert all("\n" not in l for l in lines)


def test_valid_variants(bundle, subtests):
    for name, fn in VALID_VARIANTS:
        with subtests.test(name):
            assert spec.validate(_mutated(fn), str(bundle)) == []


def test_userns_without_maps_is_a_warning(bundle):
    c = default_config()
    c["linux"]["namespaces"].append({"type": "user"})
    assert spec.validate(c, str(bundle)) == []
    assert [w for w in tolerance.warnings(c) if w[0] == "linux.uidMappings"] == [
        (
            "linux.uidMappings",
            "a new user namespace without uid or gid mappings: its 0 is mapped to the runtime's "
            "own uid and gid (size 1), as crun does",
        )
    ]


def test_unknown_capability_is_a_warning(bundle):
    c = default_config()
    c["process"]["capabilities"]["bounding"].append("CAP_NOT_REAL")
    assert spec.validate(c, str(bundle)) == []
    assert validation.warnings(c) == [
        "process.capabilities.bounding[3]: 'CAP_NOT_REAL' is not known to this kernel; ignored"
    ]


def ocirun(*args, cwd=None):
    return subprocess.run([OCIRUN] + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_validate_command(bundle, subtests):
    cases = [
        ("valid", json.dumps(default_config()), 0, []),
        (
            "invalid json",
            '{\n  "ociVersion": "1.3.0",\n  "root": }',
            1,
            ["config.json: invalid JSON: expecting value: line 3 column 11 (char 37)"],
        ),
        ("not utf-8", b"\xff\xfe{}", 1, ["config.json: not UTF-8"]),
        (
            "empty object",
            "{}",
            1,
            ["config.json: 'ociVersion' is a required property", "config.json: 'root' is a required property"],
        ),
        ("array", "[]", 1, ["config.json: [] is not of type 'object'"]),
        (
            "two problems",
            json.dumps(_mutated(lambda c: (c.update(ociVersion=1), c["process"].update(cwd=5)))),
            1,
            [
                "config.json: ociVersion: 1 is not of type 'string'",
                "config.json: process.cwd: 5 is not of type 'string'",
            ],
        ),
        (
            "semantic",
            json.dumps(_mutated(lambda c: c["process"].update(cwd="rel"))),
            1,
            ["config.json: process.cwd: 'rel' is not an absolute path"],
        ),
        ("deep nesting", "[" * 100000 + "]" * 100000, 1, ["config.json: "]),
        (
            "huge",
            json.dumps(_mutated(lambda c: c.update(annotations={"k%d" % i: "v" * 100 for i in range(20000)}))),
            0,
            [],
        ),
    ]
    for name, text, rc, want in cases:
        with subtests.test(name):
            data = text if isinstance(text, bytes) else text.encode()
            (bundle / "config.json").write_bytes(data)
            r = ocirun("validate", "--bundle", bundle)
            assert r.returncode == rc, r.stderr
            assert r.stdout == ("%s: valid (runtime-spec 1.3.0)\n" % (bundle / "config.json") if rc == 0 else "")
            assert "Traceback" not in r.stderr
            lines = r.stderr.splitlines()
            assert len(lines) == len(want) or (name == "deep nesting" and len(lines) == 1), lines
            for got, w in zip(sorted(lines), sorted(want)):
                assert got.startswith(w), (got, w)


def test_validate_missing_bundle_and_config(tmp_path):
    r = ocirun("validate", "--bundle", tmp_path / "nope")
    assert r.returncode == 1 and r.stderr == "--bundle `%s`: no such directory\n" % (tmp_path / "nope")
    r = ocirun("validate", "--bundle", tmp_path)
    assert r.returncode == 1 and "config.json: no such file" in r.stderr
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "other.json").write_text(json.dumps(default_config()))
    r = ocirun("validate", "--bundle", tmp_path, "--config", "other.json")
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "%s: valid (runtime-spec 1.3.0)\n" % (tmp_path / "other.json"))


def test_reference_validator_agrees_on_the_cli(bundle):
    (bundle / "config.json").write_text(json.dumps(_mutated(lambda c: c["linux"]["namespaces"][0].update(type="foo"))))
    a = ocirun("validate", "--bundle", bundle)
    b = ocirun("validate", "--reference", "--bundle", bundle)
    assert a.returncode == b.returncode == 1
    assert a.stderr.split(" is not one of")[0] == b.stderr.split(" is not one of")[0]


def test_load_config_raises_config_error(bundle):
    (bundle / "config.json").write_text('{"ociVersion": "1.3.0", "root": {"path": "missing"}}')
    with pytest.raises(errors.ConfigError) as e:
        spec.load_config(str(bundle))
    assert e.value.lines == ["config.json: root.path: 'missing' does not exist"]


def test_config_that_is_not_a_regular_file(tmp_path, subtests):
    (tmp_path / "rootfs").mkdir()
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "dir.json").mkdir()
    for name, want in (("fifo.json", "is not a regular file"), ("dir.json", "is a directory")):
        with subtests.test(name):
            r = ocirun("validate", "--bundle", tmp_path, "--config", name)  # must not hang on the fifo
            assert r.returncode == 1 and want in r.stderr and r.stderr.count("\n") == 1


def test_unsupported_keyword_is_refused(tmp_path):
    (tmp_path / "config-schema.json").write_text('{"type": "object", "dependencies": {"a": ["b"]}}')
    with pytest.raises(schema.UnsupportedKeyword):
        schema.Schemas(str(tmp_path), check=True)


def test_mounts_over_proc(bundle, subtests):
    """A mount onto /proc or into it is refused, however the path is spelled
    (CVE-2019-16884 class); procfs itself and lxcfs's single files pass."""
    refused = [
        ({"destination": d, "type": "bind", "source": "/tmp", "options": ["bind"]})
        for d in (
            "/proc",
            "//proc",
            "/proc/",
            "/./proc",
            "/proc/../proc",
            "proc",
            "/proc/self",
            "/proc/self/fd/",
            "/tmp/../proc/sys",
            "/proc/sys/kernel/../..",
        )
    ]
    refused += [
        {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/proc", "type": "bind", "source": "/proc/self", "options": ["rbind"]},
        {"destination": "/proc/sys", "type": "proc", "source": "proc"},
    ]
    allowed = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/proc/", "type": "bind", "source": "/proc", "options": ["rbind"]},
        {"destination": "/proc/uptime", "type": "bind", "source": "/etc/hostname", "options": ["bind"]},
        {
            "destination": "//proc/./sys/kernel/ns_last_pid",
            "type": "bind",
            "source": "/etc/hostname",
            "options": ["bind"],
        },
        {"destination": "/procfs", "type": "tmpfs", "source": "tmpfs"},
    ]
    for m in refused + allowed:
        with subtests.test(mount=m):
            c = default_config()
            c["mounts"].append(m)
            lines = spec.validate(c, str(bundle))
            want = "mounts[%d].destination: " % (len(c["mounts"]) - 1)
            if m in allowed:
                assert lines == [], lines
            else:
                assert len(lines) == 1 and lines[0].startswith(want) and "/proc" in lines[0], lines


def test_validate_tells_everything_at_once(bundle):
    # a schema error and a semantic one: both in the first run, not one per fix
    cfg = _mutated(
        lambda c: (
            c["process"].update(cwd=5),
            c["root"].update(path="nope"),
            c["process"]["rlimits"].append({"type": "RLIMIT_FOO", "soft": 1, "hard": 1}),
            c["linux"].update(sysctl={"vm.swappiness": "1"}),
        )
    )
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = ocirun("validate", "--bundle", bundle)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [
        "config.json: process.cwd: 5 is not of type 'string'",
        "config.json: root.path: 'nope' does not exist",
        "config.json: process.rlimits[1].type: 'RLIMIT_FOO' is not a resource limit this kernel knows",
        'config.json: linux.sysctl["vm.swappiness"]: is not namespaced: setting it would change the host',
    ]


# Shapes the schema refuses, each where a semantic check looks: one line each, never a traceback.
MALFORMED = [
    ("rlimit not an object", lambda c: c["process"]["rlimits"].append("RLIMIT_CORE")),
    ("rlimit soft a string", lambda c: c["process"]["rlimits"][0].update(soft="x")),
    ("rlimit type missing", lambda c: c["process"]["rlimits"][0].pop("type")),
    ("namespaces an object", lambda c: c["linux"].update(namespaces={"type": "pid"})),
    ("namespace an int", lambda c: c["linux"]["namespaces"].append(3)),
    ("namespace path an int", lambda c: c["linux"]["namespaces"][0].update(path=3)),
    ("hooks a list", lambda c: c.update(hooks=[1])),
    ("hook path missing", lambda c: c.update(hooks={"prestart": [{}]})),
    ("hook list an object", lambda c: c.update(hooks={"prestart": {"path": "/x"}})),
    ("mounts an object", lambda c: c.update(mounts={})),
    ("mount an int", lambda c: c["mounts"].append(1)),
    ("root a string", lambda c: c.update(root="rootfs")),
    ("root path an int", lambda c: c["root"].update(path=1)),
    ("ociVersion an int", lambda c: c.update(ociVersion=1)),
    ("process a list", lambda c: c.update(process=[])),
    ("linux a string", lambda c: c.update(linux="x")),
    ("sysctl a list", lambda c: c["linux"].update(sysctl=["a"])),
    ("devices an object", lambda c: c["linux"].update(devices={})),
    ("device type missing", lambda c: c["linux"].update(devices=[{"path": "/dev/x"}])),
    ("masked path an int", lambda c: c["linux"]["maskedPaths"].append(1)),
    (
        "uidMappings a string",
        lambda c: (c["linux"]["namespaces"].append({"type": "user"}), c["linux"].update(uidMappings="x")),
    ),
    ("capabilities a list", lambda c: c["process"].update(capabilities=["CAP_KILL"])),
    ("bounding a string", lambda c: c["process"]["capabilities"].update(bounding="CAP_KILL")),
    ("timeOffsets a list", lambda c: c["linux"].update(timeOffsets=[1])),
]


@pytest.mark.parametrize("name,fn", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_semantic_checks_never_trip_on_what_the_schema_refused(bundle, name, fn):
    lines = spec.validate(_mutated(fn), str(bundle))
    assert lines and all("\n" not in l for l in lines)
    (bundle / "config.json").write_text(json.dumps(_mutated(fn)))
    for extra in ([], ["--json"]):
        r = ocirun("validate", "--bundle", bundle, *extra)
        assert r.returncode == 1, r.stderr
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_relative_cwd_says_nothing_of_windows(bundle):
    (bundle / "config.json").write_text(json.dumps(_mutated(lambda c: c["process"].update(cwd="rel"))))
    r = ocirun("validate", "--bundle", bundle)
    assert (r.returncode, r.stderr) == (1, "config.json: process.cwd: 'rel' is not an absolute path\n")
    assert spec.validate(_mutated(lambda c: c["process"].update(cwd="rel")), str(bundle)) == [
        "process.cwd: 'rel' is not an absolute path"
    ]


def test_validate_confirms_with_the_path_given(bundle):
    (bundle / "config.json").write_text(json.dumps(default_config()))
    r = ocirun("validate", cwd=bundle)
    assert (r.returncode, r.stdout, r.stderr) == (0, "config.json: valid (runtime-spec 1.3.0)\n", "")
    r = ocirun("validate", "-b", ".", cwd=bundle)
    assert (r.returncode, r.stdout, r.stderr) == (0, "./config.json: valid (runtime-spec 1.3.0)\n", "")


def test_validate_json(bundle):
    cfg = _mutated(
        lambda c: (c["process"].update(cwd="rel"), c["process"]["capabilities"]["bounding"].append("CAP_NOT_REAL"))
    )
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = ocirun("validate", "--json", "--bundle", bundle)
    assert (r.returncode, r.stderr) == (1, "")
    doc = json.loads(r.stdout)
    assert doc["valid"] is False and doc["file"] == str(bundle / "config.json") and doc["specVersion"] == "1.3.0"
    assert doc["problems"] == [
        {"path": "process.cwd", "level": "error", "message": "'rel' is not an absolute path"},
        {
            "path": "process.capabilities.bounding[3]",
            "level": "warning",
            "message": "'CAP_NOT_REAL' is not known to this kernel; ignored",
        },
    ]
    (bundle / "config.json").write_text(json.dumps(default_config()))
    r = ocirun("validate", "--json", "--bundle", bundle)
    assert r.returncode == 0 and json.loads(r.stdout)["valid"] is True and json.loads(r.stdout)["problems"] == []
    (bundle / "config.json").write_text("{")
    r = ocirun("validate", "--json", "--bundle", bundle)
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["valid"] is False
    assert doc["problems"][0]["path"] == "" and doc["problems"][0]["message"].startswith("invalid JSON")


def test_warnings_pass_unless_strict(bundle):
    (bundle / "config.json").write_text(
        json.dumps(_mutated(lambda c: c["process"]["capabilities"]["bounding"].append("CAP_NOT_REAL")))
    )
    r = ocirun("validate", "--bundle", bundle)
    assert r.returncode == 0
    assert (
        r.stderr == "warning: process.capabilities.bounding[3]: 'CAP_NOT_REAL' is not known to this kernel; ignored\n"
    )
    r = ocirun("validate", "--strict", "--bundle", bundle)
    assert (r.returncode, r.stdout) == (1, "")
    assert (
        r.stderr
        == "config.json: process.capabilities.bounding[3]: 'CAP_NOT_REAL' is not known to this kernel; ignored\n"
    )
    r = ocirun("validate", "--strict", "--json", "--bundle", bundle)
    assert r.returncode == 1 and json.loads(r.stdout)["problems"][0]["level"] == "error"
