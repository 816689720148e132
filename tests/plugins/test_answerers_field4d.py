"""field-4d answerer: the pure decisions (direction sectors, angular velocity, option matching) and end to end on a
real tiny generate + reconstruct run with questions from worldsim.qa.questions."""

import json
import math
from pathlib import Path

import pytest
import torch

from plugins.answerers.field4d import (Field4DAnswerer, Field4DConfig, FeatureField4D, camera_letter, camera_motion, direction_of,
                                       instance_spin, step_rotation_vectors, target_texts, vocabulary)
from worldsim.errors import InputError
from worldsim.types import Camera, GaussianScene, GeneratedVideo, Plan, QAItem, Reconstruction, ScoreInput

TINY = ["generator.num_frames=6", "generator.width=48", "generator.height=48", "generator.write_ply=false",
        "generator.gaussians_per_object=150", "generator.background_spacing=0.6", "reconstructor.train.iterations=80",
        "reconstructor.pad=8", "reconstructor.eval_frames=1", "reconstructor.novel_yaws=[5]"]


def score_input(run_dir: Path) -> ScoreInput:
    m = json.loads((run_dir / "run.json").read_text())
    out = m["outputs"]
    return ScoreInput(run_dir=str(run_dir), plan=Plan.model_validate(m["plan"]), seed=m["seed"],
                      video=GeneratedVideo.model_validate(out["video"]),
                      reconstruction=Reconstruction.model_validate(out["reconstruction"]) if "reconstruction" in out else None)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from worldsim.config import load_config
    from worldsim.pipeline import run_pipeline

    return run_pipeline("Two red balls and a blue cube move up", config=load_config("default", TINY), seed=3,
                        output_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def questions(run_dir):
    from worldsim.qa.questions import generate_questions

    inputs = score_input(run_dir)
    labels = json.loads((run_dir / inputs.video.labels).read_text())
    return generate_questions(inputs.plan, labels, inputs.seed, inputs.video.video, inputs.video.generator)


def item(choices, target, qtype="translational", free_form=""):
    return QAItem(id="q", video="v.mp4", question_type=qtype, question="?", choices=choices, answer="A",
                  target=target, free_form=free_form)


def test_direction_sectors_and_still_threshold():
    assert direction_of(0.3, 0.0, 0.05) == "right" and direction_of(-0.3, 0.01, 0.05) == "left"
    assert direction_of(0.0, -0.3, 0.05) == "up" and direction_of(0.0, 0.3, 0.05) == "down"
    assert direction_of(0.2, -0.2, 0.05) == "up-right" and direction_of(-0.2, 0.2, 0.05) == "down-left"
    assert direction_of(0.03, 0.02, 0.05) == "none"


def quat(axis, angle):
    axis = torch.tensor(axis, dtype=torch.float64) / math.sqrt(sum(a * a for a in axis))
    return torch.cat([torch.tensor([math.cos(angle / 2)], dtype=torch.float64), math.sin(angle / 2) * axis])


def test_basis_rotation_is_read_as_a_world_spin_and_seen_from_the_camera():
    from worldsim.qa.measure import rotation_sense, seen_spin

    spin = torch.stack([torch.stack([quat([0, 1, 0], 0.4 * t) for t in range(6)]),  # basis 0: 0.4 rad/frame about +y
                        torch.stack([quat([1, 0, 0], 0.0) for _ in range(6)])])  # basis 1: still
    steps = step_rotation_vectors(spin)
    assert steps.shape == (2, 5, 3)
    assert torch.allclose(steps[0], torch.tensor([0.0, 0.4, 0.0], dtype=torch.float64).expand(5, 3), atol=1e-9)
    assert torch.allclose(steps[1], torch.zeros(5, 3, dtype=torch.float64))
    assert torch.allclose(step_rotation_vectors(-spin), steps)  # q and -q are one rotation
    big = torch.stack([quat([0, 0, 1], 2.5 * t) for t in range(3)])  # 2.5 rad/frame: the short way, no aliasing below pi
    assert torch.allclose(step_rotation_vectors(big), torch.tensor([[0, 0, 2.5], [0, 0, 2.5]], dtype=torch.float64), atol=1e-9)
    assert instance_spin(spin, torch.tensor([[1.0, 0.0], [1.0, 0.0]])) == pytest.approx((0.0, 0.4, 0.0))
    assert instance_spin(spin, torch.tensor([[0.5, 0.5]])) == pytest.approx((0.0, 0.2, 0.0))  # half on the still basis
    assert instance_spin(spin[:, :1], torch.tensor([[1.0, 0.0]])) == (0.0, 0.0, 0.0)  # one frame: no motion
    # the sense as seen follows worldsim.qa.measure.rotation_sense, the convention of the exact answers
    tilted = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 32, 32, 40).viewmat  # the procedural camera, slightly above
    for axis, speed in (([0, 1, 0], 0.4), ([0, 1, 0], -0.4), ([0, 0, -1], 0.3), ([0, 0, 1], 0.3)):
        seen = seen_spin([a * speed for a in axis], tilted)
        assert ("clockwise" if seen > 0 else "counter-clockwise") == rotation_sense(axis, speed, tilted)


