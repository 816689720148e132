"""Built-in plugin: the `conformance` scorer (video vs command: boxes vs the plan, motion level vs the speed)."""

from worldsim.hookspecs import hookimpl


@hookimpl
def register_scorers(register):
    from plugins.conformance.stage import ConformanceScorer

    register(ConformanceScorer)
