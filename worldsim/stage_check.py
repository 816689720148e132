"""`check_stage`: run one registered stage on tiny inputs and check that it honours its kind's contract.

Plugin authors call it as `worldsim.testing.check_stage(kind, name, config)` (from a pytest test) or
through `worldsim plugins check NAME`. Each check has a name, ok / failed / skipped and a one-line reason:

    class        the registered class passes `worldsim.stages.check_stage_class`
    config       `config` validates against the stage's `Config`
    run          the stage ran on the tiny inputs (per call: `run`, `run recolor`, `run direct`, ...)
    result       `worldsim.stages.check_result`: the result type, every file it names exists inside the run
                 folder, JSON metrics, one answer per question
    json         the whole result survives `model_dump(mode="json")` and `json.dumps` (run.json stores it)
    inputs       the stage did not change a file of its input run (nothing is overwritten)
    <kind>       what a later stage relies on (below)
    determinism  run twice with the same seed, each time a fresh stage instance and a fresh run folder:
                 equal results and the same sha256 for every file written (timing figures, i.e. keys such as
                 wall_s, train_s, elapsed or created, are left out of results and of JSON files)

Inputs per kind (everything tiny: seconds per stage with tiny settings):

    parser        GENERATE_COMMANDS must give generate plans with objects; EDIT_COMMANDS edit plans whose op an
                  installed editor declares and whose params validate (`worldsim.edit_ops`)
    generator     `tiny_plan()`, seed 0; the MP4 decodes to num_frames x height x width, labels.json validates
                  (`worldsim.labels.read_labels`) and matches, labels.safetensors masks are [T,H,W]
    reconstructor a tiny generate-only run made by `worldsim.pipeline.run_pipeline` (rules + `generator`, by
                  default the procedural generator with `TINY_GENERATOR`); the scene loads as a GaussianScene
                  with the clip's frame count and the decoders as a DecoderSet
    editor        a tiny reconstructed run (run_pipeline with `reconstructor`, by default feature-4dgs with
                  `TINY_RECONSTRUCTOR`); every op the editor declares, with params built from the op's
                  EditParams fields (or given in `edit_params`); ops whose required params cannot be built are
                  skipped and named. EditResult: op and target echo the edit, object ids unique; ReplanResult: a
                  generate plan
    scorer        ScoreInput of a tiny generate-only run; when the scorer refuses it with a worldsim error
                  (e.g. it needs a reconstruction), a tiny reconstructed run (`reconstruct` forces either)
    answerer      the VLM4D questions of the tiny clip (`worldsim.qa.questions.generate_questions`), asked
                  direct and free-form; one str per question (reconstructed run as for scorers)
    teacher       frames, labels and arrays of the tiny clip; TeacherMaps maps [T,H,W,D] float32 CPU, valid
                  [T,H,W] bool, the class's target; feature teachers' `encode_text` gives [Q,D] unit rows
    pose          two clips, each with its first camera, depth, masks and labels: the tiny clip (static camera;
                  labels.safetensors depth and masks) and `TINY_MOVING` (the tiny plan's world filmed by a
                  trucking camera, `moving_camera_clip`); CameraPoses with one camera per frame, cameras[0] the
                  given camera exactly, frame 0's size and K throughout, the estimator's name, the input arrays
                  left unchanged; the error against the true cameras is reported, not judged

Tiny runs are cached per process (same settings, same run: the pipeline is deterministic); each check works on
fresh copies, so a stage that writes where it should not cannot spoil the next check.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import re
import shutil
import tempfile
import threading
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

from worldsim import plugins
from worldsim.types import MotionSpec, ObjectSpec, Plan

TINY_GENERATOR = {"num_frames": 4, "width": 32, "height": 32, "gaussians_per_object": 120, "background_spacing": 0.6, "write_ply": False}


def tiny_plan(name: str = "ball", color: str = "red", direction: str = "right", speed: str = "normal", count: int = 1) -> Plan:
    return Plan(mode="generate", text=f"{count} {color} {name} moving {direction}",
                objects=(ObjectSpec(name=name, color=color, count=count),),
                motion=MotionSpec(direction=direction, speed=speed))

GENERATE_COMMANDS = ("A red ball rolls from left to right", "Two blue cubes slide up slowly")
EDIT_COMMANDS = ("Make the ball blue", "Delete the ball")
TINY_PROMPT = "A red ball rolls to the right"
TINY_RECONSTRUCTOR = {"train": {"iterations": 60}, "pad": 8, "eval_frames": 1, "novel_yaws": [5.0]}
# The moving-camera clip pose estimators are checked on: the tiny plan's world, the camera trucking right.
TINY_MOVING = {"num_frames": 4, "width": 48, "height": 48, "truck_m": 0.2}

# Figures that measure time, not the result: left out when two runs are compared.
_TIMING_KEY = re.compile(r"(^|_)(s|ms|us|sec|secs|seconds|time|elapsed|duration|wall|created|timestamp|per_hour|per_second)$")


# ------------------------------------------------------------------------------------------------ report


@dataclass
class Check:
    name: str
    ok: bool | None  # None: skipped
    reason: str = ""

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("FAILED" if self.ok is False else "skipped")

    def line(self) -> str:
        return f"  {self.status:<8} {self.name}" + (f": {self.reason}" if self.reason else "")


@dataclass
class CheckReport:
    """What `check_stage` found: one `Check` per item, in the order they ran."""

    kind: str
    name: str
    plugin: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed (skipped checks do not fail a stage)."""
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    @property
    def skipped(self) -> list[Check]:
        return [c for c in self.checks if c.ok is None]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def title(self) -> str:
        return f"{self.kind} '{self.name}'" + (f" (plugin '{self.plugin}')" if self.plugin else "")

    def format(self) -> str:
        verdict = "passed" if self.ok else f"FAILED ({len(self.failed)} of {len(self.checks)} checks)"
        return "\n".join([f"{self.title}: {verdict}", *(c.line() for c in self.checks)])

    __str__ = format

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "plugin": self.plugin, "ok": self.ok,
                "checks": [{"name": c.name, "status": c.status, "reason": c.reason} for c in self.checks]}

    def assert_ok(self) -> "CheckReport":
        """Raise AssertionError listing every check when one failed (for pytest); returns self."""
        if not self.ok:
            raise AssertionError(self.format())
        return self


