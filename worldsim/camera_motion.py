"""Camera paths: a plan's `CameraSpec` -> one `Camera` per frame, and the facts of a path questions ask about.

World frame as in worldsim.world.builder: x right, y up, z towards the first camera (metres); cameras are
OpenCV (x right, y down, z forward). Intrinsics never change; frame 0 is the given first camera itself.

Sign conventions (film terms, as the camera operator sees them; `CameraSpec` docstring):
    pan-left / pan-right      turn in place about the world vertical through the camera centre. pan-left turns
                              the view to the camera's left, so the scene slides RIGHT in the image (a point on
                              the left of the frame moves towards the centre); pan-right the opposite.
    tilt-up / tilt-down       turn in place about the camera's own horizontal right axis. tilt-up raises the
                              view, so the scene slides DOWN in the image.
    dolly-in / dolly-out      move along the first camera's viewing direction: in = forward, towards the look-at
                              point (things grow and spread out from the centre), out = backward.
    truck-left / truck-right  move along the first camera's right axis (horizontal). truck-left moves to the
                              camera's left, so the scene slides right (near things more than far ones).
    orbit-left / orbit-right  the whole camera pose rotates about the world vertical through the pivot.
                              orbit-left moves the camera to its LEFT around the pivot (seen from above:
                              clockwise) and so turns it to the RIGHT to keep looking at the pivot; the pivot
                              keeps its image position and its distance to the camera.
    follow                    the camera translates with the target's world displacement, orientation fixed:
                              the target stays exactly where (and as large as) it was in the first frame.

Timing: linear (constant angular or linear speed, no easing): frame t is at fraction t / (T - 1) of the total
in `MAGNITUDES`, so the camera's image motion per frame is constant like the objects' planned motion.

`camera_motion_direction(cameras)` states a path's motion the way questions need it: the translation
direction in the first camera's frame and the turning direction, with the thresholds `TRANSLATION_MIN_M`
and `TURN_MIN_DEG` defined once here.
"""

from __future__ import annotations

import math

import numpy as np

from worldsim.types.camera import Camera
from worldsim.types.plan import CameraSpec

# Total camera motion over the clip, per speed (the camera's own velocity factor, like PlannerConfig.travel).
# Chosen for the procedural stage: first camera 5.56 m from the look-at point (0, 0.8, 0), 42 deg vertical field
# of view, so one frame width is 4.3 m at the objects' plane z = 0 and a turn by a shifts the image by
# 1.30 x tan(a) frames. The planner's paths are centred at (0.5, 0.6) and reach 0.29..0.71 (0.19..0.81
# vertically) of the frame at normal speed and 0.17..0.83 (0.07..0.93) at fast, so a fast object already ends
# 0.07 frame from the border with a static camera. Checked over every direction, ball and car, 16 frames:
# a single object's centre stays in the frame with a margin of >= 0.14 frame at slow and normal object speed
# with a slow camera, >= 0.11 with a normal one and >= 0.06 with a fast one; a fast object with a slow camera
# keeps >= 0.015; only a fast object heading for the border the camera pushes it towards (down under tilt-up or
# dolly-in, against a pan) may touch the border in the last frames with a normal or fast camera.
# Tilt is smaller than pan because the paths sit below the image centre (0.6), leaving less room downwards.
#   pan   (deg)  3 / 5 / 7        scene shifts 0.07 / 0.11 / 0.16 frame sideways
#   tilt  (deg)  2 / 3 / 5        scene shifts 0.05 / 0.07 / 0.11 frame vertically
#   dolly (m)    0.5 / 0.9 / 1.3  objects grow 1.10 / 1.19 / 1.31 x (in) or shrink to 0.92 / 0.86 / 0.81 x (out)
#   truck (m)    0.3 / 0.5 / 0.7  things at z = 0 shift 0.07 / 0.12 / 0.16 frame (the far wall ~2.5 x less)
#   orbit (deg)  12 / 24 / 36     the pivot keeps its image position and distance; objects 1.4 m beside it
#                                 shift <= 0.02 / 0.06 / 0.1 frame while the back wall sweeps 0.17 / 0.34 / 0.53
MAGNITUDES: dict[str, dict[str, float]] = {
    "pan": {"slow": 3.0, "normal": 5.0, "fast": 7.0},
    "tilt": {"slow": 2.0, "normal": 3.0, "fast": 5.0},
    "dolly": {"slow": 0.5, "normal": 0.9, "fast": 1.3},
    "truck": {"slow": 0.3, "normal": 0.5, "fast": 0.7},
    "orbit": {"slow": 12.0, "normal": 24.0, "fast": 36.0},
}
MAGNITUDE_UNITS = {"pan": "deg", "tilt": "deg", "dolly": "m", "truck": "m", "orbit": "deg"}
DEFAULT_PIVOT = (0.0, 0.8, 0.0)  # the procedural first camera's look-at point
WORLD_UP = np.array([0.0, 1.0, 0.0])

