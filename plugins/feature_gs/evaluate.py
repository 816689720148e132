"""Held-in and held-out quality of a reconstructed feature Gaussian scene.

- `psnr_train`, `ssim_train`: the scene rendered from the input camera against the input frames (frame t
  from `cameras[t]`, the camera the scene was fitted with, when the camera moves).
- `psnr_novel`: the scene rendered from cameras orbited around the scene centre (yaw in degrees about
  the up axis of `camera`, the first frame's when it moves) against the ground-truth scene rendered from
  the same cameras, with the same background. Only when a ground-truth scene is given (the procedural
  generator writes one). Mean of the per-image PSNR over frames x yaws; `psnr_novel_by_yaw` breaks it
  down by yaw. The fitted scene lives in the world frame of frame 0's camera (the labels' `camera`), so
  no alignment precedes the comparison.
- `psnr_novel_covered`: the same, but only over pixels that both renders cover (alpha > 0.5 in
  each). It hides missing geometry, so it is reported beside `psnr_novel`, never instead of it;
  `novel_coverage` says which share of the ground truth's covered pixels ours covers too.
- `feature_cosine`: mean cosine similarity between the decoded rendered feature map and each
  teacher's feature map over all pixels (the teacher's valid pixels when it says) and frames,
  per teacher in `feature_cosine_by_teacher`, and their mean.

Everything runs under `torch.no_grad()`; `max_frames` evaluates evenly spaced frames only.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from worldsim.render.metrics import psnr, ssim
from worldsim.render.scene import render_scene
from worldsim.scene import orbit_target
from worldsim.types import Camera, GaussianScene, TeacherMaps

DEFAULT_YAWS: tuple[float, ...] = (-15.0, -10.0, -5.0, 5.0, 10.0, 15.0)


def novel_cameras(camera: Camera, target, yaws: Sequence[float] = DEFAULT_YAWS, pitch: float = 0.0) -> list[tuple[float, Camera]]:
    """(yaw, camera orbited by yaw degrees about `target` with `pitch`) for each yaw."""
    return [(float(yaw), camera.orbit(target, float(yaw), float(pitch))) for yaw in yaws]


def frame_indices(num_frames: int, max_frames: int | None = None) -> list[int]:
    """All frames, or `max_frames` evenly spaced ones (first and last included)."""
    if max_frames is None or max_frames >= num_frames:
        return list(range(num_frames))
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    return sorted({int(round(x)) for x in np.linspace(0, num_frames - 1, max_frames)})


def yaw_key(yaw: float) -> str:
    """JSON-safe key of a yaw in `psnr_novel_by_yaw`: '-15', '5', '7.5'."""
    return f"{float(yaw):g}"


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return None
    return float("inf") if any(math.isinf(v) for v in values) else float(np.mean(values))


def _teacher_tensor(value) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(value, TeacherMaps):
        return value.maps, value.valid
    return torch.as_tensor(value), None


@torch.no_grad()
def evaluate(
    scene: GaussianScene,
    decoders: Mapping[str, torch.nn.Module] | None,
    camera: Camera,
    frames,  # [T,H,W,3] uint8 (numpy or torch), the input video
    teacher_features: Mapping[str, Any] | None = None,  # name -> [T,h,w,D] float tensor or TeacherMaps
    gt_scene: GaussianScene | None = None,
    yaws: Sequence[float] = DEFAULT_YAWS,
    pitch: float = 0.0,
    max_frames: int | None = None,
    target=None,  # world [3] orbit centre; default: orbit_target at the median depth of the GT render (first eval frame)
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    backend: str = "auto",
    cameras: Sequence[Camera] | None = None,  # every frame's camera (moving camera); None: `camera` for all
) -> dict[str, Any]:
    """Metrics of `scene` (see the module docstring). Keys: psnr_train, ssim_train, and with
    gt_scene psnr_novel, psnr_novel_by_yaw {yaw_key: dB}, psnr_novel_covered, novel_coverage; with
    teachers feature_cosine, feature_cosine_by_teacher {name: cos}; plus eval_frames, novel_yaws,
    target. PSNR is inf for identical images."""
    frames = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T,H,W,3], got {frames.dtype} {tuple(frames.shape)}")
    T, H, W, _ = frames.shape
    if (H, W) != (camera.height, camera.width):
        raise ValueError(f"frames are {W}x{H} but the camera is {camera.width}x{camera.height}")
    if cameras is not None and len(cameras) < T:
        raise ValueError(f"{len(cameras)} cameras for {T} frames")
    if T > scene.num_frames:
        raise ValueError(f"{T} frames but the scene has only {scene.num_frames} motion frames")
    teacher_features = dict(teacher_features or {})
    if teacher_features and scene.features is None:
        raise ValueError("teacher features were given but the scene has no latent features (scene.features is None)")
    missing = sorted(set(teacher_features) - set(decoders or {}))
    if missing:
        raise ValueError(f"no decoder for teacher(s) {missing}; decoders: {sorted(decoders or {})}")
    if gt_scene is not None and T > gt_scene.num_frames:
        raise ValueError(f"{T} frames but the ground-truth scene has only {gt_scene.num_frames} motion frames")

    idx = frame_indices(T, max_frames)
    render = lambda s, cam, t, extra=None: render_scene(s, cam, t, extra=extra, background=background, backend=backend)
    device = scene.means.device

    # Input view: colour and, when teachers are given, the latent feature map decoded per teacher.
    preds, cos_sum, cos_count = [], {n: 0.0 for n in teacher_features}, {n: 0 for n in teacher_features}
    for t in idx:
        out = render(scene, cameras[t] if cameras is not None else camera, t, scene.features if teacher_features else None)
        preds.append(out["rgb"].clamp(0, 1))
        for name, value in teacher_features.items():
            maps, valid = _teacher_tensor(value)
            dec = decoders[name]
            dec_device = next(dec.parameters()).device
            decoded = dec(out["extra"].to(dec_device)).float()  # [H,W,D]
            target_map = maps[t].to(dec_device).float()  # [h,w,D]
            if decoded.shape[-1] != target_map.shape[-1]:
                raise ValueError(f"decoder '{name}' gives {decoded.shape[-1]} dims, teacher gives {target_map.shape[-1]}")
            if decoded.shape[:2] != target_map.shape[:2]:  # a coarser teacher: compare at its resolution
                decoded = F.interpolate(decoded.permute(2, 0, 1)[None], size=tuple(target_map.shape[:2]),
                                        mode="bilinear", align_corners=False, antialias=True)[0].permute(1, 2, 0)
            cos = F.cosine_similarity(decoded, target_map, dim=-1, eps=1e-8)  # [h,w]
            if valid is not None:
                cos = cos[valid[t].to(cos.device).bool()]
            cos_sum[name] += float(cos.double().sum())
            cos_count[name] += int(cos.numel())
    pred = torch.stack(preds)  # [t,H,W,3]
    gt = frames[idx].to(device).float() / 255.0  # [t,H,W,3]
    result: dict[str, Any] = {
        "psnr_train": _mean([psnr(p, g) for p, g in zip(pred, gt)]),
        "ssim_train": float(ssim(pred, gt)),
        "eval_frames": idx,
    }
    if teacher_features:
        by_teacher = {n: (cos_sum[n] / cos_count[n] if cos_count[n] else float("nan")) for n in teacher_features}
        result["feature_cosine_by_teacher"] = by_teacher
        result["feature_cosine"] = float(np.mean(list(by_teacher.values())))

    if gt_scene is not None:
        if target is None:
            ref = render(gt_scene, camera, idx[0])
            target = orbit_target(camera, torch.where(ref["alpha"] > 0.5, ref["depth"], 0.0))
        target = np.asarray(target, dtype=np.float64)
        cams = novel_cameras(camera, target, yaws, pitch)
        by_yaw: dict[str, list[float]] = {yaw_key(y): [] for y, _ in cams}
        covered, all_psnr, both_px, gt_px = [], [], 0, 0
        for t in idx:
            for yaw, cam in cams:
                ours, ref = render(scene, cam, t), render(gt_scene, cam, t)
                a, b = ours["rgb"].clamp(0, 1), ref["rgb"].clamp(0, 1)
                p = psnr(a, b)
                by_yaw[yaw_key(yaw)].append(p)
                all_psnr.append(p)
                both = (ours["alpha"] > 0.5) & (ref["alpha"] > 0.5)
                both_px, gt_px = both_px + int(both.sum()), gt_px + int((ref["alpha"] > 0.5).sum())
                covered.append(psnr(a, b, mask=both) if bool(both.any()) else float("nan"))
        result.update({
            "psnr_novel": _mean(all_psnr),
            "psnr_novel_by_yaw": {k: _mean(v) for k, v in by_yaw.items()},
            "psnr_novel_covered": _mean(covered),
            "novel_coverage": both_px / gt_px if gt_px else None,
            "novel_yaws": [float(y) for y in yaws],
            "novel_pitch": float(pitch),
            "target": [round(float(x), 6) for x in target],
        })
    return result
