"""Tiny random Wan and Cosmos pipelines for offline tests and demos (no weights are downloaded).

The components are built from configs with tiny sizes and random weights. The VAEs compress by 2
spatially (not 8), so a 16x16 clip still has a 4x4 grid of latent tokens per frame for the boxes
to mean something; everything else (patchify, rotary embeddings, cross-attention, schedulers, the
pipelines' own prompt encoding and saving/loading) is the real diffusers/transformers code.
"""

from __future__ import annotations


def tiny_wan_pipeline(seed: int = 0, num_layers: int = 4):
    """WanPipeline: UMT5 encoder (d_model 32), WanTransformer3DModel (2 heads x 8), AutoencoderKLWan (x2 spatial)."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    from plugins.diffusers_video.testing import tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    vae = AutoencoderKLWan(base_dim=4, z_dim=4, dim_mult=[1, 1], num_res_blocks=1, temperal_downsample=[False],
                           latents_mean=[0.0] * 4, latents_std=[1.0] * 4, scale_factor_spatial=2, scale_factor_temporal=1)
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=4,
                                        out_channels=4, text_dim=32, freq_dim=32, ffn_dim=32, num_layers=num_layers,
                                        rope_max_seq_len=32)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    return WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer)


def tiny_cosmos_pipeline(seed: int = 0, num_layers: int = 4):
    """CosmosTextToWorldPipeline: T5 encoder (1 layer, d_model 32), CosmosTransformer3DModel (2 heads x 12), AutoencoderKLCosmos
    (haar patch 2, x2 spatial and temporal), EDM Euler scheduler. `concat_padding_mask` is off: the real checkpoints'
    padding-mask resize needs torchvision, which this environment does not have.

    The pipeline holds worldsim's pass-through safety checker (`NoGuardrail`): these random weights are not an
    NVIDIA model, so the NVIDIA Open Model License's guardrail requirement does not apply to them."""
    import torch
    from diffusers import AutoencoderKLCosmos, CosmosTextToWorldPipeline, CosmosTransformer3DModel, EDMEulerScheduler

    from plugins.diffusers_video.cosmos import NoGuardrail
    from plugins.diffusers_video.testing import tiny_t5_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    text_encoder = tiny_t5_encoder(tokenizer, d_model=32, seed=seed)
    torch.manual_seed(seed)
    vae = AutoencoderKLCosmos(in_channels=3, out_channels=3, latent_channels=4, encoder_block_out_channels=(8, 8, 8, 8),
                              decode_block_out_channels=(8, 8, 8, 8), attention_resolutions=(8,), resolution=64,
                              num_layers=1, patch_size=2, patch_type="haar", scaling_factor=1.0,
                              spatial_compression_ratio=2, temporal_compression_ratio=2,
                              latents_mean=None, latents_std=None)
    transformer = CosmosTransformer3DModel(in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=12,
                                           num_layers=num_layers, mlp_ratio=2.0, text_embed_dim=32, adaln_lora_dim=4,
                                           max_size=(8, 32, 32), patch_size=(1, 2, 2), concat_padding_mask=False,
                                           extra_pos_embed_type="learnable")
    scheduler = EDMEulerScheduler(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5, sigma_schedule="karras",
                                  num_train_timesteps=1000, prediction_type="epsilon", rho=7.0, final_sigmas_type="sigma_min")
    return CosmosTextToWorldPipeline(text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer, vae=vae,
                                     scheduler=scheduler, safety_checker=NoGuardrail())
