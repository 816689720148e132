"""Secrets out of everything worldsim writes: run.json, Prefect artifacts, logs.

A value is a secret when its key says so (`key`, `token`, `secret`, `password`, `credential`, `auth` as a
word of the key; keys ending in `_env` name an environment variable and are kept), or when it is the
user info of a URL or a URL query parameter with such a name. Secrets become "***"; everything else is
kept as it is.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_WORDS = {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "credential", "credentials", "auth",
                 "authorization", "signature", "sig"}


def is_secret_name(name: str) -> bool:
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name)).lower()) if w]
    return bool(words) and words[-1] != "env" and any(w in _SECRET_WORDS for w in words)


def redact_url(text: str) -> str:
    """`http://user:pass@host/v1?token=t&x=1` -> `http://***@host/v1?token=***&x=1`; other text unchanged."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return text
    if host is None:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of `value` (dicts, lists, str, ...) with every secret replaced by "***"."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        if key is not None and is_secret_name(key) and value:
            return MASK
        return redact_url(value)
    return value
