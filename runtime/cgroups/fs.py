"""The cgroupfs driver's base: directories and files, their making and bounded removal.

What the v1, v2 and hybrid managers share, and the systemd one uses for the
files of its scope. A Group is one cgroup directory in one hierarchy. Each
manager plans its directories when it is opened, so to_dict() can be saved
before create() makes the first one: a crash half-way through create still
leaves a record from which destroy() removes exactly what was made, and
nothing else.
"""

import errno
import os

from .. import errors
from ..linux import SIGKILL  # linux.py's own table, not the signal module (enum: hot path)
from .devices import effective_devices
from .manager import Manager
from .resources import Resources, parse

DEFAULT_PARENT = "/ocirun"


class Busy(errors.OciError):
    """rmdir said EBUSY: processes (or a moment of the kernel's) still hold the cgroup."""

    def __init__(self, d):
        super().__init__("cannot remove cgroup `%s`: %s" % (d, errors.strerror(errno.EBUSY)))
        self.dir = d


class Group:
    """One cgroup directory; every write error names the file and the value."""

    def __init__(self, host, dir, mount, made=None):
        self.host = host
        self.dir = dir  # host path of the cgroup
        self.mount = mount  # the hierarchy's mountpoint: never removed, never above
        self.made = list(made) if made is not None else self.plan()

    def plan(self):
        """The directories create() will make: from the first missing one down to ours."""
        rel = os.path.relpath(self.dir, self.mount)
        if rel == ".":
            return []
        if rel.startswith(".."):
            raise errors.OciError("cgroup `%s` is outside its hierarchy `%s`" % (self.dir, self.mount))
        todo, cur = [], self.mount
        for part in rel.split("/"):
            cur = os.path.join(cur, part)
            if todo or not self.host.exists(cur):
                todo.append(cur)
        return todo

    def path(self, name):
        return self.dir + "/" + name

    def has(self, name):
        return self.host.exists(self.path(name))

    def read(self, name):
        try:
            return self.host.read(self.path(name)).decode("utf-8", "replace")
        except OSError as e:
            raise errors.os_error("cannot read", self.path(name), e) from None

    def read_opt(self, name):
        """The file's text, or None when it does not exist (a controller this kernel lacks)."""
        try:
            return self.host.read(self.path(name)).decode("utf-8", "replace")
        except OSError:
            return None

    def write(self, name, value, field=None):
        value = str(value)
        try:
            self.host.write(self.path(name), value.encode())
        except OSError as e:
            what = "write %s `%s`" % (field, value) if field else "write `%s`" % value
            raise errors.OciError("%s to `%s`: %s" % (what, self.path(name), errors.strerror(e.errno))) from None

    CREATE_TRIES = 5

    def create(self):
        """mkdir the planned directories; those that appeared meanwhile are not
        ours. A parent that vanished between two mkdirs (another container's
        delete removing the intermediate group it had made) is made again:
        every level from the mountpoint down, a bounded number of times."""
        made = []
        todo = list(self.made)
        try:
            for _ in range(self.CREATE_TRIES):
                vanished = None
                for d in todo:
                    try:
                        self.host.mkdir(d, 0o755)
                    except FileExistsError:
                        continue
                    except FileNotFoundError as e:
                        vanished = (d, e)
                        break
                    except OSError as e:
                        raise errors.os_error("cannot create cgroup", d, e) from None
                    made.append(d)
                    self.after_mkdir(d)
                if vanished is None:
                    return
                rel = os.path.relpath(self.dir, self.mount)
                todo, cur = [], self.mount
                for part in rel.split("/"):
                    cur = os.path.join(cur, part)
                    todo.append(cur)
            raise errors.os_error("cannot create cgroup", vanished[0], vanished[1])
        finally:
            # Whatever happened, remember only what was really made.
            self.made = made

    def after_mkdir(self, d):
        pass

    def procs(self):
        """Pids in this cgroup and in every cgroup below it (a container may nest its own)."""
        out = []
        todo = [self.dir]  # no recursion: a container may nest thousands of levels
        while todo:
            d = todo.pop()
            self._procs(d, out)
            todo.extend(self._subdirs(d))
        return sorted(set(out))

    def _procs(self, d, out):
        try:
            text = self.host.read(d + "/cgroup.procs").decode()
        except FileNotFoundError:
            return
        except OSError as e:
            raise errors.os_error("cannot read", d + "/cgroup.procs", e) from None
        out.extend(int(x) for x in text.split())

    def _subdirs(self, d):
        try:
            return [d + "/" + n for n in self.host.subdirs(d)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def destroy(self):
        """rmdir what we made, leaf first, with any cgroups the container made inside it."""
        for d in reversed(self.made):
            if d == self.dir:
                # Cgroups below ours were made by the container: ours too.
                self._remove_below(d)
                self._rmdir(d)
            elif not self._rmdir_parent(d):
                break
        self.made = []

    def _rmdir_parent(self, d):
        """A parent we made may hold other containers' cgroups by now: then it stays."""
        try:
            self.host.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno in (errno.EBUSY, errno.ENOTEMPTY):
                return False
            raise errors.os_error("cannot remove cgroup", d, e) from None
        return True

    def _remove_below(self, d):
        """rmdir every cgroup below d, leaf first, without recursion (a
        container may nest thousands of levels)."""
        order, todo = [], self._subdirs(d)
        while todo:
            sub = todo.pop()
            order.append(sub)
            todo.extend(self._subdirs(sub))
        for sub in reversed(order):  # every child comes after its parent in `order`
            self._rmdir(sub)

    def _rmdir(self, d):
        """One attempt; EBUSY is Busy, which remove() retries (the one place that does)."""
        try:
            self.host.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno == errno.EBUSY:
                raise Busy(d) from None
            raise errors.os_error("cannot remove cgroup", d, e) from None

    def thaw_below(self):
        """Thaw every cgroup below ours the container froze itself (a writable
        cgroup mount): thawing ours does not thaw a child frozen on its own,
        and its tasks would never die of SIGKILL (nor let a pid namespace's
        init finish exiting). Best effort, no recursion."""
        todo = self._subdirs(self.dir)
        while todo:
            d = todo.pop()
            for name, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                try:
                    now = self.host.read(d + "/" + name).decode("utf-8", "replace").strip()
                except OSError:
                    continue
                if now not in (thawed, "0", "THAWED"):
                    try:
                        self.host.write(d + "/" + name, thawed.encode())
                    except OSError:
                        pass
            todo.extend(self._subdirs(d))

    def ours(self):
        """True while our own directory is one this container made (and not yet removed)."""
        return self.dir in self.made

    def frozen(self):
        """Frozen by either freezer (v1 freezer.state, v2 cgroup.freeze / cgroup.events)."""
        if (self.read_opt("freezer.state") or "").strip() in ("FROZEN", "FREEZING"):
            return True
        if (self.read_opt("cgroup.freeze") or "").strip() == "1":
            return True
        return any(l.split() == ["frozen", "1"] for l in (self.read_opt("cgroup.events") or "").splitlines())

    def to_dict(self):
        return {"dir": self.dir, "mount": self.mount, "made": list(self.made)}


def resolve(cgroups_path, cid):
    """(path, relative?) after checking cgroupsPath; the default is /ocirun/<id>."""
    p = cgroups_path or ""
    if not isinstance(p, str):
        raise errors.OciError("invalid linux.cgroupsPath `%s`: want a string" % (p,))
    if not p:
        return DEFAULT_PARENT.lstrip("/") + "/" + cid, False
    if ":" in p and not p.startswith("/"):
        # slice:prefix:name is the systemd driver's syntax.
        raise errors.OciError(
            "invalid linux.cgroupsPath `%s`: the cgroupfs driver wants a path, not systemd's slice:prefix:name" % p
        )
    parts = [x for x in p.split("/") if x not in ("", ".")]
    if ".." in parts:
        raise errors.OciError("invalid linux.cgroupsPath `%s`: must not contain `..`" % p)
    if not parts:
        raise errors.OciError("invalid linux.cgroupsPath `%s`: names the root cgroup" % p)
    if p.startswith("/") and "/".join(parts) == DEFAULT_PARENT.lstrip("/"):
        raise errors.OciError(
            "invalid linux.cgroupsPath `%s`: the parent cgroup of every container (%s)" % (p, DEFAULT_PARENT)
        )
    return "/".join(parts), not p.startswith("/")


def group_dir(h, path, relative):
    """The host directory of the container's cgroup in hierarchy h."""
    if relative:
        # Under the runtime's own cgroup (what a parent like an engine put us in).
        base = h.dir_for(h.own)
        return base.rstrip("/") + "/" + path
    return h.dir_for("/" + path)


def signal_each(pids, sig, host):
    for pid in pids:
        try:
            host.kill(pid, sig)
        except ProcessLookupError:
            pass  # it exited between listing and signalling


def wait_until(check, what, timeout=10.0):
    """Poll check() until it is true; the freezer settles asynchronously."""
    import time

    deadline = time.monotonic() + timeout
    delay = 0.001
    while not check():
        if time.monotonic() > deadline:
            raise errors.OciError("%s: timed out after %ds" % (what, timeout))
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


REMOVE_TIMEOUT = 8.0  # seconds: all of delete's killing and removing (runc allows 10)


def remove(mgr, deadline=None):
    """Remove the container's cgroup directories, bounded: the one retry
    policy for it. While the kernel says busy, kill what is still in the
    cgroups this container made (a frozen one of ours is thawed first, or
    SIGKILL would wait), back off and try again; at the deadline, fail with
    one line naming the cgroup and the pids left in it. Cgroups that were
    already there (not made by this container) are never emptied."""
    import time

    if deadline is None:
        deadline = time.monotonic() + REMOVE_TIMEOUT
    delay = 0.005
    while True:
        try:
            mgr.destroy_once()
            return
        except Busy as e:
            busy = e
        left = kill_leftovers(mgr)
        if time.monotonic() >= deadline:
            raise errors.OciError(
                "cannot remove cgroup `%s`: still busy after %gs%s"
                % (busy.dir, REMOVE_TIMEOUT, ("; processes left in it: %s" % " ".join(map(str, left))) if left else "")
            )
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.001)))
        delay = min(delay * 2, 0.1)


