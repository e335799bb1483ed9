"""`ocirun delete`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('delete', 'delete any resources held by the container often used with detached container', usage='<container-id>', nargs=(0, None))
main = not_yet('delete')
