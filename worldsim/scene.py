"""The public scene API: a run's feature Gaussian scene, read, checked, placed and exported.

Conventions: a `GaussianScene` (worldsim.types.gaussians) holds N canonical Gaussians in gsplat
conventions with T frames of SE(3) motion bases; latent features are [N,F] float. A `DecoderSet`
(worldsim.decoders) maps a teacher name to an MLP [...,F] -> [...,D]. Cameras are
worldsim.types.Camera (world-to-camera `viewmat`, pinhole `K`, camera z = viewing direction).
Renders come from worldsim.render.scene.render_scene (rgb [H,W,3], alpha [H,W], depth [H,W],
extra [H,W,C]).

Run folders (paths in run.json `outputs` are relative to the run folder):

    generate run   outputs.reconstruction.scene / .decoders (reconstruction/scene.safetensors, ...)
    edit version   outputs.edit.scene (edit/scene.safetensors); its decoders are those of its root,
                   the generate run named by outputs.edit_root (a sibling folder)

`load_scene(run_dir)` and `load_decoders(run_dir)` resolve those. (The generator's labels.json is read
by worldsim.labels.)

`export_scene(scene, decoders, camera, out_dir, fps)` writes into `out_dir`, each file atomically
(temporary sibling name, then rename):

    scene.safetensors          the GaussianScene (canonical Gaussians, motion bases, weights, features)
    features.safetensors       features [N,F] float32 and instance [N] int64 alone, for tools (if any)
    decoders.safetensors       the DecoderSet (teacher name -> MLP from F dims to the teacher's D dims)
    ply/frame_XXXX.ply         the scene at each frame in the 3DGS PLY layout (worldsim.io.ply); with
                               `sh_degree=d` exactly (d+1)^2 SH coefficients per channel (zeros above the
                               scene's own), e.g. 3 for loaders that assume degree 3; None: the scene's own
    point_clouds/frame_XXXX.ply  open3d point cloud per frame: Gaussian centres, RGB from the SH DC term
    render_input.mp4           every frame rendered from the input camera (frame t from `cameras[t]` when
                               the camera moves)
    render_novel.mp4           an orbit: yaw sweeps yaws_for_orbit[0] -> [1] while time advances

A scene or decoder with a NaN or Inf anywhere is refused with a ValueError before anything is
written (`check_finite`). `load_exported(dir)` returns (scene, decoders) from such a folder.

`orbit_target` gives the centre novel views orbit about; `default_camera` the camera assumed for a
video that comes without one. Importing this module does not import torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from worldsim.artifacts import RUN_FILE, atomic_path
from worldsim.errors import InputError
from worldsim.types import Camera, GaussianScene

if TYPE_CHECKING:
    import torch

    from worldsim.decoders import DecoderSet

SCENE_FILE = "scene.safetensors"
FEATURES_FILE = "features.safetensors"
DECODERS_FILE = "decoders.safetensors"
PLY_DIR = "ply"
POINT_CLOUD_DIR = "point_clouds"
RENDER_INPUT = "render_input.mp4"
RENDER_NOVEL = "render_novel.mp4"


# --- run folders ---------------------------------------------------------------------------------------


def _outputs(run_dir: Path) -> dict:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise InputError(f"'{run_dir}' is not a run folder (no {RUN_FILE}); give a folder printed by `worldsim generate`")
    return json.loads(path.read_text()).get("outputs", {})


def version_paths(run_dir: str | os.PathLike, outputs: dict) -> tuple[Path, Path, Path]:
    """(root run folder, scene file, decoders file) of a run folder or edit version, from its run.json
    `outputs`: a generate run is its own root; an edit version's root is the sibling named `edit_root`."""
    run_dir = Path(run_dir)
    root = run_dir.parent / outputs["edit_root"] if "edit" in outputs else run_dir
    rec = (_outputs(root) if "edit" in outputs else outputs).get("reconstruction")
    if rec is None:
        raise InputError(f"run folder '{run_dir.name}' has no reconstruction; edits and scene exports need a run made "
                         f"with a reconstructor (e.g. --config default)")
    scene = run_dir / outputs["edit"]["scene"] if "edit" in outputs else run_dir / rec["scene"]
    return root, scene, root / rec["decoders"]


def _scene_paths(run_dir: str | os.PathLike) -> tuple[Path, Path]:
    """(scene file, decoders file) of a run folder or edit version."""
    _, scene, decoders = version_paths(run_dir, _outputs(Path(run_dir)))
    return scene, decoders


def load_scene(run_dir: str | os.PathLike) -> GaussianScene:
    """The run's GaussianScene: reconstruction/scene.safetensors of a generate run, edit/scene.safetensors
    of an edit version."""
    return GaussianScene.load(_scene_paths(run_dir)[0])


def load_decoders(run_dir: str | os.PathLike) -> "DecoderSet":
    """The DecoderSet of the run's reconstruction (an edit version's root's)."""
    from worldsim.decoders import DecoderSet

    return DecoderSet.load(_scene_paths(run_dir)[1])


# --- cameras -------------------------------------------------------------------------------------------


def default_camera(width: int, height: int, fov_deg: float) -> Camera:
    """A fixed pinhole camera at the world origin looking down +z (for videos with no camera)."""
    import math

    f = 0.5 * height / math.tan(math.radians(fov_deg) / 2)
    eye = ((1.0, 0, 0, 0), (0, 1.0, 0, 0), (0, 0, 1.0, 0), (0, 0, 0, 1.0))
    return Camera(width=width, height=height, viewmat=eye, K=((f, 0, width / 2), (0, f, height / 2), (0, 0, 1)))


