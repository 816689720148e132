"""`diffusers-cosmos`: NVIDIA Cosmos Predict1 text-to-world (EDM DiT, T5 text) with Directional Motion Control.

`CosmosTransformer3DModel` has no `set_attn_processor`; the recorder patches each block's
cross-attention `transformer_blocks.{i}.attn2` (a diffusers `Attention`) one module at a time. Its
tokens come from a linear patch embedding over [B, T', H', W'] flattened frame-major, so the maps
reshape to T' x (H' / p_h) x (W' / p_w) before the boxes are applied. Guidance acts on the
`guidance.band` fraction of the blocks.

Sampling is EDM (`EDMEulerScheduler`, x = x0 + sigma eps): sigma_t is the scheduler's sigma; the
transformer sees `scale_model_input(z)` (c_in = 1 / sqrt(sigma^2 + sigma_data^2)) and `c_noise` timesteps,
exactly as the pipeline feeds it. The pipeline runs CFG as two separate calls; the base records the
conditional one only.

Guardrail: the NVIDIA Open Model License requires Cosmos Guardrail on Cosmos checkpoints. With
`guardrail: true` (the default) the `cosmos_guardrail` package's CosmosSafetyChecker checks the prompt
before sampling (an unsafe prompt is an InputError) and the pipeline runs its video check on the decoded
frames. `guardrail: false` puts `NoGuardrail` (a pass-through) in its place; it is meant for models that
are not under that licence, such as the tiny random pipelines of the tests.
"""

from __future__ import annotations

import importlib.util

from pydantic import Field

from plugins.diffusers_video.base import DiffusersVideoConfig, DiffusersVideoGenerator, Prepared, block_band
from worldsim.errors import ConfigError, InputError, MissingDependencyError


class NoGuardrail:
    """Pass-through stand-in for CosmosSafetyChecker (same methods): every prompt and video passes unchanged."""

    def to(self, *args, **kwargs):
        return self

    def check_text_safety(self, prompt: str) -> bool:
        return True

    def check_video_safety(self, frames):
        return frames


class CosmosConfig(DiffusersVideoConfig):
    model: str = Field("nvidia/Cosmos-1.0-Diffusion-7B-Text2World", description="Cosmos text-to-world pipeline: "
                       "model id or local folder")
    guidance_scale: float = Field(7.0, ge=0, le=100, description="classifier-free guidance scale (CFG; <= 1 disables it; at most 100)")
    num_inference_steps: int = Field(36, ge=1, le=1000, description="denoising steps")
    height: int = Field(704, ge=16, le=2048, multiple_of=8, description="frame height in pixels")
    width: int = Field(1280, ge=16, le=2048, multiple_of=8, description="frame width in pixels")
    num_frames: int = Field(121, ge=1, le=257, description="frames in the clip (8k + 1 for Cosmos' 8x temporal VAE)")
    fps: int = Field(30, ge=1, le=120, description="frames per second of video.mp4; also the transformer's RoPE fps")
    negative_prompt: str | None = Field(None, description="negative prompt for CFG; None = the pipeline's default")
    max_sequence_length: int = Field(512, ge=8, le=512, description="T5 tokens of the prompt")
    guardrail: bool = Field(True, description="run Cosmos Guardrail (package cosmos_guardrail) on the prompt and "
                            "video, as the NVIDIA Open Model License requires; false only for models outside it")


