"""Built-in plugin: the self-trained `tiny-t2v` text-to-video generator (Mojito in miniature)."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_generators(register):
    from plugins.tiny_t2v.stage import TinyT2VGenerator

    register(TinyT2VGenerator)


@hookimpl
def register_commands(subparsers):
    """`worldsim train tiny-t2v`."""
    from plugins.tiny_t2v.cli import add_train_parser

    add_train_parser(subparsers)
