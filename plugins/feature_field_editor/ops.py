"""Edits of a GaussianScene given a per-Gaussian selection [N] bool. Each returns a new scene; the input is untouched.

- `recolor`: the selected Gaussians take the named colour while keeping their shading: with
  lum_j the luminance (Rec. 709) of Gaussian j's DC colour and L the selection's mean luminance,
  rgb_j <- clip(target_rgb * lum_j / L, 0, 1), written back to the SH DC term; the higher SH bands of
  the selected Gaussians are zeroed (view-dependent colour of the old material would tint the new one).
- `keep`: the scene restricted to a mask of Gaussians (extract keeps the selection, remove keeps the
  rest). Motion bases stay as they are; weights, instance ids and features follow the Gaussians.
- `scale`: the selected Gaussians grow or shrink by `factor` about the object's contact point p(t) in
  every frame: x'_j(t) = p(t) + f (x_j(t) - p(t)). With x_j(t) = sum_b w_jb (R_bt x_j + t_bt) this is
  exact when the canonical means become f x_j and each basis b that a selected Gaussian uses gets a
  copy b' with the same rotations and translations t'_bt = f t_bt + (1 - f) p(t), the selected
  Gaussians' weights moving from b to b' (their weights sum to 1). Scales: log_scales += log f;
  orientations, colours, opacities and features are unchanged. Unselected Gaussians and the existing
  bases are untouched (bit-identical; the weights only gain zero columns for the new bases).
- `contact_points`: p(t) [T,3] of a selection (world y up): the median x and z of the selected
  Gaussians at frame t, and as height a low quantile over them of their bottom y_j(t) - sigma_y,j(t)
  (sigma_y: the Gaussian's vertical standard deviation at that frame), robust to a few stray Gaussians.
  `bottom_heights` is that height alone; `scale` keeps it exactly (both terms scale by f about p).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from worldsim.io.ply import SH_C0
from worldsim.types import GaussianScene
from worldsim.types.gaussians import quat_to_rotmat

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


def _bottoms(scene: GaussianScene, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """World means [N,3] at frame t and each Gaussian's bottom height y - sigma_y [N]."""
    means, quats = scene.at_frame(t)
    R = quat_to_rotmat(quats)  # [N,3,3]
    var_y = (R[:, 1, :] ** 2 * torch.exp(2 * scene.log_scales)).sum(dim=1)  # [N] = (R S^2 R^T)_yy
    return means, means[:, 1] - var_y.clamp_min(0).sqrt()


@torch.no_grad()
def contact_points(scene: GaussianScene, selection: torch.Tensor, quantile: float = 0.02) -> torch.Tensor:
    """p(t) [T,3] float64 of the selected Gaussians (module docstring)."""
    part = keep(scene, selection)
    if len(part) == 0:
        raise ValueError("contact_points of an empty selection")
    points = []
    for t in range(part.num_frames):
        means, bottom = _bottoms(part, t)
        m = means.double()
        points.append(torch.stack([m[:, 0].median(), torch.quantile(bottom.double(), quantile), m[:, 2].median()]))
    return torch.stack(points)


@torch.no_grad()
def bottom_heights(scene: GaussianScene, selection: torch.Tensor, quantile: float = 0.02) -> torch.Tensor:
    """The selection's bottom height per frame [T] float64: the `quantile` of y_j(t) - sigma_y,j(t)."""
    part = keep(scene, selection)
    return torch.stack([torch.quantile(_bottoms(part, t)[1].double(), quantile) for t in range(part.num_frames)])


def scale(scene: GaussianScene, selection: torch.Tensor, factor: float, contact: torch.Tensor) -> GaussianScene:
    """selection [N] bool; contact [T,3] p(t) (`contact_points`); see the module docstring."""
    if not factor > 0 or not math.isfinite(factor):
        raise ValueError(f"scale factor must be positive and finite, got {factor}")
    T = scene.num_frames
    if tuple(contact.shape) != (T, 3):
        raise ValueError(f"contact points must be [T,3] = [{T},3], got {list(contact.shape)}")
    B = scene.weights.shape[1]
    used = torch.nonzero((scene.weights[selection] != 0).any(dim=0)).flatten()  # bases the selection moves with
    p = contact.to(scene.basis_translations.dtype)  # [T,3]
    rotations = torch.cat([scene.basis_rotations, scene.basis_rotations[used]])  # [B+U,T,4]
    translations = torch.cat([scene.basis_translations, factor * scene.basis_translations[used] + (1.0 - factor) * p[None]])
    weights = torch.cat([scene.weights, scene.weights.new_zeros(len(scene), len(used))], dim=1)  # [N,B+U]
    rows = torch.nonzero(selection).flatten()
    weights[rows[:, None], B + torch.arange(len(used), device=weights.device)[None, :]] = scene.weights[rows[:, None], used[None, :]]
    weights[rows[:, None], used[None, :]] = 0.0
    means = scene.means.clone()
    means[selection] = scene.means[selection] * factor
    log_scales = scene.log_scales.clone()
    log_scales[selection] = scene.log_scales[selection] + math.log(factor)
    return replace(scene, means=means, log_scales=log_scales, basis_rotations=rotations,
                   basis_translations=translations, weights=weights)
