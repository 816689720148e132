"""The one way to run a config: generate a run, then apply edits as new versions.

`run` is what `worldsim generate`, the Prefect flow `worldsim/generate-4d`, `worldsim batch` and plain
Python (`run_pipeline`, which returns the last version's folder) all call. Callers change how a stage or an edit is executed, not what is executed:
`run_one(state, step)` wraps each stage (a progress bar, a Prefect task; default `runner.run_step`),
`apply_one(run_dir, text)` wraps each edit (default `sessions.apply_edit`), and `on_start(state)` sees the
validated run before any stage runs.

Edit commands are parsed and checked (op, params, an editor that implements the op) before the first
stage runs, so a bad edit costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

from worldsim import edit_ops, runner, sessions
from worldsim.config import PipelineConfig, StepConfig
from worldsim.errors import ConfigError
from worldsim.types import Plan


class PipelineResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    state: runner.RunState = Field(description="the final state of the generate run")
    run_dir: Path = Field(description="the generate run's folder")
    versions: list[Path] = Field(default_factory=list, description="one folder per edit, in order")

    @property
    def final_dir(self) -> Path:
        """The last version (the run itself when there were no edits)."""
        return self.versions[-1] if self.versions else self.run_dir


def check_edits(edits: list[str], config: PipelineConfig, parser: str | None = None, editor: str | None = None) -> list[Plan]:
    """Parse every edit command and check it can be applied (op, params, editor); raises before any work."""
    if edits and config.step("reconstructor") is None:
        raise ConfigError(f"edits need a reconstructed scene, but config '{config.name}' has no reconstructor stage; "
                          f"use a config with one (e.g. --config default)")
    plans = []
    step = sessions.parser_step(config, parser)
    for text in edits:
        plan = sessions.parse_edit(text, step)
        chosen = edit_ops.choose_editor(plan.edit.op, config.steps_of("editor"), editor)
        plans.append(plan.model_copy(update={"edit": edit_ops.validate_edit(plan.edit, chosen)}))
    return plans


def run(
    prompt: str,
    edits: list[str] | None = None,
    config: str | PipelineConfig = "default",
    seed: int | None = None,
    output_dir: str | Path = "outputs",
    overrides: list[str] | tuple[str, ...] = (),
    *,
    parser: str | None = None,
    editor: str | None = None,
    run_id: str | None = None,
    run_one: Callable[[runner.RunState, StepConfig], runner.RunState] | None = None,
    apply_one: Callable[[Path, str], Path] | None = None,
    on_start: Callable[[runner.RunState], None] | None = None,
) -> PipelineResult:
    """Generate a run from `prompt` and apply `edits` to it (module docstring). `parser` and `editor` name the
    stages for the edit commands (defaults: the config's parser; the editor that declares each op)."""
    state = runner.start_run(prompt, edits, config, seed, output_dir, overrides, run_id=run_id)
    try:
        plans = check_edits(state.edits, state.config, parser, editor)
    except BaseException:
        runner.abort_run(state)
        raise
    if on_start is not None:
        on_start(state)
    state, run_dir = runner.execute(state, run_one)
    if apply_one is None:
        by_text = dict(zip(state.edits, plans))
        step = sessions.parser_step(state.config, parser)

        def apply_one(current: Path, text: str) -> Path:
            return sessions.apply_edit(current, text, editor=editor, parser=step, plan=by_text.get(text))
    versions = sessions.apply_edits(run_dir, state.edits, apply_one=apply_one)
    return PipelineResult(state=state, run_dir=run_dir, versions=versions)


def run_pipeline(prompt: str, edits: list[str] | None = None, config: str | PipelineConfig = "default", seed: int | None = None,
                 output_dir: str | Path = "outputs", overrides: list[str] | tuple[str, ...] = (), **options) -> Path:
    """Plain-Python run (see `run`): returns the last version's folder (the run folder when there are no edits)."""
    return run(prompt, edits, config, seed, output_dir, overrides, **options).final_dir
