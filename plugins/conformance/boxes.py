"""Where the measured per-frame boxes of each planned object instance come from.

Every source returns `Measured`: boxes [K][T] (normalised xyxy or None) in the order of
`worldsim.planning.plan_tracks` (objects of the plan, then their copies), plus confidences [K][T]
when the source has them (the detector).

    labels     the generator's exact labels: labels.json objects[k].frames[t].box
    attention  the generator's per-instance attention maps (attention.safetensors 'maps' [K,T,h,w]):
               upsampled bilinearly to the frame, pixels >= `attention_threshold` x the frame's peak,
               the box of those pixels
    color      worldsim.detect_color on the frames, the object's named colour
    field      the reconstruction's feature field: Gaussians with p("{color} {name}" | Gaussian) >=
               `field_threshold` against the other objects and background terms
               (worldsim.selection), rendered from the input camera as masks
    detector   an OWL-ViT-family open-vocabulary detector, query "a photo of a {color} {name}"

Sources that see an object (colour, field, detector) rather than an instance: with one copy, the box
of the whole mask (or the best detection); with several copies, the mask's connected components (or
the top detections) are matched to that object's planned boxes frame by frame, greedily by IoU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugins.conformance.metrics import iou
from worldsim.errors import InputError
from worldsim.labels import read_labels
from worldsim.types import ObjectTrack, Plan, ScoreInput

SOURCES = ("labels", "color", "attention", "field", "detector")


@dataclass
class Measured:
    source: str
    boxes: list[list[list[float] | None]]  # [K][T]
    scores: list[list[float | None]] | None = None  # [K][T] detector confidences


def load_frames(inputs: ScoreInput) -> np.ndarray:
    """[T,H,W,3] uint8: the generator's lossless frames (labels.safetensors 'frames') when present, else the MP4."""
    run_dir, video = Path(inputs.run_dir), inputs.video
    if video.arrays and (run_dir / video.arrays).is_file():
        from safetensors import safe_open

        with safe_open(str(run_dir / video.arrays), "numpy") as f:
            if "frames" in f.keys():
                return f.get_tensor("frames")
    from worldsim.io.video import read_mp4

    return read_mp4(run_dir / video.video)[0]


def object_text(obj) -> str:
    return " ".join(f"{obj.color or ''} {obj.name}".split())


def _assign(candidates: list[list[list[float]]], planned: list[list[tuple]]) -> list[list[list[float] | None]]:
    """candidates [T][C] boxes, planned [k][T] boxes -> [k][T]: per frame, greedy max-IoU matching."""
    k, T = len(planned), len(candidates)
    out: list[list[list[float] | None]] = [[None] * T for _ in range(k)]
    for t in range(T):
        pairs = sorted(((iou(c, planned[j][t]), j, c_i) for j in range(k) for c_i, c in enumerate(candidates[t])), reverse=True)
        used_j, used_c = set(), set()
        for _, j, c_i in pairs:
            if j not in used_j and c_i not in used_c:
                out[j][t] = candidates[t][c_i]
                used_j.add(j)
                used_c.add(c_i)
    return out


def _component_boxes(mask: np.ndarray, min_pixels: int) -> list[list[float]]:
    import cv2

    from worldsim.detect_color import mask_box

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [mask_box(labels == c) for c in range(1, n) if stats[c, cv2.CC_STAT_AREA] >= min_pixels]


def _per_object(plan: Plan, tracks: list[ObjectTrack], masks_of, min_pixels: int) -> list[list[list[float] | None]]:
    """masks_of(object index) -> [T,H,W] bool; returns boxes per instance."""
    boxes: list[list[list[float] | None]] = [None] * len(tracks)  # type: ignore[list-item]
    for o in range(len(plan.objects)):
        ks = [k for k, tr in enumerate(tracks) if tr.object_index == o]
        masks = masks_of(o)
        if len(ks) == 1:
            boxes[ks[0]] = [_union_box(m, min_pixels) for m in masks]
        else:
            found = _assign([_component_boxes(m, min_pixels) for m in masks], [list(tracks[k].track.boxes) for k in ks])
            for k, b in zip(ks, found):
                boxes[k] = b
    return boxes


def _union_box(mask: np.ndarray, min_pixels: int) -> list[float] | None:
    from worldsim.detect_color import drop_small, mask_box

    return mask_box(drop_small(mask, min_pixels))


def from_labels(inputs: ScoreInput, tracks: list[ObjectTrack]) -> Measured:
    if not inputs.video.labels:
        raise InputError(f"boxes 'labels': generator '{inputs.video.generator}' wrote no labels.json; use boxes: color, attention, field or detector")
    labels = read_labels(Path(inputs.run_dir) / inputs.video.labels)
    by_key = {(o.object_index, o.instance): o for o in labels.objects}
    boxes = []
    for tr in tracks:
        obj = by_key.get((tr.object_index, tr.instance))
        if obj is None:
            raise InputError(f"boxes 'labels': labels.json has no object {tr.object_index} copy {tr.instance}; its plan differs from the scored one")
        boxes.append([f.box for f in obj.frames])
    return Measured("labels", boxes)


