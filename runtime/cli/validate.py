"""`ocirun validate`: check a bundle's config.json, everything at once.

One pass reports the schema errors, the semantic checks on what the schema
let through, and then (when nothing else is wrong) whatever `create` would
refuse before the kernel is involved: the same build create runs, with
nothing spawned (plan.dry_run). Text: one line per problem on stderr and
exit 1, or one confirmation line on stdout and exit 0. --json: one document
on stdout for tools and CI, with the same exit status.
"""

import os
import sys

from . import Command, Flag
from .. import errors

COMMAND = Command("validate", "check a bundle's config.json against runtime-spec 1.3.0", usage="", nargs=(0, 0), flags=[
    Flag("bundle,b", "str", "", "path to the root of the bundle directory (default: .)", "DIR"),
    Flag("config,f", "str", "", "the config file, relative to the bundle (default: config.json)", "FILE"),
    Flag("json", "bool", help="print the result as one JSON document (valid, problems: [{path, level, message}])"),
    Flag("strict", "bool", help="treat warnings as errors"),
    Flag("reference", "bool", help="check the schema with the jsonschema library instead of the built-in validator"),
], description="Validates config.json against the runtime-spec 1.3.0 JSON schemas, checks what a\n"
               "schema cannot (paths, namespaces, sysctls, ...), and what `ocirun create` would refuse\n"
               "before starting anything (mount sources and options, unsupported features). Prints\n"
               "one line per problem and exits 1, or one confirmation line and exits 0.")


def check(cfg, bundle, label="config.json"):
    """[(level, path, message)] of a parsed config (level 'error' or 'warning')."""
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
        from .. import log
        saved, log.LOG = log.LOG, _Collect()
        try:
            out = [("error",) + _split(_unlabel(line, label)) for line in plan.dry_run(cfg, bundle)]
        finally:
            collected, log.LOG = log.LOG.warnings, saved
        warned += [("warning",) + _split(w) for w in collected if "unknown capability" not in w]
    seen, unique = set(), []
    for w in warned:  # the dry run warns again of what the checks above saw
        if w not in seen:
            seen.add(w)
            unique.append(w)
    return out + unique


class _Collect:
    """A logger that keeps the dry run's warnings (create would print them)."""

    debug_enabled = False

    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)

    def error(self, msg):
        pass

    def debug(self, msg, *args):
        pass


def _unlabel(line, label):
    label = os.path.basename(label or "config.json")
    return line[len(label) + 2:] if line.startswith(label + ": ") else line


def _split(line):
    """'linux.sysctl["a.b"]: message' -> (path, message); ('', line) when it names no path."""
    head, sep, rest = line.partition(": ")
    if sep and head and " " not in head.replace('" "', "") and "`" not in head:
        return head, rest
    return "", line


def main(ctx, opts, args):
    from .. import SPEC_VERSION, spec, validation
    bundle = os.path.abspath(opts.bundle or ".")
    # the path as the user gave it, for the messages
    shown = os.path.join(opts.bundle, opts.config or "config.json") if opts.bundle else (opts.config or "config.json")
    if opts.reference:
        validation.use_reference_validator()
    try:
        cfg, label = spec.read_config(bundle, opts.config or None)
    except errors.ConfigError as e:  # nothing to check: unreadable, not JSON, no bundle
        if opts.json:
            return _print_json(shown, False, [("error", "", _unlabel(l, opts.config)) for l in e.lines])
        raise
    found = check(cfg, bundle, label)
    if opts.strict:
        found = [("error", p, m) for _, p, m in found]
    valid = not any(level == "error" for level, _, _ in found)
    if opts.json:
        return _print_json(shown, valid, found)
    label = os.path.basename(shown)
    for level, p, m in found:
        if level == "warning":
            ctx.log.warning(validation._line(p, m))
        else:
            ctx.log.error("%s: %s" % (label, validation._line(p, m)))
    if not valid:
        return 1
    sys.stdout.write("%s: valid (runtime-spec %s)\n" % (shown, SPEC_VERSION))
    return 0


def _print_json(shown, valid, found):
    from .. import SPEC_VERSION, fastjson
    doc = {"file": shown, "valid": valid, "specVersion": SPEC_VERSION,
           "problems": [{"path": p, "level": level, "message": m} for level, p, m in found]}
    sys.stdout.write(fastjson.dumps(doc, indent=2) + "\n")
    return 0 if valid else 1
