"""Open-vocabulary detection with the OWL-ViT class family through transformers, loaded by id or local path.

`load_detector(model, device, local_files_only)` returns (model, image processor, tokenizer): the model
class follows the checkpoint's `model_type` (owlvit -> OwlViTForObjectDetection, owlv2 ->
Owlv2ForObjectDetection); the image processor is the PIL backend (`backend="pil"`), so torchvision is
never needed. `detect(frames, queries, ...)` runs one text query per object on every frame and keeps,
per frame and query, the `top_k` highest-scoring boxes as normalised xyxy of the original frame.
OWLv2 pads frames to a square (bottom / right) before resizing; its boxes are relative to that square
and are mapped back here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from worldsim.errors import ConfigError, MissingDependencyError

MODEL_CLASSES = {"owlvit": "OwlViTForObjectDetection", "owlv2": "Owlv2ForObjectDetection"}


@lru_cache(maxsize=2)
def load_detector(model: str, device: str = "cpu", local_files_only: bool = True):
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("transformers", "the conformance scorer's OWL-ViT detector") from exc
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(model, local_files_only=local_files_only)
        if config.model_type not in MODEL_CLASSES:
            raise ConfigError(f"conformance detector '{model}' is a {config.model_type!r} model; accepted: "
                              f"{', '.join(MODEL_CLASSES)} (the OWL-ViT class family)")
        net = getattr(transformers, MODEL_CLASSES[config.model_type]).from_pretrained(model, local_files_only=local_files_only)
        processor = AutoImageProcessor.from_pretrained(model, local_files_only=local_files_only, backend="pil")
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local_files_only)
    except OSError as exc:
        hint = (" is not available locally (local_files_only=True); its weights must already be on this machine, in the "
                "Hugging Face cache or a folder written by save_pretrained") if local_files_only else f" could not be loaded ({str(exc).splitlines()[0]})"
        raise ConfigError(f"conformance detector '{model}'{hint}") from None
    return net.to(device).eval(), processor, tokenizer


def detect(frames: np.ndarray, queries: list[str], model: str, device: str = "cpu", local_files_only: bool = True,
           top_k: int = 1, batch_size: int = 4) -> list[list[list[tuple[float, list[float]]]]]:
    """frames [T,H,W,3] uint8 -> per query, per frame, up to top_k (score, normalised xyxy box), best first."""
    import torch

    net, processor, tokenizer = load_detector(model, device, local_files_only)
    T, H, W, _ = frames.shape
    text = tokenizer(queries, padding="max_length", truncation=True, return_tensors="pt",
                     max_length=min(16, getattr(tokenizer, "model_max_length", 16)))
    square = net.config.model_type == "owlv2"  # boxes relative to the frame padded to a square
    sx, sy = (max(H, W) / W, max(H, W) / H) if square else (1.0, 1.0)
    out: list[list[list[tuple[float, list[float]]]]] = [[[] for _ in range(T)] for _ in queries]
    with torch.inference_mode():
        for i in range(0, T, batch_size):
            batch = [f for f in frames[i:i + batch_size]]
            pixels = processor(images=batch, return_tensors="pt")["pixel_values"].to(device)
            res = net(input_ids=text["input_ids"].repeat(len(batch), 1).to(device),
                      attention_mask=text["attention_mask"].repeat(len(batch), 1).to(device), pixel_values=pixels)
            logits = res.logits.float().sigmoid()  # [B,P,Q]
            boxes = res.pred_boxes.float()  # [B,P,4] cx, cy, w, h in [0, 1]
            for b in range(len(batch)):
                for q in range(len(queries)):
                    scores, idx = logits[b, :, q].topk(min(top_k, logits.shape[1]))
                    for s, p in zip(scores.tolist(), idx.tolist()):
                        cx, cy, w, h = boxes[b, p].tolist()
                        box = [(cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy]
                        out[q][i + b].append((float(s), [float(min(1.0, max(0.0, v))) for v in box]))
    return out
