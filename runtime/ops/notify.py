"""NOTIFY_SOCKET (sd_notify) through the container: `create` (setup) gives
the process a socket path of ours, bind-mounted from the state dir; `start`
binds it and leaves a forwarder that passes each datagram on to the host's
NOTIFY_SOCKET until the init exits."""

import os

from .. import errors

# NOTIFY_SOCKET: where the container's process finds its notify socket
# unless its env names one (runc's place), and the directory of the state
# dir that holds the socket `start` binds.
# NOTIFY_SOCKET: where the container's process finds its notify socket
# unless its env names one (runc's place), and the directory of the state
# dir that holds the socket `start` binds.
NOTIFY_IN_CONTAINER = "/run/notify/notify.sock"
NOTIFY_DIR = "notify"


def setup(c, cfg, host):
    """create with NOTIFY_SOCKET in ocirun's env (conmon, systemd): the
    process gets NOTIFY_SOCKET pointing at a socket of ours, bind-mounted
    read-only from the state dir; `start` binds it and forwards what comes to
    `host`. A NOTIFY_SOCKET in process.env names the place in the container."""
    import copy

    cfg = copy.deepcopy(cfg)
    proc = cfg.setdefault("process", {})
    env = list(proc.get("env") or [])
    given = [e.split("=", 1)[1] for e in env if e.startswith("NOTIFY_SOCKET=")]
    inside = given[-1] if given and given[-1].startswith("/") else NOTIFY_IN_CONTAINER
    env = [e for e in env if not e.startswith("NOTIFY_SOCKET=")] + ["NOTIFY_SOCKET=" + inside]
    proc["env"] = env
    d = c.path(NOTIFY_DIR)
    try:
        os.mkdir(d, 0o755)
        os.chmod(d, 0o755)  # whatever our umask: any uid of the container may reach the socket
    except OSError as e:
        raise errors.os_error("make the notify socket directory", d, e) from None
    cfg["mounts"] = list(cfg.get("mounts") or []) + [
        {
            "destination": os.path.dirname(inside),
            "type": "bind",
            "source": d,
            "options": ["bind", "nosuid", "noexec", "nodev", "ro"],
        }
    ]
    c.data["notify"] = {"host": host, "name": os.path.basename(inside)}
    return cfg


def start(c):
    """Bind the container's notify socket and leave a forwarder that sends
    each datagram on to the host's NOTIFY_SOCKET (READY=1 followed by
    MAINPID=<init>) until the init exits. `start` does not wait for READY."""
    import _socket as socket

    conf = c.data.get("notify")
    if not conf:
        return
    host = os.environ.get("NOTIFY_SOCKET") or conf["host"]
    path = os.path.join(c.path(NOTIFY_DIR), conf["name"])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    dirs = []  # O_PATH fds of directories: paths longer than sun_path go through /proc/self/fd
    try:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock.bind(_unix_addr(path, dirs))
        os.chmod(path, 0o777)
        addr = "\0" + host[1:] if host.startswith("@") else _unix_addr(host, dirs)
        pidfd = os.pidfd_open(c.pid)
    except OSError as e:
        sock.close()
        for fd in dirs:
            os.close(fd)
        raise errors.os_error("bind the notify socket", path, e) from None
    try:
        mid = os.fork()
        if mid == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    _forward(sock, pidfd, addr, c.pid, dirs)
            finally:
                os._exit(0)
        os.waitpid(mid, 0)
    finally:
        sock.close()
        os.close(pidfd)
        for fd in dirs:
            os.close(fd)


def _unix_addr(path, dirs):
    """A sockaddr path for `path`; one too long for sun_path (108 bytes) is
    reached through an O_PATH fd of its directory (appended to dirs)."""
    if len(path.encode()) < 100:
        return path
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    dirs.append(fd)
    return "/proc/self/fd/%d/%s" % (fd, os.path.basename(path))


def _forward(sock, pidfd, addr, pid, dirs):
    """(the forwarder process) Until the init is gone: each datagram to the host."""
    import _socket as socket
    import select

    keep = {sock.fileno(), pidfd, *dirs}
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.chdir("/")
    for fd in range(3, 1024):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    while True:
        r, _, _ = select.select([sock.fileno(), pidfd], [], [])
        if pidfd in r:
            return
        try:
            msg = sock.recv(65536)
        except OSError:
            continue
        try:
            out.sendto(msg, addr)
            if any(line == b"READY=1" for line in msg.split(b"\n")):
                out.sendto(b"MAINPID=%d\n" % pid, addr)
        except OSError:
            pass
