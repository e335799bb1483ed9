"""The cyclic collector is off only while a command sets up (__main__.main):
every command but create, run and exec gets it back before it runs, and run
and exec turn it back on for their long wait (forward.wait_foreground)."""

import gc

import pytest

from runtime import __main__ as entry, forward


@pytest.fixture(autouse=True)
def _restore_gc():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("argv", [["list"], ["ps", "no-such-container"], ["events", "no-such-container"]])
def test_other_commands_run_with_the_collector_on(argv, tmp_path, capsys):
    seen = []
    real = entry._load

    def spy(name):
        mod = real(name)
        inner = mod.main

        class M:
            COMMAND = mod.COMMAND

            @staticmethod
            def main(*a, **kw):
                seen.append(gc.isenabled())
                return inner(*a, **kw)

        return M

    entry._load = spy
    try:
        entry.main(["--root", str(tmp_path)] + argv)
    finally:
        entry._load = real
    capsys.readouterr()
    assert seen == [True], "a command ran with the cyclic collector off"


def test_the_foreground_wait_turns_the_collector_back_on():
    class Forwarding:
        def wait(self):
            self.enabled = gc.isenabled()
            return 0

        def restore(self):
            pass

    gc.disable()
    f = Forwarding()
    assert forward.wait_foreground(f, None) == 0
    assert f.enabled, "run/exec wait on their process with the cyclic collector off"
