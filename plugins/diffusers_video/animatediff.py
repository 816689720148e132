"""`diffusers-animatediff`: AnimateDiff (Stable Diffusion UNet + motion modules) with Directional Motion Control.

Loading: `model` is either a full AnimateDiff pipeline folder/id (save_pretrained layout, unet = UNetMotionModel)
or a Stable Diffusion 1.x base with `motion_adapter` naming a MotionAdapter id/path. Guidance acts on the
spatial transformers' cross-attention (attn2) of the mid block and the first up blocks by default; those
layers see the frames in the batch ([B*T, h*w, C]), so maps come back per frame at each layer's resolution.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plugins.diffusers_video.base import DiffusersVideoConfig, DiffusersVideoGenerator, Prepared, prefix_filter

UNET_DEFAULT_LAYERS = ["mid_block", "up_blocks.0", "up_blocks.1"]


class AnimateDiffConfig(DiffusersVideoConfig):
    model: str = Field("emilianJR/epiCRealism", description="AnimateDiff pipeline or SD 1.x base: model id or local folder")
    motion_adapter: str | None = Field("guoyww/animatediff-motion-adapter-v1-5-2",
                                       description="MotionAdapter id or folder; null when `model` is a full AnimateDiff pipeline")
    scheduler: Literal["model", "ddim"] = Field("model", description="model: the pipeline's own; ddim: DDIM with "
                                                "linspace spacing and no sample clipping (the AnimateDiff recipe)")
    height: int = Field(512, ge=16, le=2048, multiple_of=8, description="frame height in pixels")
    width: int = Field(512, ge=16, le=2048, multiple_of=8, description="frame width in pixels")


class AnimateDiffGenerator(DiffusersVideoGenerator):
    name = "diffusers-animatediff"
    description = "AnimateDiff text-to-video (diffusers) with Mojito directional motion control on cross-attention"
    Config = AnimateDiffConfig
    pipeline_class = "AnimateDiffPipeline"
    mode = "cross"
    layout = "frames-in-batch"

    def load(self, cfg: AnimateDiffConfig, dtype):
        from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter

        common = dict(dtype=dtype, revision=cfg.revision, local_files_only=cfg.local_files_only)
        extra = {}
        if cfg.motion_adapter:
            extra["motion_adapter"] = MotionAdapter.from_pretrained(cfg.motion_adapter, **common)
        pipe = AnimateDiffPipeline.from_pretrained(cfg.model, **common, **extra)
        if cfg.scheduler == "ddim":
            pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False,
                                                       timestep_spacing="linspace", steps_offset=1)
        return pipe

    def denoiser(self, pipe):
        return pipe.unet

    def default_layers(self, denoiser, settings):
        from worldsim.dmc.attention import attention_modules, is_cross

        keep = prefix_filter(UNET_DEFAULT_LAYERS)
        return [n for n, m in attention_modules(denoiser) if is_cross(m) and keep(n, m)]

    def encode(self, pipe, prompt, negative, do_cfg, device):
        return pipe.encode_prompt(prompt, device, 1, do_cfg, negative)

    def prepare(self, pipe, cfg, generator, device, cond) -> Prepared:
        unet, frames = pipe.unet, cfg.num_frames
        latents = pipe.prepare_latents(1, unet.config.in_channels, frames, cfg.height, cfg.width, cond.dtype, device,
                                       generator)
        text = cond.repeat_interleave(frames, dim=0)  # UNetMotionModel takes [B*T, L, D]
        sigma0 = pipe.scheduler.init_noise_sigma

        def forward(z, t, _cond):
            return unet(pipe.scheduler.scale_model_input(z, t), t, encoder_hidden_states=text).sample

        grid = (frames, cfg.height // pipe.vae_scale_factor, cfg.width // pipe.vae_scale_factor)
        return Prepared(latents=latents, grid=grid, forward=forward, pipeline_latents=lambda z: z / sigma0)
