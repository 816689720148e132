import numpy as np
import pytest

from worldsim.qa.measure import AMBIGUOUS, direction_of, rotation_sense
from worldsim.qa.questions import DIRECTION_TEXT, generate_questions, to_vlm4d
from worldsim.errors import InputError
from worldsim.objects import OBJECTS
from worldsim.testing import tiny_clip, tiny_plan
from worldsim.types import Camera, EditSpec, GaussianScene, MotionSpec, ObjectSpec, Plan
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
    assert {it.question_type for it in items} == set(QUESTION_TYPES)
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
    flipped = {**labels, "objects": [{**o, "frames": o["frames"][::-1]} for o in labels["objects"]]}
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
