"""Initial Gaussians from a monocular video: back-project pixels with the depth prior.

Static background: every pixel is taken from the first frame in which no object covers it (so
background an object hides in frame 0 is filled from later frames), average-pooled by `stride`,
then extended beyond the image border by replicating colours and extrapolating inverse depth
linearly (exact for planes, where 1/z is affine in pixel coordinates) so nearby novel views see
surfaces. Objects: each instance's pixels in the frame where it is largest; its motion bases start
along the back-projected mask centroid track (`object_motion='centroid'`), at the rigid motion fitted to
its tracked pixels (`'tracks'`) or at its labelled poses (`'labels'`): plugins.feature_gs.object_motion.
open3d voxel-downsamples the cloud and removes
statistical outliers (flying pixels at depth edges).

Moving camera (`cameras`, one per frame): frame t's pixels are back-projected with frame t's camera. The
static layer starts from frame 0's (holes filled, border extended, both marked as guesses) and grows
with the static cells of later frames that no seen point explains (newly revealed background); guesses
a later frame contradicts are dropped (`_moving_static_layer`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from plugins.feature_gs.model import DynamicGaussians
from worldsim.types import Camera

log = logging.getLogger(__name__)


@dataclass
class InitResult:
    model: DynamicGaussians
    instance: torch.Tensor  # [N] instance id per Gaussian (0 = static background)
    basis_instance: list[int]  # instance id of each basis (basis 0 = static = 0)
    object_motion: dict  # instance id -> how its bases started (object_motion 'tracks' / 'labels'); empty for 'centroid'


def backproject(camera: Camera, u: np.ndarray, v: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Pixel coordinates (continuous, pixel centres at +0.5) and camera depth -> world points [M,3]."""
    K, V = np.asarray(camera.K), np.asarray(camera.viewmat)
    x = (u - K[0, 2]) / K[0, 0] * z
    y = (v - K[1, 2]) / K[1, 1] * z
    cam = np.stack([x, y, z], axis=1)
    return (cam - V[:3, 3]) @ V[:3, :3]  # R^T (X - t)


def _extrapolate_inverse_depth(inv: np.ndarray, pad: int, fit: int = 6) -> np.ndarray:
    """Pad [H,W] inverse depth by `pad` on the left/right with a per-row line fitted to `fit` border pixels."""
    h, w = inv.shape
    cols = np.arange(fit, dtype=np.float64)
    out = np.zeros((h, w + 2 * pad))
    out[:, pad:pad + w] = inv
    for side in ("left", "right"):
        block = inv[:, :fit] if side == "left" else inv[:, w - fit:]
        slope = ((block - block.mean(1, keepdims=True)) * (cols - cols.mean())).sum(1) / ((cols - cols.mean()) ** 2).sum()
        if side == "left":
            offsets = np.arange(-pad, 0) - cols.mean()  # columns left of the border
            out[:, :pad] = block.mean(1, keepdims=True) + slope[:, None] * offsets[None]
        else:
            offsets = np.arange(fit, fit + pad) - cols.mean()
            out[:, pad + w:] = block.mean(1, keepdims=True) + slope[:, None] * offsets[None]
    return out


