"""Runs the stages a config lists, in order, without Prefect.

`start_run` validates everything that can be checked before work starts (config, stage names and
settings, seed) and opens a partial run folder; `run_step` runs one stage and checks its result
against the kind's contract (worldsim.stages); `run_steps` runs them all and owns the closed loop
(below); `finish_run` writes run.json and renames the folder into place; `abort_run` removes the
partial folder; `execute` is run_steps + finish_run, aborting on any failure. Every caller (the CLI,
the Prefect flow, batch, `worldsim.pipeline.run_pipeline`, motion edits) goes through `execute`, passing
how to wrap a stage (`run_one`: a progress bar, a Prefect task).

Closed loop: a scorer whose Config has `max_attempts` (e.g. `conformance`) and returns metrics with
`passed: false` while attempts remain sends the run back to its generator: attempt n+1 uses the seed
`attempt_seed(seed, n+1)` (attempt 1 uses the run's seed), and, when the generator's Config has a
guidance strength field (`GUIDANCE_FIELDS`, e.g. `guidance_scale` or `eta`), that value times the
scorer's `guidance_boost`. The generator and every stage after it up to that scorer run again; the
folders they wrote are removed first, so the run folder always holds exactly one attempt: the first
that passed, or the last one when none did (the last is the most strongly guided). Every attempt
(seed, generator settings, the scorer's metrics, stage wall times) is recorded under
`metrics[<scorer key>].attempts`; `stages` in run.json lists every stage run of every attempt.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from worldsim import artifacts, plugins, registry, scene_objects
from worldsim.config import PipelineConfig, StepConfig, load_config
from worldsim.errors import ConfigError, InputError
from worldsim.redact import redact
from worldsim.stages import Stage, call_stage
from worldsim.types import ArtifactRecord, GeneratedVideo, Plan, Reconstruction, RunManifest, ScoreInput, StageRecord

MAX_SEED = 2**32 - 1
# Generator Config fields that scale how strongly the plan is enforced, looked up in this order.
GUIDANCE_FIELDS = ("guidance_scale", "guidance_strength", "guidance", "eta")


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
    attempt: int = Field(default=1, ge=1, description="closed-loop attempt: the generator and later stages use attempt_seed(seed, attempt)")
    generator_overrides: dict[str, Any] = Field(default_factory=dict, description="generator settings changed by the closed loop")

    @property
    def stage_seed(self) -> int:
        """The seed the generator and later stages of this attempt use."""
        return attempt_seed(self.seed, self.attempt)

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


def attempt_seed(seed: int, attempt: int) -> int:
    """Attempt 1 keeps the run's seed; later attempts get a deterministic seed derived from (seed, attempt)."""
    if attempt <= 1:
        return seed
    return int.from_bytes(hashlib.sha256(f"worldsim-attempt:{seed}:{attempt}".encode()).digest()[:4], "little")


def _call_parser(stage, state: RunState, plugin: str) -> dict:
    plan = call_stage(stage, state.prompt, plugin=plugin)
    provenance = getattr(stage, "last_provenance", None)  # e.g. the langchain parser: model, attempts, fallback
    return {"plan": plan, "metrics": {**state.metrics, "parser": provenance}} if provenance else {"plan": plan}


def _call_generator(stage, state: RunState, plugin: str) -> dict:
    if state.plan is None or state.plan.mode != "generate":
        raise InputError(f"the prompt '{state.prompt[:60]}' is an edit command; generate needs a description of a scene, e.g. 'A red ball rolls from left to right'")
    out_dir = state.path / "generator"
    out_dir.mkdir(parents=True, exist_ok=True)
    return {"video": call_stage(stage, state.plan, seed=state.stage_seed, out_dir=out_dir, run_folder=state.path, plugin=plugin)}


def _call_reconstructor(stage, state: RunState, plugin: str) -> dict:
    if state.video is None:
        raise ConfigError("a reconstructor needs a generator before it in the config's stages")
    out_dir = state.path / "reconstruction"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = call_stage(stage, state.video, run_dir=state.path, out_dir=out_dir, seed=state.stage_seed,
                        run_folder=state.path, plugin=plugin)
    return {"reconstruction": result, "metrics": {**state.metrics, "reconstruction": result.metrics}}


