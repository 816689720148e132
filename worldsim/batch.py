"""Batch synthesis of a dataset from a spec file: scenes -> worldsim runs -> per-scene records -> exports.

A batch folder (`worldsim batch SPEC --out DIR`) holds `spec.json`, `runs/<scene-id>/` (one committed
worldsim run per scene), `records/<scene-id>.json` (what the scene adds to the dataset, written
atomically after its run is committed), `videos/` and the exports of `worldsim.io.datasets`.

Resumable and idempotent: a scene is finished when its run folder is committed and its record file
exists; re-running skips finished scenes, rebuilds the record of a committed run that lacks one, and
redoes a scene whose run was interrupted (its `runs/.<scene-id>.partial` folder is removed first). The
exports, the card and the manifest are rebuilt from the record files at the end, so they never hold a
scene twice. Scenes, their ids, seeds and splits are a pure function of the spec's content, so a re-run
maps to the same ids; re-running into a folder made from a different spec is refused.

Scenes run in parallel on threads (default), a Dask cluster (local or a scheduler address), or one
after another; `flows/batch.py` runs the same functions as Prefect tasks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml
from pydantic import ValidationError

from worldsim import artifacts
from worldsim.batch_scenes import content_hash, enumerate_scenes
from worldsim.config import PipelineConfig, load_config
from worldsim.errors import ConfigError, InputError, WorldsimError
from worldsim.io import datasets
from worldsim.labels import read_labels
from worldsim.types.batch import EXECUTION_FIELDS, SPLITS, BatchSpec, Scene, SceneRecord

LOCK_FILE = ".batch.lock"


# --- the spec ------------------------------------------------------------------------------------------


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "spec"


def load_spec(source: str | os.PathLike | dict | BatchSpec, **overrides: Any) -> BatchSpec:
    """A validated BatchSpec from a YAML/JSON file, a dict or a spec; `overrides` (e.g. runner, workers)
    replace fields. Errors are one line naming the field: `batch spec 'x.yaml': colors[1]: unknown colour ...`."""
    name = "<dict>"
    if isinstance(source, BatchSpec):
        data = source.model_dump(mode="json")
    elif isinstance(source, dict):
        data = dict(source)
    else:
        path = Path(source)
        name = str(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise InputError(f"batch spec '{path}' does not exist; see configs/batch/example.yaml") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"batch spec '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"batch spec '{path}' must hold a mapping of fields (num_scenes, objects, colors, ...)")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return BatchSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            got = "" if err["type"] in ("value_error", "missing") else f" (got {err.get('input')!r})"
            problems.append(f"{_where(err['loc'])}: {msg}{got}" if err["loc"] else msg)
        raise ConfigError(f"batch spec '{name}': " + "; ".join(problems)) from None


def resolve_config(spec: BatchSpec) -> PipelineConfig:
    """The pipeline each scene runs: the spec's preset, only the stage kinds it names, its settings merged
    in; every stage name and setting validated (nothing runs before this passes)."""
    from worldsim import registry

    data = load_config(spec.config).model_dump(mode="json")
    kinds = [s["kind"] for s in data["stages"]]
    if spec.stages is not None:
        missing = [k for k in spec.stages if k not in kinds]
        if missing:
            raise ConfigError(f"batch spec: stages: {missing} not in preset '{spec.config}', which has {kinds}")
        data["stages"] = [s for s in data["stages"] if s["kind"] in spec.stages]
    data["stages"] = [s for s in data["stages"] if s["kind"] != "editor"]  # edits are not part of a batch
    for kind, values in spec.settings.items():
        step = next((s for s in data["stages"] if s["kind"] == kind), None)
        if step is None:
            raise ConfigError(f"batch spec: settings.{kind}: the pipeline has no {kind} stage; it has {[s['kind'] for s in data['stages']]}")
        step["config"] = _merge(step.get("config") or {}, values)
    if not any(s["kind"] == "generator" for s in data["stages"]):
        raise ConfigError(f"batch spec: config '{spec.config}' has no generator stage; a batch needs one")
    cfg = PipelineConfig.model_validate(data)
    for step in cfg.stages:
        try:
            registry.get_stage_info(step.kind, step.name).cls.make_config(step.config)
        except WorldsimError as exc:
            raise ConfigError(f"batch spec: settings.{step.kind}: {exc}") from None
    return cfg


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# --- the batch folder ----------------------------------------------------------------------------------


def _paths(out_dir: Path, scene: Scene) -> tuple[Path, Path, Path]:
    """(committed run folder, its partial folder, record file) of a scene."""
    runs = out_dir / datasets.RUNS_DIR
    return runs / scene.id, runs / f".{scene.id}.partial", out_dir / datasets.RECORDS_DIR / f"{scene.id}.json"


def _read_record(path: Path) -> SceneRecord | None:
    try:
        return SceneRecord.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def is_done(scene: Scene, out_dir: str | Path) -> bool:
    run_dir, _, rec_path = _paths(Path(out_dir), scene)
    rec = _read_record(rec_path)
    return rec is not None and rec.scene == scene and (run_dir / artifacts.RUN_FILE).is_file()


@contextlib.contextmanager
def open_batch(spec: BatchSpec, out_dir: str | Path) -> Iterator[tuple[PipelineConfig, list[Scene]]]:
    """Validate everything, lock the folder against a second batch, record or check spec.json, remove
    debris of an interrupted run; yields (pipeline config, scenes)."""
    import fcntl

    config = resolve_config(spec)
    scenes = enumerate_scenes(spec)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder '{out}' exists and is not a folder")
    for sub in (datasets.RUNS_DIR, datasets.RECORDS_DIR, datasets.VIDEOS_DIR):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"output folder '{out}' is being written by another batch run; wait for it or pass another --out") from None
        _check_spec_file(out, spec)
        for debris in (out / datasets.RUNS_DIR).glob(".*.partial"):  # no scene of ours is running yet
            shutil.rmtree(debris, ignore_errors=True)
        for sub in (datasets.RECORDS_DIR, datasets.VIDEOS_DIR):
            for tmp in (out / sub).glob(".*.tmp*"):
                tmp.unlink(missing_ok=True)
        yield config, scenes


def _check_spec_file(out: Path, spec: BatchSpec) -> None:
    path = out / datasets.SPEC_FILE
    content = spec.content()
    if path.is_file():
        try:
            old = json.loads(path.read_text())["spec"]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}: not a worldsim batch spec record; pass another --out") from None
        if old != content:
            diff = sorted(k for k in set(old) | set(content) if old.get(k) != content.get(k))
            raise ConfigError(f"output folder '{out}' holds a batch made from a different spec (fields differ: "
                              f"{', '.join(diff)}); pass another --out or the same spec")
        return
    from worldsim import __version__

    artifacts.atomic_write_json(path, {"spec": content, "content_sha256": content_hash(content),
                                       "execution": spec.model_dump(mode="json", include=set(EXECUTION_FIELDS)),
                                       "worldsim": __version__})


# --- one scene -----------------------------------------------------------------------------------------


def _check_plan(scene: Scene, plan) -> None:
    want = {"objects": [{"name": scene.object, "color": scene.color, "count": scene.count}],
            "motion": {"direction": scene.direction, "speed": scene.speed}}
    got = plan.contract()
    if {k: got[k] for k in want} != want:
        raise InputError(f"scene {scene.id}: the parser read {got['objects']} {got['motion']} from '{scene.prompt}', "
                         f"expected {want['objects']} {want['motion']}")


def _run_scene(scene: Scene, out: Path, config: PipelineConfig) -> Path:
    from worldsim import runner
    from worldsim.pipeline import run

    _, partial, _ = _paths(out, scene)
    shutil.rmtree(partial, ignore_errors=True)

    def run_one(st: runner.RunState, step) -> runner.RunState:
        st = runner.run_step(st, step)
        if step.kind == "parser":
            _check_plan(scene, st.plan)
        return st

    # Run folders are named by scene (not by time), so an interrupted scene is found again.
    return run(scene.prompt, config=config, seed=scene.seed, output_dir=out / datasets.RUNS_DIR,
                        run_id=scene.id, run_one=run_one).run_dir


def _derive_record(scene: Scene, out: Path, questions: bool, wall_start: float) -> SceneRecord:
    from worldsim.types import GeneratedVideo, Plan

    run_dir, _, rec_path = _paths(out, scene)
    manifest = json.loads((run_dir / artifacts.RUN_FILE).read_text())
    video = GeneratedVideo.model_validate(manifest["outputs"]["video"])
    plan = Plan.model_validate(manifest["plan"])
    _check_plan(scene, plan)
    with artifacts.atomic_path(out / scene.video) as tmp:
        shutil.copyfile(run_dir / video.video, tmp)
    labels = read_labels(run_dir / video.labels).to_dict() if video.labels else None
    dense = None
    if labels is not None and video.arrays:
        from safetensors.numpy import load_file

        dense = datasets.dense_record(labels, load_file(str(run_dir / video.arrays))["masks"])
    items = []
    if questions:
        from worldsim.qa.questions import generate_questions

        items = [q.model_dump(mode="json") for q in generate_questions(plan, labels, scene.seed, scene.video, video.generator, scene_id=scene.id)]
    record = SceneRecord(scene=scene, run=f"{datasets.RUNS_DIR}/{scene.id}", plan=manifest["plan"], generator=video.generator,
                         video=scene.video, video_sha256=artifacts.sha256_file(out / scene.video), fps=video.fps,
                         num_frames=video.num_frames, width=video.width, height=video.height, questions=items,
                         dense=dense, wall_s=round(time.perf_counter() - wall_start, 4))
    artifacts.atomic_write_json(rec_path, record.model_dump(mode="json"))
    return record


def synthesize_scene(scene: Scene, out_dir: str | Path, config: PipelineConfig, questions: bool = True,
                     torch_threads: int | None = None) -> dict:
    """Make one scene's run and record unless they exist; returns {id, status, wall_s} with status
    'skipped' (finished before), 'recovered' (committed run, record rebuilt) or 'synthesized'."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    if is_done(scene, out):
        return {"id": scene.id, "status": "skipped", "wall_s": 0.0}
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    run_dir, _, rec_path = _paths(out, scene)
    rec_path.unlink(missing_ok=True)
    status = "recovered"
    if not (run_dir / artifacts.RUN_FILE).is_file():
        shutil.rmtree(run_dir, ignore_errors=True)
        _run_scene(scene, out, config)
        status = "synthesized"
    record = _derive_record(scene, out, questions, t0)
    return {"id": scene.id, "status": status, "wall_s": record.wall_s}


