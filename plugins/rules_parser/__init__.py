"""Built-in `rules` parser plugin: a deterministic grammar from an English command to a `Plan`, no ML."""

from worldsim.hookspecs import hookimpl

from .grammar import RulesParser

__all__ = ["RulesParser", "register_parsers"]


@hookimpl
def register_parsers(register):
    register(RulesParser)