class CosmosGenerator(DiffusersVideoGenerator):
    name = "diffusers-cosmos"
    description = "NVIDIA Cosmos text-to-world (diffusers) with Mojito directional motion control on its cross-attention"
    Config = CosmosConfig
    pipeline_class = "CosmosTextToWorldPipeline"
    mode = "cross"
    layout = "tokens"

    def load(self, cfg, dtype):
        from diffusers import CosmosTextToWorldPipeline

        from plugins.diffusers_video.wan import require_accelerate

        require_accelerate(f"generator '{self.name}' (CosmosTransformer3DModel keeps fp32 modules when loading)")
        return CosmosTextToWorldPipeline.from_pretrained(cfg.model, dtype=dtype, safety_checker=self.safety_checker(),
                                                         revision=cfg.revision, local_files_only=cfg.local_files_only)

    def safety_checker(self):
        if not self.config.guardrail:
            return NoGuardrail()
        try:
            from cosmos_guardrail import CosmosSafetyChecker
        except ImportError:
            raise MissingDependencyError("cosmos_guardrail", "generator 'diffusers-cosmos' with guardrail: true "
                                         "(the NVIDIA Open Model License's safety checker)") from None
        return CosmosSafetyChecker()

    def denoiser(self, pipe):
        tr = pipe.transformer
        if tr.config.concat_padding_mask and importlib.util.find_spec("torchvision") is None:
            # the transformer resizes its padding mask with torchvision
            raise MissingDependencyError("torchvision", f"generator 'diffusers-cosmos' with model="
                                         f"{self.config.model!r} (concat_padding_mask)")
        return tr

    def default_layers(self, denoiser, settings):
        return [f"transformer_blocks.{i}.attn2" for i in block_band(len(denoiser.transformer_blocks), settings.band)]

    def encode(self, pipe, prompt, negative, do_cfg, device):
        checker = pipe.safety_checker
        checker.to(device)
        safe = checker.check_text_safety(prompt)
        checker.to("cpu")
        if not safe:
            raise InputError(f"Cosmos Guardrail rejected the prompt {prompt!r} (NVIDIA Open Model License)")
        dtype = pipe.transformer.dtype
        cond, uncond = pipe.encode_prompt(prompt, negative, do_cfg, num_videos_per_prompt=1,
                                          max_sequence_length=self.config.max_sequence_length, device=device,
                                          dtype=dtype)
        return cond, uncond

    def pipeline_kwargs(self, cfg):
        return {"fps": cfg.fps, "max_sequence_length": cfg.max_sequence_length}

    def prepare(self, pipe, cfg, generator, device, cond) -> Prepared:
        import torch

        tr, scheduler = pipe.transformer, pipe.scheduler
        tc, sf = pipe.vae_scale_factor_temporal, pipe.vae_scale_factor_spatial
        pt, ph, pw = tr.config.patch_size
        if tc > 1 and (cfg.num_frames - 1) % tc:
            raise ConfigError(f"num_frames={cfg.num_frames}: this Cosmos VAE compresses time by {tc}; accepted "
                              f"num_frames = {tc}k + 1 (e.g. {tc * ((cfg.num_frames - 1) // tc) + 1})")
        if cfg.height % 16 or cfg.width % 16 or cfg.height % (sf * ph) or cfg.width % (sf * pw):
            raise ConfigError(f"height={cfg.height}, width={cfg.width}: must be multiples of {max(16, sf * ph)} "
                              "for this Cosmos")
        latent_frames = (cfg.num_frames - 1) // tc + 1
        if latent_frames % pt:
            raise ConfigError(f"num_frames={cfg.num_frames}: {latent_frames} latent frames do not split into "
                              f"temporal patches of {pt}")
        latents = pipe.prepare_latents(1, tr.config.in_channels, cfg.height, cfg.width, cfg.num_frames,
                                       torch.float32, device, generator)  # z_T = sigma_max * eps
        padding_mask = latents.new_zeros(1, 1, cfg.height, cfg.width, dtype=tr.dtype)
        sigma_max = scheduler.config.sigma_max

        def forward(z, t, text):
            x = scheduler.scale_model_input(z, t).to(tr.dtype)
            return tr(hidden_states=x, timestep=t.expand(z.shape[0]).to(tr.dtype), encoder_hidden_states=text,
                      fps=cfg.fps, padding_mask=padding_mask, return_dict=False)[0]

        grid = (latent_frames // pt, cfg.height // (sf * ph), cfg.width // (sf * pw))
        return Prepared(latents=latents, grid=grid, forward=forward, pipeline_latents=lambda z: z / sigma_max)
