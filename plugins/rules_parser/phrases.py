"""Noun phrases: '[determiner] [count] [colour/adjectives] noun', joined by 'and' or commas.

Known nouns (`worldsim.objects`) end a phrase at once. An unknown noun is the head of the phrase: the
last word before the verb, after determiner, count, colour and adjectives ('A green dragon flies' ->
'dragon'). Without a verb the phrase needs a determiner, a count or a colour to count as one.

Counts: digits, number words up to 'ninety-nine' ('seventeen', 'twenty one', 'twenty-one'), 'a dozen', 'a
hundred', 'two hundred', 'three dozen', and vague ones ('hundreds of', 'dozens of'). A count outside
ObjectSpec.count's range (1-16) is a ParseError naming the phrase, the value and the range
('seventeen balls: count 17 is more than 16; accepted 1-16'), never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass

from worldsim.colors import COLORS, canonical_color
from worldsim.commands import preview
from worldsim.errors import ParseError, one_line
from worldsim.objects import singular
from worldsim.types.plan import ObjectSpec

from .lexicon import (
    ADJECTIVES, BARE_X, BARE_Y, COLOR_LIKE, COLOR_SUFFIXES, COLORED, DETERMINERS, FAST_WORDS, NUMBERS, PRONOUNS,
    SCALES, SCENE_PREPS, SHADES, SINGULAR_DETERMINERS, SLOW_WORDS, SPIN_WORDS, STATIC_WORDS, TENS, UNITS,
    VAGUE_COUNTS, lemma,
)


def _count_bounds() -> tuple[int, int]:
    """ObjectSpec.count's accepted range: the parser refuses what the plan would."""
    lo = hi = None
    for m in ObjectSpec.model_fields["count"].metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return int(lo), int(hi)


MIN_COUNT, MAX_COUNT = _count_bounds()

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
        raise ParseError(f"unknown colour '{preview(word)}'; accepted: {accepted_colors()}")
    return color


def _colorish(word: str) -> bool:
    """'reddish', 'bluish', 'greyish': a colour with a colour-forming suffix."""
    for suffix in COLOR_SUFFIXES:
        stem = word.removesuffix(suffix)
        undoubled = stem[:-1] if stem[-1:] == stem[-2:-1] else stem  # 'reddish' -> 'red'
        if stem != word and any(canonical_color(s) for s in (stem, stem + "e", undoubled)):  # 'bluish' -> 'blue'
            return True
    return False


def looks_like_color(tok: str) -> bool:
    """An unknown word that reads as a colour: a COLOR_LIKE name ('chartreuse', 'ultraviolet'), a colour + 'ish'
    ('reddish'), or a hyphenated mix of colours ('blue-green', 'reddish-brown')."""
    if tok in COLOR_LIKE or _colorish(tok):
        return True
    parts = tok.split("-")
    return len(parts) > 1 and all(canonical_color(p) or p in COLOR_LIKE or _colorish(p) or p in SHADES for p in parts)


def color_word(tok: str) -> str | None:
    """Canonical colour of a colour token ('grey' -> 'gray', 'red-colored' -> 'red'), None for other words;
    ParseError for a word that reads as a colour the table does not hold (`looks_like_color`)."""
    color = canonical_color(tok)
    if color is not None:
        return color
    if looks_like_color(tok):
        return required_color(tok)
    for suffix in ("-colored", "-coloured"):
        if tok.endswith(suffix):
            return required_color(tok.removesuffix(suffix))
    return None


def count_at(toks: list[str], i: int) -> tuple[int, int] | None:
    """The count at toks[i] -> (value, index after it); None when there is none. Reads '17', 'seventeen',
    'twenty one', 'twenty-one', 'hundred' (after 'a'), 'two hundred', 'three dozen', 'hundreds of'."""
    n = len(toks)
    if i >= n:
        return None
    t, j = toks[i], i + 1
    if t in VAGUE_COUNTS:
        return VAGUE_COUNTS[t], (j + 1 if toks[j : j + 1] == ["of"] else j)
    if t.isdigit():
        value = int(t) if len(t) <= 12 else 10**12  # no int() of a 5000-digit token: any such count is too many
    elif t in NUMBERS:
        value = NUMBERS[t]
        if t in TENS and j < n and UNITS.get(toks[j], 0) > 0:  # 'twenty one'
            value, j = value + UNITS[toks[j]], j + 1
    else:
        return None
    while j < n and toks[j] in SCALES and t not in ("several", "both"):  # 'two hundred', 'three dozen'
        value, j = value * SCALES[toks[j]], j + 1
    return value, j


def check_count(count: int, words: list[str]) -> int:
    """`count` when ObjectSpec accepts it; else ParseError naming the phrase, the value and the range."""
    if MIN_COUNT <= count <= MAX_COUNT:
        return count
    what = f"more than {MAX_COUNT}" if count > MAX_COUNT else f"less than {MIN_COUNT}"
    shown = count if count < 10**12 else f"{10**12}+"
    raise ParseError(f"{preview(' '.join(words))}: count {shown} is {what}; accepted {MIN_COUNT}-{MAX_COUNT}")


def _phrase_end(toks: list[str], i: int) -> int:
    """Index after the noun phrase whose words continue at toks[i] (for messages)."""
    while i < len(toks):
        t = toks[i]
        if singular(t) is not None:
            return i + 1
        if t in BOUNDARY or t in PRONOUNS or lemma(t) is not None:
            return i
        i += 1
    return i


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
    if (c := count_at(toks, i)) is not None:
        count, evidence, i = c[0], True, c[1]
        check_count(count, toks[start:_phrase_end(toks, i)])  # names the phrase: 'seventeen balls'

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
