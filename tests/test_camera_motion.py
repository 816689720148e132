"""worldsim.camera_motion: per-frame cameras for every CameraSpec motion, their sign conventions, and the facts
`camera_motion_direction` states about a path."""

import numpy as np
import pytest

from worldsim.camera_motion import (DEFAULT_PIVOT, MAGNITUDES, TRANSLATION_MIN_M, TURN_MIN_DEG, camera_motion_direction,
                                    camera_path, magnitude)
from worldsim.types import CAMERA_MOVES, Camera, CameraSpec, MotionSpec, ObjectSpec, Plan

T = 6
FIRST = Camera.look_at((0.0, 1.6, 5.5), DEFAULT_PIVOT, 48, 48, 42.0)
LEFT_POINT, RIGHT_POINT = np.array([[-1.0, 0.3, 0.0]]), np.array([[1.0, 0.3, 0.0]])


def path(motion, speed="normal", **kw):
    target = kw.pop("target", None)
    return camera_path(CameraSpec(motion=motion, speed=speed, target=target), FIRST, T, **kw)


def xy(camera, point):
    return camera.project(point)[0][0]


def target_track(direction=(1.0, 0.0, 0.0), metres=1.2):
    return np.array([[0.0, 0.3, 0.0]]) + np.outer(np.linspace(0, 1, T), direction) * metres


@pytest.mark.parametrize("motion", CAMERA_MOVES)
def test_every_motion_starts_at_the_first_camera_with_fixed_intrinsics(motion):
    cams = path(motion, target="ball" if motion == "follow" else None, target_track=target_track())
    assert len(cams) == T and cams[0] is FIRST
    assert all(c.K == FIRST.K and (c.width, c.height) == (48, 48) for c in cams)
    R = np.asarray(cams[-1].viewmat)[:3, :3]
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-12)  # still a rotation
    moved = camera_motion_direction(cams)["moving"]
    assert moved == (motion != "static")


def test_static_is_the_first_camera_every_frame():
    assert path("static") == [FIRST] * T
    facts = camera_motion_direction(path("static"))
    assert facts["translation"] == facts["yaw"] == facts["pitch"] == facts["turn"] == "none"


@pytest.mark.parametrize("motion, slides, yaw", [("pan-left", 1, "left"), ("pan-right", -1, "right")])
def test_pan_turns_in_place_and_the_scene_slides_the_other_way(motion, slides, yaw):
    cams = path(motion)
    for c in cams:
        assert np.allclose(c.center(), FIRST.center(), atol=1e-12)
    for point in (LEFT_POINT, RIGHT_POINT):  # pan-left: a point on the left (and one on the right) moves right
        assert slides * (xy(cams[-1], point)[0] - xy(FIRST, point)[0]) > 0.05
    facts = camera_motion_direction(cams)
    assert facts["translation"] == "none" and facts["yaw"] == facts["turn"] == yaw and facts["pitch"] == "none"
    assert abs(abs(facts["yaw_deg"]) - MAGNITUDES["pan"]["normal"]) < 1e-9


@pytest.mark.parametrize("motion, slides, pitch", [("tilt-up", 1, "up"), ("tilt-down", -1, "down")])
def test_tilt_turns_in_place_and_the_scene_slides_vertically(motion, slides, pitch):
    cams = path(motion)
    assert np.allclose(cams[-1].center(), FIRST.center(), atol=1e-12)
    assert slides * (xy(cams[-1], LEFT_POINT)[1] - xy(FIRST, LEFT_POINT)[1]) > 0.03  # tilt-up: the scene moves down
    facts = camera_motion_direction(cams)
    assert facts["translation"] == "none" and facts["pitch"] == facts["turn"] == pitch and facts["yaw"] == "none"
    assert abs(abs(facts["pitch_deg"]) - MAGNITUDES["tilt"]["normal"]) < 1e-9


@pytest.mark.parametrize("motion, closer, word", [("dolly-in", 1, "forward"), ("dolly-out", -1, "backward")])
def test_dolly_moves_along_the_view_towards_or_away_from_the_look_at_point(motion, closer, word):
    cams = path(motion)
    dist = [np.linalg.norm(c.center() - np.array(DEFAULT_PIVOT)) for c in cams]
    steps = np.diff(dist)
    assert np.all(closer * steps < 0) and np.allclose(steps, steps[0])  # linear
    assert abs(abs(dist[-1] - dist[0]) - MAGNITUDES["dolly"]["normal"]) < 1e-9
    assert np.allclose(xy(cams[-1], np.array([DEFAULT_PIVOT])), xy(FIRST, np.array([DEFAULT_PIVOT])), atol=1e-9)
    spread = lambda c: xy(c, RIGHT_POINT)[0] - xy(c, LEFT_POINT)[0]
    assert closer * (spread(cams[-1]) - spread(FIRST)) > 0  # dolly-in: things grow apart
    facts = camera_motion_direction(cams)
    assert facts["translation"] == word and facts["turn"] == "none"


