"""What a 2D teacher hands a reconstructor: dense per-frame maps aligned with the video's pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

TeacherTarget = Literal["feature", "depth", "mask"]


@dataclass
class TeacherMaps:
    name: str  # the teacher stage's name
    target: TeacherTarget
    maps: "torch.Tensor"  # [T,H,W,D] float32: features (D dims), depth (D=1, metres along camera z), mask ids (D=1)
    valid: "torch.Tensor | None" = None  # [T,H,W] bool: where the teacher says something (None = everywhere)
    labels: "list[str] | None" = None  # mask teachers: text label of each id (index = id)

    @property
    def dim(self) -> int:
        return int(self.maps.shape[-1])
