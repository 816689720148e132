"""Teachers backed by Hugging Face transformers models: `transformers-depth` and `transformers-clip`.

Both load a model by hub id or local folder with `local_files_only=True` by default (this environment has no
network): weights must already be on the machine, either in the Hugging Face cache or in a folder written by
`save_pretrained`. Models are loaded once per process (keyed by model, device, dtype).

Frames are preprocessed here in torch (resize, rescale, normalise) from the model's `preprocessor_config.json`,
read without instantiating the image processor: transformers' default image processors need torchvision,
which worldsim does not install, and a batched torch resize also runs on the GPU.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from worldsim.devices import quiet_loading, resolve_device, torch_dtype
from worldsim.errors import ConfigError
from worldsim.stages import FeatureTeacher, StageConfig, Teacher
from worldsim.types.teacher import TeacherMaps

from .base import TeacherHelpers

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)

_load_lock = threading.Lock()


class TransformersConfig(StageConfig):
    model: str = Field(description="hub id or local folder of the model")
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto = cuda when available")
    dtype: Literal["float32", "float16", "bfloat16"] = Field("float32", description="weights and activations dtype")
    local_files_only: bool = Field(True, description="never download: the weights must already be on this machine")
    batch_size: int = Field(4, ge=1, le=1024, description="frames per forward pass")


# ---------------------------------------------------------------------------------------------- loading helpers
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def load_pretrained(teacher: str, what: str, model: str, local_files_only: bool, load):
    """Run `load()` (a from_pretrained call), turning a missing or unusable model into a one-line ConfigError."""
    try:
        with quiet_loading():
            return load()
    except OSError as exc:
        if local_files_only:
            raise ConfigError(
                f"teacher '{teacher}': {what} '{model}' is not available locally (local_files_only=True); its weights "
                f"must already be on this machine, in the Hugging Face cache or a folder written by save_pretrained "
                f"(nothing is downloaded in this environment)") from None
        raise ConfigError(f"teacher '{teacher}': {what} '{model}' could not be loaded ({_first_line(exc)})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"teacher '{teacher}': '{model}' cannot be loaded as a {what} ({_first_line(exc)})") from None


def processor_dict(model: str, local_files_only: bool) -> dict:
    """The model's preprocessor_config.json as a dict ({} when it has none)."""
    from transformers.image_processing_base import ImageProcessingMixin

    try:
        return ImageProcessingMixin.get_image_processor_dict(model, local_files_only=local_files_only)[0]
    except OSError:
        return {}


