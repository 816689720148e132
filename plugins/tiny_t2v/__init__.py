"""Built-in plugin: the self-trained `tiny-t2v` text-to-video generator (Mojito in miniature)."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_generators(register):
    from plugins.tiny_t2v.stage import TinyT2VGenerator

    register(TinyT2VGenerator)
