"""Runs the stages a config lists, in order, without Prefect. Flows wrap `run_step` in tasks.

`start_run` validates everything that can be checked before work starts (config, stage names and
settings, seed) and opens a partial run folder; `run_step` runs one stage; `finish_run` writes
run.json and renames the folder into place; `abort_run` removes the partial folder.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from worldsim import artifacts, plugins, registry
from worldsim.config import PipelineConfig, StepConfig, load_config
from worldsim.errors import ConfigError, InputError, StageFailedError, WorldsimError
from worldsim.types import ArtifactRecord, GeneratedVideo, Plan, Reconstruction, RunManifest, ScoreInput, StageRecord

MAX_SEED = 2**32 - 1


class RunState(BaseModel):
    """Everything a stage needs from earlier stages: small, JSON-serialisable, passed between tasks."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    root: str
    folder: str = Field(description="the partial run folder while stages run")
    prompt: str
    edits: list[str] = Field(default_factory=list)
    seed: int
    config: PipelineConfig
    plan: Plan | None = None
    video: GeneratedVideo | None = None
    reconstruction: Reconstruction | None = None
    stages: list[StageRecord] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    plan_given: bool = Field(default=False, description="the plan came with the run (a motion edit): parsers are skipped")
    parent: str | None = None
    lineage: list[str] = Field(default_factory=list)

    @property
    def steps(self) -> list[StepConfig]:
        """The stages a generate run executes: the config's, less editors (they serve edits) and,
        when the plan was given, parsers."""
        return [s for s in self.config.stages if s.kind != "editor" and not (self.plan_given and s.kind == "parser")]

    @property
    def path(self) -> Path:
        return Path(self.folder)


def validate_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed {seed!r} is not an integer in [0, {MAX_SEED}]")
    return seed


def _call_parser(stage, state: RunState) -> dict:
    plan = stage.run(state.prompt)
    provenance = getattr(stage, "last_provenance", None)  # e.g. the langchain parser: model, attempts, fallback
    return {"plan": plan, "metrics": {**state.metrics, "parser": provenance}} if provenance else {"plan": plan}


def _call_generator(stage, state: RunState) -> dict:
    if state.plan is None or state.plan.mode != "generate":
        raise InputError(f"the prompt '{state.prompt[:60]}' is an edit command; generate needs a description of a scene, e.g. 'A red ball rolls from left to right'")
    out_dir = state.path / "generator"
    out_dir.mkdir(parents=True, exist_ok=True)
    return {"video": stage.run(state.plan, seed=state.seed, out_dir=out_dir)}


def _call_reconstructor(stage, state: RunState) -> dict:
    if state.video is None:
        raise ConfigError("a reconstructor needs a generator before it in the config's stages")
    out_dir = state.path / "reconstruction"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = stage.run(state.video, run_dir=state.path, out_dir=out_dir, seed=state.seed)
    return {"reconstruction": result, "metrics": {**state.metrics, "reconstruction": result.metrics}}


def _call_scorer(stage, state: RunState) -> dict:
    """A scorer returns JSON-ready metrics, stored under `metrics[stage.metrics_key]` (default: its name)."""
    if state.plan is None or state.video is None:
        raise ConfigError(f"scorer '{stage.name}' needs a parser and a generator before it in the config's stages")
    out_dir = state.path / "scores"
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = ScoreInput(run_dir=str(state.path.resolve()), plan=state.plan, seed=state.seed, video=state.video,
                        reconstruction=state.reconstruction)
    metrics = artifacts.json_safe(stage.run(inputs, out_dir=out_dir))
    return {"metrics": {**state.metrics, getattr(stage, "metrics_key", stage.name): metrics}}


# How each stage kind is called and what it adds to the state. Later stage kinds add an entry here.
STAGE_CALLS: dict[str, Callable[[registry.Stage, RunState], dict]] = {
    "parser": _call_parser,
    "generator": _call_generator,
    "reconstructor": _call_reconstructor,
    "scorer": _call_scorer,
}