def _call_scorer(stage, state: RunState, plugin: str) -> dict:
    """A scorer's figures are stored under `metrics[stage.metrics_key or stage.name]`, with `passed` when it has a floor."""
    if state.plan is None or state.video is None:
        raise ConfigError(f"scorer '{stage.name}' needs a parser and a generator before it in the config's stages")
    out_dir = state.path / "scores"
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = ScoreInput(run_dir=str(state.path.resolve()), plan=state.plan, seed=state.stage_seed, video=state.video,
                        reconstruction=state.reconstruction)
    result = call_stage(stage, inputs, out_dir=out_dir, run_folder=state.path, plugin=plugin)
    metrics = dict(result.metrics)
    if result.passed is not None:
        metrics["passed"] = result.passed
    return {"metrics": {**state.metrics, metrics_key(stage): metrics}}


def metrics_key(stage) -> str:
    return getattr(stage, "metrics_key", None) or stage.name


# How each pipeline stage kind is called and what it adds to the state (editors serve edits: worldsim.sessions).
STAGE_CALLS: dict[str, Callable[[Stage, RunState, str], dict]] = {
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
    run_id: str | None = None,
) -> RunState:
    """Validate the inputs and open the partial run folder (`<output_dir>/.<run_id>.partial`); `run_id`
    defaults to a time-stamped name from the prompt and seed."""
    cfg = config if isinstance(config, PipelineConfig) else load_config(config, overrides)
    seed = validate_seed(cfg.seed if seed is None else seed)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("the prompt is empty; describe a scene, e.g. 'A red ball rolls from left to right'")
    edits = list(edits or [])
    for step in cfg.stages:
        if step.kind not in STAGE_CALLS and step.kind != "editor":
            raise ConfigError(f"config '{cfg.name}' lists a {step.kind} stage, but this worldsim runs only: {', '.join([*STAGE_CALLS, 'editor'])}")
        registry.get_stage_info(step.kind, step.name).cls.make_config(step.config)
    run_id = run_id or artifacts.new_run_id(prompt, seed)
    folder = artifacts.RunFolder.create(output_dir, run_id)
    return RunState(run_id=run_id, root=str(folder.root), folder=str(folder.path), prompt=prompt.strip(),
                    edits=edits, seed=seed, config=cfg, plan=plan, plan_given=plan is not None, parent=parent,
                    lineage=list(lineage or []))


def run_step(state: RunState, step: StepConfig) -> RunState:
    """Run one stage; returns the new state (the input state is not modified)."""
    info = registry.get_stage_info(step.kind, step.name)
    config = {**step.config, **state.generator_overrides} if step.kind == "generator" else step.config
    stage = info.cls(config)
    t0 = time.perf_counter()
    update = STAGE_CALLS[step.kind](stage, state, info.plugin)
    wall = time.perf_counter() - t0
    record = StageRecord(kind=step.kind, name=step.name, plugin=info.plugin, wall_s=round(wall, 4))
    return state.model_copy(update={**update, "stages": [*state.stages, record]})


def _closed_loop(step: StepConfig) -> tuple[int, float]:
    """(max_attempts, guidance_boost) of a scorer step; (1, 1.0) for stages without a closed loop."""
    if step.kind != "scorer":
        return 1, 1.0
    cfg = registry.get_stage_info(step.kind, step.name).cls.make_config(step.config)
    return int(getattr(cfg, "max_attempts", 1) or 1), float(getattr(cfg, "guidance_boost", 1.0) or 1.0)


def _metrics_key(step: StepConfig) -> str:
    return metrics_key(registry.get_stage_info(step.kind, step.name).cls)


def boosted_guidance(step: StepConfig, overrides: dict[str, Any], boost: float) -> dict[str, Any]:
    """The generator overrides with its guidance strength field (the first of GUIDANCE_FIELDS its Config has)
    multiplied by `boost`; unchanged when it has none or the boosted value is outside the field's limits."""
    cls = registry.get_stage_info(step.kind, step.name).cls
    name = next((f for f in GUIDANCE_FIELDS if f in cls.Config.model_fields), None)
    if name is None or boost == 1.0:
        return dict(overrides)
    current = getattr(cls.make_config({**step.config, **overrides}), name)
    if not isinstance(current, (int, float)) or isinstance(current, bool):
        return dict(overrides)
    proposed = {**overrides, name: float(current) * boost}
    try:
        cls.make_config({**step.config, **proposed})
    except ConfigError:
        return dict(overrides)
    return proposed


