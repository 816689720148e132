"""Directional Motion Control (Mojito, thesis ch. 10.3.2): steer the object tokens' attention into per-frame boxes.

Per frame i, phrase n and guided layer gamma (eq. 10.5-10.7):

    E_i  = (1 - sum_{u in B_i} A_{i,u,n} / sum_u A_{i,u,n})^2
    T_s  = mean_{i>=2} || A_i - A_{i-1} ||^2          (A_i: the layer's raw probability map of frame i)
    z   <- z - sigma_t^2 * eta * grad_z sum_i sum_gamma (E_i + lam * T_s)

The sum over i of (E_i + lam T_s) is taken literally: sum_i E_i + T * lam * T_s. Several phrases add up.
Each layer's energy is computed at that layer's own resolution, with the boxes rasterised there.

sigma_t (`sigma_t(scheduler, timestep)`):
- schedulers with `alphas_cumprod` (DDPM/DDIM/Euler/DPM in VP form): sqrt((1 - abar_t) / abar_t).
- flow matching (`FlowMatch*` schedulers; x_t = (1 - s) x_0 + s eps): dividing by (1 - s) gives
  x_0 + s / (1 - s) eps, the same noise-to-signal ratio VP has after dividing by sqrt(abar), so
  sigma_t = s / (1 - s).
- EDM / Karras sigmas (x_t = x_0 + sigma eps, no alphas): sigma_t = sigma.
Zero-terminal-SNR schedules (CogVideoX: abar_T = 0) and flow matching (s = 1) make sigma_t infinite at
the first step; the update uses min(sigma_t, settings.max_sigma) (default 15, about Stable Diffusion's
sigma_t at t = T).
Note: with this eq. 10.7 scaling the high-noise (early) steps get the largest steps in z; the thesis
text says the opposite in words, the equation is what is implemented.

API (stable; other backends import it):

- `GuidanceSettings` (pydantic): enabled, eta >= 0, lam >= 0, steps K (guided denoising steps, first K),
  iterations (gradient updates per guided step), max_sigma (cap on sigma_t), layers (module-name prefixes, None = backend default),
  band (DiT default: fraction range of transformer blocks). `validate_for(num_inference_steps, prompt,
  phrases)` raises ConfigError / InputError naming the setting before any sampling.
- `box_masks(boxes, h, w) -> Tensor [T, h, w]`: boxes [T, 4] or [n, T, 4] normalised xyxy (union over n).
- `resample_boxes(boxes [T, 4] or [n, T, 4], frames) -> same with `frames` frames` (latent frames).
- `dmc_energy(maps [T, h, w], masks [T, h, w], lam) -> (total, E [T], T_s)`.
- `recorder_energy(recorder, phrase_boxes, frames, height, width, lam, batch_index=-1) -> total`: sum over
  layers and phrases; phrase_boxes: one [n, T, 4] tensor per recorder token group.
- `sigma_t(scheduler, timestep) -> float`.
- `guide_latents(latents, forward_fn, recorder, phrase_boxes, grid, sigma, settings) -> (latents, energy_before)`:
  `forward_fn(z)` runs the denoiser on z (grad enabled) for the conditional prompt only, so the recorder
  fills (a `StopForward` from the recorder, see `stop_after`, ends it early and is caught here); grid = (frames, height, width) of the latent/token grid handed to `recorder.maps_for`.
- `DMCGuide`: drives guidance and attention-artifact collection through a diffusers pipeline's
  `callback_on_step_end` (`guide.callback`), or through `sample(...)` for hand-written loops:
  `before_step(i, t, latents) -> latents` guides while i < K; `after_step()` harvests the step's
  conditional maps into the running mean (`mean_maps()` -> [P, T, h, w]); `history` keeps sigma_t and the
  energy of every guided step (before the update; after it too with measure_after=True).
- `sample(scheduler, latents, denoise_fn, guide=None, step_kwargs=None)`: generic loop, guide then
  denoise, step by step.
- `instance_maps(phrase_maps [P, T, h, w], tracks_boxes [K, T, 4], instance_phrase [K]) -> [K, T, h, w]`:
  splits a phrase's map among its instances (each pixel to the nearest box centre of that phrase),
  each frame renormalised to sum 1 (uniform when a frame has no mass).
"""

from __future__ import annotations

from typing import Annotated, Callable

from pydantic import ConfigDict, Field, model_validator

from worldsim.errors import ConfigError, InputError
from worldsim.stages import SettingsModel

Fraction = Annotated[float, Field(ge=0, le=1)]