def kill_leftovers(mgr):
    """SIGKILL every process in the cgroups this container made (every
    hierarchy, sub-cgroups included); returns their pids. Never waits."""
    ours = [g for g in mgr.all_groups() if g.ours()]
    left = set()
    for g in ours:
        try:
            if g.frozen():
                # v1: a frozen task dies only once thawed; v2 kills through a freeze
                if g.has("freezer.state"):
                    g.write("freezer.state", "THAWED")
                elif g.has("cgroup.freeze"):
                    g.write("cgroup.freeze", "0")
            g.thaw_below()
            if g.has("cgroup.kill"):
                g.write("cgroup.kill", "1")
            pids = g.procs()
        except errors.OciError:
            continue
        signal_each(pids, SIGKILL, g.host)
        left.update(pids)
    return sorted(left)


def _check_ancestors(g):
    """A cgroup below one with processes of its own (another container's,
    say) is refused: that container's kill --all and delete reach ours. The
    runtime's own cgroup (a relative cgroupsPath goes below it) is fine."""
    me = os.getpid()
    d = os.path.dirname(g.dir)
    while d.startswith(g.mount.rstrip("/") + "/"):
        try:
            pids = [int(x) for x in g.host.read(d + "/cgroup.procs").decode().split()]
        except (OSError, ValueError):
            pids = []
        if pids and me not in pids:
            raise errors.OciError(
                "container's cgroup `%s` is inside `%s`, which has processes (pids %s): it is "
                "not this container's" % (g.dir, d, " ".join(map(str, pids[:8])))
            )
        d = os.path.dirname(d)


