"""Each object's rigid motion from the pixels, to start its motion bases (`object_motion: tracks`).

Photometric training alone does not find an object's rotation: a rolling ball's bases start at the identity and
the loss is as well served by sliding the texture as by turning it. So, as Shape of Motion and MoSca start their
motion bases from 2D tracks lifted with depth, every pixel of the object (its mask eroded by one pixel, at the
frame where it is largest) is tracked frame to frame with pyramidal Lucas-Kanade and a forward-backward check,
forwards and backwards from that frame; a track ends when it leaves the object's mask or its depth. Tracked
pixels are lifted to world points with the depth prior and that frame's camera, and the frame's rotation and
translation are the least-squares rigid fit (Kabsch) of the reference points onto them, refitted once without
the points more than `outlier_factor` x the median residual away. Frames with fewer than `min_points` live
tracks keep the nearest fitted frame's rotation and take their translation from the centroid track.
"""

from __future__ import annotations

import numpy as np

from worldsim.types import Camera


def rotmat_to_quat(R: np.ndarray) -> np.ndarray:
    """wxyz unit quaternions [...,4] (w >= 0) of rotation matrices [...,3,3]."""
    R = np.asarray(R, np.float64)
    m = R.reshape(-1, 3, 3)
    out = np.zeros((len(m), 4))
    for i, r in enumerate(m):
        tr = r[0, 0] + r[1, 1] + r[2, 2]
        if tr > 0:
            s = 2.0 * np.sqrt(tr + 1.0)
            q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
            s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
            q = [(r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
        elif r[1, 1] > r[2, 2]:
            s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
            q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s]
        else:
            s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
            q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s]
        q = np.asarray(q) / np.linalg.norm(q)
        out[i] = q if q[0] >= 0 else -q
    return out.reshape(R.shape[:-2] + (4,))


def kabsch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R [3,3] and translation t [3] minimising sum |R a_i + t - b_i|^2 over points a, b [N,3]."""
    ca, cb = a.mean(0), b.mean(0)
    U, _, Vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, cb - R @ ca


def robust_rigid_fit(a: np.ndarray, b: np.ndarray, outlier_factor: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kabsch, then once more without the pairs whose residual exceeds outlier_factor x the median: R, t, inliers [N]."""
    R, t = kabsch(a, b)
    res = np.linalg.norm(a @ R.T + t - b, axis=1)
    keep = res <= outlier_factor * max(float(np.median(res)), 1e-9)
    if keep.sum() >= 3 and not keep.all():
        R, t = kabsch(a[keep], b[keep])
    return R, t, keep


def _lift(camera: Camera, pts: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """World points [N,3] of OpenCV pixel positions [N,2] (integer centres) with the depth of the nearest pixel."""
    from plugins.feature_gs.init import backproject

    H, W = depth.shape
    xi = np.clip(np.round(pts[:, 0]).astype(int), 0, W - 1)
    yi = np.clip(np.round(pts[:, 1]).astype(int), 0, H - 1)
    return backproject(camera, pts[:, 0] + 0.5, pts[:, 1] + 0.5, depth[yi, xi])


def object_motion(gray: list[np.ndarray], depth: np.ndarray, ids: np.ndarray, cameras: list[Camera], k: int, t_ref: int,
                  centroid: np.ndarray, *, lk_window: int = 7, fb_max_px: float = 0.5, min_points: int = 6,
                  outlier_factor: float = 3.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Instance k's rigid motion relative to frame t_ref: rotations [T,4] wxyz and translations [T,3] with
    x_t = R_t x_ref + t_t, and figures (fitted frames, fewest tracks of a fitted step). gray [T] uint8 [H,W]
    images, depth [T,H,W] (<= 0 unknown), ids [T,H,W] instance ids, cameras [T], centroid [T,3] the object's
    lifted mask centroid per frame."""
    import cv2

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

    rot = np.tile(np.eye(3), (T, 1, 1))
    trans = np.zeros((T, 3))
    fitted = np.zeros(T, bool)
    fitted[t_ref] = True
    fewest = None
    for step in (1, -1):
        for t in range(t_ref + step, T if step > 0 else -1, step):
            fit, n = step_fit(t - step, t)
            if fit is None:
                break
            R, tr = fit  # x_t = R x_prev + tr and x_prev = R_prev x_ref + t_prev
            rot[t], trans[t], fitted[t] = R @ rot[t - step], R @ trans[t - step] + tr, True
            fewest = n if fewest is None else min(fewest, n)
    for t in np.nonzero(~fitted)[0]:  # nearest fitted frame's rotation, translation from the centroid track
        near = np.nonzero(fitted)[0]
        rot[t] = rot[near[np.argmin(np.abs(near - t))]]
        trans[t] = centroid[t] - rot[t] @ centroid[t_ref]
    return rotmat_to_quat(rot), trans, {"fitted_frames": int(fitted.sum()), "tracks_min": fewest or 0}
