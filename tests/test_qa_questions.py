import copy
import math

import numpy as np
import pytest

from worldsim.qa import measure
from worldsim.qa.measure import AMBIGUOUS, direction_of, rotation_sense
from worldsim.qa.questions import CAMERA_MOVE_TEXT, CAMERA_TURN_TEXT, DIRECTION_TEXT, FIRST_VIEW, ego_texts, generate_questions, to_vlm4d
from worldsim.errors import InputError
from worldsim.objects import OBJECTS
from worldsim.testing import tiny_clip, tiny_plan
from worldsim.types import Camera, CameraSpec, EditSpec, GaussianScene, MotionSpec, ObjectSpec, Plan
from worldsim.types.qa import LETTERS, QUESTION_TYPES


def by_type(items, qtype):
    return [it for it in items if it.question_type == qtype]


def answer_text(item):
    return item.choices[item.answer]


@pytest.fixture(scope="module")
def rolling_right(tmp_path_factory):
    """A red ball rolling right: measured heading right, clockwise as seen, one ball."""
    plan = tiny_plan("ball", "red", "right")
    out = tmp_path_factory.mktemp("roll")
    _, labels, _ = tiny_clip(out, plan, seed=5)
    return plan, labels, out


@pytest.fixture(scope="module")
def spinning_cube(tmp_path_factory):
    plan = Plan(mode="generate", text="A blue cube spins", objects=(ObjectSpec(name="cube", color="blue"),),
                motion=MotionSpec(direction="none", spin=True))
    out = tmp_path_factory.mktemp("spin")
    video, labels, _ = tiny_clip(out, plan, seed=2, num_frames=6)
    return plan, labels, out


def test_moving_right_scene_has_every_category_with_exact_answers(rolling_right):
    plan, labels, _ = rolling_right
    items = generate_questions(plan, labels, 5, "videos/000005.mp4", "procedural")
    assert {it.question_type for it in items} == set(QUESTION_TYPES) - {"camera_motion"}  # a static camera
    trans = by_type(items, "translational")[0]
    assert trans.question == "What direction is the red ball moving?"
    assert answer_text(trans) == "moving right"
    assert set(trans.choices.values()) == {"moving right", "moving left", "not moving", "no red ball there"}
    assert trans.target["answer_source"] == "labels" and trans.target["displacements"][0][0] > 0.1
    assert answer_text(by_type(items, "rotational")[0]) == "rotating clockwise"  # rolling right turns clockwise
    count = by_type(items, "counting")[0]
    assert count.target["count"] == int(answer_text(count))
    assert count.target["count"] == (1 if count.target["direction"] == "right" else 0)
    fp = by_type(items, "false_positive")[0]
    assert answer_text(fp) == f"no {fp.target['color']} {fp.target['name']} there"  # VLM4D's phrasing (docs/FORMATS.md V6, V8)
    assert fp.target["name"] != "ball" and fp.target["color"] != "red" and OBJECTS[fp.target["name"]].family != "sphere"
    assert [it.id for it in items] == [f"000005_{n}" for n in range(1, len(items) + 1)]  # V5: <prefix>_<int>
    assert all(sorted(it.choices) == list(LETTERS) and len(set(it.choices.values())) == 4 for it in items)
    assert all(it.free_form and "(" not in it.free_form and it.seed == 5 and it.generator == "procedural" for it in items)
    assert to_vlm4d(trans) == {"id": trans.id, "video": "videos/000005.mp4", "question_type": "multiple-choice",
                               "question": trans.question, "choices": dict(trans.choices), "answer": "moving right",
                               "task": "translational"}
    assert to_vlm4d(trans, "../generator/video.mp4")["video"] == "../generator/video.mp4"
    assert all(to_vlm4d(it)["answer"].startswith("no ") == (it.question_type == "false_positive") for it in items)  # V6


