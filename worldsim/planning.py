"""Trajectory planning shared by every generator: plan -> keypoints (x, y, t) -> per-frame boxes.

Frame-wise box allocation (Morpho4D): B_i = {|x - x_i| <= dx, |y - y_i| <= dy}. The travelled
distance, and so the spacing of consecutive boxes, grows with the commanded speed (the velocity
factor lambda(v)); the box half-size is the object's nominal image size plus a tolerance that grows
with the per-frame displacement.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from worldsim.objects import object_kind
from worldsim.types import BoxTrack, Keypoint, ObjectTrack, Plan
from worldsim.types.plan import DIRECTION_VECTORS


class PlannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    travel: dict[str, float] = Field(
        default={"slow": 0.22, "normal": 0.42, "fast": 0.66},
        description="distance travelled over the clip, as a fraction of the frame, per speed (the velocity factor)",
    )
    image_per_metre: float = Field(default=0.24, description="nominal image fraction covered by one metre at the object plane")
    center: tuple[float, float] = Field(default=(0.5, 0.6), description="where a single object's path is centred")
    instance_gap: float = Field(default=0.08, description="gap between copies of an object, across the motion")
    tolerance: float = Field(default=0.5, description="box growth along the motion, in per-frame displacements")
    num_keypoints: int = Field(default=5, ge=2)


def _across(direction: str) -> tuple[float, float]:
    """Unit vector across the motion: copies sit side by side along it ('none': left to right)."""
    dx, dy = DIRECTION_VECTORS[direction]
    return (1.0, 0.0) if direction == "none" else (-dy, dx)


def plan_tracks(plan: Plan, num_frames: int, config: PlannerConfig | None = None) -> list[ObjectTrack]:
    """One track per object instance, in the order of `plan.objects` and their copies.

    Every instance shares the commanded motion; instances are laid out in one row across the motion,
    centred on `config.center`, each taking its own nominal width along that row.
    """
    cfg = config or PlannerConfig()
    if plan.mode != "generate":
        raise ValueError("only generate plans have trajectories")
    direction, speed = plan.motion.direction, plan.motion.speed
    ux, uy = DIRECTION_VECTORS[direction]
    px, py = _across(direction)
    travel = 0.0 if direction == "none" else cfg.travel[speed]
    per_frame = travel / max(num_frames - 1, 1)

    instances = []  # (object index, copy index, image extent (w, h))
    for obj_index, obj in enumerate(plan.objects):
        size = object_kind(obj.name).size
        ext = (size[0] * cfg.image_per_metre, size[1] * cfg.image_per_metre)
        instances.extend((obj_index, k, ext) for k in range(obj.count))
    widths = [abs(px) * e[0] + abs(py) * e[1] for _, _, e in instances]
    row = sum(widths) + cfg.instance_gap * (len(instances) - 1)
    offset = -row / 2

    tracks: list[ObjectTrack] = []
    for (obj_index, copy, ext), width in zip(instances, widths):
        along = offset + width / 2
        offset += width + cfg.instance_gap
        cx, cy = cfg.center[0] + along * px, cfg.center[1] + along * py
        keypoints = tuple(
            Keypoint(x=cx + (t - 0.5) * travel * ux, y=cy + (t - 0.5) * travel * uy, t=t)
            for t in (k / (cfg.num_keypoints - 1) for k in range(cfg.num_keypoints))
        )
        half_x = ext[0] / 2 + cfg.tolerance * per_frame * abs(ux)
        half_y = ext[1] / 2 + cfg.tolerance * per_frame * abs(uy)
        boxes = []
        for i in range(num_frames):
            x, y = interpolate(keypoints, i / max(num_frames - 1, 1))
            boxes.append((x - half_x, y - half_y, x + half_x, y + half_y))
        tracks.append(ObjectTrack(object_index=obj_index, instance=copy, keypoints=keypoints, track=BoxTrack(boxes=tuple(boxes))))
    return tracks


def interpolate(keypoints: tuple[Keypoint, ...], t: float) -> tuple[float, float]:
    """Piecewise-linear position at time t in [0, 1]."""
    if t <= keypoints[0].t:
        return keypoints[0].x, keypoints[0].y
    for a, b in zip(keypoints, keypoints[1:]):
        if t <= b.t:
            w = (t - a.t) / max(b.t - a.t, 1e-12)
            return a.x + w * (b.x - a.x), a.y + w * (b.y - a.y)
    return keypoints[-1].x, keypoints[-1].y


def speed_of(track: ObjectTrack, num_frames: int) -> float:
    """Mean image-space speed (frame fractions per frame) of a track's box centres."""
    c = track.track.centers()
    return sum(math.dist(a, b) for a, b in zip(c, c[1:])) / max(num_frames - 1, 1)
