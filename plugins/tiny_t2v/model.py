"""A tiny pixel-space video diffusion transformer with text cross-attention (`TinyVideoDiT`).

Video x [B,3,T,H,W] in [-1, 1] -> patch tokens [B,T,h*w,D] (h = H/patch). Each block runs, in order:
spatial self-attention over the h*w tokens of one frame (`attn1`), temporal self-attention over the T
frames of one location (`attn_temporal`), cross-attention from every frame's tokens to the context tokens
(`attn2`, the layer Mojito's directional guidance reads), and an MLP. The timestep enters through adaLN.

The cross-attention layers are diffusers `Attention` modules called exactly like a UNet3D spatial
transformer calls them: hidden states [B*T, h*w, D], encoder states [B*T, N, 384], so diffusers attention
processors (and recorders wrapping them) work unchanged. Context tokens: MiniLM token states of the
caption followed by the motion-intensity embedding twice (see mim.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from diffusers.models.attention_processor import Attention
from pydantic import ConfigDict, Field
from torch import nn

from plugins.tiny_t2v.mim import MotionIntensityModulator
from worldsim.stages import SettingsModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class TinyT2VConfig(SettingsModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    num_frames: int = Field(8, ge=2, le=32)
    size: int = Field(32, ge=8, le=128, description="frame height = width in pixels")
    patch: int = Field(2, ge=1, le=8)
    dim: int = Field(64, ge=16, le=512)
    depth: int = Field(4, ge=1, le=16)
    heads: int = Field(4, ge=1, le=16)
    context_dim: int = Field(384, ge=1, le=8192, description="MiniLM hidden size")
    text_tokens: int = Field(12, ge=4, le=64, description="caption token states, padded / truncated to this")
    intensity_levels: int = Field(10, ge=1, le=100, description="MIM levels 1..N; 0 = no intensity condition")
    intensity_copies: int = Field(2, ge=1, le=4, description="times c_M is repeated in the context")
    train_timesteps: int = Field(1000, ge=1, le=10_000)
    beta_schedule: str = Field("squaredcos_cap_v2")
    prediction_type: str = Field("epsilon", pattern="^(epsilon|v_prediction)$")
    out_conv: bool = Field(False, description="a residual 3x3 convolution on the unpatchified output (U-ViT): "
                           "lets neighbouring patches blend, against 'patch-block' artefacts")

    @property
    def grid(self) -> int:
        return self.size // self.patch

    @property
    def context_tokens(self) -> int:
        return self.text_tokens + self.intensity_copies


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[B] -> [B,dim] sinusoidal features."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, context_dim: int):
        super().__init__()
        head_dim = dim // heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn1 = Attention(dim, heads=heads, dim_head=head_dim, bias=True)
        self.norm_t = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn_temporal = Attention(dim, heads=heads, dim_head=head_dim, bias=True)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, cross_attention_dim=context_dim, heads=heads, dim_head=head_dim, bias=True)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))
        self.ada = nn.Linear(dim, 9 * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x [B,T,S,D], emb [B,D], context [B,N,C] -> [B,T,S,D]."""
        B, T, S, D = x.shape
        m = self.ada(emb)[:, None, None, :].chunk(9, dim=-1)
        h = modulate(self.norm1(x), m[0], m[1]).reshape(B * T, S, D)
        x = x + m[2] * self.attn1(h).reshape(B, T, S, D)
        h = modulate(self.norm_t(x), m[3], m[4]).permute(0, 2, 1, 3).reshape(B * S, T, D)
        x = x + m[5] * self.attn_temporal(h).reshape(B, S, T, D).permute(0, 2, 1, 3)
        ctx = context.repeat_interleave(T, dim=0)  # [B*T,N,C], frames folded into the batch as in UNet3D
        x = x + self.attn2(self.norm2(x).reshape(B * T, S, D), encoder_hidden_states=ctx).reshape(B, T, S, D)
        x = x + m[8] * self.mlp(modulate(self.norm3(x), m[6], m[7]))
        return x