def orbit_target(camera: Camera, depth=None, distance: float | None = None) -> np.ndarray:
    """The orbit centre, world [3]: the point on the camera's optical axis at the median valid depth
    (finite, > 0) of `depth` ([H,W] or [T,H,W] camera-z depths, numpy or torch), or at `distance`."""
    import math

    import torch

    if depth is not None:
        d = depth.detach().cpu().numpy() if isinstance(depth, torch.Tensor) else np.asarray(depth)
        d = d[np.isfinite(d) & (d > 0)]
        if d.size == 0:
            raise ValueError("orbit_target: the depth map has no finite positive depth; pass distance= instead")
        distance = float(np.median(d))
    if distance is None or not math.isfinite(distance) or distance <= 0:
        raise ValueError(f"orbit_target needs a depth map or a positive distance, got distance={distance!r}")
    forward = np.asarray(camera.viewmat, dtype=np.float64)[2, :3]  # camera z axis in world coordinates
    return camera.center() + distance * forward


# --- checks and export ---------------------------------------------------------------------------------


def check_finite(scene: GaussianScene, decoders: "DecoderSet | None" = None) -> None:
    """ValueError naming the first tensor (scene field or decoder parameter) with a NaN or Inf."""
    import torch

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
    import torch

    from worldsim.render.scene import render_scene

    out = render_scene(scene, camera, 0, background=background)
    depth = out["depth"][out["alpha"] > 0.5]
    if depth.numel() == 0:
        _, z = camera.project(scene.at_frame(0)[0].detach().cpu().numpy())
        depth = torch.as_tensor(z[z > 0])
    return orbit_target(camera, depth, None) if depth.numel() else orbit_target(camera, None, distance=1.0)


def _to_uint8(rgb: "torch.Tensor") -> np.ndarray:
    import torch

    return (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def export_scene(
    scene: GaussianScene,
    decoders: "DecoderSet",
    camera: Camera,
    out_dir: str | os.PathLike,
    fps: int,
    yaws_for_orbit: Sequence[float] = (-15.0, 15.0),
    pitch: float = 0.0,
    target=None,  # world [3] orbit centre; default: median rendered depth on the optical axis
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    relative_to: str | os.PathLike | None = None,
    sh_degree: int | None = None,  # SH degree of the PLYs (0..3, zero-padded); None: the scene's own
    cameras: Sequence[Camera] | None = None,  # every frame's camera for render_input (a moving camera)
) -> dict[str, str]:
    """Write the files listed in the module docstring; returns {key: path relative to `relative_to`}
    (default: out_dir itself, so paths read 'scene.safetensors', 'ply'; pass the run folder to get
    'reconstruction/scene.safetensors').
    Keys: scene, features (only when the scene has features), decoders, ply_dir, point_cloud_dir,
    render_input, render_novel. Runs under torch.no_grad()."""
    import torch

    with torch.no_grad():
        return _export(scene, decoders, camera, out_dir, fps, yaws_for_orbit, pitch, target, background, relative_to,
                       sh_degree, cameras)


def _export(scene, decoders, camera, out_dir, fps, yaws_for_orbit, pitch, target, background, relative_to,
            sh_degree=None, cameras=None) -> dict[str, str]:
    import open3d as o3d

    from worldsim.io.ply import pad_sh, sh_dc_to_rgb, write_gaussian_ply
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
    if cameras is not None and len(cameras) < scene.num_frames:
        raise ValueError(f"{len(cameras)} cameras for {scene.num_frames} frames")
    if sh_degree is not None:
        pad_sh(np.zeros((0, scene.sh.shape[1], 3), np.float32), sh_degree)  # ValueError for a bad or too low degree

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
        write_gaussian_ply(out_dir / PLY_DIR / f"frame_{t:04d}.ply", means, quats, log_scales, logit_op, sh,
                           sh_degree=sh_degree)
        cloud = o3d.geometry.PointCloud()
        cloud.points = o3d.utility.Vector3dVector(means.astype(np.float64))
        cloud.colors = o3d.utility.Vector3dVector(colors)
        with atomic_path(out_dir / POINT_CLOUD_DIR / f"frame_{t:04d}.ply") as tmp:  # tmp keeps the .ply suffix
            if not o3d.io.write_point_cloud(str(tmp), cloud):
                raise OSError(f"open3d could not write the point cloud {tmp}")
    paths["ply_dir"] = rel(out_dir / PLY_DIR)
    paths["point_cloud_dir"] = rel(out_dir / POINT_CLOUD_DIR)

    input_cams = cameras if cameras is not None else [camera] * T
    frames = np.stack([_to_uint8(render_scene(scene, input_cams[t], t, background=background)["rgb"]) for t in range(T)])
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


def load_exported(directory: str | os.PathLike) -> tuple[GaussianScene, "DecoderSet"]:
    """(scene, decoders) from a folder written by `export_scene`."""
    from worldsim.decoders import DecoderSet

    directory = Path(directory)
    for name in (SCENE_FILE, DECODERS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} is missing; is '{directory}' a feature-4dgs reconstruction folder?")
    return GaussianScene.load(directory / SCENE_FILE), DecoderSet.load(directory / DECODERS_FILE)
