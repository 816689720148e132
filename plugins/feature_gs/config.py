"""Training settings of the feature-4dgs reconstructor (torch-free, so registering the stage stays cheap)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(500, ge=1, description="optimisation steps (one frame each)")
    lr_means: float = Field(1.6e-4, gt=0, description="position learning rate, times the scene extent")
    lr_scales: float = Field(5e-3, gt=0)
    lr_quats: float = Field(1e-3, gt=0)
    lr_opacities: float = Field(2.5e-2, gt=0)
    lr_colors: float = Field(5e-3, gt=0)
    lr_features: float = Field(2e-2, gt=0)
    lr_motion_logits: float = Field(1e-2, gt=0)
    lr_bases: float = Field(2e-3, gt=0, description="basis rotation/translation learning rate")
    lr_decoders: float = Field(3e-3, gt=0)
    ssim_weight: float = Field(0.2, ge=0, le=1)
    depth_weight: float = Field(0.5, ge=0)
    mask_weight: float = Field(0.05, ge=0)
    feature_weight: float = Field(1.0, ge=0)
    smooth_weight: float = Field(1.0, ge=0, description="basis acceleration penalty")
    rigid_weight: float = Field(0.5, ge=0, description="local rigidity of dynamic Gaussians")
    densify: bool = Field(True, description="grow and prune with gsplat's DefaultStrategy")
    refine_start: int = Field(100, ge=0)
    refine_every: int = Field(100, ge=1)
    refine_stop_fraction: float = Field(0.7, ge=0, le=1)
    grow_grad2d: float = Field(2e-4, gt=0)
    decoder_hidden: int = Field(64, ge=4)
