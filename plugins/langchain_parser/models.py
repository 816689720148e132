"""Chat models from a `langchain` parser config. Integration packages are imported here, lazily.

- `base_url` (+ `model`, optional `api_key_env`): any OpenAI-compatible endpoint (vLLM, llama.cpp
  server, Ollama's /v1, LM Studio) through `langchain_openai.ChatOpenAI`;
- `provider: ollama` (or `model: "ollama:NAME"`): Ollama's native API through `langchain_ollama.ChatOllama`;
- otherwise `model: "provider:name"` goes to `langchain.chat_models.init_chat_model`
  ("openai:gpt-4o-mini", "anthropic:...", "groq:...": whichever integration package is installed).

A missing integration package raises `MissingDependencyError` naming it; the API key is read from the
environment variable named by `api_key_env` at build time and never stored in the config or provenance.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from worldsim.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models import BaseChatModel

    from .parser import LangChainParserConfig

# A local OpenAI-compatible server usually ignores the key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"


def public_url(url: str | None) -> str | None:
    """The endpoint without user info, query or fragment: safe to record in a manifest."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe_model(cfg: "LangChainParserConfig") -> str:
    if cfg.provider == "ollama" and cfg.model and not cfg.model.startswith("ollama:"):
        return f"ollama:{cfg.model}"
    return cfg.model or "none"


def _needed_for(cfg: "LangChainParserConfig") -> str:
    where = f" at {public_url(cfg.base_url)}" if cfg.base_url else ""
    return f"the langchain parser with model '{describe_model(cfg)}'{where}"


def _import(module: str, name: str, package: str, cfg: "LangChainParserConfig") -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise MissingDependencyError(package, _needed_for(cfg)) from None


def _api_key(cfg: "LangChainParserConfig") -> str | None:
    if not cfg.api_key_env:
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise ConfigError(f"parser 'langchain': api_key_env={cfg.api_key_env!r} names an environment variable that is not set")
    return key


def build_chat_model(cfg: "LangChainParserConfig") -> "BaseChatModel":
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
