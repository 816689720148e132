"""Per-frame boxes. Image space: normalised [0, 1], origin top-left, x right, y down; boxes xyxy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worldsim.types.plan import Keypoint


class BoxTrack(BaseModel):
    """boxes: [T][4] xyxy normalised, one row per frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    boxes: tuple[tuple[float, float, float, float], ...]

    @field_validator("boxes")
    @classmethod
    def _valid_boxes(cls, boxes):
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"box {i} is empty or inverted: {(x0, y0, x1, y1)}")
        return boxes

    @property
    def num_frames(self) -> int:
        return len(self.boxes)

    def centers(self) -> list[tuple[float, float]]:
        return [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in self.boxes]


class ObjectTrack(BaseModel):
    """The planned motion of one object instance: keypoints and per-frame boxes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object_index: int = Field(ge=0, description="index into Plan.objects")
    instance: int = Field(ge=0, description="which of `count` copies")
    keypoints: tuple[Keypoint, ...]
    track: BoxTrack
