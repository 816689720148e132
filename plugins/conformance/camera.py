"""Scoring a clip whose camera moves (plan.camera not static): what the measured boxes are compared with.

The planner's boxes (worldsim.planning.plan_tracks) are in the FIRST camera's image; a moving camera shows the
objects elsewhere. When the generator's labels.json has the moving-camera fields (worldsim.types.labels:
`cameras`, per object frame `planned_box` as that frame's camera sees it, `center_first_view`, `position`),
`camera_view` gives:

    tracks         the planned tracks with each frame's camera-aware `planned_box`: boxes measured in the video
                   are compared with them (mIoU, AP50, centroid distance), and several copies of an object are
                   matched to them
    first_view,    per instance and frame, the labels' `center_first_view` and what the camera did to the
    offsets        object's centre, `center_first_view - project(position, camera_t)`. `direction_centers`
                   turns them into the centres the commanded direction is judged on (the object's world motion
                   as the first camera sees it): source `labels`, the `center_first_view`s; any other source,
                   the measured centres plus the offsets (exact for the object's centre, so a box measured in
                   the moving image is brought back to the first view)
    cameras, depth every frame's camera and, when labels.safetensors has them, the depth maps and masks: the
    masks          motion level is then measured on the optical flow left after removing the camera's own
                   (`ego_flow`), over the objects' pixels (`compensated_magnitudes`)

Labels without these fields (a generator that cannot move its camera): None, and the clip is scored against
the plan as for a static camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.types import BoxTrack, Camera, ObjectTrack, ScoreInput

# The moving-pixel mean worldsim.motion.flow_magnitudes measures (and FLOW_RESPONSE calibrates) over the
# object-pixel mean `compensated_magnitudes` measures, on the same static-camera procedural clips: 0.93..0.97
# (32, 48 and 128 px; right, up, left, down-left), so levels of either measure mean the same speed.
OBJECT_FLOW_SCALE = 0.95


@dataclass
class CameraView:
    tracks: list[ObjectTrack]
    offsets: list[list[tuple[float, float] | None]]  # [K][T] center_first_view - projection by frame t's camera
    first_view: list[list[tuple[float, float] | None]]  # [K][T] labels' center_first_view
    cameras: list[Camera]
    depth: np.ndarray | None  # [T,H,W] camera z, or None
    masks: np.ndarray | None  # [T,H,W] instance ids (0 background), or None


def camera_view(inputs: ScoreInput, tracks: list[ObjectTrack]) -> CameraView | None:
    """The camera-aware planned tracks and first-view centres of a moving-camera clip (module docstring); None
    when the clip's labels do not have them."""
    from worldsim.labels import read_labels

    video, run_dir = inputs.video, Path(inputs.run_dir)
    if video is None or not video.labels:
        return None
    labels = read_labels(run_dir / video.labels)
    if not labels.cameras:
        return None
    by_key = {(o.object_index, o.instance): o for o in labels.objects}
    out_tracks, offsets, first_view = [], [], []
    for tr in tracks:
        obj = by_key.get((tr.object_index, tr.instance))
        if obj is None or len(obj.frames) != len(labels.cameras) or any(f.planned_box is None for f in obj.frames):
            return None
        out_tracks.append(tr.model_copy(update={"track": BoxTrack(boxes=tuple(tuple(f.planned_box) for f in obj.frames))}))
        row_off, row_first = [], []
        for f, cam in zip(obj.frames, labels.cameras):
            if f.center_first_view is None or f.position is None:
                row_off.append(None)
                row_first.append(None)
                continue
            seen = cam.project(np.array([f.position]))[0][0]
            row_first.append((float(f.center_first_view[0]), float(f.center_first_view[1])))
            row_off.append((row_first[-1][0] - float(seen[0]), row_first[-1][1] - float(seen[1])))
        offsets.append(row_off)
        first_view.append(row_first)
    depth = masks = None
    if video.arrays and (run_dir / video.arrays).is_file():
        from safetensors import safe_open

        with safe_open(str(run_dir / video.arrays), "numpy") as f:
            if {"depth", "masks"} <= set(f.keys()):
                depth, masks = f.get_tensor("depth"), f.get_tensor("masks")
    return CameraView(tracks=out_tracks, offsets=offsets, first_view=first_view,
                      cameras=list(labels.cameras), depth=depth, masks=masks)


