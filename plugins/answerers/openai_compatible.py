"""`openai-compatible`: a multimodal chat model at an OpenAI-compatible endpoint (vLLM, llama.cpp server, LM Studio,
Ollama's /v1, a hosted API), through LangChain's ChatOpenAI.

Each question is one user message: N frames sampled evenly from the run's video as base64 PNG `image_url`
content parts, then the prompt text (plugins/answerers/prompts.py). The frames are read and encoded once
per run() call; the chat model is built once per run() call, and the questions are sent with
`max_concurrency` requests in flight. The reply text is returned unmodified (judging happens elsewhere).
The API key is read from the environment variable `api_key_env` names, never stored.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from worldsim.errors import ConfigError, MissingDependencyError, StageFailedError
from worldsim.stages import Answerer, StageConfig
from worldsim.types import QAItem, ScoreInput

PLACEHOLDER_KEY = "not-needed"  # a local server usually ignores the key, but the client insists on one


class OpenAICompatibleConfig(StageConfig):
    base_url: str = Field(description="the endpoint's OpenAI API root, e.g. http://127.0.0.1:8000/v1")
    model: str = Field(min_length=1, description="the model name the endpoint serves, e.g. Qwen/Qwen2.5-VL-7B-Instruct")
    api_key_env: str | None = Field(None, description="environment variable holding the API key (None: a placeholder key)")
    num_frames: int = Field(8, ge=1, le=64, description="frames sampled evenly from the video, first and last included")
    max_side: int | None = Field(448, ge=16, le=4096, description="longer side of each frame sent, in pixels (None: as generated)")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="sampling temperature (0: most repeatable)")
    max_tokens_direct: int = Field(32, ge=1, le=32_768, description="longest reply in direct mode, in tokens")
    max_tokens_cot: int = Field(512, ge=1, le=32_768, description="longest reply in chain-of-thought mode, in tokens")
    timeout_s: float = Field(120.0, gt=0, le=3600, description="per-request timeout in seconds")
    max_retries: int = Field(2, ge=0, le=10, description="the client's retries on transient errors")
    max_concurrency: int = Field(4, ge=1, le=64, description="requests in flight at once")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError("must be an http(s):// URL, e.g. http://127.0.0.1:8000/v1")
        return url


def message_content(prompt: str, urls: list[str]) -> list[dict]:
    """OpenAI chat content parts: the frames as image_url parts, then the text."""
    return [*({"type": "image_url", "image_url": {"url": u}} for u in urls), {"type": "text", "text": prompt}]


def reply_text(content) -> str:
    """A chat reply's text: the string, or the text parts of a list of content parts joined."""
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else p.get("text", "") for p in content or [] if isinstance(p, (str, dict))]
    return "".join(parts)


class OpenAICompatibleAnswerer(Answerer):
    name = "openai-compatible"
    description = "A multimodal chat model at an OpenAI-compatible endpoint (LangChain ChatOpenAI), N sampled frames per question"
    Config = OpenAICompatibleConfig

    def chat_model(self, mode: str):
        import os

        cfg: OpenAICompatibleConfig = self.config
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise MissingDependencyError("langchain-openai", f"answerer '{self.name}'") from None
        key = PLACEHOLDER_KEY
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env) or ""
            if not key:
                raise ConfigError(f"answerer '{self.name}': api_key_env={cfg.api_key_env!r} names an environment variable that is not set")
        return ChatOpenAI(model=cfg.model, base_url=cfg.base_url, api_key=key, temperature=cfg.temperature,
                          max_tokens=cfg.max_tokens_cot if mode == "cot" else cfg.max_tokens_direct,
                          timeout=cfg.timeout_s, max_retries=cfg.max_retries)

    def run(self, items: list[QAItem], inputs: ScoreInput, mode: str = "direct", free_form: bool = False) -> list[str]:
        from langchain_core.messages import HumanMessage

        from plugins.answerers.frames import data_url, load_frames
        from plugins.answerers.prompts import build_prompt, check_mode

        cfg: OpenAICompatibleConfig = self.config
        check_mode(mode)
        if not items:
            return []
        frames, idx, fps = load_frames(inputs, cfg.num_frames, cfg.max_side)
        seconds = (idx[-1] - idx[0]) / fps if fps and len(idx) > 1 else None
        urls = [data_url(f) for f in frames]
        messages = [[HumanMessage(content=message_content(build_prompt(it, mode, free_form, len(urls), seconds), urls))]
                    for it in items]
        model = self.chat_model(mode)
        try:
            replies = model.batch(messages, config={"max_concurrency": cfg.max_concurrency})
        except Exception as exc:  # connection refused, HTTP errors, bad JSON: one line naming the endpoint
            from worldsim.llm import public_url

            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise StageFailedError(f"answerer '{self.name}': model '{cfg.model}' at {public_url(cfg.base_url)} failed: "
                                   f"{type(exc).__name__}: {first}") from None
        return [reply_text(r.content) for r in replies]


__all__ = ["OpenAICompatibleAnswerer", "OpenAICompatibleConfig", "message_content", "reply_text"]
