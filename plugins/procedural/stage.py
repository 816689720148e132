"""`procedural` generator: a Kubric-like 4D world of Gaussians with exact labels, rendered offline.

A moving camera (plan.camera, worldsim.camera_motion) renders frame t from `world.cameras[t]`; the objects move
in the world as planned with the first frame's camera. Its labels (worldsim.types.labels) add `cameras`,
`camera_motion`, and per object frame `center_first_view`, `planned_box` as seen by that frame's camera and
`planned_box_first_view` (the planner's box, in the first camera's image). A static camera's labels are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from worldsim.labels import write_labels
from worldsim.stages import Generator, StageConfig
from worldsim.types import GeneratedVideo, Plan
from worldsim.types.labels import Labels


class ProceduralConfig(StageConfig):
    num_frames: int = Field(16, ge=2, le=512, description="frames in the clip")
    width: int = Field(128, ge=16, le=2048, multiple_of=2, description="frame width in pixels (even)")
    height: int = Field(128, ge=16, le=2048, multiple_of=2, description="frame height in pixels (even)")
    fps: int = Field(8, ge=1, le=120, description="frames per second of video.mp4")
    fov_deg: float = Field(42.0, gt=5, lt=150, description="vertical field of view of the fixed pinhole camera")
    gaussians_per_object: int = Field(600, ge=50, le=20000, description="surface Gaussians per object instance")
    background_spacing: float = Field(0.24, gt=0.02, le=2.0, description="metres between ground Gaussians")
    write_ply: bool = Field(True, description="write the ground-truth scene as one 3DGS PLY per frame")
    ply_sh_degree: int = Field(0, ge=0, le=3, description="SH degree of the PLYs: (d+1)^2 coefficients per channel, "
                               "zeros above the scene's degree 0; 3 for the INRIA 3DGS loader and viewers that assume it")
    backend: str = Field("auto", pattern="^(auto|torch|gsplat)$", description="rasterizer: gsplat on CUDA, ours on CPU")


class ProceduralGenerator(Generator):
    name = "procedural"
    description = "Procedural 4D Gaussian world that follows the planned boxes; exact labels, offline, CPU"
    Config = ProceduralConfig

    def run(self, plan: Plan, seed: int, out_dir: Path) -> GeneratedVideo:
        import torch
        from tqdm import tqdm

        from worldsim.io.ply import write_gaussian_ply
        from worldsim.io.video import write_mp4
        from worldsim.render.scene import render_scene
        from worldsim.world.builder import build_world, to_scene

        cfg: ProceduralConfig = self.config
        out_dir = Path(out_dir)
        torch.manual_seed(seed)
        world = build_world(plan, seed, cfg.num_frames, cfg.width, cfg.height, cfg.fov_deg,
                            cfg.gaussians_per_object, cfg.background_spacing)
        scene = to_scene(world)
        k = len(world.instances)
        onehot = torch.nn.functional.one_hot(scene.instance, k + 1)[:, 1:].float()  # [N,K]

        T, H, W = cfg.num_frames, cfg.height, cfg.width
        frames = np.zeros((T, H, W, 3), np.uint8)
        masks = np.zeros((T, H, W), np.uint8)
        depth = np.zeros((T, H, W), np.float32)
        with torch.no_grad():
            for t in tqdm(range(T), desc="procedural: render", unit="frame", disable=None, leave=False):
                out = render_scene(scene, world.camera_at(t), t, extra=onehot, backend=cfg.backend)
                frames[t] = (out["rgb"].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
                weights = torch.cat([(1 - out["extra"].sum(-1, keepdim=True)), out["extra"]], dim=-1)  # [H,W,1+K]
                masks[t] = weights.argmax(-1).to(torch.uint8).numpy()
                depth[t] = out["depth"].numpy()

        write_mp4(out_dir / "video.mp4", frames, cfg.fps)
        _save_arrays(out_dir / "labels.safetensors", frames=frames, masks=masks, depth=depth)
        scene.save(out_dir / "scene.safetensors")
        if cfg.write_ply:
            (out_dir / "ply").mkdir(exist_ok=True)
            for t in range(T):
                means, quats = scene.at_frame(t)
                write_gaussian_ply(out_dir / "ply" / f"frame_{t:04d}.ply", means.numpy(), quats.numpy(),
                                   scene.log_scales.numpy(), scene.logit_opacities.numpy(), scene.sh.numpy(),
                                   sh_degree=cfg.ply_sh_degree)
        labels = _labels(plan, seed, cfg, world, masks)
        write_labels(out_dir / "labels.json", Labels.model_validate(labels))
        rel = lambda name: f"{out_dir.name}/{name}"
        return GeneratedVideo(video=rel("video.mp4"), fps=cfg.fps, num_frames=T, width=W, height=H,
                              labels=rel("labels.json"), arrays=rel("labels.safetensors"),
                              scene=rel("scene.safetensors"), generator=self.name)


def _save_arrays(path: Path, **arrays: np.ndarray) -> None:
    from safetensors.numpy import save_file

    from worldsim.artifacts import atomic_path

    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def _mask_box(mask: np.ndarray) -> list[float] | None:
    """Tight normalised xyxy box of a boolean mask [H,W]; None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    h, w = mask.shape
    return [xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h]


