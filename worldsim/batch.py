"""Batch synthesis of a dataset from a spec file: scenes -> worldsim runs -> per-scene records -> exports.

A batch folder (`worldsim batch SPEC --out DIR`) holds `spec.json`, `runs/<scene-id>/` (one committed
worldsim run per scene), `records/<scene-id>.json` (what the scene adds to the dataset, written
atomically after its run is committed), `videos/` and the exports of `worldsim.io.datasets`.

Resumable and idempotent: a scene is finished when its run folder is committed and its record file
exists; re-running skips finished scenes, rebuilds the record of a committed run that lacks one, and
redoes a scene whose run was interrupted (its `runs/.<scene-id>.partial` folder is removed first). The
exports, the card and the manifest are rebuilt from the record files at the end, so they never hold a
scene twice.

Failure isolation: a scene that fails (any error of its stages, its run folder, its video export or its
record; not an interrupt, which stops the batch) is written to `failures.jsonl` (one SceneFailure per
line: scene id, index, stage, one-line error; the file is rewritten atomically after each change) and
the batch goes on. The exports, card and manifest are built from the scenes that succeeded and say how
many failed; `run_batch`'s summary counts them. A re-run redoes every unfinished scene, failed ones
included; `retry_failed=True` (`worldsim batch --retry-failed`) redoes only the failed ones. A scene
that succeeds leaves the file; the file is removed when it lists none. Scenes, their ids, seeds and splits are a pure function of the spec's content, so a re-run
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
from worldsim.types.batch import EXECUTION_FIELDS, SPLITS, BatchSpec, Scene, SceneFailure, SceneRecord

LOCK_FILE = ".batch.lock"
FAILURES_FILE = datasets.FAILURES
ERROR_CHARS = 500  # a failure's error line is cut to this length


class SceneFailedError(WorldsimError):
    """One scene of a batch failed: `stage` is where (a stage kind, 'run', 'export' or 'record'), `error`
    the one-line error; the original exception is the `__cause__` (where it was raised in this process)."""

    exit_code = 1

    def __init__(self, scene_id: str, stage: str, error: str):
        super().__init__(f"scene {scene_id} failed at {stage}: {error}")
        self.scene_id, self.stage, self.error = scene_id, stage, error

    def __reduce__(self):  # picklable across Dask worker processes
        return type(self), (self.scene_id, self.stage, self.error)


class BatchFailedError(WorldsimError):
    """Scenes of a batch failed (the Prefect flow's final error): `summary` is the batch summary, the dataset
    holds the scenes that succeeded and the failures file lists the others."""

    exit_code = 1

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary

    def __reduce__(self):
        return type(self), (str(self), self.summary)


def error_line(exc: BaseException) -> str:
    """A worldsim error's message, or `Type: message` for any other exception, on one line."""
    text = " ".join(str(exc).split())
    if not isinstance(exc, WorldsimError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 3] + "..."


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
        accepted = "a batch spec is a YAML (or JSON) file holding a mapping of fields (num_scenes, objects, colors, ...), e.g. configs/batch/example.yaml"
        if path.is_dir():
            raise InputError(f"batch spec '{path}' is a folder; {accepted}")
        if path.exists() and not path.is_file():
            raise InputError(f"batch spec '{path}' is not a regular file; {accepted}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            raise InputError(f"batch spec '{path}' does not exist; {accepted}") from None
        except PermissionError:
            raise InputError(f"batch spec '{path}' cannot be read (permission denied)") from None
        except UnicodeDecodeError:
            raise ConfigError(f"batch spec '{path}' is not a text file; {accepted}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"batch spec '{path}' is not valid YAML ({where}{problem}); {accepted}") from None
        if not isinstance(data, dict):
            got = "is empty" if data is None else f"holds a {type(data).__name__}"
            raise ConfigError(f"batch spec '{path}' {got}, not a mapping of fields; {accepted}")
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
    from worldsim.batch_scenes import scene_camera

    want = {"objects": [{"name": scene.object, "color": scene.color, "count": scene.count}],
            "motion": {"direction": scene.direction, "speed": scene.speed}}
    got = plan.contract()
    if {k: got[k] for k in want} != want:
        raise InputError(f"scene {scene.id}: the parser read {got['objects']} {got['motion']} from '{scene.prompt}', "
                         f"expected {want['objects']} {want['motion']}")
    camera = scene_camera(scene).model_dump(mode="json")
    if got["camera"] != camera:
        raise InputError(f"scene {scene.id}: the parser read the camera {got['camera']} from '{scene.prompt}', "
                         f"expected {camera}")


class _Where:
    """Where a scene is (for its failure record): a stage kind, 'run', 'export' or 'record'."""

    def __init__(self, phase: str):
        self.phase = phase


def _run_scene(scene: Scene, out: Path, config: PipelineConfig, where: _Where | None = None) -> Path:
    from worldsim import runner
    from worldsim.pipeline import run

    where = where or _Where("run")
    _, partial, _ = _paths(out, scene)
    shutil.rmtree(partial, ignore_errors=True)

    def run_one(st: runner.RunState, step) -> runner.RunState:
        where.phase = step.kind
        st = runner.run_step(st, step)
        if step.kind == "parser":
            _check_plan(scene, st.plan)
        where.phase = "run"  # between stages and after the last one: committing the run folder
        return st

    # Run folders are named by scene (not by time), so an interrupted scene is found again.
    where.phase = "run"
    return run(scene.prompt, config=config, seed=scene.seed, output_dir=out / datasets.RUNS_DIR,
               run_id=scene.id, run_one=run_one).run_dir


def _derive_record(scene: Scene, out: Path, questions: bool, wall_start: float, where: _Where | None = None) -> SceneRecord:
    from worldsim.types import GeneratedVideo, Plan

    where = where or _Where("record")
    where.phase = "record"
    run_dir, _, rec_path = _paths(out, scene)
    try:
        manifest = json.loads((run_dir / artifacts.RUN_FILE).read_text())
        video = GeneratedVideo.model_validate(manifest["outputs"]["video"])
        plan = Plan.model_validate(manifest["plan"])
    except (ValueError, KeyError, TypeError) as exc:  # a committed run.json that is not one: redoing the run fixes it
        raise InputError(f"{run_dir / artifacts.RUN_FILE}: not the run manifest of a generated video ({error_line(exc)}); "
                         f"delete {run_dir} and run the batch again to redo the scene") from None
    _check_plan(scene, plan)
    where.phase = "export"
    with artifacts.atomic_path(out / scene.video) as tmp:
        shutil.copyfile(run_dir / video.video, tmp)
    where.phase = "record"
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
    'skipped' (finished before), 'recovered' (committed run, record rebuilt) or 'synthesized'.
    Any error is raised as a SceneFailedError naming the stage (or 'run', 'export', 'record'), with the
    original error as its cause; interrupts (KeyboardInterrupt, SIGTERM) pass through unchanged."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    where = _Where("record")
    try:
        if is_done(scene, out):
            return {"id": scene.id, "status": "skipped", "wall_s": 0.0}
        if torch_threads:
            import torch

            torch.set_num_threads(torch_threads)
        run_dir, _, rec_path = _paths(out, scene)
        rec_path.unlink(missing_ok=True)
        status = "recovered"
        if not (run_dir / artifacts.RUN_FILE).is_file():
            where.phase = "run"
            shutil.rmtree(run_dir, ignore_errors=True)
            _run_scene(scene, out, config, where)
            status = "synthesized"
        record = _derive_record(scene, out, questions, t0, where)
    except SceneFailedError:
        raise
    except Exception as exc:
        raise SceneFailedError(scene.id, where.phase, error_line(exc)) from exc
    return {"id": scene.id, "status": status, "wall_s": record.wall_s}


def failed_result(scene: Scene, stage: str, error: str, wall_s: float = 0.0) -> dict:
    """The result of a failed scene: {id, status: 'failed', stage, error, wall_s}."""
    return {"id": scene.id, "status": "failed", "stage": stage, "error": error, "wall_s": round(wall_s, 4)}


def try_scene(scene: Scene, out_dir: str | Path, config: PipelineConfig, questions: bool = True,
              torch_threads: int | None = None) -> dict:
    """`synthesize_scene` with a failure returned (`failed_result`) instead of raised; interrupts pass through."""
    t0 = time.perf_counter()
    try:
        return synthesize_scene(scene, out_dir, config, questions, torch_threads)
    except SceneFailedError as exc:
        return failed_result(scene, exc.stage, exc.error, time.perf_counter() - t0)


# --- the failures file ---------------------------------------------------------------------------------


def _write_failures(out: Path, failures) -> None:
    failures = list(failures)
    if failures:
        artifacts.atomic_write_text(out / FAILURES_FILE, datasets.failures_text(failures))
    else:
        (out / FAILURES_FILE).unlink(missing_ok=True)


class FailureLog:
    """`failures.jsonl` of a batch folder, kept in step with scene results: a failed result replaces the
    scene's entry, a finished one removes it. Entries of scenes of `scenes` that are finished are dropped
    on opening. Written atomically, at most once every `min_interval_s` while scenes run and on `flush`
    (call it in a `finally`, so failures recorded before an interrupt are kept)."""

    def __init__(self, out_dir: str | Path, scenes: list[Scene], min_interval_s: float = 1.0):
        self.out = Path(out_dir)
        self.scenes = {s.id: s for s in scenes}
        self.min_interval_s = min_interval_s
        listed = datasets.read_failures(self.out)
        self.entries = {f.scene: f for f in listed if not (f.scene in self.scenes and is_done(self.scenes[f.scene], self.out))}
        self._dirty = len(self.entries) != len(listed)
        self._written = 0.0
        self.flush()

    def __contains__(self, scene_id: str) -> bool:
        return scene_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def update(self, result: dict) -> None:
        sid = result["id"]
        if result["status"] == "failed":
            scene = self.scenes[sid]
            self.entries[sid] = SceneFailure(scene=sid, index=scene.index, stage=result["stage"], error=result["error"])
        elif self.entries.pop(sid, None) is None:
            return
        self._dirty = True
        if time.monotonic() - self._written >= self.min_interval_s:
            self.flush()

    def flush(self) -> None:
        if self._dirty:
            _write_failures(self.out, self.entries.values())
            self._dirty = False
            self._written = time.monotonic()


def finalize(spec: BatchSpec, out_dir: str | Path, config: PipelineConfig, scenes: list[Scene]) -> dict:
    """Rebuild the exports, card and manifest from the records of the finished scenes. Scenes listed in the
    failures file are left out (and counted in the card and manifest); any other unfinished scene is an error."""
    out = Path(out_dir)
    listed = {f.scene: f for f in datasets.read_failures(out)}
    done = [s for s in scenes if is_done(s, out)]
    done_ids = {s.id for s in done}
    failures = [listed[s.id] for s in scenes if s.id not in done_ids and s.id in listed]
    missing = [s.id for s in scenes if s.id not in done_ids and s.id not in listed]
    if missing:
        raise InputError(f"{len(missing)} scenes of '{out}' are not finished (first: {missing[0]}); run the batch again "
                         f"(without --retry-failed) to complete them")
    _write_failures(out, failures)  # without entries of finished scenes or of scenes not in the spec
    wanted = {s.video for s in done}
    for stray in (out / datasets.VIDEOS_DIR).iterdir():  # e.g. a video of an interrupted or failed scene
        if stray.is_file() and f"{datasets.VIDEOS_DIR}/{stray.name}" not in wanted:
            stray.unlink()
    for rec in (out / datasets.RECORDS_DIR).glob("*.json"):
        if rec.stem not in done_ids and rec.is_file():
            rec.unlink()
    records = datasets.load_records(out, [s.id for s in done])
    return datasets.write_dataset(out, spec, records, config.model_dump(mode="json"), failures)


_UNSET: Any = object()


def export_dataset(out_dir: str | Path, formats: list[str] | None = None, video_base_url: str | None = None,
                   question_mix: str | dict | None = _UNSET) -> dict:
    """Re-export a finished dataset folder without regenerating it: the files of `formats` (default: all of
    EXPORT_FORMATS) are rewritten from the scene records with the given options (`video_base_url`: vlm4d
    only; `question_mix`: a preset, {category: weight} or None for every question; unset keeps each format's
    current mix); the other formats keep theirs. The folder is validated first, so an export never re-hashes
    damage into the manifest. Returns the new manifest."""
    import fcntl

    from worldsim.types.batch import EXPORT_FORMATS, DatasetManifest, ExportOptions, default_exports

    out = Path(out_dir)
    formats = list(dict.fromkeys(formats or EXPORT_FORMATS))
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise InputError(f"unknown export format {unknown[0]!r}; accepted: {', '.join(EXPORT_FORMATS)}")
    if video_base_url is not None and "vlm4d" not in formats:
        raise InputError("--video-base-url applies to the vlm4d format only; add --format vlm4d")
    datasets.validate_dataset(out, allow_failed=True)
    with open(out / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"dataset folder '{out}' is being written by a batch run; wait for it to finish") from None
        spec = BatchSpec.model_validate(json.loads((out / datasets.SPEC_FILE).read_text())["spec"])
        manifest = DatasetManifest.model_validate_json((out / datasets.MANIFEST).read_text())
        exports = {**default_exports(spec.question_mix), **manifest.export}
        for fmt in formats:
            changes = {} if question_mix is _UNSET else {"question_mix": question_mix}
            if fmt == "vlm4d":
                changes["video_base_url"] = video_base_url
            try:
                exports[fmt] = ExportOptions.model_validate({**exports[fmt].model_dump(), **changes})
            except ValidationError as exc:
                raise InputError(f"export options: {datasets.validation_problem(exc)}") from None
        failures = datasets.read_failures(out)
        ids = [rel.removeprefix(f"{datasets.RECORDS_DIR}/").removesuffix(".json") for rel in manifest.files
               if rel.startswith(f"{datasets.RECORDS_DIR}/")]
        records = datasets.load_records(out, ids)
        return datasets.write_dataset(out, spec, records, resolve_config(spec).model_dump(mode="json"), failures, exports)


# Torch intra-op threads per scene worker. A scene is a small render: on a 2-core machine one worker with
# 2 torch threads took 12.7 s a scene against about 1 s with 1 thread (benchmarks/bench_batch.py --compare);
# parallel scenes, not threads inside one, use the cores.
TORCH_THREADS_PER_WORKER = 1


def _map_scenes(scenes: list[Scene], out: Path, config: PipelineConfig, spec: BatchSpec) -> Iterator[dict]:
    """Run try_scene over scenes with the spec's runner; yields results (failures included) as they complete."""
    threads = TORCH_THREADS_PER_WORKER
    if spec.runner == "none" or not scenes:
        for s in scenes:
            yield try_scene(s, out, config, spec.questions, threads)
    elif spec.runner == "threads":
        from concurrent.futures import ThreadPoolExecutor, as_completed

        import torch

        torch.set_num_threads(threads)
        with ThreadPoolExecutor(max_workers=spec.workers, thread_name_prefix="worldsim-scene") as pool:
            futures = [pool.submit(try_scene, s, out, config, spec.questions) for s in scenes]
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
            futures = [client.submit(try_scene, s, str(out.resolve()), config, spec.questions, threads, key=f"scene-{s.id}", pure=False)
                       for s in scenes]
            scene_of = {f.key: s for f, s in zip(futures, scenes)}
            for f in as_completed(futures):
                try:
                    yield f.result()
                except Exception as exc:  # the worker running it died (KilledWorker, ...): that scene failed
                    yield failed_result(scene_of[f.key], "worker", error_line(exc))


def summarize(spec: BatchSpec, results: list[dict], wall_s: float, manifest: dict, out_dir: str | Path | None = None) -> dict:
    made = [r for r in results if r["status"] in ("synthesized", "recovered")]
    per_scene = [r["wall_s"] for r in made]
    failed = manifest.get("failed", 0)
    return {
        "scenes": manifest["num_scenes"], "splits": manifest["splits"],
        "synthesized": sum(r["status"] == "synthesized" for r in results),
        "recovered": sum(r["status"] == "recovered" for r in results),
        "skipped": sum(r["status"] == "skipped" for r in results),
        "failed": failed,
        "failures_file": str(Path(out_dir) / FAILURES_FILE) if failed and out_dir is not None else None,
        "wall_s": round(wall_s, 3),
        "scenes_per_hour": round(3600 * len(made) / wall_s, 1) if made and wall_s > 0 else None,
        "per_scene_median_s": round(statistics.median(per_scene), 4) if per_scene else None,
        "runner": spec.runner, "workers": spec.workers,
    }


def run_batch(spec: BatchSpec | str | os.PathLike | dict, out_dir: str | Path,
              progress: Callable[[dict, int, int], None] | None = None, retry_failed: bool = False, **overrides: Any) -> dict:
    """Synthesize every unfinished scene of the spec into out_dir (with `retry_failed`, only the scenes
    listed in its failures file), then rebuild the dataset exports from the finished ones. A scene that
    fails is recorded in the failures file and the others go on. `progress(result, done, total)` is called
    after each scene. Returns a summary (counts, failed scenes and the failures file, throughput)."""
    spec = load_spec(spec, **overrides)
    out = Path(out_dir)
    with open_batch(spec, out) as (config, scenes):
        t0 = time.perf_counter()
        log = FailureLog(out, scenes)
        done_before = [s for s in scenes if is_done(s, out)]
        done_ids = {s.id for s in done_before}
        todo = [s for s in scenes if s.id not in done_ids and (not retry_failed or s.id in log)]
        results = [{"id": s.id, "status": "skipped", "wall_s": 0.0} for s in done_before]
        total = len(done_before) + len(todo)
        if progress:
            progress({"id": None, "status": "skipped", "wall_s": 0.0}, len(results), total)
        try:
            for result in _map_scenes(todo, out, config, spec):
                log.update(result)
                results.append(result)
                if progress:
                    progress(result, len(results), total)
        finally:
            log.flush()
        manifest = finalize(spec, out, config, scenes)
        return summarize(spec, results, time.perf_counter() - t0, manifest, out)


__all__ = ["load_spec", "resolve_config", "open_batch", "export_dataset", "synthesize_scene", "try_scene", "SceneFailedError", "BatchFailedError",
           "FailureLog", "finalize", "run_batch", "is_done", "SPLITS", "FAILURES_FILE"]
