"""Built-in plugin: the `procedural` 4D world generator."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_generators(register):
    from plugins.procedural.stage import ProceduralGenerator

    register(ProceduralGenerator)
