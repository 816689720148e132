"""Render a `GaussianScene` at a frame from a `Camera`: colour, alpha, expected depth, extra channels."""

from __future__ import annotations

import math

import torch

from worldsim.render.rasterize import rasterization
from worldsim.types import Camera, GaussianScene

SH_C0 = 0.28209479177387814


def render_scene(
    scene: GaussianScene,
    camera: Camera,
    frame: int,
    extra: torch.Tensor | None = None,  # [N,C] channels composited like colour (instance one-hots, features)
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    backend: str = "auto",
) -> dict[str, torch.Tensor]:
    """Returns rgb [H,W,3], alpha [H,W], depth [H,W] (expected depth), extra [H,W,C] when given."""
    means, quats = scene.at_frame(frame)
    device = means.device
    viewmats = torch.tensor(camera.viewmat, dtype=torch.float32, device=device)[None]  # [1,4,4]
    Ks = torch.tensor(camera.K, dtype=torch.float32, device=device)[None]  # [1,3,3]
    common = dict(
        means=means, quats=quats, scales=scene.log_scales.exp(), opacities=torch.sigmoid(scene.logit_opacities),
        viewmats=viewmats, Ks=Ks, width=camera.width, height=camera.height, backend=backend,
    )
    degree = int(math.isqrt(scene.sh.shape[1])) - 1
    if degree == 0:
        colors = (scene.sh[:, 0, :] * SH_C0 + 0.5).clamp_min(0.0)  # [N,3]
        if extra is not None:
            colors = torch.cat([colors, extra.to(colors)], dim=1)  # [N,3+C]
        img, alpha, _ = rasterization(colors=colors, render_mode="RGB+ED", **common)
        img = img[0]  # [H,W,3+C+1]
    else:
        rgb_img, alpha, _ = rasterization(colors=scene.sh, sh_degree=degree, render_mode="RGB+ED", **common)
        img = rgb_img[0]
        if extra is not None:
            extra_img, _, _ = rasterization(colors=extra, render_mode="RGB", **common)
            img = torch.cat([img[..., :3], extra_img[0], img[..., 3:]], dim=-1)
    alpha = alpha[0, ..., 0]  # [H,W]
    bg = torch.tensor(background, dtype=img.dtype, device=device)
    out = {
        "rgb": img[..., :3] + (1.0 - alpha[..., None]) * bg,  # [H,W,3]
        "alpha": alpha,
        "depth": img[..., -1],  # [H,W]
    }
    if extra is not None:
        out["extra"] = img[..., 3:-1]  # [H,W,C]
    return out
