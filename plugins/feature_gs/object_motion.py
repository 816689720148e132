"""How each object's motion bases start (feature-4dgs `object_motion`), relative to the frame its Gaussians were
taken from (t_ref), as x_t = R_t x_ref + t_t:

- `centroid`: no rotation; translation along the object's lifted mask-centroid track (the earlier behaviour).
- `labels` (`from_poses`): the generator's per-frame object poses (labels.json `position`, `rotation`: the same
  exact source as the label-depth and label-masks teachers), so the object turns about its own centre:
  R_t = R(q_t q_ref^-1), t_t = p_t - R_t p_ref.
- `tracks` (`from_tracks`), from the pixels alone: photometric training does not find an object's rotation by
  itself (a 38 degree per-frame spin of a 10-pixel object lies outside the range where the photometric gradient
  points the right way), so, as Shape of Motion and MoSca start their motion bases from 2D tracks lifted with
  depth, every pixel of the object in frame t (its mask eroded by one pixel) is tracked to frame t+1 with
  pyramidal Lucas-Kanade and a forward-backward check; tracks that leave the object's mask or its depth are
  dropped. Both ends are lifted to world points with the depth prior and their frame's camera, and the step's
  rotation is the least-squares rigid fit (Kabsch), refitted once without the points more than
  `outlier_factor` x the median residual away. The object's angular velocity is the per-component median of
  the step rotation vectors (a constant-spin start that training refines); the rotation turns about the
  lifted mask centroid, whose track gives the translation.
"""

from __future__ import annotations

import numpy as np

from worldsim.types import Camera


def continuous(q: np.ndarray) -> np.ndarray:
    """wxyz quaternions [T,4] with the sign of each chosen next to its predecessor's (q and -q are the same rotation;
    a sign flip between frames would be a jump to the bases' temporal smoothness term)."""
    q = np.array(q, np.float64)
    for t in range(1, len(q)):
        if float(q[t] @ q[t - 1]) < 0:
            q[t] = -q[t]
    return q


def _rotmats(quats) -> np.ndarray:
    """Rotation matrices [T,3,3] (float64) of wxyz quaternions [T,4]."""
    import torch

    from worldsim.types.gaussians import quat_to_rotmat

    return quat_to_rotmat(torch.as_tensor(np.asarray(quats), dtype=torch.float64)).numpy()