# camera_motion_direction: a path moves when its centre travels at least TRANSLATION_MIN_M metres, and turns
# when its heading (yaw) or elevation (pitch) changes by at least TURN_MIN_DEG degrees, first to last frame.
# Both are far below the smallest magnitude above (0.3 m, 2 deg) and far above rounding noise.
TRANSLATION_MIN_M = 0.05
TURN_MIN_DEG = 1.0


def motion_kind(motion: str) -> str:
    """'pan-left' -> 'pan'; 'static' and 'follow' are their own kind."""
    return motion.split("-")[0]


def magnitude(spec: CameraSpec) -> float:
    """The total motion of `spec` over the clip (MAGNITUDE_UNITS); 0 for static and follow (the target decides)."""
    kind = motion_kind(spec.motion)
    return MAGNITUDES[kind][spec.speed] if kind in MAGNITUDES else 0.0


def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    """Right-handed rotation matrix of `deg` degrees about the unit `axis` (Rodrigues)."""
    a = math.radians(deg)
    x, y, z = axis / np.linalg.norm(axis)
    K = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * (K @ K)


def _camera(first: Camera, R: np.ndarray, C: np.ndarray) -> Camera:
    V = np.eye(4)
    V[:3, :3], V[:3, 3] = R, -R @ C
    return Camera(width=first.width, height=first.height, viewmat=tuple(map(tuple, V.tolist())), K=first.K)


