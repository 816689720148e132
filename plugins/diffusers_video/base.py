"""Shared base of the diffusers video generators: loading options, prompt/phrases, guided sampling, artifacts.

A backend subclasses `DiffusersVideoGenerator` (and `DiffusersVideoConfig` for its defaults) and fills in:

- `pipeline_class` (diffusers class name), `mode` ("cross" | "joint-video-text"), `layout`
  ("frames-in-batch" | "tokens"), `load(cfg, dtype)` when loading needs more than `from_pretrained`;
- `denoiser(pipe)`, `default_layers(denoiser, settings) -> list[str]` (attention-module names);
- `prepare(pipe, cfg, generator, device) -> Prepared` (initial noisy latents z_T, the recorder's
  (frames, height, width) grid, the conditional forward fn(z, t, cond) with grad, and the pipeline's
  `latents=` argument for a given z_T);
- `encode(pipe, prompt, negative, do_cfg, device) -> (cond, uncond)` and `pipeline_kwargs(...)`.

`run(plan, seed, out_dir)` then does, for every backend: prompt and object phrases (colour + noun per
plan object), checks (guidance settings, phrase tokens via offsets, layer selection) before sampling,
DMC guidance on the first K steps through `callback_on_step_end`, the MP4, `attention.safetensors`
('maps' [K, T, h, w] float32 per planned instance in plan_tracks order, each frame summing to 1) and
`generation.json` (prompt, phrases, token indices, layers, guidance history, attention-in-box fractions).

Helpers for other backends: `block_band(n, band) -> range`, `prefix_filter(prefixes)`,
`plan_prompt(plan, override) -> (prompt, phrases)`, `resolve_dtype(name)`, `resolve_device(name)`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

from pydantic import Field

from worldsim.dmc.guidance import GuidanceSettings
from worldsim.errors import ConfigError, InputError, MissingDependencyError
from worldsim.stages import Generator, StageConfig
from worldsim.types import GeneratedVideo, Plan


class DiffusersVideoConfig(StageConfig):
    model: str = Field(description="diffusers pipeline: Hugging Face model id or local folder (save_pretrained layout)")
    revision: str | None = Field(None, description="model revision (branch, tag or commit) on the Hub")
    local_files_only: bool = Field(False, description="never touch the network; load from the local cache or folder only")
    dtype: Literal["float32", "float16", "bfloat16"] = Field("float32", description="weights and activations dtype")
    device: str = Field("auto", description="torch device: auto (cuda when available), cpu, cuda, cuda:1, ...")
    cpu_offload: Literal["none", "model", "sequential"] = Field("none", description="accelerate CPU offload of the pipeline")
    vae_tiling: bool = Field(False, description="decode the video with VAE tiling (less memory)")
    gradient_checkpointing: bool = Field(False, description="recompute activations in the guidance backward pass (less memory)")
    num_inference_steps: int = Field(25, ge=1, le=1000, description="denoising steps")
    guidance_scale: float = Field(7.5, ge=0, le=100, description="classifier-free guidance scale (CFG; <= 1 disables it; at most 100)")
    negative_prompt: str = Field("", description="negative prompt for CFG")
    prompt: str | None = Field(None, description="prompt sent to the model; None = the plan's text when it names "
                               "every object phrase, else a caption built from the plan")
    height: int = Field(256, ge=16, le=2048, multiple_of=8, description="frame height in pixels")
    width: int = Field(256, ge=16, le=2048, multiple_of=8, description="frame width in pixels")
    num_frames: int = Field(16, ge=1, le=256, description="frames in the clip")
    fps: int = Field(8, ge=1, le=120, description="frames per second of video.mp4")
    guidance: GuidanceSettings = Field(default_factory=GuidanceSettings, description="Directional Motion Control")


@dataclass
class Prepared:
    latents: Any  # z_T as the scheduler sees it (init_noise_sigma applied)
    grid: tuple[int, int, int]  # (frames, height, width) of the recorder's finest map grid
    forward: Callable  # forward(z, t, cond) -> model output, conditional branch only, grad enabled by caller
    pipeline_latents: Callable  # z_T -> the value of the pipeline's `latents=` argument


def resolve_dtype(name: str):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: CUDA is not available here; accepted: auto, cpu")
    return name


def block_band(n: int, band: tuple[float, float]) -> range:
    """Indices of the transformer blocks in the fraction range `band` of `n` blocks (at least one)."""
    lo = min(int(math.floor(band[0] * n)), n - 1)
    hi = max(lo + 1, min(n, int(math.ceil(band[1] * n))))
    return range(lo, hi)


def prefix_filter(prefixes: list[str]) -> Callable[[str, object], bool]:
    """Module-name prefix match on dotted boundaries ('up_blocks.1' matches 'up_blocks.1.x', not 'up_blocks.10')."""
    prefixes = [p.rstrip(".") for p in prefixes]
    return lambda name, module: any(name == p or name.startswith(p + ".") for p in prefixes)


def object_phrase(color: str | None, name: str) -> str:
    return f"{color} {name}" if color else name


def plan_prompt(plan: Plan, override: str | None = None) -> tuple[str, list[str]]:
    """(prompt, object phrases): phrases are colour + noun of each plan object, in plan order, deduplicated."""
    from worldsim.objects import plural_of

    phrases = list(dict.fromkeys(object_phrase(o.color, o.name) for o in plan.objects))
    if not phrases:
        raise InputError("plan has no objects; the diffusers generators need at least one object phrase")
    if override is not None:
        return override, phrases
    text = plan.text or ""
    import re

    if text and all(re.search(r"(?<!\w)" + re.escape(p), text, re.IGNORECASE) for p in phrases):
        return text, phrases
    words = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five"}
    parts = []
    for o in plan.objects:
        noun = o.name if o.count == 1 else plural_of(o.name)
        parts.append(f"{words.get(o.count, str(o.count))} {o.color + ' ' if o.color else ''}{noun}")
    caption = " and ".join(parts)
    if plan.motion.direction != "none":
        caption += f" moving {plan.motion.direction.replace('-', ' and ')}"
    if plan.scene:
        caption += f", {plan.scene}"
    return caption, phrases


class DiffusersVideoGenerator(Generator):
    """Base stage; see the module docstring. Not registered itself."""

    Config = DiffusersVideoConfig
    pipeline_class: ClassVar[str]
    mode: ClassVar[str] = "cross"
    layout: ClassVar[str] = "frames-in-batch"

    def __init__(self, config=None):
        super().__init__(config)
        self._pipe = None

    # ---- backend hooks -------------------------------------------------------------------------
    def load(self, cfg, dtype):
        import diffusers

        cls = getattr(diffusers, self.pipeline_class)
        return cls.from_pretrained(cfg.model, dtype=dtype, revision=cfg.revision,
                                   local_files_only=cfg.local_files_only)

    def denoiser(self, pipe):  # pragma: no cover - interface
        raise NotImplementedError

    def default_layers(self, denoiser, settings: GuidanceSettings) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def encode(self, pipe, prompt: str, negative: str, do_cfg: bool, device):  # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, pipe, cfg, generator, device, cond) -> Prepared:  # pragma: no cover - interface
        raise NotImplementedError

    def pipeline_kwargs(self, cfg) -> dict:
        return {}

    def check_size(self, cfg) -> None:
        """Raise ConfigError for sizes the backbone cannot take (before loading)."""

    # ---- shared --------------------------------------------------------------------------------
    def pipeline(self):
        if self._pipe is None:
            try:
                import diffusers  # noqa: F401
            except ImportError:
                raise MissingDependencyError("diffusers", f"generator '{self.name}'") from None
            cfg = self.config
            try:
                pipe = self.load(cfg, resolve_dtype(cfg.dtype))
            except (OSError, ValueError) as exc:
                raise InputError(f"generator '{self.name}': cannot load model={cfg.model!r}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            if cfg.cpu_offload == "model":
                pipe.enable_model_cpu_offload()
            elif cfg.cpu_offload == "sequential":
                pipe.enable_sequential_cpu_offload()
            else:
                pipe.to(resolve_device(cfg.device))
            if cfg.vae_tiling and hasattr(pipe, "vae") and hasattr(pipe.vae, "enable_tiling"):
                pipe.vae.enable_tiling()
            den = self.denoiser(pipe)
            den.requires_grad_(False)
            if cfg.gradient_checkpointing and hasattr(den, "enable_gradient_checkpointing"):
                den.enable_gradient_checkpointing()
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe
        return self._pipe

    def guided_layers(self, denoiser, settings: GuidanceSettings) -> list[str]:
        from worldsim.dmc.attention import attention_modules, is_cross

        modules = attention_modules(denoiser)
        wanted = lambda m: is_cross(m) if self.mode == "cross" else True
        candidates = [n for n, m in modules if wanted(m)]
        if settings.layers is None:
            names = self.default_layers(denoiser, settings)
        else:
            keep = prefix_filter(settings.layers)
            names = [n for n in candidates if keep(n, None)]
        if not names:
            shown = ", ".join(candidates[:8]) + (", ..." if len(candidates) > 8 else "")
            raise ConfigError(f"guidance.layers={settings.layers!r} selects no {self.mode} attention layer of "
                              f"{type(denoiser).__name__}; available: {shown}")
        return names

    def run(self, plan: Plan, seed: int, out_dir: Path) -> GeneratedVideo:
        import numpy as np
        import torch

        from worldsim.dmc.attention import AttentionRecorder, install_recorders, phrase_token_indices
        from worldsim.dmc.guidance import DMCGuide, box_masks
        from worldsim.planning import plan_tracks

        cfg = self.config
        settings: GuidanceSettings = cfg.guidance
        out_dir = Path(out_dir)
        if plan.mode != "generate":
            raise InputError(f"generator '{self.name}' takes generate plans, got mode={plan.mode!r}")
        prompt, phrases = plan_prompt(plan, cfg.prompt)
        settings.validate_for(cfg.num_inference_steps, prompt, phrases)
        self.check_size(cfg)

        tracks = plan_tracks(plan, cfg.num_frames)
        phrase_of_object = [phrases.index(object_phrase(o.color, o.name)) for o in plan.objects]
        instance_phrase = [phrase_of_object[tr.object_index] for tr in tracks]
        instance_boxes = torch.tensor([tr.track.boxes for tr in tracks], dtype=torch.float32)  # [K, T, 4]
        phrase_boxes = [instance_boxes[[k for k, p in enumerate(instance_phrase) if p == q]] for q in range(len(phrases))]

        pipe = self.pipeline()
        text_len = getattr(cfg, "max_sequence_length", None)
        groups = [phrase_token_indices(pipe.tokenizer, prompt, p, text_len) for p in phrases]
        denoiser = self.denoiser(pipe)
        layers = self.guided_layers(denoiser, settings)
        device = pipe._execution_device
        generator = torch.Generator(device="cpu").manual_seed(seed)
        do_cfg = cfg.guidance_scale > 1.0

        recorder = AttentionRecorder(groups, self.layout)
        chosen = set(layers)
        with install_recorders(denoiser, recorder, lambda n, m: n in chosen, self.mode):
            cond, uncond = self.encode(pipe, prompt, cfg.negative_prompt, do_cfg, device)
            pipe.scheduler.set_timesteps(cfg.num_inference_steps, device=device)  # as the pipeline will
            prep = self.prepare(pipe, cfg, generator, device, cond)
            guide = DMCGuide(recorder, settings, pipe.scheduler, lambda z, t: prep.forward(z, t, cond),
                             phrase_boxes, prep.grid, stop_after=len(layers))
            latents = guide.before_step(0, pipe.scheduler.timesteps[0], prep.latents)
            kwargs = dict(prompt_embeds=cond, negative_prompt_embeds=uncond if do_cfg else None,
                          num_inference_steps=cfg.num_inference_steps, guidance_scale=cfg.guidance_scale,
                          height=cfg.height, width=cfg.width, num_frames=cfg.num_frames, generator=generator,
                          latents=prep.pipeline_latents(latents), output_type="np", callback_on_step_end=guide.callback,
                          **self.pipeline_kwargs(cfg))
            with torch.no_grad(), _unrecorded_calls_on(denoiser, recorder, uncond if do_cfg else None):
                frames = pipe(**kwargs).frames[0]
        frames = (np.clip(np.asarray(frames, dtype=np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)[: cfg.num_frames]
        if frames.shape[0] != cfg.num_frames:
            raise RuntimeError(f"generator '{self.name}': the pipeline decoded {frames.shape[0]} frames for "
                               f"num_frames={cfg.num_frames}; the VAE's temporal compression does not fit that count")

        from worldsim.artifacts import atomic_write_json
        from worldsim.io.video import write_mp4

        maps = self._instance_maps(guide.mean_maps(), instance_boxes, instance_phrase, cfg.num_frames)  # [K, T, h, w]
        h, w = maps.shape[-2:]
        in_box = [[round(float((maps[k, t] * box_masks(instance_boxes[k, t:t + 1], h, w)[0]).sum()), 6)
                   for t in range(cfg.num_frames)] for k in range(maps.shape[0])]
        out_dir.mkdir(parents=True, exist_ok=True)
        write_mp4(out_dir / "video.mp4", frames, cfg.fps)
        _save_maps(out_dir / "attention.safetensors", maps)
        atomic_write_json(out_dir / "generation.json", {
            "generator": self.name, "seed": seed, "config": cfg.model_dump(mode="json"),
            "plan": plan.model_dump(mode="json"), "prompt": prompt, "phrases": phrases, "token_indices": groups,
            "guided_layers": layers, "latent_grid": list(prep.grid), "guidance_history": guide.history,
            "instances": [{"object_index": tr.object_index, "instance": tr.instance, "phrase": phrases[p]}
                          for tr, p in zip(tracks, instance_phrase)],
            "attention": "attention.safetensors 'maps' [K,T,h,w] float32: mean over steps and guided layers of the "
                         "conditional object-token attention, per planned instance (plan_tracks order), frames sum to 1",
            "attention_in_box": in_box,
        })
        rel = lambda name: f"{out_dir.name}/{name}"
        return GeneratedVideo(video=rel("video.mp4"), fps=cfg.fps, num_frames=cfg.num_frames, width=cfg.width,
                              height=cfg.height, attention=rel("attention.safetensors"), generator=self.name)

    @staticmethod
    def _instance_maps(phrase_maps, instance_boxes, instance_phrase, num_frames):
        import torch
        import torch.nn.functional as F

        from worldsim.dmc.guidance import instance_maps

        if phrase_maps is None:
            raise RuntimeError("no attention maps were recorded during sampling")
        p, t, h, w = phrase_maps.shape
        if t != num_frames:  # latent frames -> video frames, linear in time
            x = phrase_maps.permute(0, 2, 3, 1).reshape(p, h * w, t)
            x = F.interpolate(x, size=num_frames, mode="linear", align_corners=True)
            phrase_maps = x.reshape(p, h, w, num_frames).permute(0, 3, 1, 2)
        return instance_maps(phrase_maps.float().cpu(), instance_boxes, instance_phrase).to(torch.float32)


@contextlib.contextmanager
def _unrecorded_calls_on(denoiser, recorder, text):
    """Pause `recorder` for denoiser calls whose encoder_hidden_states is `text` (the unconditional embeddings).

    Pipelines that run CFG as two separate denoiser calls (Wan, Cosmos) pass the unconditional text alone;
    without this the artifact maps would average in the unconditional branch. Batched CFG ([uncond, cond]
    in one call) never passes it alone, so those pipelines are unaffected."""
    import torch

    if text is None:
        yield
        return
    saved = []

    def is_text(x) -> bool:
        return x is text or (isinstance(x, torch.Tensor) and x.shape == text.shape and torch.equal(x.to(text.dtype), text))

    def pause(module, args, kwargs):
        saved.append(recorder.active)
        if is_text(kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)):
            recorder.active = False

    def resume(module, args, kwargs, output):
        recorder.active = saved.pop()

    hooks = [denoiser.register_forward_pre_hook(pause, with_kwargs=True),
             denoiser.register_forward_hook(resume, with_kwargs=True)]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def _save_maps(path: Path, maps) -> None:
    from safetensors.torch import save_file

    from worldsim.artifacts import atomic_path

    with atomic_path(path) as tmp:
        save_file({"maps": maps.contiguous()}, str(tmp))
