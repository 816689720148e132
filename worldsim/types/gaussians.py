"""Dynamic 3D Gaussians in gsplat conventions, with motion as a few SE(3) bases.

Position of Gaussian j at frame t: x_j(t) = sum_b w_jb (R_bt x_j + t_bt); orientation q_j(t) = q_b*t ⊗ q_j
with b* = argmax_b w_jb. A rigid object is one basis with one-hot weights; the static background uses
an identity basis. torch is imported only when tensors are built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_FEATURE_DIM = 32


@dataclass
class GaussianScene:
    means: "torch.Tensor"  # [N,3] canonical positions
    quats: "torch.Tensor"  # [N,4] wxyz canonical orientations
    log_scales: "torch.Tensor"  # [N,3]
    logit_opacities: "torch.Tensor"  # [N]
    sh: "torch.Tensor"  # [N,K,3] SH colour coefficients, K = (degree+1)^2
    basis_rotations: "torch.Tensor"  # [B,T,4] wxyz per basis per frame
    basis_translations: "torch.Tensor"  # [B,T,3]
    weights: "torch.Tensor"  # [N,B] blend weights, rows sum to 1
    instance: "torch.Tensor"  # [N] int64 object instance id (0 = background), -1 if unknown
    features: "torch.Tensor | None" = None  # [N,F] latent language features

    @property
    def num_frames(self) -> int:
        return int(self.basis_rotations.shape[1])

    def __len__(self) -> int:
        return int(self.means.shape[0])

    def at_frame(self, t: int) -> tuple["torch.Tensor", "torch.Tensor"]:
        """World means [N,3] and quats [N,4] at frame t."""
        import torch

        R = quat_to_rotmat(self.basis_rotations[:, t])  # [B,3,3]
        moved = torch.einsum("bij,nj->nbi", R, self.means) + self.basis_translations[:, t][None]  # [N,B,3]
        means = (self.weights[..., None] * moved).sum(1)  # [N,3]
        dominant = self.weights.argmax(dim=1)  # [N]
        quats = quat_multiply(self.basis_rotations[dominant, t], self.quats)  # [N,4]
        return means, quats

    def save(self, path: str | os.PathLike) -> Path:
        from safetensors.torch import save_file

        from worldsim.artifacts import atomic_path

        tensors = {f.name: getattr(self, f.name).contiguous() for f in fields(self) if getattr(self, f.name) is not None}
        path = Path(path)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "worldsim.GaussianScene/1"})  # one key: safetensors orders metadata keys randomly
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GaussianScene":
        from safetensors.torch import load_file

        return cls(**load_file(str(path)))


def axis_angle_quat(axis, angle: float):
    """wxyz unit quaternion (numpy [4]) of a turn by `angle` radians about `axis` (any length; zero: identity)."""
    import math

    import numpy as np

    n = np.linalg.norm(axis)
    if n < 1e-12 or angle == 0.0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    a = np.asarray(axis) / n
    return np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * a])


def quat_to_rotmat(q: "torch.Tensor") -> "torch.Tensor":
    """[...,4] wxyz (any norm) -> [...,3,3]."""
    import torch

    w, x, y, z = torch.nn.functional.normalize(q, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*q.shape[:-1], 3, 3)


def quat_multiply(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    """Hamilton product a ⊗ b of wxyz quaternions [...,4]."""
    import torch

    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )
