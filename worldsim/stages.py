"""Stage kinds: one base class each. The base classes ARE the contract between the core and a plugin.

A plugin subclasses the base class of its kind, sets `name` (lower case, e.g. ``my-gen``), a one-line
`description`, optionally a pydantic `Config` (a `StageConfig` subclass), and implements `run` with the
kind's signature. Built-in stages use the same classes.

| kind          | run(...)                                                          | returns |
|---------------|-------------------------------------------------------------------|---------|
| parser        | run(text: str)                                                    | Plan |
| generator     | run(plan: Plan, seed: int, out_dir: Path)                         | GeneratedVideo |
| reconstructor | run(video: GeneratedVideo, run_dir: Path, out_dir: Path, seed: int) | Reconstruction |
| editor        | run(edit: EditSpec, source: EditSource, out_dir: Path)            | EditResult or ReplanResult |
| scorer        | run(inputs: ScoreInput, out_dir: Path)                            | ScoreResult |
| answerer      | run(items: list[QAItem], inputs: ScoreInput, mode: str = "direct", free_form: bool = False) | list[str], one per item |
| teacher       | run(frames: np.ndarray, labels: dict or None = None, arrays: dict or None = None) | TeacherMaps |
| pose          | run(frames: np.ndarray, camera: Camera, depth=None, masks=None, labels: dict or None = None) | CameraPoses |

Paths in results are relative to the run folder, and every file a result names must exist inside it.
`check_stage_class` runs when a plugin registers a class; `check_result` runs after every stage call
(`call_stage`). Both raise `StageContractError` with one line naming the stage, its plugin and what is
wrong. Heavy imports (torch, diffusers, ...) belong inside `run`.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from worldsim.errors import ConfigError, InputError, StageContractError, StageFailedError, WorldsimError
from worldsim.types import (
    Camera, CameraPoses, EditParams, EditResult, EditSource, EditSpec, GeneratedVideo, Plan, QAItem, Reconstruction,
    ReplanResult, ScoreInput, ScoreResult,
)
from worldsim.types.results import FILE_MARK
from worldsim.types.teacher import TeacherMaps, TeacherTarget

if TYPE_CHECKING:
    import numpy as np

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# The member of a union pydantic puts in an error's location ('intensity.constrained-int'): not a key.
_UNION_TAG = re.compile(r"^(constrained-)?(int|float|str|bool|none)$|^(literal|function-\w+)\[")


_CONTAINERS = (list, tuple, set, frozenset)


def _strip(annotation: Any) -> Any:
    """`Annotated[float, Field(ge=0)]` -> float."""
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _shape_fits(value: Any, annotation: Any) -> bool:
    """Whether `value` (a list/tuple or a dict) is the kind of container `annotation` describes."""
    origin = get_origin(annotation) or annotation
    if isinstance(value, (list, tuple)):
        return isinstance(origin, type) and issubclass(origin, _CONTAINERS + (typing.Sequence,))
    if isinstance(value, dict):
        return (isinstance(origin, type) and issubclass(origin, dict)) or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel))
    return False


def bool_for_number(value: Any, annotation: Any) -> bool:
    """Whether `value` holds a boolean where `annotation` wants a number: `int`, `float`, `int | None`, or an
    element of `list[float]`, `tuple[float, float]`, `dict[str, float]`, or a field of a plain nested model.
    YAML reads `true` as a boolean and pydantic would take it as 1; a number field never means a switch."""
    annotation = _strip(annotation)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [_strip(a) for a in get_args(annotation)]
        if isinstance(value, bool):
            return bool not in args and Any not in args and any(a in (int, float) for a in args)
        fitting = [a for a in args if _shape_fits(value, a)]
        return bool(fitting) and all(bool_for_number(value, a) for a in fitting)
    if isinstance(value, bool):
        return annotation in (int, float)
    if isinstance(value, (list, tuple)) and _shape_fits(value, annotation):
        args = get_args(annotation)
        if not args:
            return False
        if (origin is tuple) and not (len(args) == 2 and args[1] is Ellipsis):
            return any(bool_for_number(v, a) for v, a in zip(value, args))
        return any(bool_for_number(v, args[0]) for v in value)
    if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if issubclass(annotation, SettingsModel):
            return False  # it checks its own fields, naming the nested key
        fields = annotation.model_fields
        return any(k in fields and bool_for_number(v, fields[k].annotation) for k, v in value.items())
    if isinstance(value, dict) and _shape_fits(value, annotation):
        args = get_args(annotation)
        return len(args) == 2 and any(bool_for_number(v, args[1]) for v in value.values())
    return False


class SettingsModel(BaseModel):
    """Base of stage settings (`StageConfig`) and of the settings models nested in them (a reconstructor's
    `train`, a generator's `guidance`): unknown keys are an error, and a number field (int, float, also inside
    lists, tuples and dicts) rejects true/false instead of reading it as 1/0."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is not None and bool_for_number(value, field.annotation):
            raise PydanticCustomError("bool_not_number", "a number is expected, not true/false")
        return value


