import pytest

from worldsim.planning import PlannerConfig, interpolate, plan_tracks, speed_of
from worldsim.testing import tiny_plan
from worldsim.types import Keypoint, MotionSpec, ObjectSpec, Plan


def _centers(track):
    return track.track.centers()


@pytest.mark.parametrize(
    "direction, sx, sy",
    [("right", 1, 0), ("left", -1, 0), ("up", 0, -1), ("down", 0, 1), ("up-right", 1, -1), ("down-left", -1, 1), ("none", 0, 0)],
)
def test_boxes_move_in_commanded_image_direction(direction, sx, sy):
    [track] = plan_tracks(tiny_plan(direction=direction), 16)
    (x0, y0), (x1, y1) = _centers(track)[0], _centers(track)[-1]
    for sign, delta in ((sx, x1 - x0), (sy, y1 - y0)):
        assert (delta > 0.05) if sign > 0 else (delta < -0.05) if sign < 0 else abs(delta) < 1e-9


def test_fast_boxes_are_spaced_farther_apart():
    speeds = {s: speed_of(plan_tracks(tiny_plan(speed=s), 16)[0], 16) for s in ("slow", "normal", "fast")}
    assert speeds["slow"] < speeds["normal"] < speeds["fast"]


def test_box_size_follows_object_size_and_stays_valid():
    bus = plan_tracks(tiny_plan(name="bus"), 8)[0].track.boxes[0]
    ball = plan_tracks(tiny_plan(name="ball"), 8)[0].track.boxes[0]
    assert (bus[2] - bus[0]) > (ball[2] - ball[0])


def test_copies_sit_side_by_side_across_the_motion():
    plan = Plan(mode="generate", objects=(ObjectSpec(name="ball", count=3), ObjectSpec(name="cube")),
                motion=MotionSpec(direction="right"))
    tracks = plan_tracks(plan, 8)
    assert [(t.object_index, t.instance) for t in tracks] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    ys = [t.track.centers()[0][1] for t in tracks]
    assert ys == sorted(ys) and len(set(round(y, 6) for y in ys)) == 4
    xs = {round(t.track.centers()[0][0], 6) for t in tracks}
    assert len(xs) == 1  # all start at the same x, move together


def test_keypoints_span_time_and_interpolate():
    [track] = plan_tracks(tiny_plan(), 5, PlannerConfig(num_keypoints=3))
    assert [k.t for k in track.keypoints] == [0.0, 0.5, 1.0]
    kps = (Keypoint(x=0, y=0, t=0), Keypoint(x=1, y=2, t=1))
    assert interpolate(kps, 0.25) == (0.25, 0.5)


def test_edit_plan_has_no_trajectory():
    from worldsim.types import EditSpec

    with pytest.raises(ValueError):
        plan_tracks(Plan(mode="edit", edit=EditSpec(op="remove", target="ball")), 4)
