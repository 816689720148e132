"""Scene versions and edits: every edit writes a new run folder linked to its parent; nothing is overwritten.

A version is a run folder. Generate runs hold `reconstruction/scene.safetensors`; edit versions hold
`edit/scene.safetensors` and name their root (the generate run whose decoders, camera and ground truth
they share) in run.json. `objects.json` is the scene's object registry (worldsim.scene_objects), so later
commands can say "it" or "the bus".

An edit command is parsed by a parser stage, its op and params are checked against the installed editors
(worldsim.edit_ops), and it goes to the editor that declares its op. The editor returns either an
`EditResult` (an edited scene, plus the registry after the edit) or a `ReplanResult` (a new plan, e.g. a
motion edit): then the root run is generated again with that plan and the same seed, as a new version
whose parent is the edited one.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from worldsim import artifacts, edit_ops, plugins, registry, runner, scene_objects
from worldsim.config import PipelineConfig, StepConfig
from worldsim.errors import InputError, StageContractError
from worldsim.redact import redact
from worldsim.scene import version_paths
from worldsim.stages import call_stage
from worldsim.types import ArtifactRecord, EditResult, EditSource, Plan, ReplanResult, RunManifest, SceneObject, StageRecord

PRONOUNS = {"it", "them", "this", "that"}


@dataclass
class Version:
    path: Path
    manifest: dict
    root: Path  # the generate run whose reconstruction this version derives from
    scene: Path
    objects: list[SceneObject]
    last_referenced: str | None
    verified: bool = True  # every file of the version and its root matched run.json's sha256

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


def open_version(run_dir: str | Path, verify: bool = True) -> Version:
    """The version in `run_dir`. With `verify`, every file of it and of its root is checked against the
    sha256 in their run.json first (InputError naming the first mismatch)."""
    path = Path(run_dir).resolve()
    manifest = _read_manifest(path)
    outputs = manifest.get("outputs", {})
    if verify:
        artifacts.verify_artifacts(path, manifest.get("artifacts", []))
        if "edit" in outputs:
            root_dir = path.parent / outputs["edit_root"]
            artifacts.verify_artifacts(root_dir, _read_manifest(root_dir).get("artifacts", []))
    root, scene, _ = version_paths(path, outputs)
    if not scene.is_file():
        raise InputError(f"run folder '{path.name}' is missing its scene '{scene.relative_to(path) if scene.is_relative_to(path) else scene}'; it cannot be edited")
    reg = scene_objects.read_registry(path)
    if reg is not None:
        objects, last = reg.objects, reg.last_referenced
    else:
        objects, last = scene_objects.registry_from_outputs(path, outputs), None
    return Version(path=path, manifest=manifest, root=root, scene=scene, objects=objects, last_referenced=last,
                   verified=verify)


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


def parser_step(version_config: PipelineConfig | None, parser: str | StepConfig | None) -> StepConfig:
    """The parser for edit commands: a given step; a name (with the config's settings if it lists that parser);
    else the config's own parser; else `rules`."""
    if isinstance(parser, StepConfig):
        return parser
    own = version_config.step("parser") if version_config is not None else None
    if parser is None:
        return own or StepConfig(kind="parser", name="rules")
    return own if own is not None and own.name == parser else StepConfig(kind="parser", name=parser)


def parse_edit(text: str, parser: str | StepConfig = "rules") -> Plan:
    """Parse an edit command and check its op and params against the installed editors."""
    step = parser_step(None, parser)
    info = registry.get_stage_info("parser", step.name)
    plan = call_stage(info.cls(step.config), text, plugin=info.plugin)
    if plan.mode != "edit":
        ops = ", ".join(sorted(edit_ops.installed_ops())) or "none"
        raise InputError(f"'{text[:60]}' is a generate command; an edit is accepted (installed ops: {ops}), e.g. "
                         f"'make the ball blue', 'delete the ball', 'make the ball bigger'")
    edit_ops.params_model(plan.edit.op)  # an op no installed editor declares
    return plan


def apply_edit(run_dir: str | Path, text: str, editor: str | None = None, parser: str | StepConfig | None = None,
               plan: Plan | None = None, verify: bool = True) -> Path:
    """Apply one edit command to a version; returns the new version's folder (a sibling of run_dir).

    `editor` names the editor (default: the first of the config's editors that declares the op, else any
    installed one); `parser` parses the command (default: the config's parser); `plan` skips parsing;
    `verify=False` skips the sha256 check of the parent's files (recorded in the new version's run.json)."""
    version = open_version(run_dir, verify=verify)
    plan = plan or parse_edit(text, parser_step(version.config, parser))
    step = edit_ops.choose_editor(plan.edit.op, version.config.steps_of("editor"), editor)
    edit = edit_ops.validate_edit(plan.edit, step)
    target = resolve_target(version, edit.target)
    # "Make the fish and the seaweed black": every named object, one after the other, in one version.
    targets = [target] + [resolve_target(version, o.name) for o in plan.objects if o.name not in (target.name, *PRONOUNS)]
    if len(targets) > 1 and not edit_ops.op_model(step, edit.op).multi_target:
        raise InputError(f"'{edit.op}' applies to one object; '{text[:60]}' names {len(targets)} ({', '.join(t.name for t in targets)})")
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
            result = call_stage(stage, edit.model_copy(update={"target": obj.name}), source, out_dir,
                                run_folder=folder.path, plugin=info.plugin)
            if isinstance(result, ReplanResult):
                folder.discard()
                return _regenerate(version, result, text)
            results.append(result)
            objects = _checked_registry(result, objects, step.name)
            scene = folder.path / result.scene
        wall = time.perf_counter() - t0
        scene_objects.write_registry(folder.path, objects, target.name)
        metrics = dict(results[0].metrics)
        if len(results) > 1:
            metrics["per_target"] = [r.metrics for r in results]
        record = StageRecord(kind="editor", name=step.name, plugin=info.plugin, wall_s=round(wall, 4))
        _write_manifest(folder.path, version, text, plan.model_copy(update={"edit": edit}), [record], {"edit": metrics},
                        {"edit": results[-1].model_dump(mode="json"), "edit_root": version.root.name})
        return folder.commit()
    except BaseException:
        folder.discard()
        raise


def _root_plan(version: Version, root: dict) -> Plan:
    try:
        return Plan.model_validate(root["plan"])
    except ValueError as exc:  # pydantic's ValidationError
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) if hasattr(exc, "errors") else "plan"
        raise InputError(f"run folder '{version.root.name}': the plan in {artifacts.RUN_FILE} does not validate "
                         f"(plan.{where}); the run.json is corrupt") from None


