"""Motion measured from a generator's labels: image-space heading from per-frame object centres, the
sense of rotation as seen in the image from the spin axis in camera coordinates, and (moving cameras) how
the camera moves and turns, in the FIRST frame's camera axes (OpenCV: x right, y down, z forward).

Image convention (DESIGN.md): normalised x right, y down; "left" is decreasing x, "up" decreasing y.
A measurement that could honestly be read two ways (a displacement between "still" and "moving", a heading
near the boundary of two direction sectors, a spin axis almost in the image plane) is `AMBIGUOUS`, so
questions are only asked where the exact answer is unambiguous.
"""

from __future__ import annotations

import math

from worldsim.types.plan import DIRECTION_VECTORS

AMBIGUOUS = "ambiguous"
STILL_BELOW = 0.03  # displacement (frame fractions) under which an object is "not moving"
MOVING_ABOVE = 0.08  # displacement over which it is clearly moving; in between: ambiguous
SECTOR_MARGIN_DEG = 15.0  # largest accepted angle between the heading and the nearest of the 8 directions
MIN_AXIS_VIEW = 0.05  # |spin axis . viewing axis| under which the image shows no clear rotation sense
# ... and under which a translating object's perspective shear can outweigh the turn it shows (a spin about
# the vertical axis, seen from a camera a few degrees above the ground, while the object also travels)
MIN_AXIS_VIEW_MOVING = 0.5
MAX_STEP_RAD = 0.9 * math.pi  # larger per-frame rotations alias (the sense seen can flip)

# Camera motion. A camera that travels a fraction f of its distance to the scene sideways shifts the whole frame
# by about f (x the focal length over the width, ~1 at the usual field of view), and one that turns by a degrees
# by about a in radians. A whole-frame shift is far easier to see than one object's, so the bounds sit below the
# object ones, and under the smallest moves worldsim.camera_motion makes (0.3 m truck = 0.054 of the procedural
# camera's 5.56 m, 2 degree tilt), which are exact, so every commanded move gets its question.
CAMERA_STILL_BELOW = 0.015  # camera-centre travel / distance to the scene under which the camera is "not moving"
CAMERA_MOVING_ABOVE = 0.04  # ... over which it clearly moves; in between: ambiguous
TURN_STILL_BELOW_DEG = 0.75  # change of the viewing direction (degrees) under which the camera is "not turning"
TURN_ABOVE_DEG = 1.5  # ... over which it clearly turns; in between: ambiguous
DOMINANT_RATIO = 2.0  # the main axis of a move / turn must be this many times the next one, else ambiguous
CAMERA_MOVES = ("left", "right", "up", "down", "forward", "backward")  # "none": not moving
CAMERA_TURNS = ("left", "right", "up", "down")  # "none": not turning

HEADINGS = {d: math.degrees(math.atan2(v[1], v[0])) for d, v in DIRECTION_VECTORS.items() if d != "none"}


def visible_centres(frames: list[dict]) -> list[tuple[int, float, float]]:
    """(t, x, y) of every frame where the object covers at least one pixel."""
    return [(f["t"], *f["center"]) for f in frames if f.get("center") is not None and f.get("pixels", 1) > 0]


def displacement(frames: list[dict]) -> tuple[float, float] | None:
    """Centre of the last visible frame minus centre of the first one; None when seen in fewer than 2 frames."""
    seen = visible_centres(frames)
    if len(seen) < 2:
        return None
    return seen[-1][1] - seen[0][1], seen[-1][2] - seen[0][2]


def direction_of(dx: float, dy: float) -> str:
    """One of the plan's directions ("none" for still), or AMBIGUOUS."""
    size = math.hypot(dx, dy)
    if size < STILL_BELOW:
        return "none"
    if size < MOVING_ABOVE:
        return AMBIGUOUS
    angle = math.degrees(math.atan2(dy, dx))
    best, gap = min(((d, abs((angle - h + 180.0) % 360.0 - 180.0)) for d, h in HEADINGS.items()), key=lambda p: p[1])
    return best if gap <= SECTOR_MARGIN_DEG else AMBIGUOUS


def measured_direction(frames: list[dict]) -> str:
    """The heading of one labelled object over the clip, or AMBIGUOUS (also when it is seen in < 2 frames)."""
    d = displacement(frames)
    return AMBIGUOUS if d is None else direction_of(*d)


def axis_in_camera(axis, viewmat) -> tuple[float, float, float]:
    """A world direction [3] in camera coordinates (OpenCV: x right, y down, z forward)."""
    R = [row[:3] for row in viewmat[:3]]
    return tuple(sum(R[i][j] * axis[j] for j in range(3)) for i in range(3))


def seen_spin(rotation_vector, viewmat) -> float:
    """The part of a world rotation vector (axis x angle, right-handed) about the camera's viewing axis: > 0 turns
    clockwise as seen in the image, < 0 counter-clockwise (the convention of `rotation_sense`)."""
    return axis_in_camera(rotation_vector, viewmat)[2]


def rotation_sense(spin_axis, angular_speed: float, viewmat, translating: bool = False) -> str:
    """"clockwise" / "counter-clockwise" as seen in the image, "none" when it does not rotate, or AMBIGUOUS.

    A right-handed rotation about the camera's +z (pointing away from the viewer) moves image point
    (1, 0) towards +y, i.e. down in the image: clockwise on screen. So the sense seen is the sign of
    angular_speed * (axis . z_cam); the component of the axis in the image plane only tilts the circle.
    """
    norm = math.sqrt(sum(a * a for a in spin_axis))
    if norm < 1e-9 or abs(angular_speed) < 1e-9:
        return "none"
    if abs(angular_speed) > MAX_STEP_RAD:
        return AMBIGUOUS
    z = axis_in_camera([a / norm for a in spin_axis], viewmat)[2]
    if abs(z) < (MIN_AXIS_VIEW_MOVING if translating else MIN_AXIS_VIEW):
        return AMBIGUOUS
    return "clockwise" if angular_speed * z > 0 else "counter-clockwise"


