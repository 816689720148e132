"""Build a procedural 4D world from a plan: background Gaussians, object Gaussians, per-frame poses.

World frame: x right, y up, z towards the camera. The camera looks at the origin from +z. Objects move
in the plane z = 0: each frame's planned box centre is cast as a camera ray onto that plane, so the
projected object centre follows the plan exactly. The ground sits under the lowest object.

`build_world(plan, seed, ...) -> World` (numpy arrays: Gaussians [N,...] with instance ids [N], 0 =
background; per instance positions [T,3] and wxyz rotations [T,4]; `cameras`: every frame's camera when the
plan's camera moves, worldsim.camera_motion); `to_scene(world)` turns it into a
GaussianScene (imports torch). `GROUND_PALETTES`, `SKY_BOTTOM` and `SKY_TOP` are the background's
colours (worldsim.detect_color tells them apart from object colours). The `procedural` generator renders
this world; tiny-t2v renders it for its training clips.

Moving camera (plan.camera not static): the objects' world trajectories are planned with the FIRST camera
exactly as for a static one (their commanded direction holds in the world as seen from where the camera
starts); frame t is seen by `world.cameras[t]`. The background is then widened to what every frame's camera
sees; a static camera keeps the one-frustum background and so its exact random draws and bytes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from worldsim.colors import color_rgb
from worldsim.objects import OBJECTS, object_kind
from worldsim.planning import PlannerConfig, plan_tracks
from worldsim.types import Camera, ObjectTrack, Plan
from worldsim.types.gaussians import axis_angle_quat
from worldsim.world.shapes import quat_from_z_to, surface_gaussians, surface_pattern

log = logging.getLogger(__name__)

LIGHT = np.array([0.35, 0.8, 0.5]) / np.linalg.norm([0.35, 0.8, 0.5])
GROUND_PALETTES = {  # two tile tones per palette: neutral, so named object colours stay separable
    "sand": ((0.80, 0.72, 0.56), (0.70, 0.62, 0.47)),
    "concrete": ((0.62, 0.62, 0.60), (0.52, 0.52, 0.51)),
    "tiles": ((0.78, 0.76, 0.72), (0.45, 0.44, 0.42)),
    "clay": ((0.72, 0.58, 0.48), (0.62, 0.50, 0.42)),
}
WALL_Z = -8.0
SKY_BOTTOM, SKY_TOP = np.array([0.86, 0.90, 0.94]), np.array([0.55, 0.70, 0.88])


@dataclass
class Instance:
    id: int  # 1-based instance id used in masks
    name: str
    color: str | None
    family: str
    track: ObjectTrack
    positions: np.ndarray  # [T,3] world centre per frame
    rotations: np.ndarray  # [T,4] wxyz per frame
    spin_axis: np.ndarray  # [3] world axis of rotation (zero when it does not rotate)
    angular_speed: float  # radians per frame about spin_axis (signed, right-handed)


@dataclass
class World:
    camera: Camera
    ground_y: float
    palette: str
    instances: list[Instance]
    # Gaussians: canonical (object-local for objects, world for background) [N,...]
    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    rgb: np.ndarray
    instance_ids: np.ndarray  # [N] 0 = background
    cameras: list[Camera] | None = None  # [T] every frame's camera when the camera moves; None: `camera` throughout

    def camera_at(self, t: int) -> Camera:
        """The camera of frame t."""
        return self.camera if self.cameras is None else self.cameras[t]


def _plane_point(camera: Camera, x: float, y: float) -> np.ndarray:
    """Intersection of the ray through image point (x, y) with the plane z = 0."""
    o, d = camera.center(), camera.ray(x, y)
    return o + (-o[2] / d[2]) * d


def _heading_pitch(camera: Camera) -> tuple[float, float]:
    """Radians: the viewing direction's yaw (towards -x positive, 0 along -z) and elevation (up positive)."""
    f = np.asarray(camera.viewmat, dtype=np.float64)[2, :3]
    return math.atan2(-f[0], -f[2]), math.asin(max(-1.0, min(1.0, f[1])))


