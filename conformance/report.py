"""Merge per-runtime outcomes into a check x runtime table; render it as
text, Markdown and JSON.

The statuses are only ever what the suite measured.  `NOTES` adds, for a
check a peer fails, what we found when we looked into why; a note is shown
only when that runtime actually failed (or could not run) the check."""

from __future__ import annotations

import os
import platform
import time

STATUSES = ("pass", "fail", "unsupported")

# (runtime name, check key) -> why that peer fails it, as investigated on this host
NOTES: dict = {
    # runc 1.1.5
    (
        "runc",
        "runtime.md#delete delete of a created (not stopped) container fails and has no effect",
    ): "De facto behaviour shared by runc and crun (and relied on by engines): delete of a `created` "
    "container kills its init and removes it; see the DE-FACTO row.",
    (
        "runc",
        "runtime.md#lifecycle poststart hooks run after the process is executed (not before startContainer)",
    ): "runc 1.1 runs poststart hooks at the end of `create`, before `start` and before the process is executed.",
    (
        "runc",
        "config.md#poststop a failing poststop hook is a warning: delete succeeds and the other hooks run",
    ): "runc stops at the first failing poststop hook: the hooks after it never run.",
    (
        "runc",
        "config.md#startcontainer a failing startContainer hook is an error and the process never runs",
    ): "`start` only writes the exec fifo and returns 0; the init then fails the hook and exits, so the "
    "process does not run but no error reaches the caller.",
    (
        "runc",
        "config-linux.md#seccomp errnoRet on an action without an errno is an error",
    ): "runc 1.1.5 accepts errnoRet on SCMP_ACT_KILL silently.",
    (
        "runc",
        "config-linux.md#offset-for-time-namespace timeOffsets.monotonic is the monotonic offset of the "
        "new time namespace",
    ): 'runc 1.1 has no time namespace support (`namespace {"time" ""} does not exist`); it came in 1.2.',
    (
        "runc",
        "config-linux.md#offset-for-time-namespace timeOffsets.boottime is the boottime offset of the "
        "new time namespace",
    ): "Same: no time namespaces in runc 1.1.",
    (
        "runc",
        "config-linux.md#personality personality domain LINUX32 is set",
    ): "runc 1.1 ignores linux.personality (support came in 1.2).",
    (
        "runc",
        "config.md#domainname domainname is the container's NIS domain name (1.1)",
    ): "runc 1.1.5 implements runtime-spec 1.0.2 and ignores `domainname` (a 1.1 field).",
    (
        "runc",
        "config-linux.md#rootfs-mount-propagation rootfsPropagation shared applies to the container's /",
    ): "Observed: with rootfsPropagation `shared`, runc 1.1.5 leaves the container's `/` with no peer group "
    "(no `shared:` tag in its mountinfo); crun makes it shared.",
    (
        "runc",
        "config-linux.md#rootfs-mount-propagation rootfsPropagation unbindable applies to the container's /",
    ): "runc makes the whole tree unbindable first and then fails to bind-mount the rootfs onto itself "
    "(`mount rootfs:rootfs, flags: 0x5000: invalid argument`).",
    (
        "runc",
        "config-linux.md#huge-page-limits hugepageLimits 2MB is the hugetlb limit",
    ): "Hybrid host: hugetlb exists only on the cgroup2 mount; runc's v1 manager finds no hugetlb hierarchy "
    "and fails create (`cannot set hugetlb limit`).",
    (
        "runc",
        "config-linux.md#user-namespace-mappings a new user namespace without uid/gid mappings is accepted "
        "and the process runs in it",
    ): "runc 1.1.5 refuses it (`User namespaces enabled, but no uid mappings found.`); crun 1.8.1 runs it, "
    "mapping the namespace's 0 to its own uid and gid (`0 0 1` as root).",
    # runc 1.1.5 with --systemd-cgroup (a "NAME (systemd)" note replaces NAME's in that column)
    (
        "runc (systemd)",
        "config-linux.md#huge-page-limits hugepageLimits 2MB is the hugetlb limit",
    ): "Observed: with --systemd-cgroup runc 1.1.5 creates the container without an error but applies no "
    "hugetlb limit. On this hybrid host hugetlb lives only on cgroup2; the scope's cgroup2 directory has "
    "no hugetlb enabled (empty cgroup.controllers), so the limit is silently dropped (with the cgroupfs "
    "driver runc refuses instead).",
    # ocirun: deliberate, listed in conformance/ocirun-expected-failures.txt
    (
        "ocirun",
        "runtime.md#delete delete of a created (not stopped) container fails and has no effect",
    ): "Deliberate: ocirun follows runc and crun (see the DE-FACTO row), because engines delete created "
    "containers to clean up a failed start.",
    # crun 1.8.1
    (
        "crun",
        "runtime.md#delete delete of a created (not stopped) container fails and has no effect",
    ): "De facto behaviour shared by runc and crun: delete of a `created` container kills and removes it; "
    "see the DE-FACTO row.",
    (
        "crun",
        "runtime.md#lifecycle poststart hooks run after the process is executed (not before startContainer)",
    ): "crun's `start` writes the exec fifo and runs poststart hooks at once, concurrently with the "
    "container's startContainer hooks, i.e. before the process is executed.",
    (
        "crun",
        "config.md#poststart a failing poststart hook is an error: the operation fails and the container "
        "is stopped (1.3.0)",
    ): "crun 1.8.1 follows the rule of runtime-spec 1.0-1.2: it logs a warning for a failing poststart hook "
    "and `start` succeeds; 1.3.0 makes the failure fatal.",
    (
        "crun",
        "config.md#startcontainer a failing startContainer hook is an error and the process never runs",
    ): "`start` returns 0 and even runs the poststart hooks; the init exits without running the process.",
    (
        "crun",
        "config.md#posix-platform-hooks the container state is passed on the hook's stdin",
    ): 'The state crun gives startContainer hooks has `bundle: "/"`, `pid: 0` and status `starting`.',
    (
        "crun",
        "runtime.md#state hooks in the container namespace get the pid as the container sees it (1)",
    ): "crun passes pid 0 to createContainer and startContainer hooks.",
    (
        "crun",
        "config-linux.md#namespaces duplicated namespace types are an error",
    ): "crun 1.8.1 accepts two entries of the same namespace type.",
    (
        "crun",
        "config.md#mounts propagation option shared makes a shared mount",
    ): "Without linux.rootfsPropagation crun makes the whole tree private after mounting, which drops "
    "per-mount propagation options (with rootfsPropagation set they are kept).",
    (
        "crun",
        "config.md#mounts propagation option unbindable makes an unbindable mount",
    ): "Same cause: the recursive private after the mounts.",
    (
        "crun",
        "config-linux.md#offset-for-time-namespace timeOffsets.monotonic is the monotonic offset of the "
        "new time namespace",
    ): "crun 1.8.1 fails every create with a new time namespace here (`write to sync socket: Connection reset "
    "by peer`): its extra fork for the time namespace exits and the grandchild is killed.",
    (
        "crun",
        "config-linux.md#offset-for-time-namespace timeOffsets.boottime is the boottime offset of the "
        "new time namespace",
    ): "Same crun time-namespace failure.",
    (
        "crun",
        "config-linux.md#huge-page-limits hugepageLimits 2MB is the hugetlb limit",
    ): "crun refuses hybrid layouts, so it runs with only the v1 hierarchies in view (see the note above); "
    "hugetlb lives on cgroup2 here, and crun finds no /sys/fs/cgroup/hugetlb.",
}


