"""Tiny offline tokenizers for tests of the diffusers backends (built with the tokenizers library, no download).

- `tiny_clip_tokenizer(path=None)`: character-level CLIP BPE (a-z, 0-9), max length 77.
- `tiny_t5_tokenizer(path=None)`: word-level T5 Unigram for the plan words, falling back to characters.
Both return a fast tokenizer (offset_mapping works); with `path` they are also saved there.
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