def direction_centers(view: CameraView, k: int, measured: list, source: str) -> list[tuple[float, float] | None]:
    """Instance k's per-frame centres in the first camera's view, where a box was measured (module docstring)."""
    from plugins.conformance.metrics import center

    out: list[tuple[float, float] | None] = []
    for t, box in enumerate(measured):
        if box is None:
            out.append(None)
        elif source == "labels":
            out.append(view.first_view[k][t])
        elif view.offsets[k][t] is None:
            out.append(None)
        else:
            cx, cy = center(box)
            dx, dy = view.offsets[k][t]
            out.append((cx + dx, cy + dy))
    return out


def ego_flow(depth: np.ndarray, first: Camera, second: Camera, size: tuple[int, int]) -> np.ndarray:
    """The optical flow a static world would show from the camera `first` to `second`: each pixel of the
    depth map [H,W] (camera z of `first`) moved to where `second` sees its world point. Returned at the working
    size (w, h) in fractions of its diagonal, like worldsim.motion.dense_flow: [h,w,2]."""
    import cv2

    w, h = size
    H, W = depth.shape
    z = cv2.resize(depth.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST).astype(np.float64)
    u, v = np.meshgrid((np.arange(w) + 0.5) * W / w, (np.arange(h) + 0.5) * H / h)  # original pixel coordinates
    K1, V1, V2 = np.asarray(first.K), np.asarray(first.viewmat), np.asarray(second.viewmat)
    x = (u - K1[0, 2]) / K1[0, 0] * z
    y = (v - K1[1, 2]) / K1[1, 1] * z
    p_cam = np.stack([x, y, z], axis=-1)  # [h,w,3]
    world = (p_cam - V1[:3, 3]) @ V1[:3, :3]  # R^T (p - t)
    q = world @ V2[:3, :3].T + V2[:3, 3]
    K2 = np.asarray(second.K)
    qz = np.where(np.abs(q[..., 2]) < 1e-9, 1e-9, q[..., 2])
    u2 = K2[0, 0] * q[..., 0] / qz + K2[0, 2]
    v2 = K2[1, 1] * q[..., 1] / qz + K2[1, 2]
    flow = np.stack([(u2 - u) * w / W, (v2 - v) * h / H], axis=-1)
    return (flow / math.hypot(w, h)).astype(np.float32)


def compensated_magnitudes(frames: np.ndarray, depth: np.ndarray, masks: np.ndarray, cameras: list[Camera],
                           method: str) -> np.ndarray:
    """Per consecutive pair, the mean over the objects' pixels (labels `masks` [T,H,W] > 0 of the earlier frame)
    of the optical flow left after removing the camera's own (`ego_flow`), in diagonal fractions [T-1]: how fast
    the objects move in the world, whatever the camera does, times `OBJECT_FLOW_SCALE`; 0 for a pair with no
    object pixel.

    Over the objects only, because the camera's motion is invisible to optical flow on the untextured sky and
    the smooth ground (Farneback reads almost no flow there), so the residual there would be the camera's
    motion itself; the objects are textured and their residual is their own motion (on procedural clips it
    matches the static-camera measure within a few percent)."""
    import cv2

    from worldsim import motion

    flows = motion.dense_flow(frames, method)  # [T-1,h,w,2]
    h, w = flows.shape[1:3]
    out = np.zeros(len(flows), np.float64)
    for i, f in enumerate(flows):
        residual = np.linalg.norm(f - ego_flow(depth[i], cameras[i], cameras[i + 1], (w, h)), axis=-1)
        objects = cv2.resize((masks[i] > 0).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        out[i] = OBJECT_FLOW_SCALE * float(residual[objects].mean()) if objects.any() else 0.0
    return out
