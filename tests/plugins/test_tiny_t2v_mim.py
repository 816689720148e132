import numpy as np
import pytest
import torch

from plugins.tiny_t2v.mim import MotionIntensityModulator, check_level, clip_level, plan_level
from worldsim.errors import InputError
from worldsim.testing import tiny_plan


def test_combine_appends_the_level_embedding_twice():
    mim = MotionIntensityModulator(dim=6, copies=2)
    text = torch.randn(3, 4, 6)
    out = mim.combine(text, torch.tensor([0, 3, 10]))
    assert out.shape == (3, 6, 6)
    assert torch.equal(out[:, :4], text)
    assert torch.equal(out[:, 4], out[:, 5]) and torch.equal(out[1, 4], mim.embedding.weight[3])


def test_levels():
    assert plan_level(tiny_plan(speed="slow"), 8, 32, 32) < plan_level(tiny_plan(speed="fast"), 8, 32, 32)
    assert plan_level(tiny_plan(direction="none"), 8, 32, 32) == 1
    still = np.full((4, 16, 16, 3), 120, np.uint8)
    assert clip_level(still) == 1
    for bad in (11, -1, 2.5, True, "3"):
        with pytest.raises(InputError, match="motion intensity"):
            check_level(bad)
