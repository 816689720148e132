"""The predicate: heading, speed, spin and scene words that follow the subject.

Headings add up as vectors in image space (x right, y down): 'from A to B' gives B - A, bare words
('up', 'leftward') and 'to/towards B' add their own step, so 'diagonally up and to the right' is
(0, -1) + (1, 0) -> up-right. A vertical verb ('rises', 'sinks') is used only when no heading was said.

Refused with a one-line ParseError, never dropped to direction 'none':
- contradicting headings: two steps of opposite sign on one axis ('left and right', 'left then right',
  'up and down', 'rises and falls'); the message names both words;
- an unknown word in a motion slot: the words right after a motion verb ('rolls sideways', 'runs away')
  must be headings, speeds, spins, 'still', other verbs or fillers such as 'very' (`lexicon.MOTION_FILLERS`).
  A preposition, 'and', a comma, a determiner, a pronoun or a known noun ends the slot ('chases the
  ball', 'rolls across the sunny park'); be-verbs open none ('is', 'appears': `lexicon.NON_MOTION_VERBS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from worldsim.commands import preview
from worldsim.errors import ParseError
from worldsim.objects import singular

from .lexicon import (
    ADJECTIVES, BARE_X, BARE_Y, DETERMINERS, DOWN_VERBS, FAST_VERBS, FAST_WORDS, MOTION_FILLERS, NON_MOTION_VERBS,
    PLACE_MARKERS, POS_CENTER, POS_FILLER, POS_X, POS_Y, PRONOUNS, SCENE_PREPS, SLOW_VERBS, SLOW_WORDS, SPIN_VERBS,
    SPIN_WORDS, STATIC_VERBS, STATIC_WORDS, TO_WORDS, UP_VERBS, lemma,
)

HEADINGS = {
    (0, 0): "none", (-1, 0): "left", (1, 0): "right", (0, -1): "up", (0, 1): "down",
    (-1, -1): "up-left", (1, -1): "up-right", (-1, 1): "down-left", (1, 1): "down-right",
}
SCENE_STOP = (
    {",", "and", "then", "while", "as", "but", "instead", "diagonally", "from"}
    | TO_WORDS | SLOW_WORDS | FAST_WORDS | SPIN_WORDS | STATIC_WORDS
)
# Words that end a motion slot (module docstring) besides prepositions, determiners, pronouns and known nouns.
SLOT_END = {",", "and", "then", "while", "as", "but", "or", "instead", "when", "until", "before", "after", "where",
            "which", "that", "who", "'s", "together", "about", "for", "because", "since", "like", "than", "if",
            "once", "whilst", "off", "out"}
SLOT_WORDS = set(BARE_X) | set(BARE_Y) | SLOW_WORDS | FAST_WORDS | SPIN_WORDS | STATIC_WORDS | MOTION_FILLERS
ACCEPTED_MOTION = ("a heading (left, right, up, down, leftward, upwards, north, ..., 'to the left', 'from left to "
                   "right', 'towards the upper right'), a speed (slowly, quickly, fast, gently, ...), a spin "
                   "(clockwise) or 'still'")


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


def _ends_slot(t: str) -> bool:
    return t in SLOT_END or t in SCENE_PREPS or t in DETERMINERS or t in PRONOUNS or singular(t) is not None


def _check_slot(t: str, verb: str | None) -> str | None:
    """The verb whose motion slot continues after `t` (None: the slot ended); ParseError for an unknown word."""
    if verb is None:
        return None
    if t in SLOT_WORDS or lemma(t) is not None:
        return verb
    if _ends_slot(t):
        return None
    raise ParseError(f"unknown motion word '{preview(t)}' after '{preview(verb)}'; accepted: {ACCEPTED_MOTION}")


def _contradiction(steps: list[tuple[int, int, str]]) -> None:
    """ParseError naming two steps of opposite sign on one axis ('left' and 'right')."""
    for axis in (0, 1):
        pos = next((k for k, step in enumerate(steps) if step[axis] > 0), None)
        neg = next((k for k, step in enumerate(steps) if step[axis] < 0), None)
        if pos is not None and neg is not None:
            first, second = (steps[k][2] for k in sorted((pos, neg)))
            raise ParseError(f"contradicting motion '{preview(first)}' and '{preview(second)}': a command gives one "
                             f"heading, shared by its objects, e.g. 'to the left' or 'up and to the right'")


def read_motion(toks: list[str]) -> Motion:
    """The heading, whether one was said, and the scene phrases of a predicate; ParseError for contradicting
    headings or an unknown word in a motion slot (module docstring)."""
    steps: list[tuple[int, int, str]] = []  # (dx, dy, words) of each heading said
    start: tuple[int, int, str] | None = None  # a 'from A' waiting for its 'to B'
    implied: list[tuple[int, int, str]] = []  # vertical verbs ('rises', 'sinks')
    scene: list[str] = []
    slot: str | None = None  # the motion verb whose slot the next word is in
    i = 0
    while i < len(toks):
        t = toks[i]
        slot = _check_slot(t, slot)
        if t == "from" or t in TO_WORDS:
            place, j = position(toks, i + 1)
            if place is not None:
                words = " ".join(toks[i:j])
                if t == "from":
                    if start is not None:
                        steps.append(start)
                    start = (-place[0], -place[1], words)
                elif start is not None:  # 'from A to B': one step, B - A
                    steps.append((start[0] + place[0], start[1] + place[1], f"{start[2]} {words}"))
                    start = None
                else:
                    steps.append((place[0], place[1], words))
                i = j
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
            steps.append((BARE_X.get(t, 0), BARE_Y.get(t, 0), t))
        elif (verb := lemma(t)) is not None:
            if verb in UP_VERBS or verb in DOWN_VERBS:
                implied.append((0, -1 if verb in UP_VERBS else 1, t))
            if verb not in NON_MOTION_VERBS:
                slot = t
        i += 1
    if start is not None:
        steps.append(start)
    _contradiction(steps)
    if steps:
        dx, dy = sum(s[0] for s in steps), sum(s[1] for s in steps)
        return Motion(direction=HEADINGS[(_sign(dx), _sign(dy))], explicit=True, scene=tuple(scene))
    _contradiction(implied)
    direction = "up" if implied and implied[0][1] < 0 else "down" if implied else "none"
    return Motion(direction=direction, explicit=False, scene=tuple(scene))


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