def test_answers_follow_the_measured_motion_not_the_plan(rolling_right):
    plan, labels, _ = rolling_right
    flipped = copy.deepcopy(labels)  # (a shallow copy would renumber the shared fixture's frames)
    flipped["objects"] = [{**o, "frames": o["frames"][::-1]} for o in flipped["objects"]]
    for f in flipped["objects"][0]["frames"]:
        f["t"] = len(flipped["objects"][0]["frames"]) - 1 - f["t"]
    trans = by_type(generate_questions(plan, flipped, 5, "v.mp4", "procedural"), "translational")[0]
    assert answer_text(trans) == "moving left" and trans.target["plan_direction"] == "right"
    still = {**labels, "objects": [{**o, "frames": [{**f, "center": o["frames"][0]["center"]} for f in o["frames"]]}
                                   for o in labels["objects"]]}
    trans = by_type(generate_questions(plan, still, 5, "v.mp4", "procedural"), "translational")[0]
    assert answer_text(trans) == "not moving"


def test_shuffle_depends_on_the_seed_but_the_answer_letter_follows_the_text():
    plan = tiny_plan("car", "green", "up-left")
    orders, fps = set(), set()
    for seed in range(12):
        items = generate_questions(plan, None, seed, "v.mp4", "rules-only")
        trans = by_type(items, "translational")[0]
        assert answer_text(trans) == DIRECTION_TEXT["up-left"] == "moving up and to the left"
        assert trans.target["answer_source"] == "plan"
        orders.add(tuple(trans.choices.values()))
        fp = by_type(items, "false_positive")[0]
        assert answer_text(fp).startswith("no ") and answer_text(fp).endswith(" there") and fp.target["name"] != "car"
        fps.add((fp.target["name"], fp.target["color"]))
        assert generate_questions(plan, None, seed, "v.mp4", "rules-only") == items  # deterministic
    assert len(orders) > 3 and len(fps) > 3


def test_plan_only_rotation_and_counting():
    plan = Plan(mode="generate", text="three red balls and a blue ball roll left",
                objects=(ObjectSpec(name="ball", color="red", count=3), ObjectSpec(name="ball", color="blue")),
                motion=MotionSpec(direction="left"))
    items = generate_questions(plan, None, 0, "v.mp4", "x")
    assert [answer_text(it) for it in by_type(items, "translational")] == ["moving left", "moving left"]
    assert by_type(items, "translational")[0].question == "What direction are the red balls moving?"
    assert answer_text(by_type(items, "rotational")[0]) == "rotating counter-clockwise"
    count = by_type(items, "counting")[0]
    assert answer_text(count) == str(count.target["count"]) and count.target["count"] in (0, 4)
    # a plan's spin says nothing about its sense: no rotational question without labels
    spin = Plan(mode="generate", text="a cube spins", objects=(ObjectSpec(name="cube", color="blue"),), motion=MotionSpec(spin=True))
    assert not by_type(generate_questions(spin, None, 0, "v.mp4", "x"), "rotational")


def test_colourless_duplicate_noun_is_not_asked_about():
    plan = Plan(mode="generate", text="a ball and a red ball", objects=(ObjectSpec(name="ball"), ObjectSpec(name="ball", color="red")),
                motion=MotionSpec(direction="right"))
    trans = by_type(generate_questions(plan, None, 0, "v.mp4", "x"), "translational")
    assert [it.target["color"] for it in trans] == ["red"]


def test_edit_plan_is_refused():
    plan = Plan(mode="edit", text="make it blue", edit=EditSpec(op="recolor", target="ball", color="blue"))
    with pytest.raises(InputError, match="generate plan"):
        generate_questions(plan, None, 0, "v.mp4", "x")


