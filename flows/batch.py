"""The `worldsim-batch` flow (deployment `worldsim-batch/synthesize`): a dataset from a batch spec.

It only orders calls to `worldsim.batch` (the same functions `worldsim batch` runs without a server):
validate the spec and lock the folder, map one `scene` task per unfinished scene over the chosen task
runner, then rebuild the exports from the scene records. Re-running the flow on the same folder resumes.

Task runners (`runner`): `threads` (ThreadPoolTaskRunner, default), `dask` (prefect_dask.DaskTaskRunner on
a LocalCluster of `workers` single-threaded processes, or on an existing scheduler at `dask_address` for
many machines that share the output folder), `none` (one scene at a time). The scenes run in a subflow
`worldsim-batch-scenes` that carries the task runner; progress is a Prefect progress artifact
(`worldsim-batch-progress`) and one task run per scene, named `scene-<index>`.

A scene task that fails (after its retries: only transient OS errors are retried) does not stop the
others: its state's error (the stage that failed and a one-line message) goes to the folder's
`failures.jsonl`, the exports are built from the scenes that succeeded, and the flow run ends Failed
with a message naming how many scenes failed and the failures file (a plain call raises
worldsim.batch.BatchFailedError; its `.summary`, also `state.result(raise_on_failure=False).summary`, is
the summary). Re-run the flow (`retry_failed=True`: only the failed scenes)
after removing the cause.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.generate_4d import STAGE_RETRIES, STAGE_RETRY_DELAY_S, is_transient
from worldsim import batch
from worldsim.config import PipelineConfig
from worldsim.errors import ConfigError
from worldsim.types.batch import BatchSpec, Scene

FLOW_NAME = "worldsim-batch"
SUMMARY_KEY = "worldsim-batch"


def make_task_runner(runner: str, workers: int, dask_address: str | None = None, dask_processes: bool = True):
    """The Prefect task runner for `runner` (threads | dask | none)."""
    if runner == "threads":
        return ThreadPoolTaskRunner(max_workers=workers)
    if runner == "none":
        return ThreadPoolTaskRunner(max_workers=1)
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                              cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": dask_processes,
                                              "dashboard_address": None})
    raise ConfigError(f"runner '{runner}' is not one of threads, dask, none")


def scene_retry_condition(task, task_run, state) -> bool:
    """Retry a scene only for a transient error (flows.generate_4d.is_transient) of its stage."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    if isinstance(exc, batch.SceneFailedError):
        exc = exc.__cause__
    return is_transient(exc if isinstance(exc, BaseException) else None)


@task(name="scene", task_run_name="scene-{scene.index}", retries=STAGE_RETRIES, retry_delay_seconds=STAGE_RETRY_DELAY_S,
      retry_condition_fn=scene_retry_condition, persist_result=False, cache_policy=NO_CACHE)
def scene_task(scene: Scene, output_dir: str, config: PipelineConfig, questions: bool, torch_threads: int | None) -> dict:
    """One scene: its worldsim run and record (skipped when finished); {id, status, wall_s}. Fails with a
    worldsim.batch.SceneFailedError naming the stage that failed."""
    return batch.synthesize_scene(scene, output_dir, config, questions, torch_threads)


def _scene_result(future, scene: Scene) -> dict:
    """The result of a finished scene task; a failed (or crashed) one as worldsim.batch.failed_result."""
    value = future.result(raise_on_failure=False)  # waits for the final state: a Failed one gives its exception
    if isinstance(value, dict):
        return value
    if isinstance(value, batch.SceneFailedError):
        return batch.failed_result(scene, value.stage, value.error)
    state = future.state
    detail = batch.error_line(value) if isinstance(value, BaseException) else (state.message or repr(value))
    return batch.failed_result(scene, "task", f"task {state.name}: {detail}")


@task(name="finalize", persist_result=False, cache_policy=NO_CACHE)
def finalize_task(spec: BatchSpec, output_dir: str, config: PipelineConfig, scenes: list[Scene]) -> dict:
    """Rebuild the exports, card and manifest from the scene records; returns the manifest."""
    return batch.finalize(spec, output_dir, config, scenes)


