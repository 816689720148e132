"""Dynamic 3D Gaussians with motion bases and a latent feature per Gaussian (Shape-of-Motion style).

Basis 0 is the static world (identity, not optimised); bases 1..B-1 each have an SE(3) pose per
frame. x_j(t) = sum_b w_jb (R_bt x_j + t_bt), with w_j = softmax(motion_logits_j). Rotations blend as
normalised, sign-aligned quaternion sums.
"""

from __future__ import annotations

import torch
from torch import nn

from worldsim.types import GaussianScene
from worldsim.types.gaussians import quat_multiply, quat_to_rotmat

SH_C0 = 0.28209479177387814
PER_GAUSSIAN = ("means", "quats", "scales", "opacities", "sh0", "features", "motion_logits")


class DynamicGaussians(nn.Module):
    def __init__(self, means, quats, log_scales, logit_opacities, rgb, features, motion_logits,
                 basis_rotations, basis_translations):
        super().__init__()
        # Per-Gaussian parameters, named as gsplat's DefaultStrategy expects (it grows/prunes every entry).
        self.splats = nn.ParameterDict({
            "means": nn.Parameter(means),  # [N,3] canonical
            "quats": nn.Parameter(quats),  # [N,4] wxyz
            "scales": nn.Parameter(log_scales),  # [N,3] log
            "opacities": nn.Parameter(logit_opacities),  # [N] logit
            "sh0": nn.Parameter((rgb - 0.5) / SH_C0),  # [N,3] SH DC
            "features": nn.Parameter(features),  # [N,F] latent feature
            "motion_logits": nn.Parameter(motion_logits),  # [N,B]
        })
        self.basis_rotations = nn.Parameter(basis_rotations)  # [B-1,T,4] dynamic bases only
        self.basis_translations = nn.Parameter(basis_translations)  # [B-1,T,3]

    @property
    def num_frames(self) -> int:
        return int(self.basis_rotations.shape[1])

    def bases(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotations [B,4] and translations [B,3] at frame t, static basis first."""
        identity = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=self.basis_rotations.dtype)
        rot = torch.cat([identity, torch.nn.functional.normalize(self.basis_rotations[:, t], dim=-1)])
        trans = torch.cat([torch.zeros(1, 3, dtype=self.basis_translations.dtype), self.basis_translations[:, t]])
        return rot, trans

    def warp(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """World means [N,3] and quats [N,4] at frame t."""
        s = self.splats
        w = torch.softmax(s["motion_logits"], dim=1)  # [N,B]
        rot, trans = self.bases(t)
        R = quat_to_rotmat(rot)  # [B,3,3]
        moved = torch.einsum("bij,nj->nbi", R, s["means"]) + trans[None]  # [N,B,3]
        means = (w[..., None] * moved).sum(1)  # [N,3]
        q = (w[..., None] * rot[None]).sum(1)  # [N,4] all bases start near identity, so signs agree
        quats = quat_multiply(torch.nn.functional.normalize(q, dim=-1), torch.nn.functional.normalize(s["quats"], dim=-1))
        return means, quats

    def rgb(self) -> torch.Tensor:
        return (self.splats["sh0"] * SH_C0 + 0.5).clamp_min(0.0)  # [N,3]

    def to_scene(self, instance: torch.Tensor | None = None) -> GaussianScene:
        s = {k: v.detach() for k, v in self.splats.items()}
        t = self.num_frames
        rot = torch.cat([torch.tensor([1.0, 0, 0, 0]).expand(1, t, 4), torch.nn.functional.normalize(self.basis_rotations.detach(), dim=-1)])
        trans = torch.cat([torch.zeros(1, t, 3), self.basis_translations.detach()])
        return GaussianScene(
            means=s["means"].clone(), quats=torch.nn.functional.normalize(s["quats"], dim=-1),
            log_scales=s["scales"].clone(), logit_opacities=s["opacities"].clone(), sh=s["sh0"][:, None, :].clone(),
            basis_rotations=rot.contiguous(), basis_translations=trans.contiguous(),
            weights=torch.softmax(s["motion_logits"], dim=1), features=s["features"].clone(),
            instance=instance if instance is not None else torch.softmax(s["motion_logits"], 1).argmax(1),
        )
