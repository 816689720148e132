"""Per-frame cameras of a feature-4dgs fit: where they come from, how training refines them, how good they are.

Sources (`FeatureGSConfig.poses`): "static" (one camera for every frame, the behaviour before cameras could
move), "labels" (the generator's ground-truth `cameras`, worldsim.types.labels), or the name of a `pose`
stage (e.g. "opencv-pnp") that estimates them from the pixels with the depth prior; "auto" is static for a
video whose labels have no `cameras` (a static camera) and the "opencv-pnp" estimator otherwise. Every
source keeps frame 0's camera as the world frame: the labels' first camera (or the default camera of a
video without one), so the reconstruction lives in the ground truth's world frame when the depth prior is
metric and needs no alignment for novel-view metrics.

Refinement (`TrainConfig.refine_poses`): a 6-dof se(3) correction xi_t = (rho, phi) per frame t >= 1 (frame 0
fixed, it defines the world), applied on the camera side, viewmat_t' = exp(xi_t) viewmat_t, and trained
with the Gaussians (MoSca / Shape of Motion style joint refinement): Adam, rotations at `TrainConfig.pose_lr`
radians, translations at pose_lr x TRANSLATION_RATE x the scene scale, both rising linearly from 0 over `pose_warmup` of the steps
(the Gaussians settle first: Adam's normalised early steps would otherwise follow fitting noise) and decaying
exponentially to a tenth by the last step.

Pose errors (`pose_errors`): `ate_pct` = RMSE of the camera centres after a similarity (Umeyama) alignment
of the estimated centres to the true ones, in % of the scene extent (the caller's: feature-4dgs uses the
median depth of frame 0's ground-truth depth map); `rre_deg` = median over consecutive frame pairs of the
angle of R_rel_est^T R_rel_true with R_rel = R_{t+1} R_t^T (both from worldsim.pose_metrics; note its own
`rmse_pct` uses another extent, the true centres' diameter plus that depth).
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from plugins.feature_gs.config import DEFAULT_ESTIMATOR
from worldsim.errors import ConfigError
from worldsim.types import Camera

log = logging.getLogger(__name__)

# Translation corrections learn at this fraction of the rate that would move the image as much as the rotation
# rate does (pose_lr x the scene scale): seen through a narrow field of view a sideways step looks almost like a
# turn, and at the full rate the translations wandered (48x48 orbit clips, 150 steps: centres 4-20 mm off from
# exact starting poses, no gain from 2 cm / 1 degree noise); at 1/20 the centres stay put within 1-2 mm and the
# rotations still improve.
TRANSLATION_RATE = 0.05
SOURCES = ("auto", "static", "labels")


def is_moving(cameras: Sequence[Camera] | None) -> bool:
    """True when some frame's camera differs from frame 0's."""
    return bool(cameras) and any(c.viewmat != cameras[0].viewmat for c in cameras[1:])


def estimate_poses(name: str, config: dict | None, frames_u8: np.ndarray, camera: Camera, depth: np.ndarray,
                   masks: np.ndarray | None, labels: dict | None) -> tuple[list[Camera], bool, dict]:
    """The one call into a `pose` stage (worldsim.stages.PoseEstimator): (cameras [T], static, metrics).
    frames_u8 [T,H,W,3] uint8, camera = frame 0's (intrinsics and world frame), depth [T,H,W] float32 camera z
    (0 where unknown), masks [T,H,W] instance ids (0 static background) or None, labels the labels.json dict."""
    from worldsim.registry import get_stage
    from worldsim.stages import call_stage

    result = call_stage(get_stage("pose", name, config), frames_u8, camera, depth, masks, labels=labels,
                        expected_len=frames_u8.shape[0])
    return list(result.cameras), bool(result.static), dict(result.metrics)


def resolve_cameras(poses: str, labels: dict | None, frames_u8: np.ndarray, camera: Camera, depth: torch.Tensor,
                    masks: torch.Tensor | None, estimator_config: dict | None = None):
    """(cameras [T] or None for a static camera, source name, estimator metrics or None).

    None means exactly the single-camera path. An estimator that finds the camera static gives None too."""
    T = frames_u8.shape[0]
    label_cams = labels.get("cameras") if labels else None
    if poses == "static":
        return None, "static", None
    if poses == "labels" or (poses == "auto" and labels is not None and not label_cams):
        if labels is None:
            raise ConfigError("reconstructor.poses is 'labels' but the video has no labels; use 'auto', 'static' or a pose estimator")
        if not label_cams:
            return None, "labels", None  # labels without `cameras`: the camera is static
        if len(label_cams) != T:
            raise ConfigError(f"labels hold {len(label_cams)} cameras for {T} frames")
        cams = [Camera.model_validate(c) for c in label_cams]
        return (cams if is_moving(cams) else None), "labels", None
    name = DEFAULT_ESTIMATOR if poses == "auto" else poses
    from worldsim.errors import UnknownStageError, WorldsimError

    try:
        cams, static, metrics = estimate_poses(name, estimator_config, frames_u8, camera,
                                               depth.detach().cpu().numpy().astype(np.float32),
                                               masks.detach().cpu().numpy() if masks is not None else None, labels)
    except WorldsimError as e:
        if poses != "auto" and isinstance(e, UnknownStageError):
            raise ConfigError(f"reconstructor.poses: {e}") from e
        if poses != "auto":
            raise
        # auto: an estimator that is not installed or fails (too few tracks, ...) does not fail the reconstruction
        if label_cams:
            log.warning("pose estimator '%s': %s; fitting with the labels' ground-truth cameras", name, e)
            cams, _, _ = resolve_cameras("labels", labels, frames_u8, camera, depth, masks)
            return cams, "labels", {"fallback": f"{name}: {e}"}
        log.warning("pose estimator '%s': %s; assuming a static camera", name, e)
        return None, "static", None
    if len(cams) != T:
        raise ConfigError(f"pose estimator '{name}' gave {len(cams)} cameras for {T} frames")
    if static or not is_moving(cams):
        return None, name, metrics
    return in_world_of(cams, camera), name, metrics


def in_world_of(cameras: Sequence[Camera], camera: Camera) -> list[Camera]:
    """The same relative motion in the world frame where frame 0's camera is `camera`:
    viewmat_t' = viewmat_t inv(viewmat_0) camera.viewmat (unchanged when cameras[0] already is `camera`)."""
    if cameras[0].viewmat == camera.viewmat:
        return list(cameras)
    change = np.linalg.inv(np.asarray(cameras[0].viewmat)) @ np.asarray(camera.viewmat)
    out = [camera]
    for c in cameras[1:]:
        vm = np.asarray(c.viewmat) @ change
        vm[3] = (0.0, 0.0, 0.0, 1.0)
        out.append(c.model_copy(update={"viewmat": tuple(map(tuple, vm.tolist()))}))
    return out


