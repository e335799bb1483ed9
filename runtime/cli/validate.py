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

from .. import errors
from . import Command, Flag

COMMAND = Command(
    "validate",
    "check a bundle's config.json against runtime-spec 1.3.0",
    usage="",
    nargs=(0, 0),
    flags=[
        Flag("bundle,b", "str", "", "path to the root of the bundle directory (default: .)", "DIR"),
        Flag("config,f", "str", "", "the config file, relative to the bundle (default: config.json)", "FILE"),
        Flag("json", "bool", help="print the result as one JSON document (valid, problems: [{path, level, message}])"),
        Flag("strict", "bool", help="treat warnings as errors"),
        Flag(
            "reference", "bool", help="check the schema with the jsonschema library instead of the built-in validator"
        ),
    ],
    description="Validates config.json against the runtime-spec 1.3.0 JSON schemas, checks what a\n"
    "schema cannot (paths, namespaces, sysctls, ...), and what `ocirun create` would refuse\n"
    "before starting anything (mount sources and options, unsupported features). Prints\n"
    "one line per problem and exits 1, or one confirmation line and exits 0.",
)


def main(ctx, opts, args):
    from .. import SPEC_VERSION, spec, validation
    from ..ops.validate import check, unlabel

    bundle = os.path.abspath(opts.bundle or ".")
    # the path as the user gave it, for the messages
    shown = os.path.join(opts.bundle, opts.config or "config.json") if opts.bundle else (opts.config or "config.json")
    if opts.reference:
        validation.use_reference_validator()
    try:
        cfg, label = spec.read_config(bundle, opts.config or None)
    except errors.ConfigError as e:  # nothing to check: unreadable, not JSON, no bundle
        if opts.json:
            return _print_json(shown, False, [("error", "", unlabel(l, opts.config)) for l in e.lines])
        raise
    found = check(cfg, bundle, label, ctx.gopts)
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

    doc = {
        "file": shown,
        "valid": valid,
        "specVersion": SPEC_VERSION,
        "problems": [{"path": p, "level": level, "message": m} for level, p, m in found],
    }
    sys.stdout.write(fastjson.dumps(doc, indent=2) + "\n")
    return 0 if valid else 1
