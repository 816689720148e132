"""The prompt text both model answerers send with the frames: direct or chain-of-thought, multiple choice or free form.

    multiple choice, direct  "... Answer with the option's letter only."
    multiple choice, cot     "... Think step by step ..., then end with a last line 'Answer: <letter>'."
    free form, direct        the item's free-form question, "Answer in a few words."
    free form, cot           the free-form question, reasoning, then 'Answer: <a few words>'.

The frames are described by count and time span so a model knows they are one clip in order.
"""

from __future__ import annotations

from worldsim.errors import InputError
from worldsim.types.qa import PROMPT_MODES, QAItem

DIRECT_MC = "Answer with the option's letter only."
COT_MC = ("Think step by step: find the object in the frames, follow it from the first frame to the last, then decide. "
          "End with a last line of the form 'Answer: <letter>'.")
DIRECT_FREE = "Answer in a few words."
COT_FREE = ("Think step by step: find the object in the frames, follow it from the first frame to the last, then decide. "
            "End with a last line of the form 'Answer: <a few words>'.")


def check_mode(mode: str) -> str:
    if mode not in PROMPT_MODES:
        raise InputError(f"unknown prompt mode '{mode}'; accepted: {', '.join(PROMPT_MODES)}")
    return mode


def frames_line(num_frames: int, seconds: float | None = None) -> str:
    span = f" spanning {seconds:.1f} seconds" if seconds else ""
    if num_frames == 1:
        return "The image is a frame of a video; the camera does not move."
    return f"The {num_frames} images are frames of one video in time order{span}; the camera does not move."


def build_prompt(item: QAItem, mode: str = "direct", free_form: bool = False, num_frames: int = 8,
                 seconds: float | None = None) -> str:
    """The text of one question (the images go before it in the message)."""
    check_mode(mode)
    lines = [frames_line(num_frames, seconds)]
    if free_form:
        question = item.free_form or item.question
        if not question.strip():
            raise InputError(f"question '{item.id}' has no text to ask")
        lines += [question, COT_FREE if mode == "cot" else DIRECT_FREE]
    else:
        if not item.choices:
            raise InputError(f"question '{item.id}' has no choices; ask it with free_form=True")
        lines.append(item.question)
        lines += [f"{letter}. {text}" for letter, text in sorted(item.choices.items())]
        lines.append(COT_MC if mode == "cot" else DIRECT_MC)
    return "\n".join(lines)
