"""Read what a multiple-choice option says (a direction, a rotation sense, a count, "there is no ...") and pick
the option that matches a decision, so a model-free answerer can answer in the option's own words.

    meaning("up-right")                -> ("direction", "up-right")
    meaning("counter-clockwise")       -> ("rotation", "counter-clockwise")
    meaning("3")                       -> ("count", 3)
    meaning("no green car there")      -> ("absent", None)   (VLM4D's phrasing; "there is no green car" too)
"""

from __future__ import annotations

import math
import re

from worldsim.types.plan import DIRECTION_VECTORS

NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen".split())}
ABSENT = re.compile(r"^no\s|\b(there (is|are) no|there isn'?t|there aren'?t|no such|not (present|in the (video|scene))|"
                    r"does not (exist|appear)|doesn'?t (exist|appear)|absent|not visible|no \w+ (is|are) (visible|present))\b")
NOT_ROTATING = re.compile(r"\b(not (rotating|spinning|turning)|no rotation|does not (rotate|spin)|doesn'?t (rotate|spin))\b")
CCW = re.compile(r"\b(counter[- ]?clockwise|anti[- ]?clockwise)\b")
CW = re.compile(r"\bclockwise\b")
NOT_MOVING = re.compile(r"\b(not moving|stationary|standing still|static|motionless|does not move|doesn'?t move|no motion)\b")
VERTICAL = {"up": "up", "upward": "up", "upwards": "up", "top": "up", "upper": "up",
            "down": "down", "downward": "down", "downwards": "down", "bottom": "down", "lower": "down"}
HORIZONTAL = {"left": "left", "leftward": "left", "leftwards": "left", "right": "right", "rightward": "right", "rightwards": "right"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def meaning(text: str) -> tuple[str, object] | None:
    """(kind, value) of an option text, kind in absent | rotation | direction | count; None when unreadable."""
    low = " ".join(text.lower().replace("_", " ").split())
    if ABSENT.search(low):
        return "absent", None
    if NOT_ROTATING.search(low):
        return "rotation", "none"
    if CCW.search(low):
        return "rotation", "counter-clockwise"
    if CW.search(low):
        return "rotation", "clockwise"
    if NOT_MOVING.search(low):
        return "direction", "none"
    words = _words(low.replace("-", " "))
    vertical = next((VERTICAL[w] for w in words if w in VERTICAL), None)
    horizontal = next((HORIZONTAL[w] for w in words if w in HORIZONTAL), None)
    if vertical or horizontal:
        return "direction", "-".join(p for p in (vertical, horizontal) if p)
    for w in words:
        if w.isdigit():
            return "count", int(w)
        if w in NUMBER_WORDS:
            return "count", NUMBER_WORDS[w]
    return None


def asked_kind(choices: dict[str, str]) -> str | None:
    """What the options are about: the kind most options share, ignoring an 'absent' option."""
    kinds = [m[0] for m in (meaning(t) for t in choices.values()) if m and m[0] != "absent"]
    return max(set(kinds), key=kinds.count) if kinds else None


def _angle_gap(a: str, b: str) -> float:
    va, vb = DIRECTION_VECTORS.get(a, (0.0, 0.0)), DIRECTION_VECTORS.get(b, (0.0, 0.0))
    if a == "none" or b == "none":
        return 0.0 if a == b else math.pi  # 'not moving' is as far as the opposite direction from any motion
    return abs(math.atan2(va[0] * vb[1] - va[1] * vb[0], va[0] * vb[0] + va[1] * vb[1]))


def pick(choices: dict[str, str], kind: str, value) -> str | None:
    """The letter whose option says (kind, value); else the nearest option of the same kind (closest direction,
    closest count); None when no option has that kind."""
    read = {letter: meaning(text) for letter, text in choices.items()}
    same = {letter: m[1] for letter, m in read.items() if m and m[0] == kind}
    for letter, v in same.items():
        if v == value:
            return letter
    if not same:
        return None
    if kind == "direction":
        return min(same, key=lambda k: _angle_gap(same[k], value))
    if kind == "count":
        return min(same, key=lambda k: abs(same[k] - value))
    return None


def answer_text(choices: dict[str, str], letter: str) -> str:
    return f"{letter}. {choices[letter]}"