def start_run(
    prompt: str,
    edits: list[str] | None = None,
    config: str | PipelineConfig = "default",
    seed: int | None = None,
    output_dir: str | Path = "outputs",
    overrides: list[str] | tuple[str, ...] = (),
    plan: Plan | None = None,
    parent: str | None = None,
    lineage: list[str] | None = None,
) -> RunState:
    cfg = config if isinstance(config, PipelineConfig) else load_config(config, overrides)
    seed = validate_seed(cfg.seed if seed is None else seed)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("the prompt is empty; describe a scene, e.g. 'A red ball rolls from left to right'")
    edits = list(edits or [])
    for step in cfg.stages:
        if step.kind not in STAGE_CALLS and step.kind != "editor":
            raise ConfigError(f"config '{cfg.name}' lists a {step.kind} stage, but this worldsim runs only: {', '.join([*STAGE_CALLS, 'editor'])}")
        registry.get_stage_info(step.kind, step.name).cls.make_config(step.config)
    if edits and plan is None and cfg.step("editor") is None:
        raise ConfigError(f"edits were given but config '{cfg.name}' has no editor stage; installed editors: {', '.join(registry.all_stages()['editor']) or 'none'}")
    run_id = artifacts.new_run_id(prompt, seed)
    folder = artifacts.RunFolder.create(output_dir, run_id)
    return RunState(run_id=run_id, root=str(folder.root), folder=str(folder.path), prompt=prompt.strip(),
                    edits=edits, seed=seed, config=cfg, plan=plan, plan_given=plan is not None, parent=parent,
                    lineage=list(lineage or []))


def run_step(state: RunState, step: StepConfig) -> RunState:
    """Run one stage; returns the new state (the input state is not modified)."""
    info = registry.get_stage_info(step.kind, step.name)
    stage = info.cls(step.config)
    t0 = time.perf_counter()
    try:
        update = STAGE_CALLS[step.kind](stage, state)
    except WorldsimError:
        raise
    except Exception as exc:  # a bug or a transient failure inside a stage: name the stage
        raise StageFailedError(f"{step.kind} '{step.name}' failed: {type(exc).__name__}: {exc}") from exc
    wall = time.perf_counter() - t0
    record = StageRecord(kind=step.kind, name=step.name, plugin=info.plugin, wall_s=round(wall, 4))
    return state.model_copy(update={**update, "stages": [*state.stages, record]})


def finish_run(state: RunState) -> Path:
    """Write run.json (artifacts with sha256) and move the run folder into place."""
    from worldsim import sessions

    outputs = {k: v.model_dump(mode="json") for k, v in (("video", state.video), ("reconstruction", state.reconstruction)) if v is not None}
    objects = sessions.registry_from_run(state.path, {"outputs": outputs})
    if objects:
        sessions.write_registry(state.path, objects, None)
    stage_of = lambda rel: rel.split("/", 1)[0] if "/" in rel else "run"
    records = [ArtifactRecord(path=p, sha256=h, bytes=n, stage=stage_of(p)) for p, h, n in artifacts.list_artifacts(state.path)]
    metrics = dict(state.metrics)
    manifest = RunManifest(
        run_id=state.run_id,
        created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        prompt=state.prompt,
        edits=state.edits,
        seed=state.seed,
        plan=state.plan.model_dump(mode="json") if state.plan else {},
        config=state.config.model_dump(mode="json"),
        plugins=plugins.plugin_versions(),
        stages=state.stages,
        metrics=metrics,
        artifacts=records,
        outputs=outputs,
        parent=state.parent,
        lineage=state.lineage,
    )
    artifacts.atomic_write_json(state.path / artifacts.RUN_FILE, manifest.model_dump(mode="json"))
    return artifacts.RunFolder(state.root, state.run_id).commit()


def abort_run(state: RunState) -> None:
    artifacts.RunFolder(state.root, state.run_id).discard()


def run_pipeline(prompt: str, edits=None, config="default", seed=None, output_dir="outputs", overrides=(),
                 on_step: Callable[[StepConfig], None] | None = None, plan: Plan | None = None,
                 parent: str | None = None, lineage: list[str] | None = None, apply_edits: bool = True) -> Path:
    """Plain-Python run of every stage; returns the final run folder (the last edit version when
    `edits` are given and `apply_edits`). Nothing is left behind by a failed stage."""
    state = start_run(prompt, edits, config, seed, output_dir, overrides, plan=plan, parent=parent, lineage=lineage)
    try:
        for step in state.steps:
            if on_step:
                on_step(step)
            state = run_step(state, step)
        run_dir = finish_run(state)
    except BaseException:
        abort_run(state)
        raise
    if apply_edits and state.edits:
        from worldsim import sessions

        run_dir = sessions.apply_edits(run_dir, state.edits, state.config.step("editor"))[-1]
    return run_dir
