"""The runner's closed loop (worldsim.runner.run_steps): a conformance failure regenerates with a derived seed
and boosted guidance, every attempt is recorded, max_attempts is respected, nothing is left behind."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from worldsim import pipeline, runner
from worldsim.config import PipelineConfig
from worldsim.errors import StageFailedError

PROMPT = "A red ball moves to the right"

# A throwaway generator: the procedural one, but on `bad_seed` (or always) it draws the opposite motion,
# so labels and plan disagree; `crash_after` makes a later attempt raise. Records (seed, guidance) per call.
PLUGIN = '''
from pydantic import Field

from plugins.procedural.stage import ProceduralConfig, ProceduralGenerator
from worldsim.hookspecs import hookimpl

CALLS = []
OPPOSITE = {"right": "left", "left": "right", "up": "down", "down": "up"}


class StubbornConfig(ProceduralConfig):
    guidance_scale: float = Field(2.0, gt=0, le=4.0, description="recorded only")
    disobey: str = Field("first", pattern="^(first|always)$")
    bad_seed: int = 0
    crash_after: int = 0


class StubbornGenerator(ProceduralGenerator):
    name = "stubborn-test"
    description = "ignores the plan's direction on bad_seed (tests)"
    Config = StubbornConfig

    def run(self, plan, seed, out_dir):
        cfg = self.config
        CALLS.append((seed, cfg.guidance_scale))
        if cfg.crash_after and len(CALLS) > cfg.crash_after:
            (out_dir / "half-written.bin").write_bytes(b"x")
            raise RuntimeError("generator crashed")
        if cfg.disobey == "always" or seed == cfg.bad_seed:
            plan = plan.model_copy(update={"motion": plan.motion.model_copy(update={"direction": OPPOSITE[plan.motion.direction]})})
        return super().run(plan, seed, out_dir).model_copy(update={"generator": self.name})


@hookimpl
def register_generators(register):
    register(StubbornGenerator)
'''

TINY = {"num_frames": 6, "width": 32, "height": 32, "gaussians_per_object": 120, "background_spacing": 0.6, "write_ply": False}


@pytest.fixture
def stubborn(tmp_path):
    from worldsim.testing import install_plugin

    with install_plugin(tmp_path / "site", "worldsim-stubborn-test", "worldsim_stubborn_test", PLUGIN):
        yield sys.modules.get("worldsim_stubborn_test") or __import__("worldsim_stubborn_test")


def config(generator: dict | None = None, scorer: dict | None = None) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": "closed-loop-test", "stages": [
        {"kind": "parser", "name": "rules"},
        {"kind": "generator", "name": "stubborn-test", "config": {**TINY, **(generator or {})}},
        {"kind": "scorer", "name": "conformance",
         "config": {"boxes": "labels", "floor": {"miou": 0.5, "direction_accuracy": 1.0}, "max_attempts": 3, **(scorer or {})}},
    ]})


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_failed_first_attempt_is_regenerated_and_recorded(stubborn, tmp_path):
    out = tmp_path / "runs"
    run = pipeline.run_pipeline(PROMPT, config=config(), seed=0, output_dir=out)
    manifest = json.loads((run / "run.json").read_text())
    conf = manifest["metrics"]["conformance"]
    second = runner.attempt_seed(0, 2)
    assert stubborn.CALLS == [(0, 2.0), (second, 3.0)]  # new seed, guidance x 1.5
    assert conf["passed"] is True and conf["attempt"] == 2 and conf["max_attempts"] == 3
    attempts = conf["attempts"]
    assert [(a["attempt"], a["seed"], a["passed"]) for a in attempts] == [(1, 0, False), (2, second, True)]
    assert attempts[0]["metrics"]["direction_accuracy"] == 0.0 and attempts[1]["metrics"]["direction_accuracy"] == 1.0
    assert attempts[0]["metrics"]["miou"] < 0.5 <= attempts[1]["metrics"]["miou"] == conf["miou"]
    assert attempts[0]["generator"]["overrides"] == {} and attempts[0]["generator"]["config"]["guidance_scale"] == 2.0
    assert attempts[1]["generator"]["overrides"] == {"guidance_scale": 3.0}
    assert attempts[1]["generator"]["config"] == {**attempts[0]["generator"]["config"], "guidance_scale": 3.0}
    assert attempts[1]["generator"]["name"] == "stubborn-test" and attempts[1]["generator"]["config"]["num_frames"] == 6
    assert [s["kind"] for s in attempts[1]["stages"]] == ["generator", "scorer"]
    assert [s["kind"] for s in manifest["stages"]] == ["parser", "generator", "scorer", "generator", "scorer"]
    assert manifest["seed"] == 0
    # the folder holds the passing attempt only: its labels follow the plan
    labels = json.loads((run / "generator" / "labels.json").read_text())
    assert labels["seed"] == second and labels["plan"]["motion"]["direction"] == "right"
    assert entries(out) == [run.name]
    assert sorted(a["path"] for a in manifest["artifacts"]) == sorted(
        str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.name != "run.json")


def test_max_attempts_is_respected_and_the_last_attempt_kept(stubborn, tmp_path):
    run = pipeline.run_pipeline(PROMPT, config=config({"disobey": "always"}, {"max_attempts": 2, "guidance_boost": 3.0}),
                              seed=5, output_dir=tmp_path)
    conf = json.loads((run / "run.json").read_text())["metrics"]["conformance"]
    assert len(stubborn.CALLS) == 2 and conf["passed"] is False and conf["attempt"] == 2
    assert [a["seed"] for a in conf["attempts"]] == [5, runner.attempt_seed(5, 2)]
    # 2.0 x 3 = 6 is above the field's limit (4): guidance stays, the seed still changes
    assert [g for _, g in stubborn.CALLS] == [2.0, 2.0]
    assert json.loads((run / "generator" / "labels.json").read_text())["seed"] == runner.attempt_seed(5, 2)


def test_single_attempt_scores_only(stubborn, tmp_path):
    run = pipeline.run_pipeline(PROMPT, config=config(scorer={"max_attempts": 1}), seed=0, output_dir=tmp_path)
    conf = json.loads((run / "run.json").read_text())["metrics"]["conformance"]
    assert len(stubborn.CALLS) == 1 and conf["passed"] is False and "attempts" not in conf


def test_failure_in_a_later_attempt_leaves_nothing(stubborn, tmp_path):
    out = tmp_path / "runs"
    with pytest.raises(StageFailedError, match="generator crashed"):
        pipeline.run_pipeline(PROMPT, config=config({"crash_after": 1}), seed=0, output_dir=out)
    assert len(stubborn.CALLS) == 2 and entries(out) == []


def test_attempt_seeds_are_deterministic_and_distinct():
    seeds = [runner.attempt_seed(7, a) for a in range(1, 6)]
    assert seeds[0] == 7 and len(set(seeds)) == 5 and seeds == [runner.attempt_seed(7, a) for a in range(1, 6)]
    assert all(0 <= s <= runner.MAX_SEED for s in seeds)


@pytest.fixture
def prefect_server(tmp_path):
    from prefect.settings import PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={PREFECT_HOME: tmp_path / "prefect-home", PREFECT_SERVER_ANALYTICS_ENABLED: False}):
        with prefect_test_harness(server_startup_timeout=120):
            yield


@pytest.mark.slow
def test_flow_shows_every_attempt_as_tasks(stubborn, prefect_server, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.generate_4d import generate_4d

    preset = tmp_path / "loop.yaml"
    preset.write_text(json.dumps(config().model_dump(mode="json")))
    t0 = time.perf_counter()
    state = generate_4d(prompt=PROMPT, config=str(preset), seed=0, output_dir=str(tmp_path / "out"), return_state=True)
    assert state.is_completed(), time.perf_counter() - t0
    folder = Path(state.result())
    conf = json.loads((folder / "run.json").read_text())["metrics"]["conformance"]
    assert conf["passed"] is True and len(conf["attempts"]) == 2
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    assert sorted(r.name.rsplit("-", 1)[0] for r in runs) == [
        "generator:stubborn-test", "generator:stubborn-test (attempt 2)", "parser:rules",
        "scorer:conformance", "scorer:conformance (attempt 2)"]


def test_cli_generate_runs_the_loop(stubborn, tmp_path, capsys):
    from worldsim.cli import main

    preset = tmp_path / "loop.yaml"
    preset.write_text(json.dumps(config().model_dump(mode="json")))
    assert main(["generate", PROMPT, "--config", str(preset), "--seed", "0", "--out", str(tmp_path / "out"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    conf = json.loads(Path(summary["run_json"]).read_text())["metrics"]["conformance"]
    assert conf["passed"] is True and [a["seed"] for a in conf["attempts"]] == [0, runner.attempt_seed(0, 2)]
