"""`ocirun ps ID [ps options]`: the container's processes, as `ps` shows them, or as JSON pids."""

import sys

from . import Command, Flag
from .. import errors

COMMAND = Command("ps", "ps displays the processes running inside a container",
                  usage="<container-id> [ps options]",
                  flags=[Flag("format,f", "str", "table", "table (ps output) or json (a list of pids)", "FORMAT")],
                  nargs=(1, None), stop_after=1,
                  description="ps runs `ps` with the given options (default -ef) and keeps the lines\n"
                              "of the container's processes; pids are as the host sees them.")


def main(ctx, opts, args):
    from .. import cgroups, fastjson
    cid, ps_args = args[0], args[1:] or ["-ef"]
    if opts.format not in ("table", "json"):
        raise errors.UsageError("invalid --format `%s`: want table or json" % opts.format)
    with ctx.store.load(cid) as c:
        m = cgroups.from_dict(c.data.get("cgroup"))
        pids = m.pids() if m is not None else _init_only(c)
    if opts.format == "json":
        sys.stdout.write(fastjson.dumps(pids, tight=True) + "\n")
        return 0
    sys.stdout.write(filter_ps(run_ps(ps_args), set(pids)))
    return 0


def _init_only(c):
    # Without a cgroup the only process known to be the container's is its init.
    return [c.pid] if c.init_alive() else []


def run_ps(ps_args):
    import subprocess
    try:
        res = subprocess.run(["ps"] + list(ps_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise errors.os_error("cannot run", "ps", e) from None
    if res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip().splitlines()
        raise errors.OciError("`ps %s` failed: %s" % (" ".join(ps_args), err[0] if err else "exit status %d" % res.returncode))
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