def motion_state(d: tuple[float, float] | None) -> str:
    """"moving" / "still" for an image displacement (frame fractions), AMBIGUOUS between the thresholds or
    when unknown (None): the same bounds as `direction_of`, without its sector test."""
    if d is None:
        return AMBIGUOUS
    size = math.hypot(*d)
    return "still" if size < STILL_BELOW else "moving" if size >= MOVING_ABOVE else AMBIGUOUS


def _rotation(viewmat) -> list[list[float]]:
    return [list(row[:3]) for row in viewmat[:3]]


def camera_centre(viewmat) -> list[float]:
    """World position of a camera: -R^T t for the world-to-camera [4][4] `viewmat`."""
    R, t = _rotation(viewmat), [viewmat[i][3] for i in range(3)]
    return [-sum(R[i][j] * t[i] for i in range(3)) for j in range(3)]


def camera_travel(viewmats, distance: float) -> tuple[float, float, float]:
    """Where the last camera's centre is from the first one's, in the first camera's axes (x right, y down,
    z forward), as fractions of `distance` (the first camera's distance to the scene)."""
    first, last = camera_centre(viewmats[0]), camera_centre(viewmats[-1])
    d = [b - a for a, b in zip(first, last)]
    R0 = _rotation(viewmats[0])
    return tuple(sum(R0[i][j] * d[j] for j in range(3)) / distance for i in range(3))  # type: ignore[return-value]


def camera_turn(viewmats) -> tuple[float, float]:
    """(yaw, pitch) in degrees of the last camera's viewing direction seen from the first camera: yaw > 0 turned
    right, pitch > 0 turned up (a roll about the viewing axis is neither)."""
    f = _rotation(viewmats[-1])[2]  # last camera's z axis (viewing direction) in world coordinates
    R0 = _rotation(viewmats[0])
    x, y, z = (sum(R0[i][j] * f[j] for j in range(3)) for i in range(3))
    return math.degrees(math.atan2(x, z)), math.degrees(math.atan2(-y, math.hypot(x, z)))


def _dominant(components: dict[str, float], ratio: float) -> str:
    """The key of the largest |value| when it is `ratio` times the next one, else AMBIGUOUS."""
    ranked = sorted(components.items(), key=lambda kv: -abs(kv[1]))
    return ranked[0][0] if abs(ranked[0][1]) >= ratio * abs(ranked[1][1]) else AMBIGUOUS


def camera_move_direction(travel: tuple[float, float, float], still: float = CAMERA_STILL_BELOW,
                          moving: float = CAMERA_MOVING_ABOVE, dominance: float = DOMINANT_RATIO) -> str:
    """One of CAMERA_MOVES, "none", or AMBIGUOUS for a `camera_travel` (x right, y down, z forward). An answerer
    that must decide passes still == moving and dominance 1 (the largest axis wins)."""
    x, y, z = travel
    size = math.sqrt(x * x + y * y + z * z)
    if size < still:
        return "none"
    if size < moving:
        return AMBIGUOUS
    axis = _dominant({"x": x, "y": y, "z": z}, dominance)
    if axis == AMBIGUOUS:
        return AMBIGUOUS
    value = {"x": x, "y": y, "z": z}[axis]
    return {"x": ("right", "left"), "y": ("down", "up"), "z": ("forward", "backward")}[axis][0 if value > 0 else 1]


def camera_turn_direction(turn: tuple[float, float], still_deg: float = TURN_STILL_BELOW_DEG,
                          turning_deg: float = TURN_ABOVE_DEG, dominance: float = DOMINANT_RATIO) -> str:
    """One of CAMERA_TURNS, "none", or AMBIGUOUS for a `camera_turn` (yaw right +, pitch up +, degrees)."""
    yaw, pitch = turn
    size = math.hypot(yaw, pitch)
    if size < still_deg:
        return "none"
    if size < turning_deg:
        return AMBIGUOUS
    axis = _dominant({"yaw": yaw, "pitch": pitch}, dominance)
    if axis == AMBIGUOUS:
        return AMBIGUOUS
    return ("right" if yaw > 0 else "left") if axis == "yaw" else ("up" if pitch > 0 else "down")


def scene_distance(viewmat, points) -> float | None:
    """Median depth of world `points` [N][3] in front of the camera `viewmat`; None when none is in front."""
    R, t = _rotation(viewmat), [viewmat[i][3] for i in range(3)]
    depths = sorted(z for z in (sum(R[2][j] * p[j] for j in range(3)) + t[2] for p in points) if z > 1e-6)
    if not depths:
        return None
    n = len(depths)
    return depths[n // 2] if n % 2 else 0.5 * (depths[n // 2 - 1] + depths[n // 2])


def ego_motion(object_state: str, camera_moving: bool) -> str:
    """Who moves: "object" (only the object), "camera" (only the camera), "both", "neither"; AMBIGUOUS when the
    object's state is."""
    if object_state == AMBIGUOUS:
        return AMBIGUOUS
    moving = object_state == "moving"
    return {(True, True): "both", (True, False): "object", (False, True): "camera", (False, False): "neither"}[(moving, camera_moving)]
