"""The `worldsim` flow (flows/generate_4d.py) and the server helpers (worldsim/serve.py).

Flow tests run the flow in-process against a temporary Prefect server (prefect_test_harness, one per
module: about 13 s to start on a 2-core machine, hence `slow`; they still run by default).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from worldsim.errors import ConfigError, MissingDependencyError, ParseError, StageFailedError, WorldsimError  # noqa: E402

PROMPT = "A red ball rolls quickly from left to right"

# A throwaway plugin: a fixed parser and a generator that fails `failures` times with `fail_with`.
FLAKY_PLUGIN = '''
from pathlib import Path

from worldsim.hookspecs import hookimpl
from worldsim.stages import Generator, Parser, StageConfig
from worldsim.testing import tiny_plan
from worldsim.types import GeneratedVideo

CALLS = []


class FixedParser(Parser):
    name = "fixed-test"
    description = "returns the same plan for any text (tests)"

    def run(self, text):
        return tiny_plan()


class FlakyConfig(StageConfig):
    fail_with: str = "ConnectionError"
    failures: int = 1


class FlakyGenerator(Generator):
    name = "flaky-test"
    description = "fails the first `failures` calls with `fail_with` (tests)"
    Config = FlakyConfig

    def run(self, plan, seed, out_dir):
        CALLS.append(seed)
        if len(CALLS) <= self.config.failures:
            raise {"ConnectionError": ConnectionError, "ValueError": ValueError,
                   "TimeoutError": TimeoutError}[self.config.fail_with]("flaky failure")
        (Path(out_dir) / "video.mp4").write_bytes(b"not a real video")
        return GeneratedVideo(video="generator/video.mp4", fps=8, num_frames=1, width=1, height=1, generator=self.name)


@hookimpl
def register_parsers(register):
    register(FixedParser)


@hookimpl
def register_generators(register):
    register(FlakyGenerator)
'''


@pytest.fixture
def restore_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A temporary Prefect server (SQLite in a temp folder) for this module; PREFECT_HOME is a temp dir."""
    from prefect.settings import (
        PREFECT_HOME,
        PREFECT_LOGGING_TO_API_ENABLED,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with temporary_settings(updates={PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False,
                                     PREFECT_LOGGING_TO_API_ENABLED: True}):
        t0 = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=120):
            print(f"prefect_test_harness started in {time.perf_counter() - t0:.1f} s")
            from prefect.settings import PREFECT_API_URL

            yield PREFECT_API_URL.value()


def _flaky_config(tmp_path: Path, fail_with: str, failures: int) -> str:
    path = tmp_path / "flaky.yaml"
    path.write_text(json.dumps({"stages": [
        {"kind": "parser", "name": "fixed-test"},
        {"kind": "generator", "name": "flaky-test", "config": {"fail_with": fail_with, "failures": failures}},
    ]}))
    return str(path)


@pytest.fixture
def flaky_plugin(tmp_path, monkeypatch):
    """Only the flaky test plugin is loaded; yields its module (CALLS counts generator attempts)."""
    import sys

    from worldsim.testing import install_plugin

    monkeypatch.setenv("WORLDSIM_LOAD_PLUGINS", "worldsim-flaky-test")
    with install_plugin(tmp_path / "site", "worldsim-flaky-test", "worldsim_flaky_test", FLAKY_PLUGIN):
        yield sys.modules.get("worldsim_flaky_test") or __import__("worldsim_flaky_test")


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- (a), (b): the flow in-process ------------------------------------------------------------------


def _tiny_config(tmp_path: Path, iterations: int = 10) -> str:
    """The default preset with the tiny generator settings plugin tests use (4 frames, 32x32, no PLY)
    and a short reconstruction."""
    from worldsim.config import load_config
    from worldsim.testing import TINY_GENERATOR

    cfg = load_config("default").model_dump()
    next(s for s in cfg["stages"] if s["kind"] == "generator")["config"].update({**TINY_GENERATOR, "width": 48, "height": 48})
    next(s for s in cfg["stages"] if s["kind"] == "reconstructor")["config"].update(
        {"train": {"iterations": iterations}, "pad": 8, "eval_frames": 2, "novel_yaws": [5]})
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(cfg))
    return str(path)


