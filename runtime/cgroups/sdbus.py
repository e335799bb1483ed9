"""systemd's Manager over D-Bus, for the systemd cgroup driver (systemd.py).

jeepney speaks the protocol: pure Python (nothing to build, no C extension to
keep in step with the interpreter), no thread or event loop, blocking calls
with timeouts. Every call and every job wait is bounded, and every failure is
one line naming systemd's answer.

The bus: $DBUS_SYSTEM_BUS_ADDRESS (unix:path=... only), else systemd's own
socket /run/systemd/private (the Manager API without a bus daemon), else the
system bus.
"""

import os
import socket
import time

from .. import errors

PRIVATE_SOCKET = "/run/systemd/private"
SYSTEM_BUS = "/run/dbus/system_bus_socket"
JOB_TIMEOUT = 30.0  # StartTransientUnit / StopUnit jobs
CALL_TIMEOUT = 10.0  # one method call

SD = "org.freedesktop.systemd1"
SD_PATH = "/org/freedesktop/systemd1"
SD_MANAGER = "org.freedesktop.systemd1.Manager"


def bus_address():
    env = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    if env:
        return env
    if os.path.exists(PRIVATE_SOCKET) and os.geteuid() == 0:
        return "unix:path=" + PRIVATE_SOCKET
    return "unix:path=" + SYSTEM_BUS


def _socket_path(address):
    for one in address.split(";"):
        kind, _, rest = one.partition(":")
        if kind != "unix":
            continue
        for kv in rest.split(","):
            k, _, v = kv.partition("=")
            if k == "path":
                return v
            if k == "abstract":
                return "\0" + v
    raise errors.OciError("systemd bus address `%s`: only unix:path=... is supported" % address)