class StageConfig(SettingsModel):
    """Base for a stage's `Config`: unknown keys are an error, not silently ignored; numbers reject booleans
    (`SettingsModel`). Nested settings models subclass `SettingsModel` to get the same checks."""

    model_config = ConfigDict(extra="forbid")


class Stage:
    """Common base of every stage kind; plugins subclass one of the kind classes below, not this one."""

    kind: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    Config: ClassVar[type[StageConfig]] = StageConfig
    result_type: ClassVar[Any]  # the type run() returns (checked by check_result)

    def __init__(self, config: StageConfig | dict | None = None):
        self.config = self.make_config(config)

    @classmethod
    def make_config(cls, config: StageConfig | dict | None) -> StageConfig:
        if isinstance(config, cls.Config):
            return config
        try:
            return cls.Config.model_validate(config or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"] if not _UNION_TAG.match(str(p))) or "config"
            fields = ", ".join(cls.Config.model_fields) or "none"
            raise ConfigError(
                f"{cls.kind} '{cls.name}' config: {where}={err.get('input')!r}: {err['msg']} (fields: {fields})"
            ) from None

    def run(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class Parser(Stage):
    """Command text -> Plan. May set `last_provenance` (a JSON dict: model, attempts, fallback) for run.json."""

    kind = "parser"
    result_type = Plan
    last_provenance: dict | None = None

    def run(self, text: str) -> Plan:  # pragma: no cover - interface
        raise NotImplementedError


class Generator(Stage):
    """Plan -> a video (and optionally exact labels) written into `out_dir` (the run folder's `generator/`)."""

    kind = "generator"
    result_type = GeneratedVideo

    def run(self, plan: Plan, seed: int, out_dir: Path) -> GeneratedVideo:  # pragma: no cover - interface
        raise NotImplementedError


class Reconstructor(Stage):
    """Video -> a dynamic Gaussian scene with a feature field, written into `out_dir` (`reconstruction/`)."""

    kind = "reconstructor"
    result_type = Reconstruction

    def run(self, video: GeneratedVideo, run_dir: Path, out_dir: Path, seed: int) -> Reconstruction:  # pragma: no cover
        raise NotImplementedError


class Editor(Stage):
    """Scene + edit -> an edited scene (EditResult) or a new plan to regenerate (ReplanResult).

    `ops` declares the edit ops the editor implements, each an `EditParams` subclass (op name, verbs,
    parameter fields). `run` receives `edit.params` already validated against that model.
    """

    kind = "editor"
    result_type = (EditResult, ReplanResult)
    ops: ClassVar[tuple[type[EditParams], ...]] = ()

    def run(self, edit: EditSpec, source: EditSource, out_dir: Path) -> EditResult | ReplanResult:  # pragma: no cover
        raise NotImplementedError


class Scorer(Stage):
    """Run outputs -> JSON figures (ScoreResult), stored in run.json under `metrics[metrics_key]` (default: name).

    A Config with `max_attempts` (and `guidance_boost`) makes the scorer drive the closed loop: a result with
    `passed=False` regenerates the run while attempts remain (worldsim.runner).
    """

    kind = "scorer"
    result_type = ScoreResult
    metrics_key: ClassVar[str | None] = None

    def run(self, inputs: ScoreInput, out_dir: Path) -> ScoreResult:  # pragma: no cover - interface
        raise NotImplementedError


class Answerer(Stage):
    """Multiple-choice (or free-form) questions about a run -> one raw answer text per question."""

    kind = "answerer"
    result_type = list

    def run(self, items: list[QAItem], inputs: ScoreInput, mode: str = "direct",
            free_form: bool = False) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError


class Teacher(Stage):
    """Video frames (+ the generator's labels / arrays) -> dense per-pixel maps (TeacherMaps).

    Not a pipeline step: a reconstructor names the teachers it wants in its own config.
    """

    kind = "teacher"
    result_type = TeacherMaps
    target: ClassVar[TeacherTarget]
    without_labels: ClassVar[str] = ""  # quoted teacher name(s) of the same target needing no labels, for errors

    def run(self, frames: "np.ndarray", labels: dict | None = None,
            arrays: dict | None = None) -> TeacherMaps:  # pragma: no cover - interface
        raise NotImplementedError


class FeatureTeacher(Teacher):
    """A teacher of per-pixel features that can also embed text into the same space (`encode_text`)."""

    target = "feature"
    dim: ClassVar[int | None] = None  # feature width when known without loading a model

    def encode_text(self, texts: list[str]):  # pragma: no cover - interface
        """texts (Q strings) -> [Q,D] float32 CPU tensor, L2-normalised, comparable with the pixel features."""
        raise NotImplementedError


class PoseEstimator(Stage):
    """Video frames + frame 0's camera (+ a depth prior, object masks, labels) -> every frame's camera (CameraPoses).

    Not a pipeline step: a reconstructor names its estimator in its own config and calls it through the registry
    (`call_stage(stage, frames, camera, depth, masks, labels=labels, expected_len=T)`).

    frames  [T,H,W,3] uint8
    camera  frame 0's Camera: its intrinsics hold for every frame, its viewmat defines the world frame
    depth   [T,H,W] float32 depth along camera z in the world's units (a depth teacher's maps); <= 0 or NaN: unknown
    masks   [T,H,W] int (or a mask teacher's whole-number floats): 0 background, k > 0 moving object k (estimators
            ignore those pixels)
    labels  the generator's labels.json as a dict, when there are any (ground-truth estimators read `cameras`)

    The result has one camera per frame (checked: `expected_len`), `cameras[0] == camera` exactly, every camera
    with frame 0's size and K, and with `static=True` every camera equal to `camera`. `check_inputs` turns bad
    arrays into one-line InputErrors; estimators call it first.
    """

    kind = "pose"
    result_type = CameraPoses

    def run(self, frames: "np.ndarray", camera: Camera, depth: "np.ndarray | None" = None,
            masks: "np.ndarray | None" = None, labels: dict | None = None) -> CameraPoses:  # pragma: no cover - interface
        raise NotImplementedError

    def check_inputs(self, frames: Any, camera: Any, depth: Any = None, masks: Any = None):
        """(frames, depth, masks) as numpy arrays ([T,H,W,3] uint8, [T,H,W] float32 or None, [T,H,W] int64 or None),
        or InputError (one line) naming what is wrong: types, shapes, dtypes, the frame count, the camera's size."""
        import numpy as np

        who = f"{self.kind} '{self.name}'"

        def array(value: Any, what: str):
            if hasattr(value, "detach"):  # a CPU torch tensor (a teacher's maps)
                value = value.detach().cpu().numpy()
            if not isinstance(value, np.ndarray):
                raise InputError(f"{who}: {what} must be a numpy array; got {type(value).__name__}")
            return value

        frames = array(frames, "frames")
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 1:
            raise InputError(f"{who}: frames must be uint8 [T,H,W,3] with T >= 1; got {frames.dtype} {tuple(frames.shape)}")
        T, H, W = frames.shape[:3]
        if not isinstance(camera, Camera):
            raise InputError(f"{who}: camera must be a worldsim.types.Camera (frame 0's); got {type(camera).__name__}")
        if (camera.width, camera.height) != (W, H):
            raise InputError(f"{who}: the camera is {camera.width}x{camera.height} but the frames are {W}x{H}")
        out = [frames]
        for value, what, kind in ((depth, "depth", "float"), (masks, "masks", "int")):
            if value is None:
                out.append(None)
                continue
            value = array(value, what)
            if value.ndim == 4 and value.shape[-1] == 1:  # [T,H,W,1] teacher maps
                value = value[..., 0]
            if value.ndim != 3 or value.shape[1:] != (H, W):
                raise InputError(f"{who}: {what} must be [T,H,W] = [{T},{H},{W}]; got {tuple(value.shape)}")
            if value.shape[0] != T:
                raise InputError(f"{who}: {what} has {value.shape[0]} frames but the video has {T}")
            if kind == "float" and not np.issubdtype(value.dtype, np.floating):
                raise InputError(f"{who}: depth must be float (camera-z depth); got {value.dtype}")
            if kind == "int" and np.issubdtype(value.dtype, np.floating):  # a mask teacher's ids are stored as float
                if not (np.isfinite(value).all() and np.array_equal(value, np.round(value))):
                    raise InputError(f"{who}: masks must hold integer ids (0 background); got non-integer {value.dtype} values")
            elif kind == "int" and not (np.issubdtype(value.dtype, np.integer) or value.dtype == np.bool_):
                raise InputError(f"{who}: masks must hold integer ids (0 background); got {value.dtype}")
            out.append(value.astype(np.float32, copy=False) if kind == "float" else value.astype(np.int64, copy=False))
        return tuple(out)


KIND_CLASSES: dict[str, type[Stage]] = {
    cls.kind: cls for cls in (Parser, Generator, Reconstructor, Editor, Scorer, Answerer, Teacher, PoseEstimator)
}


def _result_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return "list[str]" if expected is list else expected.__name__


def _required(sig: inspect.Signature) -> list[str]:
    return [p.name for p in list(sig.parameters.values())[1:]
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def check_stage_class(obj: Any, kind: str, plugin: str | None = None) -> type[Stage]:
    """The class a plugin registered as a `kind` stage, checked; StageContractError (one line) otherwise."""
    where = f"plugin '{plugin}' " if plugin else ""
    if not isinstance(obj, type):
        raise StageContractError(f"{where}registered an instance of {type(obj).__name__}, not a class; "
                                 f"register the class itself: register({type(obj).__name__})")
    label = f"{where}class {obj.__name__}"
    base = KIND_CLASSES[kind]
    if not issubclass(obj, base):
        raise StageContractError(f"{label} is registered as a {kind} but does not subclass worldsim.stages.{base.__name__}")
    name = obj.__dict__.get("name", getattr(obj, "name", None))
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        got = "no name" if name is None else f"name {name!r}"
        raise StageContractError(f"{label} has {got}; set `name` to a lower-case identifier such as 'my-{kind}'")
    description = getattr(obj, "description", None)
    if not isinstance(description, str) or not description.strip():
        raise StageContractError(f"{label} ({kind} '{name}') has no `description`; set a one-line string")
    cfg = getattr(obj, "Config", None)
    if not (isinstance(cfg, type) and issubclass(cfg, StageConfig)):
        raise StageContractError(f"{label} ({kind} '{name}'): `Config` must subclass worldsim.stages.StageConfig")
    want, have = inspect.signature(base.run), inspect.signature(obj.run)
    wanted = [p for p in list(want.parameters)[1:]]
    params = list(have.parameters.values())[1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_var = any(p.kind == p.VAR_POSITIONAL for p in params)
    extra_required = [n for n in _required(have) if n not in wanted]
    if (names[:len(wanted)] != wanted and not has_var) or extra_required:
        raise StageContractError(
            f"{label} ({kind} '{name}'): run{have} does not match the {kind} signature run{want}"
            .replace("self, ", "").replace("(self)", "()"))
    if kind == "editor":
        ops = getattr(obj, "ops", ())
        if not ops or not all(isinstance(op, type) and issubclass(op, EditParams) and isinstance(getattr(op, "op", None), str)
                              for op in ops):
            raise StageContractError(f"{label} (editor '{name}'): `ops` must list the EditParams subclasses (each with "
                                     f"an `op` name) of the edit ops it implements")
    return obj


def _json_problem(value: Any, where: str) -> str | None:
    """Where `value` stops being JSON (dicts with str keys, lists, str, int, float, bool, None), or None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{where} has a {type(k).__name__} key {k!r}"
            problem = _json_problem(v, f"{where}.{k}")
            if problem:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            problem = _json_problem(v, f"{where}[{i}]")
            if problem:
                return problem
        return None
    return f"{where} is {type(value).__module__.split('.')[0]}.{type(value).__name__}, not JSON"


def _paths(result: BaseModel) -> list[tuple[str, str, str]]:
    """(field, kind 'file'|'dir', relative path) of every path field of a result that is set."""
    out = []
    for field, info in type(result).model_fields.items():
        mark = (info.json_schema_extra or {}).get(FILE_MARK) if isinstance(info.json_schema_extra, dict) else None
        value = getattr(result, field)
        if mark is None or value is None:
            continue
        if isinstance(value, dict):
            out += [(f"{field}.{k}", mark, v) for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            out += [(f"{field}[{i}]", mark, v) for i, v in enumerate(value)]
        else:
            out.append((field, mark, value))
    return out


def label(stage: Stage | type[Stage], plugin: str | None = None) -> str:
    """`generator 'x' (plugin 'y')`: how errors name a stage."""
    return f"{stage.kind} '{stage.name}'" + (f" (plugin '{plugin}')" if plugin else "")


def check_result(stage: Stage, result: Any, run_dir: str | Path | None = None, plugin: str | None = None,
                 expected_len: int | None = None) -> Any:
    """`result` if it honours the stage kind's contract, else StageContractError (one line):
    its type, every file it names (inside `run_dir`), JSON metrics, for answerers one str per question and for
    pose estimators one camera per frame (`expected_len`: the number of questions / frames)."""
    who = label(stage, plugin)
    expected = type(stage).result_type
    if not isinstance(result, expected):
        raise StageContractError(f"{who} returned {type(result).__name__}; expected {_result_name(expected)}")
    if isinstance(result, list):
        bad = next((i for i, a in enumerate(result) if not isinstance(a, str)), None)
        if bad is not None:
            raise StageContractError(f"{who} returned answer {bad} as {type(result[bad]).__name__}; expected str")
        if expected_len is not None and len(result) != expected_len:
            raise StageContractError(f"{who} returned {len(result)} answers for {expected_len} questions")
        return result
    if not isinstance(result, BaseModel):  # TeacherMaps: its shapes are the teacher's own check (stage_check)
        return result
    if isinstance(result, CameraPoses) and expected_len is not None and result.num_frames != expected_len:
        raise StageContractError(f"{who} returned {result.num_frames} cameras for {expected_len} frames; expected one per frame")
    if "metrics" in type(result).model_fields:
        problem = _json_problem(result.metrics, "metrics")
        if problem:
            raise StageContractError(f"{who} returned {problem}")
    if run_dir is not None:
        root = Path(run_dir).resolve()
        for field, mark, rel in _paths(result):
            path = (root / rel).resolve()
            if not path.is_relative_to(root):
                raise StageContractError(f"{who} returned {field}='{rel}', outside the run folder; paths are relative to it")
            ok = path.is_dir() if mark == "dir" else path.is_file()
            if not ok:
                raise StageContractError(f"{who} returned {field}='{rel}', but no such {'folder' if mark == 'dir' else 'file'} "
                                         f"was written in the run folder")
    return result


def call_stage(stage: Stage, *args: Any, run_folder: str | Path | None = None, plugin: str | None = None,
               expected_len: int | None = None, **kwargs: Any) -> Any:
    """`stage.run(*args, **kwargs)` with its result checked (files inside `run_folder`); any non-worldsim error
    is named after the stage."""
    try:
        result = stage.run(*args, **kwargs)
    except WorldsimError:
        raise
    except Exception as exc:  # a bug or a transient failure inside a stage: name the stage
        raise StageFailedError(f"{label(stage, plugin)} failed: {type(exc).__name__}: {exc}") from exc
    return check_result(stage, result, run_folder, plugin, expected_len)