def finalize(spec: BatchSpec, out_dir: str | Path, config: PipelineConfig, scenes: list[Scene]) -> dict:
    """Rebuild the exports, card and manifest from the scene records; every scene must be finished."""
    out = Path(out_dir)
    missing = [s.id for s in scenes if not is_done(s, out)]
    if missing:
        raise InputError(f"{len(missing)} scenes of '{out}' are not finished (first: {missing[0]}); run the batch again to complete them")
    wanted = {s.video for s in scenes}
    for stray in (out / datasets.VIDEOS_DIR).iterdir():  # e.g. a video of an interrupted scene written twice
        if f"{datasets.VIDEOS_DIR}/{stray.name}" not in wanted:
            stray.unlink()
    records = datasets.load_records(out, [s.id for s in scenes])
    ids = {s.id for s in scenes}
    for rec in (out / datasets.RECORDS_DIR).glob("*.json"):
        if rec.stem not in ids:
            rec.unlink()
    return datasets.write_dataset(out, spec, records, config.model_dump(mode="json"))


# Torch intra-op threads per scene worker. A scene is a small render: on a 2-core machine one worker with
# 2 torch threads took 12.7 s a scene against about 1 s with 1 thread (benchmarks/bench_batch.py --compare);
# parallel scenes, not threads inside one, use the cores.
TORCH_THREADS_PER_WORKER = 1


