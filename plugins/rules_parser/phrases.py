"""Noun phrases: '[determiner] [count] [colour/adjectives] noun', joined by 'and' or commas.

Known nouns (`worldsim.objects`) end a phrase at once. An unknown noun is the head of the phrase: the
last word before the verb, after determiner, count, colour and adjectives ('A green dragon flies' ->
'dragon'). Without a verb the phrase needs a determiner, a count or a colour to count as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from worldsim.colors import COLORS, canonical_color
from worldsim.errors import ParseError, one_line
from worldsim.objects import singular

from .lexicon import (
    ADJECTIVES, BARE_X, BARE_Y, COLOR_LIKE, COLORED, DETERMINERS, FAST_WORDS, MAX_COUNT, NUMBERS, PRONOUNS,
    SCENE_PREPS, SINGULAR_DETERMINERS, SLOW_WORDS, SPIN_WORDS, STATIC_WORDS, lemma,
)

BOUNDARY = (
    {"and", ",", "'s", "that", "which", "who", "while", "as", "then", "instead", "diagonally"}
    | SCENE_PREPS | set(BARE_X) | set(BARE_Y) | SLOW_WORDS | FAST_WORDS | SPIN_WORDS | STATIC_WORDS | COLORED
)


@dataclass(frozen=True)
class NounPhrase:
    name: str
    color: str | None = None
    count: int = 1


def accepted_colors() -> str:
    return one_line(COLORS, limit=len(COLORS))


def required_color(word: str) -> str:
    """The canonical colour `word` names, where the grammar demands a colour."""
    color = canonical_color(word)
    if color is None:
        raise ParseError(f"unknown colour '{word}'; accepted: {accepted_colors()}")
    return color


def color_word(tok: str) -> str | None:
    """Canonical colour of a colour token ('grey' -> 'gray', 'red-colored' -> 'red'), None for other words."""
    color = canonical_color(tok)
    if color is not None:
        return color
    if tok in COLOR_LIKE:
        return required_color(tok)
    for suffix in ("-colored", "-coloured"):
        if tok.endswith(suffix):
            return required_color(tok.removesuffix(suffix))
    return None


def count_word(tok: str) -> int | None:
    count = int(tok) if tok.isdigit() else NUMBERS.get(tok)
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise ParseError(f"count '{tok}' is out of range; accepted: 1 to {MAX_COUNT}")
    return count


def _plural_like(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _singularize(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    return word[:-1]


def noun_phrase(toks: list[str], i: int, *, pronouns: bool = False) -> tuple[NounPhrase | None, int]:
    """Parse one noun phrase starting at toks[i]; returns (phrase or None, index after it)."""
    start, n = i, len(toks)
    if pronouns and i < n and toks[i] in PRONOUNS:
        return NounPhrase("it"), i + 1
    count, color, singular_det, evidence = None, None, False, False
    while i < n and toks[i] in DETERMINERS:
        singular_det = singular_det or toks[i] in SINGULAR_DETERMINERS
        evidence, i = True, i + 1
    if i < n and (c := count_word(toks[i])) is not None:
        count, evidence, i = c, True, i + 1

    words: list[tuple[int, str]] = []  # (index, word) of candidate head words
    verb_next = False
    while i < n:
        t = toks[i]
        if (c := color_word(t)) is not None:
            color, evidence, i = color or c, True, i + 1
            continue
        if (known := singular(t)) is not None:
            plural = known != t
            return NounPhrase(known, color, _count(count, plural)), i + 1
        if t in ADJECTIVES:
            i += 1
            continue
        if t in BOUNDARY or t in PRONOUNS:
            break
        if words and lemma(t) is not None:
            verb_next = True
            break
        words.append((i, t))
        i += 1
    if not words or not (evidence or verb_next):
        return None, start

    head = words[-1][1]
    if len(words) >= 2 and not verb_next:
        # No known verb ended the phrase: an unknown verb may be its last word ('a dragon swoops').
        prev, last = words[-2][1], words[-1][1]
        singular_subject = singular_det or count == 1
        plural_subject = count is not None and count > 1
        if (singular_subject and _plural_like(last)) or (
            plural_subject and _plural_like(prev) and not _plural_like(last)
        ):
            head, i = prev, words[-1][0]
    plural = not singular_det and count != 1 and _plural_like(head)
    return NounPhrase(_singularize(head) if plural else head, color, _count(count, plural)), i


def _count(count: int | None, plural: bool) -> int:
    """An explicit count wins; a bare plural ('the balls') means two."""
    return count if count is not None else (2 if plural else 1)


def noun_phrases(toks: list[str], i: int = 0, *, pronouns: bool = False) -> tuple[list[NounPhrase], int]:
    """One or more noun phrases joined by 'and' / commas ('a red ball and a blue cube')."""
    first, i = noun_phrase(toks, i, pronouns=pronouns)
    if first is None:
        return [], i
    found = [first]
    while i < len(toks) and toks[i] in ("and", ","):
        j = i + 1
        while j < len(toks) and toks[j] in ("and", ","):
            j += 1
        nxt, j = noun_phrase(toks, j, pronouns=pronouns)
        if nxt is None:
            break
        found.append(nxt)
        i = j
    return found, i
