"""Teachers read from a generator's exact labels: `label-text` (features), `label-depth`, `label-masks`.

They need the generator's `labels.json` (objects [{id, name, color, ...}]) and `labels.safetensors`
(masks [T,H,W] uint8 instance ids, depth [T,H,W] float32) and are the offline defaults for generated clips.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from worldsim.errors import InputError
from worldsim.stages import FeatureTeacher, StageConfig, Teacher
from worldsim.types.teacher import TeacherMaps

from .base import TeacherHelpers, require_labels

MASKS_WHAT = "the generator's instance masks [T,H,W], 0 = background"
OBJECTS_WHAT = "the generator's labels.json objects [{id, name, color}]"


class LabelTextConfig(StageConfig):
    template: str = Field("{color} {name}", description="text of an instance from its labels.json object fields")
    fallback_template: str = Field("{name}", description="used when `template` names a field the object lacks")
    background: str = Field("background", description="text whose embedding background pixels (id 0) get")
    background_valid: bool = Field(True, description="whether background pixels count as supervision (valid)")


def instance_texts(labels: dict | None, teacher: str, template: str, fallback: str, background: str,
                   alternative: str = "") -> dict[int, str]:
    """Instance id -> text (0 -> background), from labels['objects']."""
    objects = require_labels(labels, "objects", teacher, OBJECTS_WHAT, alternative)
    texts = {0: background}
    for obj in objects:
        if not isinstance(obj, dict) or "id" not in obj:
            raise InputError(f"teacher '{teacher}': labels['objects'] entries need an 'id'; got {obj!r}")
        fields = {k: v for k, v in obj.items() if v not in (None, "")}
        try:
            text = template.format(**fields)
        except (KeyError, IndexError):
            try:
                text = fallback.format(**fields)
            except (KeyError, IndexError):
                raise InputError(f"teacher '{teacher}': object {obj['id']} has none of the fields that template "
                                 f"{template!r} or fallback {fallback!r} name; fields: {', '.join(fields)}") from None
        texts[int(obj["id"])] = " ".join(text.split())
    return texts


def _check_ids(masks: np.ndarray, texts: dict[int, str], teacher: str) -> None:
    unknown = sorted(set(np.unique(masks).tolist()) - set(texts))
    if unknown:
        raise InputError(f"teacher '{teacher}': masks contain instance id(s) {unknown} that labels['objects'] does "
                         f"not list; known ids: {sorted(texts)}")


class LabelText(TeacherHelpers, FeatureTeacher):
    name = "label-text"
    description = ("MiniLM (384-d) embedding of each instance's label text ('red ball') at its exact mask pixels; "
                   "offline default")
    Config = LabelTextConfig
    dim = 384
    without_labels = "'transformers-clip'"

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        import torch

        from worldsim.text import embed_texts

        cfg: LabelTextConfig = self.config
        T, H, W = self._frames(frames)
        masks = self._array(arrays, "masks", (T, H, W), MASKS_WHAT)
        texts = instance_texts(labels, self.name, cfg.template, cfg.fallback_template, cfg.background,
                               self.without_labels)
        _check_ids(masks, texts, self.name)
        ids = sorted(texts)
        palette = torch.zeros(max(ids) + 1, self.dim)  # [K+1,384], row = instance id
        palette[ids] = embed_texts([texts[i] for i in ids])
        index = torch.from_numpy(masks.astype(np.int64))  # [T,H,W]
        maps = palette[index]  # [T,H,W,384]
        valid = None if cfg.background_valid else index != 0
        return TeacherMaps(name=self.name, target="feature", maps=maps, valid=valid)

    def encode_text(self, texts):
        from worldsim.text import embed_texts

        return embed_texts(texts)


class LabelDepthConfig(StageConfig):
    pass


class LabelDepth(TeacherHelpers, Teacher):
    name = "label-depth"
    description = "The generator's exact expected depth along camera z (metres); valid where finite and > 0"
    target = "depth"
    Config = LabelDepthConfig
    without_labels = "'plane-depth' or 'transformers-depth'"

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        import torch

        T, H, W = self._frames(frames)
        depth = self._array(arrays, "depth", (T, H, W), "the generator's depth [T,H,W] float32 along camera z")
        depth = torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32)).clone()  # [T,H,W]
        valid = torch.isfinite(depth) & (depth > 0)
        maps = torch.where(valid, depth, torch.zeros_like(depth)).unsqueeze(-1)  # [T,H,W,1]
        return TeacherMaps(name=self.name, target="depth", maps=maps, valid=valid)


class LabelMasksConfig(StageConfig):
    template: str = Field("{color} {name}", description="text of an instance from its labels.json object fields")
    fallback_template: str = Field("{name}", description="used when `template` names a field the object lacks")
    background: str = Field("background", description="label of id 0")


class LabelMasks(TeacherHelpers, Teacher):
    name = "label-masks"
    description = "The generator's exact instance masks (id per pixel, 0 = background) with their label texts"
    target = "mask"
    Config = LabelMasksConfig

    def run(self, frames, labels=None, arrays=None) -> TeacherMaps:
        import torch

        cfg: LabelMasksConfig = self.config
        T, H, W = self._frames(frames)
        masks = self._array(arrays, "masks", (T, H, W), MASKS_WHAT)
        texts = instance_texts(labels, self.name, cfg.template, cfg.fallback_template, cfg.background)
        _check_ids(masks, texts, self.name)
        names = [texts.get(i, f"object {i}") for i in range(max(texts) + 1)]  # index = id
        maps = torch.from_numpy(masks.astype(np.float32)).unsqueeze(-1)  # [T,H,W,1]
        return TeacherMaps(name=self.name, target="mask", maps=maps, valid=None, labels=names)
