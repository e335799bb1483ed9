"""validate: every problem of a config at once (schema, semantic checks,
and what create would refuse before the kernel is involved, by the same
build create runs with nothing spawned: plan.dry_run)."""

import os

from .. import log


def check(cfg, bundle, label="config.json", gopts=None):
    """[(level, path, message)] of a parsed config (level 'error' or 'warning');
    with gopts, rootless's adaptations and refusals too when rootless is on."""
    from .. import plan, validation

    out = [("error", p, m) for p, m in validation.findings(cfg, bundle)]
    if not isinstance(cfg, dict):
        return out
    from .. import tolerance

    try:
        warned = [("warning",) + _split(w) for w in validation.warnings(cfg)]
        warned += [("warning", p, m) for p, m in tolerance.warnings(cfg)]
    except validation.SHAPE_ERRORS:
        if not out:  # a schema-valid config: a bug, let it show
            raise
        warned = []  # capabilities the schema refused: their errors say it
    if not out:
        # What the schema and the checks cannot see: create's own refusals
        # (and its warnings, but for the capabilities already warned about).
        with log.LOG.capture() as collected:
            out = [("error",) + _split(unlabel(line, label)) for line in plan.dry_run(cfg, bundle)]
        warned += [("warning",) + _split(w) for w in collected if "unknown capability" not in w]
    if not out and gopts is not None:
        out, more = _rootless(cfg, gopts)
        warned += more
    seen, unique = set(), []
    for w in warned:  # the dry run warns again of what the checks above saw
        if w not in seen:
            seen.add(w)
            unique.append(w)
    return out + unique


def _rootless(cfg, gopts):
    """(errors, warnings) of rootless.adapt: what create would adapt or refuse
    for this user (nothing when rootless is off)."""
    from .. import errors, rootless

    errs = []
    with log.LOG.capture() as collected:
        try:
            rootless.adapt(gopts, cfg)
        except errors.ConfigError as e:
            errs = [("error",) + _split(line) for line in e.lines]
    return errs, [("warning",) + _split(w) for w in collected]


def unlabel(line, label):
    label = os.path.basename(label or "config.json")
    return line[len(label) + 2 :] if line.startswith(label + ": ") else line


def _split(line):
    """'linux.sysctl["a.b"]: message' -> (path, message); ('', line) when it names no path."""
    head, sep, rest = line.partition(": ")
    if sep and head and " " not in head.replace('" "', "") and "`" not in head:
        return head, rest
    return "", line