def test_measurement_thresholds():
    assert direction_of(0.01, 0.0) == "none"
    assert direction_of(0.05, 0.0) == AMBIGUOUS
    assert direction_of(0.3, 0.01) == "right"
    assert direction_of(-0.2, -0.2) == "up-left"
    assert direction_of(0.3, 0.12) == AMBIGUOUS  # 21.8 degrees: between right and down-right
    view = Camera.look_at((0, 0, 5), (0, 0, 0), 32, 32, 40).viewmat
    assert rotation_sense([0, 1, 0], 0.5, view) == AMBIGUOUS  # axis in the image plane
    assert rotation_sense([0, 0, 1], 0.0, view) == "none"
    assert rotation_sense([0, 0, -1], 0.5, view) == "clockwise"  # axis away from the viewer
    assert rotation_sense([0, 0, -1], 3.1, view) == AMBIGUOUS  # aliased
    tilted = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 32, 32, 40).viewmat  # the procedural camera
    assert rotation_sense([0, 1, 0], 0.5, tilted) == "counter-clockwise"  # seen from slightly above
    assert rotation_sense([0, 1, 0], 0.5, tilted, translating=True) == AMBIGUOUS  # perspective shear could win
    assert rotation_sense([0, 0, 1], 0.5, tilted, translating=True) == "counter-clockwise"  # rolling left


def _sense_seen(scene_path, labels, instance):
    """Signed angular motion of the instance's Gaussians about its projected centre, summed over frames:
    > 0 is clockwise on screen (image y points down)."""
    scene = GaussianScene.load(scene_path)
    camera = Camera.model_validate(labels["camera"])
    mask = (scene.instance == instance).numpy()
    total = 0.0
    prev = None
    for t in range(scene.num_frames):
        means, _ = scene.at_frame(t)
        xy, _ = camera.project(means.numpy()[mask][:40])
        rel = xy - xy.mean(0)
        if prev is not None:
            total += float(np.sum(prev[:, 0] * rel[:, 1] - prev[:, 1] * rel[:, 0]))
        prev = rel
    return "clockwise" if total > 0 else "counter-clockwise"


def test_rotation_sense_matches_the_tracked_gaussians(spinning_cube, rolling_right, tmp_path):
    plan, labels, out = spinning_cube
    rot = by_type(generate_questions(plan, labels, 2, "v.mp4", "procedural"), "rotational")
    assert len(rot) == 1 and rot[0].target["rotation"] == _sense_seen(out / "scene.safetensors", labels, 1)
    assert rot[0].target["rotation"] == "counter-clockwise"  # spin about world up, seen from slightly above
    plan, labels, out = rolling_right
    rot = by_type(generate_questions(plan, labels, 5, "v.mp4", "procedural"), "rotational")[0]
    assert rot.target["rotation"] == _sense_seen(out / "scene.safetensors", labels, 1) == "clockwise"
    left_plan = tiny_plan("ball", "red", "left")
    _, left_labels, _ = tiny_clip(tmp_path, left_plan, seed=5)
    rot = by_type(generate_questions(left_plan, left_labels, 5, "v.mp4", "procedural"), "rotational")[0]
    assert rot.target["rotation"] == _sense_seen(tmp_path / "scene.safetensors", left_labels, 1) == "counter-clockwise"


def test_absent_object_is_no_synonym_when_every_shape_family_is_in_the_scene():
    nouns = ["ball", "box", "man", "bird", "widget"]  # sphere, box, elongated, hull, generic (unknown noun)
    for seed in range(20):
        plan = Plan(mode="generate", text="many things", objects=tuple(ObjectSpec(name=n, color="red") for n in nouns) +
                    (ObjectSpec(name="plane", color="blue"),), motion=MotionSpec(direction="right"))
        fp = by_type(generate_questions(plan, None, seed, "v.mp4", "x"), "false_positive")[0]
        assert fp.target["name"] not in {*nouns, "plane", "airplane", "person", "woman"}
        assert fp.target["color"] not in {"red", "blue", "maroon", "navy"}


# --- moving camera -------------------------------------------------------------------------------------------------
# Until worldsim.camera_motion makes them, moving-camera labels are made by hand from a static tiny clip: per-frame
# cameras, `camera` = the first one, and per object frame `center` (what frame t's camera sees) and
# `center_first_view` (the world position seen from the first camera), as the labels contract says.


