"""How far estimated camera poses are from the truth (lists of `worldsim.types.Camera`, one per frame).

`ate(estimated, truth, scene_depth)`  absolute trajectory error of the camera centres after aligning the estimated
    centres to the true ones (Umeyama: similarity by default; rigid or none on request). RMSE, median and max in
    world units and as a fraction of the scene extent.
    Scene extent = the diameter of the true camera centres (largest distance between two of them) + `scene_depth`,
    the median depth of the first frame's valid pixels (how far the scene the camera looks at is); the caller
    measures it (`median_depth(depth[0])`). A pan's centres do not move, so its extent is the scene depth alone.
    When the true centres do not spread (pan, tilt, a static camera: diameter below 1e-9 of the extent) a
    similarity would shrink any estimate onto one point; the alignment falls back to a translation.
`relative_rotation_error_deg(estimated, truth)`  median over consecutive frame pairs of the angle of
    R_rel_est^T R_rel_true, where R_rel = R_{t+1} R_t^T (world-to-camera rotations): how wrong each frame-to-frame
    rotation is, whatever the drift.
`static_motion(cameras)`  how far a camera path moves from its first camera: largest centre displacement and
    largest rotation angle (both 0 exactly for copies of one camera).

Everything is numpy float64; results are plain floats (JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Sequence

if TYPE_CHECKING:
    import numpy as np

    from worldsim.types import Camera


def _rotations(cameras: Sequence["Camera"]) -> "np.ndarray":
    import numpy as np

    return np.asarray([cam.viewmat for cam in cameras], dtype=np.float64)[:, :3, :3]


def _centers(cameras: Sequence["Camera"]) -> "np.ndarray":
    import numpy as np

    return np.stack([cam.center() for cam in cameras]).astype(np.float64)


def rotation_angle_deg(R: "np.ndarray") -> "np.ndarray":
    """Angle (degrees) of rotation matrices [...,3,3]: atan2(sin, cos), exact for small angles too (arccos of the
    trace alone loses about 1e-6 degrees near zero)."""
    import numpy as np

    R = np.asarray(R, dtype=np.float64)
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    axis = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], axis=-1)
    return np.degrees(np.arctan2(np.linalg.norm(axis, axis=-1) / 2.0, cos))


def umeyama(source: "np.ndarray", target: "np.ndarray", scale: bool = True) -> tuple[float, "np.ndarray", "np.ndarray"]:
    """(s, R, t) minimising sum |s R source_i + t - target_i|^2 over points [N,3] (Umeyama 1991)."""
    import numpy as np

    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    cov = xt.T @ xs / len(source)
    U, D, Vt = np.linalg.svd(cov)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1.0
    R = U @ S @ Vt
    var = (xs ** 2).sum() / len(source)
    s = float(np.trace(np.diag(D) @ S) / var) if scale and var > 0 else 1.0
    return s, R, mu_t - s * R @ mu_s


def diameter(points: "np.ndarray") -> float:
    """Largest distance between two points [N,3]."""
    import numpy as np

    if len(points) < 2:
        return 0.0
    return float(np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)).max())


def median_depth(depth: "np.ndarray") -> float:
    """Median of the valid (finite, > 0) values of a depth map; 0.0 when none is valid."""
    import numpy as np

    d = np.asarray(depth, dtype=np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else 0.0


def _check_pair(estimated: Sequence["Camera"], truth: Sequence["Camera"]) -> None:
    if len(estimated) != len(truth) or not truth:
        raise ValueError(f"{len(estimated)} estimated cameras for {len(truth)} true ones; give one of each per frame")


def ate(estimated: Sequence["Camera"], truth: Sequence["Camera"], scene_depth: float = 0.0,
        align: Literal["sim3", "se3", "none"] = "sim3") -> dict:
    """Absolute trajectory error of the camera centres (the module comment): {rmse, median, max, extent,
    rmse_pct, median_pct, max_pct (percent of the extent; None when the extent is 0), alignment (what was used),
    scale (of the similarity), raw_rmse, raw_median (no alignment: the world frame is frame 0's camera)}."""
    import numpy as np

    _check_pair(estimated, truth)
    est, gt = _centers(estimated), _centers(truth)
    extent = diameter(gt) + max(float(scene_depth), 0.0)
    used = align
    spread = diameter(gt)
    if align != "none" and (len(gt) < 2 or spread <= 1e-9 * max(extent, 1e-12)):
        used = "translation"
    if used == "none":
        aligned, s = est, 1.0
    elif used == "translation":
        aligned, s = est - est.mean(0) + gt.mean(0), 1.0
    else:
        s, R, t = umeyama(est, gt, scale=(used == "sim3"))
        aligned = (s * (R @ est.T)).T + t
    err = np.linalg.norm(aligned - gt, axis=1)
    raw = np.linalg.norm(est - gt, axis=1)
    pct = lambda v: round(100.0 * v / extent, 6) if extent > 0 else None
    rmse, med, mx = float(np.sqrt((err ** 2).mean())), float(np.median(err)), float(err.max())
    return {"rmse": rmse, "median": med, "max": mx, "extent": extent, "rmse_pct": pct(rmse), "median_pct": pct(med),
            "max_pct": pct(mx), "alignment": used, "scale": float(s),
            "raw_rmse": float(np.sqrt((raw ** 2).mean())), "raw_median": float(np.median(raw)), "frames": len(gt)}


def relative_rotation_errors_deg(estimated: Sequence["Camera"], truth: Sequence["Camera"]) -> list[float]:
    """Per consecutive frame pair (t, t+1): the angle of R_rel_est^T R_rel_true in degrees."""
    _check_pair(estimated, truth)
    Re, Rt = _rotations(estimated), _rotations(truth)
    rel_e = Re[1:] @ Re[:-1].transpose(0, 2, 1)
    rel_t = Rt[1:] @ Rt[:-1].transpose(0, 2, 1)
    return [float(a) for a in rotation_angle_deg(rel_e.transpose(0, 2, 1) @ rel_t)]


def relative_rotation_error_deg(estimated: Sequence["Camera"], truth: Sequence["Camera"]) -> float:
    """Median over consecutive frame pairs of the relative rotation error (degrees); 0.0 for a single frame."""
    import numpy as np

    errors = relative_rotation_errors_deg(estimated, truth)
    return float(np.median(errors)) if errors else 0.0


def static_motion(cameras: Sequence["Camera"]) -> dict:
    """{max_translation: largest |centre_t - centre_0| (world units), max_rotation_deg: largest angle of
    R_t R_0^T}; both exactly 0.0 for copies of one camera."""
    import numpy as np

    if not cameras:
        return {"max_translation": 0.0, "max_rotation_deg": 0.0}
    c, R = _centers(cameras), _rotations(cameras)
    same = [cam == cameras[0] for cam in cameras]
    shift = np.where(same, 0.0, np.linalg.norm(c - c[0], axis=1))
    angle = np.where(same, 0.0, rotation_angle_deg(R @ R[0].T))
    return {"max_translation": float(shift.max()), "max_rotation_deg": float(angle.max())}


def pose_errors(estimated: Sequence["Camera"], truth: Sequence["Camera"], scene_depth: float = 0.0) -> dict:
    """`ate` (similarity alignment) plus the relative rotation error: the figures a benchmark reports."""
    out = ate(estimated, truth, scene_depth)
    out["rre_deg"] = relative_rotation_error_deg(estimated, truth)
    out["rre_max_deg"] = max(relative_rotation_errors_deg(estimated, truth), default=0.0)
    return out


__all__ = ["ate", "diameter", "median_depth", "pose_errors", "relative_rotation_error_deg", "relative_rotation_errors_deg",
           "rotation_angle_deg", "static_motion", "umeyama"]
