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


# --- failure isolation ---------------------------------------------------------------------------------


def _failures(out: Path) -> list[dict]:
    path = out / batch.FAILURES_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "worldsim.cli", *argv], capture_output=True, text=True, env=env)


def test_acceptance_two_failing_scenes_of_twenty_are_recorded_then_retried(tmp_path):
    """20 scenes, 2 of which cannot write their video (videos/<index>.mp4 is a folder): 18 records, a
    failures file naming exactly those 2, exit 1 without a traceback; --retry-failed after removing the
    cause completes them and the folder validates."""
    path = _write(tmp_path, tiny_batch_spec(num_scenes=20, runner="threads", workers=2))
    out = tmp_path / "ds"
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(path))
    bad = [scenes[3], scenes[11]]
    for s in bad:
        (out / s.video).mkdir(parents=True)

    proc = _cli("batch", str(path), "--out", str(out), "--json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("worldsim: error: 2 of 20 scenes failed") and "--retry-failed" in err[0]
    summary = json.loads(proc.stdout)
    assert summary["scenes"] == 18 and summary["failed"] == 2
    assert summary["failures_file"] == str(out / batch.FAILURES_FILE) and summary["failures_file"] in err[0]
    assert len(list((out / "records").glob("*.json"))) == 18
    failures = _failures(out)
    assert [f["scene"] for f in failures] == [s.id for s in bad] and [f["index"] for f in failures] == [3, 11]
    for f, s in zip(failures, bad):
        assert f["stage"] == "export"
        assert f["error"].startswith("IsADirectoryError: ") and str(out / s.video) in f["error"] and "\n" not in f["error"]
    manifest = json.loads((out / datasets.MANIFEST).read_text())
    assert manifest["num_scenes"] == 18 and manifest["failed"] == 2 and batch.FAILURES_FILE in manifest["files"]
    assert not any(s.id in rel for s in bad for rel in manifest["files"])
    assert "2 of the spec's 20 scenes failed" in (out / datasets.CARD).read_text()
    # the dataset of the 18 is whole; as a dataset of the spec it is incomplete
    incomplete = _cli("dataset", "validate", str(out))
    assert incomplete.returncode == 2 and len(incomplete.stderr.strip().splitlines()) == 1
    assert f"{out / batch.FAILURES_FILE}: 2 of the spec's 20 scenes failed" in incomplete.stderr and "--retry-failed" in incomplete.stderr
    assert _cli("dataset", "validate", str(out), "--allow-failed").returncode == 0

    for s in bad:
        (out / s.video).rmdir()
    retry = _cli("batch", str(path), "--out", str(out), "--json", "--retry-failed")
    assert retry.returncode == 0, retry.stderr
    again = json.loads(retry.stdout)
    assert (again["scenes"], again["failed"], again["skipped"], again["recovered"]) == (20, 0, 18, 2)
    assert again["failures_file"] is None and not (out / batch.FAILURES_FILE).exists()
    ok = _cli("dataset", "validate", str(out))
    assert ok.returncode == 0 and ok.stdout.startswith(f"valid: {out} (scenes 20,"), ok.stderr
    assert "failed" not in (out / datasets.CARD).read_text()


def _explode_on(monkeypatch, seeds: set[int], error: BaseException) -> None:
    from plugins.procedural.stage import ProceduralGenerator

    real = ProceduralGenerator.run

    def run(self, plan, seed, out_dir):
        if seed in seeds:
            raise error
        return real(self, plan, seed, out_dir)

    monkeypatch.setattr(ProceduralGenerator, "run", run)


def test_a_failing_stage_is_named_and_a_normal_rerun_retries_it(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec()))
    _explode_on(monkeypatch, {scenes[1].seed}, RuntimeError("renderer crashed\nsecond line"))
    summary = batch.run_batch(tiny_batch_spec(), out)
    assert (summary["scenes"], summary["failed"], summary["synthesized"]) == (5, 1, 5)
    assert _failures(out) == [{"scene": scenes[1].id, "index": 1, "stage": "generator",
                               "error": "generator 'procedural' (plugin 'procedural') failed: RuntimeError: renderer crashed second line"}]
    assert not (out / "runs" / scenes[1].id).exists() and not list((out / "runs").glob(".*"))
    counts = datasets.validate_dataset(out, allow_failed=True)
    assert (counts["scenes"], counts["failed"]) == (5, 1)

    # still failing, now for another reason: the entry is replaced, not added
    _explode_on(monkeypatch, {scenes[1].seed}, OSError(28, "No space left on device"))
    again = batch.run_batch(tiny_batch_spec(), out)
    assert again["failed"] == 1 and again["skipped"] == 5
    assert [(f["scene"], f["stage"]) for f in _failures(out)] == [(scenes[1].id, "generator")]
    assert "No space left on device" in _failures(out)[0]["error"]

    monkeypatch.undo()
    fixed = batch.run_batch(tiny_batch_spec(), out)  # a normal re-run redoes the failed scene too
    assert (fixed["scenes"], fixed["failed"], fixed["synthesized"], fixed["skipped"]) == (6, 0, 1, 5)
    assert not (out / batch.FAILURES_FILE).exists()
    assert datasets.validate_dataset(out)["scenes"] == 6


