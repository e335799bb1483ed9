"""`ocirun pause`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('pause', 'pause suspends all processes inside the container', usage='<container-id>', nargs=(0, None))
main = not_yet('pause')
