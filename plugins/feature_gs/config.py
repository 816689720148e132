"""Training settings of the feature-4dgs reconstructor (torch-free, so registering the stage stays cheap).

Every number has a lower and an upper bound: learning rates in (0, 1] (pose_lr too), loss weights in [0, 100],
step counts up to 1,000,000 (`iterations` beyond that would run for days).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from worldsim.stages import SettingsModel

MAX_STEPS = 1_000_000
DEFAULT_ESTIMATOR = "opencv-pnp"  # the pose estimator `poses: auto` runs


class TrainConfig(SettingsModel):
    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(500, ge=1, le=MAX_STEPS, description="optimisation steps (one frame each), at most 1,000,000")
    lr_means: float = Field(1.6e-4, gt=0, le=1, description="position learning rate, times the scene extent")
    lr_scales: float = Field(5e-3, gt=0, le=1)
    lr_quats: float = Field(1e-3, gt=0, le=1)
    lr_opacities: float = Field(2.5e-2, gt=0, le=1)
    lr_colors: float = Field(5e-3, gt=0, le=1)
    lr_features: float = Field(2e-2, gt=0, le=1)
    lr_motion_logits: float = Field(1e-2, gt=0, le=1)
    lr_bases: float = Field(2e-3, gt=0, le=1, description="basis rotation/translation learning rate")
    lr_decoders: float = Field(3e-3, gt=0, le=1)
    ssim_weight: float = Field(0.2, ge=0, le=1)
    depth_weight: float = Field(0.5, ge=0, le=100)
    mask_weight: float = Field(0.05, ge=0, le=100)
    feature_weight: float = Field(1.0, ge=0, le=100)
    smooth_weight: float = Field(1.0, ge=0, le=100, description="basis acceleration penalty")
    rigid_weight: float = Field(0.5, ge=0, le=100, description="local rigidity of dynamic Gaussians")
    densify: bool = Field(True, description="grow and prune with gsplat's DefaultStrategy")
    refine_start: int = Field(100, ge=0, le=MAX_STEPS)
    refine_every: int = Field(100, ge=1, le=MAX_STEPS)
    refine_stop_fraction: float = Field(0.7, ge=0, le=1)
    grow_grad2d: float = Field(2e-4, gt=0, le=1)
    decoder_hidden: int = Field(64, ge=4, le=4096)
    refine_poses: bool = Field(True, description="moving camera only: refine every frame's camera (frame 0 fixed) "
                               "with a 6-dof se(3) correction trained with the Gaussians; a static camera is never refined")
    pose_lr: float = Field(1e-3, gt=0, le=1, description="learning rate of the pose corrections' rotations (radians); "
                           "translations at pose_lr x 0.05 x the scene scale (plugins.feature_gs.poses)")
    pose_warmup: float = Field(0.3, ge=0, le=1, description="fraction of the steps over which the pose learning rate "
                               "rises linearly from 0 (the Gaussians settle first); it then decays to a tenth")
