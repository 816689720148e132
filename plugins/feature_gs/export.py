"""Write a reconstructed feature Gaussian scene as files other tools open, and read it back.

`export_reconstruction(scene, decoders, camera, out_dir, fps)` writes into `out_dir`, each file
atomically (temporary sibling name, then rename):

    scene.safetensors          the GaussianScene (canonical Gaussians, motion bases, weights, features)
    features.safetensors       features [N,F] float32 and instance [N] int64 alone, for tools (if any)
    decoders.safetensors       the DecoderSet (teacher name -> MLP from F dims to the teacher's D dims)
    ply/frame_XXXX.ply         the scene at each frame in the 3DGS PLY layout (worldsim.io.ply)
    point_clouds/frame_XXXX.ply  open3d point cloud per frame: Gaussian centres, RGB from the SH DC term
    render_input.mp4           every frame rendered from the input camera
    render_novel.mp4           an orbit: yaw sweeps yaws_for_orbit[0] -> [1] while time advances

A scene or decoder with a NaN or Inf anywhere is refused with a ValueError before anything is
written. `load_reconstruction(dir)` returns (scene, decoders).
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from plugins.feature_gs.decoders import DecoderSet
from worldsim.artifacts import atomic_path
from worldsim.types import Camera, GaussianScene

SCENE_FILE = "scene.safetensors"
FEATURES_FILE = "features.safetensors"
DECODERS_FILE = "decoders.safetensors"
PLY_DIR = "ply"
POINT_CLOUD_DIR = "point_clouds"
RENDER_INPUT = "render_input.mp4"
RENDER_NOVEL = "render_novel.mp4"


def check_finite(scene: GaussianScene, decoders: DecoderSet | None = None) -> None:
    """ValueError naming the first tensor (scene field or decoder parameter) with a NaN or Inf."""
    named = [(f"scene.{f.name}", getattr(scene, f.name)) for f in fields(scene)]
    if decoders is not None:
        named += [(f"decoders.{k}", v) for k, v in decoders.state_dict().items()]
    for name, tensor in named:
        if tensor is None or not torch.is_floating_point(tensor):
            continue
        bad = ~torch.isfinite(tensor)
        if bool(bad.any()):
            raise ValueError(f"refusing to export: {name} {tuple(tensor.shape)} has {int(bad.sum())} NaN/Inf values")


def _default_target(scene: GaussianScene, camera: Camera, background) -> np.ndarray:
    """Orbit centre: the median rendered depth of frame 0 from the input camera (covered pixels),
    else the median camera depth of the Gaussian centres in front of it."""
    from plugins.feature_gs.evaluate import scene_target
    from worldsim.render.scene import render_scene

    out = render_scene(scene, camera, 0, background=background)
    depth = out["depth"][out["alpha"] > 0.5]
    if depth.numel() == 0:
        _, z = camera.project(scene.at_frame(0)[0].detach().cpu().numpy())
        depth = torch.as_tensor(z[z > 0])
    return scene_target(camera, depth, None) if depth.numel() else scene_target(camera, None, distance=1.0)


def _to_uint8(rgb: torch.Tensor) -> np.ndarray:
    return (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


@torch.no_grad()
def export_reconstruction(
    scene: GaussianScene,
    decoders: DecoderSet,
    camera: Camera,
    out_dir: str | os.PathLike,
    fps: int,
    yaws_for_orbit: Sequence[float] = (-15.0, 15.0),
    pitch: float = 0.0,
    target=None,  # world [3] orbit centre; default: median rendered depth on the optical axis
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    relative_to: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Write the files listed in the module docstring; returns {key: path relative to `relative_to`}
    (default: out_dir itself, so paths read 'scene.safetensors', 'ply'; pass the run folder to get
    'reconstruction/scene.safetensors').
    Keys: scene, features (only when the scene has features), decoders, ply_dir, point_cloud_dir,
    render_input, render_novel."""
    import open3d as o3d

    from worldsim.io.ply import sh_dc_to_rgb, write_gaussian_ply
    from worldsim.io.video import write_mp4
    from worldsim.render.scene import render_scene

    # Every check before the first write.
    check_finite(scene, decoders)
    if camera.width % 2 or camera.height % 2:
        raise ValueError(f"camera size {camera.width}x{camera.height} must be even in both dimensions for H.264 video")
    if not isinstance(fps, int) or fps < 1:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    if len(yaws_for_orbit) != 2:
        raise ValueError(f"yaws_for_orbit must be (start, end) in degrees, got {yaws_for_orbit!r}")

    out_dir = Path(out_dir)
    base = Path(relative_to) if relative_to is not None else out_dir
    rel = lambda p: Path(os.path.relpath(p, base)).as_posix()
    T = scene.num_frames
    paths: dict[str, str] = {}

    scene.save(out_dir / SCENE_FILE)
    paths["scene"] = rel(out_dir / SCENE_FILE)
    if scene.features is not None:
        from safetensors.torch import save_file

        with atomic_path(out_dir / FEATURES_FILE) as tmp:
            save_file({"features": scene.features.detach().float().cpu().contiguous(),  # [N,F]
                       "instance": scene.instance.detach().cpu().contiguous()},  # [N]
                      str(tmp), metadata={"format": "worldsim.GaussianFeatures/1"})
        paths["features"] = rel(out_dir / FEATURES_FILE)
    decoders.save(out_dir / DECODERS_FILE)
    paths["decoders"] = rel(out_dir / DECODERS_FILE)

    log_scales, logit_op = scene.log_scales.cpu().numpy(), scene.logit_opacities.cpu().numpy()
    sh = scene.sh.cpu().numpy()
    colors = np.clip(sh_dc_to_rgb(sh[:, 0, :]), 0.0, 1.0).astype(np.float64)  # [N,3]
    (out_dir / PLY_DIR).mkdir(parents=True, exist_ok=True)
    (out_dir / POINT_CLOUD_DIR).mkdir(parents=True, exist_ok=True)
    for t in range(T):
        means, quats = (x.cpu().numpy() for x in scene.at_frame(t))
        write_gaussian_ply(out_dir / PLY_DIR / f"frame_{t:04d}.ply", means, quats, log_scales, logit_op, sh)
        cloud = o3d.geometry.PointCloud()
        cloud.points = o3d.utility.Vector3dVector(means.astype(np.float64))
        cloud.colors = o3d.utility.Vector3dVector(colors)
        with atomic_path(out_dir / POINT_CLOUD_DIR / f"frame_{t:04d}.ply") as tmp:  # tmp keeps the .ply suffix
            if not o3d.io.write_point_cloud(str(tmp), cloud):
                raise OSError(f"open3d could not write the point cloud {tmp}")
    paths["ply_dir"] = rel(out_dir / PLY_DIR)
    paths["point_cloud_dir"] = rel(out_dir / POINT_CLOUD_DIR)

    frames = np.stack([_to_uint8(render_scene(scene, camera, t, background=background)["rgb"]) for t in range(T)])
    write_mp4(out_dir / RENDER_INPUT, frames, fps)
    paths["render_input"] = rel(out_dir / RENDER_INPUT)

    target = _default_target(scene, camera, background) if target is None else np.asarray(target, dtype=np.float64)
    y0, y1 = (float(y) for y in yaws_for_orbit)
    orbit = []
    for t in range(T):
        yaw = y0 + (y1 - y0) * (t / (T - 1) if T > 1 else 0.5)
        orbit.append(_to_uint8(render_scene(scene, camera.orbit(target, yaw, pitch), t, background=background)["rgb"]))
    write_mp4(out_dir / RENDER_NOVEL, np.stack(orbit), fps)
    paths["render_novel"] = rel(out_dir / RENDER_NOVEL)
    return paths


def load_reconstruction(directory: str | os.PathLike) -> tuple[GaussianScene, DecoderSet]:
    """(scene, decoders) from a folder written by `export_reconstruction`."""
    directory = Path(directory)
    for name in (SCENE_FILE, DECODERS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} is missing; is '{directory}' a feature-4dgs reconstruction folder?")
    return GaussianScene.load(directory / SCENE_FILE), DecoderSet.load(directory / DECODERS_FILE)
