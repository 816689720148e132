"""Typed outputs stages hand to each other: paths relative to the run folder, never tensors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from worldsim.types.plan import Plan


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
    attention: str | None = Field(default=None, description="attention.safetensors: 'maps' [K,T,h,w] float32, the object "
                                  "tokens' attention per planned object instance and frame (each frame sums to 1), if the generator has them")
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


class SceneObject(BaseModel):
    """One entry of a scene's object registry: what language can refer to."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, description="instance id (masks, GaussianScene.instance)")
    name: str
    color: str | None = None
    gaussians: int | None = Field(default=None, description="Gaussians currently assigned to it, if known")
    removed: bool = False


class EditSource(BaseModel):
    """What an editor works on: the current scene version plus what is known about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = Field(description="absolute path of the GaussianScene (.safetensors) to edit")
    decoders: str = Field(description="absolute path of the DecoderSet the scene's features decode with")
    teacher: str = Field(description="feature teacher whose space text queries use (e.g. label-text)")
    camera: dict = Field(description="the input Camera (model_dump)")
    fps: int
    objects: list[SceneObject] = Field(default_factory=list, description="the scene's object registry")
    gt_scene: str | None = Field(default=None, description="ground-truth GaussianScene of the root generation, for metrics")
    gt_arrays: str | None = Field(default=None, description="labels.safetensors of the root generation (masks), for metrics")


class EditResult(BaseModel):
    """An editor's outputs; paths relative to the run folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: str
    target: str
    scene: str = Field(description="the edited GaussianScene (.safetensors)")
    ply_dir: str
    renders: dict[str, str] = Field(default_factory=dict, description="before/after images and videos by name")
    selected: str | None = Field(default=None, description="indices of the selected Gaussians (.safetensors)")
    metrics: dict = Field(default_factory=dict)
    editor: str


class ScoreInput(BaseModel):
    """What a scorer sees of a run: the plan and the earlier stages' outputs (paths relative to `run_dir`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_dir: str = Field(description="absolute path of the run folder (the partial folder while the run is built)")
    plan: Plan
    seed: int
    video: GeneratedVideo | None = None
    reconstruction: Reconstruction | None = None
