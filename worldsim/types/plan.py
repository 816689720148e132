"""`Plan`: the single contract between the parser and every later stage. JSON-serialisable and validated."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_serializer, model_validator

Mode = Literal["generate", "edit"]
Direction = Literal["left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right", "none"]
Speed = Literal["slow", "normal", "fast"]

CameraMove = Literal["static", "pan-left", "pan-right", "tilt-up", "tilt-down", "dolly-in", "dolly-out",
                     "truck-left", "truck-right", "orbit-left", "orbit-right", "follow"]

DIRECTIONS: tuple[str, ...] = get_args(Direction)
SPEEDS: tuple[str, ...] = get_args(Speed)
CAMERA_MOVES: tuple[str, ...] = get_args(CameraMove)

# Unit image-space step per direction: x right, y down (DESIGN.md image convention).
DIRECTION_VECTORS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-0.7071067811865476, -0.7071067811865476),
    "up-right": (0.7071067811865476, -0.7071067811865476),
    "down-left": (-0.7071067811865476, 0.7071067811865476),
    "down-right": (0.7071067811865476, 0.7071067811865476),
    "none": (0.0, 0.0),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectSpec(_Model):
    name: str = Field(min_length=1, description="object noun, singular, lower case ('ball')")
    color: str | None = Field(default=None, description="named colour or None when unspecified")
    count: int = Field(default=1, ge=1, le=16)


class Keypoint(_Model):
    """A trajectory keypoint in normalised image coordinates; t in [0, 1] over the clip."""

    x: float
    y: float
    t: float = Field(ge=0.0, le=1.0)


class MotionSpec(_Model):
    direction: Direction = "none"
    speed: Speed = "normal"
    spin: bool = Field(default=False, description="object rotates about its vertical axis")
    keypoints: tuple[Keypoint, ...] = Field(default=(), description="filled by trajectory planning")


class CameraSpec(_Model):
    """How the camera moves over the clip (worldsim.camera_motion turns it into per-frame cameras).

    Film terms, as seen by the camera operator: pan = turn left/right in place, tilt = turn up/down in place,
    dolly = move forward (in) / back (out), truck = move sideways, orbit = circle the scene centre (or
    `target`) keeping it in view, follow = move with `target` so it stays framed. An object's commanded
    direction is its motion in the world as seen from the FIRST frame's camera, whatever the camera does.
    """

    motion: CameraMove = "static"
    speed: Speed = "normal"
    target: str | None = Field(default=None, description="object noun the camera follows (follow) or orbits (orbit-*)")

    @model_validator(mode="after")
    def _target_fits(self) -> "CameraSpec":
        if self.motion == "follow" and not self.target:
            raise ValueError("a follow camera needs a target object")
        if self.target and self.motion not in ("follow", "orbit-left", "orbit-right"):
            raise ValueError(f"camera motion '{self.motion}' takes no target (only follow and orbit-left/right do)")
        return self

    @property
    def moving(self) -> bool:
        return self.motion != "static"


STATIC_CAMERA = CameraSpec()


class EditSpec(_Model):
    """An edit: the op's name, the object it applies to, and the op's parameters.

    `op` is any op an installed editor declares (worldsim.edit_ops); `params` are checked against that
    op's `EditParams` model by `worldsim.edit_ops.validate_edit`. The legacy keys `color` and `direction`
    are accepted as parameters (`EditSpec(op="recolor", target="ball", color="blue")`).
    """

    op: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$", description="edit op name, e.g. recolor, scale")
    target: str = Field(min_length=1, description="object noun the edit applies to, or 'it'")
    params: dict[str, JsonValue] = Field(default_factory=dict, description="the op's parameters (its EditParams fields)")

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("color" in data or "direction" in data):
            data = dict(data)
            params = dict(data.get("params") or {})
            for key in ("color", "direction"):
                value = data.pop(key, None)
                if value is not None:
                    params.setdefault(key, value)
            data["params"] = params
        return data

    @property
    def color(self) -> str | None:
        return self.params.get("color")  # type: ignore[return-value]

    @property
    def direction(self) -> str | None:
        return self.params.get("direction")  # type: ignore[return-value]

    def contract(self) -> dict:
        """`worldsim parse --json`'s edit: {op, target, color, direction} as before, plus `params`."""
        return {"op": self.op, "target": self.target, "color": self.color, "direction": self.direction,
                "params": dict(self.params)}


class Plan(_Model):
    mode: Mode
    text: str = Field(default="", description="the command this plan came from")
    objects: tuple[ObjectSpec, ...] = ()
    motion: MotionSpec = MotionSpec()
    edit: EditSpec | None = None
    scene: str | None = Field(default=None, description="free scene description words, kept for captions")
    camera: CameraSpec = Field(default=STATIC_CAMERA, description="camera motion; static unless the command says otherwise")

    @model_serializer(mode="wrap")
    def _static_camera_unsaid(self, handler):
        # A static camera is left out of the JSON, so plans (and every file holding one) of commands that
        # say nothing about the camera stay byte-identical to those written before cameras could move.
        data = handler(self)
        if self.camera == STATIC_CAMERA and isinstance(data, dict):
            data.pop("camera", None)
        return data

    @model_validator(mode="after")
    def _mode_matches(self) -> "Plan":
        if self.mode == "generate" and not self.objects:
            raise ValueError("a generate plan needs at least one object")
        if self.mode == "generate" and self.edit is not None:
            raise ValueError("a generate plan has no edit")
        if self.mode == "edit" and self.edit is None:
            raise ValueError("an edit plan needs an edit")
        return self

    def contract(self) -> dict:
        """The stable JSON shape of `worldsim parse --json`."""
        return {
            "mode": self.mode,
            "objects": [o.model_dump() for o in self.objects],
            "motion": {"direction": self.motion.direction, "speed": self.motion.speed},
            "edit": None if self.edit is None else self.edit.contract(),
            "camera": self.camera.model_dump(mode="json"),
        }
