"""`ocirun ps`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('ps', 'ps displays the processes running inside a container', usage='<container-id> [ps options]', nargs=(0, None))
main = not_yet('ps')
