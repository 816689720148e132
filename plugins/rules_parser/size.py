"""Size words of scale edits: how much bigger or smaller a command asks an object to be, as one factor.

Two readers, both `(toks, i) -> (factor, index after) | None`:

- `size_expression`: what follows the object after 'make' / 'turn' / 'get' ('make the ball ...'):
      [a bit | slightly | much] bigger / larger / smaller      2, 0.5 (a bit / slightly: 1.25, 0.8)
      F times / Fx bigger, F times smaller                     F, 1/F ('three times bigger' = 3)
      F times as big / large, F times as small                 F, 1/F ('twice as big' = 2, 'half as big' = 0.5)
      F [of] its / the [original | current] size              F ('half the size', 'a third of its size')
      N% bigger / smaller, N% of its size                      1 + N/100, 1 - N/100, N/100
      a bare F or N% when the command says 'size' ('set the ball's size to 2x')
- `scale_args`: what follows the object after a scale verb ('shrink the ball ...', 'scale it ...'):
      nothing                                                  the verb's default (enlarge 2, shrink 0.5; scale /
                                                               resize need a factor)
      up / down                                                2 / 0.5, or the direction of what follows
      by F, by a factor of F, F times, Fx                      F for scale / resize; for enlarge the larger of
                                                               F and 1/F, for shrink the smaller ('shrink by 2' = 0.5)
      by N%                                                    scale: N/100; enlarge: 1 + N/100; shrink: 1 - N/100
      by half, in half                                         shrink / scale 0.5; enlarge 1.5
      to F [its size], to N%, to be twice as big, any size_expression   that size
A multiplier F is 'twice' / 'double' (2), 'thrice' / 'triple' (3), 'quadruple' (4), 'half' (0.5), a number
('three', '1.5', '2x', 'one and a half'), or a fraction ('a third', 'two thirds', 'a quarter').

Words after the size that only say when or compared to what ('than before', 'in every frame') are
accepted by `is_tail`.
"""

from __future__ import annotations

import math
import re

from worldsim.commands import preview
from worldsim.errors import ParseError

from .lexicon import (
    BIG_WORDS, BIGGER, FRACTIONS, MILD_WORDS, MULTIPLIERS, NUMBERS, SIZE_ADJECTIVES, SIZE_NOUNS, SIZE_OWNERS,
    SIZE_TAIL, SMALL_WORDS, SMALLER, STRONG_WORDS,
)

_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_TIMES_X = re.compile(r"(\d+(?:\.\d+)?)x")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def _number(tok: str) -> float | None:
    """'3', '1.5', 'three' -> the value; None for other words ('several' and 'both' are not factors)."""
    if _DECIMAL.fullmatch(tok):
        return float(tok)
    value = NUMBERS.get(tok)
    return float(value) if value is not None and tok not in ("several", "both") else None


def _positive(value: float, toks: list[str], i: int, j: int) -> float:
    said = preview(" ".join(toks[i:j]))
    if value <= 0:
        raise ParseError(f"size factor '{said}' must be above zero; e.g. 'twice as big', 'half the size'")
    if not math.isfinite(value):
        raise ParseError(f"size factor '{said}' is too large; e.g. 'twice as big', 'three times bigger'")
    return value


def multiplier(toks: list[str], i: int) -> tuple[float, int, bool] | None:
    """A multiplier at toks[i] -> (value, index after it, whether it said 'times' / 'x'); None if there is none."""
    n = len(toks)
    if i >= n:
        return None
    t = toks[i]
    if t in MULTIPLIERS:
        return MULTIPLIERS[t], i + 1, False
    if t in ("a", "an", "one") and i + 1 < n and toks[i + 1] in FRACTIONS:
        return 1.0 / FRACTIONS[toks[i + 1]], i + 2, False
    if m := _TIMES_X.fullmatch(t):
        return _positive(float(m.group(1)), toks, i, i + 1), i + 1, True
    value = _number(t)
    if value is None:
        return None
    j = i + 1
    if j < n and toks[j] in FRACTIONS:  # 'two thirds'
        return _positive(value / FRACTIONS[toks[j]], toks, i, j + 1), j + 1, False
    if toks[j : j + 3] == ["and", "a", "half"]:  # 'one and a half times'
        value, j = value + 0.5, j + 3
    value = _positive(value, toks, i, j)
    if j < n and toks[j] in ("times", "x", "fold"):
        return value, j + 1, True
    return value, j, False


