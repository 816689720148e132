"""Scene versions and edits: every edit writes a new run folder linked to its parent; nothing is overwritten.

A version is a run folder. Generate runs hold `reconstruction/scene.safetensors`; edit versions hold
`edit/scene.safetensors` and name their root (the generate run whose decoders, camera and ground truth
they share) in run.json. `objects.json` is the scene's object registry (names, colours, instance ids,
Gaussian counts, the object last referred to), so later commands can say "it" or "the bus".
Motion edits ("make it drive to the right") change the plan and regenerate with the same seed: a new
generate run whose parent is the edited version.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from worldsim import artifacts, plugins, registry
from worldsim.config import PipelineConfig, StepConfig
from worldsim.errors import ConfigError, InputError, StageFailedError, WorldsimError
from worldsim.types import ArtifactRecord, EditSource, Plan, RunManifest, SceneObject, StageRecord

REGISTRY_FILE = "objects.json"
PRONOUNS = {"it", "them", "this", "that"}


@dataclass
class Version:
    path: Path
    manifest: dict
    root: Path  # the generate run whose reconstruction this version derives from
    scene: Path
    objects: list[SceneObject]
    last_referenced: str | None

    @property
    def config(self) -> PipelineConfig:
        return PipelineConfig.model_validate(self.manifest["config"])

    @property
    def root_manifest(self) -> dict:
        return self.manifest if self.root == self.path else _read_manifest(self.root)

    def lineage(self) -> list[str]:
        return [*self.manifest.get("lineage", []), self.path.name]


def _read_manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / artifacts.RUN_FILE
    if not path.is_file():
        raise InputError(f"'{run_dir}' is not a run folder (no {artifacts.RUN_FILE}); give a folder printed by `worldsim generate`")
    try:
        data = json.loads(path.read_text())
        RunManifest.model_validate(data)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InputError(f"run folder '{run_dir}' has a corrupt {artifacts.RUN_FILE} ({type(exc).__name__}); it cannot be edited") from None
    return data


def registry_from_run(run_dir: Path, manifest: dict) -> list[SceneObject]:
    """The object registry of a generate run: the generator's labelled objects, with Gaussian counts."""
    video = manifest.get("outputs", {}).get("video") or {}
    if not video.get("labels"):
        return []
    labels = json.loads((run_dir / video["labels"]).read_text())
    counts: dict[int, int] = {}
    rec = manifest.get("outputs", {}).get("reconstruction")
    if rec:
        from safetensors import safe_open

        with safe_open(str(run_dir / rec["scene"]), "pt") as f:
            for i in f.get_tensor("instance").tolist():
                counts[i] = counts.get(i, 0) + 1
    return [SceneObject(id=o["id"], name=o["name"], color=o.get("color"), gaussians=counts.get(o["id"])) for o in labels.get("objects", [])]


def write_registry(run_dir: Path, objects: list[SceneObject], last_referenced: str | None) -> Path:
    return artifacts.atomic_write_json(Path(run_dir) / REGISTRY_FILE, {
        "objects": [o.model_dump() for o in objects], "last_referenced": last_referenced})


def open_version(run_dir: str | Path) -> Version:
    path = Path(run_dir).resolve()
    manifest = _read_manifest(path)
    outputs = manifest.get("outputs", {})
    if "edit" in outputs:
        root = path.parent / outputs["edit_root"]
        scene = path / outputs["edit"]["scene"]
    elif "reconstruction" in outputs:
        root, scene = path, path / outputs["reconstruction"]["scene"]
    else:
        raise InputError(f"run folder '{path.name}' has no reconstruction; edits need a run made with a reconstructor (e.g. --config default)")
    if not scene.is_file():
        raise InputError(f"run folder '{path.name}' is missing its scene '{scene.relative_to(path) if scene.is_relative_to(path) else scene}'; it cannot be edited")
    reg_file = path / REGISTRY_FILE
    if reg_file.is_file():
        reg = json.loads(reg_file.read_text())
        objects = [SceneObject.model_validate(o) for o in reg.get("objects", [])]
        last = reg.get("last_referenced")
    else:
        objects, last = registry_from_run(path, manifest), None
    return Version(path=path, manifest=manifest, root=root, scene=scene, objects=objects, last_referenced=last)


def resolve_target(version: Version, target: str) -> SceneObject:
    present = [o for o in version.objects if not o.removed]
    names = ", ".join(sorted({o.name for o in present})) or "none"
    if target in PRONOUNS:
        last = version.last_referenced if any(o.name == version.last_referenced for o in present) else None
        pick = last or (present[0].name if len(present) == 1 else None)
        if pick is None:
            raise InputError(f"'{target}' is ambiguous here; name the object (objects: {names})")
        target = pick
    match = [o for o in present if o.name == target]
    if not match:
        raise InputError(f"no '{target}' in this scene; objects: {names}")
    return match[0]


def parse_edit(text: str, parser: str = "rules") -> Plan:
    plan = registry.get_stage("parser", parser).run(text)
    if plan.mode != "edit":
        raise InputError(f"'{text[:60]}' is a generate command; an edit is accepted, e.g. 'make the ball blue', 'delete the ball', 'extract the ball', 'move the ball to the left'")
    return plan


def _editor_step(version: Version, editor: StepConfig | None) -> StepConfig:
    step = editor or version.config.step("editor")
    if step is None:
        installed = ", ".join(registry.all_stages()["editor"]) or "none"
        raise ConfigError(f"the config of '{version.path.name}' has no editor stage; add one (installed editors: {installed})")
    return step