def _moving_extent(cameras: list[Camera], ground_y: float, tan_half: float):
    """What the frames of a moving camera see: (eye z of the rows, distance of the first row in front of that
    eye, x range of a row at distance `dist`, x range of the wall, wall height). Per camera, the ground it sees is
    the horizontal wedge of its view widened 1.6x (as the one-frustum background), plus 1 m, from where its view
    widened 1.3x downwards meets the ground (a camera following an object down comes close to it); the wall
    reaches 1.3x above its view."""
    eyes = [c.center() for c in cameras]
    views = [_heading_pitch(c) for c in cameras]
    wide = math.atan(1.6 * tan_half)
    tan_half_v = cameras[0].height / (2 * cameras[0].K[1][1])
    eye_z = max(e[2] for e in eyes)

    def x_range(z: float) -> tuple[float, float]:
        lo, hi = math.inf, -math.inf
        for e, (yaw, _) in zip(eyes, views):
            d = e[2] - z
            if d > 0:  # rows behind a camera are not seen by it (yaw + wide stays well below 90 deg)
                lo = min(lo, e[0] - d * math.tan(yaw + wide) - 1.0)
                hi = max(hi, e[0] - d * math.tan(yaw - wide) + 1.0)
        return (lo, hi) if lo < hi else (-1.0, 1.0)

    first_row = 2.0  # the one-frustum background's, in front of a camera 1.6 m above the ground
    for e, (yaw, pitch) in zip(eyes, views):
        down = pitch - math.atan(1.3 * tan_half_v)
        near = (e[1] - ground_y) / math.tan(-down) if down < 0 else 0.0  # where the lowest ray meets the ground
        first_row = min(first_row, eye_z - e[2] + 0.6 * near * math.cos(yaw))
    first_row = max(first_row, 0.05)

    top = 7.0
    for e, (yaw, pitch) in zip(eyes, views):
        reach = (e[2] - WALL_Z) / math.cos(min(abs(yaw) + wide, math.radians(80)))
        up = min(pitch + math.atan(1.3 * tan_half_v), math.radians(80))
        top = max(top, e[1] + reach * math.tan(up) - ground_y + 1.0)
    return eye_z, first_row, lambda dist: x_range(eye_z - dist), x_range(WALL_Z), top