def camera_with(camera: Camera, centre, R) -> Camera:
    R = np.asarray(R, dtype=np.float64)
    V = np.eye(4)
    V[:3, :3], V[:3, 3] = R, -R @ np.asarray(centre, dtype=np.float64)
    return Camera(width=camera.width, height=camera.height, viewmat=tuple(map(tuple, V.tolist())), K=camera.K)


def trucked(camera: Camera, T: int, right=0.0, down=0.0, forward=0.0) -> list[Camera]:
    """The camera translated over the clip by (right, down, forward) metres in its own axes, not turning."""
    R = np.asarray(camera.viewmat)[:3, :3]
    step = right * R[0] + down * R[1] + forward * R[2]
    return [camera_with(camera, camera.center() + step * t / (T - 1), R) for t in range(T)]


def turned(camera: Camera, T: int, yaw_deg=0.0, pitch_deg=0.0) -> list[Camera]:
    """The camera turned in place over the clip: yaw > 0 to its right, pitch > 0 up."""
    R = np.asarray(camera.viewmat)[:3, :3]
    out = []
    for t in range(T):
        a, b = math.radians(yaw_deg * t / (T - 1)), math.radians(pitch_deg * t / (T - 1))
        yaw = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])  # rows: new axes in old camera axes
        pitch = np.array([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]])
        out.append(camera_with(camera, camera.center(), pitch @ yaw @ R))
    return out


def moving_labels(labels: dict, cameras: list[Camera], motion: str = "truck-right") -> dict:
    out = copy.deepcopy(labels)
    out["cameras"] = [c.model_dump(mode="json") for c in cameras]
    out["camera"] = out["cameras"][0]
    out["camera_motion"] = {"motion": motion, "speed": "normal", "target": None}
    for obj in out["objects"]:
        for f in obj["frames"]:
            p = np.asarray([f["position"]])
            f["center_first_view"] = cameras[0].project(p)[0][0].tolist()
            f["center"] = cameras[f["t"]].project(p)[0][0].tolist()
    return out


def test_camera_measurement_in_the_first_cameras_axes():
    cam = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 32, 32, 50)
    vm = lambda cams: [c.viewmat for c in cams]
    travel = measure.camera_travel(vm(trucked(cam, 5, right=1.1)), 5.5)
    assert travel == pytest.approx((0.2, 0.0, 0.0), abs=1e-9)
    assert measure.camera_move_direction(travel) == "right"
    assert measure.camera_move_direction(measure.camera_travel(vm(trucked(cam, 5, forward=-1.0)), 5.5)) == "backward"
    assert measure.camera_move_direction(measure.camera_travel(vm(trucked(cam, 5, down=-1.0)), 5.5)) == "up"
    assert measure.camera_move_direction((0.01, 0.0, 0.0)) == "none"
    assert measure.camera_move_direction((0.03, 0.0, 0.0)) == AMBIGUOUS  # between the still and moving bounds
    assert measure.camera_move_direction((0.0, 0.0, 0.3 / 5.56)) == "forward"  # the smallest camera_motion move (slow)
    assert measure.camera_move_direction((0.2, 0.0, 0.15)) == AMBIGUOUS  # no dominant axis
    assert measure.camera_move_direction((0.2, 0.0, 0.15), dominance=1.0) == "right"  # an answerer's forced choice
    yaw, pitch = measure.camera_turn(vm(turned(cam, 5, yaw_deg=-12)))
    assert (yaw, pitch) == pytest.approx((-12.0, 0.0), abs=1e-6)
    assert measure.camera_turn_direction((yaw, pitch)) == "left"
    assert measure.camera_turn_direction(measure.camera_turn(vm(turned(cam, 5, pitch_deg=8)))) == "up"
    assert measure.camera_turn_direction((0.5, 0.3)) == "none" and measure.camera_turn_direction((1.0, 0.0)) == AMBIGUOUS
    assert measure.camera_turn_direction((0.0, -2.0)) == "down"  # the smallest camera_motion turn (slow tilt)
    assert measure.camera_turn(vm(trucked(cam, 5, right=2.0))) == pytest.approx((0.0, 0.0), abs=1e-9)  # travel is no turn
    assert measure.scene_distance(cam.viewmat, [[0, 0.8, 0], [0, 0.8, -1], [0, 0.8, -2], [0, 0.8, 20]]) == pytest.approx(cam.project([[0, 0.8, -1]])[1][0])
    assert measure.scene_distance(cam.viewmat, [[0, 0, 20]]) is None  # behind the camera
    assert measure.motion_state((0.01, 0.0)) == "still" and measure.motion_state((0.0, 0.3)) == "moving"
    assert measure.motion_state((0.05, 0.0)) == AMBIGUOUS and measure.motion_state(None) == AMBIGUOUS
    assert [measure.ego_motion(s, c) for s, c in (("moving", True), ("moving", False), ("still", True), ("still", False))] == \
        ["both", "object", "camera", "neither"]
    assert measure.ego_motion(AMBIGUOUS, True) == AMBIGUOUS


