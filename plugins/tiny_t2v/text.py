"""Per-token MiniLM states for cross-attention, from the bundled all-MiniLM-L6-v2 (frozen).

`worldsim.text` exposes pooled sentence vectors; the same loaded encoder holds the
tokenizer and BERT model, whose `last_hidden_state` gives one 384-d state per token. Captions are padded
(or truncated) to `length` tokens with the tokenizer's [PAD] and encoded with the attention mask, as
Stable Diffusion does with CLIP: the padded positions' states are part of the context the model learned
with, and the token positions match `phrase_token_indices` (padding is on the right).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from worldsim.errors import InputError

_cache: dict[tuple[str, int], torch.Tensor] = {}


def tokenizer():
    from worldsim.text import get_text_encoder

    return get_text_encoder().tokenizer


def token_states(texts: Sequence[str] | str, length: int) -> torch.Tensor:
    """texts -> [B,length,384] float32, frozen MiniLM hidden states (cached per text)."""
    from worldsim.text import as_texts, get_text_encoder

    texts = as_texts(texts)
    missing = [t for t in dict.fromkeys(texts) if (t, length) not in _cache]
    if missing:
        enc = get_text_encoder()
        batch = enc.tokenizer(missing, padding="max_length", truncation=True, max_length=length, return_tensors="pt")
        with torch.inference_mode():
            hidden = enc.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                               token_type_ids=torch.zeros_like(batch["input_ids"])).last_hidden_state
        for text, h in zip(missing, hidden.float()):
            _cache[(text, length)] = h.clone()
    return torch.stack([_cache[(t, length)] for t in texts])


def phrase_tokens(prompt: str, phrase: str, length: int) -> list[int]:
    """Token positions of `phrase` in `prompt`; InputError when absent or past the `length` tokens the model sees."""
    from worldsim.dmc.attention import phrase_token_indices

    indices = phrase_token_indices(tokenizer(), prompt, phrase)
    if max(indices) >= length:
        raise InputError(f"object phrase {phrase!r} lies beyond the model's {length} text tokens in {prompt!r}; "
                         f"use a shorter prompt")
    return indices
