"""`ocirun validate`: check a bundle's config.json; silent and 0 when valid."""

import os
import sys

from . import Command, Flag
from .. import errors

COMMAND = Command("validate", "check a bundle's config.json against runtime-spec 1.3.0", usage="", nargs=(0, 0), flags=[
    Flag("bundle,b", "str", "", "path to the root of the bundle directory (default: .)", "DIR"),
    Flag("config,f", "str", "", "the config file, relative to the bundle (default: config.json)", "FILE"),
    Flag("reference", "bool", help="check the schema with the jsonschema library instead of the built-in validator"),
], description="Validates config.json against the runtime-spec 1.3.0 JSON schemas, then checks\n"
               "what a schema cannot (paths, namespaces, sysctls, ...). Prints one line per\n"
               "problem and exits 1, or prints nothing and exits 0.")


def main(ctx, opts, args):
    from .. import spec, validation
    bundle = os.path.abspath(opts.bundle or ".")
    if opts.reference:
        validation.use_reference_validator()
    cfg = spec.load_config(bundle, opts.config or None)
    for w in validation.warnings(cfg):
        ctx.log.warning(w)
    return 0