def test_static_camera_asks_no_camera_question_and_says_no_frame_of_reference(rolling_right, spinning_cube):
    for (plan, labels, _), seed in ((rolling_right, 5), (spinning_cube, 2)):
        items = generate_questions(plan, labels, seed, "v.mp4", "procedural")
        assert not by_type(items, "camera_motion") and all("camera" not in it.question for it in items)
    plan, labels, _ = rolling_right
    assert "cameras" not in labels  # what a static generator writes
    assert by_type(generate_questions(plan, labels, 5, "v.mp4", "procedural"), "rotational")[0].question == \
        "Which way is the red ball rotating, as seen in the video?"


def test_moving_camera_questions_have_exact_answers(rolling_right):
    plan, labels, _ = rolling_right
    cam, T = Camera.model_validate(labels["camera"]), labels["num_frames"]
    moving_plan = plan.model_copy(update={"camera": CameraSpec(motion="truck-right")})
    items = generate_questions(moving_plan, moving_labels(labels, trucked(cam, T, right=1.5)), 5, "videos/000005.mp4", "procedural")
    assert [it.id for it in items] == [f"000005_{n}" for n in range(1, len(items) + 1)]
    trans = by_type(items, "translational")[0]
    assert trans.question == f"What direction is the red ball moving {FIRST_VIEW}?"
    assert trans.question == "What direction is the red ball moving in the scene, as seen from where the camera started?"
    assert answer_text(trans) == "moving right" and FIRST_VIEW in trans.free_form
    assert by_type(items, "rotational")[0].question == "Which way is the red ball rotating, as seen from where the camera started?"
    assert answer_text(by_type(items, "rotational")[0]) == "rotating clockwise"  # seen from the first frame's camera
    assert by_type(items, "counting")[0].question.endswith(f" {FIRST_VIEW}?")
    fp = by_type(items, "false_positive")[0]
    assert answer_text(fp).startswith("no ") and answer_text(fp).endswith(" there") and FIRST_VIEW in fp.question
    camera = {it.target["asked"]: it for it in by_type(items, "camera_motion")}
    assert set(camera) == {"camera_move", "camera_turn", "object_or_camera"}
    assert camera["camera_move"].question == "Which way is the camera moving?" and answer_text(camera["camera_move"]) == "moving right"
    assert set(camera["camera_move"].choices.values()) >= {"moving right", "moving left", "not moving"}
    assert camera["camera_turn"].question == "Which way is the camera turning?" and answer_text(camera["camera_turn"]) == "not turning"
    ego = camera["object_or_camera"]
    assert ego.question == "Is the red ball moving, or is only the camera moving?"
    assert answer_text(ego) == "both the red ball and the camera are moving"
    assert set(ego.choices.values()) == set(ego_texts("ball", "red").values()) == {
        "only the red ball is moving", "only the camera is moving", "both the red ball and the camera are moving",
        "neither the red ball nor the camera is moving"}
    assert all(it.target["answer_source"] == "labels" and len(set(it.choices.values())) == 4 for it in items)
    assert generate_questions(moving_plan, moving_labels(labels, trucked(cam, T, right=1.5)), 5, "videos/000005.mp4", "procedural") == items