def check_unused(groups):
    """A new container's cgroup must be empty and not frozen in every
    hierarchy (`groups`: its Group in each): a cgroup another container (or
    anything) uses is not ours to join, kill or freeze, and joining a frozen
    one would stop create dead."""
    for g in groups:
        subs = g._subdirs(g.dir)
        if subs:
            # Another container's cgroup below ours: its pause, kill --all and
            # delete would reach that container (a parent claimed).
            raise errors.OciError(
                "container's cgroup `%s` already has child cgroups (`%s`): it is not this "
                "container's" % (g.dir, subs[0])
            )
        _check_ancestors(g)
        pids = g.procs()
        if pids:
            raise errors.OciError(
                "container's cgroup `%s` is not empty: %d process(es) found (pids %s)"
                % (g.dir, len(pids), " ".join(map(str, pids[:8])))
            )
        if g.frozen():
            raise errors.OciError("container's cgroup `%s` is frozen" % g.dir)


class FsManager(Manager):
    """What v1 and v2 managers share: a list of groups, their making and
    unmaking, and the resources the manager was opened with (a
    resources.Resources; extra_devices: allow rules for linux.devices)."""

    def __init__(self, host, groups, resources=None, extra_devices=()):
        self.host = host
        self.groups = groups
        self.resources = resources if resources is not None else Resources()
        self.extra_devices = tuple(extra_devices)
        self.warnings = []  # resources ignored on this kernel, one line each

    def resources_of(self, resources):
        """The manager's own resources (None), or `resources` parsed."""
        return self.resources if resources is None else parse(resources)

    def device_rules(self, resources):
        """The device rules in force for `resources` (see devices.effective_devices)."""
        return effective_devices(resources.devices, self.extra_devices)

    def warn(self, msg):
        from ..log import LOG

        self.warnings.append(msg)
        LOG.warning(msg)

    def create(self):
        done = []
        try:
            for g in self.groups:
                done.append(g)  # a create that fails may have made some levels: undone too
                g.create()
        except BaseException:
            for g in reversed(done):
                try:
                    g.destroy()
                except errors.OciError:
                    pass
            raise

    def destroy(self, deadline=None):
        remove(self, deadline)

    def all_groups(self):
        return list(self.groups)

    def check_unused(self):
        check_unused(self.all_groups())

    def destroy_once(self):
        first = None
        for g in self.groups:
            try:
                g.destroy()
            except errors.OciError as e:
                # Go on with the other hierarchies; report the first failure.
                first = first or e
        if first:
            raise first

    def kill_all(self, sig):
        """Freeze, signal every pid, thaw: frozen, nothing can fork a child we would miss."""
        frozen_here = paused = False
        try:
            if self.can_freeze():
                paused = self.frozen()
                if not paused:
                    self.freeze()
                    frozen_here = True
            signal_each(self.pids(), sig, self.host)
        finally:
            # A paused container stays paused, except that SIGKILL must take
            # effect: a v1-frozen task dies only once thawed.
            if frozen_here or (paused and sig == SIGKILL):
                self.thaw()

    def can_freeze(self):
        return False

    def update(self, resources):
        self.apply(resources, updating=True)


def thaw_nested(mgr):
    """Group.thaw_below for each hierarchy's cgroup this container made."""
    for g in mgr.all_groups():
        if isinstance(g, Group) and g.ours():
            g.thaw_below()
