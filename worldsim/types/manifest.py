"""The run manifest written as `outputs/<run-id>/run.json`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ArtifactRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="relative to the run folder")
    sha256: str
    bytes: int
    stage: str


class StageRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    name: str
    plugin: str
    wall_s: float


class RunManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    created: str
    prompt: str
    edits: list[str] = Field(default_factory=list)
    seed: int
    plan: dict
    config: dict
    plugins: dict[str, str] = Field(default_factory=dict, description="plugin name -> version")
    stages: list[StageRecord] = Field(default_factory=list)
    metrics: dict = Field(default_factory=dict)
    artifacts: list[ArtifactRecord] = Field(default_factory=list)
    outputs: dict = Field(default_factory=dict, description="typed stage results: paths relative to the run folder")
    parent: str | None = Field(default=None, description="run folder (sibling name) this version was derived from")
    lineage: list[str] = Field(default_factory=list, description="run folders from the root generation to the parent")
    parent_verified: bool | None = Field(default=None, description="an edit version: whether its parent's files were "
                                         "checked against their sha256 (False: opened with --no-verify)")
