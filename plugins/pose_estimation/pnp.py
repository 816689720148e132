"""`opencv-pnp`: camera poses from the pixels and a depth prior (OpenCV), in frame 0's world frame.

1. Background: pixels whose mask id is 0, objects grown by `mask_dilate` pixels (no masks: every pixel; RANSAC
   then has to reject what moves).
2. Static test (no depth needed): corners of frame 0's background (cv2.goodFeaturesToTrack) are tracked straight
   to every later frame (pyramidal Lucas-Kanade); when the median displacement of the tracked background corners
   stays below `static_flow_px` in every frame, the camera did not move: `static=True` and exact copies of the
   given camera (so a static video gives bit-identical downstream results).
3. Otherwise a depth prior is required (InputError without one: monocular poses have no metric scale, and a
   reconstructor always has a depth teacher, label-depth or plane-depth). Frame 0's corners are refined to
   sub-pixel positions and lifted to world points with the depth (inverse depth interpolated bilinearly, which is
   exact on planes; corners on a depth edge, where the second difference of inverse depth around them exceeds
   `depth_edge` of its value, are not lifted). They are tracked frame to frame with a forward-backward check
   (`fb_max_px`); frame t's pose is cv2.solvePnPRansac on the tracked points (`ransac_px`, the previous pose
   as the first guess) refined by Levenberg-Marquardt on the inliers (cv2.solvePnPRefineLM). RANSAC outliers
   are dropped for good. When fewer than `redetect_below` of the first frame's tracks remain, new corners away
   from the live ones are detected in frame t and lifted with frame t's depth and the pose just found.
4. Pan or tilt (the camera only turns): when a rotation about frame 0's camera centre (each frame's the Kabsch fit
   of the inliers' directions from that centre onto their pixel rays) reprojects every frame's PnP inliers within
   `rotation_only_px` of the full pose's median error, and the full poses' centres stay within
   `rotation_only_travel` of frame 0's median depth, the camera centre stays at frame 0's in every frame
   (`rotation_only` in the metrics): PnP alone lets a turning camera's centre drift by 2-3% of the scene
   distance at 64 px, and a drift is a camera that moves. Calibrated on 24 clips of 64 px, 8 frames (the QA
   benchmark's settings, scene list seed 700, not the benchmark's): pans and tilts exceed the full pose by
   <= 0.18 px and their PnP centres drift <= 1.3% of the median depth; trucks exceed it by >= 0.44 px (a truck
   seen mostly against the far wall can look like a turn) and travel >= 3.3% of the median depth.
5. A frame with fewer than `min_points` tracked points or PnP inliers fails: an InputError naming the frame
   (`on_failure: error`), or it keeps the previous pose and is listed in metrics `failed_frames` (`hold`).

Image coordinates: worldsim's K puts pixel centres at +0.5 (gsplat); OpenCV's at integers, so the solver's K
has its principal point moved by -0.5 px. Metrics: static decision and flow, tracks, per-frame inliers and
median reprojection error (px), re-detections, wall_s.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from worldsim.errors import InputError
from worldsim.stages import PoseEstimator, StageConfig
from worldsim.types import Camera, CameraPoses


class OpenCVPnPConfig(StageConfig):
    max_corners: int = Field(400, ge=8, le=10000, description="corners detected per frame at most")
    quality_level: float = Field(0.005, gt=0, lt=1, description="goodFeaturesToTrack: corner strength relative to the best one")
    min_distance: float = Field(0.025, gt=0, le=0.5, description="closest two corners may be, as a fraction of the "
                                "image's shorter side (at least 1 px)")
    block_size: int = Field(3, ge=2, le=15, description="goodFeaturesToTrack: neighbourhood of the corner measure (px)")
    mask_dilate: int = Field(2, ge=0, le=64, description="object masks are grown by this many pixels before use")
    lk_window: int = Field(11, ge=3, le=61, description="Lucas-Kanade window side (px)")
    lk_levels: int = Field(3, ge=0, le=8, description="Lucas-Kanade pyramid levels above the image, at most (none "
                           "narrower than two windows)")
    fb_max_px: float = Field(0.5, gt=0, le=10, description="largest forward-backward tracking error kept (px)")
    depth_edge: float = Field(0.03, gt=0, le=10, description="a corner is not lifted when the second difference of "
                              "inverse depth around it exceeds this fraction of its inverse depth (a depth edge)")
    ransac_px: float = Field(1.0, gt=0, le=50, description="RANSAC inlier threshold on the reprojection error (px)")
    ransac_iterations: int = Field(200, ge=10, le=100000, description="RANSAC iterations per frame")
    refine: Literal["lm", "none"] = Field("lm", description="refine each pose on its inliers (Levenberg-Marquardt) or not")
    min_points: int = Field(8, ge=4, le=1000, description="fewest tracked points / PnP inliers a frame's pose needs")
    redetect_below: float = Field(0.6, gt=0, le=1, description="detect and lift new corners when the live tracks fall "
                                  "below this fraction of frame 0's")
    rotation_only_px: float = Field(0.5, ge=0, le=10, description="the camera only turns (pan, tilt: its centre stays "
                                    "at frame 0's) when a rotation about that centre reprojects every frame's inliers "
                                    "within this many px of the full pose's median error; 0 never decides so")
    rotation_only_travel: float = Field(0.025, ge=0, le=1, description="... and the full poses' centres stay within this "
                                        "fraction of frame 0's median depth of frame 0's centre (a rotation also explains "
                                        "a small sideways move seen against a far background: a larger travel is believed)")
    static_flow_px: float = Field(0.05, ge=0, le=10, description="the camera is static when the median background "
                                  "displacement from frame 0 stays below this in every frame (px)")
    on_failure: Literal["error", "hold"] = Field("error", description="a frame whose pose cannot be solved: raise an "
                                                 "InputError, or keep the previous pose and list it in failed_frames")


class OpenCVPnP(PoseEstimator):
    name = "opencv-pnp"
    description = ("Camera poses from the video: background corners lifted with a depth prior, tracked (Lucas-Kanade), "
                   "RANSAC PnP + LM per frame; static clips detected (exact copies)")
    Config = OpenCVPnPConfig

    def run(self, frames, camera: Camera, depth=None, masks=None, labels: dict | None = None) -> CameraPoses:
        import cv2

        started = time.perf_counter()
        frames, depth, masks = self.check_inputs(frames, camera, depth, masks)
        cfg: OpenCVPnPConfig = self.config
        T, H, W = frames.shape[:3]
        gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
        usable = self._background(masks, T, H, W)  # [T,H,W] bool
        K = np.asarray(camera.K, np.float64).copy()
        K[0, 2] -= 0.5  # OpenCV pixel centres are integers; worldsim's (gsplat's) are at +0.5
        K[1, 2] -= 0.5
        # no pyramid level narrower than two windows: on tiny coarse levels LK drifts on noise
        levels = min(cfg.lk_levels, max(0, int(np.log2(min(H, W) / (2 * cfg.lk_window)))))
        self._lk = dict(winSize=(cfg.lk_window, cfg.lk_window), maxLevel=levels,
                        criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4))
        self._spacing = max(1.0, cfg.min_distance * min(H, W))

        corners = self._detect(gray[0], usable[0])
        flow, how = self._static_flow(gray, corners, usable)
        metrics: dict = {"frames": T, "corners_frame0": int(len(corners)),
                         "static_flow_px": None if flow is None else round(flow, 6), "static_test": how}
        if flow is not None and flow < cfg.static_flow_px:
            return CameraPoses.still(camera, T, self.name, {**metrics, "static": True, "wall_s": _since(started)})
        if depth is None:
            raise InputError(f"pose '{self.name}': the camera moves ({how}) and poses need a depth prior for their scale; "
                             f"pass depth [T,H,W] (a depth teacher's maps, e.g. label-depth or plane-depth)")
        cameras, track_metrics = self._track(gray, usable, depth, camera, K)
        metrics.update(static=False, **track_metrics, wall_s=_since(started))
        return CameraPoses(cameras=cameras, static=False, metrics=metrics, estimator=self.name)

    # ------------------------------------------------------------------------------------------- pieces

    def _background(self, masks, T: int, H: int, W: int) -> np.ndarray:
        import cv2

        if masks is None:
            return np.ones((T, H, W), bool)
        objects = (masks > 0).astype(np.uint8)
        r = self.config.mask_dilate
        if r > 0:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            objects = np.stack([cv2.dilate(m, kernel) for m in objects])
        return objects == 0

    def _detect(self, gray: np.ndarray, allowed: np.ndarray, avoid: np.ndarray | None = None) -> np.ndarray:
        """Corners [N,2] float32 (OpenCV pixel coordinates) inside `allowed`, at least min_distance from `avoid`."""
        import cv2

        cfg = self.config
        mask = allowed.astype(np.uint8) * 255
        if avoid is not None and len(avoid):
            for x, y in np.round(avoid).astype(int):
                cv2.circle(mask, (int(x), int(y)), int(np.ceil(self._spacing)), 0, -1)
        found = cv2.goodFeaturesToTrack(gray, maxCorners=cfg.max_corners, qualityLevel=cfg.quality_level,
                                        minDistance=self._spacing, mask=mask, blockSize=cfg.block_size)
        if found is None:
            return np.zeros((0, 2), np.float32)
        pts = found.reshape(-1, 2).astype(np.float32)
        if len(pts):
            half = max(1, min(3, int(self._spacing // 2)))
            cv2.cornerSubPix(gray, pts.reshape(-1, 1, 2), (half, half), (-1, -1),
                             (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-3))
        return pts

    def _lk_pair(self, a: np.ndarray, b: np.ndarray, pts: np.ndarray, usable_b: np.ndarray, fb: bool = True):
        """Track `pts` from image a to b: (new points [N,2], ok [N] bool): found both ways (forward-backward error
        below fb_max_px when `fb`), inside the image, on b's background."""
        import cv2

        if not len(pts):
            return pts, np.zeros(0, bool)
        p = pts.reshape(-1, 1, 2).astype(np.float32)
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, b, p, None, **self._lk)
        ok = st.reshape(-1).astype(bool)
        if fb:
            back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, nxt, None, **self._lk)
            ok &= st2.reshape(-1).astype(bool)
            ok &= np.linalg.norm((back - p).reshape(-1, 2), axis=1) < self.config.fb_max_px
        nxt = nxt.reshape(-1, 2)
        H, W = b.shape
        inside = (nxt[:, 0] >= 0) & (nxt[:, 1] >= 0) & (nxt[:, 0] <= W - 1) & (nxt[:, 1] <= H - 1) & np.isfinite(nxt).all(1)
        ok &= inside
        xi = np.clip(np.round(nxt[:, 0]).astype(int), 0, W - 1)
        yi = np.clip(np.round(nxt[:, 1]).astype(int), 0, H - 1)
        ok &= usable_b[yi, xi]
        return nxt, ok

    def _static_flow(self, gray: list, corners: np.ndarray, usable: np.ndarray) -> tuple[float | None, str]:
        """(largest over frames t of the median displacement in px of frame 0's background corners tracked straight to
        frame t, how it was decided): 0.0 when every frame's background pixels equal frame 0's; None when it cannot
        be told (too few corners, or most corners lost: the view changed)."""
        T = len(gray)
        if all(np.array_equal(gray[t][usable[0] & usable[t]], gray[0][usable[0] & usable[t]]) for t in range(1, T)):
            return 0.0, "background pixels identical in every frame"
        if len(corners) < self.config.min_points:
            return None, f"only {len(corners)} background corners in frame 0"
        worst = 0.0
        for t in range(1, T):
            moved, ok = self._lk_pair(gray[0], gray[t], corners, usable[t])
            if ok.sum() < self.config.min_points:  # (video noise alone can fail the forward-backward check of weak ones)
                return None, f"frame 0's background corners lost by frame {t}"
            worst = max(worst, float(np.median(np.linalg.norm(moved[ok] - corners[ok], axis=1))))
        return worst, f"largest median background displacement from frame 0: {worst:.4g} px"

    def _lift(self, pts: np.ndarray, depth: np.ndarray, K: np.ndarray, R: np.ndarray, tvec: np.ndarray):
        """World points [M,3] of the corners [N,2] whose depth is known and smooth, and their indices [M]."""
        H, W = depth.shape
        inv = np.where(np.isfinite(depth) & (depth > 0), 1.0 / np.where(depth > 0, depth, 1.0), np.nan).astype(np.float64)
        x, y = pts[:, 0].astype(np.float64), pts[:, 1].astype(np.float64)
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        keep = (x0 >= 1) & (y0 >= 1) & (x0 + 2 <= W - 1) & (y0 + 2 <= H - 1)
        idx = np.nonzero(keep)[0]
        if not len(idx):
            return np.zeros((0, 3)), idx
        x, y, x0, y0 = x[idx], y[idx], x0[idx], y0[idx]
        fx, fy = x - x0, y - y0
        patch = np.stack([inv[y0 + dy, x0 + dx] for dy in (-1, 0, 1, 2) for dx in (-1, 0, 1, 2)], 1).reshape(-1, 4, 4)
        valid = np.isfinite(patch).all(axis=(1, 2))
        patch = np.where(np.isfinite(patch), patch, 1.0)
        d2 = np.concatenate([np.abs(patch[:, :, :-2] + patch[:, :, 2:] - 2 * patch[:, :, 1:-1]).reshape(len(patch), -1),
                             np.abs(patch[:, :-2, :] + patch[:, 2:, :] - 2 * patch[:, 1:-1, :]).reshape(len(patch), -1)], 1)
        c = patch[:, 1:3, 1:3]
        value = (c[:, 0, 0] * (1 - fx) * (1 - fy) + c[:, 0, 1] * fx * (1 - fy) + c[:, 1, 0] * (1 - fx) * fy
                 + c[:, 1, 1] * fx * fy)
        valid &= (value > 0) & (d2.max(1) <= self.config.depth_edge * value)
        idx, x, y, value = idx[valid], x[valid], y[valid], value[valid]
        rays = np.linalg.solve(K, np.stack([x, y, np.ones_like(x)]))  # [3,M] at z = 1
        cam = rays / value  # z = 1 / inverse depth
        world = (R.T @ (cam - tvec[:, None])).T
        return world, idx

    def _track(self, gray: list, usable: np.ndarray, depth: np.ndarray, camera: Camera, K: np.ndarray):
        import cv2

        cfg: OpenCVPnPConfig = self.config
        T = len(gray)
        V0 = np.asarray(camera.viewmat, np.float64)
        R, tvec = V0[:3, :3].copy(), V0[:3, 3].copy()
        corners = self._detect(gray[0], usable[0])
        X, idx = self._lift(corners, depth[0], K, R, tvec)
        pts = corners[idx]
        born = len(pts)
        if born < cfg.min_points:
            raise InputError(f"pose '{self.name}': frame 0 has {born} background corners with a usable depth (need "
                             f"{cfg.min_points}); the background has too little texture or depth")
        cameras = [camera]
        rvec = cv2.Rodrigues(R)[0]
        inliers_per, error_per, tracked_per, failed, lifted = [born], [0.0], [born], [], [0]
        matches = []  # per solved frame: (t, inlier world points, their pixels, full pose's median error)
        for t in range(1, T):
            moved, ok = self._lk_pair(gray[t - 1], gray[t], pts, usable[t])
            X, pts = X[ok], moved[ok]
            tracked_per.append(int(len(pts)))
            solved = None
            if len(pts) >= cfg.min_points:
                solved = self._solve(X, pts, K, rvec, tvec)
            if solved is None or len(solved[2]) < cfg.min_points:
                have = 0 if solved is None else len(solved[2])
                if cfg.on_failure == "error":
                    raise InputError(f"pose '{self.name}': frame {t}: {len(pts)} background points tracked, {have} PnP "
                                     f"inliers (need {cfg.min_points}); the view changes too fast or has too little texture "
                                     f"(on_failure: hold keeps the previous pose)")
                failed.append(t)
                inliers_per.append(have)
                error_per.append(None)
                cameras.append(cameras[-1])
            else:
                rvec, tvec, inl, err = solved
                X, pts = X[inl], pts[inl]
                matches.append((t, X.copy(), pts.copy(), err))
                R = cv2.Rodrigues(rvec)[0]
                inliers_per.append(int(len(inl)))
                error_per.append(round(err, 6))
                V = np.eye(4)
                V[:3, :3], V[:3, 3] = R, tvec.reshape(3)
                cameras.append(camera.model_copy(update={"viewmat": tuple(map(tuple, V.tolist()))}))
            added = 0
            if len(pts) < cfg.redetect_below * born and t < T - 1:
                Vt = np.asarray(cameras[-1].viewmat, np.float64)
                fresh = self._detect(gray[t], usable[t], avoid=pts)
                Xn, idx = self._lift(fresh, depth[t], K, Vt[:3, :3], Vt[:3, 3])
                X, pts = np.concatenate([X, Xn]), np.concatenate([pts, fresh[idx]])
                added = int(len(idx))
            lifted.append(added)
        C0 = camera.center()
        excess = self._rotation_only(matches, K, C0) if cfg.rotation_only_px > 0 and matches else None
        travel = max(float(np.linalg.norm(c.center() - C0)) for c in cameras)
        valid = depth[0][np.isfinite(depth[0]) & (depth[0] > 0)]
        near = travel <= cfg.rotation_only_travel * (float(np.median(valid)) if valid.size else 0.0)
        turn_only = excess is not None and excess[0] <= cfg.rotation_only_px and near
        if turn_only:
            for t, V in excess[1].items():
                cameras[t] = camera.model_copy(update={"viewmat": tuple(map(tuple, V.tolist()))})
        metrics = {"rotation_only": turn_only, "rotation_only_excess_px": None if excess is None else round(excess[0], 6),
                   "pnp_travel": round(travel, 6),
                   "tracked_points": born, "tracked": tracked_per, "inliers": inliers_per, "reprojection_px": error_per,
                   "median_reprojection_px": round(float(np.median([e for e in error_per[1:] if e is not None] or [0.0])), 6),
                   "min_inliers": int(min(inliers_per[1:])), "relifted": lifted, "failed_frames": failed}
        return cameras, metrics

    @staticmethod
    def _rotation_only(matches, K: np.ndarray, C0: np.ndarray):
        """(largest excess over the frames of the rotation-only median reprojection error over the full pose's, in px;
        {frame: rotation-only world-to-camera 4x4}): each frame's rotation about frame 0's camera centre C0 is the
        least-squares fit (Kabsch, no translation) of the inliers' directions from C0 onto their pixel rays."""
        Kinv = np.linalg.inv(K)
        worst, views = 0.0, {}
        for t, X, pts, err in matches:
            rays = (Kinv @ np.concatenate([pts, np.ones((len(pts), 1))], 1).T).T
            rays /= np.linalg.norm(rays, axis=1, keepdims=True)
            dirs = X - C0
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            U, _, Vt = np.linalg.svd(dirs.T @ rays)  # R dirs ~ rays
            d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
            R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
            cam = (X - C0) @ R.T
            if (cam[:, 2] <= 1e-9).any():
                return None
            proj = (cam / cam[:, 2:3]) @ K.T
            worst = max(worst, float(np.median(np.linalg.norm(proj[:, :2] - pts, axis=1))) - err)
            V = np.eye(4)
            V[:3, :3], V[:3, 3] = R, -R @ C0
            views[t] = V
        return worst, views

    def _solve(self, X: np.ndarray, pts: np.ndarray, K: np.ndarray, rvec: np.ndarray, tvec: np.ndarray):
        """(rvec, tvec [3], inlier indices, median inlier reprojection error px) or None."""
        import cv2

        cfg: OpenCVPnPConfig = self.config
        obj = np.ascontiguousarray(X, np.float64)
        img = np.ascontiguousarray(pts, np.float64)
        ok, r, t, inl = cv2.solvePnPRansac(obj, img, K, None, rvec.copy().reshape(3, 1), tvec.copy().reshape(3, 1),
                                           useExtrinsicGuess=True, iterationsCount=cfg.ransac_iterations,
                                           reprojectionError=cfg.ransac_px, confidence=0.999, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok or inl is None or len(inl) < 4:
            return None
        inl = np.sort(inl.reshape(-1))
        if cfg.refine == "lm":
            r, t = cv2.solvePnPRefineLM(obj[inl], img[inl], K, None, r, t)
        proj = cv2.projectPoints(obj, r, t, K, None)[0].reshape(-1, 2)
        err = np.linalg.norm(proj - img, axis=1)
        inl = np.nonzero(err < cfg.ransac_px)[0]  # inliers of the refined pose
        if not len(inl):
            return None
        return r.reshape(3, 1), t.reshape(3), inl, float(np.median(err[inl]))


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)