@pytest.mark.slow
def test_flow_writes_run_folder_tasks_and_artifact(prefect_server, tmp_path):
    from prefect.artifacts import Artifact
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.generate_4d import ARTIFACT_KEY, generate_4d

    out = tmp_path / "outputs"
    state = generate_4d(prompt=PROMPT, config=_tiny_config(tmp_path), output_dir=str(out), seed=3, return_state=True)
    assert state.is_completed()
    result = state.result()
    folder = Path(result)
    assert isinstance(result, str) and folder.parent == out
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["seed"] == 3 and manifest["prompt"] == PROMPT
    assert [s["kind"] for s in manifest["stages"]] == ["parser", "generator", "reconstructor", "scorer", "scorer"]
    assert (folder / manifest["outputs"]["video"]["video"]).is_file()
    assert "psnr_train" in manifest["metrics"]["reconstruction"]
    assert _entries(out) == [folder.name]  # no partial folder beside it
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    assert sorted(r.name.rsplit("-", 1)[0] for r in runs) == ["generator:procedural", "parser:rules", "reconstructor:feature-4dgs",
                                                               "scorer:conformance", "scorer:vlm4d-qa"]
    assert all(r.state.is_completed() for r in runs)
    art = Artifact.get(ARTIFACT_KEY)
    assert art is not None and folder.name in art.data and "| parser | rules |" in art.data and '"direction": "right"' in art.data
    assert f"`worldsim view {folder}`" in art.data and f"--export {folder / 'viewer.html'}`" in art.data


@pytest.mark.slow
def test_flow_takes_a_camera_command_in_the_prompt(prefect_server, tmp_path):
    """Camera motion needs no new parameter: the prompt says it, the plan, labels and reconstruction follow."""
    from flows.generate_4d import generate_4d

    prompt = "A red ball rolls to the right as the camera trucks to the left"
    folder = Path(generate_4d(prompt=prompt, config=_tiny_config(tmp_path), output_dir=str(tmp_path / "out"), seed=2))
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["plan"]["camera"] == {"motion": "truck-left", "speed": "normal", "target": None}
    labels = json.loads((folder / manifest["outputs"]["video"]["labels"]).read_text())
    assert len(labels["cameras"]) == manifest["outputs"]["video"]["num_frames"]
    rec = manifest["outputs"]["reconstruction"]
    cams = json.loads((folder / rec["cameras"]).read_text())
    assert len(cams["cameras"]) == len(labels["cameras"]) and manifest["metrics"]["reconstruction"]["poses"] == "opencv-pnp"
    assert manifest["metrics"]["qa"]["per_category"]["camera_motion"] is not None


def test_flow_takes_overrides_and_the_presets_seed_like_the_cli(prefect_server, tmp_path):
    from flows.generate_4d import generate_4d

    from worldsim.testing import TINY_GENERATOR

    overrides = [f"generator.{k}={json.dumps(v)}" for k, v in TINY_GENERATOR.items()] + ["generator.num_frames=3"]
    folder = Path(generate_4d(prompt=PROMPT, config="generate-only", overrides=overrides, output_dir=str(tmp_path)))
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["seed"] == 0  # the preset's seed, as `worldsim generate` without --seed
    assert manifest["outputs"]["video"]["num_frames"] == 3 and manifest["outputs"]["video"]["width"] == TINY_GENERATOR["width"]


@pytest.mark.slow
def test_unparseable_prompt_fails_and_leaves_nothing(prefect_server, tmp_path):
    from flows.generate_4d import generate_4d

    out = tmp_path / "outputs"
    with pytest.raises(ParseError):
        generate_4d(prompt="qwerty zxcv", output_dir=str(out))
    assert _entries(out) == []


@pytest.mark.slow
def test_flow_failed_state_for_bad_config(prefect_server, tmp_path):
    from flows.generate_4d import generate_4d

    state = generate_4d(prompt=PROMPT, config="no-such-preset", output_dir=str(tmp_path / "o"), return_state=True)
    assert state.is_failed()
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_parameters_are_validated_from_type_hints(prefect_server, tmp_path):
    from prefect.exceptions import ParameterTypeError

    from flows.generate_4d import generate_4d

    with pytest.raises(ParameterTypeError):
        generate_4d(prompt=PROMPT, seed="not a number", output_dir=str(tmp_path / "o"))


