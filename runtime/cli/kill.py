"""`ocirun kill`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('kill', "kill sends the specified signal (default: SIGTERM) to the container's init process", usage='<container-id> [signal]', nargs=(0, None))
main = not_yet('kill')