def robust_rigid_fit(a: np.ndarray, b: np.ndarray, outlier_factor: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation R and translation t with R a_i + t ~ b_i (points [N,3]; Kabsch: worldsim.pose_metrics.umeyama without
    scale), fitted once more without the pairs whose residual exceeds outlier_factor x the median: R, t, inliers [N]."""
    from worldsim.pose_metrics import umeyama

    _, R, t = umeyama(a, b, scale=False)
    res = np.linalg.norm(a @ R.T + t - b, axis=1)
    keep = res <= outlier_factor * max(float(np.median(res)), 1e-9)
    if keep.sum() >= 3 and not keep.all():
        _, R, t = umeyama(a[keep], b[keep], scale=False)
    return R, t, keep


def _lift(camera: Camera, pts: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """World points [N,3] of OpenCV pixel positions [N,2] (integer centres) with the depth of the nearest pixel."""
    from plugins.feature_gs.init import backproject

    H, W = depth.shape
    xi = np.clip(np.round(pts[:, 0]).astype(int), 0, W - 1)
    yi = np.clip(np.round(pts[:, 1]).astype(int), 0, H - 1)
    return backproject(camera, pts[:, 0] + 0.5, pts[:, 1] + 0.5, depth[yi, xi])


def from_tracks(gray: list[np.ndarray], depth: np.ndarray, ids: np.ndarray, cameras: list[Camera], k: int, t_ref: int,
                centroid: np.ndarray, *, lk_window: int = 7, fb_max_px: float = 0.5, min_points: int = 6,
                outlier_factor: float = 3.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Instance k's motion from its pixels (module docstring): rotations [T,4] wxyz, translations [T,3] and
    figures (fitted steps, angular velocity omega in rad/frame). gray [T] uint8 [H,W] images, depth [T,H,W]
    (<= 0 unknown), ids [T,H,W] instance ids, cameras [T], centroid [T,3] the object's lifted mask centroid."""
    import cv2

    from worldsim.types.gaussians import axis_angle_quat

    T = len(gray)
    H, W = gray[0].shape
    inside = [(ids[t] == k) & (depth[t] > 0) for t in range(T)]
    levels = max(0, min(3, int(np.log2(max(min(H, W), 1) / (2 * lk_window)))))
    lk = dict(winSize=(lk_window, lk_window), maxLevel=levels,
              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4))

    def step_fit(a: int, b: int):
        """Rigid motion (R, t) of the object from frame a to frame b from a's pixels tracked to b, or None."""
        core = cv2.erode(inside[a].astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        yy, xx = np.nonzero(core if core.sum() >= min_points else inside[a])
        if len(xx) < min_points:
            return None, 0
        p = np.stack([xx, yy], 1).astype(np.float32).reshape(-1, 1, 2)
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(gray[a], gray[b], p, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gray[b], gray[a], nxt, None, **lk)
        nxt = nxt.reshape(-1, 2)
        ok = st.reshape(-1).astype(bool) & st2.reshape(-1).astype(bool) & np.isfinite(nxt).all(1)
        ok &= np.linalg.norm((back - p).reshape(-1, 2), axis=1) < fb_max_px
        ok &= (nxt[:, 0] >= -0.5) & (nxt[:, 1] >= -0.5) & (nxt[:, 0] < W - 0.5) & (nxt[:, 1] < H - 0.5)
        xi = np.clip(np.round(nxt[:, 0]).astype(int), 0, W - 1)
        yi = np.clip(np.round(nxt[:, 1]).astype(int), 0, H - 1)
        ok &= inside[b][yi, xi]
        if ok.sum() < min_points:
            return None, int(ok.sum())
        src = _lift(cameras[a], p.reshape(-1, 2)[ok], depth[a])
        R, tr, _ = robust_rigid_fit(src, _lift(cameras[b], nxt[ok], depth[b]), outlier_factor)
        return (R, tr), int(ok.sum())

    steps = []  # rotation vectors of the forward steps t -> t+1 that could be fitted
    for t in range(T - 1):
        fit, _ = step_fit(t, t + 1)
        if fit is not None:
            steps.append(cv2.Rodrigues(fit[0])[0].reshape(3))  # rotation vector
    omega = np.median(np.stack(steps), axis=0) if steps else np.zeros(3)
    speed = float(np.linalg.norm(omega))
    quats = np.stack([axis_angle_quat(omega, speed * (t - t_ref)) for t in range(T)])  # continuous in t
    trans = centroid - np.einsum("tij,j->ti", _rotmats(quats), centroid[t_ref])
    return quats, trans, {"fitted_steps": len(steps), "omega": [round(float(w), 6) for w in omega]}


def from_poses(positions: np.ndarray, quats: np.ndarray, t_ref: int) -> tuple[np.ndarray, np.ndarray]:
    """An object's motion from its per-frame poses (positions [T,3], wxyz quats [T,4], object to world):
    rotations [T,4] wxyz (q_t q_ref^-1, sign-continuous) and translations [T,3] relative to frame t_ref (module
    docstring)."""
    import torch

    from worldsim.types.gaussians import quat_multiply

    q = torch.nn.functional.normalize(torch.as_tensor(np.asarray(quats), dtype=torch.float64), dim=-1)
    conj = q[t_ref] * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64)
    rel = continuous(quat_multiply(q, conj.expand_as(q)).numpy())
    p = np.asarray(positions, np.float64)
    return rel, p - np.einsum("tij,j->ti", _rotmats(rel), p[t_ref])
