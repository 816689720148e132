"""`tiny-t2v` generator: the project's self-trained tiny text-to-video model, with Mojito's directional motion
control (training-free, on the object tokens' cross-attention) and motion intensity modulator.

The prompt given to the model is built from the plan in the training captions' form ("one red car on sand"):
the planned direction and speed never reach the text. Direction comes only from guidance along the planned
boxes (worldsim.planning.plan_tracks); intensity from the MIM level (auto: the level the plan's speed should
measure, worldsim.motion.speed_level).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from worldsim.dmc.guidance import GuidanceSettings
from worldsim.stages import Generator, StageConfig
from worldsim.types import GeneratedVideo, Plan

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


class TinyT2VGeneratorConfig(StageConfig):
    checkpoint: str | None = Field(None, description="checkpoint folder (config.json + model.safetensors); None = the shipped one")
    steps: int = Field(20, ge=1, le=1000, description="DDIM sampling steps")
    cfg_scale: float = Field(3.0, ge=1.0, le=20.0, description="classifier-free guidance scale (1 = off)")
    intensity: Annotated[int, Field(ge=0, le=10)] | Literal["auto"] = Field("auto", description="motion intensity level 1..10, 0 = no intensity "
                                             "condition, or 'auto' (from the plan's speed)")
    guidance: GuidanceSettings = Field(default_factory=lambda: GuidanceSettings(eta=1.0, lam=0.0, steps=1, iterations=14),
                                       description="directional motion control (Mojito eq. 10.5-10.7)")
    fps: int = Field(8, ge=1, le=60, description="frames per second of video.mp4")
    upscale: int = Field(4, ge=1, le=16, description="nearest-neighbour upscaling of video.mp4 (the model makes 32x32)")
    torch_threads: int | None = Field(1, ge=1, le=256, description="torch threads while sampling (restored after); the "
                                      "model is small, and several threads on a busy CPU are much slower; None = unchanged")

    @field_validator("intensity")
    @classmethod
    def _level(cls, v):
        if v != "auto" and not 0 <= v <= 10:
            raise ValueError("accepted: 'auto', 1..10, or 0 for no intensity condition")
        return v


def plan_prompt(plan: Plan) -> tuple[str, list[str]]:
    """(prompt in the training captions' form, one object phrase per plan object)."""
    from plugins.tiny_t2v.data import phrase
    from worldsim.objects import plural_of

    parts, phrases = [], []
    for obj in plan.objects:
        noun = obj.name if obj.count == 1 else plural_of(obj.name)
        parts.append(f"{NUMBER_WORDS.get(obj.count, str(obj.count))} {obj.color + ' ' if obj.color else ''}{noun}")
        phrases.append(phrase(obj.color, noun))
    prompt = " and ".join(parts)
    if plan.scene and plan.scene.strip():
        from plugins.tiny_t2v.data import SCENES

        words = [w for w in plan.scene.lower().split() if w in SCENES]
        if words:
            prompt += f" on {words[0]}"
    return prompt, phrases


class TinyT2VGenerator(Generator):
    name = "tiny-t2v"
    description = "Self-trained tiny text-to-video diffusion (32x32, 8 frames) with Mojito direction guidance and intensity; offline CPU"
    Config = TinyT2VGeneratorConfig

    def run(self, plan: Plan, seed: int, out_dir: Path) -> GeneratedVideo:
        import numpy as np
        import torch

        from plugins.tiny_t2v.mim import check_level, plan_level
        from plugins.tiny_t2v.sampling import load_model, generate_clip
        from worldsim.artifacts import atomic_path, atomic_write_json
        from worldsim.errors import InputError
        from worldsim.io.video import write_mp4
        from worldsim.planning import plan_tracks

        from worldsim.dmc.guidance import instance_maps

        cfg: TinyT2VGeneratorConfig = self.config
        if plan.mode != "generate" or not plan.objects:
            raise InputError(f"tiny-t2v generates from a 'generate' plan with objects; got mode {plan.mode!r} "
                             f"with {len(plan.objects)} objects")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        prompt, phrases = plan_prompt(plan)
        cfg.guidance.validate_for(cfg.steps, prompt, phrases)
        model = load_model(cfg.checkpoint)
        c = model.config
        level = plan_level(plan, c.num_frames, c.size, c.size) if cfg.intensity == "auto" else check_level(cfg.intensity)
        tracks = plan_tracks(plan, c.num_frames)
        boxes = torch.tensor([t.track.boxes for t in tracks], dtype=torch.float32)  # [K,T,4]
        owner = [t.object_index for t in tracks]
        phrase_boxes = [boxes[[k for k, o in enumerate(owner) if o == i]] for i in range(len(plan.objects))]
        threads = torch.get_num_threads()
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        try:
            result = generate_clip(model, prompt, phrases, phrase_boxes, level, seed, cfg.steps, cfg.guidance, cfg.cfg_scale)
        finally:
            torch.set_num_threads(threads)

        maps = instance_maps(result.phrase_maps, boxes, owner).float().contiguous()  # [K,T,h,w], frames sum to 1
        from safetensors.torch import save_file

        with atomic_path(out_dir / "attention.safetensors") as tmp:
            save_file({"maps": maps}, str(tmp))
        frames = result.frames
        if cfg.upscale > 1:
            frames = np.repeat(np.repeat(frames, cfg.upscale, axis=1), cfg.upscale, axis=2)
        write_mp4(out_dir / "video.mp4", frames, cfg.fps)
        atomic_write_json(out_dir / "generation.json", {
            "generator": self.name, "prompt": prompt, "phrases": phrases, "seed": seed, "intensity": level,
            "config": cfg.model_dump(), "model": c.model_dump(), "sampling_seconds": round(result.seconds, 3),
            "guidance_history": result.history,
            "planned_boxes": boxes.tolist(),
            "attention": "attention.safetensors 'maps' [K,T,h,w] float32, per planned instance (plan_tracks order), "
                         "each frame sums to 1",
        })
        rel = lambda name: f"{out_dir.name}/{name}"
        return GeneratedVideo(video=rel("video.mp4"), fps=cfg.fps, num_frames=c.num_frames,
                              width=frames.shape[2], height=frames.shape[1], attention=rel("attention.safetensors"),
                              generator=self.name)