def _fill_holes(rgb: np.ndarray, inv: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill invalid pixels of [H,W,3] colour and [H,W] inverse depth with the mean of valid neighbours, growing inwards."""
    x = torch.as_tensor(np.concatenate([rgb, inv[..., None]], axis=-1)).permute(2, 0, 1)[None].double()  # [1,4,H,W]
    m = torch.as_tensor(valid, dtype=torch.float64)[None, None]
    while bool((m == 0).any()):
        num = F.avg_pool2d(x * m, 3, stride=1, padding=1, count_include_pad=False)
        den = F.avg_pool2d(m, 3, stride=1, padding=1, count_include_pad=False)
        grow = (den > 0) & (m == 0)
        x = torch.where(grow, num / den.clamp_min(1e-12), x)
        m = torch.where(grow, torch.ones_like(m), m)
    out = x[0].permute(1, 2, 0).numpy()
    return out[..., :3].astype(rgb.dtype), out[..., 3].astype(inv.dtype)


def _pad_static(rgb: np.ndarray, inv: np.ndarray, pad: int, min_inv: float) -> tuple[np.ndarray, np.ndarray]:
    """Extend colour (edge replicate) and inverse depth (planar extrapolation) by `pad` on every side."""
    inv = _extrapolate_inverse_depth(inv, pad)
    inv = _extrapolate_inverse_depth(inv.T, pad).T
    rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return rgb, np.maximum(inv, min_inv)


def _pool_static(rgb_s: torch.Tensor, z_s: torch.Tensor, has_static: torch.Tensor, stride: int):
    """Colour [H,W,3], depth [H,W] and validity [H,W] of a static layer average-pooled by `stride` (holes
    excluded): colour [h,w,3], inverse depth [h,w] (0 where invalid), valid [h,w] (numpy)."""
    wgt = has_static.float()[None, None]
    pool = lambda x: F.avg_pool2d(x, stride, stride)
    wsum = pool(wgt)[0, 0]
    rgb_p = (pool((rgb_s.permute(2, 0, 1) * wgt[0])[None])[0] / wsum.clamp_min(1e-6)).permute(1, 2, 0).numpy()
    inv_p = (pool(((1.0 / z_s.clamp_min(1e-6)) * has_static)[None, None])[0, 0] / wsum.clamp_min(1e-6)).numpy()
    valid_p = (wsum > 0.99).numpy()
    return rgb_p, np.where(valid_p, inv_p, 0.0), valid_p


def _static_points(camera: Camera, rgb_p: np.ndarray, inv_p: np.ndarray, valid_p: np.ndarray, stride: int, pad: int,
                   min_inv: float, fx: float):
    """A pooled static layer as points [M,3], colours [M,3], footprints [M] and `provisional` [M] (a filled
    hole or the border extension: guessed, not seen)."""
    seen = valid_p
    pad_p = max(pad // stride, 0)
    if pad_p > 0 and valid_p.any():
        # Pixels an object covers in every frame are unknown: fill them from their neighbours so the
        # border extension has a complete layer (they stay behind the object in the input view).
        rgb_p, inv_p = _fill_holes(rgb_p, inv_p, valid_p)
        rgb_p, inv_p = _pad_static(rgb_p, inv_p, pad_p, min_inv)
        valid_p = np.ones(inv_p.shape, bool)
    else:
        pad_p = 0
    hp, wp = inv_p.shape
    ring = np.ones((hp, wp), bool)  # the extension beyond the image is sampled at half density
    ring[pad_p:hp - pad_p, pad_p:wp - pad_p] = False
    coarse = ring & ((np.arange(hp)[:, None] - pad_p) % 2 == 0) & ((np.arange(wp)[None, :] - pad_p) % 2 == 0)
    vv, uu = np.nonzero(valid_p & (~ring | coarse))
    u = (uu - pad_p + 0.5) * stride
    v = (vv - pad_p + 0.5) * stride
    z = 1.0 / inv_p[vv, uu]
    provisional = ring[vv, uu] | ~np.pad(seen, pad_p)[vv, uu]
    return backproject(camera, u, v, z), rgb_p[vv, uu], z / fx * stride * np.where(ring[vv, uu], 2.0, 1.0), provisional


def _cells(camera: Camera, pts: np.ndarray, hp: int, wp: int):
    """Pooled cell (row, col) [M] of each point seen by `camera`, its inverse depth [M] and an in-view mask [M]."""
    xy, z = camera.project(pts) if len(pts) else (np.zeros((0, 2)), np.zeros(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        col, row = np.floor(xy[:, 0] * wp), np.floor(xy[:, 1] * hp)
        inside = (z > 1e-6) & (col >= 0) & (col < wp) & (row >= 0) & (row < hp)
    col, row = np.where(inside, col, 0).astype(np.int64), np.where(inside, row, 0).astype(np.int64)
    return row, col, 1.0 / np.where(inside, z, 1.0), inside


def _moving_static_layer(frames, depth, static_ok, cameras, stride, pad, min_inv, fx, tol: float = 0.1):
    """Static layer for a moving camera: frame 0's layer (with its filled holes and border extension), then
    for each later frame t the pooled static cells no seen point explains (none lands in the cell at a
    consistent inverse depth, within `tol` relative) are back-projected with cameras[t]. Guessed points
    (filled holes, border extension) never explain a cell, and are dropped where a later frame sees what is
    really there: they land on a newly added cell, or in front of a seen static surface."""
    T = frames.shape[0]
    z0 = torch.where(static_ok[0], depth[0], torch.zeros(()))
    pts, cols, foot, guess = _static_points(cameras[0], *_pool_static(frames[0], z0, static_ok[0], stride), stride, pad,
                                            min_inv, fx)
    for t in range(1, T):
        zt = torch.where(static_ok[t], depth[t], torch.zeros(()))
        rgb_p, inv_p, valid_p = _pool_static(frames[t], zt, static_ok[t], stride)
        hp, wp = valid_p.shape
        row, col, inv, inside = _cells(cameras[t], pts, hp, wp)
        obs = inv_p[row, col]
        consistent = inside & ~guess & valid_p[row, col] & (np.abs(inv - obs) <= tol * obs)
        hit = np.zeros((hp, wp), bool)
        hit[row[consistent], col[consistent]] = True
        new = valid_p & ~hit
        occluding = inside & valid_p[row, col] & (inv > obs * (1 + tol))
        drop = guess & inside & (new[row, col] | occluding)
        vv, uu = np.nonzero(new)
        z = 1.0 / inv_p[vv, uu]
        keep = ~drop
        pts = np.concatenate([pts[keep], backproject(cameras[t], (uu + 0.5) * stride, (vv + 0.5) * stride, z)])
        cols = np.concatenate([cols[keep], rgb_p[vv, uu]])
        foot = np.concatenate([foot[keep], z / fx * stride])
        guess = np.concatenate([guess[keep], np.zeros(len(z), bool)])
    return pts, cols, foot, guess


def initialise(frames: torch.Tensor, depth: torch.Tensor, masks: torch.Tensor | None, camera: Camera, *,
               stride: int = 2, pad: int = 48, feature_dim: int = 32, bases_per_instance: int = 2,
               unlabelled_bases: int = 4, voxel_size: float = 0.01, outlier_std: float = 3.0,
               opacity: float = 0.9, seed: int = 0, cameras: list[Camera] | None = None,
               object_motion: str = "centroid", object_poses: dict | None = None) -> InitResult:
    """frames [T,H,W,3] float in [0,1]; depth [T,H,W] camera z (<= 0 where unknown); masks [T,H,W] ids or None;
    cameras: every frame's camera for a moving camera (frame t's depth is back-projected with cameras[t]),
    None for a static one (`camera` for every frame). object_motion: how each instance's bases start
    (plugins.feature_gs.object_motion): `centroid`, `tracks`, or `labels` with object_poses {instance id:
    (positions [T,3], wxyz [T,4])} (an instance without poses starts from its centroid)."""
    import open3d as o3d

    rng = np.random.default_rng(seed)
    T, H, W, _ = frames.shape
    if cameras is not None and len(cameras) != T:
        raise ValueError(f"{len(cameras)} cameras for {T} frames")
    cams = cameras if cameras is not None else [camera] * T
    fx = float(camera.K[0][0])
    ids = masks.long() if masks is not None else torch.zeros(T, H, W, dtype=torch.long)
    near_object = F.max_pool2d((ids > 0).float()[:, None], 5, stride=1, padding=2)[:, 0] > 0  # [T,H,W] dilated
    static_ok = (~near_object) & (depth > 0)

    min_inv = 1.0 / (float(depth[depth > 0].max()) * 1.5) if bool((depth > 0).any()) else 1e-3
    if cameras is None:
        # Static layer: first frame where each pixel is static.
        has_static = static_ok.any(0)  # [H,W]
        first = static_ok.float().argmax(0)  # [H,W]
        hh, ww = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        rgb_s = frames[first, hh, ww]  # [H,W,3]
        z_s = torch.where(has_static, depth[first, hh, ww], torch.zeros(()))
        layer = _static_points(camera, *_pool_static(rgb_s, z_s, has_static, stride), stride, pad, min_inv, fx)
    else:
        layer = _moving_static_layer(frames, depth, static_ok, cameras, stride, pad, min_inv, fx)
    pts, cols, foot = [layer[0]], [layer[1]], [layer[2]]
    inst = [np.zeros(len(layer[0]), np.int64)]

    # Dynamic layer: each instance at the frame where it is largest.
    instance_ids = sorted(int(i) for i in torch.unique(ids).tolist() if i > 0)
    centroids: dict[int, np.ndarray] = {}
    ref_frame: dict[int, int] = {}
    for k in instance_ids:
        track = np.full((T, 3), np.nan)
        counts = np.zeros(T, np.int64)
        for t in range(T):
            m = (ids[t] == k) & (depth[t] > 0)
            counts[t] = int(m.sum())
            if counts[t]:
                vy, ux = torch.nonzero(m, as_tuple=True)
                track[t] = backproject(cams[t], ux.numpy() + 0.5, vy.numpy() + 0.5, depth[t][m].numpy()).mean(0)
        seen = np.nonzero(counts)[0]
        for d in range(3):  # fill frames where the instance is hidden by interpolation
            track[:, d] = np.interp(np.arange(T), seen, track[seen, d])
        t_ref = int(counts.argmax())
        eroded = -F.max_pool2d(-((ids[t_ref] == k).float())[None, None], 3, stride=1, padding=1)[0, 0] > 0
        m = eroded & (depth[t_ref] > 0)
        if int(m.sum()) < 4:
            m = (ids[t_ref] == k) & (depth[t_ref] > 0)
        vy, ux = torch.nonzero(m, as_tuple=True)
        zk = depth[t_ref][m].numpy()
        pts.append(backproject(cams[t_ref], ux.numpy() + 0.5, vy.numpy() + 0.5, zk))
        cols.append(frames[t_ref][m].numpy())
        foot.append(zk / fx)
        inst.append(np.full(len(zk), k, np.int64))
        centroids[k], ref_frame[k] = track, t_ref

    pts, cols, foot, inst = (np.concatenate(a) for a in (pts, cols, foot, inst))
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pcd.colors = o3d.utility.Vector3dVector(np.clip(cols, 0, 1))
    lo, hi = pts.min(0) - voxel_size, pts.max(0) + voxel_size
    _, _, traced = pcd.voxel_down_sample_and_trace(voxel_size, lo, hi, False)
    keep = np.array(sorted(int(np.asarray(ix)[0]) for ix in traced))
    sub = pcd.select_by_index(keep.tolist())
    _, inlier = sub.remove_statistical_outlier(nb_neighbors=16, std_ratio=outlier_std)
    keep = keep[np.asarray(inlier, dtype=np.int64)]
    pts, cols, foot, inst = pts[keep], cols[keep], foot[keep], inst[keep]

    # Bases: static + `bases_per_instance` per instance (or `unlabelled_bases` free ones with no masks).
    basis_instance = [0]
    rot, trans = [], []
    motion_stats = {}
    gray = None
    if object_motion == "tracks" and instance_ids:
        import cv2

        u8 = (frames.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in u8]
    elif object_motion not in ("centroid", "tracks", "labels"):
        raise ValueError(f"object_motion {object_motion!r}: accepted centroid, tracks, labels")
    for k in instance_ids:
        if gray is not None:
            from plugins.feature_gs.object_motion import from_tracks

            q, tr, motion_stats[k] = from_tracks(gray, depth.numpy(), ids.numpy(), cams, k, ref_frame[k], centroids[k])
        elif object_motion == "labels" and object_poses and k in object_poses:
            from plugins.feature_gs.object_motion import from_poses

            q, tr = from_poses(*object_poses[k], ref_frame[k])
            motion_stats[k] = {"source": "labels"}
        else:
            q, tr = np.tile([1.0, 0.0, 0.0, 0.0], (T, 1)), centroids[k] - centroids[k][ref_frame[k]]
        for _ in range(bases_per_instance):
            basis_instance.append(k)
            rot.append(q)
            trans.append(tr)
    if not instance_ids:
        for _ in range(unlabelled_bases):
            basis_instance.append(0)
            rot.append(np.tile([1.0, 0.0, 0.0, 0.0], (T, 1)))
            trans.append(np.zeros((T, 3)))
    B = len(basis_instance)
    logits = np.full((len(pts), B), -4.0)
    for i, k in enumerate(inst):
        choices = [b for b, bk in enumerate(basis_instance) if bk == k and (k > 0 or b == 0)]
        logits[i, choices[rng.integers(len(choices))]] = 4.0
    n = len(pts)
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)
    model = DynamicGaussians(
        means=f32(pts),
        quats=f32(np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))),
        log_scales=f32(np.log(np.repeat(0.6 * foot[:, None], 3, axis=1))),
        logit_opacities=torch.full((n,), math.log(opacity / (1 - opacity))),
        rgb=f32(np.clip(cols, 0, 1)),
        features=f32(rng.normal(0, 0.1, (n, feature_dim))),
        motion_logits=f32(logits),
        basis_rotations=f32(np.stack(rot)) if rot else torch.zeros(0, T, 4),
        basis_translations=f32(np.stack(trans)) if trans else torch.zeros(0, T, 3),
    )
    return InitResult(model=model, instance=torch.as_tensor(inst), basis_instance=basis_instance, object_motion=motion_stats)