def counts(outcomes, level=None) -> dict:
    c = dict.fromkeys(STATUSES, 0)
    for o in outcomes:
        if level is None or o["level"] == level:
            c[o["status"]] = c.get(o["status"], 0) + 1
    return c


def _label(rt: dict) -> str:
    label = f"{rt.get('name', '?')} {rt.get('version', '')}".strip()
    return label + " (systemd)" if rt.get("cgroup_manager") == "systemd" else label


def merge(runs: list) -> dict:
    rows, order = {}, []
    for run in runs:
        for o in run["outcomes"]:
            k = o["key"]
            if k not in rows:
                rows[k] = {"key": k, "section": o["section"], "level": o["level"], "title": o["title"], "results": {}}
                order.append(k)
    columns = []
    for i, run in enumerate(runs):
        rt = run["runtime"]
        col = _label(rt)
        if col in columns:
            col = f"{col} #{i + 1}"
        columns.append(col)
        for o in run["outcomes"]:
            cell = {"status": o["status"], "reason": o.get("reason", "")}
            note = NOTES.get((rt.get("name"), o["key"]))
            if rt.get("cgroup_manager") == "systemd":
                note = NOTES.get((f"{rt.get('name')} (systemd)", o["key"]), note)
            if note and o["status"] != "pass":
                cell["note"] = note
            rows[o["key"]]["results"][col] = cell
    first = {k: i for i, k in enumerate(order)}
    order.sort(key=lambda k: (rows[k]["section"].split("#")[0], first[k]))
    return {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": {
            "kernel": platform.release(),
            "machine": platform.machine(),
            "cgroups": _cgroup_layout(),
            "cpus": os.cpu_count(),
        },
        "runtimes": [
            dict(
                run["runtime"],
                column=col,
                seconds=run.get("seconds"),
                pytest_exit=run.get("pytest_exit"),
                error=run.get("error"),
                counts=counts(run["outcomes"]),
                counts_by_level={lv: counts(run["outcomes"], lv) for lv in ("MUST", "SHOULD", "DE-FACTO")},
            )
            for run, col in zip(runs, columns)
        ],
        "columns": columns,
        "checks": [rows[k] for k in order],
    }


def _cgroup_layout() -> str:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2 (unified)"
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        ctrls = open("/sys/fs/cgroup/unified/cgroup.controllers").read().split()
        return f"hybrid (v1, with {', '.join(ctrls) or 'no controllers'} on cgroup2)"
    return "v1"


CELL = {"pass": "pass", "fail": "FAIL", "unsupported": "unsupported"}


def _cell(r: dict | None, text=True) -> str:
    if r is None:
        return "-"
    s = CELL[r["status"]]
    if not text and r.get("note"):
        s += "\u00b9"
    return s