class _Skip(Exception):
    """Inside `_Checker.step`: record the step as skipped with this reason."""


def _one_line(exc: BaseException, limit: int = 300) -> str:
    from worldsim.errors import WorldsimError

    text = " ".join(str(exc).split())
    text = text if isinstance(exc, WorldsimError) else f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Checker:
    def __init__(self, report: CheckReport, echo: Callable[[str], Any] | None):
        self.report, self.echo = report, echo

    def add(self, name: str, ok: bool | None, reason: str = "") -> Check:
        check = Check(name, ok, " ".join(reason.split()))
        self.report.checks.append(check)
        if self.echo is not None:
            self.echo(check.line())
        return check

    @contextlib.contextmanager
    def step(self, name: str, success: str = "") -> Iterator[dict]:
        """Record `name` as ok (with `note["reason"]` or `success`), failed (the exception, one line) or skipped."""
        note: dict = {}
        try:
            yield note
        except _Skip as skip:
            self.add(name, None, str(skip))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a stage may raise anything; it is what we report
            note["failed"] = exc
            self.add(name, False, _one_line(exc))
        else:
            self.add(name, True, note.get("reason", success))

    def failed(self, name: str) -> bool:
        check = self.report.check(name)
        return check is not None and check.ok is False


# ------------------------------------------------------------------------------------------- comparison


def _strip_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_timing(v) for k, v in value.items() if not (isinstance(k, str) and _TIMING_KEY.search(k))}
    if isinstance(value, (list, tuple)):
        return [_strip_timing(v) for v in value]
    return value


def _replace_paths(value: Any, folders: list[Path]) -> Any:
    """Absolute run-folder paths inside strings replaced by '<run>' (two fresh folders have different names)."""
    if isinstance(value, str):
        for folder in folders:
            for form in {str(folder), str(folder.resolve()), folder.as_posix()}:
                value = value.replace(form, "<run>")
        return value
    if isinstance(value, dict):
        return {k: _replace_paths(v, folders) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_paths(v, folders) for v in value]
    return value


def _comparable(result: Any, folder: Path | None) -> Any:
    from pydantic import BaseModel

    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    return _strip_timing(_replace_paths(result, [folder] if folder else []))


def _first_difference(a: Any, b: Any, where: str = "result") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{where}.{k} is only in {'the first' if k in a else 'the second'} run"
            diff = _first_difference(a[k], b[k], f"{where}.{k}")
            if diff:
                return diff
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where} has {len(a)} items in the first run and {len(b)} in the second"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = _first_difference(x, y, f"{where}[{i}]")
            if diff:
                return diff
        return None
    if a != b and not (isinstance(a, float) and isinstance(b, float) and a != a and b != b):  # NaN == NaN here
        show = lambda v: (repr(v)[:40] + "...") if len(repr(v)) > 43 else repr(v)
        return f"{where} is {show(a)} in the first run and {show(b)} in the second"
    return None