class GuidanceSettings(SettingsModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="apply Directional Motion Control; off still records the attention maps")
    eta: float = Field(100.0, ge=0, le=10_000, description="guidance strength eta (Mojito's best: 100; at most 10000)")
    lam: float = Field(0.1, ge=0, le=100, description="weight lambda of the temporal smoothness term T_s (0..100)")
    steps: int = Field(10, ge=0, le=1000, description="guide the first K denoising steps (K <= num_inference_steps <= 1000)")
    iterations: int = Field(1, ge=1, le=50, description="gradient updates of the latents per guided step")
    max_sigma: float = Field(15.0, gt=0, le=10_000, description="cap on sigma_t (infinite at the first step of zero-SNR and "
                             "flow-matching schedules); 15 is about Stable Diffusion's sigma_t at t = T")
    layers: list[str] | None = Field(None, description="attention-module name prefixes to guide; None = the backend "
                                     "default (UNet: mid block and first up blocks; DiT: the middle band of blocks)")
    band: tuple[Fraction, Fraction] = Field((0.3, 0.6), description="DiT default layers: this fraction range of the transformer blocks")

    @model_validator(mode="after")
    def _band_ordered(self) -> "GuidanceSettings":
        lo, hi = self.band
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"band {self.band} must satisfy 0 <= start < end <= 1")
        return self

    def validate_for(self, num_inference_steps: int, prompt: str, phrases: list[str]) -> None:
        import re

        if self.eta < 0:
            raise ConfigError(f"guidance.eta={self.eta}: must be >= 0")
        if self.enabled and self.steps > num_inference_steps:
            raise ConfigError(f"guidance.steps={self.steps} exceeds num_inference_steps={num_inference_steps}; "
                              f"accepted 0..{num_inference_steps}")
        for phrase in phrases:
            if not phrase.strip() or not re.search(r"(?<!\w)" + re.escape(phrase.strip()), prompt, re.IGNORECASE):
                raise InputError(f"object phrase {phrase!r} does not occur in the prompt {prompt!r}")


def box_masks(boxes, h: int, w: int):
    """Binary masks [T, h, w] float of normalised xyxy boxes ([T, 4], or [n, T, 4] unioned over n).

    A cell is inside when its centre is; a box smaller than one cell still marks the cell holding its centre.
    """
    import torch

    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    if boxes.ndim == 2:
        boxes = boxes[None]
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    x0, y0, x1, y1 = (boxes[..., k, None, None] for k in range(4))  # [n, T, 1, 1]
    inside = (xs >= x0) & (xs <= x1) & (ys[:, None] >= y0) & (ys[:, None] <= y1)  # [n, T, h, w]
    cx = ((x0 + x1) / 2 * w).floor().clamp(0, w - 1).long()
    cy = ((y0 + y1) / 2 * h).floor().clamp(0, h - 1).long()
    centre = (torch.arange(w) == cx) & (torch.arange(h)[:, None] == cy)
    return (inside | centre).any(0).float()


def resample_boxes(boxes, frames: int):
    """Boxes [.., T, 4] -> [.., frames, 4]: linear interpolation over normalised time (latent frames)."""
    import torch

    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    t = boxes.shape[-2]
    if t == frames:
        return boxes
    pos = torch.linspace(0, t - 1, frames)
    lo = pos.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    wgt = (pos - lo)[:, None]
    return boxes[..., lo, :] * (1 - wgt) + boxes[..., hi, :] * wgt


def dmc_energy(maps, masks, lam: float):
    """maps [T, h, w] (one phrase, one layer), masks [T, h, w] -> (total, E [T], T_s)."""
    inside = (maps * masks).flatten(1).sum(-1)
    total_mass = maps.flatten(1).sum(-1).clamp_min(1e-12)
    energy = (1 - inside / total_mass) ** 2
    if maps.shape[0] > 1:
        smooth = (maps[1:] - maps[:-1]).flatten(1).pow(2).sum(-1).mean()
    else:
        smooth = maps.new_zeros(())
    return energy.sum() + maps.shape[0] * lam * smooth, energy, smooth


def recorder_energy(recorder, phrase_boxes, frames: int, height: int, width: int, lam: float, batch_index: int = -1):
    """Sum of `dmc_energy` over the recorded layers (each at its resolution) and phrases."""
    if len(phrase_boxes) != len(recorder.token_groups):
        raise ValueError(f"{len(phrase_boxes)} phrase box sets for {len(recorder.token_groups)} token groups")
    layers = recorder.layer_maps(frames, height, width, batch_index)
    if not layers:
        raise ValueError("no attention recorded: no guided layer ran during the forward pass")
    total = 0.0
    for _, m in layers:  # [T, h, w, P]
        for p, boxes in enumerate(phrase_boxes):
            masks = box_masks(resample_boxes(boxes, frames), m.shape[1], m.shape[2]).to(m.device)
            total = total + dmc_energy(m[..., p], masks, lam)[0]
    return total