def test_target_texts_colour_or_any_colour():
    texts = vocabulary(["gizmo"], ["background"])
    assert "gizmo" in texts and "red gizmo" in texts and texts[-1] == "background"
    assert [texts[i] for i in target_texts("ball", "red", texts)] == ["red ball"]
    anyball = {texts[i] for i in target_texts("ball", None, texts)}
    assert {"ball", "red ball", "navy ball"} <= anyball and "red balloon" not in anyball and "ball" in anyball


def test_registered_as_answerer():
    from worldsim.registry import get_stage

    assert isinstance(get_stage("answerer", "field-4d"), Field4DAnswerer)


def test_answers_generated_questions_from_the_field(run_dir, questions):
    inputs = score_input(run_dir)
    answers = Field4DAnswerer().run(questions, inputs)
    assert len(answers) == len(questions)
    by_type = {}
    for q, a in zip(questions, answers):
        assert a[:2] in ("A.", "B.", "C.", "D.") and a[3:] == q.choices[a[0]], a
        by_type.setdefault(q.question_type, []).append(a[0] == q.answer)
    assert set(by_type) >= {"translational", "counting", "false_positive"}, by_type
    assert all(by_type["translational"]) and all(by_type["false_positive"]), list(zip(questions, answers))
    assert all(by_type["counting"]), list(zip(questions, answers))


def test_decisions_follow_the_field_not_the_question(run_dir):
    inputs = score_input(run_dir)
    answerer = Field4DAnswerer()
    field = answerer.load(inputs, ["ball", "cube", "car"])
    direction = {"A": "moving down", "B": "moving up", "C": "not moving", "D": "there is no {}"}
    for target, want in (({"name": "ball", "color": "red"}, "B"), ({"name": "cube", "color": "blue"}, "B"),
                         ({"name": "cube", "color": "red"}, "D"), ({"name": "car", "color": "green"}, "D")):
        q = item(direction, target)
        obs = field.observe(q)
        assert answerer.answer(q, obs, False)[0] == want, (target, obs)
    balls = field.observe(item({"A": "0"}, {"name": "ball", "color": None}))
    assert len(balls.instances) == 2 and balls.count("up") == 2 and balls.count("left") == 0
    count = {"A": "0", "B": "1", "C": "2", "D": "3"}
    assert answerer.answer(item(count, {"name": "ball", "color": None, "direction": "up"}, "counting"), balls, False) == "C. 2"
    assert answerer.answer(item(count, {"name": "ball", "color": None, "direction": "left"}, "counting"), balls, False) == "A. 0"
    cube = field.observe(item(direction, {"name": "cube", "color": "blue"}))
    rotation = {"A": "rotating clockwise", "B": "rotating counter-clockwise", "C": "not rotating", "D": "there is no blue cube"}
    assert answerer.answer(item(rotation, {"name": "cube", "color": "blue"}, "rotational"), cube, False) == "C. not rotating"
    free = answerer.run([item(direction, {"name": "cube", "color": "blue"}), item(direction, {"name": "car", "color": "green"})],
                        inputs, free_form=True)
    assert free == ["The blue cube is moving up.", "There is no green car in the video."]


