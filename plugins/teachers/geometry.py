"""`plane-depth`: a crude geometric depth prior for videos with no depth labels and no model weights.

Model: a fixed pinhole camera (vertical field of view `fov_deg`, principal point at the image centre) at height
`camera_height` above a flat ground plane, pitched so that the horizon falls on image row `horizon` (normalised,
0 = top, 1 = bottom; 0.5 = camera looking level). A pixel below the horizon sees the ground; its depth along the
camera z axis is where its ray meets the plane:

    y_c   = (v + 0.5 - H/2) / f               normalised image row (down positive), f = H/2 / tan(fov/2)
    pitch = atan((H/2 - horizon * H) / f)      camera tilted down by `pitch`
    down  = y_c * cos(pitch) + sin(pitch)      downward component of the ray (z_cam = 1)
    depth = camera_height / down               for down > 0, capped at `far`

Pixels at or above the horizon get `far`. Depth is the same in every column and every frame, and it ignores
what is actually in the image: an upright object gets the depth of the ground it hides, so it is placed too far
away, more so towards its top, and the sky wall or any tall background gets `far`. A crude default for
initialising a reconstruction, not a measurement; prefer `label-depth` or `transformers-depth` when available.
"""

from __future__ import annotations

import math

from pydantic import Field

from worldsim.stages import StageConfig, Teacher
from worldsim.types.teacher import TeacherMaps

from .base import TeacherHelpers


class PlaneDepthConfig(StageConfig):
    fov_deg: float = Field(50.0, gt=5, lt=170, description="assumed vertical field of view of the camera (degrees)")
    camera_height: float = Field(1.5, gt=0, le=1000, description="assumed camera height above the ground plane (metres, at most 1000)")
    horizon: float = Field(0.5, ge=-1.0, le=1.0,
                           description="image row of the horizon, normalised (0 top, 1 bottom; <0 = above the frame)")
    far: float = Field(100.0, gt=0, le=100_000, description="depth given to pixels at or above the horizon, and the depth cap "
                       "(metres, at most 100000)")
    sky_valid: bool = Field(True, description="whether pixels at or above the horizon count as valid")


def plane_depth(height: int, fov_deg: float, camera_height: float, horizon: float, far: float):
    """Depth of each image row under the ground-plane model: ([H] float32 tensor, [H] bool ground mask)."""
    import torch

    f = 0.5 * height / math.tan(math.radians(fov_deg) / 2)
    pitch = math.atan((0.5 - horizon) * height / f)
    y_c = (torch.arange(height, dtype=torch.float64) + 0.5 - height / 2) / f  # [H]
    down = y_c * math.cos(pitch) + math.sin(pitch)  # [H]
    ground = down > camera_height / far  # the ray meets the plane nearer than `far`
    depth = torch.where(ground, camera_height / down.clamp(min=1e-12), torch.full_like(down, far))
    return depth.float(), ground


class PlaneDepth(TeacherHelpers, Teacher):
    name = "plane-depth"
    description = ("Crude depth prior: flat ground under a pinhole camera (assumed FOV, height, horizon row), far "
                   "above the horizon; for clips with no depth labels or weights")
    target = "depth"
    Config = PlaneDepthConfig

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        cfg: PlaneDepthConfig = self.config
        T, H, W = self._frames(frames)
        rows, ground = plane_depth(H, cfg.fov_deg, cfg.camera_height, cfg.horizon, cfg.far)  # [H], [H]
        maps = rows.view(1, H, 1, 1).expand(T, H, W, 1).contiguous()  # [T,H,W,1]
        valid = None if cfg.sky_valid else ground.view(1, H, 1).expand(T, H, W).contiguous()  # [T,H,W]
        return TeacherMaps(name=self.name, target="depth", maps=maps, valid=valid)
