"""ps: the pids of a container's processes (its cgroup's, or only its init
without a cgroup), and the lines of `ps` output that show them."""

from .. import cgroups, errors


def pids(ctx, cid):
    """The host pids of the container's processes."""
    with ctx.store.load(cid) as c:
        m = cgroups.from_dict(c.data.get("cgroup"))
        return m.pids() if m is not None else _init_only(c)


def table(ctx, cid, ps_args):
    """`ps PS_ARGS` output kept to its header and the container's processes."""
    wanted = set(pids(ctx, cid))
    return filter_ps(run_ps(ps_args), wanted)


def _init_only(c):
    # Without a cgroup the only process known to be the container's is its init.
    return [c.pid] if c.init_alive() else []


def run_ps(ps_args):
    import subprocess

    try:
        res = subprocess.run(["ps"] + list(ps_args), capture_output=True)
    except OSError as e:
        raise errors.os_error("cannot run", "ps", e) from None
    if res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip().splitlines()
        raise errors.OciError(
            "`ps %s` failed: %s" % (" ".join(ps_args), err[0] if err else "exit status %d" % res.returncode)
        )
    return res.stdout.decode("utf-8", "replace")


def filter_ps(output, pids):
    """The header and the lines whose PID column is one of pids."""
    lines = output.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    try:
        col = header.index("PID")
    except ValueError:
        raise errors.OciError("`ps` output has no PID column: %s" % lines[0].strip()) from None
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            out.append(line)
    return "\n".join(out) + "\n"
