"""`ocirun events`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('events', 'display container events such as OOM notifications, cpu, memory, and IO usage statistics', usage='<container-id>', nargs=(0, None))
main = not_yet('events')