def _remove_new_entries(folder: Path, before: set[str]) -> None:
    """Remove what stages added to the run folder since `before` (top-level names)."""
    for entry in folder.iterdir():
        if entry.name not in before:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def run_steps(state: RunState, run_one: Callable[[RunState, StepConfig], RunState] | None = None) -> RunState:
    """Run every stage of `state.steps` through `run_one` (default `run_step`), with the closed loop (module
    docstring); returns the final state. `run_one` is how callers wrap a stage (a progress bar, a Prefect task);
    it sees the attempt as `state.attempt`."""
    run_one = run_one or run_step
    steps = state.steps
    gen = next((i for i, s in enumerate(steps) if s.kind == "generator"), None)
    history: dict[str, list[dict]] = {}  # scorer metrics key -> attempts
    before_generator: RunState | None = None
    entries: set[str] = set()
    stage_start = 0
    i = 0
    while i < len(steps):
        step = steps[i]
        if i == gen:
            before_generator, entries, stage_start = state, {e.name for e in state.path.iterdir()}, len(state.stages)
        state = run_one(state, step)
        max_attempts, boost = _closed_loop(step)
        if gen is None or i < gen or max_attempts <= 1:
            i += 1
            continue
        key = _metrics_key(step)
        metrics = state.metrics.get(key)
        passed = metrics.get("passed") if isinstance(metrics, dict) else None
        attempts = history.setdefault(key, [])
        attempts.append({
            "attempt": state.attempt, "seed": state.stage_seed, "passed": passed,
            "generator": {"name": steps[gen].name, "overrides": dict(state.generator_overrides),
                          "config": registry.get_stage_info("generator", steps[gen].name).cls.make_config(
                              {**steps[gen].config, **state.generator_overrides}).model_dump(mode="json")},
            "stages": [s.model_dump() for s in state.stages[stage_start:]],
            "metrics": {k: v for k, v in metrics.items() if k != "attempts"} if isinstance(metrics, dict) else metrics,
        })
        retry = passed is False and state.attempt < max_attempts
        if isinstance(metrics, dict):
            selected = {"attempts": list(attempts), "attempt": state.attempt, "max_attempts": max_attempts}
            state = state.model_copy(update={"metrics": {**state.metrics, key: {**metrics, **selected}}})
        if not retry:
            i += 1
            continue
        _remove_new_entries(state.path, entries)
        overrides = boosted_guidance(steps[gen], state.generator_overrides, boost)
        # back to the state before the generator, keeping every stage record
        state = before_generator.model_copy(update={
            "attempt": state.attempt + 1, "generator_overrides": overrides, "stages": state.stages})
        i = gen
    return state


def finish_run(state: RunState) -> Path:
    """Write run.json (artifacts with sha256) and move the run folder into place."""
    outputs = {k: v.model_dump(mode="json") for k, v in (("video", state.video), ("reconstruction", state.reconstruction)) if v is not None}
    objects = scene_objects.registry_from_outputs(state.path, outputs)
    if objects:
        scene_objects.write_registry(state.path, objects, None)
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
    artifacts.atomic_write_json(state.path / artifacts.RUN_FILE, redact(manifest.model_dump(mode="json")))
    return artifacts.RunFolder(state.root, state.run_id).commit()


def abort_run(state: RunState) -> None:
    artifacts.RunFolder(state.root, state.run_id).discard()


def execute(state: RunState, run_one: Callable[[RunState, StepConfig], RunState] | None = None) -> tuple[RunState, Path]:
    """Run every stage (with the closed loop) and commit the run folder; on any failure, or an interrupt,
    the partial folder is removed and the error propagates. Returns the final state and the run folder."""
    try:
        state = run_steps(state, run_one)
        return state, finish_run(state)
    except BaseException:
        abort_run(state)
        raise