def apply_edit(run_dir: str | Path, text: str, editor: StepConfig | None = None, parser: str = "rules") -> Path:
    """Apply one edit command to a version; returns the new version's folder (a sibling of run_dir)."""
    version = open_version(run_dir)
    plan = parse_edit(text, parser)
    target = resolve_target(version, plan.edit.target)
    if plan.edit.op == "move":
        return _regenerate(version, plan, target, text)
    # "Make the fish and the seaweed black": every named object, one after the other, in one version.
    targets = [target] + [resolve_target(version, o.name) for o in plan.objects if o.name not in (target.name, *PRONOUNS)]
    if plan.edit.op == "extract" and len(targets) > 1:
        raise InputError(f"extract keeps one object; '{text[:60]}' names {len(targets)} ({', '.join(t.name for t in targets)})")
    step = _editor_step(version, editor)
    info = registry.get_stage_info("editor", step.name)
    stage = info.cls(step.config)
    base_source = edit_source(version)  # validates before anything is written
    folder = artifacts.RunFolder.create(version.path.parent, artifacts.new_run_id(text, version.manifest["seed"]))
    try:
        out_dir = folder.stage_dir("edit")
        t0 = time.perf_counter()
        scene, objects, results = version.scene, version.objects, []
        for obj in targets:
            source = base_source.model_copy(update={"scene": str(scene), "objects": objects})
            edit = plan.edit.model_copy(update={"target": obj.name})
            try:
                result = stage.run(edit, source, out_dir)
            except WorldsimError:
                raise
            except Exception as exc:
                raise StageFailedError(f"editor '{step.name}' failed: {type(exc).__name__}: {exc}") from exc
            results.append(result)
            objects = _updated_registry(objects, edit, obj)
            scene = folder.path / result.scene
        wall = time.perf_counter() - t0
        write_registry(folder.path, objects, target.name)
        metrics = dict(results[0].metrics)
        if len(results) > 1:
            metrics["per_target"] = [r.metrics for r in results]
        _write_manifest(folder.path, version, text, plan, [StageRecord(kind="editor", name=step.name, plugin=info.plugin, wall_s=round(wall, 4))],
                        {"edit": metrics}, {"edit": results[-1].model_dump(mode="json"), "edit_root": version.root.name})
        return folder.commit()
    except BaseException:
        folder.discard()
        raise


def edit_source(version: Version) -> EditSource:
    """What an editor needs to edit `version`: its scene and registry, the root's decoders, camera, truth."""
    root = version.root_manifest
    rec, video = root["outputs"]["reconstruction"], root["outputs"]["video"]
    labels = json.loads((version.root / video["labels"]).read_text()) if video.get("labels") else {}
    if "camera" not in labels:
        raise InputError(f"run folder '{version.root.name}' has no camera in its labels; this editor needs one")
    return EditSource(
        scene=str(version.scene), decoders=str(version.root / rec["decoders"]),
        teacher=(rec.get("teachers") or ["label-text"])[0], camera=labels["camera"], fps=video["fps"],
        objects=version.objects,
        gt_scene=str(version.root / video["scene"]) if video.get("scene") else None,
        gt_arrays=str(version.root / video["arrays"]) if video.get("arrays") else None,
    )


def _updated_registry(objects: list[SceneObject], edit, target: SceneObject) -> list[SceneObject]:
    out = []
    for o in objects:
        if o.id == target.id and edit.op == "recolor":
            o = o.model_copy(update={"color": edit.color})
        elif o.id == target.id and edit.op == "remove":
            o = o.model_copy(update={"removed": True})
        elif o.id != target.id and edit.op == "extract":
            o = o.model_copy(update={"removed": True})
        out.append(o)
    return out


def _write_manifest(path: Path, parent: Version, text: str, plan: Plan, stages, metrics, outputs) -> None:
    records = [ArtifactRecord(path=p, sha256=h, bytes=n, stage=p.split("/", 1)[0] if "/" in p else "run")
               for p, h, n in artifacts.list_artifacts(path)]
    manifest = RunManifest(
        run_id=path.name.removeprefix(".").removesuffix(".partial"),
        created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        prompt=parent.root_manifest["prompt"], edits=[text], seed=parent.manifest["seed"],
        plan=plan.model_dump(mode="json"), config=parent.manifest["config"], plugins=plugins.plugin_versions(),
        stages=stages, metrics=metrics, artifacts=records, outputs=outputs,
        parent=parent.path.name, lineage=parent.lineage(),
    )
    artifacts.atomic_write_json(path / artifacts.RUN_FILE, manifest.model_dump(mode="json"))


def _regenerate(version: Version, plan: Plan, target: SceneObject, text: str) -> Path:
    """Motion edit: the root plan with the new direction, generated and reconstructed again with the same seed."""
    from worldsim import runner

    root = version.root_manifest
    old = Plan.model_validate(root["plan"])
    motion = old.motion.model_copy(update={"direction": plan.edit.direction, "keypoints": ()})
    new_plan = old.model_copy(update={"motion": motion, "text": f"{old.text} | {text}"})
    cfg = PipelineConfig.model_validate(root["config"])
    return runner.run_pipeline(root["prompt"], [text], config=cfg, seed=root["seed"], output_dir=version.path.parent,
                               plan=new_plan, parent=version.path.name, lineage=version.lineage(), apply_edits=False)


def apply_edits(run_dir: str | Path, edits: list[str], editor: StepConfig | None = None) -> list[Path]:
    versions, current = [], Path(run_dir)
    for text in edits:
        current = apply_edit(current, text, editor)
        versions.append(current)
    return versions