@pytest.mark.slow
def test_transient_stage_error_is_retried(prefect_server, flaky_plugin, tmp_path):
    from flows.generate_4d import generate_4d

    out = tmp_path / "outputs"
    folder = Path(generate_4d(prompt="anything", config=_flaky_config(tmp_path, "ConnectionError", 1), output_dir=str(out)))
    assert len(flaky_plugin.CALLS) == 2  # failed once, retried once
    assert (folder / "run.json").is_file() and (folder / "generator" / "video.mp4").is_file()
    assert _entries(out) == [folder.name]


@pytest.mark.slow
def test_stage_bug_is_not_retried_and_leaves_nothing(prefect_server, flaky_plugin, tmp_path):
    from flows.generate_4d import generate_4d

    out = tmp_path / "outputs"
    with pytest.raises(StageFailedError, match="flaky-test.*ValueError"):
        generate_4d(prompt="anything", config=_flaky_config(tmp_path, "ValueError", 5), output_dir=str(out))
    assert len(flaky_plugin.CALLS) == 1
    assert _entries(out) == []


@pytest.mark.slow
def test_transient_error_that_persists_fails_after_retries(prefect_server, flaky_plugin, tmp_path):
    from flows.generate_4d import STAGE_RETRIES, generate_4d

    out = tmp_path / "outputs"
    with pytest.raises(StageFailedError, match="TimeoutError"):
        generate_4d(prompt="anything", config=_flaky_config(tmp_path, "TimeoutError", 99), output_dir=str(out))
    assert len(flaky_plugin.CALLS) == 1 + STAGE_RETRIES
    assert _entries(out) == []


# --- (c): the retry rule -----------------------------------------------------------------------------


def _wrapped(cause: BaseException) -> StageFailedError:
    try:
        try:
            raise cause
        except Exception as exc:
            raise StageFailedError(f"generator 'x' failed: {exc}") from exc
    except StageFailedError as err:
        return err


@pytest.mark.parametrize("exc, retry", [
    (_wrapped(ConnectionError("reset by peer")), True),
    (_wrapped(TimeoutError("read timed out")), True),
    (_wrapped(OSError(5, "Input/output error")), True),
    (_wrapped(ConnectionRefusedError()), True),
    (_wrapped(ValueError("bug")), False),
    (_wrapped(FileNotFoundError("missing.ckpt")), False),
    (_wrapped(PermissionError("denied")), False),
    (StageFailedError("no cause"), False),
    (ParseError("command 'qwerty' not understood"), False),
    (ConfigError("bad preset"), False),
    (MissingDependencyError("diffusers", "generator 'cogvideox'"), False),
    (ConnectionError("raw, outside run_step"), True),
    (KeyError("raw bug"), False),
])
def test_retry_condition_fn(exc, retry):
    from prefect.states import Failed

    from flows.generate_4d import is_transient, retry_condition_fn

    assert retry_condition_fn(None, None, Failed(data=exc)) is retry
    assert is_transient(exc) is retry


def test_worldsim_error_with_os_cause_is_not_retried():
    from prefect.states import Failed

    from flows.generate_4d import retry_condition_fn

    err = ParseError("bad text")
    err.__cause__ = ConnectionError()
    assert retry_condition_fn(None, None, Failed(data=err)) is False


def test_stage_task_settings():
    from prefect.cache_policies import NO_CACHE

    from flows.generate_4d import STAGE_RETRIES, generate_4d, retry_condition_fn, run_stage

    assert generate_4d.name == "worldsim" and generate_4d.persist_result is False
    assert run_stage.retries == STAGE_RETRIES and run_stage.retry_condition_fn is retry_condition_fn
    assert run_stage.persist_result is False and run_stage.cache_policy is NO_CACHE
    assert run_stage.with_options(name="parser:rules").name == "parser:rules"
    schema = generate_4d.parameters.model_dump()
    assert schema["required"] == ["prompt"]
    assert {k: v.get("type") for k, v in schema["properties"].items() if "type" in v} == {
        "prompt": "string", "config": "string", "output_dir": "string"}
    # the same inputs as `worldsim generate`: seed defaults to the preset's, --set overrides, --edit-parser, --editor
    assert {t.get("type") for t in schema["properties"]["seed"]["anyOf"]} == {"integer", "null"}
    assert schema["properties"]["seed"]["default"] is None
    assert {"overrides", "parser", "editor", "edits"} <= set(schema["properties"])


# --- (d): worldsim.serve ------------------------------------------------------------------------------


