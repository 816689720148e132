import json

import pytest
import yaml

from worldsim import registry
from worldsim.errors import ConfigError, StageContractError
from worldsim.pipeline import run_pipeline
from worldsim.runner import start_run
from worldsim.testing import TINY_GENERATOR, install_plugin, tiny_clip, tiny_plan
from worldsim.types import ScoreInput
from worldsim.types.qa import QUESTION_TYPES

# A test answerer that knows the answers: the exact choice text (direct), a chain of thought that names
# every option before concluding (cot), a sentence without letters (free form). `wrong_types` answers
# another choice for those question types, so accuracy has something to measure.
ORACLE = """
from worldsim.hookspecs import hookimpl
from worldsim.stages import Answerer, StageConfig


class OracleConfig(StageConfig):
    wrong_types: list[str] = []
    short_by: int = 0


class OracleText(Answerer):
    name = "oracle-text"
    description = "Answers with the exact choice text (test plugin)"
    Config = OracleConfig

    def run(self, items, inputs, mode="direct", free_form=False):
        out = []
        for it in items:
            letter = it.answer
            if it.question_type in self.config.wrong_types:
                letter = next(k for k in it.choices if k != it.answer)
            text = it.choices[letter]
            if free_form:
                out.append(f"Watching the clip, I would say: {text}.")
            elif mode == "cot":
                others = "; ".join(f"option {k} ({v}) does not fit" for k, v in it.choices.items() if k != letter)
                out.append(f"Let me check each option. {others}. So the answer is ({letter}).")
            else:
                out.append(text)
        return out[:len(out) - self.config.short_by]


@hookimpl
def register_answerers(register):
    register(OracleText)
"""


@pytest.fixture
def oracle(tmp_path):
    with install_plugin(tmp_path / "site", "worldsim-oracle-text", "ws_oracle_text", ORACLE, entry_point="oracle-text"):
        yield