def test_moving_camera_directions_come_from_the_first_view_not_the_frame(rolling_right):
    """The camera trucks right faster than the ball rolls right: in the frames the ball drifts left, but in the world
    (seen from where the camera started) it moves right, and that is the answer."""
    plan, labels, _ = rolling_right
    cam, T = Camera.model_validate(labels["camera"]), labels["num_frames"]
    moving = moving_labels(labels, trucked(cam, T, right=6.0))
    frames = moving["objects"][0]["frames"]
    assert frames[-1]["center"][0] < frames[0]["center"][0] - 0.1  # seen drifting left in the video
    items = generate_questions(plan, moving, 5, "v.mp4", "procedural")
    assert answer_text(by_type(items, "translational")[0]) == "moving right"
    assert by_type(items, "translational")[0].target["displacements"][0][0] > 0.1
    move = next(it for it in by_type(items, "camera_motion") if it.target["asked"] == "camera_move")
    assert answer_text(move) == "moving right" and move.target["travel"][0] > 0.5


def test_camera_turns_and_who_moves(rolling_right, spinning_cube):
    plan, labels, _ = rolling_right
    cam, T = Camera.model_validate(labels["camera"]), labels["num_frames"]
    camera_qs = lambda lab, p=plan, seed=5: {it.target["asked"]: it for it in by_type(generate_questions(p, lab, seed, "v.mp4", "g"), "camera_motion")}
    pan = camera_qs(moving_labels(labels, turned(cam, T, yaw_deg=-15), "pan-left"))
    assert answer_text(pan["camera_move"]) == "not moving" and answer_text(pan["camera_turn"]) == "turning left"
    assert answer_text(pan["object_or_camera"]) == "both the red ball and the camera are moving"  # a turn is camera motion
    tilt = camera_qs(moving_labels(labels, turned(cam, T, pitch_deg=10), "tilt-up"))
    assert answer_text(tilt["camera_turn"]) == "turning up"
    assert set(tilt["camera_turn"].choices.values()) >= {"turning up", "turning down", "not turning"}
    still = camera_qs(moving_labels(labels, [cam] * T))  # cameras given, none moves
    assert answer_text(still["camera_move"]) == "not moving" and answer_text(still["camera_turn"]) == "not turning"
    assert answer_text(still["object_or_camera"]) == "only the red ball is moving"
    assert CAMERA_MOVE_TEXT["none"] == "not moving" and CAMERA_TURN_TEXT["none"] == "not turning"
    spin_plan, spin_labels, _ = spinning_cube  # a cube spinning in place does not travel
    spin_cam = Camera.model_validate(spin_labels["camera"])
    dolly = camera_qs(moving_labels(spin_labels, trucked(spin_cam, spin_labels["num_frames"], forward=1.0), "dolly-in"), spin_plan, 2)
    assert answer_text(dolly["camera_move"]) == "moving forward"
    assert answer_text(dolly["object_or_camera"]) == "only the camera is moving"
    assert dolly["object_or_camera"].question == "Is the blue cube moving, or is only the camera moving?"
    # ambiguous travel (between the bounds): no camera-move question, and no 'who moves' question either
    small = camera_qs(moving_labels(labels, trucked(cam, T, right=0.03 * 5.6)))
    assert "camera_move" not in small and "object_or_camera" not in small and "camera_turn" in small


def test_plan_only_moving_camera_says_its_frame_of_reference_and_asks_nothing_of_the_camera():
    plan = tiny_plan("car", "green", "left").model_copy(update={"camera": CameraSpec(motion="pan-right")})
    items = generate_questions(plan, None, 0, "v.mp4", "x")
    trans = by_type(items, "translational")[0]
    assert trans.question == f"What direction is the green car moving {FIRST_VIEW}?" and answer_text(trans) == "moving left"
    assert not by_type(items, "camera_motion")
    static = generate_questions(tiny_plan("car", "green", "left"), None, 0, "v.mp4", "x")
    assert by_type(static, "translational")[0].question == "What direction is the green car moving?"
