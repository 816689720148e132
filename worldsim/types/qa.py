"""VLM4D-style questions with exact labels, and the answers and judgements made of them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The four VLM4D categories, then "camera_motion": ego-centric questions, asked only when the camera moves
# (which way it moves or turns; whether an object or only the camera moves).
QuestionType = Literal["translational", "rotational", "counting", "false_positive", "camera_motion"]
QUESTION_TYPES: tuple[str, ...] = ("translational", "rotational", "counting", "false_positive", "camera_motion")
Letter = Literal["A", "B", "C", "D"]
LETTERS: tuple[str, ...] = ("A", "B", "C", "D")
PromptMode = Literal["direct", "cot"]
PROMPT_MODES: tuple[str, ...] = ("direct", "cot")


class QAItem(BaseModel):
    """One multiple-choice question about one video; `choices[answer]` is the exact answer.

    `free_form` is the same question asked without choices (judged by ranking the choices by
    sentence-embedding similarity); `target` says what was asked about: {name, color, direction?},
    so model-free answerers can resolve it without parsing the question text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    video: str
    question_type: QuestionType
    question: str
    choices: dict[Letter, str]
    answer: Letter
    free_form: str = ""
    target: dict = Field(default_factory=dict)
    plan: dict = Field(default_factory=dict)
    seed: int | None = None
    generator: str | None = None


class AnswerRecord(BaseModel):
    """What an answerer said to one question, and how it was judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question_type: QuestionType
    mode: PromptMode = "direct"
    free_form: bool = False
    raw: str = Field(description="the answerer's text, unmodified")
    letter: Letter | None = Field(default=None, description="the choice the judge read from `raw` (None: no choice found)")
    correct: bool = False
    judge: str = Field(default="", description="how `letter` was obtained: letter, option-text, embedding, llm")
