"""Command text as every parser receives it: the shared input check and how messages quote a command.

- `check_command(text, max_chars=500)`: the stripped command; ParseError (one line) for non-text,
  empty or over-long input.
- `preview(text, limit=40)`: the command on one line, cut to `limit` characters with "...".
- `EXAMPLES`: what an accepted command looks like, for error messages.
"""

from __future__ import annotations

from worldsim.errors import ParseError

EXAMPLES = "a generate command like 'A red ball rolls from left to right' or an edit like 'make the ball blue'"


def preview(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_command(text: object, max_chars: int = 500) -> str:
    """The stripped command; ParseError (one line) for non-text, empty or over-long input. Shared by parsers."""
    if not isinstance(text, str):
        raise ParseError(f"command must be text, got {type(text).__name__}; accepted: {EXAMPLES}")
    text = text.strip()
    if not text:
        raise ParseError(f"empty command ''; accepted: {EXAMPLES}")
    if len(text) > max_chars:
        raise ParseError(f"command '{preview(text)}' is {len(text)} characters long; the limit is max_chars={max_chars}")
    return text