def preset(tmp_path, **qa):
    data = {"name": "qa-test", "seed": 0, "stages": [
        {"kind": "parser", "name": "rules"},
        {"kind": "generator", "name": "procedural", "config": dict(TINY_GENERATOR)},
        {"kind": "scorer", "name": "vlm4d-qa", "config": {"answerer": "oracle-text", **qa}},
    ]}
    path = tmp_path / "qa.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_scorer_in_a_run_reports_accuracy_per_category_mode_and_variant(tmp_path, oracle):
    config = preset(tmp_path, modes=["direct", "cot"], free_form=True, answerer_config={"wrong_types": ["counting"]})
    run_dir = run_pipeline("A red ball rolls to the right", config=config, seed=3, output_dir=tmp_path / "out")
    qa = json.loads((run_dir / "run.json").read_text())["metrics"]["qa"]
    questions = json.loads((run_dir / "scores" / "qa_questions.json").read_text())
    assert {q["task"] for q in questions} == set(QUESTION_TYPES) - {"camera_motion"}  # a static camera: no camera questions
    # VLM4D's own record (docs/FORMATS.md): answer = the choice's text, the video relative to this JSON file
    assert all(set(q) == {"id", "video", "question_type", "question", "choices", "answer", "task"} for q in questions)
    assert all(q["question_type"] == "multiple-choice" and q["answer"] in q["choices"].values() for q in questions)
    assert all((run_dir / "scores" / q["video"]).resolve() == (run_dir / "generator" / "video.mp4").resolve() for q in questions)
    # ids come from the command and seed, not the time-stamped run folder, so a re-run writes the same file
    assert [q["id"] for q in questions] == [f"a-red-ball-rolls-to-the-right-s3_{n}" for n in range(1, len(questions) + 1)]
    trans = next(q for q in questions if q["task"] == "translational")
    assert trans["answer"] == "moving right"
    answered = [json.loads(line)["id"] for line in (run_dir / "scores" / "qa_answers.jsonl").read_text().splitlines()]
    assert set(answered) == {q["id"] for q in questions}  # one id for a question in both files
    assert qa["questions"] == len(questions) and qa["n"] == 4 * len(questions)  # 2 modes x (choices, free form)
    assert qa["per_category"] == {"translational": 1.0, "rotational": 1.0, "counting": 0.0, "false_positive": 1.0}
    expected = round(1 - 1 / len(questions), 6)
    assert qa["per_mode"] == {"direct": expected, "cot": expected} and qa["overall"] == expected
    assert qa["per_variant"] == {"multiple_choice": expected, "free_form": expected}
    assert qa["answer_source"] == "labels" and qa["answerer"] == "oracle-text" and qa["judge"] == "rules"
    lines = (run_dir / "scores" / "qa_answers.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == qa["n"]
    assert {r["judge"] for r in records if r["mode"] == "cot" and not r["free_form"]} == {"letter"}
    assert {r["judge"] for r in records if r["free_form"]} <= {"option-text", "embedding"}
    artifacts = {a["path"] for a in json.loads((run_dir / "run.json").read_text())["artifacts"]}
    assert {"scores/qa_questions.json", "scores/qa_answers.jsonl"} <= artifacts


def test_plan_only_video_and_answer_count_mismatch(tmp_path, oracle):
    video, _, _ = tiny_clip(tmp_path / "generator", tiny_plan("car", "blue", "left"), seed=1)
    inputs = ScoreInput(run_dir=str(tmp_path), plan=tiny_plan("car", "blue", "left"), seed=1,
                        video=video.model_copy(update={"labels": None}))
    (tmp_path / "scores").mkdir()
    scorer = registry.get_stage("scorer", "vlm4d-qa", {"answerer": "oracle-text", "question_types": ["translational", "false_positive"]})
    metrics = scorer.run(inputs, tmp_path / "scores").metrics
    assert metrics["answer_source"] == "plan" and metrics["per_category"] == {"translational": 1.0, "false_positive": 1.0}
    short = registry.get_stage("scorer", "vlm4d-qa", {"answerer": "oracle-text", "answerer_config": {"short_by": 1}})
    with pytest.raises(StageContractError, match="answerer 'oracle-text' \\(plugin 'oracle-text'\\) returned 2 answers for 3 questions"):
        short.run(inputs, tmp_path / "scores")


def test_bad_answerer_or_mode_is_a_config_error_before_work_starts(tmp_path, oracle):
    with pytest.raises(ConfigError, match=r"answerer='nobody': unknown answerer 'nobody'; available: .*oracle-text"):
        start_run("A red ball rolls right", config=preset(tmp_path, answerer="nobody"), output_dir=tmp_path / "out")
    with pytest.raises(ConfigError, match=r"unknown prompt mode 'socratic'; accepted: direct, cot"):
        start_run("A red ball rolls right", config=preset(tmp_path, modes=["socratic"]), output_dir=tmp_path / "out")
    with pytest.raises(ConfigError, match="wrong_types"):
        start_run("A red ball rolls right", config=preset(tmp_path, answerer_config={"wrong_types": 3}), output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_llm_judge_in_the_scorer(tmp_path, oracle, monkeypatch):
    from langchain_core.language_models import FakeListChatModel

    from plugins.vlm4d_qa import judge as judge_module

    video, _, _ = tiny_clip(tmp_path / "generator", tiny_plan("car", "blue", "left"), seed=1)
    inputs = ScoreInput(run_dir=str(tmp_path), plan=tiny_plan("car", "blue", "left"), seed=1, video=video)
    seen = []

    def fake_from_config(config):
        seen.append(config)
        return judge_module.LLMJudge(FakeListChatModel(responses=["X"]))  # the fake judge finds no choice in any answer

    monkeypatch.setattr(judge_module.LLMJudge, "from_config", staticmethod(fake_from_config))
    (tmp_path / "scores").mkdir()
    scorer = registry.get_stage("scorer", "vlm4d-qa", {"answerer": "oracle-text", "judge": "llm", "judge_model": {"model": "fake:judge"}})
    metrics = scorer.run(inputs, tmp_path / "scores").metrics
    assert seen == [{"model": "fake:judge"}] and metrics["judge"] == "llm:FakeListChatModel"
    assert metrics["overall"] == 0.0 and metrics["unanswered"] == metrics["n"] > 0


def test_an_answerer_that_cannot_work_on_the_run_fails_it_unless_told_to_skip(tmp_path):
    from worldsim.errors import InputError

    # field-4d on a run without a reconstruction: a precondition, named in one line
    config = preset(tmp_path, answerer="field-4d")
    with pytest.raises(InputError, match="field-4d"):
        run_pipeline("A red ball rolls to the right", config=config, seed=3, output_dir=tmp_path / "a")
    assert not any((tmp_path / "a").iterdir())
    config = preset(tmp_path, answerer="field-4d", on_unanswerable="skip")
    run_dir = run_pipeline("A red ball rolls to the right", config=config, seed=3, output_dir=tmp_path / "b")
    qa = json.loads((run_dir / "run.json").read_text())["metrics"]["qa"]
    assert "field-4d" in qa["skipped"] and qa["questions"] > 0
    assert (run_dir / "scores" / "qa_questions.json").is_file()
