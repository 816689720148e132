"""Frames for the model answerers: N frames sampled evenly from the run's video, resized, as PIL images or
base64 PNG data URLs. numpy + PIL only (no torchvision video processors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldsim.errors import InputError
from worldsim.types import ScoreInput


def sample_indices(total: int, n: int) -> list[int]:
    """n frame indices spread evenly over [0, total-1], first and last included (all frames when n >= total)."""
    if total < 1:
        raise InputError("the video has no frames")
    if n < 1:
        raise InputError(f"num_frames must be >= 1; got {n}")
    if n >= total:
        return list(range(total))
    if n == 1:
        return [total // 2]
    return [round(i * (total - 1) / (n - 1)) for i in range(n)]


def video_path(inputs: ScoreInput) -> Path:
    if inputs.video is None:
        raise InputError("this run has no video; a model answerer needs the generated clip")
    path = Path(inputs.run_dir) / inputs.video.video
    if not path.is_file():
        raise InputError(f"the video '{path}' does not exist; is the run folder complete?")
    return path


def load_frames(inputs: ScoreInput, n: int, max_side: int | None = None) -> tuple[np.ndarray, list[int], float]:
    """(frames [n,H,W,3] uint8, their indices in the clip, fps) from the run's video."""
    from worldsim.io.video import read_mp4

    frames, fps = read_mp4(video_path(inputs))
    idx = sample_indices(len(frames), n)
    picked = np.stack([frames[i] for i in idx])
    return (resize_frames(picked, max_side) if max_side else picked), idx, fps


def resize_frames(frames: np.ndarray, max_side: int) -> np.ndarray:
    """Frames [T,H,W,3] uint8 scaled so the longer side is `max_side` (aspect kept; bicubic)."""
    from PIL import Image

    h, w = frames.shape[1:3]
    scale = max_side / max(h, w)
    if scale == 1:
        return frames
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BICUBIC)) for f in frames])


def to_pil(frames: np.ndarray) -> list:
    from PIL import Image

    return [Image.fromarray(np.ascontiguousarray(f)) for f in frames]


def data_url(frame: np.ndarray) -> str:
    """One frame [H,W,3] uint8 as a PNG data URL (what OpenAI-style image_url content parts carry)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