def text_table(m: dict) -> str:
    cols = m["columns"]
    w = max([len(c) for c in cols] + [11])
    lines = []
    head = "  ".join(c.ljust(w) for c in cols) + "  level     check"
    lines.append(head)
    lines.append("-" * len(head))
    for row in m["checks"]:
        cells = "  ".join(_cell(row["results"].get(c)).ljust(w) for c in cols)
        lines.append(f"{cells}  {row['level']:<8}  {row['section']}: {row['title']}")
    lines.append("")
    for rt in m["runtimes"]:
        c = rt["counts"]
        lines.append(f"{rt['column']}: pass {c['pass']}, fail {c['fail']}, unsupported {c['unsupported']}")
    return "\n".join(lines)


def _md(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown(m: dict) -> str:
    cols = m["columns"]
    out = [
        "# Conformance results",
        "",
        f"Generated {m['generated']} by `python3 -m conformance` on Linux {m['host']['kernel']} "
        f"({m['host']['machine']}, {m['host']['cpus']} CPUs), cgroups {m['host']['cgroups']}.",
        "",
        "| runtime | binary | MUST pass/fail/unsupported | SHOULD | DE-FACTO | time |",
        "|---|---|---|---|---|---|",
    ]
    for rt in m["runtimes"]:
        bl = rt["counts_by_level"]
        f = lambda c: f"{c['pass']} / {c['fail']} / {c['unsupported']}"  # noqa: E731
        out.append(
            f"| {_md(rt['column'])} | `{_md(rt.get('path', ''))}` | {f(bl['MUST'])} | {f(bl['SHOULD'])} | "
            f"{f(bl['DE-FACTO'])} | {rt.get('seconds', '?')} s |"
        )
    out.append("")
    for rt in m["runtimes"]:
        if rt.get("quirks"):
            out += [f"- **{_md(rt['column'])}** {q}." for q in rt["quirks"]]
        if rt.get("probe") and rt["probe"] != "ok":
            out.append(f"- **{_md(rt['column'])}**: the first trivial container failed: {_md(rt['probe'])}")
        if rt.get("error"):
            out.append(f"- **{_md(rt['column'])}**: {_md(rt['error'])}")
        if rt.get("systemd_error"):
            out.append(f"- **{_md(rt['column'])}**: the private systemd: {_md(rt['systemd_error'])}")
    if any(rt.get("cgroup_manager") == "systemd" for rt in m["runtimes"]):
        out += [
            "",
            "Columns marked *(systemd)*: the runtime's systemd cgroup driver (`--systemd-cgroup`, "
            "cgroupsPath `system.slice:conformance:<id>`), run in the pid and mount namespaces of a private "
            "systemd booted for that session (`conformance/systemd.py`); the checks read the scope's "
            "cgroups on the host and translate the state's pid. Only the cgroup and lifecycle checks are "
            "run in that mode (`--systemd-checks`); `-` is a check not run.",
        ]
    out += [
        "",
        "`pass` and `FAIL` are measured; `unsupported` means this host lacks what the check needs "
        "(the reason is listed below) and is never counted as a pass. "
        "DE-FACTO rows record what runc and crun agree on where the spec says otherwise. "
        "\u00b9 marks a failure explained under *Peer deviations*.",
        "",
    ]
    out.append("| check | level | " + " | ".join(_md(c) for c in cols) + " |")
    out.append("|---|---|" + "---|" * len(cols))
    for row in m["checks"]:
        cells = " | ".join(_cell(row["results"].get(c), text=False) for c in cols)
        out.append(f"| {_md(row['section'])}: {_md(row['title'])} | {row['level']} | {cells} |")

    out += [
        "",
        "## Peer deviations",
        "",
        "Every failure of a peer below was looked into; the note says why it fails. "
        "The measured reason follows in italics.",
        "",
    ]
    for row in m["checks"]:
        for c in cols:
            r = row["results"].get(c)
            if r and r["status"] == "fail" and r.get("note"):
                out.append(
                    f"- **{_md(c)}**, {_md(row['section'])}: {_md(row['title'])}. {_md(r['note'])} "
                    f"*({_md(r['reason'][:240])})*"
                )
    unexplained = [
        (row, c, row["results"][c])
        for row in m["checks"]
        for c in cols
        if c in row["results"] and row["results"][c]["status"] == "fail" and not row["results"][c].get("note")
    ]
    if unexplained:
        out += ["", "## Other failures", ""]
        for row, c, r in unexplained:
            out.append(f"- **{_md(c)}**, {_md(row['section'])}: {_md(row['title'])}: *{_md(r['reason'][:240])}*")
    unsup = {}
    for row in m["checks"]:
        for c in cols:
            r = row["results"].get(c)
            if r and r["status"] == "unsupported":
                unsup.setdefault((row["section"], row["title"]), r["reason"])
    if unsup:
        out += ["", "## Unsupported here", ""]
        out += [f"- {_md(s)}: {_md(t)}: {_md(reason)}" for (s, t), reason in unsup.items()]
    return "\n".join(out) + "\n"