def _checked_registry(result: EditResult, objects: list[SceneObject], editor: str) -> list[SceneObject]:
    """The registry after an edit: the editor's, when it returned one (ids must be unique), else unchanged."""
    if result.objects is None:
        return objects
    ids = [o.id for o in result.objects]
    if len(ids) != len(set(ids)):
        raise StageContractError(f"editor '{editor}' returned an object registry with repeated ids {sorted(ids)}")
    return list(result.objects)


def edit_source(version: Version) -> EditSource:
    """What an editor needs to edit `version`: its scene and registry, the root's plan, decoders, camera, truth."""
    from worldsim.labels import read_labels

    root = version.root_manifest
    rec, video = root["outputs"]["reconstruction"], root["outputs"]["video"]
    labels = read_labels(version.root / video["labels"]) if video.get("labels") else None
    if labels is None or labels.camera is None:
        raise InputError(f"run folder '{version.root.name}' has no camera in its labels; editors need the input camera")
    return EditSource(
        scene=str(version.scene), decoders=str(version.root / rec["decoders"]),
        teacher=(rec.get("teachers") or ["label-text"])[0], camera=labels.camera.model_dump(mode="json"), fps=video["fps"],
        plan=_root_plan(version, root), objects=version.objects,
        gt_scene=str(version.root / video["scene"]) if video.get("scene") else None,
        gt_arrays=str(version.root / video["arrays"]) if video.get("arrays") else None,
    )


def _write_manifest(path: Path, parent: Version, text: str, plan: Plan, stages, metrics, outputs) -> None:
    records = [ArtifactRecord(path=p, sha256=h, bytes=n, stage=p.split("/", 1)[0] if "/" in p else "run")
               for p, h, n in artifacts.list_artifacts(path)]
    manifest = RunManifest(
        run_id=path.name.removeprefix(".").removesuffix(".partial"),
        created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        prompt=parent.root_manifest["prompt"], edits=[text], seed=parent.manifest["seed"],
        plan=plan.model_dump(mode="json"), config=parent.manifest["config"], plugins=plugins.plugin_versions(),
        stages=stages, metrics=metrics, artifacts=records, outputs=outputs,
        parent=parent.path.name, lineage=parent.lineage(), parent_verified=parent.verified,
    )
    artifacts.atomic_write_json(path / artifacts.RUN_FILE, redact(manifest.model_dump(mode="json")))


def _regenerate(version: Version, result: ReplanResult, text: str) -> Path:
    """A re-planning edit: the root run generated (and reconstructed, scored) again with the editor's plan and
    the same seed and config, as a new version whose parent is the edited one."""
    root = version.root_manifest
    plan = result.plan.model_copy(update={"text": f"{result.plan.text} | {text}"})
    state = runner.start_run(root["prompt"], [text], config=PipelineConfig.model_validate(root["config"]), seed=root["seed"],
                             output_dir=version.path.parent, plan=plan, parent=version.path.name, lineage=version.lineage())
    return runner.execute(state)[1]


def apply_edits(run_dir: str | Path, edits: list[str], editor: str | None = None, parser: str | StepConfig | None = None,
                apply_one=None) -> list[Path]:
    """Apply edits one after the other, each to the version the previous one wrote; `apply_one(run_dir, text)`
    wraps each (e.g. a Prefect task), default `apply_edit` with `editor` and `parser`."""
    apply_one = apply_one or (lambda current, text: apply_edit(current, text, editor=editor, parser=parser))
    versions, current = [], Path(run_dir)
    for text in edits:
        current = apply_one(current, text)
        versions.append(current)
    return versions
