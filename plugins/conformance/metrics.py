"""Box-track conformance metrics of one object instance: measured per-frame boxes vs the planned ones.

All boxes are normalised xyxy (origin top-left, x right, y down). Distances are measured in pixels of
a `width` x `height` frame and divided by its diagonal, so they do not depend on the resolution.

    miou                mean over frames of IoU(measured, planned); a frame without a measured box counts 0
    ap50                with confidences (a detector): average precision at IoU 0.5 over the frames:
                        each frame's measured box is one detection ranked by its score, a true positive
                        when IoU >= 0.5 with that frame's planned box, against one ground-truth box per
                        frame; AP = sum over true positives of precision at that rank / frames
                        (all-point interpolation). Without confidences (labels, colour, attention, field):
                        the fraction of frames with IoU >= 0.5 ("hit_rate"); `ap50_kind` says which
    centroid_distance   mean over frames of |centre(measured) - centre(planned)| / diagonal, a frame
                        without a measured box counting 1 (the largest normalised distance)
    direction           the measured displacement (least-squares slope of the measured centres over time,
                        times the clip length) against the commanded direction: `direction_correct` when
                        its cosine with the command is >= cos(`max_angle_deg`) and it travels at least
                        `min_travel` of the diagonal; for 'none' when it travels less than `min_travel`.
                        With `direction_centers` (a moving camera: the centres in the first camera's view,
                        plugins/conformance/camera.py) the slope is of those, where they are given
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from worldsim.types.plan import DIRECTION_VECTORS

Box = Sequence[float]


def iou(a: Box | None, b: Box | None) -> float:
    if a is None or b is None:
        return 0.0
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def center(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def ap50(ious: Sequence[float], scores: Sequence[float | None]) -> float:
    """AP at IoU 0.5 over frames: one detection (score) per frame, one ground truth per frame (module docstring)."""
    n = len(ious)
    dets = sorted(((s, v) for s, v in zip(scores, ious) if s is not None), key=lambda d: -d[0])
    tp, total = 0, 0.0
    for rank, (_, v) in enumerate(dets, start=1):
        if v >= 0.5:
            tp += 1
            total += tp / rank
    return total / n if n else 0.0


def nearest_direction(dx: float, dy: float, min_travel: float) -> str:
    """The named direction (DIRECTION_VECTORS) closest to a displacement in diagonal units; 'none' when short."""
    if math.hypot(dx, dy) < min_travel:
        return "none"
    return max((d for d in DIRECTION_VECTORS if d != "none"),
               key=lambda d: DIRECTION_VECTORS[d][0] * dx + DIRECTION_VECTORS[d][1] * dy)


def track_metrics(measured: Sequence[Box | None], planned: Sequence[Box], direction: str, width: int, height: int,
                  scores: Sequence[float | None] | None = None, min_travel: float = 0.02,
                  max_angle_deg: float = 45.0, direction_centers: Sequence[tuple[float, float] | None] | None = None) -> dict:
    """Metrics of one instance (module docstring). `scores`: per-frame detector confidences, or None;
    `direction_centers`: per-frame centres to judge the direction on instead of the measured boxes' (None)."""
    T = len(planned)
    if len(measured) != T:
        raise ValueError(f"{len(measured)} measured boxes for {T} planned frames")
    diag = math.hypot(width, height)
    ious = [iou(m, p) for m, p in zip(measured, planned)]
    dists = []
    for m, p in zip(measured, planned):
        if m is None:
            dists.append(1.0)
            continue
        (mx, my), (px, py) = center(m), center(p)
        dists.append(min(1.0, math.hypot((mx - px) * width, (my - py) * height) / diag))
    if scores is not None:
        ap, kind = ap50(ious, [s if m is not None else None for s, m in zip(scores, measured)]), "ap"
    else:
        ap, kind = (sum(v >= 0.5 for v in ious) / T if T else 0.0), "hit_rate"

    frames = [t for t, m in enumerate(measured) if m is not None]
    centre_of = lambda t: center(measured[t])
    moved = frames
    if direction_centers is not None:
        moved = [t for t in frames if direction_centers[t] is not None]
        centre_of = lambda t: direction_centers[t]
    travel = (0.0, 0.0)
    if len(moved) >= 2:
        ts = np.array(moved, float) / max(T - 1, 1)
        cs = np.array([centre_of(t) for t in moved])  # [F,2] normalised
        slope = np.polyfit(ts, cs, 1)[0]  # [2] normalised units per clip
        travel = (float(slope[0]) * width / diag, float(slope[1]) * height / diag)
    ux, uy = DIRECTION_VECTORS[direction]
    length = math.hypot(*travel)
    if direction == "none":
        cosine = None
        correct = len(moved) >= 2 and length < min_travel
    else:
        # the commanded direction in pixel space, so the angle is measured in the image as seen
        cx, cy = ux * width, uy * height
        cosine = (travel[0] * cx + travel[1] * cy) / (length * math.hypot(cx, cy)) if length > 0 else 0.0
        correct = length >= min_travel and cosine >= math.cos(math.radians(max_angle_deg))
    return {
        "miou": float(np.mean(ious)) if T else 0.0,
        "ap50": float(ap), "ap50_kind": kind,
        "centroid_distance": float(np.mean(dists)) if T else 1.0,
        "detected": len(frames) / T if T else 0.0,
        "travel": [round(travel[0], 6), round(travel[1], 6)],
        "measured_direction": nearest_direction(*travel, min_travel) if len(moved) >= 2 else None,
        "direction_cosine": None if cosine is None else float(cosine),
        "direction_correct": bool(correct),
        "per_frame_iou": [round(v, 6) for v in ious],
    }
