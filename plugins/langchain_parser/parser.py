"""The `langchain` parser: any LangChain chat model with tool calling -> the same `Plan` as `rules`.

One call per attempt: the system prompt (`prompt.py`) and the command go to the model bound to the
`CommandPlan` tool with `with_structured_output(..., method="function_calling")`; its `edit.op` is an
enum of the edit ops the installed editors declare (`schema.available_ops`, read once per stage), and
the prompt lists each op with its description and parameters. The answer is validated
(`schema.to_plan`: the op, and its parameters against the op's params model), never evaluated. An invalid answer (schema error, unknown colour or
direction, a noun not in the command, no tool call) is retried `max_retries` times with the
validation message as feedback; then, with `fallback: rules`, the `rules` parser parses the command,
otherwise `ParseError` says why in one line. A failed model call (network, auth, rate limit) is not
retried here (the client has its own `max_retries`); it falls back the same way, or raises
`StageFailedError` with the original error as its cause.

`stage.last_provenance` records how the last plan was made, for run.json:
`{"parser": "langchain", "model", "endpoint", "attempts", "fallback": "rules" | None, "error"}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from worldsim.commands import check_command
from worldsim.errors import ParseError, StageFailedError
from worldsim.llm import ChatModelConfig, build_chat_model, describe_model, public_url
from worldsim.stages import Parser, StageConfig
from worldsim.types.plan import Plan

from .prompt import retry_message, system_prompt
from .schema import TOOL_NAME, CommandPlan, InvalidOutput, available_ops, command_plan_for, describe, short, to_plan

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models import BaseChatModel


class LangChainParserConfig(StageConfig, ChatModelConfig):
    """Which chat model to ask, and what to do when its answers do not validate."""

    fallback: Literal["rules"] | None = Field(default="rules", description="parser to use after the retries fail; null: raise ParseError")
    max_chars: int = Field(default=500, ge=1, le=100_000, description="longest command accepted, in characters")


class LangChainParser(Parser):
    """A LangChain chat model fills the `CommandPlan` tool; the answer is validated into a `Plan`."""

    name = "langchain"
    description = "LLM command parser (any LangChain chat model with tool calling) -> validated Plan; falls back to rules."
    Config = LangChainParserConfig

    def __init__(self, config: StageConfig | dict | None = None, *, chat_model: "BaseChatModel | None" = None):
        super().__init__(config)
        self._chat_model = chat_model
        self._structured = None
        self._ops = None
        self.last_provenance: dict[str, Any] | None = None

    def with_model(self, chat_model: "BaseChatModel") -> "LangChainParser":
        """Use this chat model (tests, notebooks) instead of building one from the config."""
        self._chat_model, self._structured = chat_model, None
        return self

    @property
    def model_label(self) -> str:
        if self._chat_model is not None and not self.config.model:
            m = self._chat_model
            return str(getattr(m, "model_name", None) or getattr(m, "model", None) or type(m).__name__)
        return describe_model(self.config)

    @property
    def ops(self):
        """The edit ops on offer: op name -> params model (`schema.available_ops`, read on first use)."""
        if self._ops is None:
            self._ops = available_ops()
        return self._ops

    def structured_model(self):
        """The chat model bound to the `CommandPlan` tool (built on first use)."""
        if self._structured is None:
            if self._chat_model is None:
                self._chat_model = build_chat_model(self.config)
            self._structured = self._chat_model.with_structured_output(
                command_plan_for(list(self.ops)), method="function_calling", include_raw=True
            )
        return self._structured

    def run(self, text: str) -> Plan:
        text = check_command(text, self.config.max_chars)
        cfg = self.config
        prov: dict[str, Any] = {"parser": self.name, "model": self.model_label, "endpoint": public_url(cfg.base_url),
                                "attempts": 0, "fallback": None, "error": None}
        self.last_provenance = prov
        structured = self.structured_model()  # ConfigError / MissingDependencyError: never a silent fallback

        from langchain_core.messages import HumanMessage, SystemMessage

        base = [SystemMessage(content=system_prompt(self.ops)), HumanMessage(content=text)]
        messages, error, call_failed = base, "", None
        for attempt in range(1, cfg.max_retries + 2):
            prov["attempts"] = attempt
            try:
                result = structured.invoke(messages)
            except Exception as exc:  # the call itself failed: network, auth, rate limit, server error
                error, call_failed = f"model call failed: {type(exc).__name__}: {short(exc, 160)}", exc
                break
            try:
                plan = self._validate(result, text)
            except InvalidOutput as exc:
                error = str(exc)
                messages = [*base, HumanMessage(content=retry_message(error))]
                continue
            return plan
        prov["error"] = error
        if cfg.fallback is None:
            if call_failed is not None:
                raise StageFailedError(f"parser 'langchain': {error}") from call_failed
            raise ParseError(
                f"the langchain parser's model '{prov['model']}' gave no valid plan for '{short(text, 40)}' "
                f"in {prov['attempts']} attempts: {error}"
            )
        prov["fallback"] = cfg.fallback
        return self._fall_back(text, error)

    def _validate(self, result: Any, text: str) -> Plan:
        if not isinstance(result, dict):  # include_raw=True gives {"raw", "parsed", "parsing_error"}
            raise InvalidOutput(f"unexpected structured output {type(result).__name__}")
        if result.get("parsing_error") is not None:
            raise InvalidOutput(describe(result["parsing_error"]))
        parsed = result.get("parsed")
        if parsed is None:
            raise InvalidOutput(f"the answer did not call the tool {TOOL_NAME}")
        if not isinstance(parsed, CommandPlan):
            raise InvalidOutput(f"the answer was a {type(parsed).__name__}, not {TOOL_NAME} arguments")
        return to_plan(parsed, text, self.ops)

    def _fall_back(self, text: str, error: str) -> Plan:
        from worldsim.registry import get_stage

        try:
            return get_stage("parser", "rules", {"max_chars": self.config.max_chars}).run(text)
        except ParseError as exc:
            raise ParseError(f"{exc} (the langchain model's answer was rejected too: {short(error, 120)})") from None
