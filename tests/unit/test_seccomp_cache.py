"""compile_cached: a hit returns the very program compile_filter makes; any
change of the profile misses; a damaged entry is recompiled, never trusted."""

import json
import os
import stat

from runtime import seccomp

HERE = os.path.dirname(os.path.abspath(__file__))
LARGE = os.path.join(os.path.dirname(HERE), "seccomp_profiles", "large.json")


def _profile():
    with open(LARGE) as f:
        return json.load(f)


def _same(a, b):
    return (a.bpf, a.flags, a.needs_listener, a.default_action, a.n_rules, list(a.skipped)) == \
           (b.bpf, b.flags, b.needs_listener, b.default_action, b.n_rules, list(b.skipped))


def test_hit_equals_a_fresh_compile(tmp_path):
    cache = tmp_path / "cache"
    prof = _profile()
    first = seccomp.compile_cached(prof, str(cache))
    entries = os.listdir(cache)
    assert len(entries) == 1
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache / entries[0]).st_mode) == 0o600
    again = seccomp.compile_cached(prof, str(cache))
    assert _same(again, first) and _same(again, seccomp.compile_filter(prof))
    assert os.listdir(cache) == entries  # no second entry: it was a hit


def test_key_order_does_not_matter_but_content_does(tmp_path, subtests):
    cache = str(tmp_path)
    prof = _profile()
    base = seccomp.compile_cached(prof, cache)
    reordered = dict(reversed(list(prof.items())))
    with subtests.test("same profile, keys reordered"):
        assert _same(seccomp.compile_cached(reordered, cache), base)
        assert len(os.listdir(cache)) == 1
    changed = json.loads(json.dumps(prof))
    changed["syscalls"][0]["action"] = "SCMP_ACT_LOG" if changed["syscalls"][0]["action"] != "SCMP_ACT_LOG" else "SCMP_ACT_ALLOW"
    with subtests.test("one action changed"):
        got = seccomp.compile_cached(changed, cache)
        assert got.bpf != base.bpf and _same(got, seccomp.compile_filter(changed))
        assert len(os.listdir(cache)) == 2


def test_damaged_entry_is_recompiled(tmp_path, subtests):
    prof = _profile()
    for name, damage in (("truncated", lambda b: b[:-8]), ("garbage header", lambda b: b"{nope\n" + b),
                         ("empty", lambda b: b"")):
        with subtests.test(name):
            cache = tmp_path / name.replace(" ", "-")
            good = seccomp.compile_cached(prof, str(cache))
            entry = cache / os.listdir(cache)[0]
            entry.write_bytes(damage(entry.read_bytes()))
            got = seccomp.compile_cached(prof, str(cache))
            assert _same(got, good)
            assert _same(seccomp.compile_cached(prof, str(cache)), good)  # and the entry is whole again


def test_unwritable_cache_still_compiles(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    got = seccomp.compile_cached(_profile(), str(blocker / "cache"))
    assert _same(got, seccomp.compile_filter(_profile()))
