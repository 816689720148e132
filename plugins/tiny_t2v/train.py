"""Train tiny-t2v from a seed: procedural clips -> DDPM epsilon loss (Mojito eq. 10.8) with c_L = [c_T ; c_M ; c_M].

`train(TrainConfig(...), out_dir)` renders the clips (data.py), encodes the captions with the frozen MiniLM
(text.py) and trains `TinyVideoDiT`, keeping an EMA of the weights, which is what is saved. The caption is
dropped (empty prompt) with `p_drop_text` for classifier-free guidance, and the intensity level with
`p_drop_level` (level 0), which is the without-MIM condition the benchmark compares against. Augmentation:
horizontal flips and time reversal (captions carry no direction, levels are unchanged by either).
Safe checkpoints go to `<out>/partial/` every `save_every` steps; the final EMA checkpoint (config.json,
model.safetensors, training.json with the data seed and losses) is written to `<out>/` at the end.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from plugins.tiny_t2v.model import TinyT2VConfig
from worldsim.stages import SettingsModel

TRAINING_NAME = "training.json"


class TrainConfig(SettingsModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the data (clip specs, renders) and of training")
    steps: int = Field(4000, ge=1, le=1_000_000, description="optimiser steps")
    clips: int = Field(800, ge=1, le=100_000, description="procedural training clips")
    batch: int = Field(8, ge=1, le=1024)
    lr: float = Field(1e-3, gt=0, le=1)
    warmup: int = Field(100, ge=0, le=1_000_000)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="after warmup: constant, or cosine "
                                                       "decay to min_lr_ratio * lr at the last step")
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    ema: float = Field(0.998, ge=0, lt=1)
    p_drop_text: float = Field(0.1, ge=0, le=1)
    p_drop_level: float = Field(0.15, ge=0, le=1)
    snr_gamma: float | None = Field(5.0, gt=0, le=1000, description="Min-SNR loss weighting gamma (None: plain MSE)")
    threads: int = Field(1, ge=1, le=64, description="torch threads (1: several threads on a busy machine are far slower)")
    save_every: int = Field(200, ge=1, le=1_000_000)
    model: TinyT2VConfig = Field(default_factory=lambda: TinyT2VConfig(num_frames=8, size=32, patch=4, dim=96, depth=4, heads=4,
                                                                           prediction_type="v_prediction", out_conv=True))


def scheduler_for(config: TinyT2VConfig):
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=config.train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type=config.prediction_type, clip_sample=False)


def to_model_space(frames):
    """uint8 [B,T,H,W,3] (numpy or tensor) -> float [B,3,T,H,W] in [-1, 1]."""
    import torch

    x = torch.as_tensor(frames).float() / 127.5 - 1
    return x.permute(0, 4, 1, 2, 3).contiguous()


def to_frames(x):
    """float [3,T,H,W] in [-1, 1] -> uint8 numpy [T,H,W,3]."""
    import torch

    return ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 3, 0).numpy()


class Batches:
    """Seeded batch sampler over a dataset dict (data.build_dataset), with drops and augmentation."""

    def __init__(self, data: dict, cfg: TrainConfig, generator):
        from plugins.tiny_t2v.text import token_states

        self.cfg, self.g = cfg, generator
        self.frames = to_model_space(data["frames"])  # [N,3,T,H,W]
        self.text = token_states(data["captions"], cfg.model.text_tokens)  # [N,L,C]
        self.null_text = token_states([""], cfg.model.text_tokens)[0]
        import torch

        self.levels = torch.as_tensor(data["levels"], dtype=torch.long)

    def sample(self):
        import torch

        n, b, g = len(self.frames), self.cfg.batch, self.g
        idx = torch.randint(0, n, (b,), generator=g)
        x = self.frames[idx].clone()
        flip = torch.rand(b, generator=g) < 0.5
        x[flip] = x[flip].flip(-1)
        rev = torch.rand(b, generator=g) < 0.5
        x[rev] = x[rev].flip(2)
        text = self.text[idx].clone()
        text[torch.rand(b, generator=g) < self.cfg.p_drop_text] = self.null_text
        level = self.levels[idx].clone()
        level[torch.rand(b, generator=g) < self.cfg.p_drop_level] = 0
        return x, text, level


def diffusion_loss(model, scheduler, x, text, level, generator, snr_gamma: float | None = 5.0):
    """Eq. 10.8 with the model's target (epsilon or v), weighted per timestep by min(SNR, gamma) (Min-SNR),
    which keeps the nearly-clean steps from dominating a short training run."""
    import torch

    noise = torch.randn(x.shape, generator=generator)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (x.shape[0],), generator=generator)
    noisy = scheduler.add_noise(x, noise, t)
    pred = model(noisy, t, model.context(text, level))
    if model.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(x, noise, t)
    else:
        target = noise
    per_sample = (pred - target).pow(2).flatten(1).mean(1)
    if snr_gamma:
        abar = scheduler.alphas_cumprod[t].float()
        snr = abar / (1 - abar)
        weight = snr.clamp(max=snr_gamma) / (snr + 1 if model.config.prediction_type == "v_prediction" else snr)
        per_sample = per_sample * weight
    return per_sample.mean()


def evaluate_loss(model, batches: Batches, seed: int, repeats: int = 4) -> float:
    """Mean loss on fixed (seeded) noise, timesteps and clips: comparable before and after training."""
    import torch

    g = torch.Generator().manual_seed(seed)
    scheduler = scheduler_for(model.config)
    saved = batches.g
    batches.g = g
    try:
        with torch.no_grad():
            return float(sum(diffusion_loss(model, scheduler, *batches.sample(), g) for _ in range(repeats)) / repeats)
    finally:
        batches.g = saved


def _summary(cfg: TrainConfig, steps_done: int, data: dict, data_s: float, wall_s: float, losses: list) -> dict:
    import numpy as np
    import torch

    levels, counts = np.unique(data["levels"], return_counts=True)
    return {
        "train_config": cfg.model_dump(), "steps_done": steps_done,
        # A partial checkpoint of a cosine run is not the end of a shorter run: name the whole run.
        "reproduce": (f"worldsim train tiny-t2v --seed {cfg.seed} --steps {cfg.steps} --clips {cfg.clips}"
                      + ("" if steps_done == cfg.steps else f" (this is its step {steps_done})")),
        "data_seed": cfg.seed, "clips": len(data["captions"]), "captions_unique": len(set(data["captions"])),
        "level_histogram": {int(k): int(v) for k, v in zip(levels, counts)},
        "data_seconds": round(data_s, 1), "wall_seconds": round(wall_s, 1), "threads": cfg.threads,
        "losses": losses, "torch": torch.__version__,
    }


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warmup, then constant or cosine decay. With 'constant' (and the EMA decay, which does not depend
    on the total) the safe checkpoint of step N equals the final checkpoint of a run with steps=N."""
    warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
    if cfg.lr_schedule == "constant" or step < cfg.warmup:
        return cfg.lr * warm
    progress = (step - cfg.warmup) / max(cfg.steps - 1 - cfg.warmup, 1)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def train(cfg: TrainConfig, out_dir: Path, data: dict | None = None, progress: bool = True, log=print):
    """Train and write the checkpoint to out_dir; returns (ema model, summary dict)."""
    import torch

    from plugins.tiny_t2v.data import build_dataset
    from plugins.tiny_t2v.model import TinyVideoDiT
    from worldsim.artifacts import atomic_write_text

    torch.set_num_threads(cfg.threads)
    out_dir = Path(out_dir)
    start = time.time()
    m = cfg.model
    if data is None:
        data = build_dataset(cfg.clips, cfg.seed, m.num_frames, m.size, progress=progress)
    data_s = time.time() - start
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    batches = Batches(data, cfg, g)
    model = TinyVideoDiT(m).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    scheduler = scheduler_for(m)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    losses, window = [], []
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        loss = diffusion_loss(model, scheduler, *batches.sample(), g, cfg.snr_gamma)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.lerp_(p, 1 - decay)
        window.append(float(loss.detach()))
        if len(window) == 50 or step == cfg.steps - 1:
            losses.append({"step": step + 1, "loss": sum(window) / len(window)})
            window = []
            if progress:
                log(f"tiny-t2v: step {step + 1}/{cfg.steps} loss {losses[-1]['loss']:.4f} ({time.time() - start:.0f} s)")
        if (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            ema.save(out_dir / "partial")
            summary = _summary(cfg, step + 1, data, data_s, time.time() - start, losses)
            atomic_write_text(out_dir / "partial" / TRAINING_NAME, json.dumps(summary, indent=1) + "\n")
    summary = _summary(cfg, cfg.steps, data, data_s, time.time() - start, losses)
    ema.save(out_dir)
    atomic_write_text(out_dir / TRAINING_NAME, json.dumps(summary, indent=1) + "\n")
    shutil.rmtree(out_dir / "partial", ignore_errors=True)
    return ema, summary
