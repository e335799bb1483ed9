"""`ocirun start`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('start', 'executes the user defined process in a created container', usage='<container-id>', nargs=(0, None))
main = not_yet('start')
