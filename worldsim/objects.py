"""Object vocabulary: noun -> shape family and a plausible size (metres), shared by parsers and generators."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ShapeFamily = Literal["sphere", "box", "elongated", "hull", "generic"]


class ObjectKind(BaseModel):
    model_config = ConfigDict(frozen=True)

    family: ShapeFamily
    size: tuple[float, float, float]  # extent along world x (image right), y (up), z (depth)
    spins: bool = False  # rolls or turns when it moves (wheels, balls)
    plural: str | None = None


OBJECTS: dict[str, ObjectKind] = {
    "ball": ObjectKind(family="sphere", size=(0.65, 0.65, 0.65), spins=True),
    "balloon": ObjectKind(family="sphere", size=(0.5, 0.6, 0.5)),
    "sphere": ObjectKind(family="sphere", size=(0.5, 0.5, 0.5), spins=True),
    "orb": ObjectKind(family="sphere", size=(0.4, 0.4, 0.4)),
    "planet": ObjectKind(family="sphere", size=(0.7, 0.7, 0.7), spins=True),
    "apple": ObjectKind(family="sphere", size=(0.3, 0.3, 0.3)),
    "box": ObjectKind(family="box", size=(0.5, 0.5, 0.5), plural="boxes"),
    "cube": ObjectKind(family="box", size=(0.45, 0.45, 0.45)),
    "crate": ObjectKind(family="box", size=(0.6, 0.5, 0.5)),
    "block": ObjectKind(family="box", size=(0.5, 0.35, 0.35)),
    "robot": ObjectKind(family="box", size=(0.45, 0.8, 0.4)),
    "car": ObjectKind(family="elongated", size=(1.0, 0.45, 0.5), spins=False),
    "bus": ObjectKind(family="elongated", size=(1.4, 0.6, 0.5), plural="buses"),
    "truck": ObjectKind(family="elongated", size=(1.2, 0.6, 0.5)),
    "train": ObjectKind(family="elongated", size=(1.6, 0.5, 0.45)),
    "motorcycle": ObjectKind(family="elongated", size=(0.8, 0.45, 0.25)),
    "bicycle": ObjectKind(family="elongated", size=(0.8, 0.45, 0.2)),
    "harvester": ObjectKind(family="elongated", size=(1.3, 0.7, 0.6)),
    "tractor": ObjectKind(family="elongated", size=(1.0, 0.6, 0.5)),
    "scorpion": ObjectKind(family="elongated", size=(0.8, 0.25, 0.4)),
    "fish": ObjectKind(family="elongated", size=(0.7, 0.3, 0.2), plural="fish"),
    "shark": ObjectKind(family="elongated", size=(1.2, 0.4, 0.3)),
    "dog": ObjectKind(family="elongated", size=(0.8, 0.5, 0.3)),
    "cat": ObjectKind(family="elongated", size=(0.6, 0.4, 0.25)),
    "horse": ObjectKind(family="elongated", size=(1.1, 0.9, 0.35)),
    "cow": ObjectKind(family="elongated", size=(1.1, 0.8, 0.4)),
    "rocket": ObjectKind(family="elongated", size=(0.35, 1.0, 0.35)),
    "bird": ObjectKind(family="hull", size=(0.5, 0.2, 0.4)),
    "plane": ObjectKind(family="hull", size=(1.2, 0.3, 1.0)),
    "airplane": ObjectKind(family="hull", size=(1.2, 0.3, 1.0)),
    "drone": ObjectKind(family="hull", size=(0.6, 0.15, 0.6)),
    "boat": ObjectKind(family="hull", size=(1.2, 0.35, 0.5)),
    "ship": ObjectKind(family="hull", size=(1.5, 0.45, 0.6)),
    "leaf": ObjectKind(family="hull", size=(0.4, 0.05, 0.3), plural="leaves"),
    "seaweed": ObjectKind(family="elongated", size=(0.2, 0.9, 0.2), plural="seaweed"),
    "kite": ObjectKind(family="hull", size=(0.6, 0.6, 0.05)),
    "person": ObjectKind(family="elongated", size=(0.35, 1.0, 0.3), plural="people"),
    "man": ObjectKind(family="elongated", size=(0.35, 1.0, 0.3), plural="men"),
    "woman": ObjectKind(family="elongated", size=(0.35, 1.0, 0.3), plural="women"),
    "child": ObjectKind(family="elongated", size=(0.3, 0.7, 0.25), plural="children"),
}

GENERIC = ObjectKind(family="generic", size=(0.5, 0.5, 0.5))


def plural_of(noun: str) -> str:
    kind = OBJECTS.get(noun)
    if kind is not None and kind.plural:
        return kind.plural
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


PLURALS: dict[str, str] = {plural_of(n): n for n in OBJECTS}


def singular(word: str) -> str | None:
    """'buses' -> 'bus', 'ball' -> 'ball'; None for a word that is not a known noun."""
    w = word.lower()
    if w in OBJECTS:
        return w
    return PLURALS.get(w)


def object_kind(noun: str) -> ObjectKind:
    return OBJECTS.get(noun, GENERIC)
