"""`diffusers-wan`: Wan text-to-video (flow-matching DiT, UMT5 text) with Directional Motion Control.

Single-transformer Wan pipelines: Wan 2.1 T2V (1.3B, 14B) and Wan 2.2 TI2V-5B (one timestep per token,
not yet run on its weights); the two-expert Wan 2.2 A14B (transformer_2) is refused before sampling.

Every Wan block has a cross-attention `blocks.{i}.attn2` (video queries, UMT5 keys) whose processor
`WanAttention` calls with positional arguments (hidden states, text, mask, rotary embeddings); the
recorder wraps it. The video tokens come from a Conv3d patch embedding flattened frame-major,
[B, T' * h * w] with T' = latent frames / p_t and h, w = latent size / (p_h, p_w), so the maps reshape to
T' x h x w before the boxes are applied. Guidance acts on the `guidance.band` fraction of the blocks.

The pipeline runs CFG as two separate transformer calls (conditional, then unconditional); the base
records the conditional one only. sigma_t comes from the scheduler's flow sigmas (s / (1 - s), see
guidance.sigma_t): Wan's UniPC (use_flow_sigmas) and FlowMatchEuler alike.
"""

from __future__ import annotations

from pydantic import Field

from plugins.diffusers_video.base import DiffusersVideoConfig, DiffusersVideoGenerator, Prepared, block_band
from worldsim.errors import ConfigError, MissingDependencyError


def require_accelerate(needed_for: str) -> None:
    """diffusers loads models with `_keep_in_fp32_modules` (Wan, Cosmos) only with accelerate installed."""
    from diffusers.utils import is_accelerate_available

    if not is_accelerate_available():
        raise MissingDependencyError("accelerate", needed_for)


class WanConfig(DiffusersVideoConfig):
    model: str = Field("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", description="Wan pipeline: model id or local folder")
    guidance_scale: float = Field(5.0, ge=0, le=100, description="classifier-free guidance scale (CFG; <= 1 disables it; at most 100)")
    num_inference_steps: int = Field(50, ge=1, le=1000, description="denoising steps")
    height: int = Field(480, ge=16, le=2048, multiple_of=8, description="frame height in pixels")
    width: int = Field(832, ge=16, le=2048, multiple_of=8, description="frame width in pixels")
    num_frames: int = Field(33, ge=1, le=257, description="frames in the clip (4k + 1 for Wan's 4x temporal VAE)")
    fps: int = Field(16, ge=1, le=120, description="frames per second of video.mp4 (Wan 2.1 is trained at 16)")
    max_sequence_length: int = Field(512, ge=8, le=512, description="UMT5 tokens of the prompt (Wan pads to 512)")
    vae_float32: bool = Field(True, description="keep the VAE in float32 whatever `dtype` is (as Wan recommends)")


class WanGenerator(DiffusersVideoGenerator):
    name = "diffusers-wan"
    description = "Wan text-to-video (diffusers) with Mojito directional motion control on its cross-attention"
    Config = WanConfig
    pipeline_class = "WanPipeline"
    mode = "cross"
    layout = "tokens"

    def load(self, cfg, dtype):
        import torch
        from diffusers import WanPipeline

        require_accelerate(f"generator '{self.name}' (WanTransformer3DModel keeps fp32 modules when loading)")
        dtypes = {"default": dtype, "vae": torch.float32} if cfg.vae_float32 else dtype
        return WanPipeline.from_pretrained(cfg.model, dtype=dtypes, revision=cfg.revision,
                                           local_files_only=cfg.local_files_only)

    def denoiser(self, pipe):
        if getattr(pipe, "transformer_2", None) is not None:
            raise ConfigError(f"model={self.config.model!r} is a two-expert Wan 2.2 pipeline (transformer_2); "
                              "diffusers-wan guides single-transformer Wan pipelines (Wan 2.1, Wan 2.2 TI2V-5B)")
        return pipe.transformer

    def default_layers(self, denoiser, settings):
        return [f"blocks.{i}.attn2" for i in block_band(len(denoiser.blocks), settings.band)]

    def encode(self, pipe, prompt, negative, do_cfg, device):
        cond, uncond = pipe.encode_prompt(prompt, negative, do_cfg, num_videos_per_prompt=1,
                                          max_sequence_length=self.config.max_sequence_length, device=device)
        dtype = pipe.transformer.dtype  # the pipeline casts to this; casting here keeps the tensors it passes ours
        return cond.to(dtype), (uncond.to(dtype) if uncond is not None else None)

    def pipeline_kwargs(self, cfg):
        return {"max_sequence_length": cfg.max_sequence_length}

    def prepare(self, pipe, cfg, generator, device, cond) -> Prepared:
        import torch

        tr = pipe.transformer
        tc, sf = pipe.vae_scale_factor_temporal, pipe.vae_scale_factor_spatial
        pt, ph, pw = tr.config.patch_size
        if tc > 1 and (cfg.num_frames - 1) % tc:
            raise ConfigError(f"num_frames={cfg.num_frames}: this Wan VAE compresses time by {tc}; accepted "
                              f"num_frames = {tc}k + 1 (e.g. {tc * ((cfg.num_frames - 1) // tc) + 1})")
        if cfg.height % (sf * ph) or cfg.width % (sf * pw) or cfg.height % 16 or cfg.width % 16:
            step = max(16, sf * ph)
            raise ConfigError(f"height={cfg.height}, width={cfg.width}: must be multiples of {step} for this Wan")
        latent_frames = (cfg.num_frames - 1) // tc + 1
        if latent_frames % pt:
            raise ConfigError(f"num_frames={cfg.num_frames}: {latent_frames} latent frames do not split into "
                              f"temporal patches of {pt}")
        latents = pipe.prepare_latents(1, tr.config.in_channels, cfg.height, cfg.width, cfg.num_frames,
                                       torch.float32, device, generator)

        grid = (latent_frames // pt, cfg.height // (sf * ph), cfg.width // (sf * pw))
        per_token = bool(pipe.config.get("expand_timesteps", False))  # Wan 2.2 TI2V: one timestep per token

        def forward(z, t, text):
            timestep = t.expand(z.shape[0], grid[0] * grid[1] * grid[2]) if per_token else t.expand(z.shape[0])
            return tr(hidden_states=z.to(tr.dtype), timestep=timestep, encoder_hidden_states=text,
                      return_dict=False)[0]

        return Prepared(latents=latents, grid=grid, forward=forward, pipeline_latents=lambda z: z)
