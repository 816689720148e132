"""The predicate: heading, speed, spin and scene words that follow the subject.

Headings add up as vectors in image space (x right, y down): 'from A to B' gives B - A, bare words
('up', 'leftward') and 'to/towards B' add their own step, so 'diagonally up and to the right' is
(0, -1) + (1, 0) -> up-right. A vertical verb ('rises', 'sinks') is used only when no heading was said.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexicon import (
    ADJECTIVES, BARE_X, BARE_Y, DETERMINERS, DOWN_VERBS, FAST_VERBS, FAST_WORDS, PLACE_MARKERS, POS_CENTER,
    POS_FILLER, POS_X, POS_Y, SCENE_PREPS, SLOW_VERBS, SLOW_WORDS, SPIN_VERBS, SPIN_WORDS, STATIC_VERBS,
    STATIC_WORDS, TO_WORDS, UP_VERBS, lemma,
)

HEADINGS = {
    (0, 0): "none", (-1, 0): "left", (1, 0): "right", (0, -1): "up", (0, 1): "down",
    (-1, -1): "up-left", (1, -1): "up-right", (-1, 1): "down-left", (1, 1): "down-right",
}
SCENE_STOP = (
    {",", "and", "then", "while", "as", "but", "instead", "diagonally", "from"}
    | TO_WORDS | SLOW_WORDS | FAST_WORDS | SPIN_WORDS | STATIC_WORDS
)


@dataclass(frozen=True)
class Motion:
    direction: str = "none"
    explicit: bool = False  # a heading was said, even if its words cancel out ('left and right')
    scene: tuple[str, ...] = ()


def _sign(v: int) -> int:
    return (v > 0) - (v < 0)


def position(toks: list[str], i: int) -> tuple[tuple[int, int] | None, int]:
    """A place on screen ('the bottom left corner') -> ((x, y) signs, index after it); None if no place."""
    x = y = 0
    found, j, n = False, i, len(toks)
    while j < n:
        t = toks[j]
        if t in ("up", "down") and j + 1 < n and toks[j + 1] in POS_X:  # 'towards the up right'
            y += BARE_Y[t]
        elif t in POS_X or t in POS_Y:
            x, y = x + POS_X.get(t, 0), y + POS_Y.get(t, 0)
        elif t not in POS_CENTER and t not in POS_FILLER:
            break
        found = found or t not in POS_FILLER
        j += 1
    return ((x, y) if found else None), j


def _scene_phrase(toks: list[str], i: int) -> tuple[list[str], int]:
    """'over a barren desert' from the preposition at toks[i] up to the next heading, adverb or verb."""
    words, j = [toks[i]], i + 1
    while j < len(toks):
        t, prev = toks[j], toks[j - 1]
        if t in SCENE_STOP or t in BARE_Y or (t in BARE_X and t not in POS_X):
            break
        if t in POS_X and prev not in PLACE_MARKERS:  # 'on the road left': a heading, not a place
            break
        if lemma(t) is not None and prev not in DETERMINERS and prev not in ADJECTIVES:
            break
        words.append(t)
        j += 1
    return words, j


def read_motion(toks: list[str]) -> Motion:
    dx = dy = 0
    explicit, implied, scene = False, None, []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "from" or t in TO_WORDS:
            place, j = position(toks, i + 1)
            if place is not None:
                sign = -1 if t == "from" else 1
                dx, dy, explicit, i = dx + sign * place[0], dy + sign * place[1], True, j
                continue
            if t in TO_WORDS and i + 1 < len(toks) and lemma(toks[i + 1]) is not None:  # 'to move'
                i += 1
                continue
        if t in SCENE_PREPS:
            words, i = _scene_phrase(toks, i)
            if any(w not in DETERMINERS and w not in SCENE_PREPS for w in words):
                scene.append(" ".join(words).replace(" 's", "'s"))
            continue
        if t in BARE_X or t in BARE_Y:
            dx, dy, explicit = dx + BARE_X.get(t, 0), dy + BARE_Y.get(t, 0), True
        elif implied is None:
            verb = lemma(t)
            implied = "up" if verb in UP_VERBS else "down" if verb in DOWN_VERBS else None
        i += 1
    direction = HEADINGS[(_sign(dx), _sign(dy))] if explicit else implied or "none"
    return Motion(direction=direction, explicit=explicit, scene=tuple(scene))


def speed_of(toks: list[str]) -> str:
    """The first speed word decides: 'slowly', 'gently' -> slow; 'quickly', 'races', 'zooms' -> fast."""
    for t in toks:
        verb = lemma(t)
        if t in SLOW_WORDS or verb in SLOW_VERBS:
            return "slow"
        if t in FAST_WORDS or verb in FAST_VERBS:
            return "fast"
    return "normal"


def spins(toks: list[str]) -> bool:
    return any(t in SPIN_WORDS or lemma(t) in SPIN_VERBS for t in toks)


def stays_still(toks: list[str]) -> bool:
    return any(t in STATIC_WORDS or lemma(t) in STATIC_VERBS for t in toks)