def test_rotation_sense_on_exact_motion(tmp_path):
    """The tracking step on the generator's exact scenes: a spinning object turns counter-clockwise as seen from
    the camera above it (right-handed spin about world up); a ball rolling right turns clockwise."""
    from worldsim.testing import tiny_clip, tiny_plan
    from worldsim.types import Camera

    def observe(plan, folder):
        video, labels, _ = tiny_clip(tmp_path / folder, plan, num_frames=8)
        scene = GaussianScene.load(tmp_path / folder / Path(video.scene).name)
        positions = torch.stack([scene.at_frame(t)[0] for t in range(scene.num_frames)])
        field = FeatureField4D(cfg=Field4DConfig(), scene=scene, camera=Camera.model_validate(labels["camera"]),
                               texts=[], probs=None, positions=positions, canonical_color=None)
        return field.track(torch.nonzero(scene.instance == 1).flatten())

    spin = plan_with_spin()
    assert observe(spin, "spin").rotation == "counter-clockwise"
    rolling = observe(tiny_plan("ball", "red", "right"), "roll")
    assert rolling.rotation == "clockwise" and rolling.direction == "right"


def plan_with_spin():
    from worldsim.types import MotionSpec, ObjectSpec

    return Plan(mode="generate", text="a spinning green cube", objects=(ObjectSpec(name="cube", color="green"),),
                motion=MotionSpec(direction="none", spin=True))


def test_errors_name_what_is_missing(run_dir):
    inputs = score_input(run_dir)
    with pytest.raises(InputError, match="needs a reconstruction"):
        Field4DAnswerer().run([item({"A": "left"}, {"name": "ball"})], inputs.model_copy(update={"reconstruction": None}))
    with pytest.raises(InputError, match="no target name"):
        Field4DAnswerer().run([item({"A": "left"}, {})], inputs)
    assert Field4DAnswerer().run([], inputs) == []


def test_free_form_sentences_read_like_the_options():
    from plugins.answerers.field4d import sentence
    from plugins.vlm4d_qa.judge import judge_one

    choices = {"A": "moving up and to the left", "B": "moving down and to the right", "C": "not moving", "D": "there is no red ball"}
    q = item(choices, {"name": "ball", "color": "red"})
    for decision, letter in ((("direction", "up-left"), "A"), (("direction", "none"), "C"), (("absent", None), "D")):
        text = sentence("red ball", decision)
        assert judge_one(q, text, free_form=True)[0] == letter, text
    assert sentence("red ball", ("direction", "up-left")) == "The red ball is moving up and to the left."
    assert sentence("cube", ("rotation", "counter-clockwise")) == "The cube is rotating counter-clockwise."


# --- camera questions (moving camera) ----------------------------------------------------------------------------------


def camera_path(camera: Camera, T: int, right=0.0, forward=0.0, yaw_deg=0.0) -> list[Camera]:
    """Hand-made per-frame cameras: `camera` travelling (right, forward) metres in its own axes over the clip and
    turning `yaw_deg` to its right (negative: left) in place."""
    import numpy as np

    R0 = np.asarray(camera.viewmat)[:3, :3]
    out = []
    for t in range(T):
        s = t / (T - 1)
        a = math.radians(yaw_deg * s)
        yaw = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
        R = yaw @ R0
        c = camera.center() + s * (right * R0[0] + forward * R0[2])
        V = np.eye(4)
        V[:3, :3], V[:3, 3] = R, -R @ c
        out.append(Camera(width=camera.width, height=camera.height, viewmat=tuple(map(tuple, V.tolist())), K=camera.K))
    return out


