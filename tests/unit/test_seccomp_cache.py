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
    return (a.bpf, a.flags, a.needs_listener, a.default_action, a.n_rules, list(a.skipped)) == (
        b.bpf,
        b.flags,
        b.needs_listener,
        b.default_action,
        b.n_rules,
        list(b.skipped),
    )


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
    changed["syscalls"][0]["action"] = (
        "SCMP_ACT_LOG" if changed["syscalls"][0]["action"] != "SCMP_ACT_LOG" else "SCMP_ACT_ALLOW"
    )
    with subtests.test("one action changed"):
        got = seccomp.compile_cached(changed, cache)
        assert got.bpf != base.bpf and _same(got, seccomp.compile_filter(changed))
        assert len(os.listdir(cache)) == 2


def test_damaged_entry_is_recompiled(tmp_path, subtests):
    prof = _profile()
    for name, damage in (
        ("truncated", lambda b: b[:-8]),
        ("garbage header", lambda b: b"{nope\n" + b),
        ("empty", lambda b: b""),
    ):
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


def test_untrusted_entries_are_ignored_and_replaced(tmp_path, subtests):
    """An entry that is a symlink, is not ours or is group/other-writable is
    never loaded: compiled again and replaced by a 0600 file of ours."""
    import pytest

    from runtime import errors

    prof = _profile()
    other = {"defaultAction": "SCMP_ACT_ALLOW"}  # the allow-all program
    for label in ("symlink", "not ours", "group-writable", "other-writable"):
        with subtests.test(label):
            cache = tmp_path / label.replace(" ", "-")
            seccomp.compile_cached(other, str(cache))
            (foreign,) = os.listdir(cache)
            planted = (cache / foreign).read_bytes()  # another profile's program
            good = seccomp.compile_filter(prof)
            seccomp.compile_cached(prof, str(cache))
            (entry,) = [cache / n for n in os.listdir(cache) if n != foreign]
            os.unlink(cache / foreign)
            if label == "symlink":
                (tmp_path / "elsewhere").write_bytes(planted)
                entry.unlink()
                os.symlink(tmp_path / "elsewhere", entry)
            else:
                entry.write_bytes(planted)
                if label == "not ours":
                    os.chown(entry, 65534, 65534)
                else:
                    os.chmod(entry, 0o620 if label == "group-writable" else 0o602)
            assert _same(seccomp.compile_cached(prof, str(cache)), good)
            st = os.lstat(entry)
            assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o600
    with subtests.test("cache dir not ours"):
        cache = tmp_path / "foreign-dir"
        cache.mkdir(mode=0o700)
        os.chown(cache, 65534, 65534)
        with pytest.raises(errors.OciError) as e:
            seccomp.compile_cached(prof, str(cache))
        assert str(cache) in str(e.value)
