"""Built-in `langchain` parser plugin: a LangChain chat model (tool calling) turns a command into the
same validated `Plan` as the `rules` parser, retrying once and falling back to `rules` on invalid output."""

from worldsim.hookspecs import hookimpl

from .parser import LangChainParser, LangChainParserConfig
from .schema import CommandPlan, to_plan

__all__ = ["CommandPlan", "LangChainParser", "LangChainParserConfig", "register_parsers", "to_plan"]


@hookimpl
def register_parsers(register):
    register(LangChainParser)