def test_camera_motion_from_per_frame_viewmats():
    cam = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 48, 48, 50)
    vm = lambda cams: [c.viewmat for c in cams]
    assert camera_motion(vm(camera_path(cam, 6, right=1.0)), 5.5, 0.025, 1.1) == ("right", "none")
    assert camera_motion(vm(camera_path(cam, 6, right=-1.0)), 5.5, 0.025, 1.1) == ("left", "none")
    assert camera_motion(vm(camera_path(cam, 6, forward=1.0)), 5.5, 0.025, 1.1) == ("forward", "none")
    assert camera_motion(vm(camera_path(cam, 6, forward=-1.0)), 5.5, 0.025, 1.1) == ("backward", "none")
    assert camera_motion(vm(camera_path(cam, 6, yaw_deg=-12)), 5.5, 0.025, 1.1) == ("none", "left")
    assert camera_motion(vm(camera_path(cam, 6, right=0.1)), 5.5, 0.025, 1.1) == ("none", "none")  # 0.018 of the distance
    assert camera_motion(vm(camera_path(cam, 6, right=0.1)), 5.5, 0.01, 1.1) == ("right", "none")
    assert camera_motion(vm(camera_path(cam, 6, yaw_deg=0.8)), 5.5, 0.025, 1.1) == ("none", "none")
    orbit = [cam.orbit((0, 0.8, 0), -25 * t / 5) for t in range(6)]  # circles left around the scene, turning right to keep it
    assert camera_motion(vm(orbit), 5.5, 0.025, 1.1) == ("left", "right")
    assert camera_motion(vm([cam] * 6), 5.5, 0.025, 1.1) == camera_motion(vm([cam]), 5.5, 0.025, 1.1) == ("none", "none")


def test_camera_options_are_matched_by_text_then_by_word():
    from worldsim.qa.questions import CAMERA_MOVE_TEXT, ego_texts

    move = {"A": "moving left", "B": "moving forward", "C": "not moving", "D": "moving right"}
    assert camera_letter(move, CAMERA_MOVE_TEXT["forward"], "forward") == "B"
    assert camera_letter(move, CAMERA_MOVE_TEXT["none"], "none") == "C"
    worded = {"A": "The camera pans to the left", "B": "It stays still, not moving", "C": "To the right", "D": "Up"}
    assert camera_letter(worded, "moving left", "left") == "A" and camera_letter(worded, "not moving", "none") == "B"
    texts = ego_texts("ball", "red", 2)
    assert texts["object"] == "only the red balls are moving" and texts["neither"] == "neither the red balls nor the camera is moving"
    ego = dict(zip("ABCD", texts.values()))
    for decision, letter in (("object", "A"), ("camera", "B"), ("both", "C"), ("neither", "D")):
        assert camera_letter(ego, texts[decision], decision) == letter
        assert camera_letter({k: v.upper() for k, v in ego.items()}, "?", decision) == letter  # by word


def moving_items(run_dir, cameras):
    """The run's questions as if its camera had moved along `cameras` (hand-made labels), camera_motion ones only."""
    import copy

    import numpy as np

    from worldsim.qa.questions import generate_questions

    inputs = score_input(run_dir)
    labels = copy.deepcopy(json.loads((run_dir / inputs.video.labels).read_text()))
    labels["cameras"] = [c.model_dump(mode="json") for c in cameras]
    labels["camera_motion"] = {"motion": "truck-right", "speed": "normal", "target": None}
    for obj in labels["objects"]:
        for f in obj["frames"]:
            p = np.asarray([f["position"]])
            f["center_first_view"] = cameras[0].project(p)[0][0].tolist()
            f["center"] = cameras[f["t"]].project(p)[0][0].tolist()
    return [it for it in generate_questions(inputs.plan, labels, inputs.seed, inputs.video.video, inputs.video.generator)
            if it.question_type == "camera_motion"]


