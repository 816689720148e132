"""Motion measured from a generator's labels: image-space heading from per-frame object centres, and the
sense of rotation as seen in the image from the spin axis in camera coordinates.

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
