import pytest

from plugins.diffusers_video.base import block_band, plan_prompt, prefix_filter, resolve_dtype
from worldsim.errors import InputError
from worldsim.testing import tiny_plan
from worldsim.types import MotionSpec, ObjectSpec, Plan


def test_plan_text_is_the_prompt_when_it_names_every_phrase():
    plan = tiny_plan()
    assert plan_prompt(plan) == (plan.text, ["red ball"])


def test_caption_when_the_text_lacks_a_phrase_and_override_kept_verbatim():
    plan = Plan(mode="generate", text="make the ball that is red go up", scene="on a beach",
                objects=(ObjectSpec(name="ball", color="red", count=2), ObjectSpec(name="cube")),
                motion=MotionSpec(direction="up-left"))
    prompt, phrases = plan_prompt(plan)
    assert phrases == ["red ball", "cube"]
    assert prompt == "two red balls and a cube moving up and left, on a beach"
    assert plan_prompt(plan, "a cube") == ("a cube", ["red ball", "cube"])


def test_override_without_a_phrase_is_caught_by_validation():
    from worldsim.dmc.guidance import GuidanceSettings

    prompt, phrases = plan_prompt(tiny_plan(), "a blue cube")
    with pytest.raises(InputError, match="'red ball' does not occur"):
        GuidanceSettings().validate_for(25, prompt, phrases)


def test_block_band_and_prefix_filter():
    assert block_band(30, (0.3, 0.6)) == range(9, 18)
    assert block_band(2, (0.3, 0.6)) == range(0, 2)
    assert block_band(1, (0.9, 1.0)) == range(0, 1)
    keep = prefix_filter(["up_blocks.1", "mid_block."])
    assert keep("up_blocks.1.attentions.0.transformer_blocks.0.attn2", None)
    assert keep("mid_block.attentions.0", None)
    assert not keep("up_blocks.10.attn2", None)


def test_resolve_dtype():
    import torch

    assert resolve_dtype("bfloat16") is torch.bfloat16