@pytest.mark.parametrize("motion, slides, word", [("truck-left", 1, "left"), ("truck-right", -1, "right")])
def test_truck_moves_sideways_and_the_scene_slides_the_other_way(motion, slides, word):
    cams = path(motion)
    d = cams[-1].center() - FIRST.center()
    assert abs(np.linalg.norm(d) - MAGNITUDES["truck"]["normal"]) < 1e-9 and abs(d[1]) < 1e-12  # horizontal
    assert slides * (xy(cams[-1], LEFT_POINT)[0] - xy(FIRST, LEFT_POINT)[0]) > 0.05
    facts = camera_motion_direction(cams)
    assert facts["translation"] == word and facts["turn"] == "none"


@pytest.mark.parametrize("motion, word, yaw", [("orbit-left", "left", "right"), ("orbit-right", "right", "left")])
@pytest.mark.parametrize("pivot", [None, (0.6, 0.3, 0.0)])
def test_orbit_keeps_the_pivot_in_place_and_its_distance(motion, word, yaw, pivot):
    cams = path(motion, pivot=pivot)
    p = np.array([pivot or DEFAULT_PIVOT])
    dist = [np.linalg.norm(c.center() - p[0]) for c in cams]
    assert np.allclose(dist, dist[0], atol=1e-9)
    assert np.allclose([c.center()[1] for c in cams], FIRST.center()[1])  # level: about the world vertical
    for c in cams:
        assert np.allclose(xy(c, p), xy(FIRST, p), atol=1e-9)
    facts = camera_motion_direction(cams)
    assert facts["translation"] == word and facts["yaw"] == yaw  # orbit-left: moves left, turns right
    assert abs(abs(facts["yaw_deg"]) - MAGNITUDES["orbit"]["normal"]) < 1e-9


def test_orbit_about_a_target_circles_its_first_position():
    track = target_track()
    cams = path("orbit-left", target="ball", target_track=track)
    dist = [np.linalg.norm(c.center() - track[0]) for c in cams]
    assert np.allclose(dist, dist[0], atol=1e-9)


@pytest.mark.parametrize("direction, word", [((1, 0, 0), "right"), ((-1, 0, 0), "left"), ((0, 1, 0), "up"), ((0, -1, 0), "down")])
def test_follow_keeps_the_target_where_it_was(direction, word):
    track = target_track(direction)
    cams = path("follow", target="ball", target_track=track)
    start = xy(FIRST, track[:1]) * 48
    for c, p in zip(cams, track):
        assert np.abs(xy(c, p[None]) * 48 - start).max() < 2.0  # pixels
    facts = camera_motion_direction(cams)
    assert facts["translation"] == word and facts["turn"] == "none"


def test_follow_needs_the_track_and_unknown_lengths_fail():
    with pytest.raises(ValueError, match="track"):
        path("follow", target="ball")
    with pytest.raises(ValueError, match="shape"):
        path("follow", target="ball", target_track=np.zeros((T + 1, 3)))


def test_speeds_scale_the_motion_and_motion_is_linear():
    yaws = [camera_motion_direction(path("pan-left", s))["yaw_deg"] for s in ("slow", "normal", "fast")]
    assert 0 < yaws[0] < yaws[1] < yaws[2]
    cams = path("truck-right", "fast")
    steps = np.diff([c.center()[0] for c in cams])
    assert np.allclose(steps, steps[0])
    assert magnitude(CameraSpec(motion="follow", target="ball")) == magnitude(CameraSpec()) == 0.0


def test_thresholds_sit_between_noise_and_the_smallest_move():
    smallest_turn = min(min(MAGNITUDES[k].values()) for k in ("pan", "tilt", "orbit"))
    smallest_move = min(min(MAGNITUDES[k].values()) for k in ("dolly", "truck"))
    assert 1e-6 < TURN_MIN_DEG < smallest_turn and 1e-6 < TRANSLATION_MIN_M < smallest_move


@pytest.mark.parametrize("motion", [m for m in CAMERA_MOVES if m != "static"])
@pytest.mark.parametrize("direction", ["left", "right", "up", "down", "up-left", "down-right", "none"])
def test_normal_speed_objects_stay_in_view_at_16_frames(motion, direction):
    """The magnitudes' promise (worldsim/camera_motion.py): a normal-speed object under a normal-speed camera keeps
    its centre well inside the frame."""
    from worldsim.planning import plan_tracks
    from worldsim.world.builder import _plane_point

    first = Camera.look_at((0.0, 1.6, 5.5), DEFAULT_PIVOT, 128, 128, 42.0)
    plan = Plan(mode="generate", objects=(ObjectSpec(name="car", color="red"),), motion=MotionSpec(direction=direction),
                camera=CameraSpec(motion=motion, target="car" if motion == "follow" else None))
    track = plan_tracks(plan, 16)[0]
    positions = np.stack([_plane_point(first, *c) for c in track.track.centers()])
    cams = camera_path(plan.camera, first, 16, target_track=positions)
    for c, p in zip(cams, positions):
        x, y = xy(c, p[None])
        assert 0.08 < x < 0.92 and 0.08 < y < 0.92, (motion, direction, x, y)
