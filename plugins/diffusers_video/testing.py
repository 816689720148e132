"""Tiny offline components for tests and benchmarks of the diffusers backends (no download).

- `tiny_clip_tokenizer(path=None)`: character-level CLIP BPE (a-z, 0-9), max length 77.
- `tiny_t5_tokenizer(path=None)`: word-level T5 Unigram for the plan words, falling back to characters.
Both return a fast tokenizer (offset_mapping works); with `path` they are also saved there.
- `tiny_clip_text_model(tokenizer)`, `tiny_t5_encoder(tokenizer)`: random 1-layer text encoders.
- `tiny_animatediff_pipeline(path)`, `tiny_cogvideox_pipeline(path)`: whole random pipelines, saved with
  save_pretrained at `path` (returned as str) for loading back by path (16x16 / 32x32 frames on CPU);
  `tiny_sd_and_motion_adapter(path) -> (sd folder, adapter folder)`: the AnimateDiff parts as a Stable
  Diffusion base plus a separate MotionAdapter.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ("a an the one two three 1 2 3 red blue green yellow white black orange purple ball cube car box "
         "bird fish moving left right up down to of and slowly quickly").split()
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def tiny_clip_tokenizer(path: str | Path | None = None, max_length: int = 77):
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({c: i + 2 for i, c in enumerate(CHARS)})
    vocab.update({c + "</w>": i + 2 + len(CHARS) for i, c in enumerate(CHARS)})
    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)
    if path is not None:
        tok.save_pretrained(str(path))
    return tok


def tiny_t5_tokenizer(path: str | Path | None = None, max_length: int = 226):
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("\u2581" + w, -1.0) for w in WORDS]
    vocab += [(c, -5.0) for c in CHARS] + [("\u2581", -3.0)]
    tok = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)
    if path is not None:
        tok.save_pretrained(str(path))
    return tok


def tiny_clip_text_model(tokenizer, hidden_size: int = 16, seed: int = 0):
    """Random 1-layer CLIPTextModel matching `tiny_clip_tokenizer`."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    return CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                                        num_hidden_layers=1, num_attention_heads=2,
                                        max_position_embeddings=tokenizer.model_max_length,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=1)).eval()


def tiny_t5_encoder(tokenizer, d_model: int = 16, seed: int = 0):
    """Random 1-layer T5EncoderModel matching `tiny_t5_tokenizer`."""
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    return T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=d_model, d_kv=8, d_ff=2 * d_model, num_layers=1,
                                   num_heads=2, relative_attention_num_buckets=8, pad_token_id=0,
                                   eos_token_id=1, decoder_start_token_id=0)).eval()


def _tiny_sd_parts(qk_gain: float, seed: int) -> dict:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel

    tok = tiny_clip_tokenizer()
    text_encoder = tiny_clip_text_model(tok, seed=seed)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                norm_num_groups=4, attention_head_dim=4)
    with torch.no_grad():
        for name, module in unet.named_modules():
            if name.endswith("attn2"):
                module.to_q.weight.mul_(qk_gain)
                module.to_k.weight.mul_(qk_gain)
    adapter = MotionAdapter(block_out_channels=(8, 16), motion_layers_per_block=1, motion_norm_num_groups=4,
                            motion_num_attention_heads=2, motion_max_seq_length=32)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, norm_num_groups=4)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return dict(vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet, motion_adapter=adapter, scheduler=scheduler)


def tiny_animatediff_pipeline(path: str | Path, qk_gain: float = 3.0, seed: int = 0) -> str:
    """Random tiny AnimateDiff pipeline (UNetMotionModel 8/16 channels, CLIP text, AutoencoderKL x2) saved at `path`.

    `qk_gain` scales the cross-attention query/key weights so the random attention is peaked enough to
    depend on the latents (at the default init it is almost uniform over the 77 tokens).
    """
    from diffusers import AnimateDiffPipeline

    AnimateDiffPipeline(**_tiny_sd_parts(qk_gain, seed)).save_pretrained(str(path))
    return str(path)


def tiny_sd_and_motion_adapter(path: str | Path, qk_gain: float = 3.0, seed: int = 0) -> tuple[str, str]:
    """The same tiny parts saved as a Stable Diffusion pipeline (`path`/sd) and a MotionAdapter (`path`/adapter)."""
    from diffusers import StableDiffusionPipeline

    parts = _tiny_sd_parts(qk_gain, seed)
    adapter = parts.pop("motion_adapter")
    sd, ad = Path(path) / "sd", Path(path) / "adapter"
    StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(str(sd))
    adapter.save_pretrained(str(ad))
    return str(sd), str(ad)


def tiny_cogvideox_pipeline(path: str | Path, seed: int = 0) -> str:
    """Random tiny CogVideoX pipeline (2-block DiT with 3D RoPE, T5 16 tokens, AutoencoderKLCogVideoX x4 space/time)."""
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    tok = tiny_t5_tokenizer(max_length=16)
    text_encoder = tiny_t5_encoder(tok, seed=seed)
    torch.manual_seed(seed)
    transformer = CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=16, in_channels=4,
                                              out_channels=4, time_embed_dim=4, text_embed_dim=16, num_layers=2,
                                              sample_width=8, sample_height=8, sample_frames=9, patch_size=2,
                                              max_text_seq_length=16, use_rotary_positional_embeddings=True)
    vae = AutoencoderKLCogVideoX(in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 3,
                                 up_block_types=("CogVideoXUpBlock3D",) * 3, block_out_channels=(8, 8, 8),
                                 latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    scheduler = CogVideoXDDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       clip_sample=False, set_alpha_to_one=True, prediction_type="v_prediction",
                                       rescale_betas_zero_snr=True, timestep_spacing="trailing")
    pipe = CogVideoXPipeline(tokenizer=tok, text_encoder=text_encoder, vae=vae, transformer=transformer,
                             scheduler=scheduler)
    pipe.save_pretrained(str(path))
    return str(path)
