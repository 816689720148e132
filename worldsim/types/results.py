"""Typed outputs stages hand to each other: paths relative to the run folder, never tensors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GeneratedVideo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    video: str = Field(description="MP4 (H.264), relative to the run folder")
    fps: int
    num_frames: int
    width: int
    height: int
    labels: str | None = Field(default=None, description="labels.json with per-frame exact labels, if the generator has them")
    arrays: str | None = Field(default=None, description="labels.npz: masks [T,H,W] uint8 ids, depth [T,H,W] float32")
    scene: str | None = Field(default=None, description="ground-truth Gaussian scene (.safetensors), if any")
    generator: str
