"""`ocirun state ID`: the container's state as JSON (runtime-spec + runc's fields)."""

import sys

from .. import fastjson
from . import Command

COMMAND = Command(
    "state",
    "output the state of a container",
    description="The state command outputs current state information for the\ninstance of a container.",
)


def main(ctx, opts, args):
    from ..ops.state import state

    sys.stdout.write(fastjson.dumps(state(ctx, args[0]), indent=2) + "\n")
    return 0
