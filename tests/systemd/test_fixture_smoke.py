def test_systemd_answers(systemd):
    r = systemd.systemctl("is-system-running")
    assert r.stdout.strip() in ("running", "degraded"), r.stdout + r.stderr


def test_systemd_is_pid1_of_its_namespace(systemd):
    r = systemd.run("sh", "-c", "readlink /proc/1/exe; cat /proc/1/cgroup")
    assert r.stdout.startswith("/usr/lib/systemd/systemd") or r.stdout.startswith("/lib/systemd/systemd"), r.stdout
    assert systemd.show("init.scope", "ActiveState")["ActiveState"] == "active"