def sigma_t(scheduler, timestep) -> float:
    """Noise-to-signal ratio of `timestep` for `scheduler` (see the module docstring)."""
    import torch

    t = float(timestep.item() if isinstance(timestep, torch.Tensor) else timestep)
    alphas = getattr(scheduler, "alphas_cumprod", None)
    flow = _is_flow_matching(scheduler)
    if alphas is not None and not flow:
        idx = int(round(t))
        idx = min(max(idx, 0), len(alphas) - 1)
        abar = float(alphas[idx])
        return ((1 - abar) / abar) ** 0.5 if abar > 0 else float("inf")
    sigmas, timesteps = getattr(scheduler, "sigmas", None), getattr(scheduler, "timesteps", None)
    if sigmas is None or timesteps is None:
        raise ConfigError(f"scheduler {type(scheduler).__name__} has neither alphas_cumprod nor sigmas; "
                          "Directional Motion Control cannot scale its update")
    idx = int(torch.argmin((torch.as_tensor(timesteps, dtype=torch.float64) - t).abs()))
    s = float(sigmas[idx])
    if flow:
        return s / (1 - s) if s < 1 else float("inf")
    return s


def _is_flow_matching(scheduler) -> bool:
    """FlowMatch* schedulers, and multistep ones run on flow sigmas (Wan's UniPC: use_flow_sigmas, flow_prediction)."""
    config = getattr(scheduler, "config", {})
    return ("FlowMatch" in type(scheduler).__name__ or bool(config.get("use_flow_sigmas", False))
            or config.get("prediction_type") == "flow_prediction")


def guide_latents(latents, forward_fn: Callable, recorder, phrase_boxes, grid: tuple[int, int, int], sigma: float,
                  settings: GuidanceSettings, batch_index: int = -1):
    """`settings.iterations` updates z <- z - sigma^2 eta grad E; returns (latents, energy before the first)."""
    import torch

    from worldsim.dmc.attention import StopForward

    energy_before = None
    frames, height, width = grid
    stop_after = recorder.stop_after
    for _ in range(settings.iterations):
        z = latents.detach().requires_grad_(True)
        recorder.stop_after = stop_after
        with torch.enable_grad(), recorder.recording():
            try:
                forward_fn(z)
            except StopForward:
                pass
            energy = recorder_energy(recorder, phrase_boxes, frames, height, width, settings.lam, batch_index)
            # Gradient checkpointing re-runs the blocks in backward and needs the same ops as the forward:
            # keep recording (the extra maps are dropped below), never stop there.
            recorder.stop_after = None
            grad, = torch.autograd.grad(energy, z)
        recorder.reset()
        if energy_before is None:
            energy_before = float(energy.detach())
        latents = (z - (sigma ** 2) * settings.eta * grad.to(z.dtype)).detach()
    recorder.stop_after = stop_after
    return latents, energy_before


