"""Linux facts the runtime names: for now the signal table and its parser.

Written without importing `signal` (and `enum` with it): `kill` is a hot
command. Other kernel facts (namespaces, capabilities, rlimits) belong here
too, once, for every module that needs them.
"""

from . import errors

# Linux signal numbers, without importing `signal` (and `enum` with it).
SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
    "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
    "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
    "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}
SIGKILL, SIGTERM = 9, 15

def parse_signal(text):
    """`KILL`, `SIGKILL`, `9`, `RTMIN+3` -> 9 ...; OciError otherwise."""
    t = text.strip()
    if t.isdigit() and t.isascii():  # str.isdigit() is true of `²` too
        n = int(t)
        if 0 <= n <= 64:  # 0: no signal, the existence check of kill(2)
            return n
        raise errors.OciError("invalid signal %r" % text)
    u = t.upper()
    if u.startswith("SIG"):
        u = u[3:]
    if u in SIGNALS:
        return SIGNALS[u]
    if u.startswith("RTMIN") or u.startswith("RTMAX"):
        base, _, off = u[5:].partition("+") if u.startswith("RTMIN") else u[5:].partition("-")
        if not base and (not off or (off.isdigit() and off.isascii())):
            n = 34 + int(off or 0) if u.startswith("RTMIN") else 64 - int(off or 0)
            if 34 <= n <= 64:
                return n
    raise errors.OciError("invalid signal %r" % text)
