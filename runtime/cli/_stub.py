"""Commands whose implementation has not landed yet: say so, never pretend."""

from .. import errors


def not_yet(name):
    def main(ctx, opts, args):
        raise errors.NotImplementedYet(name)
    return main
