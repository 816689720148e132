"""The `worldsim` flow (deployment `worldsim/generate-4d`): one Prefect task per configured stage.

The flow calls `worldsim.pipeline.run`, the same function as `worldsim generate` and plain
Python, passing Prefect tasks as the stage and edit wrappers: each stage is a task (`generator:procedural`,
`generator:procedural (attempt 2)` for a closed-loop regeneration), each edit a task (`edit-1`). Stage
outputs are files in the run folder, so Prefect persists no results and caches nothing
(`persist_result=False`, `cache_policy=NO_CACHE`).

Retry rule (`retry_condition_fn`): a stage is retried (2 times, 1 s apart) only when its error is
transient: an OSError, directly or as the cause of a `StageFailedError` (TimeoutError and
ConnectionError are OSErrors), except the path errors a retry cannot fix (file not found, exists,
permission, is/not a directory). Every other `WorldsimError` (bad input, unparseable prompt, bad
config, missing dependency, a stage bug) fails at once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from worldsim import artifacts, runner
from worldsim.config import StepConfig
from worldsim.errors import StageFailedError, WorldsimError
from worldsim.pipeline import run

STAGE_RETRIES = 2
STAGE_RETRY_DELAY_S = 1.0
ARTIFACT_KEY = "worldsim-run"
PERMANENT_OS_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_transient(exc: BaseException | None) -> bool:
    """The retry rule above, on an exception."""
    if isinstance(exc, StageFailedError):
        exc = exc.__cause__
    elif isinstance(exc, WorldsimError):
        return False
    return isinstance(exc, OSError) and not isinstance(exc, PERMANENT_OS_ERRORS)


def retry_condition_fn(task, task_run, state) -> bool:
    """Prefect's retry hook: `state` is the Failed state of the attempt; retry only transient errors."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return is_transient(exc if isinstance(exc, BaseException) else None)


@task(retries=STAGE_RETRIES, retry_delay_seconds=STAGE_RETRY_DELAY_S, retry_condition_fn=retry_condition_fn,
      persist_result=False, cache_policy=NO_CACHE)
def run_stage(state: runner.RunState, step: StepConfig) -> runner.RunState:
    """Run one stage of the config (named `kind:name` per call) and return the new run state."""
    return runner.run_step(state, step)


def _viewer_markdown(final: Path) -> str:
    """How to look at the last version in the browser (issue: a viewer for the 4D scene), as commands to copy."""
    import shlex

    q = shlex.quote(str(final))
    return f"""## Look at it
- interactive viewer (time slider, orbit, language queries and edits; binds 127.0.0.1):
  `worldsim view {q}`
- a self-contained copy to share, which opens offline from the file system (`#t=FRAME` opens it at a frame):
  `worldsim view {q} --export {shlex.quote(str(final / 'viewer.html'))}`
"""


def _summary_markdown(state: runner.RunState, folder: Path, total_s: float, final: Path | None = None) -> str:
    manifest = json.loads((folder / artifacts.RUN_FILE).read_text())
    plan = json.dumps(manifest.get("plan", {}), indent=2, sort_keys=True)
    rows = "\n".join(f"| {s.kind} | {s.name} | {s.plugin} | {s.wall_s:.3f} |" for s in state.stages)
    files = "\n".join(f"| `{a['path']}` | {a['bytes']} | `{a['sha256'][:12]}` |" for a in manifest.get("artifacts", []))
    outputs = json.dumps(manifest.get("outputs", {}), indent=2, sort_keys=True)
    return f"""# worldsim run `{state.run_id}`

- prompt: {state.prompt!r}
- config: `{state.config.name}`, seed {state.seed}
- run folder: `{folder}`
- manifest: `{folder / artifacts.RUN_FILE}`
- flow wall time: {total_s:.2f} s

## Plan
```json
{plan}
```

## Stages
| kind | name | plugin | wall s |
|---|---|---|---|
{rows}

## Outputs
```json
{outputs}
```

| file | bytes | sha256 |
|---|---|---|
{files}

{_viewer_markdown(final or folder)}"""


@task(retries=STAGE_RETRIES, retry_delay_seconds=STAGE_RETRY_DELAY_S, retry_condition_fn=retry_condition_fn,
      persist_result=False, cache_policy=NO_CACHE)
def apply_edit_task(run_dir: Path, text: str, editor: str | None = None, parser: str | None = None) -> Path:
    """One edit command applied to a version: a new run folder linked to its parent."""
    from worldsim import sessions

    return sessions.apply_edit(run_dir, text, editor=editor, parser=parser).resolve()


@flow(name="worldsim", persist_result=False, validate_parameters=True, log_prints=False)
def generate_4d(
    prompt: str,
    edits: list[str] | None = None,
    config: str = "default",
    seed: int | None = None,
    output_dir: str = "outputs",
    overrides: list[str] | None = None,
    parser: str | None = None,
    editor: str | None = None,
) -> str:
    """Generate a 4D world from a text prompt; returns the last version's folder (the run folder when there are
    no edits) as an absolute path.

    Args:
        prompt: a scene description, e.g. "A red ball rolls quickly from left to right".
        edits: edit commands applied after generation, each a new version linked to the previous one.
        config: a preset name from configs/ (e.g. "default") or a path to a preset .yaml file.
        seed: random seed in [0, 2**32-1]; None: the preset's seed (as `worldsim generate`). Same inputs and
            seed give the same artifacts.
        output_dir: folder that receives the run folder (relative paths: to the serving process's cwd).
        overrides: stage settings as `KIND.KEY=VALUE`, e.g. ["generator.num_frames=8"] (as `--set`).
        parser: parser stage for the edit commands (default: the config's parser).
        editor: editor stage for the edits (default: the config's editor that implements the op, else any installed one).
    """
    logger = get_run_logger()
    t0 = time.perf_counter()

    def on_start(state: runner.RunState) -> None:
        logger.info("run %s: config %s, stages %s", state.run_id, state.config.name,
                    ", ".join(f"{s.kind}:{s.name}" for s in state.steps))

    def run_one(st: runner.RunState, step: StepConfig) -> runner.RunState:
        suffix = f" (attempt {st.attempt})" if st.attempt > 1 else ""  # closed-loop retries are their own tasks
        return run_stage.with_options(name=f"{step.kind}:{step.name}{suffix}")(st, step)

    count = iter(range(1, 1 << 30))

    def apply_one(current: Path, text: str) -> Path:
        i = next(count)
        folder = apply_edit_task.with_options(name=f"edit-{i}")(current, text, editor, parser)
        logger.info("edit %d (%s): %s", i, text, folder)
        return folder

    result = run(prompt, edits or [], config, seed, output_dir, overrides or [], parser=parser, editor=editor,
                          run_one=run_one, apply_one=apply_one, on_start=on_start)
    state, folder = result.state, result.run_dir.resolve()
    try:
        create_markdown_artifact(key=ARTIFACT_KEY, markdown=_summary_markdown(state, folder, time.perf_counter() - t0,
                                                                                  result.final_dir.resolve()),
                                 description=f"worldsim run {state.run_id}")
    except Exception as exc:  # the run folder is complete; a missing summary must not fail it
        logger.warning("could not record the %s artifact: %s: %s", ARTIFACT_KEY, type(exc).__name__, exc)
    logger.info("run folder: %s", folder)
    return str(result.final_dir.resolve())