def from_color(inputs: ScoreInput, tracks: list[ObjectTrack], frames: np.ndarray, min_pixels: int) -> Measured:
    from worldsim.detect_color import color_mask

    for obj in inputs.plan.objects:
        if not obj.color:
            raise InputError(f"boxes 'color': the plan's '{obj.name}' has no colour to segment; use boxes: labels, attention, field or detector")
    return Measured("color", _per_object(inputs.plan, tracks, lambda o: color_mask(frames, inputs.plan.objects[o].color), min_pixels))


def from_attention(inputs: ScoreInput, tracks: list[ObjectTrack], threshold: float) -> Measured:
    import cv2
    from safetensors.numpy import load_file

    from worldsim.detect_color import mask_box

    if not inputs.video.attention:
        raise InputError(f"boxes 'attention': generator '{inputs.video.generator}' wrote no attention maps; use boxes: labels, color, field or detector")
    maps = load_file(str(Path(inputs.run_dir) / inputs.video.attention))["maps"]  # [K,T,h,w]
    K, T, H, W = len(tracks), inputs.video.num_frames, inputs.video.height, inputs.video.width
    if maps.ndim != 4 or maps.shape[:2] != (K, T):
        raise InputError(f"boxes 'attention': maps have shape {tuple(maps.shape)}; expected [{K},{T},h,w] (planned instances, frames)")
    boxes = []
    for k in range(K):
        row = []
        for t in range(T):
            up = cv2.resize(maps[k, t].astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
            peak = float(up.max())
            row.append(mask_box(up >= threshold * peak) if peak > 0 else None)
        boxes.append(row)
    return Measured("attention", boxes)


def from_field(inputs: ScoreInput, tracks: list[ObjectTrack], threshold: float, temperature: float,
               background_terms: list[str], fov_deg: float, min_pixels: int) -> Measured:
    import torch

    from worldsim.decoders import DecoderSet
    from worldsim.scene import default_camera
    from worldsim.selection import build_queries, query_probabilities, render_selection
    from worldsim.text import text_encoder_for
    from worldsim.types import GaussianScene, SceneObject

    rec, run_dir = inputs.reconstruction, Path(inputs.run_dir)
    if rec is None:
        raise InputError("boxes 'field': the run has no reconstruction; add a reconstructor before the conformance scorer")
    scene = GaussianScene.load(run_dir / rec.scene)
    decoders = DecoderSet.load(run_dir / rec.decoders)
    if scene.features is None:
        raise InputError(f"boxes 'field': the scene '{rec.scene}' has no latent features")
    teacher = next((t for t in rec.teachers if t in decoders), None) or "label-text"
    if teacher not in decoders:
        raise InputError(f"boxes 'field': no decoder for a text teacher in '{rec.decoders}'; decoders: {', '.join(decoders) or 'none'}")
    labels = read_labels(run_dir / inputs.video.labels) if inputs.video.labels else None
    if labels is not None and labels.camera is not None:
        camera = labels.camera
    else:
        camera = default_camera(inputs.video.width, inputs.video.height, fov_deg)
    objects = [SceneObject(id=i + 1, name=o.name, color=o.color) for i, o in enumerate(inputs.plan.objects)]
    encode = text_encoder_for(teacher)
    decoder = decoders[teacher]

    def masks_of(o: int) -> np.ndarray:
        queries = build_queries([objects[o]], objects, background_terms)
        p = query_probabilities(scene.features, decoder, encode, queries, temperature)[:, 0]
        with torch.no_grad():
            return render_selection(scene, camera, p >= threshold).numpy()

    return Measured("field", _per_object(inputs.plan, tracks, masks_of, min_pixels))


def from_detector(inputs: ScoreInput, tracks: list[ObjectTrack], frames: np.ndarray, model: str, device: str,
                  local_files_only: bool, threshold: float, template: str) -> Measured:
    from plugins.conformance.detector import detect

    plan = inputs.plan
    queries = [template.format(text=object_text(o)) for o in plan.objects]
    top_k = max(o.count for o in plan.objects)
    found = detect(frames, queries, model, device, local_files_only, top_k=top_k)
    boxes: list = [None] * len(tracks)
    scores: list = [None] * len(tracks)
    T = len(frames)
    for o in range(len(plan.objects)):
        ks = [k for k, tr in enumerate(tracks) if tr.object_index == o]
        dets = [[(s, b) for s, b in found[o][t] if s >= threshold][:len(ks)] for t in range(T)]
        score_of = {(t, tuple(b)): s for t in range(T) for s, b in dets[t]}
        assigned = _assign([[b for _, b in d] for d in dets], [list(tracks[k].track.boxes) for k in ks])
        for k, bs in zip(ks, assigned):
            boxes[k] = bs
            scores[k] = [None if b is None else score_of[(t, tuple(b))] for t, b in enumerate(bs)]
    return Measured("detector", boxes, scores)
