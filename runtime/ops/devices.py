"""What create hands the container from outside: linux.netDevices moved
into its network namespace, and the linux.devices nodes a user namespace
cannot make for itself."""

import os

from .. import errors, log

NET_TIMEOUT = 30  # seconds one `ip` call may take on a loaded host


def _ip(args, field, what, netns_pid=None):
    """One iproute2 call (in the init's network namespace with netns_pid);
    its output, or a CoreError naming the field with ip's own line."""
    import subprocess

    cmd = (["nsenter", "--net=/proc/%d/ns/net" % netns_pid, "--"] if netns_pid else []) + ["ip"] + args
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=NET_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise errors.CoreError(
            110, "network devices", "%s: %s: `ip` did not finish in %ds" % (field, what, NET_TIMEOUT)
        ) from None
    except OSError as e:
        raise errors.CoreError(e.errno, "network devices", "%s: %s: run `%s`" % (field, what, cmd[0])) from None
    if r.returncode != 0:
        line = (r.stderr.decode(errors="replace").strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        raise errors.CoreError(0, "network devices", "%s: %s: %s" % (field, what, line))
    return r.stdout.decode(errors="replace")


def step_net_devices(plan, init_pid):
    """linux.netDevices: each host interface moves into the init's network
    namespace under its new name in one netlink request (move and rename
    together, so no name clash in between), then gets back the addresses and
    up state the move took from it. When the namespace dies the kernel
    returns physical devices to the host and deletes virtual ones."""
    if not plan.net_devices:
        return
    import json  # 6 ms (re, enum): only when there is a device to move

    for host, new in plan.net_devices:
        field = "linux.netDevices.%s" % host
        info = json.loads(_ip(["-j", "addr", "show", "dev", host], field, "read its addresses") or "[]")
        info = info[0] if info else {}
        addrs = [a for a in info.get("addr_info", ()) if a.get("scope") != "link" and a.get("local")]
        _ip(
            ["link", "set", "dev", host, "netns", str(init_pid), "name", new],
            field,
            "move into the container's network namespace as %r" % new,
        )
        for a in addrs:
            _ip(
                ["addr", "add", "%s/%s" % (a["local"], a.get("prefixlen")), "dev", new],
                field,
                "restore address %s/%s" % (a["local"], a.get("prefixlen")),
                netns_pid=init_pid,
            )
        if "UP" in info.get("flags", ()):
            _ip(["link", "set", "dev", new, "up"], field, "set it up again", netns_pid=init_pid)
        log.LOG.debug("network device %s moved into the container as %s", host, new)


def _host_id(init_pid, which, cid_, field):
    """The host id of container id `cid_` in the init's user namespace map."""
    with open("/proc/%d/%s" % (init_pid, which)) as f:
        for line in f:
            inside, outside, size = (int(x) for x in line.split())
            if inside <= cid_ < inside + size:
                return outside + cid_ - inside
    raise errors.ConfigError(["%s: %d is not mapped in the container's user namespace" % (field, cid_)])


def step_device_nodes(ch, plan, init_pid):
    """linux.devices in a user namespace: each node made here as asked (its
    owners mapped to the host's ids), sent down after the idmapped trees."""
    for _i, field, path, mode, major, minor, uid, gid in plan.device_nodes:
        huid = _host_id(init_pid, "uid_map", uid, field + ".uid")
        hgid = _host_id(init_pid, "gid_map", gid, field + ".gid")
        err = ch.ffi.new("struct ocirun_error *")
        fd = ch.lib.ocirun_device_node(path.encode(), mode, major, minor, huid, hgid, err)
        if fd < 0:
            raise errors.CoreError(err.err_no, "devices", ch.ffi.string(err.msg).decode(errors="replace"))
        try:
            ch.send(ch.lib.OCIRUN_MSG_MOUNT_FD, fd)
        finally:
            os.close(fd)
