"""Sampling tiny-t2v: DDIM with classifier-free guidance, Directional Motion Control (the core's DMC) and
attention-map collection. Shared by the `tiny-t2v` generator and the Mojito-in-miniature benchmark.

The denoiser's batch is [unconditional, conditional] (empty caption and level 0 / caption and level);
guidance runs the conditional branch alone with gradients (worldsim.dmc.guidance.DMCGuide),
and the recorded maps of the conditional branch become the per-instance attention artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from worldsim.dmc.guidance import GuidanceSettings

DEFAULT_LAYERS = ["blocks.1.attn2"]
CHECKPOINT = Path(__file__).parent / "checkpoint"
_models: dict[str, object] = {}


def load_model(path: str | Path | None = None):
    """The TinyVideoDiT checkpoint at `path` (default: the shipped one), loaded once per process."""
    from plugins.tiny_t2v.model import TinyVideoDiT

    key = str(Path(path or CHECKPOINT).resolve())
    if key not in _models:
        _models[key] = TinyVideoDiT.load(Path(key))
    return _models[key]


@dataclass
class Sample:
    frames: np.ndarray  # [T,H,W,3] uint8
    phrase_maps: torch.Tensor | None  # [P,T,h,w] conditional phrase attention, mean over steps and layers
    history: list = field(default_factory=list)  # guidance energy per guided step
    seconds: float = 0.0


def generate_clip(model, prompt: str, phrases: list[str], phrase_boxes: list, level: int, seed: int, steps: int,
                  guidance: GuidanceSettings, cfg_scale: float = 3.0) -> Sample:
    """One clip. phrase_boxes: per phrase a [n,T,4] normalised xyxy tensor (the planned boxes of its instances)."""
    import time

    from diffusers import DDIMScheduler

    from worldsim.dmc.attention import AttentionRecorder, install_recorders, is_cross
    from worldsim.dmc.guidance import DMCGuide, sample
    from plugins.tiny_t2v.text import phrase_tokens, token_states
    from plugins.tiny_t2v.train import scheduler_for, to_frames

    c = model.config
    guidance.validate_for(steps, prompt, phrases)
    groups = [phrase_tokens(prompt, p, c.text_tokens) for p in phrases]
    start = time.perf_counter()
    scheduler = DDIMScheduler.from_config(scheduler_for(c).config, clip_sample=True, set_alpha_to_one=True)
    scheduler.set_timesteps(steps)
    text = token_states([prompt], c.text_tokens)
    null = token_states([""], c.text_tokens)
    cond = model.context(text, torch.tensor([level]))
    uncond = model.context(null, torch.tensor([0]))
    both = torch.cat([uncond, cond])
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn((1, 3, c.num_frames, c.size, c.size), generator=g) * scheduler.init_noise_sigma

    def denoise(z, t):
        if cfg_scale == 1.0:
            return model(z, t, cond)
        eps_u, eps_c = model(torch.cat([z, z]), t, both).chunk(2)
        return eps_u + cfg_scale * (eps_c - eps_u)

    layers = guidance.layers or DEFAULT_LAYERS
    names = {n for n, _ in model.named_modules()}
    missing = [p for p in layers if not any(n.startswith(p) for n in names)]
    if missing:
        from worldsim.errors import ConfigError

        raise ConfigError(f"guidance.layers {missing} match no attention module of tiny-t2v; "
                          f"accepted prefixes of: {', '.join(n for n in sorted(names) if n.endswith('attn2'))}")
    recorder = AttentionRecorder(groups, layout="frames-in-batch")
    handle = install_recorders(model, recorder, lambda n, m: is_cross(m) and any(n.startswith(p) for p in layers))
    grid = (c.num_frames, c.grid, c.grid)
    with handle:
        guide = DMCGuide(recorder, guidance, scheduler, lambda z, t: model(z, t, cond),
                         [torch.as_tensor(b, dtype=torch.float32) for b in phrase_boxes], grid,
                         stop_after=len(handle.names))  # guidance forwards stop after the last guided block
        latents = sample(scheduler, latents, denoise, guide)
    frames = to_frames(latents[0])
    return Sample(frames=frames, phrase_maps=guide.mean_maps(), history=guide.history,
                  seconds=time.perf_counter() - start)
