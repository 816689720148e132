"""MP4 (H.264, yuv420p) writing and reading through imageio-ffmpeg's bundled ffmpeg.

Encoding is bit-exact (no timestamps or encoder strings that vary), so the same frames give the same
file on the same machine. Writes go to a temporary name first, then rename.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from worldsim.artifacts import atomic_path
from worldsim.errors import InputError

_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", "-preset", "medium", "-crf", "16", "-threads", "1"]


def write_mp4(path: str | os.PathLike, frames: np.ndarray, fps: int) -> Path:
    """frames: [T,H,W,3] uint8 RGB. H and W must be even (yuv420p)."""
    import imageio_ffmpeg

    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T,H,W,3], got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise InputError(f"video size {w}x{h} must be even in both dimensions for H.264 yuv420p")
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
            quality=None, output_params=_BITEXACT, ffmpeg_log_level="error",
        )
        writer.send(None)
        for frame in frames:
            writer.send(frame)
        writer.close()
    return path


def read_mp4(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Returns (frames [T,H,W,3] uint8, fps)."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = gen.__next__()
    w, h = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3) for buf in gen]
    return np.stack(frames), float(meta["fps"])
