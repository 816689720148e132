"""Renders, edit metrics and the editor's own files (selection, PNGs, side-by-side video).

Metrics (all from the input camera, every frame, background as configured):
- always: `psnr_outside_selection` (recolor: before vs after outside the rendered selection mask grown
  by one pixel), `alpha_outside_selection` (extract: mean after-alpha outside the selection mask);
- with the generator's masks (`source.gt_arrays`): `mask_iou`, the IoU of the rendered selection mask
  and the target's ground-truth instance mask averaged over the frames where the target is visible
  (`mask_iou_frames` of them); recolor `psnr_outside` (before vs after over pixels outside the target's
  mask, all frames pooled into one MSE); extract `alpha_outside` / `alpha_inside`; remove
  `revealed_alpha` (mean after-alpha over the target's pixels: 1 = no hole);
- remove with the generator's scene (`source.gt_scene`): `psnr_removed_vs_gt`, the after render vs the
  ground-truth scene rendered without the target's Gaussians (GaussianScene.instance in the target's
  ids, and in the ids of objects earlier edits removed), mean of per-frame PSNR; `psnr_removed_vs_gt_revealed` the same over the target's mask pixels
  only (pooled); `psnr_before_vs_gt`, the unedited reconstruction vs the full ground truth, for scale.
- scale (`scale_metrics`): `factor`; `mask_area_before` / `mask_area_after` (pixels of the rendered selection
  mask at the preview frame, before and after) and `mask_area_ratio` (after / before; about factor^2 unless
  the object leaves the frame), `mask_area_ratio_all_frames` (all frames pooled); `bottom_height_before` /
  `bottom_height_after` (per frame, the selection's bottom height in world units, y up:
  ops.bottom_heights) and `bottom_height_error_max` (largest |after - before| over frames);
  `contact_points` (p(t) per frame); `mask_bottom_row_before` / `_after` (lowest image row of the mask at
  the preview frame); `psnr_outside_object` (before vs after outside the union of the before and after
  selection masks grown by one pixel, all frames pooled); `ground_y` (the generator's ground height,
  when its labels.json lies next to `source.gt_arrays`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from worldsim.artifacts import atomic_path
from worldsim.errors import InputError
from worldsim.render.metrics import psnr
from worldsim.render.scene import render_scene
from worldsim.types import Camera, EditSource, EditSpec, GaussianScene, SceneObject


@torch.no_grad()
def render_frames(scene: GaussianScene, camera: Camera, frames: Sequence[int] | None = None,
                  background=(0.0, 0.0, 0.0), backend: str = "auto") -> dict[str, torch.Tensor]:
    """rgb [t,H,W,3] (clamped to [0,1]) and alpha [t,H,W] at `frames` (default: all)."""
    frames = range(scene.num_frames) if frames is None else frames
    rgb, alpha = [], []
    for t in frames:
        if len(scene) == 0:
            rgb.append(torch.tensor(background, dtype=torch.float32).expand(camera.height, camera.width, 3).clone())
            alpha.append(torch.zeros(camera.height, camera.width))
            continue
        out = render_scene(scene, camera, t, background=background, backend=backend)
        rgb.append(out["rgb"].clamp(0, 1))
        alpha.append(out["alpha"])
    return {"rgb": torch.stack(rgb), "alpha": torch.stack(alpha)}


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return None
    return float("inf") if any(math.isinf(v) for v in values) else float(np.mean(values))


def load_gt_masks(path: str, shape: tuple[int, int, int]) -> torch.Tensor:
    """The generator's instance masks [T,H,W] (uint8 ids) from labels.safetensors, checked against `shape`."""
    from safetensors import safe_open

    if not Path(path).is_file():
        raise InputError(f"the ground-truth arrays '{path}' do not exist")
    with safe_open(str(path), "np") as f:
        if "masks" not in f.keys():
            raise InputError(f"'{path}' has no 'masks' array; keys: {', '.join(f.keys())}")
        masks = f.get_tensor("masks")
    if tuple(masks.shape) != tuple(shape):
        raise InputError(f"ground-truth masks in '{path}' are {tuple(masks.shape)}, but the edit renders {tuple(shape)} "
                         f"(frames, height, width); are they from this scene's generation?")
    return torch.from_numpy(masks.astype(np.int64))


