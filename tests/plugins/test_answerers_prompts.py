"""Prompt text of the model answerers: direct / chain-of-thought, multiple choice / free form."""

import pytest

from plugins.answerers.prompts import build_prompt, frames_line
from worldsim.errors import InputError
from worldsim.types import QAItem

ITEM = QAItem(id="q", video="v.mp4", question_type="translational", question="What direction is the red ball moving?",
              choices={"B": "moving right", "A": "moving left", "C": "not moving", "D": "there is no red ball"}, answer="B",
              free_form="In which direction is the red ball moving in the video? Answer in a few words.")


def test_multiple_choice_lists_options_in_letter_order():
    text = build_prompt(ITEM, "direct", num_frames=8, seconds=0.875)
    lines = text.splitlines()
    assert lines[0] == "The 8 images are frames of one video in time order spanning 0.9 seconds; the camera does not move."
    assert lines[1] == ITEM.question
    assert lines[2:6] == ["A. moving left", "B. moving right", "C. not moving", "D. there is no red ball"]
    assert lines[-1] == "Answer with the option's letter only."


def test_cot_asks_for_reasoning_then_a_final_letter_line():
    text = build_prompt(ITEM, "cot", num_frames=4)
    assert "step by step" in text and text.endswith("'Answer: <letter>'.") and "letter only" not in text
    assert "spanning" not in text.splitlines()[0]


def test_free_form_asks_without_choices():
    direct = build_prompt(ITEM, "direct", free_form=True, num_frames=2)
    assert ITEM.free_form in direct and "A. moving left" not in direct and direct.endswith("Answer in a few words.")
    cot = build_prompt(ITEM, "cot", free_form=True, num_frames=2)
    assert cot.endswith("'Answer: <a few words>'.")
    assert frames_line(1) == "The image is a frame of a video; the camera does not move."


def test_bad_mode_and_missing_text():
    with pytest.raises(InputError, match="unknown prompt mode 'verbose'; accepted: direct, cot"):
        build_prompt(ITEM, "verbose")
    with pytest.raises(InputError, match="no choices"):
        build_prompt(ITEM.model_copy(update={"choices": {}}), "direct")
    assert ITEM.question in build_prompt(ITEM.model_copy(update={"free_form": ""}), "direct", free_form=True)
