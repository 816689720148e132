"""Edits of a GaussianScene given a per-Gaussian selection [N] bool. Each returns a new scene; the input is untouched.

- `recolor`: the selected Gaussians take the named colour while keeping their shading: with
  lum_j the luminance (Rec. 709) of Gaussian j's DC colour and L the selection's mean luminance,
  rgb_j <- clip(target_rgb * lum_j / L, 0, 1), written back to the SH DC term; the higher SH bands of
  the selected Gaussians are zeroed (view-dependent colour of the old material would tint the new one).
- `keep`: the scene restricted to a mask of Gaussians (extract keeps the selection, remove keeps the
  rest). Motion bases stay as they are; weights, instance ids and features follow the Gaussians.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from worldsim.io.ply import SH_C0
from worldsim.types import GaussianScene

LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709 luminance weights


def luminance(rgb: torch.Tensor) -> torch.Tensor:  # [...,3] -> [...]
    return rgb @ torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device)


def recolor(scene: GaussianScene, selection: torch.Tensor, rgb: tuple[float, float, float],
            min_luminance: float = 1e-3) -> GaussianScene:
    """selection [N] bool; rgb in [0,1]. See the module docstring."""
    sh = scene.sh.clone()  # [N,K,3]
    dc = sh[selection, 0, :]  # [S,3]
    old = (dc * SH_C0 + 0.5).clamp(0, 1)
    lum = luminance(old)  # [S]
    mean = lum.mean()
    ratio = lum / mean if float(mean) > min_luminance else torch.ones_like(lum)  # a black selection keeps flat colour
    target = torch.tensor(rgb, dtype=sh.dtype, device=sh.device)
    new = (target[None, :] * ratio[:, None]).clamp(0, 1)  # [S,3]
    sh[selection, 0, :] = (new - 0.5) / SH_C0
    if sh.shape[1] > 1:
        sh[selection, 1:, :] = 0.0
    return replace(scene, sh=sh)


def keep(scene: GaussianScene, mask: torch.Tensor) -> GaussianScene:
    """The scene with only the Gaussians where mask [N] is True."""
    return replace(
        scene,
        means=scene.means[mask], quats=scene.quats[mask], log_scales=scene.log_scales[mask],
        logit_opacities=scene.logit_opacities[mask], sh=scene.sh[mask], weights=scene.weights[mask],
        instance=scene.instance[mask], features=None if scene.features is None else scene.features[mask],
    )