@torch.no_grad()
def edit_metrics(op: str, source: EditSource, targets: Sequence[SceneObject], camera: Camera, search,
                 before: dict[str, torch.Tensor], after: dict[str, torch.Tensor],
                 background=(0.0, 0.0, 0.0), backend: str = "auto") -> dict:
    """See the module docstring."""
    m: dict = {}
    sel = search.selection_masks  # [T,H,W] bool
    T, H, W = sel.shape
    ids = torch.tensor([o.id for o in targets])
    if op == "recolor":
        grown = F.max_pool2d(sel.float()[:, None], 3, stride=1, padding=1)[:, 0] > 0
        m["psnr_outside_selection"] = psnr(after["rgb"], before["rgb"], mask=~grown)
    if op == "extract":
        m["alpha_outside_selection"] = float(after["alpha"][~sel].mean()) if bool((~sel).any()) else 0.0

    gt = None
    if source.gt_arrays:
        gt = torch.isin(load_gt_masks(source.gt_arrays, (T, H, W)), ids)  # [T,H,W] bool
        ious = []
        for t in range(T):
            if bool(gt[t].any()):
                ious.append(int((sel[t] & gt[t]).sum()) / int((sel[t] | gt[t]).sum()))
        m["mask_iou"] = _mean(ious)
        m["mask_iou_frames"] = len(ious)
        if op == "recolor":
            m["psnr_outside"] = psnr(after["rgb"], before["rgb"], mask=~gt)
        elif op == "extract":
            m["alpha_outside"] = float(after["alpha"][~gt].mean()) if bool((~gt).any()) else 0.0
            m["alpha_inside"] = float(after["alpha"][gt].mean()) if bool(gt.any()) else None
        elif op == "remove":
            m["revealed_alpha"] = float(after["alpha"][gt].mean()) if bool(gt.any()) else None

    if source.gt_scene and op == "remove":
        if not Path(source.gt_scene).is_file():
            raise InputError(f"the ground-truth scene '{source.gt_scene}' does not exist")
        from plugins.feature_field_editor.ops import keep

        full = GaussianScene.load(source.gt_scene)
        if full.num_frames < T:
            raise InputError(f"the ground-truth scene '{source.gt_scene}' has {full.num_frames} frames, the edited one {T}")
        gone = torch.tensor([o.id for o in source.objects if o.removed], dtype=torch.long)  # removed by earlier edits
        present = keep(full, ~torch.isin(full.instance, gone))
        without = keep(full, ~torch.isin(full.instance, torch.cat([ids, gone])))
        ref = render_frames(without, camera, range(T), background, backend)
        ref_full = render_frames(present, camera, range(T), background, backend)
        m["psnr_removed_vs_gt"] = _mean([psnr(a, b) for a, b in zip(after["rgb"], ref["rgb"])])
        m["psnr_before_vs_gt"] = _mean([psnr(a, b) for a, b in zip(before["rgb"], ref_full["rgb"])])
        if gt is not None and bool(gt.any()):
            m["psnr_removed_vs_gt_revealed"] = psnr(after["rgb"], ref["rgb"], mask=gt)
    return m


@torch.no_grad()
def scale_metrics(scene: GaussianScene, edited: GaussianScene, selection: torch.Tensor, camera: Camera, search,
                  before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], factor: float, frame: int,
                  contact: torch.Tensor, quantile: float, source: EditSource, mask_threshold: float = 0.5,
                  background=(0.0, 0.0, 0.0), backend: str = "auto") -> dict:
    """See the module docstring (scale)."""
    from plugins.feature_field_editor.ops import bottom_heights
    from worldsim.selection import render_selection

    sel_before = search.selection_masks  # [T,H,W] bool
    sel_after = render_selection(edited, camera, selection, mask_threshold, background, backend)  # [T,H,W]
    area_b, area_a = int(sel_before[frame].sum()), int(sel_after[frame].sum())
    pooled_b, pooled_a = int(sel_before.sum()), int(sel_after.sum())
    bottom_b = bottom_heights(scene, selection, quantile)
    bottom_a = bottom_heights(edited, selection, quantile)
    union = F.max_pool2d((sel_before | sel_after).float()[:, None], 3, stride=1, padding=1)[:, 0] > 0
    rows = lambda m: torch.nonzero(m.any(dim=1)).flatten()
    bottom_row = lambda m: int(rows(m).max()) if bool(m.any()) else None
    m: dict = {
        "factor": factor,
        "mask_area_before": area_b, "mask_area_after": area_a,
        "mask_area_ratio": area_a / area_b if area_b else None,
        "mask_area_ratio_all_frames": pooled_a / pooled_b if pooled_b else None,
        "bottom_height_before": [round(float(v), 6) for v in bottom_b],
        "bottom_height_after": [round(float(v), 6) for v in bottom_a],
        "bottom_height_error_max": float((bottom_a - bottom_b).abs().max()),
        "contact_points": [[round(float(v), 6) for v in p] for p in contact],
        "mask_bottom_row_before": bottom_row(sel_before[frame]), "mask_bottom_row_after": bottom_row(sel_after[frame]),
        "psnr_outside_object": psnr(after["rgb"], before["rgb"], mask=~union) if bool((~union).any()) else None,
    }
    if source.gt_arrays and (Path(source.gt_arrays).parent / "labels.json").is_file():
        from worldsim.labels import read_labels

        try:
            m["ground_y"] = read_labels(Path(source.gt_arrays).parent / "labels.json").ground_y
        except InputError:  # a figure for reference only; never fail an edit over it
            m["ground_y"] = None
    return m


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """[...,3] float in [0,1] -> uint8 numpy."""
    return (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def save_selection(path: str | os.PathLike, selection: torch.Tensor, p_target: torch.Tensor, edit: EditSpec,
                   threshold: float) -> Path:
    """indices [S] int64 of the selected Gaussians, p [N] float32 = p(target | Gaussian)."""
    import json

    from safetensors.torch import save_file

    path = Path(path)
    meta = json.dumps({"op": edit.op, "target": edit.target, "threshold": threshold}, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file({"indices": torch.nonzero(selection).flatten().to(torch.int64).contiguous(),
                   "p": p_target.float().contiguous()}, str(tmp), metadata={"selection": meta})  # one key: stable bytes
    return path


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """[H,W,3] uint8 -> PNG, atomically."""
    import imageio.v3 as iio

    path = Path(path)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, extension=".png")
    return path


def write_comparison(path: str | os.PathLike, before: np.ndarray, after: np.ndarray, fps: int) -> Path:
    """before | after side by side, [T,H,W,3] uint8 each, as H.264 (padded to even sizes)."""
    from worldsim.io.video import write_mp4

    frames = np.concatenate([before, after], axis=2)  # [T,H,2W,3]
    _, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    return write_mp4(path, frames, fps)
