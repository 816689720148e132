"""Motion intensity from dense optical flow (Mojito's Optical Flow Map Generator), independent of resolution.

`flow_magnitudes` computes, for each pair of consecutive frames, dense optical flow on grayscale frames
resized to a fixed working size (the longer side `WORK_SIZE` px), so the estimator sees the same
geometry at 32, 64 or 128 px. Each pair's magnitude is the mean flow over the *moving pixels*, divided
by the working frame's diagonal: a fraction of the diagonal per frame. Moving pixels are those whose
flow is at least half the frame's robust peak (the 99th percentile) and above a noise floor; for a
small object on a static background the mean over all pixels would mostly measure the object's size,
while the moving-pixel mean tracks its speed (Farneback's smoothing spreads the flow into a halo
around the object; the half-peak cut drops that halo).

Levels (Mojito: "normalise and discretise into integer levels 1..10"): level = round(m / scale),
clipped to [1, 10], with `scale` = `LEVEL_SCALE` (0.005 of the diagonal per frame by default). A
16-frame procedural clip at slow / normal / fast moves 0.0104 / 0.0198 / 0.0311 diagonals per frame:
levels 2 / 4 / 6. `speed_level` predicts the level a commanded speed should measure: the planner's
travel per frame along the direction (in pixels, over the diagonal) times `FLOW_RESPONSE`, the ratio
of measured Farneback flow to true displacement on procedural clips (0.95, measured at 32, 64 and
128 px by tests/test_motion.py).
"""

from __future__ import annotations

import math

import numpy as np

from worldsim.errors import InputError

WORK_SIZE = 128  # px, longer side of the frames flow is computed on
LEVEL_SCALE = 0.005  # diagonal fraction per frame that one level stands for
FLOW_RESPONSE = 0.95  # measured / true displacement of Farneback moving-pixel means on procedural clips
NOISE_FLOOR = 0.0015  # diagonal fraction per frame below which a pixel does not move
PEAK_PERCENTILE = 99.0
METHODS = ("farneback", "dis")
MIN_LEVEL, MAX_LEVEL = 1, 10


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be uint8 [T,H,W,3], got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] < 2:
        raise InputError(f"motion needs at least 2 frames, got {frames.shape[0]}")
    return frames


def _working_gray(frames: np.ndarray, work_size: int) -> tuple[list[np.ndarray], float]:
    import cv2

    _, h, w, _ = frames.shape
    s = work_size / max(h, w)
    size = (max(8, round(w * s)), max(8, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    gray = [cv2.resize(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY), size, interpolation=interp) for f in frames]
    return gray, math.hypot(*size)


def dense_flow(frames: np.ndarray, method: str = "farneback", work_size: int = WORK_SIZE) -> np.ndarray:
    """Flow between consecutive frames at the working size, in diagonal fractions: [T-1,h,w,2] float32 (dx, dy)."""
    import cv2

    if method not in METHODS:
        raise InputError(f"unknown optical flow method '{method}'; accepted: {', '.join(METHODS)}")
    gray, diag = _working_gray(_check_frames(frames), work_size)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None
    flows = []
    for a, b in zip(gray, gray[1:]):
        if dis is not None:
            f = dis.calc(a, b, None)
        else:  # pyramid scale, levels, window, iterations, poly_n, poly_sigma, flags
            f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        flows.append(f / diag)
    return np.stack(flows).astype(np.float32)


def moving_mask(magnitude: np.ndarray, noise_floor: float = NOISE_FLOOR) -> np.ndarray:
    """Moving pixels of one flow magnitude map [h,w] (diagonal fractions): >= half the robust peak and the floor."""
    peak = float(np.percentile(magnitude, PEAK_PERCENTILE))
    return magnitude >= max(0.5 * peak, noise_floor)


def flow_magnitudes(frames: np.ndarray, method: str = "farneback", work_size: int = WORK_SIZE,
                    noise_floor: float = NOISE_FLOOR) -> np.ndarray:
    """Per consecutive pair, the mean flow over moving pixels as a fraction of the frame diagonal: [T-1].

    0 for a pair where nothing moves above the noise floor.
    """
    flows = dense_flow(frames, method, work_size)
    out = np.zeros(len(flows), np.float64)
    for i, f in enumerate(flows):
        mag = np.linalg.norm(f, axis=-1)
        moving = moving_mask(mag, noise_floor)
        out[i] = float(mag[moving].mean()) if moving.any() else 0.0
    return out


def intensity_level(magnitude: float, scale: float = LEVEL_SCALE) -> int:
    """Integer motion level in 1..10 of a per-frame magnitude (diagonal fraction): round(magnitude / scale), clipped."""
    if not math.isfinite(magnitude) or magnitude < 0:
        raise InputError(f"motion magnitude {magnitude!r} is not a finite non-negative number")
    if not scale > 0:
        raise InputError(f"motion level scale {scale!r} must be > 0")
    return int(min(MAX_LEVEL, max(MIN_LEVEL, round(magnitude / scale))))


def video_intensity_level(frames: np.ndarray, method: str = "farneback", scale: float = LEVEL_SCALE,
                          work_size: int = WORK_SIZE) -> int:
    """The level of a clip: of the mean per-pair magnitude."""
    return intensity_level(float(flow_magnitudes(frames, method, work_size).mean()), scale)


def expected_magnitude(speed: str, num_frames: int, direction: str = "right", width: int = 1, height: int = 1,
                       planner=None) -> float:
    """Per-frame displacement (diagonal fraction) the planner commands for `speed`, times `FLOW_RESPONSE`."""
    from worldsim.planning import PlannerConfig
    from worldsim.types.plan import DIRECTION_VECTORS

    cfg = planner or PlannerConfig()
    if speed not in cfg.travel:
        raise InputError(f"unknown speed '{speed}'; accepted: {', '.join(cfg.travel)}")
    if direction not in DIRECTION_VECTORS:
        raise InputError(f"unknown direction '{direction}'; accepted: {', '.join(DIRECTION_VECTORS)}")
    if num_frames < 2:
        raise InputError(f"num_frames {num_frames!r} must be >= 2 for motion")
    ux, uy = DIRECTION_VECTORS[direction]
    per_frame = cfg.travel[speed] / (num_frames - 1)  # image fraction along the direction
    return FLOW_RESPONSE * per_frame * math.hypot(ux * width, uy * height) / math.hypot(width, height)


def speed_level(speed: str, num_frames: int, direction: str = "right", width: int = 1, height: int = 1,
                scale: float = LEVEL_SCALE, planner=None) -> int:
    """The level a clip of `num_frames` moving at the commanded `speed` should measure (1 when direction is 'none')."""
    return intensity_level(expected_magnitude(speed, num_frames, direction, width, height, planner), scale)