class TinyVideoDiT(nn.Module):
    def __init__(self, config: TinyT2VConfig):
        super().__init__()
        c = self.config = config
        if c.size % c.patch or c.dim % c.heads:
            raise ValueError(f"size {c.size} must be a multiple of patch {c.patch}, dim {c.dim} of heads {c.heads}")
        self.patch_embed = nn.Conv2d(3, c.dim, c.patch, stride=c.patch)
        self.pos_space = nn.Parameter(torch.randn(c.grid * c.grid, c.dim) * 0.02)
        self.pos_time = nn.Parameter(torch.randn(c.num_frames, c.dim) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(c.dim, 4 * c.dim), nn.SiLU(), nn.Linear(4 * c.dim, c.dim))
        self.blocks = nn.ModuleList([Block(c.dim, c.heads, c.context_dim) for _ in range(c.depth)])
        self.norm_out = nn.LayerNorm(c.dim, elementwise_affine=False)
        self.ada_out = nn.Linear(c.dim, 2 * c.dim)
        self.proj_out = nn.Linear(c.dim, c.patch * c.patch * 3)
        for layer in (self.ada_out, self.proj_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.mim = MotionIntensityModulator(c.context_dim, c.intensity_levels, c.intensity_copies)
        if c.out_conv:
            self.conv_out = nn.Conv2d(3, 3, 3, padding=1)  # per frame; zero-init: starts as the plain DiT head
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def context(self, text_states: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
        """c_L [B,L+copies,C]: text token states [B,L,C] followed by c_M of levels [B] (0 = none)."""
        return self.mim.combine(text_states, intensity)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x [B,3,T,H,W], t [B] (or scalar), context [B,N,C] -> predicted noise [B,3,T,H,W]."""
        c = self.config
        B, _, T, H, W = x.shape
        if t.ndim == 0:
            t = t.expand(B)
        frames = x.permute(0, 2, 1, 3, 4).reshape(B * T, 3, H, W)
        tok = self.patch_embed(frames)  # [B*T,D,h,w]
        h, w = tok.shape[-2:]
        tok = tok.flatten(2).transpose(1, 2).reshape(B, T, h * w, c.dim)
        tok = tok + self.pos_space[None, None] + self.pos_time[None, :T, None]
        emb = self.time_mlp(timestep_embedding(t, c.dim))
        for block in self.blocks:
            tok = block(tok, emb, context)
        shift, scale = self.ada_out(emb)[:, None, None, :].chunk(2, dim=-1)
        out = self.proj_out(modulate(self.norm_out(tok), shift, scale))  # [B,T,S,p*p*3]
        p = c.patch
        out = out.reshape(B, T, h, w, p, p, 3).permute(0, 6, 1, 2, 4, 3, 5).reshape(B, 3, T, H, W)
        if c.out_conv:
            per_frame = out.permute(0, 2, 1, 3, 4).reshape(B * T, 3, H, W)
            out = out + self.conv_out(per_frame).reshape(B, T, 3, H, W).permute(0, 2, 1, 3, 4)
        return out

    def save(self, folder: Path) -> None:
        """config.json + model.safetensors into `folder` (created); each file written atomically."""
        from safetensors.torch import save_file

        from worldsim.artifacts import atomic_path, atomic_write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / CONFIG_NAME, json.dumps(self.config.model_dump(), indent=2) + "\n")
        with atomic_path(folder / WEIGHTS_NAME) as tmp:
            save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(tmp))

    @classmethod
    def load(cls, folder: Path) -> "TinyVideoDiT":
        from safetensors.torch import load_file

        from worldsim.errors import InputError

        folder = Path(folder)
        if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
            raise InputError(f"tiny-t2v checkpoint folder {folder} needs {CONFIG_NAME} and {WEIGHTS_NAME}")
        config = TinyT2VConfig(**json.loads((folder / CONFIG_NAME).read_text()))
        model = cls(config)
        model.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
        return model.eval()
