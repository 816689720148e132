"""field-4d answerer: the pure decisions (direction sectors, angular velocity, option matching) and end to end on a
real tiny generate + reconstruct run with questions from worldsim.qa.questions."""

import json
import math
from pathlib import Path

import pytest
import torch

from plugins.answerers.field4d import Field4DAnswerer, FeatureField4D, angular_velocity, direction_of, vocabulary, target_texts
from worldsim.errors import InputError
from worldsim.types import GaussianScene, GeneratedVideo, Plan, QAItem, Reconstruction, ScoreInput

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


def test_angular_velocity_sign_is_counter_clockwise_as_seen():
    angles = torch.linspace(0, 2 * math.pi, 12)[:-1]
    ring = torch.stack([angles.cos(), angles.sin()], dim=1) * 0.1  # [S,2]
    step = 0.3
    frames = []
    for t in range(6):  # turning counter-clockwise on screen: y-down coordinates, so the angle decreases
        a = -step * t
        R = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        frames.append(ring @ R.T + torch.tensor([0.5 + 0.02 * t, 0.5]))
    points = torch.stack(frames)  # [T,S,2]
    assert angular_velocity(points) == pytest.approx(step, rel=1e-4)
    assert angular_velocity(points.flip(0)) == pytest.approx(-step, rel=1e-4)
    assert angular_velocity(points[:1]) == 0.0


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
    from plugins.answerers.field4d import Field4DConfig
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