def test_retry_failed_runs_only_the_failed_scenes(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec()))
    _explode_on(monkeypatch, {scenes[0].seed, scenes[4].seed}, ValueError("bad pixels"))
    batch.run_batch(tiny_batch_spec(), out)
    assert [f["index"] for f in _failures(out)] == [0, 4]
    monkeypatch.undo()
    (out / "records" / f"{scenes[2].id}.json").unlink()  # an unfinished scene that did not fail: not retried
    with pytest.raises(InputError, match="1 scenes of .* are not finished .*without --retry-failed"):
        batch.run_batch(tiny_batch_spec(), out, retry_failed=True)
    assert not (out / batch.FAILURES_FILE).exists()
    assert all((out / "records" / f"{s.id}.json").is_file() for s in (scenes[0], scenes[4]))
    assert batch.run_batch(tiny_batch_spec(), out)["recovered"] == 1
    assert datasets.validate_dataset(out)["scenes"] == 6


@pytest.mark.parametrize("runner", ["none", "threads"])
def test_an_interrupt_stops_the_batch_and_is_not_a_failure(tmp_path, monkeypatch, runner):
    out = tmp_path / "ds"
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec()))
    _explode_on(monkeypatch, {scenes[2].seed}, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(tiny_batch_spec(), out, runner=runner, workers=1)
    assert not (out / batch.FAILURES_FILE).exists() and not (out / datasets.MANIFEST).exists()
    assert not (out / "runs" / scenes[2].id).exists() and not list((out / "runs").glob(".*"))


def test_a_failure_recorded_before_an_interrupt_is_kept(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec()))
    _explode_on(monkeypatch, {scenes[1].seed}, RuntimeError("boom"))
    from plugins.procedural.stage import ProceduralGenerator

    failing = ProceduralGenerator.run

    def run(self, plan, seed, out_dir):
        if seed == scenes[3].seed:
            raise KeyboardInterrupt()
        return failing(self, plan, seed, out_dir)

    monkeypatch.setattr(ProceduralGenerator, "run", run)
    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(tiny_batch_spec(), out)
    assert [f["scene"] for f in _failures(out)] == [scenes[1].id]


@pytest.mark.parametrize("make, words", [
    (lambda d: d, "is a folder"),
    (lambda d: (d / "list.yaml", (d / "list.yaml").write_text("- 1\n- 2\n"))[0], "holds a list, not a mapping of fields"),
    (lambda d: (d / "empty.yaml", (d / "empty.yaml").write_text(""))[0], "is empty, not a mapping of fields"),
    (lambda d: (d / "bad.yaml", (d / "bad.yaml").write_text("a: [\n"))[0], "is not valid YAML (line 2, column 1"),
    (lambda d: (d / "bin.yaml", (d / "bin.yaml").write_bytes(b"\x89PNG\x00\xff"))[0], "is not a text file"),
    (lambda d: d / "missing.yaml", "does not exist"),
])
def test_spec_that_is_not_a_yaml_mapping_file_is_one_line(tmp_path, make, words):
    from worldsim.errors import WorldsimError

    spec = make(tmp_path)
    with pytest.raises(WorldsimError) as err:
        batch.load_spec(spec)
    msg = str(err.value)
    assert msg.startswith(f"batch spec '{spec}' ") and words in msg and "YAML (or JSON) file holding a mapping" in msg
    assert err.value.exit_code == 2 and "\n" not in msg


