"""Chat models for LangChain-based stages (the `langchain` parser, an LLM judge, ...) and endpoint redaction.

`ChatModelConfig` holds which chat model to ask; `build_chat_model(cfg)` builds it (no network call).
Integration packages are imported here, lazily:

- `base_url` (+ `model`, optional `api_key_env`): any OpenAI-compatible endpoint (vLLM, llama.cpp
  server, Ollama's /v1, LM Studio) through `langchain_openai.ChatOpenAI`;
- `provider: ollama` (or `model: "ollama:NAME"`): Ollama's native API through `langchain_ollama.ChatOllama`;
- otherwise `model: "provider:name"` goes to `langchain.chat_models.init_chat_model`
  ("openai:gpt-4o-mini", "anthropic:...", "groq:...": whichever integration package is installed).

A missing integration package raises `MissingDependencyError` naming it; the API key is read from the
environment variable named by `api_key_env` at build time and never stored in the config or provenance.
`public_url(url)` is an endpoint without user info, query or fragment: safe to record in a manifest.
Importing this module imports neither langchain nor torch.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import ConfigDict, Field, field_validator

from worldsim.errors import ConfigError, MissingDependencyError
from worldsim.stages import SettingsModel

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models import BaseChatModel

# A local OpenAI-compatible server usually ignores the key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"


class ChatModelConfig(SettingsModel):
    """Which chat model to ask: a model name ('provider:name', or the name served at base_url), where, how."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["ollama", "openai"] | None = Field(
        default=None, description="'ollama' for ChatOllama (native API), 'openai' for ChatOpenAI; default: from model / base_url")
    base_url: str | None = Field(
        default=None, description="an OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama /v1), or Ollama's URL with provider=ollama")
    model: str | None = Field(
        default=None, validate_default=True,
        description="'provider:name' for init_chat_model ('openai:gpt-4o-mini', 'ollama:llama3.1'), or the model name served at base_url")
    api_key_env: str | None = Field(default=None, description="name of the environment variable holding the API key")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="sampling temperature (0: most repeatable)")
    timeout_s: float = Field(default=30.0, gt=0.0, le=600.0, description="per-request timeout in seconds")
    max_retries: int = Field(default=1, ge=0, le=3, description="re-asks after an invalid answer (also the client's retries on transient errors)")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError("must be an http(s):// URL, e.g. http://localhost:8000/v1")
        return url

    @field_validator("model")
    @classmethod
    def _model_for_endpoint(cls, model: str | None, info) -> str | None:
        if model is not None and not model.strip():
            model = None
        if model is None and (info.data.get("base_url") or info.data.get("provider")):
            where = f"base_url={info.data['base_url']!r}" if info.data.get("base_url") else f"provider={info.data['provider']!r}"
            raise ValueError(f"{where} needs model, the name of the model to ask (e.g. 'llama3.1')")
        return model

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError("must be the name of an environment variable (e.g. OPENAI_API_KEY), not the key itself")
        return name


def public_url(url: str | None) -> str | None:
    """The endpoint without user info, query or fragment: safe to record in a manifest."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_model(cfg: ChatModelConfig) -> str:
    if cfg.provider == "ollama" and cfg.model and not cfg.model.startswith("ollama:"):
        return f"ollama:{cfg.model}"
    return cfg.model or "none"


def _needed_for(cfg: ChatModelConfig) -> str:
    where = f" at {public_url(cfg.base_url)}" if cfg.base_url else ""
    return f"the langchain parser with model '{describe_model(cfg)}'{where}"


def _import(module: str, name: str, package: str, cfg: ChatModelConfig) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise MissingDependencyError(package, _needed_for(cfg)) from None


def _api_key(cfg: ChatModelConfig) -> str | None:
    if not cfg.api_key_env:
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise ConfigError(f"parser 'langchain': api_key_env={cfg.api_key_env!r} names an environment variable that is not set")
    return key


def build_chat_model(cfg: ChatModelConfig) -> "BaseChatModel":
    """The configured chat model (no network call happens here)."""
    if not cfg.model:
        raise ConfigError(
            "parser 'langchain' has no model; set parser.model='openai:gpt-4o-mini' (init_chat_model), "
            "or base_url + model for an OpenAI-compatible server, or provider=ollama + model"
        )
    key = _api_key(cfg)
    try:
        if cfg.provider == "ollama" or (cfg.provider is None and not cfg.base_url and cfg.model.startswith("ollama:")):
            chat_ollama = _import("langchain_ollama", "ChatOllama", "langchain-ollama", cfg)
            client: dict[str, Any] = {"timeout": cfg.timeout_s}
            if key:
                client["headers"] = {"Authorization": f"Bearer {key}"}
            return chat_ollama(model=cfg.model.removeprefix("ollama:"), base_url=cfg.base_url,
                               temperature=cfg.temperature, client_kwargs=client)
        if cfg.base_url or cfg.provider == "openai":
            chat_openai = _import("langchain_openai", "ChatOpenAI", "langchain-openai", cfg)
            return chat_openai(model=cfg.model.removeprefix("openai:"), base_url=cfg.base_url,
                               api_key=key or (PLACEHOLDER_KEY if cfg.base_url else None),
                               temperature=cfg.temperature, timeout=cfg.timeout_s, max_retries=cfg.max_retries)
        from langchain.chat_models import init_chat_model

        extra = {"api_key": key} if key else {}
        try:
            return init_chat_model(cfg.model, temperature=cfg.temperature, timeout=cfg.timeout_s,
                                   max_retries=cfg.max_retries, **extra)
        except ImportError as exc:
            found = re.search(r"requires the ([\w.-]+) package", str(exc))
            provider = cfg.model.split(":", 1)[0]
            raise MissingDependencyError(found.group(1) if found else f"langchain-{provider}", _needed_for(cfg)) from None
    except (ConfigError, MissingDependencyError):
        raise
    except Exception as exc:  # unknown provider, missing credentials, bad arguments: the config's fault
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"parser 'langchain': cannot create chat model '{describe_model(cfg)}': {first}; "
            "write model as 'provider:name' (e.g. 'openai:gpt-4o-mini', 'ollama:llama3.1') or set base_url"
        ) from None
