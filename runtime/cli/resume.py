"""`ocirun resume`: not built yet; it says so and exits 1."""

from . import Command
from ._stub import not_yet

COMMAND = Command('resume', 'resumes all processes that have been previously paused', usage='<container-id>', nargs=(0, None))
main = not_yet('resume')
