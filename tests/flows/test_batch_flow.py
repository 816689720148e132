"""The `worldsim-batch` flow (flows/batch.py) and its `synthesize` deployment (worldsim/serve.py).

The flow runs in-process against a temporary Prefect server (prefect_test_harness, one per module).
"""

from __future__ import annotations

import time

import pytest

from worldsim.io import datasets
from worldsim.testing import tiny_batch_spec


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    from prefect.settings import PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with temporary_settings(updates={PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False}):
        t0 = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=120):
            print(f"prefect_test_harness started in {time.perf_counter() - t0:.1f} s")
            yield


def _task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId, TaskRunFilter

    with get_client(sync_client=True) as client:
        subflows = client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
        ids = [flow_run_id, *(f.id for f in subflows)]
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": ids}), task_run_filter=TaskRunFilter())


@pytest.mark.slow
def test_flow_on_threads_writes_a_valid_dataset_and_resumes(prefect_server, tmp_path):
    from flows.batch import worldsim_batch

    out = tmp_path / "ds"
    state = worldsim_batch(tiny_batch_spec(num_scenes=4), str(out), runner="threads", workers=2, return_state=True)
    summary = state.result()
    assert summary["scenes"] == 4 and summary["synthesized"] == 4 and summary["runner"] == "threads"
    assert datasets.validate_dataset(out)["scenes"] == 4
    names = sorted(t.name for t in _task_runs(state.state_details.flow_run_id))
    assert [n for n in names if n.startswith("scene-")] == ["scene-0", "scene-1", "scene-2", "scene-3"]
    assert any(n.startswith("finalize") for n in names)

    again = worldsim_batch(tiny_batch_spec(num_scenes=4), str(out), runner="threads", workers=2)
    assert again["skipped"] == 4 and again["synthesized"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["threads", "dask"])
def test_a_failed_scene_task_does_not_fail_the_others(prefect_server, tmp_path, runner):
    import json

    from flows.batch import worldsim_batch
    from worldsim import batch, batch_scenes

    spec = tiny_batch_spec(num_scenes=4)
    out = tmp_path / "ds"
    bad = batch_scenes.enumerate_scenes(batch.load_spec(spec))[2]
    (out / bad.video).mkdir(parents=True)  # the scene cannot export its video
    state = worldsim_batch(spec, str(out), runner=runner, workers=2, dask_processes=False, return_state=True)
    assert state.is_failed()
    assert f"1 of 4 scenes failed; see {out / 'failures.jsonl'}" in state.message and "retry_failed=True" in state.message
    error = state.result(raise_on_failure=False)
    assert isinstance(error, batch.BatchFailedError)
    summary = error.summary
    assert (summary["scenes"], summary["failed"], summary["synthesized"]) == (3, 1, 3)
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [(f["scene"], f["stage"]) for f in failures] == [(bad.id, "export")] and "IsADirectoryError" in failures[0]["error"]
    runs = {t.name: t for t in _task_runs(state.state_details.flow_run_id)}
    assert runs["scene-2"].state.is_failed() and all(runs[f"scene-{i}"].state.is_completed() for i in (0, 1, 3))
    assert datasets.validate_dataset(out, allow_failed=True)["scenes"] == 3
    with pytest.raises(batch.BatchFailedError, match="1 of 4 scenes failed"):  # a plain call raises; a re-run retries it
        worldsim_batch(spec, str(out), runner="threads", workers=2)

    (out / bad.video).rmdir()
    again = worldsim_batch(spec, str(out), runner=runner, workers=2, dask_processes=False, retry_failed=True, return_state=True)
    assert again.is_completed()
    summary = again.result()
    assert (summary["scenes"], summary["failed"], summary["recovered"], summary["skipped"]) == (4, 0, 1, 3)
    assert not (out / "failures.jsonl").exists() and datasets.validate_dataset(out)["scenes"] == 4


@pytest.mark.slow
def test_flow_on_a_dask_local_cluster(prefect_server, tmp_path):
    from flows.batch import worldsim_batch

    out = tmp_path / "ds"
    summary = worldsim_batch(tiny_batch_spec(num_scenes=3), str(out), runner="dask", workers=2, dask_processes=False)
    assert summary["scenes"] == 3 and summary["synthesized"] == 3 and summary["runner"] == "dask"
    assert datasets.validate_dataset(out)["scenes"] == 3


@pytest.mark.slow
def test_flow_fails_on_a_bad_spec_before_any_work(prefect_server, tmp_path):
    from flows.batch import worldsim_batch

    out = tmp_path / "ds"
    state = worldsim_batch(tiny_batch_spec(colors=["red", "blurple"]), str(out), return_state=True)
    assert state.is_failed() and "colors[1]: unknown colour 'blurple'" in state.message
    assert not out.exists()


def test_batch_deployment_name_and_entrypoint(tmp_path):
    from worldsim.serve import BATCH_DEPLOYMENT, make_batch_deployment

    dep = make_batch_deployment(tmp_path / "ds")
    assert f"{dep.flow_name}/{dep.name}" == BATCH_DEPLOYMENT == "worldsim-batch/synthesize"
    assert dep.entrypoint == "flows.batch.worldsim_batch"
    assert dep.parameters == {"output_dir": str(tmp_path / "ds")}


def test_task_runners():
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.batch import make_task_runner

    assert isinstance(make_task_runner("threads", 3), ThreadPoolTaskRunner)
    remote = make_task_runner("dask", 2, "tcp://10.0.0.5:8786")
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"
    local = make_task_runner("dask", 2)
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["threads_per_worker"] == 1


def test_scene_tasks_retry_only_transient_errors():
    from prefect.states import Failed

    from flows.batch import scene_retry_condition, scene_task
    from worldsim.batch import SceneFailedError

    def failed(cause: BaseException | None) -> Failed:
        exc = SceneFailedError("000001-x", "generator", "boom")
        exc.__cause__ = cause
        return Failed(data=exc)

    assert scene_retry_condition(None, None, failed(TimeoutError("slow disk"))) is True
    assert scene_retry_condition(None, None, failed(IsADirectoryError(21, "Is a directory"))) is False
    assert scene_retry_condition(None, None, failed(ValueError("bad"))) is False
    assert scene_retry_condition(None, None, failed(None)) is False
    assert scene_task.retry_condition_fn is scene_retry_condition