def _background(rng, camera: Camera, ground_y: float, palette: str, spacing: float, cameras: list[Camera] | None = None):
    """Textured ground (checker tiles + noise) and a sky-gradient back wall.

    Ground rows are spaced in proportion to their distance from the camera, so every Gaussian covers
    about the same number of pixels; rows reach 1.6x beyond the frustum so nearby novel views are covered.
    With `cameras` (a moving camera), rows start in front of the rearmost camera and every row and the wall
    cover what any frame's camera sees (`_moving_extent`); without, exactly the one-frustum layout.
    """
    eye = camera.center()
    tan_half = camera.width / (2 * camera.K[0][0])  # horizontal half field of view
    moving = _moving_extent(cameras, ground_y, tan_half) if cameras is not None else None
    eye_z = eye[2] if moving is None else moving[0]
    xs, zs, sizes = [], [], []
    dist = 2.0 if moving is None else moving[1]
    while eye_z - dist > WALL_Z:
        step = spacing * dist / 5.0
        if moving is None:
            half = 1.6 * tan_half * dist + 1.0
            lo, hi = -half, half
        else:
            lo, hi = moving[2](dist)
        row = np.arange(lo, hi, step) + rng.uniform(-0.25, 0.25) * step
        xs.append(row + rng.uniform(-0.2, 0.2, row.size) * step)
        zs.append(np.full(row.size, eye_z - dist) + rng.uniform(-0.2, 0.2, row.size) * step)
        sizes.append(np.full(row.size, step))
        dist += step
    gx, gz, gsize = np.concatenate(xs), np.concatenate(zs), np.concatenate(sizes)
    ground = np.stack([gx, np.full_like(gx, ground_y), gz], axis=1)
    a, b = (np.array(c) for c in GROUND_PALETTES[palette])
    tile = ((np.floor(gx / 1.0) + np.floor(gz / 1.0)) % 2)[:, None]
    ground_rgb = (tile * a + (1 - tile) * b) * rng.uniform(0.9, 1.08, (gx.size, 1))

    wall_step = spacing * (eye_z - WALL_Z) / 5.0
    if moving is None:
        half = 1.6 * tan_half * (eye_z - WALL_Z) + 1.0
        (lo, hi), top = (-half, half), 7.0
    else:
        (lo, hi), top = moving[3], moving[4]
    wx, wy = np.meshgrid(np.arange(lo, hi, wall_step), np.arange(ground_y, ground_y + top, wall_step))
    wx = wx.ravel() + rng.uniform(-0.2, 0.2, wx.size) * wall_step
    wy = wy.ravel() + rng.uniform(-0.2, 0.2, wy.size) * wall_step
    wall = np.stack([wx, wy, np.full_like(wx, WALL_Z)], axis=1)
    h = np.clip((wy - ground_y) / 6.0, 0, 1)[:, None]  # a taller wall (moving camera) keeps the sky colour above
    wall_rgb = (1 - h) * SKY_BOTTOM + h * SKY_TOP + rng.normal(0, 0.01, (wx.size, 3))

    means = np.concatenate([ground, wall])
    normals = np.concatenate([np.tile([0.0, 1.0, 0.0], (gx.size, 1)), np.tile([0.0, 0.0, 1.0], (wx.size, 1))])
    flat = np.concatenate([gsize, np.full(wx.size, wall_step)])
    scales = np.stack([flat * 0.7, flat * 0.7, flat * 0.05], axis=1)
    return means, quat_from_z_to(normals), scales, np.clip(np.concatenate([ground_rgb, wall_rgb]), 0, 1)


def build_world(plan: Plan, seed: int, num_frames: int, width: int, height: int, fov_deg: float,
                gaussians_per_object: int, background_spacing: float, planner: PlannerConfig | None = None) -> World:
    rng = np.random.default_rng(seed)
    camera = Camera.look_at((0.0, 1.6, 5.5), (0.0, 0.8, 0.0), width, height, fov_deg)
    tracks = plan_tracks(plan, num_frames, planner)

    parts = []  # (means, quats, scales, rgb, instance id) in object-local coordinates
    instances: list[Instance] = []
    for k, track in enumerate(tracks, start=1):
        spec = plan.objects[track.object_index]
        kind = object_kind(spec.name)
        if spec.name not in OBJECTS:
            log.warning("unknown object noun '%s': drawn as a generic rounded shape", spec.name)
        base = np.array(color_rgb(spec.color)) if spec.color else rng.uniform(0.2, 0.9, 3)
        g = surface_gaussians(kind.family, kind.size, gaussians_per_object)
        shade = 0.78 + 0.22 * np.clip(g["normals"] @ LIGHT, -1, 1)
        rgb = base * (0.72 + 0.28 * surface_pattern(g["means"]))[:, None] * shade[:, None]
        parts.append((g["means"], g["quats"], g["scales"], np.clip(rgb, 0, 1), k))
        centres = np.stack([_plane_point(camera, *c) for c in track.track.centers()])  # [T,3]
        instances.append(Instance(id=k, name=spec.name, color=spec.color, family=kind.family, track=track,
                                  positions=centres, rotations=np.zeros((num_frames, 4)),
                                  spin_axis=np.zeros(3), angular_speed=0.0))

    ground_y = min(float(inst.positions[:, 1].min()) - object_kind(inst.name).size[1] / 2 for inst in instances)
    ground_y = min(ground_y, 0.0)
    for inst in instances:
        kind = object_kind(inst.name)
        velocity = np.diff(inst.positions, axis=0, prepend=inst.positions[:1])  # [T,3] per-frame displacement
        if plan.motion.spin:
            inst.spin_axis, inst.angular_speed = np.array([0.0, 1.0, 0.0]), 2 * math.pi * 0.75 / max(num_frames - 1, 1)
        elif kind.spins and plan.motion.direction in ("left", "right"):
            radius = kind.size[1] / 2
            v = velocity[1] if num_frames > 1 else np.zeros(3)
            omega = np.cross([0.0, 1.0, 0.0], v) / radius  # rolling without slipping: v = omega x (r * up)
            speed = float(np.linalg.norm(omega))
            inst.spin_axis, inst.angular_speed = (omega / speed, speed) if speed > 0 else (np.zeros(3), 0.0)
        inst.rotations = np.stack([axis_angle_quat(inst.spin_axis, inst.angular_speed * t) for t in range(num_frames)])

    cameras = _camera_path(plan, camera, instances, num_frames) if plan.camera.moving else None
    palette = sorted(GROUND_PALETTES)[int(rng.integers(len(GROUND_PALETTES)))]
    bg = _background(rng, camera, ground_y, palette, background_spacing, cameras)
    means = np.concatenate([bg[0]] + [p[0] for p in parts])
    quats = np.concatenate([bg[1]] + [p[1] for p in parts])
    scales = np.concatenate([bg[2]] + [p[2] for p in parts])
    rgb = np.concatenate([bg[3]] + [p[3] for p in parts])
    ids = np.concatenate([np.zeros(len(bg[0]), np.int64)] + [np.full(len(p[0]), p[4], np.int64) for p in parts])
    opacities = np.where(ids == 0, 0.995, 0.98)
    return World(camera=camera, ground_y=ground_y, palette=palette, instances=instances, means=means, quats=quats,
                 scales=scales, opacities=opacities, rgb=rgb, instance_ids=ids, cameras=cameras)


