"""`ocirun create`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('create', 'create a container', usage='<container-id>', nargs=(0, None))
main = not_yet('create')
