"""`ocirun update`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('update', 'update container resource constraints', usage='<container-id>', nargs=(0, None))
main = not_yet('update')