@flow(name="worldsim-batch-scenes", persist_result=False, validate_parameters=False)
def scenes_flow(scenes: list[Scene], output_dir: str, config: PipelineConfig, questions: bool,
                torch_threads: int | None, total: int) -> list[dict]:
    """Map the scene task over `scenes` on this flow's task runner; updates the progress artifact."""
    logger = get_run_logger()
    done = total - len(scenes)
    progress_id = create_progress_artifact(progress=100.0 * done / total, key="worldsim-batch-progress",
                                           description=f"scenes finished of {total}")
    results = []
    failures = batch.FailureLog(output_dir, scenes)
    futures = scene_task.map(scenes, unmapped(output_dir), unmapped(config), unmapped(questions), unmapped(torch_threads))
    scene_of = {f.task_run_id: s for f, s in zip(futures, scenes)}
    try:
        for future in as_completed(futures):
            result = _scene_result(future, scene_of[future.task_run_id])
            failures.update(result)
            results.append(result)
            done += 1
            update_progress_artifact(progress_id, progress=100.0 * done / total)
            if result["status"] == "failed":
                logger.warning("scene %s failed at %s: %s", result["id"], result["stage"], result["error"])
            if done % max(1, total // 20) == 0 or done == total:
                logger.info("%d/%d scenes (%s %s, %.2f s)", done, total, result["status"], result["id"], result["wall_s"])
    finally:
        failures.flush()
    return results


def _summary_markdown(spec: BatchSpec, output_dir: Path, summary: dict, manifest: dict) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
    return f"""# worldsim batch `{spec.name}`

- folder: `{output_dir}`
- card: `{output_dir / 'README.md'}`; check with `worldsim dataset validate {output_dir}`
- files in the manifest: {len(manifest['files'])}
{f"- **{summary['failed']} scenes failed**: `{summary['failures_file']}` (remove the cause, then re-run with `retry_failed=True`)" if summary.get('failed') else "- failed scenes: none"}

| | |
|---|---|
{rows}
"""


@flow(name=FLOW_NAME, persist_result=False, validate_parameters=True, log_prints=False)
def worldsim_batch(
    spec: str | dict,
    output_dir: str = "datasets/worldsim",
    runner: str | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    dask_processes: bool = True,
    retry_failed: bool = False,
) -> dict:
    """Synthesize (or resume) a dataset from a batch spec; returns the summary (counts, scenes/hour). When
    scenes failed, the run ends Failed ("N of M scenes failed; see <dir>/failures.jsonl") with a
    worldsim.batch.BatchFailedError whose `.summary` is the summary; the dataset holds the scenes that succeeded.

    Args:
        spec: path of a batch spec YAML (e.g. configs/batch/example.yaml; relative to the serving process's
            cwd) or the spec's fields as a mapping.
        output_dir: the dataset folder; re-running on it skips finished scenes.
        runner: threads | dask | none (default: the spec's).
        workers: parallel scenes (default: the spec's).
        dask_address: an existing Dask scheduler (tcp://host:8786); default: a LocalCluster.
        dask_processes: LocalCluster workers are processes (True) or threads of this process (False).
        retry_failed: run only the scenes listed in the folder's failures.jsonl (then rebuild the exports).
    """
    logger = get_run_logger()
    spec_obj = batch.load_spec(spec, runner=runner, workers=workers, dask_address=dask_address)
    out = Path(output_dir).expanduser().resolve()
    t0 = time.perf_counter()
    with batch.open_batch(spec_obj, out) as (config, scenes):
        failed_before = batch.FailureLog(out, scenes)
        done = [s for s in scenes if batch.is_done(s, out)]
        done_ids = {s.id for s in done}
        todo = [s for s in scenes if s.id not in done_ids and (not retry_failed or s.id in failed_before)]
        logger.info("batch %s: %d scenes, %d to synthesize, runner %s x %d, stages %s", spec_obj.name, len(scenes), len(todo),
                    spec_obj.runner, spec_obj.workers, ", ".join(f"{s.kind}:{s.name}" for s in config.stages))
        results = [{"id": s.id, "status": "skipped", "wall_s": 0.0} for s in done]
        if todo:
            in_process = spec_obj.runner != "dask" or not dask_processes and not spec_obj.dask_address
            threads = batch.TORCH_THREADS_PER_WORKER
            if in_process:
                import torch

                torch.set_num_threads(threads)
            task_runner = make_task_runner(spec_obj.runner, spec_obj.workers, spec_obj.dask_address, dask_processes)
            results += scenes_flow.with_options(task_runner=task_runner)(
                todo, str(out), config, spec_obj.questions, None if in_process else threads, len(done) + len(todo))
        manifest = finalize_task(spec_obj, str(out), config, scenes)
    summary = batch.summarize(spec_obj, results, time.perf_counter() - t0, manifest, out)
    try:
        create_markdown_artifact(key=SUMMARY_KEY, markdown=_summary_markdown(spec_obj, out, summary, manifest),
                                 description=f"worldsim batch {spec_obj.name}")
    except Exception as exc:  # the dataset is complete; a missing summary must not fail the run
        logger.warning("could not record the %s artifact: %s: %s", SUMMARY_KEY, type(exc).__name__, exc)
    logger.info("dataset %s: %s", out, summary)
    if summary["failed"]:
        message = (f"{summary['failed']} of {summary['scenes'] + summary['failed']} scenes failed; see {summary['failures_file']}. "
                   f"The dataset holds the other {summary['scenes']}; remove the cause and re-run with retry_failed=True")
        logger.error(message)
        # Failed with an exception as data: a plain call raises it, `return_state=True` gives the state, and
        # `state.result(raise_on_failure=False).summary` is the summary
        return Failed(message=message, data=batch.BatchFailedError(message, summary))
    return summary
