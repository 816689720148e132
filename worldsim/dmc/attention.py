"""Record the attention of latent positions to an object phrase's text tokens, gradients intact.

One mechanism for every diffusers backbone (UNet3D / UNetMotionModel, CogVideoX, Wan, Cosmos, the
tiny text-to-video UNet): each selected attention module's processor is wrapped. While the recorder
is `active`, the wrapper runs the original processor unchanged and captures the query and key that
processor hands to its attention kernel (`torch.nn.functional.scaled_dot_product_attention`, or
diffusers' `dispatch_attention_fn` in the processor's own module), so rotary embeddings, QK norms
and GQA are exactly the model's. From them it recomputes the text-key softmax for the video queries
and stores, per layer call, the head-averaged probability summed over each phrase's tokens.

API (stable; other backends import it):

- `phrase_token_indices(tokenizer, prompt, phrase, max_length=None) -> list[int]`: token positions of `phrase` in the
  tokenised `prompt` (special tokens included, as the pipelines encode), found through the fast
  tokenizer's `offset_mapping`. InputError when the phrase is not in the prompt or was truncated.
- `AttentionRecorder(token_groups, layout)`: `token_groups` one list of token indices per phrase
  (P groups); `layout` "frames-in-batch" (UNet spatial transformers: rows are b*T + t, columns a
  frame's h*w positions) or "tokens" (DiTs: rows are the batch, columns T*h*w patch tokens, frame-major,
  then rows, then columns). `active` switches capture on; `reset()` drops the stored maps;
  `entries` is a list of (layer name, Tensor [rows, positions, P]). With `stop_after = n` the wrapper
  raises `StopForward` once n maps are recorded, so a guidance forward skips the blocks after the last
  guided layer (the caller catches it; `None`, the default, never stops).
  `layer_maps(frames, height, width, batch_index=-1) -> list[(name, Tensor [T, h_l, w_l, P])]` at each
  layer's own resolution (height/width: the latent/token grid of the finest layer; a UNet layer's
  grid is found by halving it); `maps_for(frames, height, width, batch_index=-1) -> Tensor
  [L, T, height, width, P]`, every layer resized bilinearly to height x width. `batch_index` picks the
  sample (with classifier-free guidance diffusers batches [uncond, cond], so -1 is the conditional one).
- `install_recorders(model, recorder, layer_filter=None, mode="cross") -> RecorderHandle`: wraps the
  processor of every diffusers attention module of `model` (any nn.Module tree) for which
  `layer_filter(name, module)` is true (default: every cross-attention module in "cross" mode, every
  attention module in "joint-video-text" mode). Modules are patched one by one (`module.processor`),
  so models without `set_attn_processor` (Cosmos) work too. `handle.remove()` restores the original
  processors; the handle is also a context manager. `handle.names` lists the wrapped modules.
  mode "cross": keys are the encoder (text) states; "joint-video-text": CogVideoX-style joint
  attention where the text tokens come first in the key/query sequence; queries are the video
  tokens, keys the text tokens.
- `attention_modules(model) -> list[(name, module)]`: every diffusers attention module, with
  `is_cross(module)` telling cross-attention ones apart.

Each recorded map is normalised over the text keys only (each position's text attention sums to 1,
A_{u,n} with sum_n A_{u,n} = 1 as in Mojito eq. 10.5), also for joint attention, where the softmax is
taken over the text-key slice of the logits: this keeps the video->video part (the bulk of the
attention matrix) out of memory.

The wrapper's `__call__` exposes the inner processor's signature (`functools.wraps`, which sets
`__wrapped__`; `inspect.signature` follows it), because `Attention.forward` drops every keyword the
processor's signature does not name (`image_rotary_emb`, `rotary_emb`, ...).
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
from typing import Callable, Literal

from worldsim.errors import InputError

Mode = Literal["cross", "joint-video-text"]
Layout = Literal["frames-in-batch", "tokens"]


def phrase_token_indices(tokenizer, prompt: str, phrase: str, max_length: int | None = None) -> list[int]:
    """Token positions of `phrase` (first occurrence, case-insensitive, word start) in `prompt`.

    max_length: the pipeline's text length when it is shorter than `tokenizer.model_max_length`
    (CogVideoX/Wan `max_sequence_length`); tokens past it count as truncated.
    """
    match = re.search(r"(?<!\w)" + re.escape(phrase.strip()), prompt, flags=re.IGNORECASE)
    if not phrase.strip() or match is None:
        raise InputError(f"object phrase {phrase!r} does not occur in the prompt {prompt!r}")
    start, end = match.span()
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"tokenizer {type(tokenizer).__name__} has no offset mapping; a fast (tokenizers) tokenizer is needed")
    limit = getattr(tokenizer, "model_max_length", None)
    if max_length is not None:
        limit = min(max_length, limit) if limit else max_length
    enc = tokenizer(prompt, return_offsets_mapping=True, add_special_tokens=True,
                    truncation=bool(limit and limit < 10**6), max_length=limit if limit and limit < 10**6 else None)
    indices = [i for i, (a, b) in enumerate(enc["offset_mapping"]) if b > a and a < end and b > start]
    if not indices:
        raise InputError(f"object phrase {phrase!r} was truncated from the prompt (max {limit} tokens): {prompt!r}")
    return indices


def attention_modules(model) -> list[tuple[str, object]]:
    """(name, module) of every diffusers attention module (anything with a `processor` and `to_q`)."""
    return [(n, m) for n, m in model.named_modules() if hasattr(m, "processor") and hasattr(m, "to_q")]


def is_cross(module) -> bool:
    return bool(getattr(module, "is_cross_attention", False))


class StopForward(Exception):
    """Raised by a wrapped layer when the recorder has all the maps it needs (`stop_after`)."""


class AttentionRecorder:
    """Holds the recorded phrase attention of the current step; see the module docstring."""

    def __init__(self, token_groups: list[list[int]], layout: Layout = "frames-in-batch"):
        if not token_groups or any(not g for g in token_groups):
            raise InputError(f"token_groups must be non-empty lists of token indices, got {token_groups!r}")
        if layout not in ("frames-in-batch", "tokens"):
            raise InputError(f"layout {layout!r}: accepted frames-in-batch, tokens")
        self.token_groups = [list(map(int, g)) for g in token_groups]
        self.layout = layout
        self.active = False
        self.stop_after: int | None = None
        self.entries: list[tuple[str, object]] = []

    def reset(self) -> None:
        self.entries = []

    @contextlib.contextmanager
    def recording(self):
        """Capture inside the block (entries reset on entry)."""
        self.reset()
        self.active, prev = True, self.active
        try:
            yield self
        finally:
            self.active = prev

    def record(self, name: str, probs) -> None:
        """probs [rows, positions, text tokens] (already head-averaged) -> stores [rows, positions, P]."""
        import torch

        groups = [probs[..., g].sum(-1) for g in self.token_groups]
        self.entries.append((name, torch.stack(groups, dim=-1)))

    def layer_maps(self, frames: int, height: int, width: int, batch_index: int = -1):
        out = []
        for name, x in self.entries:
            rows, positions, p = x.shape
            if self.layout == "tokens":
                if positions % frames:
                    raise ValueError(f"layer {name}: {positions} tokens do not split into {frames} frames")
                h, w = _grid(positions // frames, height, width, name)
                out.append((name, x[batch_index].reshape(frames, h, w, p)))
            else:
                if rows % frames:
                    raise ValueError(f"layer {name}: {rows} rows do not split into {frames} frames")
                h, w = _grid(positions, height, width, name)
                b = rows // frames
                out.append((name, x.reshape(b, frames, h, w, p)[batch_index]))
        return out

    def maps_for(self, frames: int, height: int, width: int, batch_index: int = -1):
        import torch
        import torch.nn.functional as F

        maps = []
        for _, m in self.layer_maps(frames, height, width, batch_index):
            if m.shape[1:3] != (height, width):
                m = F.interpolate(m.permute(0, 3, 1, 2), size=(height, width), mode="bilinear",
                                  align_corners=False).permute(0, 2, 3, 1)
            maps.append(m)
        if not maps:
            raise ValueError("no attention recorded: no wrapped layer ran while the recorder was active")
        return torch.stack(maps)


def _grid(positions: int, height: int, width: int, name: str) -> tuple[int, int]:
    h, w = height, width
    for _ in range(8):
        if h * w == positions:
            return h, w
        h, w = -(-h // 2), -(-w // 2)
    raise ValueError(f"layer {name}: {positions} positions match no downsampling of the {height}x{width} grid")


class RecorderHandle:
    def __init__(self, patched: list[tuple[str, object, object]]):
        self._patched = patched
        self.names = [n for n, _, _ in patched]

    def remove(self) -> None:
        for _, module, original in reversed(self._patched):
            _set_processor(module, original)
        self._patched = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def install_recorders(model, recorder: AttentionRecorder, layer_filter: Callable[[str, object], bool] | None = None,
                      mode: Mode = "cross") -> RecorderHandle:
    if mode not in ("cross", "joint-video-text"):
        raise InputError(f"attention capture mode {mode!r}: accepted cross, joint-video-text")
    if layer_filter is None:
        layer_filter = (lambda n, m: is_cross(m)) if mode == "cross" else (lambda n, m: True)
    patched = []
    for name, module in attention_modules(model):
        if not layer_filter(name, module):
            continue
        original = module.processor
        _set_processor(module, _wrap(original, recorder, name, mode))
        patched.append((name, module, original))
    return RecorderHandle(patched)


def _set_processor(module, processor) -> None:
    if hasattr(module, "set_processor"):
        module.set_processor(processor)
    else:
        module.processor = processor


class _RecordingProcessor:
    """Base of the generated wrapper classes; `__call__` is added per inner processor type."""

    def __init__(self, inner, recorder: AttentionRecorder, name: str, mode: Mode):
        self.inner, self.recorder, self.name, self.mode = inner, recorder, name, mode

    def __getattr__(self, item):  # backend switches such as `_attention_backend` live on the inner processor
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)


@functools.lru_cache(maxsize=None)
def _wrapper_class(inner_cls: type) -> type:
    @functools.wraps(inner_cls.__call__)
    def __call__(self, attn, hidden_states, *args, **kwargs):
        if not self.recorder.active:
            return self.inner(attn, hidden_states, *args, **kwargs)
        text = kwargs.get("encoder_hidden_states", args[0] if args else None)
        calls: list = []
        with _capture_attention(type(self.inner), calls):
            out = self.inner(attn, hidden_states, *args, **kwargs)
        if text is None:
            return out  # self-attention call (e.g. a temporal layer passed the filter): nothing to record
        rec = self.recorder
        rec.record(self.name, _phrase_probs(calls, text.shape[1], self.mode, type(self.inner).__name__))
        if rec.stop_after is not None and len(rec.entries) >= rec.stop_after:
            raise StopForward(self.name)
        return out

    return type(f"Recording{inner_cls.__name__}", (_RecordingProcessor,), {"__call__": __call__})


def _wrap(inner, recorder, name, mode):
    return _wrapper_class(type(inner))(inner, recorder, name, mode)


@contextlib.contextmanager
def _capture_attention(processor_cls: type, calls: list):
    """Record (query, key, attn_mask, scale) of every attention-kernel call, as [B, heads, L, D]."""
    import torch.nn.functional as F

    sdpa = F.scaled_dot_product_attention

    def sdpa_capture(query, key, value, attn_mask=None, *args, **kwargs):
        calls.append((query, key, attn_mask, kwargs.get("scale")))
        return sdpa(query, key, value, attn_mask, *args, **kwargs)

    module = sys.modules.get(processor_cls.__module__)
    dispatch = getattr(module, "dispatch_attention_fn", None)

    def dispatch_capture(query, key, value, attn_mask=None, *args, **kwargs):  # layout [B, L, heads, D]
        calls.append((query.transpose(1, 2), key.transpose(1, 2), attn_mask, kwargs.get("scale")))
        return dispatch(query, key, value, attn_mask, *args, **kwargs)

    F.scaled_dot_product_attention = sdpa_capture
    if dispatch is not None:
        module.dispatch_attention_fn = dispatch_capture
    try:
        yield calls
    finally:
        F.scaled_dot_product_attention = sdpa
        if dispatch is not None:
            module.dispatch_attention_fn = dispatch


def _phrase_probs(calls: list, text_len: int, mode: Mode, processor_name: str):
    """Head-averaged softmax over the text keys for the video queries: [B, Lq, text_len] float32."""
    import math

    import torch

    if mode == "cross":
        found = [c for c in calls if c[1].shape[-2] == text_len]
    else:
        found = [c for c in calls if c[1].shape[-2] > text_len and c[0].shape[-2] == c[1].shape[-2]]
    if not found:
        raise RuntimeError(f"{processor_name}: no attention-kernel call with {text_len} text keys was captured "
                           f"(mode {mode}); the processor must use scaled_dot_product_attention or dispatch_attention_fn")
    query, key, mask, scale = found[-1]
    if mode == "joint-video-text":
        query, key = query[:, :, text_len:], key[:, :, :text_len]
        mask = None if mask is None else mask[..., text_len:, :text_len]
    scale = scale if scale is not None else 1.0 / math.sqrt(query.shape[-1])
    logits = (query.float() @ key.float().transpose(-1, -2)) * scale  # [B, heads, Lq, Lt]
    if mask is not None and mask.shape[-1] == logits.shape[-1]:
        logits = logits.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else logits + mask.float()
    return logits.softmax(-1).mean(1)
