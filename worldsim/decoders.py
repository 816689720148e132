"""Task decoders D^s: small MLPs from the F-dim latent feature to each teacher's feature space.

They act on the last dimension, so the same head decodes rendered feature maps [...,H,W,F] and
per-Gaussian features [N,F] (what language editing queries). A `DecoderSet` maps a teacher name to its
decoder; `save` / `load` write and read it as one safetensors file whose metadata key "decoders" holds
{teacher: [latent_dim F, out_dim D, hidden]} (what a reconstructor writes as decoders.safetensors).

This module imports torch at import time: import it inside the functions that need it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from worldsim.artifacts import atomic_path


class FeatureDecoder(nn.Module):
    def __init__(self, latent_dim: int, out_dim: int, hidden: int = 64):
        super().__init__()
        self.latent_dim, self.out_dim, self.hidden = latent_dim, out_dim, hidden
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, f: torch.Tensor) -> torch.Tensor:  # [...,F] -> [...,D]
        return self.net(f)


class DecoderSet(nn.ModuleDict):
    """Teacher name -> FeatureDecoder."""

    def save(self, path: str | os.PathLike) -> Path:
        from safetensors.torch import save_file

        shapes = {name: [d.latent_dim, d.out_dim, d.hidden] for name, d in self.items()}
        tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        path = Path(path)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"decoders": json.dumps(shapes, sort_keys=True)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DecoderSet":
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), "pt") as f:
            shapes = json.loads(f.metadata()["decoders"])
        decoders = cls({name: FeatureDecoder(*dims) for name, dims in shapes.items()})
        decoders.load_state_dict(load_file(str(path)))
        return decoders