def test_cli_spec_folder_is_exit_2(tmp_path):
    proc = _cli("batch", str(tmp_path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"batch spec '{tmp_path}' is a folder" in lines[0]
    assert not (tmp_path / "out").exists()


def test_scene_failed_error_pickles():
    import pickle

    exc = pickle.loads(pickle.dumps(batch.SceneFailedError("000001-x", "export", "IsADirectoryError: x")))
    assert (exc.scene_id, exc.stage, exc.error) == ("000001-x", "export", "IsADirectoryError: x")
    assert str(exc) == "scene 000001-x failed at export: IsADirectoryError: x"


@pytest.mark.slow
def test_dask_runner_records_failures(tmp_path):
    out = tmp_path / "ds"
    scenes = batch_scenes.enumerate_scenes(batch.load_spec(tiny_batch_spec(num_scenes=3)))
    (out / scenes[1].video).mkdir(parents=True)
    summary = batch.run_batch(tiny_batch_spec(num_scenes=3), out, runner="dask", workers=2)
    assert (summary["scenes"], summary["failed"]) == (2, 1)
    assert [(f["scene"], f["stage"]) for f in _failures(out)] == [(scenes[1].id, "export")]
    assert datasets.validate_dataset(out, allow_failed=True)["failed"] == 1


# --- cameras -------------------------------------------------------------------------------------------


def test_a_spec_without_camera_fields_keeps_its_scenes_content_and_record_bytes():
    old = batch.load_spec(tiny_batch_spec(num_scenes=20))
    explicit = batch.load_spec(tiny_batch_spec(num_scenes=20, camera_motions=["static"]))
    assert "camera_motions" not in old.content() and "ego_ratio" not in old.content()
    assert explicit.content() == old.content()
    scenes = batch_scenes.enumerate_scenes(old)
    assert batch_scenes.enumerate_scenes(explicit) == scenes
    assert all(s.camera == "static" and "camera" not in s.model_dump(mode="json") for s in scenes)
    assert all("camera" not in s.prompt and s.id.count("-") == 6 for s in scenes)


def test_camera_motions_are_an_axis_of_the_grid_without_ego_ratio():
    spec = batch.load_spec(tiny_batch_spec(num_scenes=120, camera_motions=["static", "pan-left", "follow"]))
    scenes = batch_scenes.enumerate_scenes(spec)
    grid = batch_scenes.parameter_grid(spec)
    assert len({(s.object, s.color, s.count, s.direction, s.speed, s.camera) for s in scenes}) == 3 * len(grid) == 120
    for s in scenes:
        if s.camera == "static":
            assert "camera" not in s.prompt and "tracking" not in s.prompt
        else:
            assert f"-{s.speed}-{s.camera}-" in s.id and s.model_dump(mode="json")["camera"] == s.camera
    pan = next(s for s in scenes if s.camera == "pan-left")
    assert pan.prompt.endswith(" as the camera pans to the left")
    assert batch_scenes.scene_camera(pan).model_dump() == {"motion": "pan-left", "speed": "normal", "target": None}
    follow = next(s for s in scenes if s.camera == "follow")
    assert batch_scenes.scene_camera(follow).target == follow.object


@pytest.mark.parametrize("n, ratio", [(8, 0.375), (16, 0.375), (7, 0.5), (5, 0.0), (5, 1.0)])
def test_ego_ratio_gives_exactly_that_many_moving_cameras(n, ratio):
    spec = batch.load_spec(tiny_batch_spec(num_scenes=n, camera_motions=["pan-right", "orbit-left", "dolly-in"], ego_ratio=ratio))
    scenes = batch_scenes.enumerate_scenes(spec)
    assert sum(s.camera != "static" for s in scenes) == round(ratio * n)
    assert batch_scenes.enumerate_scenes(spec) == scenes  # deterministic
    assert len({s.id for s in scenes}) == n


def test_camera_prompts_read_naturally():
    build = batch_scenes.build_prompt
    assert build("ball", "red", 1, "right", "slow", "pan-left") == "A red ball moves slowly from left to right as the camera pans to the left"
    assert build("car", "blue", 2, "left", "normal", "follow") == "Two blue cars move from right to left as the camera follows the blue cars"
    assert build("cube", "green", 1, "none", "normal", "orbit-right") == "A green cube stays still as the camera orbits the green cube to the right"
    assert build("ball", "red", 1, "up", "fast", "dolly-in") == "A red ball moves quickly upwards as the camera dollies in"


@pytest.mark.parametrize("change, field, words", [
    ({"camera_motions": ["pan-left", "pan-left"]}, "camera_motions", "camera motion 'pan-left' is listed twice"),
    ({"camera_motions": ["spin"]}, "camera_motions[0]", "pan-left"),
    ({"ego_ratio": 0.5}, "", "needs a moving camera motion"),
    ({"camera_motions": ["pan-left"], "ego_ratio": 1.5}, "ego_ratio", "less than or equal to 1"),
])
def test_bad_camera_fields_name_the_field(tmp_path, change, field, words):
    path = _write(tmp_path, tiny_batch_spec(**change))
    with pytest.raises(ConfigError) as err:
        batch.load_spec(path)
    assert f"{field}:" in str(err.value) and words in str(err.value)


def test_the_parsed_camera_is_checked():
    from worldsim.types import CameraSpec

    spec = batch.load_spec(tiny_batch_spec(num_scenes=40, camera_motions=["static", "truck-right", "follow"]))
    scenes = batch_scenes.enumerate_scenes(spec)
    for scene in (next(s for s in scenes if s.camera == c) for c in ("static", "truck-right", "follow")):
        plan = _plan_of(scene)
        batch._check_plan(scene, plan.model_copy(update={"camera": batch_scenes.scene_camera(scene)}))
        wrong = CameraSpec(motion="pan-left") if scene.camera != "pan-left" else CameraSpec()
        with pytest.raises(InputError, match=f"scene {scene.id}: the parser read the camera .* expected"):
            batch._check_plan(scene, plan.model_copy(update={"camera": wrong}))


def _plan_of(scene):
    from worldsim.testing import tiny_plan

    return tiny_plan(name=scene.object, color=scene.color, count=scene.count, direction=scene.direction, speed=scene.speed)


def test_dataset_card_reports_the_ego_exo_split():
    from worldsim.types.batch import SceneRecord

    def card(spec):
        recs = [SceneRecord(scene=s, run=f"runs/{s.id}", plan={}, generator="procedural", video=s.video, video_sha256="0" * 64,
                            fps=8, num_frames=4, width=32, height=32, dense=None, wall_s=0.0)
                for s in batch_scenes.enumerate_scenes(spec)]
        return datasets.dataset_card(spec, recs, {})

    moving = card(batch.load_spec(tiny_batch_spec(num_scenes=8, camera_motions=["pan-left", "follow"], ego_ratio=0.375)))
    assert "camera motions ['pan-left', 'follow'], ego ratio 0.375" in moving
    section = moving[moving.index("## Camera: ego-centric"):]
    ego = next(line for line in section.splitlines() if line.startswith("| ego (moving camera)"))
    exo = next(line for line in section.splitlines() if line.startswith("| exo (static camera)"))
    assert ego.endswith("| 3 |") and exo.endswith("| 5 |")
    static = card(batch.load_spec(tiny_batch_spec(num_scenes=8)))
    assert "ego-centric" not in static and "camera motions" not in static


def test_batch_with_moving_cameras_end_to_end(tmp_path):
    out = tmp_path / "ds"
    spec = tiny_batch_spec(num_scenes=4, camera_motions=["pan-left", "follow", "orbit-right", "truck-left"], ego_ratio=0.5)
    summary = batch.run_batch(spec, out)
    assert summary["synthesized"] == 4 and not _failures(out)
    assert datasets.validate_dataset(out)["scenes"] == 4
    for scene in batch_scenes.enumerate_scenes(batch.load_spec(spec)):
        record = json.loads((out / "records" / f"{scene.id}.json").read_text())
        labels = json.loads(next((out / record["run"]).glob("**/labels.json")).read_text())
        if scene.camera == "static":
            assert "camera" not in record["plan"] and "cameras" not in labels
        else:
            assert record["plan"]["camera"]["motion"] == scene.camera and len(labels["cameras"]) == labels["num_frames"]
    assert "## Camera: ego-centric" in (out / "README.md").read_text()