def _camera_path(plan: Plan, camera: Camera, instances: list[Instance], num_frames: int) -> list[Camera]:
    """The plan's camera motion from `camera` (worldsim.camera_motion). A follow / orbit target is the mean
    track of the instances of the plan object named `plan.camera.target` (copies move alike, so the camera
    keeps the whole group framed)."""
    from worldsim.camera_motion import camera_path
    from worldsim.errors import InputError

    target = plan.camera.target
    track = None
    if target:
        mine = [inst.positions for inst in instances if plan.objects[inst.track.object_index].name == target]
        if not mine:
            raise InputError(f"the camera's target '{target}' is not an object of the plan "
                             f"({', '.join(o.name for o in plan.objects)})")
        track = np.mean(mine, axis=0)
    return camera_path(plan.camera, camera, num_frames, target_track=track)


def to_scene(world: World):
    """The world as a `GaussianScene`: basis 0 is the static background, basis k moves instance k."""
    import torch

    from worldsim.io.ply import rgb_to_sh_dc
    from worldsim.types import GaussianScene

    n, k = len(world.means), len(world.instances)
    T = len(world.instances[0].positions)
    rot = np.zeros((k + 1, T, 4))
    rot[0, :, 0] = 1.0
    trans = np.zeros((k + 1, T, 3))
    for inst in world.instances:
        rot[inst.id], trans[inst.id] = inst.rotations, inst.positions
    weights = np.zeros((n, k + 1))
    weights[np.arange(n), world.instance_ids] = 1.0
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)
    op = np.clip(world.opacities, 1e-6, 1 - 1e-6)
    return GaussianScene(
        means=f32(world.means), quats=f32(world.quats), log_scales=f32(np.log(world.scales)),
        logit_opacities=f32(np.log(op / (1 - op))), sh=f32(rgb_to_sh_dc(world.rgb))[:, None, :],
        basis_rotations=f32(rot), basis_translations=f32(trans), weights=f32(weights),
        instance=torch.as_tensor(world.instance_ids, dtype=torch.int64),
    )