def test_prefect_env_is_loopback_and_under_repo():
    from worldsim.serve import REPO_ROOT, prefect_env

    env = prefect_env(environ={})
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert Path(env["PREFECT_HOME"]) == REPO_ROOT / ".prefect"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_RUNNER_POLL_FREQUENCY"] == "1"
    assert env["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] == "false"
    assert all(isinstance(v, str) for v in env.values())


def test_prefect_env_environment_wins():
    from worldsim.serve import prefect_env

    env = prefect_env(environ={"PREFECT_API_URL": "http://127.0.0.1:4300/api", "PREFECT_HOME": "/tmp/x"})
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4300/api" and env["PREFECT_HOME"] == "/tmp/x"


def test_prefect_env_rejects_non_prefect_keys(tmp_path):
    from worldsim.serve import prefect_env

    bad = tmp_path / "s.yaml"
    bad.write_text("PREFECT_API_URL: http://127.0.0.1:1/api\nAPI_URL: x\n")
    with pytest.raises(ConfigError, match="'API_URL'"):
        prefect_env(environ={}, settings_file=bad)


def test_prefect_settings_file_is_not_a_pipeline_preset():
    from worldsim.config import available_presets

    assert "settings" not in available_presets() and "prefect" not in available_presets()


def test_serve_module_does_not_import_prefect():
    import subprocess
    import sys

    code = "import sys, worldsim.serve; assert 'prefect' not in sys.modules, 'prefect imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_deployment_name_and_entrypoint(tmp_path):
    from worldsim.serve import DEPLOYMENT, make_deployment

    dep = make_deployment(tmp_path / "outs")
    assert f"{dep.flow_name}/{dep.name}" == DEPLOYMENT == "worldsim/generate-4d"
    assert dep.entrypoint == "flows.generate_4d.generate_4d"
    assert dep.parameters == {"output_dir": str(tmp_path / "outs")}


@pytest.mark.slow
def test_ensure_server_reuses_a_healthy_server(prefect_server, restore_environ):
    from worldsim.serve import ensure_server

    os.environ["PREFECT_API_URL"] = prefect_server
    t0 = time.perf_counter()
    assert ensure_server(quiet=True) == prefect_server
    assert time.perf_counter() - t0 < 5


@pytest.mark.slow
def test_ensure_server_names_the_log_when_start_fails(tmp_path, restore_environ):
    from worldsim.errors import ServerStartError
    from worldsim.serve import ensure_server

    with socket.socket() as busy:  # a port something else holds: `prefect server start` exits at once
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        os.environ["PREFECT_HOME"] = str(tmp_path / "home")
        with pytest.raises(ServerStartError, match=r"server\.log") as info:
            ensure_server(timeout=60, quiet=True)
    assert str(tmp_path / "home" / "server.log") in str(info.value)
    assert (tmp_path / "home" / "server.log").is_file()
    assert isinstance(info.value, WorldsimError) and info.value.exit_code == 1


@pytest.mark.slow
def test_flow_applies_edits_as_linked_versions(prefect_server, tmp_path):
    from flows.generate_4d import generate_4d

    out = tmp_path / "outputs"
    result = generate_4d(prompt=PROMPT, edits=["Make the ball blue", "Delete it"], config=_tiny_config(tmp_path, 60),
                         output_dir=str(out), seed=0)
    last = json.loads((Path(result) / "run.json").read_text())
    assert last["edits"] == ["Delete it"] and last["metrics"]["edit"]["op"] == "remove"
    root, first = last["lineage"]
    assert json.loads((out / first / "run.json").read_text())["parent"] == root
    assert sorted(_entries(out)) == sorted([root, first, Path(result).name])


def test_flow_runs_the_tiny_t2v_preset_offline(prefect_server, tmp_path):
    """The self-trained text-to-video model behind the deployment: the shipped checkpoint, guidance on."""
    from flows.generate_4d import generate_4d

    out = tmp_path / "outputs"
    folder = Path(generate_4d(prompt="A red car drives quickly to the right", config="tiny-t2v", output_dir=str(out), seed=1))
    manifest = json.loads((folder / "run.json").read_text())
    assert [(s["kind"], s["name"]) for s in manifest["stages"]] == [("parser", "rules"), ("generator", "tiny-t2v")]
    video = manifest["outputs"]["video"]
    assert video["generator"] == "tiny-t2v" and video["attention"] == "generator/attention.safetensors"
    assert (folder / video["video"]).stat().st_size > 0 and _entries(out) == [folder.name]
