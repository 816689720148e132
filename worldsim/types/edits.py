"""Edit operations: what an edit command asks for, as an op name plus typed parameters.

An editor declares the ops it implements (`Editor.ops`), each as an `EditParams` subclass: the op's
name, the verbs that name it in a command (for parsers), a one-line description and the parameter
fields. A plan's `EditSpec` carries `op` + `params`; `worldsim.edit_ops.validate_edit` checks them
against the installed ops before any work starts. The built-in ops' parameter models live here so
parsers can build them without importing an editor plugin.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worldsim.types.plan import Direction


class EditParams(BaseModel):
    """Base of an op's parameters. Subclasses set `op`, `verbs`, `description` and declare the fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: ClassVar[str]
    verbs: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    multi_target: ClassVar[bool] = True  # "make the fish and the seaweed black": one call per named object


class RecolorParams(EditParams):
    op = "recolor"
    verbs = ("make", "paint", "color", "colour", "recolor", "recolour", "turn", "change")
    description = "give the object a named colour, keeping its shading"

    color: str = Field(description="a named colour (worldsim.colors.COLORS)")

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        from worldsim.colors import COLORS, canonical_color

        name = canonical_color(value)
        if name is None:
            raise ValueError(f"unknown colour '{value}'; accepted: {', '.join(sorted(COLORS))}")
        return name


class ExtractParams(EditParams):
    op = "extract"
    verbs = ("extract", "isolate", "keep")
    description = "keep only the object; everything else is removed"
    multi_target = False


class RemoveParams(EditParams):
    op = "remove"
    verbs = ("remove", "delete", "erase")
    description = "delete the object from every frame"


class MoveParams(EditParams):
    op = "move"
    verbs = ("move", "drive", "roll", "slide", "fly")
    description = "change the object's heading: re-plan the trajectory and regenerate with the same seed"
    multi_target = False

    direction: Direction = Field(description="the new heading in image space ('none': stay in place)")


class ScaleParams(EditParams):
    op = "scale"
    verbs = ("scale", "resize", "enlarge", "shrink", "grow")
    description = "make the object bigger or smaller by a factor, resting on the ground, in every frame"

    factor: float = Field(gt=0.1, le=10.0, description="size multiplier (2: twice as big, 0.5: half the size)")

    @field_validator("factor")
    @classmethod
    def _not_one(cls, value: float) -> float:
        if abs(value - 1.0) < 1e-6:
            raise ValueError("a scale factor of 1 changes nothing; use e.g. 2 (bigger) or 0.5 (smaller)")
        return value


BUILTIN_OPS: tuple[type[EditParams], ...] = (RecolorParams, ExtractParams, RemoveParams, MoveParams, ScaleParams)