def camera_path(spec: CameraSpec, first: Camera, num_frames: int, target_track: np.ndarray | None = None,
                pivot=None) -> list[Camera]:
    """Per-frame cameras following `spec` (module docstring); frame 0 is `first` itself.

    `target_track` [T,3]: the world positions of the target (a follow camera needs it; an orbit camera with no
    `pivot` circles its first position). `pivot`: the orbit centre (default: `DEFAULT_PIVOT`, or the target's
    first position when a target track is given).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not spec.moving:
        return [first] * num_frames
    R0 = np.asarray(first.viewmat, dtype=np.float64)[:3, :3]
    C0 = first.center()
    kind = motion_kind(spec.motion)
    sign = -1.0 if spec.motion.endswith(("-right", "-down", "-out")) else 1.0
    total = magnitude(spec)
    if kind == "follow":
        if target_track is None:
            raise ValueError("a follow camera needs the target's track")
        track = np.asarray(target_track, dtype=np.float64)
        if track.shape != (num_frames, 3):
            raise ValueError(f"target track has shape {track.shape}; expected ({num_frames}, 3)")
    if kind == "orbit":
        if pivot is None:
            pivot = DEFAULT_PIVOT if target_track is None else np.asarray(target_track, dtype=np.float64)[0]
        pivot = np.asarray(pivot, dtype=np.float64)

    cameras = [first]
    for t in range(1, num_frames):
        s = t / (num_frames - 1)
        R, C = R0, C0
        if kind == "pan":  # pan-left: +angle about world up (the forward axis turns towards -x)
            Q = _rotation(WORLD_UP, sign * total * s)
            R = R0 @ Q.T
        elif kind == "tilt":  # tilt-up: +angle about the camera's right axis (the forward axis turns upwards)
            Q = _rotation(R0[0], sign * total * s)
            R = R0 @ Q.T
        elif kind == "orbit":  # orbit-left: -angle about world up through the pivot (the centre moves to -x)
            Q = _rotation(WORLD_UP, -sign * total * s)
            R, C = R0 @ Q.T, pivot + Q @ (C0 - pivot)
        elif kind == "dolly":  # dolly-in: along the forward axis
            C = C0 + sign * total * s * R0[2]
        elif kind == "truck":  # truck-left: along -right
            C = C0 - sign * total * s * R0[0]
        elif kind == "follow":
            C = C0 + (track[t] - track[0])
        else:
            raise ValueError(f"unknown camera motion '{spec.motion}'")
        cameras.append(_camera(first, R, C))
    return cameras


def _heading_pitch(camera: Camera) -> tuple[float, float]:
    """Yaw of the viewing direction (degrees, towards -x = left positive, 0 = looking along -z) and its
    elevation (degrees, up positive)."""
    f = np.asarray(camera.viewmat, dtype=np.float64)[2, :3]
    return math.degrees(math.atan2(-f[0], -f[2])), math.degrees(math.asin(max(-1.0, min(1.0, f[1]))))


def camera_motion_direction(cameras: list[Camera]) -> dict:
    """What the camera did over the clip, first frame to last, as question answers need it.

    `translation`: the dominant axis of the camera centre's displacement in the FIRST camera's frame, one of
    left, right, up, down, forward, backward, none (shorter than `TRANSLATION_MIN_M`); `translation_m`: that
    displacement [right, down, forward] in metres. `yaw`: left / right / none (heading change of at least
    `TURN_MIN_DEG`), `pitch`: up / down / none; `yaw_deg` (left positive) and `pitch_deg` (up positive);
    `turn`: the larger of the two turns (left, right, up, down, none); `moving`: anything but none.
    E.g. pan-left: translation none, yaw left; orbit-left: translation left, yaw right; dolly-in: forward.
    """
    if not cameras:
        raise ValueError("no cameras")
    first, last = cameras[0], cameras[-1]
    R0 = np.asarray(first.viewmat, dtype=np.float64)[:3, :3]
    d = R0 @ (last.center() - first.center())  # [right, down, forward]
    translation = "none"
    if float(np.linalg.norm(d)) >= TRANSLATION_MIN_M:
        axis = int(np.argmax(np.abs(d)))
        translation = (("right", "left"), ("down", "up"), ("forward", "backward"))[axis][0 if d[axis] > 0 else 1]
    (h0, p0), (h1, p1) = _heading_pitch(first), _heading_pitch(last)
    yaw_deg = (h1 - h0 + 180.0) % 360.0 - 180.0
    pitch_deg = p1 - p0
    yaw = "none" if abs(yaw_deg) < TURN_MIN_DEG else ("left" if yaw_deg > 0 else "right")
    pitch = "none" if abs(pitch_deg) < TURN_MIN_DEG else ("up" if pitch_deg > 0 else "down")
    turn = yaw if abs(yaw_deg) >= abs(pitch_deg) else pitch
    if turn == "none":
        turn = pitch if yaw == "none" else yaw
    return {
        "translation": translation, "translation_m": [round(float(v), 6) for v in d],
        "yaw": yaw, "yaw_deg": round(yaw_deg, 6), "pitch": pitch, "pitch_deg": round(pitch_deg, 6),
        "turn": turn, "moving": translation != "none" or turn != "none",
    }