def _map_scenes(scenes: list[Scene], out: Path, config: PipelineConfig, spec: BatchSpec) -> Iterator[dict]:
    """Run synthesize_scene over scenes with the spec's runner; yields results as they complete."""
    threads = TORCH_THREADS_PER_WORKER
    if spec.runner == "none" or not scenes:
        for s in scenes:
            yield synthesize_scene(s, out, config, spec.questions, threads)
    elif spec.runner == "threads":
        from concurrent.futures import ThreadPoolExecutor, as_completed

        import torch

        torch.set_num_threads(threads)
        with ThreadPoolExecutor(max_workers=spec.workers, thread_name_prefix="worldsim-scene") as pool:
            futures = [pool.submit(synthesize_scene, s, out, config, spec.questions) for s in scenes]
            try:
                for f in as_completed(futures):
                    yield f.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    else:
        from distributed import Client, LocalCluster, as_completed

        with contextlib.ExitStack() as stack:
            if spec.dask_address:
                client = stack.enter_context(Client(spec.dask_address))
            else:
                cluster = stack.enter_context(LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                                           dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            futures = [client.submit(synthesize_scene, s, str(out.resolve()), config, spec.questions, threads, key=f"scene-{s.id}", pure=False)
                       for s in scenes]
            for f in as_completed(futures):
                yield f.result()


def summarize(spec: BatchSpec, results: list[dict], wall_s: float, manifest: dict) -> dict:
    made = [r for r in results if r["status"] != "skipped"]
    per_scene = [r["wall_s"] for r in made]
    return {
        "scenes": manifest["num_scenes"], "splits": manifest["splits"],
        "synthesized": sum(r["status"] == "synthesized" for r in results),
        "recovered": sum(r["status"] == "recovered" for r in results),
        "skipped": sum(r["status"] == "skipped" for r in results),
        "wall_s": round(wall_s, 3),
        "scenes_per_hour": round(3600 * len(made) / wall_s, 1) if made and wall_s > 0 else None,
        "per_scene_median_s": round(statistics.median(per_scene), 4) if per_scene else None,
        "runner": spec.runner, "workers": spec.workers,
    }


def run_batch(spec: BatchSpec | str | os.PathLike | dict, out_dir: str | Path,
              progress: Callable[[dict, int, int], None] | None = None, **overrides: Any) -> dict:
    """Synthesize every unfinished scene of the spec into out_dir, then rebuild the dataset exports.
    `progress(result, done, total)` is called after each scene. Returns a summary (counts, throughput)."""
    spec = load_spec(spec, **overrides)
    out = Path(out_dir)
    with open_batch(spec, out) as (config, scenes):
        t0 = time.perf_counter()
        done_before = [s for s in scenes if is_done(s, out)]
        todo = [s for s in scenes if s not in done_before]
        results = [{"id": s.id, "status": "skipped", "wall_s": 0.0} for s in done_before]
        if progress:
            progress({"id": None, "status": "skipped", "wall_s": 0.0}, len(results), len(scenes))
        for result in _map_scenes(todo, out, config, spec):
            results.append(result)
            if progress:
                progress(result, len(results), len(scenes))
        manifest = finalize(spec, out, config, scenes)
        return summarize(spec, results, time.perf_counter() - t0, manifest)


__all__ = ["load_spec", "resolve_config", "open_batch",
           "synthesize_scene", "finalize", "run_batch", "is_done", "SPLITS"]
