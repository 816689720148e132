"""`conformance` scorer: does the video do what the command said? Stored under `metrics.conformance`.

Per planned object instance (worldsim.planning.plan_tracks), the measured per-frame boxes
(plugins/conformance/boxes.py: labels | color | attention | field | detector) against the planned
boxes: mIoU, AP50, centroid distance over the frame diagonal, direction (plugins/conformance/metrics.py).
Motion alignment (Mojito): the clip's optical-flow level 1..10 (worldsim.motion, Farneback on
grayscale frames) against the level the commanded speed corresponds to (worldsim.motion.speed_level);
`motion.level_error` = measured - requested.

Moving camera (plan.camera not static; plugins/conformance/camera.py): when the labels have the moving-camera
fields, the measured boxes are compared with each frame's planned box as that frame's camera sees it, the
direction is judged on the objects' centres in the first camera's view (their world motion, which the command
is about), and the motion level on the optical flow left after removing the camera's own, over the objects'
pixels. `camera` in the result says which of these applied; a static camera's result is unchanged.

The summary (mean over instances) is checked against `floor`: `miou`, `ap50`, `direction_accuracy`
are lower bounds, `centroid_distance` and `motion_level_error` (absolute) upper bounds. `passed` is
false when any is missed; with `max_attempts` > 1 the runner then regenerates (worldsim/runner.py,
closed loop) and records every attempt under `attempts`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field, field_validator

from worldsim.artifacts import atomic_write_json, json_safe
from worldsim.errors import InputError
from worldsim.stages import Scorer, StageConfig
from worldsim.types import ScoreInput, ScoreResult

BOX_MODES = ("auto", "labels", "color", "attention", "field", "detector")
LOWER_BOUNDS = ("miou", "ap50", "direction_accuracy")
UPPER_BOUNDS = ("centroid_distance", "motion_level_error")


class ConformanceConfig(StageConfig):
    boxes: str = Field("auto", description="box source: auto (labels if the generator wrote them, else attention if it "
                                           "wrote attention maps, else color) | labels | color | attention | field | detector")
    floor: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="pass thresholds in [0, 100], e.g. {miou: 0.5, motion_level_error: 2}: "
                                    "miou, ap50, direction_accuracy are minima; centroid_distance, motion_level_error maxima")
    max_attempts: int = Field(1, ge=1, le=20, description="closed loop: generations tried until the floor is met (1: score only)")
    guidance_boost: float = Field(1.5, gt=0, le=10, description="closed loop: the generator's guidance strength (guidance_scale, eta, ...) "
                                  "is multiplied by this on each new attempt")
    detector_model: str = Field("google/owlvit-base-patch32", description="OWL-ViT / OWLv2 model id or local path (boxes: detector)")
    detector_threshold: float = Field(0.1, ge=0, le=1, description="lowest detection confidence kept")
    detector_template: str = Field("a photo of a {text}", description="detector text query; {text} = '{color} {name}'")
    device: str = Field("cpu", description="torch device of the detector")
    local_files_only: bool = Field(True, description="never download weights")
    attention_threshold: float = Field(0.3, gt=0, lt=1, description="attention pixels >= this x the frame's peak form the box")
    field_threshold: float = Field(0.5, gt=0, lt=1, description="p(object | Gaussian) selecting the object's Gaussians (boxes: field)")
    field_temperature: float = Field(0.1, gt=0, le=10, description="softmax temperature of the field's text queries")
    field_background_terms: list[str] = Field(default=["background", "ground", "sky", "wall"], description="competing queries of the field selection")
    field_fov_deg: float = Field(50.0, gt=5, lt=150, description="vertical field of view assumed when the video has no camera (as feature-4dgs)")
    min_pixels: int = Field(3, ge=1, le=1_000_000, description="mask components smaller than this are ignored (color, field)")
    flow_method: str = Field("farneback", pattern="^(farneback|dis)$", description="optical flow for motion levels")
    motion_scale: float = Field(0.005, gt=0, le=1, description="diagonal fraction per frame of one motion level (worldsim.motion.LEVEL_SCALE)")
    min_travel: float = Field(0.02, gt=0, lt=1, description="diagonal fraction below which a track counts as not moving")
    max_angle_deg: float = Field(45.0, gt=0, le=180, description="largest angle between measured and commanded motion that counts as correct")

    @field_validator("boxes")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if v not in BOX_MODES:
            raise ValueError(f"boxes '{v}' is not one of {', '.join(BOX_MODES)}")
        return v

    @field_validator("floor")
    @classmethod
    def _known_floor(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k not in (*LOWER_BOUNDS, *UPPER_BOUNDS)]
        if bad:
            raise ValueError(f"floor key '{bad[0]}' is not one of {', '.join((*LOWER_BOUNDS, *UPPER_BOUNDS))}")
        return v


def resolve_source(mode: str, inputs: ScoreInput) -> str:
    if mode != "auto":
        return mode
    if inputs.video.labels:
        return "labels"
    return "attention" if inputs.video.attention else "color"


class ConformanceScorer(Scorer):
    name = "conformance"
    description = "Video vs command: per-instance boxes vs the plan (mIoU, AP50, centroid distance, direction) and optical-flow motion level vs the commanded speed"
    Config = ConformanceConfig
    metrics_key = "conformance"

    def run(self, inputs: ScoreInput, out_dir: Path) -> ScoreResult:
        from plugins.conformance import boxes as sources
        from plugins.conformance import camera as moving
        from plugins.conformance.metrics import track_metrics
        from worldsim import motion
        from worldsim.planning import plan_tracks

        cfg: ConformanceConfig = self.config
        if inputs.video is None:
            raise InputError("the conformance scorer needs a generated video")
        plan, video = inputs.plan, inputs.video
        if plan.mode != "generate":
            raise InputError(f"the conformance scorer scores generate plans; this one is '{plan.mode}'")
        T, W, H = video.num_frames, video.width, video.height
        tracks = plan_tracks(plan, T)
        source = resolve_source(cfg.boxes, inputs)
        frames = sources.load_frames(inputs)
        if frames.shape[:3] != (T, H, W):
            raise InputError(f"the video has frames {tuple(frames.shape[:3])}, but the generator reported {(T, H, W)}")
        view = moving.camera_view(inputs, tracks) if plan.camera.moving else None
        if view is not None:
            tracks = view.tracks  # each frame's planned box as that frame's camera sees it

        if source == "labels":
            measured = sources.from_labels(inputs, tracks)
        elif source == "color":
            measured = sources.from_color(inputs, tracks, frames, cfg.min_pixels)
        elif source == "attention":
            measured = sources.from_attention(inputs, tracks, cfg.attention_threshold)
        elif source == "field":
            measured = sources.from_field(inputs, tracks, cfg.field_threshold, cfg.field_temperature,
                                          cfg.field_background_terms, cfg.field_fov_deg, cfg.min_pixels)
        else:
            measured = sources.from_detector(inputs, tracks, frames, cfg.detector_model, cfg.device,
                                             cfg.local_files_only, cfg.detector_threshold, cfg.detector_template)

        direction = plan.motion.direction
        instances = []
        for k, tr in enumerate(tracks):
            obj = plan.objects[tr.object_index]
            m = track_metrics(measured.boxes[k], list(tr.track.boxes), direction, W, H,
                              scores=measured.scores[k] if measured.scores else None,
                              min_travel=cfg.min_travel, max_angle_deg=cfg.max_angle_deg,
                              direction_centers=None if view is None else moving.direction_centers(view, k, measured.boxes[k], source))
            instances.append({"object": sources.object_text(obj), "object_index": tr.object_index, "instance": tr.instance,
                              **m, "boxes": measured.boxes[k]})

        compensated = view is not None and view.depth is not None and view.depth.shape == (T, H, W)
        if compensated:
            magnitudes = moving.compensated_magnitudes(frames, view.depth, view.masks, view.cameras, cfg.flow_method)
        else:
            magnitudes = motion.flow_magnitudes(frames, cfg.flow_method)
        measured_level = motion.intensity_level(float(magnitudes.mean()), cfg.motion_scale)
        requested_level = motion.speed_level(plan.motion.speed, T, direction, W, H, cfg.motion_scale)
        mean = lambda key: float(np.mean([i[key] for i in instances]))
        summary = {
            "miou": mean("miou"), "ap50": mean("ap50"), "centroid_distance": mean("centroid_distance"),
            "direction_accuracy": float(np.mean([i["direction_correct"] for i in instances])),
            "motion_level_error": abs(measured_level - requested_level),
        }
        missed = {k: v for k, v in cfg.floor.items()
                  if (k in LOWER_BOUNDS and summary[k] < v) or (k in UPPER_BOUNDS and summary[k] > v)}
        result = {
            "boxes": source,
            "ap50_kind": instances[0]["ap50_kind"] if instances else None,
            **{k: round(v, 6) for k, v in summary.items()},
            "motion": {
                "method": cfg.flow_method, "speed": plan.motion.speed, "direction": direction,
                "magnitude": round(float(magnitudes.mean()), 6), "per_pair": [round(float(v), 6) for v in magnitudes],
                "measured_level": measured_level, "requested_level": requested_level,
                "level_error": measured_level - requested_level, "scale": cfg.motion_scale,
            },
            "instances": instances,
            "floor": dict(cfg.floor), "missed": missed, "passed": not missed,
            "num_frames": T, "width": W, "height": H,
        }
        if plan.camera.moving:  # only then, so a static camera's conformance.json keeps its keys and bytes
            result["camera"] = {
                **plan.camera.model_dump(mode="json"),
                "planned_boxes": "per frame, as that frame's camera sees them (labels)" if view else "the plan's (first camera)",
                "direction_on": ("centres in the first camera's view" + (" (labels)" if source == "labels" else
                                 " (measured, moved by the camera's displacement of the labelled position)")) if view
                                else "measured centres (no camera labels: the camera's motion is not removed)",
                "motion_level_on": "object pixels, the camera's flow removed" if compensated else "all pixels, camera flow included",
            }
        path = atomic_write_json(Path(out_dir) / "conformance.json", json.loads(json.dumps(result)))
        rel = Path(os.path.relpath(path.resolve(), Path(inputs.run_dir).resolve())).as_posix()
        return ScoreResult(metrics=json_safe(result), passed=not missed, files=[rel])
