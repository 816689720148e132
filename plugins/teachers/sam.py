"""`transformers-sam`: automatic instance masks from a Segment Anything (SamModel) checkpoint.

The model is loaded by hub id or local folder with `local_files_only=True` by default, like the other
transformers teachers (see `hf.py`); a missing model is a one-line ConfigError. Frames are preprocessed here in
torch from the model's `preprocessor_config.json` (no torchvision): the longest side is resized to the model's
image size (bilinear, antialiased like PIL), normalised with the processor's mean/std and zero-padded
bottom/right to a square.

Automatic masks, in the spirit of SAM's automatic mask generator (simplified: no crops, no NMS, no stability
score): a regular `points_per_side` x `points_per_side` grid of single positive point prompts is decoded in
batches of `points_per_batch` (multimask output: 3 candidates per point); the low-resolution masks are
upsampled to the frame size and thresholded at 0; candidates with predicted IoU >= `pred_iou_threshold` are
sorted by that score and assigned ids greedily without overlap: a pixel keeps the first (best) mask that claims
it, and a mask left with fewer than `min_area` unclaimed pixels is dropped. Id 0 = unassigned ("background").

Every frame is segmented independently: ids are NOT tracked across frames (segment 1 of frame 0 and segment 1
of frame 1 need not be the same object). `labels` are ["background", "segment 1", ..., "segment K"] with K the
largest id over the whole video.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from worldsim.devices import resolve_device, torch_dtype
from worldsim.stages import Teacher
from worldsim.types.teacher import TeacherMaps

from .base import TeacherHelpers
from .hf import (IMAGENET_MEAN, IMAGENET_STD, TransformersConfig, _load_lock, frames_to_tensor, load_pretrained,
                 processor_dict)

if TYPE_CHECKING:
    import torch


class TransformersSamConfig(TransformersConfig):
    model: str = Field("facebook/sam-vit-base", description="hub id or local folder of a SamModel")
    points_per_side: int = Field(8, ge=1, le=128, description="point prompts per image side (a regular grid)")
    points_per_batch: int = Field(64, ge=1, le=4096, description="point prompts per mask-decoder pass")
    pred_iou_threshold: float = Field(0.8, ge=0.0, le=1.0, description="keep masks with predicted IoU >= this")
    min_area: int = Field(16, ge=0, le=16_777_216, description="drop masks left with fewer unclaimed pixels than this")
    batch_size: int = Field(1, ge=1, le=1024, description="frames per vision-encoder pass")


@functools.lru_cache(maxsize=2)
def _load_sam(model: str, device: str, dtype: str, local_files_only: bool):
    from transformers import SamModel

    net = load_pretrained("transformers-sam", "SAM model", model, local_files_only,
                          lambda: SamModel.from_pretrained(model, local_files_only=local_files_only,
                                                           dtype=torch_dtype(dtype)))
    return net.to(device).eval(), processor_dict(model, local_files_only)


def sam_input_size(height: int, width: int, longest: int) -> tuple[int, int]:
    """(h, w) with the longest side = `longest`, as SamImageProcessor rounds it."""
    scale = longest / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def point_grid(n: int, height: int, width: int) -> "torch.Tensor":
    """[n*n, 2] (x, y) cell-centre points of a regular n x n grid over a height x width image."""
    import torch

    ys = (torch.arange(n, dtype=torch.float32) + 0.5) / n * height
    xs = (torch.arange(n, dtype=torch.float32) + 0.5) / n * width
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=-1)


def assign_ids(masks: "torch.Tensor", scores: "torch.Tensor", threshold: float, min_area: int) -> "torch.Tensor":
    """masks [N,H,W] bool, scores [N] -> ids [H,W] int64 (0 = unassigned), best-scoring masks first, no overlap."""
    import torch

    ids = torch.zeros(masks.shape[1:], dtype=torch.int64)
    keep = scores >= threshold
    masks, scores = masks[keep], scores[keep]
    next_id = 1
    for i in torch.argsort(scores, descending=True, stable=True).tolist():
        new = masks[i] & (ids == 0)
        if int(new.sum()) < max(min_area, 1):
            continue
        ids[new] = next_id
        next_id += 1
    return ids


class TransformersSam(TeacherHelpers, Teacher):
    name = "transformers-sam"
    description = ("Automatic instance masks from a Segment Anything model (point-grid prompts, greedy "
                   "non-overlapping ids, per frame: ids not tracked across frames); local weights")
    target = "mask"
    Config = TransformersSamConfig

    def load(self):
        cfg: TransformersSamConfig = self.config
        with _load_lock:
            return _load_sam(cfg.model, resolve_device(cfg.device), cfg.dtype, cfg.local_files_only)

    def preprocess(self, frames: np.ndarray, net, proc: dict, device) -> tuple["torch.Tensor", tuple[int, int]]:
        """[B,H,W,3] uint8 -> padded, normalised [B,3,S,S] pixel values and the resized (h, w) inside them."""
        import torch
        import torch.nn.functional as F

        side = int(net.config.vision_config.image_size)
        longest = int((proc.get("size") or {}).get("longest_edge") or side)
        x = frames_to_tensor(frames, device)
        h, w = sam_input_size(x.shape[-2], x.shape[-1], longest)
        if (h, w) != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp_(0, 1)
        if proc.get("do_normalize", True):
            mean = torch.tensor(proc.get("image_mean") or IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(proc.get("image_std") or IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        x = F.pad(x, (0, max(side - w, 0), 0, max(side - h, 0)))[..., :side, :side]
        return x, (h, w)

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        import torch
        import torch.nn.functional as F

        cfg: TransformersSamConfig = self.config
        T, H, W = self._frames(frames)
        net, proc = self.load()
        device, dtype = next(net.parameters()).device, next(net.parameters()).dtype
        side = int(net.config.vision_config.image_size)
        ids = torch.zeros(T, H, W, dtype=torch.int64)
        with torch.inference_mode():
            for i in range(0, T, cfg.batch_size):
                x, (h, w) = self.preprocess(frames[i:i + cfg.batch_size], net, proc, device)
                embeddings = net.get_image_embeddings(x.to(dtype))  # [B,C,e,e]
                if not isinstance(embeddings, torch.Tensor):
                    embeddings = embeddings[0]
                points = point_grid(cfg.points_per_side, h, w).to(device)  # in resized-image pixels
                for b in range(len(x)):
                    masks, scores = [], []
                    for j in range(0, len(points), cfg.points_per_batch):
                        p = points[j:j + cfg.points_per_batch]
                        out = net(image_embeddings=embeddings[b:b + 1], input_points=p.view(1, -1, 1, 2).to(dtype),
                                  input_labels=torch.ones(1, len(p), 1, dtype=torch.int64, device=device),
                                  multimask_output=True)
                        low = out.pred_masks[0].flatten(0, 1).float()  # [n*3, m, m] logits over the padded square
                        up = F.interpolate(low.unsqueeze(1), size=(side, side), mode="bilinear",
                                           align_corners=False)[:, :, :h, :w]
                        up = F.interpolate(up, size=(H, W), mode="bilinear", align_corners=False)[:, 0]
                        masks.append((up > 0).cpu())
                        scores.append(out.iou_scores[0].flatten().float().cpu())
                    ids[i + b] = assign_ids(torch.cat(masks), torch.cat(scores), cfg.pred_iou_threshold, cfg.min_area)
        names = ["background"] + [f"segment {k}" for k in range(1, int(ids.max()) + 1)]
        return TeacherMaps(name=self.name, target="mask", maps=ids.float().unsqueeze(-1), valid=None, labels=names)
