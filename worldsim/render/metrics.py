"""Image metrics on [...,H,W,C] tensors in [0, 1]: PSNR and SSIM (differentiable, 11x11 Gaussian window)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all channels; `mask` [...,H,W] restricts the pixels."""
    err = (pred.float() - target.float()) ** 2
    if mask is not None:
        m = mask.to(err.dtype)[..., None].expand_as(err)
        mse = (err * m).sum() / m.sum().clamp_min(1)
    else:
        mse = err.mean()
    return float("inf") if mse.item() == 0 else -10.0 * math.log10(mse.item())


def _window(size: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()  # [C,1,k,k]


def ssim(pred: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity of [...,H,W,C] images (Wang et al. 2004 constants), a scalar tensor."""
    c = pred.shape[-1]
    x = pred.reshape(-1, *pred.shape[-3:]).permute(0, 3, 1, 2)  # [B,C,H,W]
    y = target.reshape(-1, *target.shape[-3:]).permute(0, 3, 1, 2).to(x)
    w = _window(window, sigma, c, x.device, x.dtype)
    pad = window // 2
    blur = lambda z: F.conv2d(F.pad(z, (pad, pad, pad, pad), mode="reflect"), w, groups=c)
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.mean()
