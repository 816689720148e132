"""`diffusers-cogvideox`: CogVideoX (3D full-attention DiT, T5 text) with Directional Motion Control.

CogVideoX has no cross-attention: text and video tokens share one joint attention (text first). The
recorder takes the video-query -> text-key slice of it (mode "joint-video-text"); the video tokens are
frame-major patch tokens, [B, T' * h * w] with T' latent frames (/ patch_size_t for CogVideoX 1.5) and
h, w = latent size / patch_size, so maps reshape to T' x h x w before the boxes are applied. Guidance acts
on the `guidance.band` fraction of the transformer blocks by default.
"""

from __future__ import annotations

from pydantic import Field

from plugins.diffusers_video.base import DiffusersVideoConfig, DiffusersVideoGenerator, Prepared, block_band
from worldsim.errors import ConfigError


class CogVideoXConfig(DiffusersVideoConfig):
    model: str = Field("THUDM/CogVideoX-2b", description="CogVideoX pipeline: model id or local folder")
    guidance_scale: float = Field(6.0, ge=0, le=100, description="classifier-free guidance scale (CFG; <= 1 disables it; at most 100)")
    num_inference_steps: int = Field(50, ge=1, le=1000, description="denoising steps")
    height: int = Field(480, ge=16, le=2048, multiple_of=8, description="frame height in pixels")
    width: int = Field(720, ge=16, le=2048, multiple_of=8, description="frame width in pixels")
    num_frames: int = Field(49, ge=1, le=257, description="frames in the clip (4k + 1 for the 4x temporal VAE)")
    max_sequence_length: int = Field(226, ge=8, le=512, description="T5 tokens of the prompt")


class CogVideoXGenerator(DiffusersVideoGenerator):
    name = "diffusers-cogvideox"
    description = "CogVideoX text-to-video (diffusers) with Mojito directional motion control on joint attention"
    Config = CogVideoXConfig
    pipeline_class = "CogVideoXPipeline"
    mode = "joint-video-text"
    layout = "tokens"

    def denoiser(self, pipe):
        return pipe.transformer

    def default_layers(self, denoiser, settings):
        from worldsim.dmc.attention import attention_modules

        band = block_band(len(denoiser.transformer_blocks), settings.band)
        wanted = {f"transformer_blocks.{i}.attn1" for i in band}
        return [n for n, _ in attention_modules(denoiser) if n in wanted]

    def encode(self, pipe, prompt, negative, do_cfg, device):
        return pipe.encode_prompt(prompt, negative, do_cfg, num_videos_per_prompt=1,
                                  max_sequence_length=self.config.max_sequence_length, device=device)

    def pipeline_kwargs(self, cfg):
        return {"max_sequence_length": cfg.max_sequence_length}

    def prepare(self, pipe, cfg, generator, device, cond) -> Prepared:
        tr = pipe.transformer
        tc, sf = pipe.vae_scale_factor_temporal, pipe.vae_scale_factor_spatial
        if (cfg.num_frames - 1) % tc:
            raise ConfigError(f"num_frames={cfg.num_frames}: this CogVideoX VAE compresses time by {tc}; "
                              f"accepted num_frames = {tc}k + 1 (e.g. {tc * ((cfg.num_frames - 1) // tc) + 1})")
        p, pt = tr.config.patch_size, tr.config.patch_size_t
        if cfg.height % (sf * p) or cfg.width % (sf * p):
            raise ConfigError(f"height={cfg.height}, width={cfg.width}: must be multiples of {sf * p} for this CogVideoX")
        latent_frames = (cfg.num_frames - 1) // tc + 1
        frames = cfg.num_frames
        if pt is not None and latent_frames % pt:  # CogVideoX 1.5 pads latent frames, as the pipeline does
            frames += (pt - latent_frames % pt) * tc
        latents = pipe.prepare_latents(1, tr.config.in_channels, frames, cfg.height, cfg.width, cond.dtype, device,
                                       generator)
        rope = (pipe._prepare_rotary_positional_embeddings(cfg.height, cfg.width, latents.size(1), device)
                if tr.config.use_rotary_positional_embeddings else None)
        sigma0 = pipe.scheduler.init_noise_sigma

        def forward(z, t, text):
            x = pipe.scheduler.scale_model_input(z, t)
            return tr(hidden_states=x, encoder_hidden_states=text, timestep=t.expand(x.shape[0]),
                      image_rotary_emb=rope, return_dict=False)[0]

        grid = (latents.size(1) // (pt or 1), cfg.height // (sf * p), cfg.width // (sf * p))
        return Prepared(latents=latents, grid=grid, forward=forward, pipeline_latents=lambda z: z / sigma0)
