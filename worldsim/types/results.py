"""Typed outputs stages hand to each other: paths relative to the run folder, never tensors.

A field that names a file the stage wrote is declared with `run_file(...)` (or `run_dir(...)` for a
folder): after each stage the core checks that every such path exists inside the run folder.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_serializer

from worldsim.types.plan import Plan

FILE_MARK = "run_path"  # json_schema_extra key: "file" or "dir"


def run_file(description: str, default: Any = ..., **kw) -> Any:
    """A field holding a path, relative to the run folder, of a file the stage wrote."""
    return Field(default, description=description, json_schema_extra={FILE_MARK: "file"}, **kw)


def run_dir(description: str, default: Any = ..., **kw) -> Any:
    """A field holding a path, relative to the run folder, of a folder the stage wrote."""
    return Field(default, description=description, json_schema_extra={FILE_MARK: "dir"}, **kw)


class GeneratedVideo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    video: str = run_file("MP4 (H.264), relative to the run folder")
    fps: int
    num_frames: int
    width: int
    height: int
    labels: str | None = run_file("labels.json (worldsim.types.labels.Labels), if the generator has exact labels", None)
    arrays: str | None = run_file("labels.safetensors: masks [T,H,W] uint8 ids, depth [T,H,W] float32", None)
    scene: str | None = run_file("ground-truth Gaussian scene (.safetensors), if any", None)
    attention: str | None = run_file("attention.safetensors: 'maps' [K,T,h,w] float32, the object tokens' attention per planned "
                                 "object instance and frame (each frame sums to 1), if the generator has them", None)
    generator: str


class Reconstruction(BaseModel):
    """A reconstructor's outputs; paths relative to the run folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = run_file("the dynamic Gaussian scene with latent features (.safetensors, GaussianScene)")
    decoders: str = run_file("MLP heads mapping latent features to each teacher's space (.safetensors)")
    ply_dir: str = run_dir("one 3DGS PLY per frame")
    point_cloud_dir: str | None = run_dir("one open3d point cloud (PLY) per frame", None)
    render_input: str | None = run_file("MP4 of the reconstruction from the input camera", None)
    render_novel: str | None = run_file("MP4 of a novel-view orbit", None)
    cameras: str | None = run_file("per-frame cameras the scene was fitted with (JSON); moving camera only", None)
    teachers: list[str] = Field(default_factory=list, description="feature teachers whose decoders were trained")
    metrics: dict[str, Any] = Field(default_factory=dict, description="JSON-ready figures (psnr, feature cosine, ...)")
    reconstructor: str

    @model_serializer(mode="wrap")
    def _static_camera_unsaid(self, handler):
        # `cameras` is left out when None (a static camera), so run.json outputs of static runs keep their shape.
        data = handler(self)
        if self.cameras is None and isinstance(data, dict):
            data.pop("cameras", None)
        return data


class SceneObject(BaseModel):
    """One entry of a scene's object registry: what language can refer to."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, description="instance id (masks, GaussianScene.instance)")
    name: str
    color: str | None = None
    gaussians: int | None = Field(default=None, description="Gaussians currently assigned to it, if known")
    removed: bool = False


class ObjectRegistry(BaseModel):
    """`objects.json` of a run folder: the scene's objects and the one a command referred to last ('it')."""

    model_config = ConfigDict(extra="forbid")

    objects: list[SceneObject] = Field(default_factory=list)
    last_referenced: str | None = None


class EditSource(BaseModel):
    """What an editor works on: the current scene version plus what is known about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = Field(description="absolute path of the GaussianScene (.safetensors) to edit")
    decoders: str = Field(description="absolute path of the DecoderSet the scene's features decode with")
    teacher: str = Field(description="feature teacher whose space text queries use (e.g. label-text)")
    camera: dict = Field(description="the input Camera (model_dump)")
    fps: int
    plan: Plan | None = Field(default=None, description="the plan of the root generation (ops that re-plan start from it)")
    objects: list[SceneObject] = Field(default_factory=list, description="the scene's object registry")
    gt_scene: str | None = Field(default=None, description="ground-truth GaussianScene of the root generation, for metrics")
    gt_arrays: str | None = Field(default=None, description="labels.safetensors of the root generation (masks), for metrics")


class EditResult(BaseModel):
    """An editor's outputs for an op that changes the scene; paths relative to the new version's folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: str
    target: str
    scene: str = run_file("the edited GaussianScene (.safetensors)")
    ply_dir: str = run_dir("the edited scene, one 3DGS PLY per frame")
    renders: dict[str, str] = Field(default_factory=dict, description="before/after images and videos by name (files)",
                                    json_schema_extra={FILE_MARK: "file"})
    selected: str | None = run_file("indices of the selected Gaussians (.safetensors)", None)
    objects: list[SceneObject] | None = Field(default=None, description="the object registry after the edit (an op may "
                                              "add, remove, rename or recolour objects); None leaves it unchanged")
    metrics: dict[str, Any] = Field(default_factory=dict)
    editor: str


class ReplanResult(BaseModel):
    """An editor's outputs for an op that changes the plan: the core regenerates the root run with `plan`
    (same seed, same config) as a new version whose parent is the edited one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: str
    target: str
    plan: Plan = Field(description="the generate plan to run again")
    metrics: dict[str, Any] = Field(default_factory=dict)
    editor: str


class ScoreResult(BaseModel):
    """A scorer's outputs: JSON figures stored under run.json `metrics[<metrics_key>]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: dict[str, JsonValue] = Field(description="JSON-ready figures")
    passed: bool | None = Field(default=None, description="met the scorer's floor; False asks the closed loop to "
                                "regenerate when the scorer's Config has max_attempts > 1; None: no floor")
    files: list[str] = Field(default_factory=list, description="files the scorer wrote, relative to the run folder",
                             json_schema_extra={FILE_MARK: "file"})


class ScoreInput(BaseModel):
    """What a scorer sees of a run: the plan and the earlier stages' outputs (paths relative to `run_dir`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_dir: str = Field(description="absolute path of the run folder (the partial folder while the run is built)")
    plan: Plan
    seed: int
    video: GeneratedVideo | None = None
    reconstruction: Reconstruction | None = None
