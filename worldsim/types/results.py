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


class Reconstruction(BaseModel):
    """A reconstructor's outputs; paths relative to the run folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = Field(description="the dynamic Gaussian scene with latent features (.safetensors, GaussianScene)")
    decoders: str = Field(description="MLP heads mapping latent features to each teacher's space (.safetensors)")
    ply_dir: str = Field(description="one 3DGS PLY per frame")
    point_cloud_dir: str | None = Field(default=None, description="one open3d point cloud (PLY) per frame")
    render_input: str | None = Field(default=None, description="MP4 of the reconstruction from the input camera")
    render_novel: str | None = Field(default=None, description="MP4 of a novel-view orbit")
    teachers: list[str] = Field(default_factory=list, description="feature teachers whose decoders were trained")
    metrics: dict = Field(default_factory=dict)
    reconstructor: str
