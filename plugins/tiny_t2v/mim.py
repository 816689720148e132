"""Motion Intensity Modulator (Mojito, thesis ch. 10.3.3): optical-flow levels 1..10 and their embedding c_M.

Training labels come from the clip itself (`clip_level`: Farneback flow magnitude -> level, worldsim.motion).
At generation the requested level is explicit or derived from the plan's speed (`plan_level`). The learned
embedding M maps a level to c_M (384-d, the text space); the conditioning is c_L = [c_T ; c_M ; c_M]: the
caption's token states followed by c_M duplicated, so the intensity holds two of the cross-attention keys.
Level 0 is "no intensity condition" (trained by dropping the level), which is the without-MIM baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from worldsim.errors import InputError

NONE = 0
LEVELS = 10


def clip_level(frames: np.ndarray) -> int:
    """Measured motion level 1..10 of uint8 frames [T,H,W,3]."""
    from worldsim.motion import video_intensity_level

    return video_intensity_level(frames)


def plan_level(plan, num_frames: int, width: int, height: int) -> int:
    """Level the plan's commanded speed should measure (1 when nothing moves)."""
    from worldsim.motion import speed_level

    if plan.motion.direction == "none":
        return 1
    return speed_level(plan.motion.speed, num_frames, plan.motion.direction, width, height)


def check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not NONE <= int(level) <= LEVELS:
        raise InputError(f"motion intensity {level!r}: accepted integers 1..{LEVELS} (0 = no intensity condition)")
    return int(level)


class MotionIntensityModulator(nn.Module):
    """Level [B] -> c_M [B,dim]; `combine` appends it `copies` times to the text states."""

    def __init__(self, dim: int, levels: int = LEVELS, copies: int = 2):
        super().__init__()
        self.copies = copies
        self.embedding = nn.Embedding(levels + 1, dim)
        nn.init.normal_(self.embedding.weight, std=0.5)

    def forward(self, level: torch.Tensor) -> torch.Tensor:
        return self.embedding(level.long())

    def combine(self, text_states: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """c_L: [B,L,dim] text states + [B] levels -> [B,L+copies,dim]."""
        c_m = self(level)[:, None, :].expand(-1, self.copies, -1)
        return torch.cat([text_states, c_m], dim=1)