def _snapshot(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder` (run.json and hidden files excluded)."""
    from worldsim.artifacts import list_artifacts

    return {p: h for p, h, _ in list_artifacts(folder)} if folder.is_dir() else {}


def _written(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    return {p: h for p, h in after.items() if before.get(p) != h}


def _json_equal_but_timing(root_a: Path, root_b: Path, rel: str) -> bool:
    """The JSON (or JSON-lines) file `rel` of two run folders is equal once timing figures are left out."""
    if not rel.endswith((".json", ".jsonl")):
        return False

    def load(root: Path):
        text = (root / rel).read_text()
        data = [json.loads(line) for line in text.splitlines() if line.strip()] if rel.endswith(".jsonl") else json.loads(text)
        return _strip_timing(_replace_paths(data, [root]))

    try:
        return load(root_a) == load(root_b)
    except (ValueError, OSError):
        return False


def _compare_files(first: tuple[Path, dict[str, str]], second: tuple[Path, dict[str, str]]) -> str | None:
    (root_a, files_a), (root_b, files_b) = first, second
    if set(files_a) != set(files_b):
        only = sorted(set(files_a) ^ set(files_b))[0]
        return f"the file '{only}' was written by only {'the first' if only in files_a else 'the second'} run"
    for rel in sorted(files_a):
        if files_a[rel] != files_b[rel] and not _json_equal_but_timing(root_a, root_b, rel):
            return f"'{rel}' differs between the two runs (sha256 {files_a[rel][:12]} vs {files_b[rel][:12]})"
    return None


def _determinism(ck: _Checker, runs: list[tuple[Any, Path | None, dict[str, str]]], what: str = "",
                 name: str = "determinism") -> None:
    """runs: [(result, run folder, files written)] x 2 -> the determinism check."""
    if len(runs) < 2:
        return
    (ra, fa, wa), (rb, fb, wb) = runs[:2]
    with ck.step(name) as note:
        diff = _first_difference(_comparable(ra, fa), _comparable(rb, fb))
        if diff:
            raise AssertionError(f"same seed, different results{what}: {diff}")
        if fa is not None and fb is not None:
            diff = _compare_files((fa, wa), (fb, wb))
            if diff:
                raise AssertionError(f"same seed, different files{what}: {diff}")
        files = "" if fa is None else f" and {len(wa)} identical files" if wa else " (no files written)"
        note["reason"] = f"two runs, same seed: equal results{files}"


# ------------------------------------------------------------------------------------------- tiny inputs

_cache_lock = threading.Lock()
_cache: dict[str, Path] = {}
_cache_root: Path | None = None


def _cache_dir() -> Path:
    global _cache_root
    if _cache_root is None or not _cache_root.is_dir():
        _cache_root = Path(tempfile.mkdtemp(prefix="worldsim-check-"))
        atexit.register(shutil.rmtree, str(_cache_root), True)
    return _cache_root


def tiny_run(generator: tuple[str, dict] | None = None, reconstructor: tuple[str, dict] | None = None,
             reconstruct: bool = False, seed: int = 0, prompt: str = TINY_PROMPT) -> Path:
    """A committed tiny run folder made by `worldsim.pipeline.run_pipeline` (rules parser, the generator, and
    with `reconstruct` the reconstructor), cached per process: treat it as read-only, copy it to change it."""
    from worldsim.config import PipelineConfig
    from worldsim.pipeline import run_pipeline
    gen = generator or ("procedural", dict(TINY_GENERATOR))
    rec = reconstructor or ("feature-4dgs", TINY_RECONSTRUCTOR)
    stages = [{"kind": "parser", "name": "rules"}, {"kind": "generator", "name": gen[0], "config": dict(gen[1])}]
    if reconstruct:
        stages.append({"kind": "reconstructor", "name": rec[0], "config": dict(rec[1])})
    key = hashlib.sha256(json.dumps([stages, seed, prompt], sort_keys=True).encode()).hexdigest()[:16]
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and (cached / "run.json").is_file():
            return cached
        config = PipelineConfig.model_validate({"name": "tiny-check", "seed": seed, "stages": stages})
        result = run_pipeline(prompt, config=config, seed=seed, output_dir=_cache_dir() / key)
        run_dir = Path(getattr(result, "final_dir", result))
        _cache[key] = run_dir
        return run_dir


def _copy_run(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=False)
    return dest


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def _score_input(run_dir: Path):
    from worldsim.types import GeneratedVideo, Plan, Reconstruction, ScoreInput

    manifest = _manifest(run_dir)
    outputs = manifest.get("outputs", {})
    return ScoreInput(run_dir=str(run_dir.resolve()), plan=Plan.model_validate(manifest["plan"]), seed=manifest["seed"],
                      video=GeneratedVideo.model_validate(outputs["video"]) if "video" in outputs else None,
                      reconstruction=Reconstruction.model_validate(outputs["reconstruction"]) if "reconstruction" in outputs else None)


def _clip(run_dir: Path):
    """frames [T,H,W,3] uint8, labels dict or None, arrays dict or None of a run's generated clip."""
    from worldsim.io.video import read_mp4

    video = _score_input(run_dir).video
    labels = json.loads((run_dir / video.labels).read_text()) if video.labels else None
    arrays = None
    if video.arrays:
        from safetensors.numpy import load_file

        arrays = load_file(str(run_dir / video.arrays))
    frames = arrays["frames"] if arrays is not None and "frames" in arrays else read_mp4(run_dir / video.video)[0]
    return frames, labels, arrays


def moving_camera_clip(plan: Plan, seed: int, path: Callable[[Any], list] | None, num_frames: int, width: int, height: int,
                       fov_deg: float = 42.0, gaussians_per_object: int = 300, background_spacing: float = 0.24,
                       backend: str = "torch") -> dict:
    """The procedural world of `plan` (worldsim.world.builder) rendered frame by frame from `path(world)`, a list of
    `num_frames` cameras whose first is the one the other frames are measured from (None: `world.camera` for every
    frame). A stand-in for the generator's moving camera in tests and benchmarks. Returns frames [T,H,W,3] uint8,
    masks [T,H,W] uint8 (0 background, k instance k), depth [T,H,W] float32 (camera z), cameras, camera
    (= cameras[0]), labels (`camera`, and `cameras` when some frame's camera differs, as labels.json has them) and
    world."""
    import numpy as np
    import torch

    from worldsim.render.scene import render_scene
    from worldsim.world.builder import build_world, to_scene

    world = build_world(plan, seed, num_frames, width, height, fov_deg, gaussians_per_object, background_spacing)
    cameras = list(path(world)) if path is not None else [world.camera] * num_frames
    if len(cameras) != num_frames:
        raise ValueError(f"the path gave {len(cameras)} cameras for {num_frames} frames")
    scene = to_scene(world)
    onehot = torch.nn.functional.one_hot(scene.instance, len(world.instances) + 1)[:, 1:].float()  # [N,K]
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    masks = np.zeros((num_frames, height, width), np.uint8)
    depth = np.zeros((num_frames, height, width), np.float32)
    with torch.no_grad():
        for t, cam in enumerate(cameras):
            out = render_scene(scene, cam, t, extra=onehot, backend=backend)
            frames[t] = (out["rgb"].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
            weights = torch.cat([1 - out["extra"].sum(-1, keepdim=True), out["extra"]], dim=-1)
            masks[t] = weights.argmax(-1).to(torch.uint8).numpy()
            depth[t] = out["depth"].numpy()
    labels = {"num_frames": num_frames, "width": width, "height": height,
              "camera": cameras[0].model_dump(mode="json")}
    if any(cam != cameras[0] for cam in cameras):
        labels["cameras"] = [cam.model_dump(mode="json") for cam in cameras]
    return {"frames": frames, "masks": masks, "depth": depth, "cameras": cameras, "camera": cameras[0],
            "labels": labels, "world": world}


def truck_path(camera, num_frames: int, metres: float) -> list:
    """`camera` moved `metres` along its own right axis over the clip, linearly; frame 0 is `camera` itself."""
    import numpy as np

    V = np.asarray(camera.viewmat, dtype=np.float64)
    out = [camera]
    for t in range(1, num_frames):
        W = V.copy()
        W[:3, 3] -= np.array([metres * t / max(num_frames - 1, 1), 0.0, 0.0])  # centre += s * right: t -= s * e_x
        out.append(camera.model_copy(update={"viewmat": tuple(map(tuple, W.tolist()))}))
    return out


def _tiny_moving(seed: int) -> dict:
    """TINY_MOVING rendered (cached per process; the arrays are read-only)."""
    key = f"moving-{seed}"
    with _cache_lock:
        if key not in _moving_cache:
            m = TINY_MOVING
            clip = moving_camera_clip(tiny_plan(), seed, lambda w: truck_path(w.camera, m["num_frames"], m["truck_m"]),
                                      m["num_frames"], m["width"], m["height"])
            for name in ("frames", "masks", "depth"):
                clip[name].setflags(write=False)
            _moving_cache[key] = clip
        return _moving_cache[key]


_moving_cache: dict[str, dict] = {}


# ---------------------------------------------------------------------------------------- edit op params

_FLOATS = (2.0, 0.5, 1.5, 3.0, 0.75, 1.0, 0.25, 10.0)
_INTS = (2, 1, 3, 0, 5, 10)


def _candidates(name: str, annotation: Any, current: dict) -> list:
    """Values to try for a required EditParams field, most plausible first."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: list = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out += [v for v in _candidates(name, arg, current) if v not in out]
        return out
    if origin is typing.Annotated:
        return _candidates(name, typing.get_args(annotation)[0], current)
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        now = current.get(name)
        return sorted(values, key=lambda v: (v == now, v in ("none", None, ""), values.index(v)))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [m.value for m in annotation]
    if annotation is bool:
        return [True, False]
    if annotation is int:
        return list(_INTS)
    if annotation is float:
        return list(_FLOATS)
    if annotation is str:
        lowered = name.lower()
        if "colo" in lowered:
            from worldsim.colors import COLORS

            return sorted(COLORS, key=lambda c: (c == current.get("color"), c != "blue", c))
        if lowered in ("direction", "heading"):
            from worldsim.types.plan import DIRECTIONS

            return sorted(DIRECTIONS, key=lambda d: (d == current.get("direction"), d == "none", d))
        if lowered in ("name", "noun", "object", "new_name"):
            return ["cube", "box"]
    return []


def example_params(model, current: dict | None = None) -> tuple[dict | None, str]:
    """Params for an op's EditParams model built from its fields' types: (params, '') or (None, why not)."""
    from pydantic import ValidationError

    current = current or {}
    required = {n: f for n, f in model.model_fields.items() if f.is_required()}
    options = {n: _candidates(n, f.annotation, current) for n, f in required.items()}
    index = dict.fromkeys(required, 0)
    for _ in range(200):
        for n in required:
            if index[n] >= len(options[n]):
                kind = getattr(required[n].annotation, "__name__", str(required[n].annotation))
                return None, f"cannot construct a value for its required parameter '{n}' ({kind})"
        values = {n: options[n][index[n]] for n in required}
        try:
            return model.model_validate(values).model_dump(mode="json"), ""
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            bad = loc[0] if loc and loc[0] in index else None
            if bad is None:
                return None, f"no combination of parameter values validates ({_one_line(exc, 120)})"
            index[bad] += 1
    return None, "no combination of parameter values validates"


# ------------------------------------------------------------------------------------------------ kinds


@dataclass
class _Context:
    kind: str
    name: str
    info: Any  # StageInfo
    config: dict
    seed: int
    work: Path
    generator: tuple[str, dict] | None
    reconstructor: tuple[str, dict] | None
    reconstruct: bool | None
    commands: tuple[str, ...] | None
    edit_params: dict
    determinism: bool
    ck: _Checker

    def stage(self):
        """A fresh stage instance with the checked config."""
        return self.info.cls(self.config)

    def runs(self) -> int:
        return 2 if self.determinism else 1

    def result(self, results: list, run_dir: Path | None, expected_len: int | None = None, suffix: str = "") -> bool:
        """The 'result' (check_result) and 'json' checks of one or more results of one call kind; True when ok."""
        from worldsim.stages import check_result

        bare = object.__new__(self.info.cls)  # check_result reads only the class's kind, name and result_type
        with self.ck.step(f"result{suffix}") as note:
            for result in results:
                check_result(bare, result, run_dir, self.info.plugin, expected_len)
            note["reason"] = _describe_result(results)
        if self.ck.failed(f"result{suffix}"):
            return False
        models = [r for r in results if hasattr(r, "model_dump")]
        if models:
            with self.ck.step(f"json{suffix}", "the result is JSON (run.json can store it)"):
                for result in models:
                    json.dumps(result.model_dump(mode="json"))
        return True


def _path_fields(result) -> int:
    """How many run-folder paths a result names (the fields check_result looks at)."""
    from worldsim.types.results import FILE_MARK

    count = 0
    for name, info in type(result).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = getattr(result, name)
        if extra.get(FILE_MARK) and value is not None:
            count += len(value) if isinstance(value, (dict, list, tuple)) else 1
    return count


def _describe_result(results: list) -> str:
    first = results[0]
    if isinstance(first, list):
        return f"{len(first)} answers, each a str"
    kind = type(first).__name__ + (f" x {len(results)}" if len(results) > 1 else "")
    if not hasattr(type(first), "model_fields"):
        return kind
    files = sum(_path_fields(r) for r in results)
    return kind + (f", {files} path(s), each a file or folder inside the run folder" if files else "")


def _call(ctx: _Context, name: str, fn: Callable[[], Any], success: str = "") -> tuple[bool, Any]:
    """Run `fn` as check `name`; (ok, value)."""
    box: dict = {}
    with ctx.ck.step(name, success):
        box["value"] = fn()
    return (not ctx.ck.failed(name)), box.get("value")


def _check_parser(ctx: _Context) -> None:
    from worldsim import edit_ops

    commands = ctx.commands if ctx.commands is not None else GENERATE_COMMANDS + EDIT_COMMANDS
    plans: list[list] = []
    for _ in range(ctx.runs()):
        stage, got = ctx.stage(), []
        for text in commands:
            try:
                got.append(stage.run(text))
            except Exception as exc:  # noqa: BLE001 - reported below
                got.append(exc)
        plans.append(got)
    with ctx.ck.step("run") as note:
        failures = [(t, p) for t, p in zip(commands, plans[0]) if isinstance(p, BaseException)]
        if failures:
            text, exc = failures[0]
            raise AssertionError(f"'{text}' raised {_one_line(exc)}")
        note["reason"] = f"parsed {len(commands)} commands: {'; '.join(repr(c) for c in commands)}"
    if ctx.ck.failed("run") or not ctx.result(plans[0], None):
        return
    with ctx.ck.step("parser") as note:
        for text, plan in zip(commands, plans[0]):
            if plan.mode == "edit":
                edit_ops.validate_params(plan.edit.op, dict(plan.edit.params))
            elif ctx.commands is None and text in EDIT_COMMANDS:
                raise AssertionError(f"'{text}' is an edit command but gave a {plan.mode} plan")
            elif not plan.objects:
                raise AssertionError(f"'{text}' gave a generate plan without objects")
        modes = [p.mode for p in plans[0]]
        edits = ", ".join(p.edit.op for p in plans[0] if p.mode == "edit")
        note["reason"] = (f"{modes.count('generate')} generate plan(s) with objects, {modes.count('edit')} edit plan(s)"
                          + (f" ({edits}) with installed ops and valid params" if edits else ""))
    if len(plans) > 1:
        with ctx.ck.step("determinism") as note:
            for text, a, b in zip(commands, plans[0], plans[1]):
                if isinstance(b, BaseException):
                    raise AssertionError(f"'{text}' parsed the second time raised {_one_line(b)}")
                if a != b:
                    diff = _first_difference(a.model_dump(mode="json"), b.model_dump(mode="json"), "plan")
                    raise AssertionError(f"'{text}' parsed twice gave different plans: {diff}")
            note["reason"] = "every command parsed twice (fresh instances) gives the same plan"


def _check_generator(ctx: _Context) -> None:
    plan = tiny_plan()
    runs = []
    for attempt in "ab"[: ctx.runs()]:
        run_dir = ctx.work / f"generator-{attempt}"
        out_dir = run_dir / "generator"
        out_dir.mkdir(parents=True)
        name = "run" if attempt == "a" else "run (again)"
        ok, video = _call(ctx, name, lambda: ctx.stage().run(plan, ctx.seed, out_dir))
        if not ok:
            return
        if attempt == "a":
            if not ctx.result([video], run_dir):
                return
            _check_video(ctx, video, run_dir)
        runs.append((video, run_dir, _snapshot(run_dir)))
    _determinism(ctx.ck, runs)


def _check_video(ctx: _Context, video, run_dir: Path) -> None:
    import numpy as np

    from worldsim.io.video import read_mp4

    with ctx.ck.step("video") as note:
        frames, fps = read_mp4(run_dir / video.video)
        want = (video.num_frames, video.height, video.width, 3)
        if frames.shape != want:
            raise AssertionError(f"'{video.video}' decodes to {tuple(frames.shape)} [T,H,W,3]; the result says {want}")
        if round(fps) != video.fps:
            raise AssertionError(f"'{video.video}' plays at {fps:g} fps; the result says {video.fps}")
        note["reason"] = f"{video.num_frames} frames of {video.width}x{video.height} at {video.fps} fps, as reported"
    if video.labels or video.arrays:
        with ctx.ck.step("labels") as note:
            T, H, W = video.num_frames, video.height, video.width
            said = []
            if video.labels:
                from worldsim.labels import read_labels

                labels = read_labels(run_dir / video.labels)
                got = (labels.num_frames, labels.height, labels.width, labels.fps)
                if got != (T, H, W, video.fps):
                    raise AssertionError(f"labels.json says frames/height/width/fps {got}; the video has {(T, H, W, video.fps)}")
                bad = [o.id for o in labels.objects if len(o.frames) != T]
                if bad:
                    raise AssertionError(f"labels.json object {bad[0]} has a frame list of a different length than the clip ({T})")
                said.append(f"labels.json valid ({len(labels.objects)} object(s))")
            if video.arrays:
                from safetensors.numpy import load_file

                arrays = load_file(str(run_dir / video.arrays))
                for key, dtype in (("masks", np.uint8), ("depth", np.float32)):
                    if key in arrays and (arrays[key].shape != (T, H, W) or arrays[key].dtype != dtype):
                        raise AssertionError(f"labels.safetensors '{key}' is {arrays[key].dtype} {arrays[key].shape}; "
                                             f"expected {np.dtype(dtype)} {(T, H, W)}")
                said.append(f"arrays {', '.join(sorted(arrays))}")
            note["reason"] = "; ".join(said)


def _run_input(ctx: _Context, reconstruct: bool) -> Path:
    return tiny_run(ctx.generator, ctx.reconstructor, reconstruct=reconstruct, seed=ctx.seed)


def _check_reconstructor(ctx: _Context) -> None:
    ok, source = _call(ctx, "input", lambda: _run_input(ctx, False), "a tiny generate-only run made by run_pipeline")
    if not ok:
        return
    runs = []
    for attempt in "ab"[: ctx.runs()]:
        run_dir = _copy_run(source, ctx.work / f"reconstructor-{attempt}")
        before = _snapshot(run_dir)
        video = _score_input(run_dir).video
        out_dir = run_dir / "reconstruction"
        out_dir.mkdir()
        ok, rec = _call(ctx, "run" if attempt == "a" else "run (again)",
                        lambda: ctx.stage().run(video, run_dir, out_dir, ctx.seed))
        if not ok:
            return
        after = _snapshot(run_dir)
        if attempt == "a":
            if not ctx.result([rec], run_dir):
                return
            _inputs_unchanged(ctx, before, after)
            with ctx.ck.step("reconstruction") as note:
                from worldsim.decoders import DecoderSet
                from worldsim.types import GaussianScene

                scene = GaussianScene.load(run_dir / rec.scene)
                if scene.num_frames != video.num_frames:
                    raise AssertionError(f"the scene has {scene.num_frames} frames of motion; the clip has {video.num_frames}")
                decoders = DecoderSet.load(run_dir / rec.decoders)
                missing = [t for t in rec.teachers if t not in decoders]
                if missing:
                    raise AssertionError(f"teachers lists '{missing[0]}' but decoders.safetensors has no decoder for it")
                note["reason"] = f"GaussianScene of {len(scene)} Gaussians over {scene.num_frames} frames; decoders {', '.join(decoders) or 'none'}"
        runs.append((rec, run_dir, _written(before, after)))
    _determinism(ctx.ck, runs)


def _inputs_unchanged(ctx: _Context, before: dict[str, str], after: dict[str, str], name: str = "inputs") -> None:
    with ctx.ck.step(name) as note:
        changed = sorted(p for p in before if after.get(p) != before[p])
        if changed:
            what = "removed" if changed[0] not in after else "changed"
            raise AssertionError(f"the stage {what} '{changed[0]}' of its input run; stages write only into their own folder")
        note["reason"] = f"the {len(before)} input files are untouched"


def _check_editor(ctx: _Context) -> None:
    from worldsim import sessions
    from worldsim.types import EditResult, EditSpec, ReplanResult

    ok, source_run = _call(ctx, "input", lambda: _run_input(ctx, True), "a tiny reconstructed run made by run_pipeline")
    if not ok:
        return
    base = _copy_run(source_run, ctx.work / "base")
    version = sessions.open_version(base)
    present = [o for o in version.objects if not o.removed]
    if not present:
        ctx.ck.add("input", False, "the tiny run has no objects to edit")
        return
    target = present[0]
    source = sessions.edit_source(version)
    current = {"color": target.color, "direction": source.plan.motion.direction if source.plan else None}
    for model in ctx.info.cls.ops:
        op = model.op
        if op in ctx.edit_params:
            params, why = dict(ctx.edit_params[op]), ""
        else:
            params, why = example_params(model, current)
        if params is None:
            ctx.ck.add(f"op {op}", None, f"skipped: {why}; pass edit_params={{'{op}': {{...}}}} to check it")
            continue
        try:
            from worldsim.edit_ops import validate_params

            params = validate_params(op, params, model)
        except Exception as exc:  # noqa: BLE001
            ctx.ck.add(f"op {op}", False, f"params {params}: {_one_line(exc)}")
            continue
        edit = EditSpec(op=op, target=target.name, params=params)
        runs = []
        for attempt in "ab"[: ctx.runs()]:
            folder = ctx.work / f"edit-{op}-{attempt}"
            out_dir = folder / "edit"
            out_dir.mkdir(parents=True)
            before = _snapshot(base)
            label = f"run {op} {json.dumps(params)}" if attempt == "a" else f"run {op} (again)"
            ok, result = _call(ctx, label, lambda: ctx.stage().run(edit, source, out_dir))
            if not ok:
                break
            if attempt == "a":
                if not ctx.result([result], folder, suffix=f" {op}"):
                    break
                _inputs_unchanged(ctx, before, _snapshot(base), f"inputs {op}")
                with ctx.ck.step(f"edit {op}") as note:
                    if result.op != op or result.target != target.name:
                        raise AssertionError(f"the result says op={result.op!r} target={result.target!r}; the edit was "
                                             f"op={op!r} target={target.name!r}")
                    if isinstance(result, EditResult):
                        if result.objects is not None:
                            ids = [o.id for o in result.objects]
                            if len(ids) != len(set(ids)):
                                raise AssertionError(f"the object registry after the edit repeats ids {sorted(ids)}")
                        note["reason"] = f"EditResult with {len(result.renders)} render(s)"
                    elif isinstance(result, ReplanResult):
                        if result.plan.mode != "generate":
                            raise AssertionError(f"ReplanResult.plan is a {result.plan.mode} plan; the core regenerates a generate plan")
                        note["reason"] = "ReplanResult with a generate plan (the core regenerates the root run)"
            runs.append((result, folder, _snapshot(folder)))
        _determinism(ctx.ck, runs, f" for {op}", f"determinism {op}")


def _with_input(ctx: _Context, attempt: Callable[[Path], Any]) -> tuple[Path | None, Any]:
    """Run `attempt(run_dir)` on a tiny generate-only run, or on a tiny reconstructed one when the stage refuses the
    first with a worldsim error (`ctx.reconstruct`: None tries both in that order, False / True only one).
    Records the 'input' check; returns (run, value), (None, None) when no input could be made; the stage's
    error propagates."""
    from worldsim.errors import WorldsimError

    orders = {None: (False, True), False: (False,), True: (True,)}[ctx.reconstruct]
    refused = ""
    for reconstruct in orders:
        what = "a tiny reconstructed run" if reconstruct else "a tiny generate-only run"
        try:
            source = _run_input(ctx, reconstruct)
        except Exception as exc:  # noqa: BLE001 - the stages making the input failed
            ctx.ck.add("input", False, f"could not make {what} with run_pipeline: {_one_line(exc)}")
            return None, None
        reason = f"{what} made by run_pipeline" + (f" (the generate-only run was refused: {refused})" if refused else "")
        try:
            value = attempt(source)
        except WorldsimError as exc:
            if reconstruct or len(orders) == 1:
                ctx.ck.add("input", True, reason)
                raise
            refused = _one_line(exc, 160)
            continue
        except BaseException:
            ctx.ck.add("input", True, reason)
            raise
        ctx.ck.add("input", True, reason)
        return source, value
    raise AssertionError("unreachable")


def _check_scorer(ctx: _Context) -> None:
    copies: dict[str, Path] = {}

    def score(source: Path, attempt: str = "a"):
        run_dir = ctx.work / f"scorer-{attempt}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        copies[attempt] = _copy_run(source, run_dir)
        out_dir = run_dir / "scores"
        out_dir.mkdir(exist_ok=True)
        return ctx.stage().run(_score_input(run_dir), out_dir)

    try:
        source, result = _with_input(ctx, score)
    except Exception as exc:  # noqa: BLE001 - the scorer failed on its input
        ctx.ck.add("run", False, _one_line(exc))
        return
    if source is None:
        return
    metrics = getattr(result, "metrics", None)
    shown = f"metrics: {', '.join(list(metrics)[:6])}{', ...' if len(metrics) > 6 else ''}" if isinstance(metrics, dict) else ""
    ctx.ck.add("run", True, shown)
    run_a = copies["a"]
    if not ctx.result([result], run_a):
        return
    before = _snapshot(source)
    after = _snapshot(run_a)
    _inputs_unchanged(ctx, before, after)
    runs = [(result, run_a, _written(before, after))]
    if ctx.determinism:
        ok, again = _call(ctx, "run (again)", lambda: score(source, "b"))
        if not ok:
            return
        runs.append((again, copies["b"], _written(before, _snapshot(copies["b"]))))
    _determinism(ctx.ck, runs)


def _check_answerer(ctx: _Context) -> None:
    from worldsim.qa.questions import generate_questions

    def ask(source: Path):
        run_dir = ctx.work / "answerer"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        _copy_run(source, run_dir)
        inputs = _score_input(run_dir)
        labels = json.loads((run_dir / inputs.video.labels).read_text()) if inputs.video.labels else None
        items = generate_questions(inputs.plan, labels, inputs.seed, inputs.video.video, inputs.video.generator)
        return run_dir, inputs, items, ctx.stage().run(items, inputs, mode="direct", free_form=False)

    try:
        source, value = _with_input(ctx, ask)
    except Exception as exc:  # noqa: BLE001
        ctx.ck.add("run direct", False, _one_line(exc))
        return
    if source is None:
        return
    run_dir, inputs, items, answers = value
    kinds = sorted({it.question_type for it in items})
    ctx.ck.add("run direct", True, f"{len(items)} VLM4D questions ({', '.join(kinds)})")
    if not ctx.result([answers], None, expected_len=len(items), suffix=" direct"):
        return
    before = _snapshot(source)
    ok, free = _call(ctx, "run free-form", lambda: ctx.stage().run(items, inputs, mode="direct", free_form=True))
    if ok:
        ctx.result([free], None, expected_len=len(items), suffix=" free-form")
    _inputs_unchanged(ctx, before, _snapshot(run_dir))
    if ctx.determinism:
        ok, again = _call(ctx, "run (again)", lambda: ctx.stage().run(items, inputs, mode="direct", free_form=False))
        if ok:
            _determinism(ctx.ck, [(answers, None, {}), (again, None, {})])


def _check_maps(stage, maps, frames) -> str:
    import torch

    T, H, W = frames.shape[:3]
    if not isinstance(maps.maps, torch.Tensor):
        raise AssertionError(f"maps is {type(maps.maps).__name__}; expected a torch.Tensor [T,H,W,D]")
    if maps.maps.ndim != 4 or tuple(maps.maps.shape[:3]) != (T, H, W):
        raise AssertionError(f"maps has shape {tuple(maps.maps.shape)}; expected [T,H,W,D] = [{T},{H},{W},D]")
    if maps.maps.dtype != torch.float32 or maps.maps.device.type != "cpu":
        raise AssertionError(f"maps is {maps.maps.dtype} on {maps.maps.device}; expected torch.float32 on cpu")
    if maps.valid is not None and (tuple(maps.valid.shape) != (T, H, W) or maps.valid.dtype != torch.bool):
        raise AssertionError(f"valid is {maps.valid.dtype} {tuple(maps.valid.shape)}; expected torch.bool [{T},{H},{W}]")
    if maps.target != stage.target:
        raise AssertionError(f"maps.target is {maps.target!r}; the class declares target {stage.target!r}")
    if maps.name != stage.name:
        raise AssertionError(f"maps.name is {maps.name!r}; expected the stage's name {stage.name!r}")
    if not bool(torch.isfinite(maps.maps).all()):
        raise AssertionError("maps holds NaN or Inf")
    if maps.target in ("depth", "mask") and maps.dim != 1:
        raise AssertionError(f"a {maps.target} teacher gives D = 1; got D = {maps.dim}")
    if maps.target == "mask":
        ids = maps.maps[..., 0]
        if not torch.equal(ids, ids.round()) or bool((ids < 0).any()):
            raise AssertionError("mask ids must be non-negative integers stored as float")
        if maps.labels is not None and len(maps.labels) < int(ids.max()) + 1:
            raise AssertionError(f"labels names {len(maps.labels)} ids; the masks use ids up to {int(ids.max())}")
    return f"{maps.target} maps {list(maps.maps.shape)} float32" + ("" if maps.valid is None else ", valid bool")


def _check_teacher(ctx: _Context) -> None:
    import torch

    from worldsim.stages import FeatureTeacher

    ok, clip = _call(ctx, "input", lambda: _clip(_run_input(ctx, False)), "the frames, labels and arrays of a tiny "
                     "generate-only run made by run_pipeline")
    if not ok:
        return
    frames, labels, arrays = clip
    results = []
    for attempt in range(ctx.runs()):
        stage = ctx.stage()
        ok, maps = _call(ctx, "run" if attempt == 0 else "run (again)", lambda: stage.run(frames.copy(), labels, arrays))
        if not ok:
            return
        if attempt == 0:
            if not ctx.result([maps], None):
                return
            with ctx.ck.step("maps") as note:
                note["reason"] = _check_maps(stage, maps, frames)
            if isinstance(stage, FeatureTeacher):
                with ctx.ck.step("encode_text") as note:
                    q = stage.encode_text(["red ball", "background"])
                    if not isinstance(q, torch.Tensor) or tuple(q.shape) != (2, maps.dim):
                        raise AssertionError(f"encode_text gave {tuple(getattr(q, 'shape', ())) or type(q).__name__}; "
                                             f"expected [2,{maps.dim}]")
                    if not torch.allclose(q.float().norm(dim=-1), torch.ones(2), atol=1e-3):
                        raise AssertionError("encode_text rows are not L2-normalised")
                    note["reason"] = f"[2,{maps.dim}] unit rows, the width of the pixel features"
        results.append(maps)
    if len(results) > 1:
        with ctx.ck.step("determinism") as note:
            a, b = results
            if a.maps.shape != b.maps.shape or not torch.equal(a.maps, b.maps):
                raise AssertionError("same frames, different maps" + (
                    f" (max difference {float((a.maps - b.maps).abs().max()):.3g})" if a.maps.shape == b.maps.shape else ""))
            if (a.valid is None) != (b.valid is None) or (a.valid is not None and not torch.equal(a.valid, b.valid)):
                raise AssertionError("same frames, different valid masks")
            if a.labels != b.labels:
                raise AssertionError("same frames, different labels")
            note["reason"] = "two runs (fresh instances) give identical maps"


def _check_poses(stage, poses, frames, camera) -> str:
    T = frames.shape[0]
    if poses.cameras[0] != camera:
        raise AssertionError("cameras[0] is not the given camera; frame 0's camera defines the world frame and must be "
                             "returned as it is")
    if poses.estimator != stage.name:
        raise AssertionError(f"estimator is {poses.estimator!r}; expected the stage's name {stage.name!r}")
    return f"{T} cameras, cameras[0] is the given camera, static={poses.static}"


def _pose_inputs(ctx: _Context) -> list[tuple[str, dict]]:
    """[(suffix, {frames, camera, depth, masks, labels, truth})] of the static tiny clip and the moving one."""
    from worldsim.types import Camera

    frames, labels, arrays = _clip(_run_input(ctx, False))
    arrays = arrays or {}
    camera = Camera.model_validate(labels["camera"]) if labels and labels.get("camera") else None
    if camera is None:
        raise AssertionError("the tiny clip's labels name no camera")
    static = {"frames": frames, "camera": camera, "depth": arrays.get("depth"), "masks": arrays.get("masks"),
              "labels": labels, "truth": [camera] * frames.shape[0]}
    clip = _tiny_moving(ctx.seed)
    moving = {"frames": clip["frames"], "camera": clip["camera"], "depth": clip["depth"], "masks": clip["masks"],
              "labels": clip["labels"], "truth": clip["cameras"]}
    return [("", static), (" moving", moving)]


def _check_pose(ctx: _Context) -> None:
    import numpy as np

    from worldsim.pose_metrics import median_depth, pose_errors

    m = TINY_MOVING
    ok, inputs = _call(ctx, "input", lambda: _pose_inputs(ctx), (
        f"the tiny generate-only run's clip (static camera) and a {m['width']}x{m['height']} {m['num_frames']}-frame "
        f"clip of the tiny plan's world with the camera trucking {m['truck_m']} m right (moving_camera_clip)"))
    if not ok:
        return
    for suffix, clip in inputs:
        T = clip["frames"].shape[0]
        runs = []
        for attempt in range(ctx.runs()):
            stage = ctx.stage()
            given = {k: None if clip[k] is None else np.array(clip[k]) for k in ("frames", "depth", "masks")}
            ok, poses = _call(ctx, f"run{suffix}" + (" (again)" if attempt else ""), lambda: stage.run(
                given["frames"], clip["camera"], given["depth"], given["masks"], labels=clip["labels"]))
            if not ok:
                break
            if attempt == 0:
                if not ctx.result([poses], None, expected_len=T, suffix=suffix):
                    break
                with ctx.ck.step(f"poses{suffix}") as note:
                    reason = _check_poses(stage, poses, clip["frames"], clip["camera"])
                    errors = pose_errors(poses.cameras, clip["truth"], median_depth(clip["depth"][0])
                                         if clip["depth"] is not None else 0.0)
                    pct = "" if errors["rmse_pct"] is None else f" ({errors['rmse_pct']:.3g}% of the extent)"
                    note["reason"] = (f"{reason}; against the true cameras: ATE {errors['rmse']:.3g}{pct}, "
                                      f"RRE {errors['rre_deg']:.3g} deg")
                with ctx.ck.step(f"inputs{suffix}") as note:
                    for name, value in given.items():
                        if value is not None and not np.array_equal(value, clip[name]):
                            raise AssertionError(f"the stage changed its input {name} array in place")
                    note["reason"] = "the input arrays are untouched"
            runs.append((poses, None, {}))
        if len(runs) > 1:
            _determinism(ctx.ck, runs, f" on the{suffix or ' static'} clip", f"determinism{suffix}")


_KIND_CHECKS: dict[str, Callable[[_Context], None]] = {
    "parser": _check_parser, "generator": _check_generator, "reconstructor": _check_reconstructor,
    "editor": _check_editor, "scorer": _check_scorer, "answerer": _check_answerer, "teacher": _check_teacher,
    "pose": _check_pose,
}


def check_stage(kind: str, name: str, config: dict | None = None, *, seed: int = 0, workdir: str | Path | None = None,
                generator: tuple[str, dict] | None = None, reconstructor: tuple[str, dict] | None = None,
                reconstruct: bool | None = None, commands: list[str] | tuple[str, ...] | None = None,
                edit_params: dict[str, dict] | None = None, determinism: bool = True,
                echo: bool | Callable[[str], Any] = False) -> CheckReport:
    """Run the registered `kind` stage `name` with `config` on tiny inputs and check its contract (the comment above).

    generator / reconstructor: (name, config) of the stages that make the tiny input runs (defaults: procedural
    with TINY_GENERATOR, feature-4dgs with TINY_RECONSTRUCTOR). reconstruct: scorers and answerers: False only a
    generate-only run, True only a reconstructed one, None (default) the reconstructed one when the first is
    refused. commands: parser commands (default GENERATE_COMMANDS + EDIT_COMMANDS). edit_params: op -> params for
    editor ops whose params should not be built from the field types. workdir: keep the runs there (default: a
    temporary folder, removed). echo: print each check as it completes (or a callable taking the line).
    Never raises for a failing stage: read `report.ok` / `report.failed`, or call `report.assert_ok()`.
    """
    printer = (print if echo is True else echo) if echo else None
    report = CheckReport(kind=kind, name=name)
    ck = _Checker(report, printer)
    if printer is not None:
        printer(f"{kind} '{name}':")
    options = dict(seed=seed, workdir=workdir, generator=generator, reconstructor=reconstructor, reconstruct=reconstruct,
                   commands=commands, edit_params=edit_params, determinism=determinism)
    _check_stage(ck, report, kind, name, config, **options)
    if printer is not None:
        printer(f"{report.title}: {'passed' if report.ok else 'FAILED'}")
    return report


def _check_stage(ck: _Checker, report: CheckReport, kind: str, name: str, config: dict | None, *, seed, workdir, generator,
                 reconstructor, reconstruct, commands, edit_params, determinism) -> None:
    from worldsim import registry
    from worldsim.errors import UnknownStageError
    from worldsim.hookspecs import STAGE_KINDS
    from worldsim.stages import check_stage_class

    if kind not in STAGE_KINDS:
        ck.add("class", False, f"unknown stage kind '{kind}'; accepted: {', '.join(STAGE_KINDS)}")
        return
    try:
        info = registry.get_stage_info(kind, name)
    except UnknownStageError as exc:
        ck.add("class", False, str(exc))
        return
    report.plugin = info.plugin
    with ck.step("class") as note:
        check_stage_class(info.cls, kind, info.plugin)
        base = next(c for c in info.cls.__mro__ if c.__module__ == "worldsim.stages")
        version = plugins.plugin_versions().get(info.plugin, "?")
        note["reason"] = (f"{info.cls.__module__}.{info.cls.__qualname__} subclasses worldsim.stages.{base.__name__} "
                          f"(plugin '{info.plugin}' {version})")
    if ck.failed("class"):
        return
    with ck.step("config") as note:
        resolved = info.cls.make_config(config or {})
        changed = sorted(k for k in (config or {}))
        note["reason"] = f"{type(resolved).__name__} validates" + (f" ({', '.join(changed)} set)" if changed else " (defaults)")
    if ck.failed("config"):
        return
    owned = workdir is None
    work = Path(tempfile.mkdtemp(prefix=f"worldsim-check-{kind}-")) if owned else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    sub = work / f"{kind}-{name}"
    if sub.exists():
        shutil.rmtree(sub)
    sub.mkdir(parents=True)
    ctx = _Context(kind=kind, name=name, info=info, config=dict(config or {}), seed=seed, work=sub,
                   generator=generator, reconstructor=reconstructor, reconstruct=reconstruct,
                   commands=tuple(commands) if commands is not None else None, edit_params=dict(edit_params or {}),
                   determinism=determinism, ck=ck)
    try:
        _KIND_CHECKS[kind](ctx)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a bug in the checks' own inputs: report it, do not crash
        ck.add("check", False, f"checking stopped: {_one_line(exc)}")
    finally:
        if owned:
            shutil.rmtree(work, ignore_errors=True)
