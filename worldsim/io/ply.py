"""3D Gaussian Splatting PLY files (the layout INRIA's 3DGS, SuperSplat and most viewers read).

Vertex properties, binary little-endian float32:
`x y z nx ny nz f_dc_0..2 f_rest_0..(3*(K-1)-1) opacity scale_0..2 rot_0..3`, with opacity as a
logit, scales as logs, rotation as a wxyz quaternion, and f_rest stored channel-major (all R
coefficients, then G, then B), as 3DGS does.

`write_gaussian_ply(..., sh_degree=None)` writes the K coefficients per channel it is given (our scenes
have degree 0: no f_rest). `sh_degree=d` (0..3) writes exactly (d+1)^2 per channel, the missing higher
coefficients as zeros, so a file opens in loaders that fix the degree: INRIA's `GaussianModel.load_ply`
(default `sh_degree=3`) asserts exactly 45 `f_rest_*` properties. A degree lower than the data holds is a
ValueError (no data is dropped). `read_gaussian_ply` reads any degree (K = 1 + f_rest count / 3).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from worldsim.artifacts import atomic_path

SH_C0 = 0.28209479177387814


def rgb_to_sh_dc(rgb: np.ndarray) -> np.ndarray:
    return (np.asarray(rgb) - 0.5) / SH_C0


def sh_dc_to_rgb(dc: np.ndarray) -> np.ndarray:
    return np.asarray(dc) * SH_C0 + 0.5


def sh_degree_of(k: int) -> int:
    """The SH degree d of K = (d+1)^2 coefficients per channel; ValueError when K is not a square."""
    import math

    d = math.isqrt(k) - 1 if k > 0 else -1
    if d < 0 or (d + 1) ** 2 != k:
        raise ValueError(f"{k} SH coefficients per channel is not (degree+1)^2 for any degree")
    return d


def pad_sh(sh: np.ndarray, sh_degree: int) -> np.ndarray:
    """[N,K,3] -> [N,(sh_degree+1)^2,3] float32: the coefficients given, then zeros for the higher bands.
    ValueError for a degree outside 0..3 or lower than the data's (that would drop coefficients)."""
    if isinstance(sh_degree, bool) or not isinstance(sh_degree, (int, np.integer)) or not 0 <= sh_degree <= 3:
        raise ValueError(f"sh_degree must be an integer 0..3 (or None to keep the data's degree), got {sh_degree!r}")
    sh = np.asarray(sh, dtype=np.float32)
    have = sh_degree_of(sh.shape[1])
    if have > sh_degree:
        raise ValueError(f"sh_degree={sh_degree} is lower than the data's SH degree {have} ({sh.shape[1]} coefficients "
                         f"per channel); writing it would drop coefficients; pass sh_degree >= {have} or None")
    want = (int(sh_degree) + 1) ** 2
    if want == sh.shape[1]:
        return sh
    return np.concatenate([sh, np.zeros((sh.shape[0], want - sh.shape[1], 3), np.float32)], axis=1)


def write_gaussian_ply(
    path: str | os.PathLike,
    means: np.ndarray,  # [N,3]
    quats: np.ndarray,  # [N,4] wxyz
    log_scales: np.ndarray,  # [N,3]
    logit_opacities: np.ndarray,  # [N]
    sh: np.ndarray,  # [N,K,3] SH coefficients, K = (degree+1)^2
    sh_degree: int | None = None,  # None: K as given; 0..3: exactly (d+1)^2 per channel, zero-padded
) -> Path:
    """Write one 3DGS PLY atomically (temporary sibling name, then rename); see the module docstring."""
    from plyfile import PlyData, PlyElement

    n = means.shape[0]
    sh = np.asarray(sh, dtype=np.float32).reshape(n, -1, 3)
    if sh_degree is not None:
        sh = pad_sh(sh, sh_degree)
    rest = sh[:, 1:, :].transpose(0, 2, 1).reshape(n, -1)  # channel-major
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(rest.shape[1])]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    columns = [means, np.zeros((n, 3)), sh[:, 0, :], rest, np.asarray(logit_opacities).reshape(n, 1), log_scales, quats]
    data = np.concatenate([np.asarray(c, dtype=np.float32).reshape(n, -1) for c in columns], axis=1)
    vertex = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        vertex[name] = data[:, i]
    path = Path(path)
    with atomic_path(path) as tmp:
        PlyData([PlyElement.describe(vertex, "vertex")], text=False, byte_order="<").write(str(tmp))
    return path


def read_gaussian_ply(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Returns means [N,3], quats [N,4], log_scales [N,3], logit_opacities [N], sh [N,K,3]."""
    from plyfile import PlyData

    v = PlyData.read(str(path))["vertex"].data
    col = lambda *names: np.stack([np.asarray(v[n], dtype=np.float32) for n in names], axis=1)
    n = len(v)
    rest_names = sorted((p for p in v.dtype.names if p.startswith("f_rest_")), key=lambda p: int(p.rsplit("_", 1)[1]))
    rest = col(*rest_names).reshape(n, 3, -1).transpose(0, 2, 1) if rest_names else np.zeros((n, 0, 3), np.float32)
    return {
        "means": col("x", "y", "z"),
        "quats": col("rot_0", "rot_1", "rot_2", "rot_3"),
        "log_scales": col("scale_0", "scale_1", "scale_2"),
        "logit_opacities": np.asarray(v["opacity"], dtype=np.float32),
        "sh": np.concatenate([col("f_dc_0", "f_dc_1", "f_dc_2")[:, None, :], rest], axis=1),
    }
