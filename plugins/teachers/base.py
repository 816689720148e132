"""The teacher interface: 2D models (or exact labels) that supervise a 4D Gaussian feature-field reconstructor.

A teacher subclasses `worldsim.stages.Teacher` (or `FeatureTeacher`). It is not a pipeline step: a reconstructor names the teachers
it wants in its own config and calls them on the video it reconstructs.

    teacher = get_stage("teacher", "label-text", {"background": "background"})
    maps = teacher.run(frames, labels=labels, arrays=arrays)   # -> TeacherMaps

Inputs of `run(frames, labels=None, arrays=None)`:
  frames  np.ndarray [T,H,W,3] uint8 RGB, the video.
  labels  dict or None: the generator's `labels.json` (objects [{id, name, color, ...}], camera, ...).
  arrays  dict[str, np.ndarray] or None: the generator's `labels.safetensors`
          (masks [T,H,W] uint8 instance ids, 0 = background; depth [T,H,W] float32 along camera z).

Output: `TeacherMaps(name, target, maps [T,H,W,D] float32 CPU tensor, valid [T,H,W] bool or None, labels)`,
aligned pixel for pixel with `frames`:
  target "feature": D-dim features, L2-normalised per pixel;
  target "depth":   D = 1, depth along the camera z axis (metres for metric teachers, see each description);
  target "mask":    D = 1, integer instance ids stored as float, `labels[id]` the text of each id.

Feature teachers (`FeatureTeacher`) also implement `encode_text(texts) -> torch.Tensor [Q,D]`, L2-normalised,
in the SAME space as their per-pixel features, so an editor can score Gaussians against a text query
(cosine = dot product).

Teachers that need labels or arrays they were not given raise `InputError` naming what is missing and a
teacher that works without it. Heavy imports (torch, transformers) happen inside methods.
"""

from __future__ import annotations

import numpy as np

from worldsim.errors import InputError

__all__ = ["TeacherHelpers", "check_frames", "require_array", "require_labels"]


class TeacherHelpers:
    """Input checks shared by the built-in teachers (mixed into subclasses of worldsim.stages.Teacher)."""

    name: str
    without_labels: str

    def _frames(self, frames: np.ndarray) -> tuple[int, int, int]:
        return check_frames(frames, self.name)

    def _array(self, arrays: dict | None, key: str, shape: tuple[int, ...], what: str) -> np.ndarray:
        return require_array(arrays, key, shape, self.name, what, self.without_labels)

    def _labels(self, labels: dict | None, key: str, what: str):
        return require_labels(labels, key, self.name, what, self.without_labels)


def check_frames(frames, teacher: str) -> tuple[int, int, int]:
    """Validate a video array; returns (T, H, W)."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        got = (f"{type(frames).__name__} {getattr(frames, 'dtype', '')} {tuple(getattr(frames, 'shape', ()))}")
        raise InputError(f"teacher '{teacher}': frames must be a numpy uint8 array [T,H,W,3]; got {got}")
    T, H, W, _ = frames.shape
    if min(T, H, W) < 1:
        raise InputError(f"teacher '{teacher}': frames must be non-empty; got shape {frames.shape}")
    return T, H, W


def _hint(alternative: str) -> str:
    return f"; for a video without labels use {alternative}" if alternative else ""


def require_array(arrays: dict | None, key: str, shape: tuple[int, ...], teacher: str, what: str,
                  alternative: str = "") -> np.ndarray:
    """arrays[key] with exactly `shape`, or an InputError naming the array and a teacher that needs none."""
    if arrays is None or key not in arrays or arrays[key] is None:
        raise InputError(f"teacher '{teacher}' needs arrays['{key}'] ({what}), which was not given{_hint(alternative)}")
    value = np.asarray(arrays[key])
    if value.shape != tuple(shape):
        raise InputError(f"teacher '{teacher}': arrays['{key}'] has shape {value.shape}; expected {tuple(shape)} "
                         f"to match the frames")
    return value


def require_labels(labels: dict | None, key: str, teacher: str, what: str, alternative: str = ""):
    """labels[key], or an InputError naming the key and a teacher that needs no labels."""
    if not isinstance(labels, dict) or labels.get(key) is None:
        raise InputError(f"teacher '{teacher}' needs labels['{key}'] ({what}), which was not given{_hint(alternative)}")
    return labels[key]
