"""VLM4D-style multiple-choice question with exact label and provenance."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QuestionType = Literal["translational", "rotational", "counting", "false_positive"]


class QAItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    video: str
    question_type: QuestionType
    question: str
    choices: dict[Literal["A", "B", "C", "D"], str]
    answer: Literal["A", "B", "C", "D"]
    plan: dict = Field(default_factory=dict)
    seed: int | None = None
    generator: str | None = None
