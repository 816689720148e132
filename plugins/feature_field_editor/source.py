"""`source_from_run(run_dir)`: an EditSource for a finished generate run (for tests, benchmarks and scripts).

Reads run.json's outputs (video, reconstruction) and generator/labels.json (objects with ids and colours,
camera), and points the ground-truth fields at the generator's scene and arrays when they exist. The
session layer builds its own sources for edited versions (their registry, their scene); this covers the
root generation only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from worldsim.errors import InputError
from worldsim.types import EditSource, SceneObject


def source_from_run(run_dir: str | os.PathLike, teacher: str | None = None) -> EditSource:
    run_dir = Path(run_dir).resolve()
    try:
        run = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"'{run_dir}' is not a readable run folder (run.json: {exc})") from None
    outputs = run.get("outputs", {})
    recon, video = outputs.get("reconstruction"), outputs.get("video")
    if not recon:
        raise InputError(f"run '{run_dir.name}' has no reconstruction to edit; generate with a config that reconstructs (e.g. default)")
    if not video or not video.get("labels"):
        raise InputError(f"run '{run_dir.name}' has no generator labels (objects, camera)")
    labels = json.loads((run_dir / video["labels"]).read_text())
    objects = [SceneObject(id=int(o["id"]), name=o["name"], color=o.get("color")) for o in labels.get("objects", [])]
    teachers = recon.get("teachers") or []
    teacher = teacher or ("label-text" if "label-text" in teachers else (teachers[0] if teachers else "label-text"))
    gt_scene = run_dir / video["scene"] if video.get("scene") else None
    gt_arrays = run_dir / video["arrays"] if video.get("arrays") else None
    return EditSource(
        scene=str(run_dir / recon["scene"]), decoders=str(run_dir / recon["decoders"]), teacher=teacher,
        camera=labels["camera"], fps=int(video["fps"]), objects=objects,
        gt_scene=str(gt_scene) if gt_scene and gt_scene.is_file() else None,
        gt_arrays=str(gt_arrays) if gt_arrays and gt_arrays.is_file() else None,
    )
