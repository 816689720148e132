"""Where and in which precision a model runs, and loading transformers models quietly.

- `resolve_device(name)`: "auto" -> "cuda" when CUDA is available, else "cpu"; any other name as given.
- `torch_dtype(name)`: "float32" | "float16" | "bfloat16" -> the torch dtype.
- `quiet_loading()`: a context manager that silences transformers' "Loading weights" progress bar.

torch and transformers are imported inside the functions, never when this module is imported.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def torch_dtype(name: str) -> "torch.dtype":
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


@contextlib.contextmanager
def quiet_loading():
    """Silence transformers' 'Loading weights' progress bar for the duration of a load."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()