def reachable(address=None):
    """True when a systemd bus answers a connect (features: cheap, no D-Bus call)."""
    try:
        path = _socket_path(address or bus_address())
    except errors.OciError:
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Bus:
    """One connection to systemd's Manager; errors are one line naming systemd's answer."""

    def __init__(self, address):
        self.address = address
        self.path = _socket_path(address)
        # systemd's private socket is peer to peer: no bus daemon to say Hello to.
        self.direct = self.path.endswith("/systemd/private")
        from jeepney import DBusAddress
        from jeepney.io import blocking

        self._blocking = blocking
        self.manager = DBusAddress(SD_PATH, bus_name=SD, interface=SD_MANAGER)
        try:
            sock = blocking.prep_socket(self.path, timeout=CALL_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise errors.OciError(
                "cannot connect to systemd at `%s`: %s"
                % (address, errors.strerror(e.errno) if getattr(e, "errno", None) else e)
            ) from None
        except Exception as e:  # an authentication refusal
            raise errors.OciError("cannot connect to systemd at `%s`: %s" % (address, e)) from None
        # Blocking sends are bounded too (a peer that stops reading fills the socket).
        sock.settimeout(CALL_TIMEOUT)
        try:
            self.conn = _Connection(sock, blocking, hello=not self.direct)
        except TimeoutError:
            sock.close()
            raise errors.OciError(
                "cannot connect to systemd at `%s`: the bus did not answer Hello within %ds" % (address, CALL_TIMEOUT)
            ) from None
        except Exception as e:  # the bus refused Hello, or the connection broke
            sock.close()
            raise errors.OciError(
                "cannot connect to systemd at `%s`: Hello: %s" % (address, " ".join(str(e).split()) or type(e).__name__)
            ) from None
        self.queue = None

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass

    def call(self, member, signature, *args, what=None, ok_errors=()):
        """The reply's body; a D-Bus error becomes OciError (or None when its name is in ok_errors)."""
        from jeepney import new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        msg = new_method_call(self.manager, member, signature, args)
        try:
            return unwrap_msg(self.send_and_get_reply(msg))
        except DBusErrorResponse as e:
            if e.name in ok_errors:
                return None
            text = e.data[0] if e.data and isinstance(e.data[0], str) else str(e.data)
            err = errors.OciError("systemd: %s%s (%s)" % (what + ": " if what else "", text.rstrip("."), e.name))
            err.dbus_name = e.name  # systemd answered (and refused)
            raise err from None
        except TimeoutError:
            raise errors.OciError("systemd: %s: no answer within %ds" % (what or member, CALL_TIMEOUT)) from None
        except (OSError, ConnectionError) as e:
            raise errors.OciError("systemd: %s: connection lost (%s)" % (what or member, e)) from None

    def send_and_get_reply(self, msg):
        """jeepney's send_and_get_reply, nudging the peer while it is silent.

        systemd (252) leaves a message it read in the same chunk as the
        authentication's BEGIN unprocessed until the socket becomes readable
        again: a method call sent right after connecting can wait forever.
        A Ping (no reply expected) every 0.2 s makes it look at its buffer.
        """
        from jeepney import DBusAddress, HeaderFields, MessageFlag, new_method_call

        conn = self.conn
        serial = next(conn.outgoing_serial)
        conn.send_message(msg, serial=serial)
        deadline = time.monotonic() + CALL_TIMEOUT
        peer = DBusAddress(SD_PATH, bus_name=SD, interface="org.freedesktop.DBus.Peer")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            try:
                m = conn.receive(timeout=min(left, 0.2))
            except TimeoutError:
                ping = new_method_call(peer, "Ping")
                ping.header.flags |= MessageFlag.no_reply_expected
                conn.send_message(ping)
                continue
            if m.header.fields.get(HeaderFields.reply_serial, -1) == serial:
                return m
            for f in conn._filters.matches(m):
                f.queue.append(m)

    def subscribe(self):
        """Receive JobRemoved from now on (before starting a job: it may finish before the reply)."""
        if self.queue is not None:
            return  # once per connection: systemd refuses a second Subscribe
        from collections import deque

        from jeepney import MatchRule

        rule = MatchRule(type="signal", interface=SD_MANAGER, member="JobRemoved", path=SD_PATH)
        self.queue = deque()
        self._filter = self.conn.filter(rule, queue=self.queue)
        if not self.direct:
            from jeepney.bus_messages import message_bus

            try:
                self.send_and_get_reply(message_bus.AddMatch(rule))
            except TimeoutError:
                raise errors.OciError("D-Bus AddMatch: no answer within %ds" % CALL_TIMEOUT) from None
        self.call("Subscribe", "", what="Subscribe", ok_errors=("org.freedesktop.systemd1.AlreadySubscribed",))

    def wait_job(self, job, unit, action):
        """The job's result ("done", "failed", ...) once systemd has removed it; bounded."""
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            while self.queue:
                m = self.queue.popleft()
                if len(m.body) >= 4 and m.body[1] == job:
                    return m.body[3]
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.OciError(
                    "systemd: %s `%s`: job %s did not finish within %ds" % (action, unit, job, JOB_TIMEOUT)
                )
            try:
                self.conn.recv_messages(timeout=min(left, 1.0))
            except TimeoutError:
                # The signal may have been missed (bus restarts): ask whether the job still exists.
                if not self._job_exists(job):
                    return None
            except (OSError, ConnectionError) as e:
                raise errors.OciError("systemd: %s `%s`: connection lost (%s)" % (action, unit, e)) from None

    def _job_exists(self, job):
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        addr = DBusAddress(job, bus_name=SD, interface="org.freedesktop.DBus.Properties")
        msg = new_method_call(addr, "Get", "ss", ("org.freedesktop.systemd1.Job", "State"))
        try:
            unwrap_msg(self.send_and_get_reply(msg))
            return True
        except DBusErrorResponse:
            return False
        except TimeoutError:
            return True

    def socket_peer_pid(self):
        """The pid at the other end of the socket (systemd, or the bus daemon), as we see it; 0 if unseen."""
        import struct

        creds = self.conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]

    def peer_pid(self):
        """systemd's pid as this process sees it (for its root cgroup)."""
        if self.direct:
            return self.socket_peer_pid()
        from jeepney.bus_messages import message_bus

        try:
            reply = self.send_and_get_reply(message_bus.GetConnectionUnixProcessID(SD))
        except TimeoutError:
            raise errors.OciError("D-Bus GetConnectionUnixProcessID: no answer within %ds" % CALL_TIMEOUT) from None
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        try:
            return unwrap_msg(reply)[0]
        except DBusErrorResponse as e:
            raise errors.OciError("systemd is not on the bus at `%s`: %s" % (self.address, e.name)) from None


def _Connection(sock, blocking, hello):
    """jeepney's blocking connection; Hello only on a bus (systemd's private socket has no bus daemon).
    jeepney's DBusConnection says Hello with no time limit: here it is bounded."""
    from jeepney.io.common import MessageFilters

    conn = blocking.DBusConnection.__new__(blocking.DBusConnection)
    blocking.DBusConnectionBase.__init__(conn, sock)
    conn._filters = MessageFilters()
    if hello:
        from jeepney.bus_messages import message_bus
        from jeepney.wrappers import unwrap_msg

        conn.unique_name = unwrap_msg(conn.send_and_get_reply(message_bus.Hello(), timeout=CALL_TIMEOUT))[0]
    return conn