def with_cameras(run_dir, cameras, name: str) -> ScoreInput:
    """The run's score input with a reconstruction that names a cameras file (as feature-4dgs writes it for a moving camera)."""
    inputs = score_input(run_dir)
    rel = f"{Path(inputs.reconstruction.scene).parent}/{name}"
    (run_dir / rel).write_text(json.dumps({"source": "labels", "refined": False, "cameras": [c.model_dump(mode="json") for c in cameras]}))
    return inputs.model_copy(update={"reconstruction": inputs.reconstruction.model_copy(update={"cameras": rel})})


def test_camera_questions_answered_from_the_reconstructions_cameras(run_dir):
    """Questions made from hand-made moving-camera labels; field-4d reads the camera only from the cameras file the
    reconstruction names (frame 0's camera is the input camera, so the object Gaussians stay where they were)."""
    inputs = score_input(run_dir)
    camera = Camera.model_validate(json.loads((run_dir / inputs.video.labels).read_text())["camera"])
    T = json.loads((run_dir / inputs.video.labels).read_text())["num_frames"]
    for path, want in ((camera_path(camera, T, right=1.5), {"camera_move": "moving right", "camera_turn": "not turning"}),
                       (camera_path(camera, T, yaw_deg=-15), {"camera_move": "not moving", "camera_turn": "turning left"})):
        items = moving_items(run_dir, path)
        asked = {it.target["asked"] for it in items}
        assert asked == {"camera_move", "camera_turn", "object_or_camera"}, asked
        answers = Field4DAnswerer().run(items, with_cameras(run_dir, path, "cameras_hand.json"))
        for it, a in zip(items, answers):
            assert a == f"{it.answer}. {it.choices[it.answer]}", (it.question, it.choices, a)
            if it.target["asked"] in want:
                assert a[3:] == want[it.target["asked"]]
            else:
                assert a[3:].startswith("both the ")  # the objects move up and the camera moves
        free = Field4DAnswerer().run(items[:1], with_cameras(run_dir, path, "cameras_hand.json"), free_form=True)[0]
        assert free.startswith("The camera is ")
    # no cameras file: the default static reconstruction, so the camera is not moving and only the objects move
    items = moving_items(run_dir, camera_path(camera, T, right=1.5))
    said = dict(zip((it.target["asked"] + str(it.target.get("name")) for it in items), (a[3:] for a in Field4DAnswerer().run(items, inputs))))
    assert said["camera_moveNone"] == "not moving" and said["camera_turnNone"] == "not turning"
    assert said["object_or_cameraball"] == "only the red balls are moving" and said["object_or_cameracube"] == "only the blue cube is moving"


def test_cameras_file_and_labels_errors(run_dir):
    inputs = score_input(run_dir)
    camera = Camera.model_validate(json.loads((run_dir / inputs.video.labels).read_text())["camera"])
    q = item({"A": "moving up", "B": "moving down", "C": "not moving", "D": "no red ball there"}, {"name": "ball", "color": "red"})
    with pytest.raises(InputError, match="holds 2 cameras for a scene of"):
        Field4DAnswerer().run([q], with_cameras(run_dir, [camera, camera], "cameras_two.json"))
    missing = inputs.model_copy(update={"reconstruction": inputs.reconstruction.model_copy(update={"cameras": "reconstruction/nothing.json"})})
    with pytest.raises(InputError, match="cameras file .* does not exist"):
        Field4DAnswerer().run([q], missing)
    (run_dir / "reconstruction" / "cameras_bad.json").write_text('{"cameras": [{"width": 3}]}')
    bad = inputs.model_copy(update={"reconstruction": inputs.reconstruction.model_copy(update={"cameras": "reconstruction/cameras_bad.json"})})
    with pytest.raises(InputError, match="not a list of cameras"):
        Field4DAnswerer().run([q], bad)
    # a plan-only video (no labels) and a static reconstruction: no input camera, refused as before cameras could move
    plan_only = inputs.model_copy(update={"video": inputs.video.model_copy(update={"labels": None})})
    with pytest.raises(InputError, match="needs the input camera"):
        Field4DAnswerer().run([q], plan_only)