# --- se(3) corrections -----------------------------------------------------------------------------------


def _hat(v: torch.Tensor) -> torch.Tensor:
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([torch.stack([o, -z, y], -1), torch.stack([z, o, -x], -1), torch.stack([-y, x, o], -1)], -2)


def se3_exp(xi: torch.Tensor) -> torch.Tensor:
    """[...,6] (rho, phi) -> [...,4,4] rigid transform exp(xi^) (closed form, Taylor series near zero)."""
    rho, phi = xi[..., :3], xi[..., 3:]
    th2 = (phi * phi).sum(-1, keepdim=True)[..., None]  # [...,1,1]
    small = th2 < 1e-8
    th2s = torch.where(small, torch.ones_like(th2), th2)
    th = th2s.sqrt()
    a = torch.where(small, 1 - th2 / 6, torch.sin(th) / th)
    b = torch.where(small, 0.5 - th2 / 24, (1 - torch.cos(th)) / th2s)
    c = torch.where(small, 1.0 / 6 - th2 / 120, (th - torch.sin(th)) / (th2s * th))
    K = _hat(phi)
    K2 = K @ K
    eye = torch.eye(3, dtype=xi.dtype, device=xi.device).expand_as(K)
    R = eye + a * K + b * K2
    V = eye + b * K + c * K2
    top = torch.cat([R, (V @ rho[..., None])], -1)  # [...,3,4]
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=xi.dtype, device=xi.device).expand(*xi.shape[:-1], 1, 4)
    return torch.cat([top, bottom], -2)


class PoseCorrections(torch.nn.Module):
    """Per-frame se(3) corrections of fixed base viewmats; frame 0 is never corrected.

    Translation rho [3] and rotation phi [3] are separate parameters per frame, so they can learn at their own
    rates and Adam leaves the frames that were not rendered in a step alone (their grad is None)."""

    def __init__(self, cameras: Sequence[Camera]):
        super().__init__()
        self.register_buffer("base", torch.tensor([c.viewmat for c in cameras], dtype=torch.float32))  # [T,4,4]
        self.rho = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(3)) for _ in range(len(cameras) - 1)])
        self.phi = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(3)) for _ in range(len(cameras) - 1)])

    def optimizer(self, lr: float, scene_scale: float) -> torch.optim.Optimizer:
        """Adam: rotations at `lr` (radians), translations at `lr` x TRANSLATION_RATE x `scene_scale` (world units)."""
        return torch.optim.Adam([{"params": list(self.phi), "lr": lr},
                                 {"params": list(self.rho), "lr": lr * TRANSLATION_RATE * scene_scale}])

    def viewmat(self, t: int) -> torch.Tensor:
        if t == 0:
            return self.base[0]
        return se3_exp(torch.cat([self.rho[t - 1], self.phi[t - 1]])) @ self.base[t]

    @torch.no_grad()
    def cameras(self, cameras: Sequence[Camera]) -> list[Camera]:
        """The corrected cameras (frame 0 unchanged, the others' viewmats in float32 precision)."""
        out = [cameras[0]]
        for t in range(1, len(cameras)):
            vm = self.viewmat(t).double().numpy()
            vm[3] = (0.0, 0.0, 0.0, 1.0)
            out.append(cameras[t].model_copy(update={"viewmat": tuple(map(tuple, vm.tolist()))}))
        return out
