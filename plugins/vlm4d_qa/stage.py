"""`vlm4d-qa` scorer: VLM4D-style spatiotemporal questions about the generated clip, asked to an answerer,
judged, and aggregated into accuracy overall, per question type, per prompt mode and per variant.

Answerers are stages of kind `answerer`, named by `answerer` and configured by `answerer_config`; the scorer
calls, for each configured prompt mode (and once more with `free_form=True` when `free_form` is set):

    Answerer.run(self, items: list[QAItem], inputs: ScoreInput, mode: str = "direct", free_form: bool = False) -> list[str]

`items` are the questions (choices, answer letter, free-form text, `target`), `inputs` the run's plan, seed
and outputs (paths relative to `inputs.run_dir`); it returns one raw text answer per item, in order. With
`free_form=True` the answerer answers `item.free_form` without choices.

Writes `scores/qa_questions.json` (VLM4D's own record format, docs/FORMATS.md: id, video relative to the
JSON file, question_type "multiple-choice", question, choices, answer = the right choice's text, task)
and `scores/qa_answers.jsonl` (one AnswerRecord per answer); returns the metrics stored as run.json
`metrics.qa`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from worldsim import registry
from worldsim.artifacts import atomic_write_json, atomic_write_text, json_safe, slugify
from worldsim.errors import ConfigError, InputError, UnknownStageError
from worldsim.labels import read_labels
from worldsim.stages import Scorer, StageConfig, call_stage
from worldsim.types import ScoreInput, ScoreResult
from worldsim.types.qa import PROMPT_MODES, QUESTION_TYPES

QUESTIONS_FILE = "qa_questions.json"
ANSWERS_FILE = "qa_answers.jsonl"


class VLM4DQAConfig(StageConfig):
    answerer: str = Field("field-4d", description="answerer stage that answers the questions (kind 'answerer')")
    answerer_config: dict = Field(default_factory=dict, description="the answerer's own settings")
    modes: list[str] = Field(default_factory=lambda: ["direct"], description="prompt modes to ask in: direct, cot")
    free_form: bool = Field(False, description="also ask each question's free-form variant (judged by choice words, then MiniLM ranking)")
    question_types: list[str] = Field(default_factory=lambda: list(QUESTION_TYPES),
                                      description="question types to ask: translational, rotational, counting, false_positive, camera_motion (moving camera only)")
    judge: Literal["rules", "llm"] = Field("rules", description="rules: letter extraction + embedding ranking; llm: a LangChain chat model reads each answer")
    judge_model: dict = Field(default_factory=dict, description="chat model for judge=llm, as the langchain parser's settings "
                              "(model 'provider:name', or base_url + model, api_key_env, temperature, timeout_s)")
    embedding_fallback: bool = Field(False, description="multiple-choice answers with no readable choice: rank the choices by embedding")
    on_unanswerable: Literal["error", "skip"] = Field(
        "error", description="when the answerer cannot work on this run (e.g. field-4d on a reconstruction without a feature "
        "field): error fails the run; skip writes the questions and records metrics.qa.skipped with the reason")

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, modes: list[str]) -> list[str]:
        bad = [m for m in modes if m not in PROMPT_MODES]
        if bad or not modes:
            raise ConfigError(f"scorer 'vlm4d-qa': modes={modes!r}: unknown prompt mode {bad[0]!r}; accepted: {', '.join(PROMPT_MODES)}"
                              if bad else f"scorer 'vlm4d-qa': modes is empty; accepted: {', '.join(PROMPT_MODES)}")
        return list(dict.fromkeys(modes))

    @field_validator("question_types")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        bad = [t for t in types if t not in QUESTION_TYPES]
        if bad or not types:
            raise ConfigError(f"scorer 'vlm4d-qa': question_types={types!r}: accepted: {', '.join(QUESTION_TYPES)}")
        return types

    @model_validator(mode="after")
    def _answerer_exists(self) -> "VLM4DQAConfig":
        answerer_info(self.answerer).cls.make_config(self.answerer_config)
        return self


def answerer_info(name: str):
    try:
        return registry.get_stage_info("answerer", name)
    except UnknownStageError as exc:
        raise ConfigError(f"scorer 'vlm4d-qa': answerer={name!r}: {exc}") from None


def scene_id(plan, seed: int) -> str:
    """A question-id prefix from what makes the scene (command and seed), not from the run folder's
    name (which holds a time stamp), so the same inputs write the same questions: 'a-red-ball-s0'."""
    return f"{slugify(plan.text or 'scene')}-s{seed}"


class VLM4DQAScorer(Scorer):
    name = "vlm4d-qa"
    description = "VLM4D-style spatiotemporal QA: exact questions from the labels, asked to an answerer, judged, accuracy per category"
    Config = VLM4DQAConfig
    metrics_key = "qa"

    def run(self, inputs: ScoreInput, out_dir: Path) -> ScoreResult:
        from .judge import LLMJudge, accuracy, judge
        from worldsim.qa.questions import generate_questions, to_vlm4d

        cfg: VLM4DQAConfig = self.config
        if inputs.video is None:
            raise ConfigError("scorer 'vlm4d-qa' needs a generator before it in the config's stages")
        out_dir = Path(out_dir)
        run_dir = Path(inputs.run_dir)
        labels = read_labels(run_dir / inputs.video.labels).to_dict() if inputs.video.labels else None
        items = generate_questions(inputs.plan, labels, inputs.seed, inputs.video.video, inputs.video.generator,
                                   scene_id=scene_id(inputs.plan, inputs.seed))
        items = [it for it in items if it.question_type in cfg.question_types]
        video = Path(os.path.relpath(run_dir / inputs.video.video, out_dir)).as_posix()  # as the JSON file names it
        atomic_write_json(out_dir / QUESTIONS_FILE, [to_vlm4d(it, video) for it in items])

        info = registry.get_stage_info("answerer", cfg.answerer)
        answerer = info.cls(cfg.answerer_config)
        files = [_relative(out_dir / QUESTIONS_FILE, run_dir)]
        llm = LLMJudge.from_config(cfg.judge_model) if cfg.judge == "llm" else None
        records = []
        for mode in cfg.modes:
            for free_form in (False, True) if cfg.free_form else (False,):
                try:
                    raws = call_stage(answerer, items, inputs, mode=mode, free_form=free_form, plugin=info.plugin,
                                      expected_len=len(items)) if items else []
                except InputError as exc:  # the run lacks what the answerer needs; a bug still fails the run
                    if cfg.on_unanswerable == "error":
                        raise
                    return ScoreResult(metrics={"skipped": str(exc), "questions": len(items), "answerer": cfg.answerer},
                                       files=files)
                records += judge(items, raws, mode=mode, free_form=free_form, llm=llm, embedding_fallback=cfg.embedding_fallback)
        atomic_write_text(out_dir / ANSWERS_FILE, "".join(r.model_dump_json() + "\n" for r in records))
        return ScoreResult(metrics=json_safe({
            **accuracy(records),
            "questions": len(items),
            "answer_source": "labels" if labels else "plan",
            "answerer": cfg.answerer,
            "judge": "rules" if llm is None else f"llm:{llm.name}",
            "modes": cfg.modes,
            "free_form": cfg.free_form,
        }), files=[*files, _relative(out_dir / ANSWERS_FILE, run_dir)])


def _relative(path: Path, run_dir: Path) -> str:
    """`path` relative to the run folder (as a scorer's result names its files)."""
    return Path(os.path.relpath(path.resolve(), run_dir.resolve())).as_posix()
