"""Named colours (sRGB in [0, 1]) shared by parsers, generators and editors."""

from __future__ import annotations

from worldsim.errors import InputError, one_line

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.10, 0.10),
    "green": (0.12, 0.70, 0.20),
    "blue": (0.12, 0.25, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "orange": (0.98, 0.50, 0.05),
    "purple": (0.55, 0.15, 0.75),
    "pink": (0.98, 0.45, 0.70),
    "brown": (0.50, 0.30, 0.12),
    "black": (0.05, 0.05, 0.05),
    "white": (0.96, 0.96, 0.96),
    "gray": (0.50, 0.50, 0.50),
    "cyan": (0.05, 0.80, 0.85),
    "magenta": (0.90, 0.10, 0.80),
    "gold": (0.85, 0.68, 0.15),
    "silver": (0.75, 0.75, 0.78),
    "teal": (0.05, 0.50, 0.50),
    "navy": (0.05, 0.08, 0.40),
    "beige": (0.90, 0.85, 0.70),
    "maroon": (0.45, 0.05, 0.10),
    "lime": (0.60, 0.95, 0.10),
}

ALIASES: dict[str, str] = {"grey": "gray", "violet": "purple", "golden": "gold", "turquoise": "teal"}


def canonical_color(word: str) -> str | None:
    """'Grey' -> 'gray'; None when the word is not a colour name."""
    w = word.lower().strip()
    w = ALIASES.get(w, w)
    return w if w in COLORS else None


def color_rgb(name: str) -> tuple[float, float, float]:
    key = canonical_color(name)
    if key is None:
        raise InputError(f"unknown colour '{name}'; accepted: {one_line(COLORS, limit=len(COLORS))}")
    return COLORS[key]