def planned_box_in_view(first_view_box, position, first, camera) -> list[float]:
    """The planned box `first_view_box` (normalised xyxy in the `first` camera's image, centred on the projection
    of the world point `position`) as `camera` sees it: the box becomes a world rectangle of the same size
    through `position`, facing the camera (so its apparent size follows the distance like the object's), and
    its corners are projected by `camera`. With `camera` == `first` it gives `first_view_box` back."""
    x0, y0, x1, y1 = first_view_box
    p = np.asarray(position, dtype=np.float64)
    V0, V = np.asarray(first.viewmat), np.asarray(camera.viewmat)
    K0 = np.asarray(first.K)
    z0 = float(V0[2, :3] @ p + V0[2, 3])
    half = np.array([(x1 - x0) * first.width / K0[0, 0], (y1 - y0) * first.height / K0[1, 1]]) * z0 / 2  # metres
    q = V[:3, :3] @ p + V[:3, 3]  # the position in camera coordinates
    corners = np.array([[q[0] + sx * half[0], q[1] + sy * half[1], q[2]] for sx in (-1, 1) for sy in (-1, 1)])
    uv = corners @ np.asarray(camera.K).T
    xy = uv[:, :2] / uv[:, 2:3] / np.array([camera.width, camera.height])
    return [float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())]


def _labels(plan: Plan, seed: int, cfg: ProceduralConfig, world, masks: np.ndarray) -> dict:
    r = lambda v: [round(float(x), 6) for x in v]
    moving = world.cameras is not None
    objects = []
    for inst in world.instances:
        frames = []
        for t in range(cfg.num_frames):
            m = masks[t] == inst.id
            box = _mask_box(m)
            ys, xs = np.nonzero(m)
            frame = {
                "t": t,
                "box": r(box) if box else None,
                "center": r([(xs.mean() + 0.5) / cfg.width, (ys.mean() + 0.5) / cfg.height]) if xs.size else None,
                "pixels": int(m.sum()),
                "planned_box": r(inst.track.track.boxes[t]),
                "position": r(inst.positions[t]),
                "rotation": r(inst.rotations[t]),
            }
            if moving:  # only then, so a static camera's labels keep their keys and bytes
                first_box = inst.track.track.boxes[t]
                frame["planned_box"] = r(planned_box_in_view(first_box, inst.positions[t], world.camera, world.cameras[t]))
                frame["planned_box_first_view"] = r(first_box)
                frame["center_first_view"] = r(world.camera.project(inst.positions[t][None])[0][0])
            frames.append(frame)
        objects.append({
            "id": inst.id, "name": inst.name, "color": inst.color, "shape": inst.family,
            "object_index": inst.track.object_index, "instance": inst.track.instance,
            "keypoints": [kp.model_dump() for kp in inst.track.keypoints],
            "spin_axis": r(inst.spin_axis), "angular_speed_rad_per_frame": round(inst.angular_speed, 6),
            "frames": frames,
        })
    labels = {
        "generator": "procedural",
        "seed": seed,
        # ply_sh_degree only when set, so labels.json of a default run stays byte-identical to earlier versions
        "config": cfg.model_dump(exclude={"ply_sh_degree"} if cfg.ply_sh_degree == 0 else None),
        "plan": plan.model_dump(mode="json"),
        "fps": cfg.fps, "num_frames": cfg.num_frames, "width": cfg.width, "height": cfg.height,
        "camera": world.camera.model_dump(mode="json"),
        "coordinates": "world: x right, y up, z towards the camera; image: normalised xyxy, origin top-left, y down",
        "ground_y": round(world.ground_y, 6),
        "ground_palette": world.palette,
        "masks": "labels.safetensors 'masks' [T,H,W] uint8: 0 background, k = objects[k-1].id",
        "objects": objects,
    }
    if moving:
        labels["cameras"] = [c.model_dump(mode="json") for c in world.cameras]
        labels["camera_motion"] = plan.camera.model_dump(mode="json")
    return labels
