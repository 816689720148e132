"""A run folder's object registry (`objects.json`, `ObjectRegistry`): the one reader and writer.

A generate run's registry comes from the generator's labelled objects, with the number of Gaussians the
reconstruction assigned to each; an edit version's registry is what its editor returned.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from worldsim import artifacts
from worldsim.errors import InputError
from worldsim.types import ObjectRegistry, SceneObject

REGISTRY_FILE = "objects.json"


def read_registry(run_dir: str | Path) -> ObjectRegistry | None:
    """The registry of a run folder, None when it has none; InputError naming a corrupt file."""
    path = Path(run_dir) / REGISTRY_FILE
    if not path.is_file():
        return None
    try:
        return ObjectRegistry.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        raise InputError(f"'{path}' is not a valid object registry ({type(exc).__name__}); "
                         f"it should hold {{objects: [...], last_referenced}}") from None


def write_registry(run_dir: str | Path, objects: list[SceneObject], last_referenced: str | None) -> Path:
    registry = ObjectRegistry(objects=objects, last_referenced=last_referenced)
    return artifacts.atomic_write_json(Path(run_dir) / REGISTRY_FILE, registry.model_dump(mode="json"))


def registry_from_outputs(run_dir: str | Path, outputs: dict) -> list[SceneObject]:
    """The object registry of a generate run from its typed outputs (run.json `outputs`)."""
    from worldsim.labels import read_labels

    run_dir = Path(run_dir)
    video = outputs.get("video") or {}
    if not video.get("labels"):
        return []
    labels = read_labels(run_dir / video["labels"])
    counts: dict[int, int] = {}
    rec = outputs.get("reconstruction")
    if rec:
        from safetensors import safe_open

        with safe_open(str(run_dir / rec["scene"]), "pt") as f:
            for i in f.get_tensor("instance").tolist():
                counts[i] = counts.get(i, 0) + 1
    return [SceneObject(id=o.id, name=o.name, color=o.color, gaussians=counts.get(o.id)) for o in labels.objects]
