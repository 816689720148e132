"""worldsim.batch and worldsim.types.batch: spec validation, deterministic scenes, resumable runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from worldsim import batch, batch_scenes
from worldsim.errors import ConfigError, InputError
from worldsim.io import datasets
from worldsim.testing import tiny_batch_spec

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "configs" / "batch" / "example.yaml"


def _write(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


# --- spec validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("change, field, words", [
    ({"colors": ["red", "blurple"]}, "colors[1]", "unknown colour 'blurple'"),
    ({"counts": [1, -2]}, "counts[1]", "greater than or equal to 1"),
    ({"splits": {"train": 0.8, "val": 0.2, "test": 0.1}}, "splits", "must sum to 1"),
    ({"objects": ["ball", "unicorn"]}, "objects[1]", "unknown object 'unicorn'"),
    ({"directions": ["left", "sideways"]}, "directions[1]", "sideways"),
    ({"num_scenes": 0}, "num_scenes", "greater than or equal to 1"),
    ({"colours": ["red"]}, "colours", "Extra inputs are not permitted"),
    ({"splits": {"train": 0.5, "val": 0.25, "test": 0.25, "holdout_objects": ["bus"]}}, "splits.holdout_objects", "'bus'"),
    ({"stages": ["generator"]}, "stages", "must include 'parser'"),
    ({"colors": ["red", "red"]}, "colors", "listed twice"),
])
def test_bad_spec_names_the_field(tmp_path, change, field, words):
    path = _write(tmp_path, tiny_batch_spec(**change))
    with pytest.raises(ConfigError) as err:
        batch.load_spec(path)
    msg = str(err.value)
    assert f"{field}:" in msg and words in msg and str(path) in msg
    assert "\n" not in msg


@pytest.mark.parametrize("change, words", [
    ({"settings": {"generator": {"num_frames": -4}}}, "settings.generator: generator 'procedural' config: num_frames=-4"),
    ({"settings": {"reconstructor": {"x": 1}}}, "settings.reconstructor: the pipeline has no reconstructor stage"),
    ({"config": "no-such-preset"}, "unknown config 'no-such-preset'"),
])
def test_bad_pipeline_settings_fail_before_any_work(tmp_path, change, words):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        batch.run_batch(tiny_batch_spec(**change), out)
    assert not out.exists()


def test_cli_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path):
    path = _write(tmp_path, tiny_batch_spec(colors=["red", "blurple"]))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "worldsim.cli", "batch", str(path), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "colors[1]: unknown colour 'blurple'" in lines[0]
    assert not out.exists()


def test_example_spec_is_valid_and_needs_no_reconstruction():
    spec = batch.load_spec(EXAMPLE)
    cfg = batch.resolve_config(spec)
    assert spec.num_scenes == 200 and [s.kind for s in cfg.stages] == ["parser", "generator"]
    assert cfg.step("generator").config["write_ply"] is False


def test_overrides_are_validated():
    assert batch.load_spec(tiny_batch_spec(), runner="threads", workers=3).workers == 3
    with pytest.raises(ConfigError, match="workers: Input should be greater than or equal to 1"):
        batch.load_spec(tiny_batch_spec(), workers=0)


# --- scenes --------------------------------------------------------------------------------------------


def test_enumeration_is_deterministic_and_ids_are_stable():
    spec = batch.load_spec(tiny_batch_spec(num_scenes=20))
    a, b = batch_scenes.enumerate_scenes(spec), batch_scenes.enumerate_scenes(spec)
    assert a == b
    assert len({s.id for s in a}) == 20 and [s.index for s in a] == list(range(20))
    # execution settings do not change the scenes; the seed does
    assert batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec(num_scenes=20), runner="threads", workers=4)) == a
    other = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec(num_scenes=20, seed=4)))
    assert [s.id for s in other] != [s.id for s in a]


def test_grid_is_sampled_without_repeats_then_cycled():
    spec = batch.load_spec(tiny_batch_spec(num_scenes=1))
    grid = batch_scenes.parameter_grid(spec)
    # 2 objects x 2 colours x 2 counts x (2 moving directions x 2 speeds + 'none' at normal speed)
    assert len(grid) == 2 * 2 * 2 * (2 * 2 + 1) and len(set(grid)) == len(grid)
    params = lambda s: (s.object, s.color, s.count, s.direction, s.speed)
    full = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec(num_scenes=len(grid))))
    assert sorted(map(params, full)) == sorted(grid)
    more = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec(num_scenes=len(grid) + 7)))
    assert Counter(map(params, more)).most_common(1)[0][1] == 2
    assert len({s.seed for s in more}) == len(more)


def test_splits_have_exact_ratios_and_hold_out_whole_categories():
    spec = batch.load_spec(tiny_batch_spec(num_scenes=40, splits={"train": 0.5, "val": 0.25, "test": 0.25, "holdout_objects": ["car"]}))
    scenes = batch_scenes.enumerate_scenes(spec)
    cars = [s for s in scenes if s.object == "car"]
    balls = [s for s in scenes if s.object == "ball"]
    assert cars and all(s.split == "test" for s in cars)
    got = Counter(s.split for s in balls)
    assert got["train"] == round(0.5 * len(balls)) and got["val"] == round(0.25 * len(balls))
    assert got["train"] + got["val"] + got["test"] == len(balls)


def test_every_prompt_of_the_example_grid_parses_back_to_its_parameters():
    from plugins.rules_parser import RulesParser

    parser = RulesParser(RulesParser.make_config({}))
    spec = batch.load_spec(EXAMPLE)
    grid = batch_scenes.parameter_grid(spec)
    for obj, color, count, direction, speed in grid:
        text = batch_scenes.build_prompt(obj, color, count, direction, speed)
        got = parser.run(text).contract()
        assert got["objects"] == [{"name": obj, "color": color, "count": count}], text
        assert got["motion"] == {"direction": direction, "speed": speed}, text


def test_prompts_read_naturally():
    assert batch_scenes.build_prompt("car", "blue", 2, "left", "slow") == "Two blue cars move slowly from right to left"
    assert batch_scenes.build_prompt("ball", "orange", 1, "up-right", "normal") == "An orange ball moves up and to the right"
    assert batch_scenes.build_prompt("fish", "red", 3, "none", "normal") == "Three red fish stay still"


# --- running and resuming ------------------------------------------------------------------------------


def _exports(out: Path) -> dict[str, str]:
    manifest = json.loads((out / datasets.MANIFEST).read_text())
    return {k: v["sha256"] for k, v in manifest["files"].items() if k.startswith(("videos/", "sharegpt_", "vlm4d_", "dense_"))}


def _conversation_lines(out: Path) -> list[str]:
    return [line for p in sorted(out.glob("sharegpt_*.jsonl")) for line in p.read_text().splitlines()]


def test_batch_writes_every_scene_once_and_rerun_skips(tmp_path):
    out = tmp_path / "ds"
    summary = batch.run_batch(tiny_batch_spec(), out)
    assert summary["scenes"] == 6 and summary["synthesized"] == 6 and summary["skipped"] == 0
    assert sorted(p.stem for p in (out / "records").glob("*.json")) == sorted(s.id for s in batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec())))
    assert len(list((out / "videos").glob("*.mp4"))) == 6
    assert datasets.validate_dataset(out)["scenes"] == 6
    before = _exports(out)
    again = batch.run_batch(tiny_batch_spec(), out)
    assert again["skipped"] == 6 and again["synthesized"] == 0
    assert _exports(out) == before


def test_threads_and_serial_runs_give_the_same_dataset(tmp_path):
    serial = tmp_path / "serial"
    threads = tmp_path / "threads"
    batch.run_batch(tiny_batch_spec(num_scenes=4), serial)
    batch.run_batch(tiny_batch_spec(num_scenes=4), threads, runner="threads", workers=2)
    assert _exports(serial) == _exports(threads)


def test_resume_redoes_partial_scenes_and_rebuilds_missing_records(tmp_path):
    spec = tiny_batch_spec()
    out = tmp_path / "ds"
    batch.run_batch(spec, out)
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(spec))
    lines_before = sorted(_conversation_lines(out))
    # what a kill leaves behind: a run interrupted mid-way (partial folder, no record), a run committed
    # just before its record was written, a stray runner partial folder and a half-written temp file
    s0, s1, s2 = scenes[0], scenes[1], scenes[2]
    os.replace(out / "runs" / s0.id, out / "runs" / f".{s0.id}.partial")
    (out / "records" / f"{s0.id}.json").unlink()
    (out / "videos" / "000000.mp4").unlink()
    (out / "records" / f"{s1.id}.json").unlink()
    (out / "records" / f"{s2.id}.json").write_text('{"scene": ')  # torn write of a non-atomic writer
    (out / "runs" / ".20260101-000000-x-s0-abcd.partial").mkdir()
    (out / "videos" / ".000003.1234abcd.tmp.mp4").write_bytes(b"x")
    for p in out.glob("sharegpt_*.jsonl"):
        p.write_text(p.read_text() * 2)  # exports are rebuilt from the records, never appended to
    summary = batch.run_batch(spec, out)
    assert (summary["synthesized"], summary["recovered"], summary["skipped"]) == (1, 2, 3)
    assert not list((out / "runs").glob(".*")) and not list((out / "videos").glob(".*"))
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(s.id for s in scenes)
    assert sorted(_conversation_lines(out)) == lines_before
    assert datasets.validate_dataset(out)["scenes"] == 6


def test_killed_run_resumes_to_exactly_n_scenes(tmp_path):
    """SIGKILL a `worldsim batch` process mid-way, re-run: every scene once, the dataset validates."""
    n = 10
    path = _write(tmp_path, tiny_batch_spec(num_scenes=n, runner="threads", workers=2))
    out = tmp_path / "ds"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "worldsim.cli", "batch", str(path), "--out", str(out), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "records").glob("*.json"))) < 3 and proc.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_at_kill = len(list((out / "records").glob("*.json")))
    assert 3 <= done_at_kill < n, "the batch finished before it could be killed"
    assert not (out / datasets.MANIFEST).exists()
    summary = batch.run_batch(path, out)
    assert summary["scenes"] == n and summary["skipped"] >= done_at_kill
    counts = datasets.validate_dataset(out)
    assert counts["scenes"] == n
    videos = [json.loads(line)["videos"][0] for line in _conversation_lines(out)]
    assert len(set(videos)) == n
    lines = _conversation_lines(out)
    assert len(lines) == len(set(lines))


def test_folder_of_another_spec_is_refused(tmp_path):
    out = tmp_path / "ds"
    batch.run_batch(tiny_batch_spec(num_scenes=2), out)
    with pytest.raises(ConfigError, match="different spec .*fields differ: num_scenes, seed"):
        batch.run_batch(tiny_batch_spec(num_scenes=3, seed=9), out)
    batch.run_batch(tiny_batch_spec(num_scenes=2), out, runner="threads", workers=2)  # execution fields may change


def test_second_batch_on_the_same_folder_is_refused_while_one_runs(tmp_path):
    spec = batch.load_spec(tiny_batch_spec(num_scenes=2))
    with batch.open_batch(spec, tmp_path / "ds"):
        with pytest.raises(InputError, match="being written by another batch run"):
            with batch.open_batch(spec, tmp_path / "ds"):
                pass


@pytest.mark.slow
def test_dask_local_cluster_runner(tmp_path):
    out = tmp_path / "ds"
    summary = batch.run_batch(tiny_batch_spec(num_scenes=3), out, runner="dask", workers=2)
    assert summary["synthesized"] == 3 and summary["runner"] == "dask"
    assert datasets.validate_dataset(out)["scenes"] == 3


def test_a_parser_that_reads_other_parameters_fails_the_scene(tmp_path):
    from worldsim.testing import tiny_plan

    scene = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec(num_scenes=1)))[0]
    wrong = tiny_plan(name=scene.object, color=scene.color, count=scene.count,
                      direction="up" if scene.direction != "up" else "down", speed=scene.speed)
    with pytest.raises(InputError, match=f"scene {scene.id}: the parser read .* from '{scene.prompt}'"):
        batch._check_plan(scene, wrong)