def percent(toks: list[str], i: int) -> tuple[float, int] | None:
    """'50%', '50 percent', '50 per cent' at toks[i] -> (0.5, index after)."""
    if i >= len(toks):
        return None
    if m := _PERCENT.fullmatch(toks[i]):
        return _positive(float(m.group(1)), toks, i, i + 1) / 100, i + 1
    value = _number(toks[i])
    if value is None:
        return None
    for words in (["percent"], ["per", "cent"]):
        if toks[i + 1 : i + 1 + len(words)] == words:
            return _positive(value, toks, i, i + 1) / 100, i + 1 + len(words)
    return None


def _of_size(toks: list[str], j: int) -> int | None:
    """'[of] its / the [original] size' at toks[j] -> index after it."""
    if toks[j : j + 1] == ["of"]:
        j += 1
    if j < len(toks) and toks[j] in SIZE_OWNERS:
        j += 1
        while j < len(toks) and toks[j] in SIZE_ADJECTIVES:
            j += 1
        if j < len(toks) and toks[j] in SIZE_NOUNS:
            return j + 1
    return None


def size_expression(toks: list[str], i: int, bare: bool = False) -> tuple[float, int] | None:
    """A size after the object (module docstring); `bare`: a lone multiplier or percentage counts too."""
    n = len(toks)
    if i >= n:
        return None
    # [a bit | much] bigger / smaller
    j, mild = i, False
    if toks[j : j + 2] in (["a", "bit"], ["a", "little"], ["a", "tad"]):
        j, mild = j + 2, True
    elif toks[j] in MILD_WORDS:
        j, mild = j + 1, True
    elif toks[j : j + 2] == ["a", "lot"]:
        j += 2
    elif toks[j] in STRONG_WORDS:
        j += 1
    if j < n and toks[j] in BIGGER:
        return (1.25 if mild else 2.0), j + 1
    if j < n and toks[j] in SMALLER:
        return (0.8 if mild else 0.5), j + 1
    # N% bigger / smaller / of its size
    if (p := percent(toks, i)) is not None:
        value, j = p
        if j < n and toks[j] in BIGGER:
            return 1.0 + value, j + 1
        if j < n and toks[j] in SMALLER and value < 1:
            return 1.0 - value, j + 1
        if (k := _of_size(toks, j)) is not None:
            return value, k
        return (value, j) if bare else None
    # F times bigger / as big / the size
    if (m := multiplier(toks, i)) is not None:
        value, j, _ = m
        if j < n and toks[j] in BIGGER:
            return (value, j + 1) if value > 1 else None
        if j < n and toks[j] in SMALLER:
            return (1.0 / value if value > 1 else value), j + 1
        if toks[j : j + 1] == ["as"] and j + 1 < n and toks[j + 1] in BIG_WORDS:
            return value, j + 2
        if toks[j : j + 1] == ["as"] and j + 1 < n and toks[j + 1] in SMALL_WORDS:
            return 1.0 / value, j + 2
        if (k := _of_size(toks, j)) is not None:
            return value, k
        return (value, j) if bare else None
    return None


def scale_args(toks: list[str], i: int, default: float | None) -> tuple[float | None, int]:
    """The size after a scale verb's object (module docstring); `default`: the verb's own factor (2 enlarge,
    0.5 shrink, None scale / resize). Returns (None, i) when the words at i say no size."""
    n = len(toks)
    j = i
    if j < n and toks[j] in ("up", "down"):
        default, j = (2.0 if toks[j] == "up" else 0.5), j + 1
    direction = None if default is None else ("up" if default > 1 else "down")
    for lead in (["to", "be"], ["to"], ["so", "it", "is"], ["until", "it", "is"]):  # an absolute size
        if toks[j : j + len(lead)] == lead and (got := size_expression(toks, j + len(lead), bare=True)) is not None:
            return got
    if (got := size_expression(toks, j)) is not None:  # 'scale the ball twice as big'
        return got
    by = toks[j : j + 1] == ["by"]
    k = j + 1 if by else j
    if by and toks[k : k + 3] == ["a", "factor", "of"]:
        k += 3
    if (by and toks[k : k + 1] == ["half"]) or toks[j : j + 2] == ["in", "half"]:
        return (1.5 if direction == "up" else 0.5), (k + 1 if by else j + 2)
    if by and (p := percent(toks, k)) is not None:
        value, end = p
        if direction == "up":
            return 1.0 + value, end
        if direction == "down":
            return (1.0 - value if value < 1 else None), end
        return value, end
    if (m := multiplier(toks, k)) is not None and (by or m[2]):
        value, end, _ = m
        if direction == "up":
            return max(value, 1.0 / value), end
        if direction == "down":
            return min(value, 1.0 / value), end
        return value, end
    return default, j


def is_tail(toks: list[str]) -> bool:
    """Words after a size that add nothing to it: 'than before', 'than it is now', 'in every frame'."""
    return all(t in SIZE_TAIL for t in toks)