class DMCGuide:
    """Guidance + attention-map collection for one sampling run.

    forward_fn(z, t): conditional denoiser forward on z at timestep t (the recorder's wrapped layers run).
    phrase_boxes: one [n, T, 4] normalised xyxy tensor per recorder token group (pixel frames; resampled).
    grid: (frames, height, width) of the latent/token grid. measure_after: one more forward per guided step
    to log the energy after the update. stop_after: the number of guided layers; the guidance forwards
    stop after the last of them (None runs the whole denoiser).
    """

    def __init__(self, recorder, settings: GuidanceSettings, scheduler, forward_fn: Callable, phrase_boxes,
                 grid: tuple[int, int, int], collect_maps: bool = True, measure_after: bool = False,
                 stop_after: int | None = None):
        self.recorder, self.settings, self.scheduler = recorder, settings, scheduler
        self.measure_after, self.stop_after = measure_after, stop_after
        self.forward_fn, self.phrase_boxes, self.grid = forward_fn, phrase_boxes, grid
        self.collect_maps = collect_maps
        self.history: list[dict] = []
        self._sum = None
        self._count = 0

    def guiding(self, i: int) -> bool:
        return self.settings.enabled and self.settings.eta > 0 and i < self.settings.steps

    def before_step(self, i: int, t, latents):
        """Guide z_t before denoising step i (no-op after the first K steps)."""
        if not self.guiding(i):
            self.recorder.active = self.collect_maps
            return latents
        sigma = min(sigma_t(self.scheduler, t), self.settings.max_sigma)
        self.recorder.stop_after = self.stop_after
        try:
            latents, before = guide_latents(latents, lambda z: self.forward_fn(z, t), self.recorder,
                                            self.phrase_boxes, self.grid, sigma, self.settings)
        finally:
            self.recorder.stop_after = None
        record = {"step": i, "timestep": float(t), "sigma_t": sigma, "energy_before": before}
        if self.measure_after:
            record["energy_after"] = self.energy(latents, t)
        self.history.append(record)
        self.recorder.reset()
        self.recorder.active = self.collect_maps  # the pipeline's own forward of this step fills the artifact maps
        return latents

    def energy(self, latents, t) -> float:
        """DMC energy of `latents` at `t` (no update)."""
        import torch

        from worldsim.dmc.attention import StopForward

        frames, height, width = self.grid
        self.recorder.stop_after = self.stop_after
        with torch.no_grad(), self.recorder.recording():
            try:
                self.forward_fn(latents, t)
            except StopForward:
                pass
            finally:
                self.recorder.stop_after = None
            e = recorder_energy(self.recorder, self.phrase_boxes, frames, height, width, self.settings.lam)
        self.recorder.reset()
        return float(e)

    def after_step(self) -> None:
        """Fold the maps the step's forward recorded (conditional sample) into the running mean."""
        import torch

        if self.collect_maps and self.recorder.entries:
            frames, height, width = self.grid
            with torch.no_grad():
                m = self.recorder.maps_for(frames, height, width).detach().float().mean(0)  # [T, h, w, P]
            self._sum = m if self._sum is None else self._sum + m
            self._count += 1
        self.recorder.reset()
        self.recorder.active = False

    def mean_maps(self):
        """[P, T, h, w] mean over steps and layers of the conditional phrase attention, or None."""
        if self._sum is None:
            return None
        return (self._sum / self._count).permute(3, 0, 1, 2).contiguous()

    def callback(self, pipe, i: int, t, callback_kwargs: dict) -> dict:
        """diffusers `callback_on_step_end`: harvest step i, then guide the latents of step i + 1."""
        self.after_step()
        timesteps = pipe.scheduler.timesteps
        if i + 1 < len(timesteps):
            callback_kwargs["latents"] = self.before_step(i + 1, timesteps[i + 1], callback_kwargs["latents"])
        return callback_kwargs


def sample(scheduler, latents, denoise_fn: Callable, guide: DMCGuide | None = None, step_kwargs: dict | None = None):
    """Generic loop over `scheduler.timesteps`: guide (first K steps), denoise_fn(latents, t) -> model output, step."""
    import torch

    for i, t in enumerate(scheduler.timesteps):
        if guide is not None:
            latents = guide.before_step(i, t, latents)
        with torch.no_grad():
            out = denoise_fn(latents, t)
        if guide is not None:
            guide.after_step()
        latents = scheduler.step(out, t, latents, **(step_kwargs or {})).prev_sample
    return latents


def instance_maps(phrase_maps, instance_boxes, instance_phrase: list[int]):
    """[P, T, h, w] phrase maps -> [K, T, h, w] per planned instance, each frame summing to 1."""
    import torch

    p, t, h, w = phrase_maps.shape
    boxes = resample_boxes(instance_boxes, t)  # [K, T, 4]
    k = boxes.shape[0]
    if len(instance_phrase) != k:
        raise ValueError(f"{len(instance_phrase)} instance phrases for {k} instance tracks")
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    cx = (boxes[..., 0] + boxes[..., 2]) / 2
    cy = (boxes[..., 1] + boxes[..., 3]) / 2
    dist = (xs - cx[..., None, None]) ** 2 + (ys[:, None] - cy[..., None, None]) ** 2  # [K, T, h, w]
    out = torch.zeros(k, t, h, w)
    for j in range(k):
        same = [q for q in range(k) if instance_phrase[q] == instance_phrase[j]]
        nearest = torch.stack([dist[q] for q in same]).argmin(0)
        own = (nearest == same.index(j)).float()
        m = phrase_maps[instance_phrase[j]].float() * own
        mass = m.flatten(1).sum(-1)
        m = torch.where(mass[:, None, None] > 0, m / mass.clamp_min(1e-20)[:, None, None], torch.full_like(m, 1 / (h * w)))
        out[j] = m
    return out