def frames_to_tensor(frames: np.ndarray, device: str) -> "torch.Tensor":
    """[B,H,W,3] uint8 -> [B,3,H,W] float32 in [0,1] on `device`."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def resize_normalise(x: "torch.Tensor", size: tuple[int, int], mean, std, normalise: bool = True) -> "torch.Tensor":
    """[B,3,H,W] in [0,1] -> resized (bicubic, antialiased like PIL) and normalised [B,3,h,w]."""
    import torch
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
    if normalise:
        mean = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x


def _multiple(value: float, multiple: int, min_value: int) -> int:
    return max(min_value, int(round(value / multiple)) * multiple)


def dpt_input_size(height: int, width: int, proc: dict, input_size: int | None, patch: int) -> tuple[int, int]:
    """The (h, w) a DPT-family image processor resizes a (height, width) frame to.

    Follows DPTImageProcessor: target `size` {height, width} (or {shortest_edge}), `keep_aspect_ratio` scales as
    little as possible, sides rounded to `ensure_multiple_of`; padding to `size_divisor` is done by rounding up.
    Without a preprocessor config: keep the aspect ratio and round to the patch size.
    """
    size = proc.get("size") or {}
    keep = bool(proc.get("keep_aspect_ratio", not proc))
    multiple = int(proc.get("ensure_multiple_of") or (1 if proc else patch))
    if input_size is not None:
        th = tw = input_size
    elif "height" in size and "width" in size:
        th, tw = size["height"], size["width"]
    elif "shortest_edge" in size:
        s = size["shortest_edge"] / min(height, width)
        th, tw, keep = height * s, width * s, True
    else:
        th, tw = height, width
    sh, sw = th / height, tw / width
    if keep:
        if abs(1 - sw) < abs(1 - sh):
            sh = sw
        else:
            sw = sh
    h, w = _multiple(sh * height, multiple, multiple), _multiple(sw * width, multiple, multiple)
    divisor = int(proc.get("size_divisor") or 0) if proc.get("do_pad") else 0
    if divisor:
        h, w = math.ceil(h / divisor) * divisor, math.ceil(w / divisor) * divisor
    return h, w


# ---------------------------------------------------------------------------------------------- depth
class TransformersDepthConfig(TransformersConfig):
    model: str = Field("depth-anything/Depth-Anything-V2-Small-hf",
                       description="hub id or local folder of an AutoModelForDepthEstimation model "
                                   "(DPT, Depth Anything, ZoeDepth, ...)")
    output: Literal["inverse_depth", "depth"] = Field(
        "inverse_depth",
        description="what the model predicts: 'inverse_depth' (relative models such as Depth Anything, "
                    "DPT/MiDaS: disparity-like, bigger = nearer) or 'depth' (metric models: metres)")
    scale: float = Field(1.0, gt=0, le=1e6, description="raw prediction p -> scale*p + shift, then inverted for inverse_depth "
                         "(at most 1e6)")
    shift: float = Field(0.0, ge=-1e6, le=1e6, description="added after scale (a disparity offset for inverse_depth; "
                         "within +-1e6)")
    max_depth: float | None = Field(None, gt=0, le=1e6, description="depths beyond this are marked invalid (at most 1e6)")
    input_size: int | None = Field(None, ge=14, le=4096,
                                   description="override the processor's target size (e.g. 252 for speed)")


@functools.lru_cache(maxsize=4)
def _load_depth(model: str, device: str, dtype: str, local_files_only: bool):
    from transformers import AutoModelForDepthEstimation

    net = load_pretrained("transformers-depth", "depth-estimation model", model, local_files_only,
                          lambda: AutoModelForDepthEstimation.from_pretrained(
                              model, local_files_only=local_files_only, dtype=torch_dtype(dtype)))
    return net.to(device).eval(), processor_dict(model, local_files_only)


def _patch_size(config) -> int:
    for cfg in (config, getattr(config, "backbone_config", None)):
        patch = getattr(cfg, "patch_size", None)
        if isinstance(patch, int):
            return patch
    return 14


class TransformersDepth(TeacherHelpers, Teacher):
    name = "transformers-depth"
    description = ("Monocular depth from a transformers model (Depth Anything, DPT, ...); relative models only up to "
                   "scale; local weights")
    target = "depth"
    Config = TransformersDepthConfig

    def load(self):
        cfg: TransformersDepthConfig = self.config
        with _load_lock:
            return _load_depth(cfg.model, resolve_device(cfg.device), cfg.dtype, cfg.local_files_only)

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        import torch
        import torch.nn.functional as F

        cfg: TransformersDepthConfig = self.config
        T, H, W = self._frames(frames)
        net, proc = self.load()
        device, dtype = next(net.parameters()).device, next(net.parameters()).dtype
        size = dpt_input_size(H, W, proc, cfg.input_size, _patch_size(net.config))
        mean = proc.get("image_mean") or IMAGENET_MEAN
        std = proc.get("image_std") or IMAGENET_STD
        raw = torch.empty(T, H, W)  # raw prediction at frame size
        with torch.inference_mode():
            for i in range(0, T, cfg.batch_size):
                x = resize_normalise(frames_to_tensor(frames[i:i + cfg.batch_size], device), size, mean, std,
                                     proc.get("do_normalize", True))
                pred = net(pixel_values=x.to(dtype)).predicted_depth.float()  # [B,h',w'] (or [B,1,h',w'])
                if pred.ndim == 3:
                    pred = pred.unsqueeze(1)
                pred = F.interpolate(pred, size=(H, W), mode="bilinear", align_corners=False)[:, 0]
                raw[i:i + len(x)] = pred.cpu()
        depth, valid = to_depth(raw, cfg.output, cfg.scale, cfg.shift, cfg.max_depth)
        return TeacherMaps(name=self.name, target="depth", maps=depth.unsqueeze(-1), valid=valid)


def to_depth(raw: "torch.Tensor", output: str, scale: float = 1.0, shift: float = 0.0,
             max_depth: float | None = None, eps: float = 1e-6):
    """Raw model output [T,H,W] -> (depth [T,H,W] with 0 where invalid, valid [T,H,W] bool).

    output 'depth': depth = scale * raw + shift. output 'inverse_depth': disparity = scale * raw + shift and
    depth = 1 / disparity where disparity > eps. Relative models are affine-invariant in disparity, so with the
    defaults (scale 1, shift 0) the depth is only right up to an unknown scale (and shift in disparity); fit
    scale/shift on a few known depths to make it metric.
    """
    import torch

    value = raw * scale + shift
    if output == "depth":
        valid = torch.isfinite(value) & (value > 0)
        depth = value
    else:
        valid = torch.isfinite(value) & (value > eps)
        depth = 1.0 / value.clamp(min=eps)
    if max_depth is not None:
        valid &= depth <= max_depth
    return torch.where(valid, depth, torch.zeros_like(depth)).float(), valid


# ---------------------------------------------------------------------------------------------- CLIP features
class TransformersClipConfig(TransformersConfig):
    model: str = Field("openai/clip-vit-base-patch16", description="hub id or local folder of a CLIPModel")
    prompt_template: str = Field("a photo of a {}.", pattern=r"\{\}",
                                 description="encode_text wraps each text in this template ('{}' = the text)")
    input_size: int | None = Field(None, ge=16, le=4096,
                                   description="short side fed to the vision tower (default: the model's image_size)")
    keep_aspect: bool = Field(True, description="keep the frame's aspect ratio (interpolating the position "
                                                "embeddings) instead of squashing it to a square")


@functools.lru_cache(maxsize=2)
def _load_clip(model: str, device: str, dtype: str, local_files_only: bool):
    from transformers import AutoTokenizer, CLIPModel

    net = load_pretrained("transformers-clip", "CLIP model", model, local_files_only,
                          lambda: CLIPModel.from_pretrained(model, local_files_only=local_files_only,
                                                            dtype=torch_dtype(dtype)))
    tokenizer = load_pretrained("transformers-clip", "CLIP tokenizer", model, local_files_only,
                                lambda: AutoTokenizer.from_pretrained(model, local_files_only=local_files_only))
    return net.to(device).eval(), tokenizer, processor_dict(model, local_files_only)


class TransformersClip(TeacherHelpers, FeatureTeacher):
    name = "transformers-clip"
    description = ("Dense CLIP patch features (visual projection, L2-normalised, upsampled); text encoded in the same "
                   "space; local weights")
    Config = TransformersClipConfig

    def load(self):
        cfg: TransformersClipConfig = self.config
        with _load_lock:
            return _load_clip(cfg.model, resolve_device(cfg.device), cfg.dtype, cfg.local_files_only)

    def input_size(self, height: int, width: int, net) -> tuple[int, int]:
        cfg: TransformersClipConfig = self.config
        vision = net.config.vision_config
        patch, short = vision.patch_size, cfg.input_size or vision.image_size
        if not cfg.keep_aspect:
            side = _multiple(short, patch, patch)
            return side, side
        s = short / min(height, width)
        return _multiple(height * s, patch, patch), _multiple(width * s, patch, patch)

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        import torch
        import torch.nn.functional as F

        cfg: TransformersClipConfig = self.config
        T, H, W = self._frames(frames)
        net, _, proc = self.load()
        device, dtype = next(net.parameters()).device, next(net.parameters()).dtype
        vision = net.config.vision_config
        h, w = self.input_size(H, W, net)
        gh, gw = h // vision.patch_size, w // vision.patch_size
        interpolate = (h, w) != (vision.image_size, vision.image_size)
        mean = proc.get("image_mean") or CLIP_MEAN
        std = proc.get("image_std") or CLIP_STD
        dim = net.config.projection_dim
        maps = torch.empty(T, H, W, dim)  # [T,H,W,P]
        with torch.inference_mode():
            for i in range(0, T, cfg.batch_size):
                x = resize_normalise(frames_to_tensor(frames[i:i + cfg.batch_size], device), (h, w), mean, std,
                                     proc.get("do_normalize", True))
                out = net.vision_model(pixel_values=x.to(dtype), interpolate_pos_encoding=interpolate)
                tokens = net.vision_model.post_layernorm(out.last_hidden_state[:, 1:, :])  # [B,gh*gw,Dv]
                feats = F.normalize(net.visual_projection(tokens).float(), dim=-1)  # [B,gh*gw,P]
                feats = feats.view(len(x), gh, gw, dim).permute(0, 3, 1, 2)  # [B,P,gh,gw]
                feats = F.interpolate(feats, size=(H, W), mode="bilinear", align_corners=False)
                maps[i:i + len(x)] = F.normalize(feats, dim=1).permute(0, 2, 3, 1).cpu()  # [B,H,W,P]
        return TeacherMaps(name=self.name, target="feature", maps=maps, valid=None)

    def encode_text(self, texts):
        import torch
        import torch.nn.functional as F

        from worldsim.text import as_texts

        cfg: TransformersClipConfig = self.config
        texts = as_texts(texts)
        net, tokenizer, _ = self.load()
        if not texts:
            return torch.zeros(0, net.config.projection_dim)
        device = next(net.parameters()).device
        prompts = [cfg.prompt_template.format(t) for t in texts]
        batch = tokenizer(prompts, padding=True, truncation=True, return_tensors="pt",
                          max_length=net.config.text_config.max_position_embeddings)
        with torch.inference_mode():
            out = net.get_text_features(input_ids=batch["input_ids"].to(device),
                                        attention_mask=batch["attention_mask"].to(device))
        emb = out if isinstance(out, torch.Tensor) else out.pooler_output  # [Q,P] (transformers 4 / 5)
        return F.normalize(emb.float(), dim=-1).cpu()
