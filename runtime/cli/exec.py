"""`ocirun exec`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('exec', 'execute new process inside the container', usage='<container-id> <command> [command options]', nargs=(0, None))
main = not_yet('exec')
