"""Batch synthesis: the spec file (`worldsim batch SPEC`), the scenes it enumerates, and the per-scene record."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_serializer, model_validator

from worldsim.types.plan import CameraMove, Direction, Speed
from worldsim.types.qa import QUESTION_TYPES, QuestionType

SPLITS: tuple[str, ...] = ("train", "val", "test")
TaskRunnerName = Literal["threads", "dask", "none"]
# Fields that say how to run a batch, not what it contains: they may change between a run and its resume.
EXECUTION_FIELDS: tuple[str, ...] = ("runner", "workers", "dask_address")
# Fields that only shape the exports (which questions they keep), not the scenes: they may change too.
EXPORT_FIELDS: tuple[str, ...] = ("question_mix",)
# The dataset exports `worldsim dataset export --format` writes (dense_<split>.jsonl is always written).
EXPORT_FORMATS: tuple[str, ...] = ("vlm4d", "sharegpt", "llava-video")
ExportFormat = Literal["vlm4d", "sharegpt", "llava-video"]
# Per-category question weights by preset name. "vlm4d": the distribution of VLM4D's published benchmark
# (translational 55%, rotational 19%, counting 17%, false positive 9%).
QUESTION_MIX_PRESETS: dict[str, dict[str, float]] = {
    "vlm4d": {"translational": 0.55, "rotational": 0.19, "counting": 0.17, "false_positive": 0.09},
}


def _question_mix(value: Any) -> str | dict | None:
    accepted = (f"accepted: a preset ({', '.join(QUESTION_MIX_PRESETS)}) or a mapping of category "
                f"({', '.join(QUESTION_TYPES)}) to a weight from 0 to 1e6")
    if value is None:
        return None
    if isinstance(value, str):
        if value not in QUESTION_MIX_PRESETS:
            raise ValueError(f"unknown question mix preset {value!r}; {accepted}")
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{value!r} is not a question mix; {accepted}")
    for category, weight in value.items():
        if category not in QUESTION_TYPES:
            raise ValueError(f"unknown question category {category!r}; {accepted}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1e6:
            raise ValueError(f"weight {weight!r} of {category!r} is not a number from 0 to 1e6")
    if not any(w > 0 for w in value.values()):
        raise ValueError(f"question mix {value!r} has no positive weight; give at least one category a weight above 0")
    return {c: float(value[c]) for c in QUESTION_TYPES if c in value}


# A preset name or {category: weight} (weights need not sum to 1); None keeps every question.
QuestionMix = Annotated[Any, BeforeValidator(_question_mix)]


def question_mix_weights(mix: str | dict | None) -> dict[str, float] | None:
    """The per-category shares (summing to 1) of a question mix; None for no mix (keep every question)."""
    if mix is None:
        return None
    weights = QUESTION_MIX_PRESETS[mix] if isinstance(mix, str) else mix
    total = sum(weights.values())
    return {c: weights[c] / total for c in QUESTION_TYPES if weights.get(c, 0) > 0}


def _object_noun(noun: str) -> str:
    from worldsim.errors import one_line
    from worldsim.objects import OBJECTS

    key = noun.strip().lower()
    if key not in OBJECTS:
        raise ValueError(f"unknown object '{noun}'; accepted: {one_line(OBJECTS, limit=len(OBJECTS))}")
    return key


def _color_name(name: str) -> str:
    from worldsim.colors import COLORS, canonical_color
    from worldsim.errors import one_line

    key = canonical_color(name)
    if key is None:
        raise ValueError(f"unknown colour '{name}'; accepted: {one_line(COLORS, limit=len(COLORS))}")
    return key


Count = Annotated[int, Field(ge=1, le=16)]
ObjectNoun = Annotated[str, AfterValidator(_object_noun)]
ColorName = Annotated[str, AfterValidator(_color_name)]


class SplitSpec(BaseModel):
    """Train/val/test ratios (summing to 1) and object categories held out of training."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(0.8, ge=0.0, le=1.0, description="fraction of the (non-held-out) scenes in train")
    val: float = Field(0.1, ge=0.0, le=1.0, description="fraction in val")
    test: float = Field(0.1, ge=0.0, le=1.0, description="fraction in test")
    holdout_objects: list[ObjectNoun] = Field(default_factory=list, description="object nouns whose scenes all go to "
                                       "`holdout_split` and never to train (an unseen-category test)")
    holdout_split: Literal["val", "test"] = Field("test", description="the split that receives held-out categories")

    @model_validator(mode="after")
    def _sum_to_one(self) -> "SplitSpec":
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test = {self.train:g} + {self.val:g} + {self.test:g} = {total:g}; the ratios must sum to 1")
        return self




class BatchSpec(BaseModel):
    """What a batch contains (scenes drawn from the product of the lists below) and how it runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("worldsim-batch", min_length=1, description="dataset name (card title, dataset_info.json keys)")
    description: str = Field("", description="one line for the dataset card")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="draws the scenes and each scene's generator seed")
    num_scenes: int = Field(ge=1, le=1_000_000, description="scenes to synthesize, sampled from the product "
                            "objects x colors x counts x directions x speeds (without repeats while it lasts)")
    objects: list[ObjectNoun] = Field(min_length=1, description="object nouns (worldsim.objects vocabulary), e.g. ball, car")
    colors: list[ColorName] = Field(min_length=1, description="colour names (worldsim.colors), e.g. red, blue")
    counts: list[Count] = Field(default_factory=lambda: [1], min_length=1, description="instances per scene, 1..16")
    directions: list[Direction] = Field(min_length=1, description="motion directions (left, right, up, down, "
                                        "up-left, up-right, down-left, down-right, none)")
    speeds: list[Speed] = Field(default_factory=lambda: ["normal"], min_length=1, description="slow, normal, fast "
                                "(a scene with direction 'none' is always 'normal')")
    camera_motions: list[CameraMove] = Field(default_factory=lambda: ["static"], min_length=1, description="camera "
                                             "motions (static, pan-left, ..., orbit-right, follow; worldsim.camera_motion) at "
                                             "normal camera speed; follow and orbit circle / track the scene's object. Without "
                                             "ego_ratio another axis of the product")
    ego_ratio: float | None = Field(None, ge=0.0, le=1.0, description="fraction of the scenes with a moving camera "
                                    "(ego-centric; VLM4D has about 0.375): exactly round(ego_ratio x num_scenes) scenes draw "
                                    "one of the moving camera_motions, the others are static; None: camera_motions is an "
                                    "axis of the product like the others")
    config: str = Field("generate-only", description="pipeline preset (configs/ name or YAML path): the stages each scene runs")
    stages: list[str] | None = Field(None, description="stage kinds of the preset to run (default: all it lists); "
                                     "must include parser and generator")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per stage kind, settings merged "
                                                "into the preset's, e.g. {generator: {num_frames: 8}}")
    questions: bool = Field(True, description="write VLM4D-style questions (worldsim.qa.questions) for each scene")
    question_mix: QuestionMix = Field(None, description="per-category weights of the questions the exports keep: a preset "
                                      f"({', '.join(QUESTION_MIX_PRESETS)}) or {{category: weight}}; None keeps every question")
    captions: bool = Field(True, description="also write one 'describe the motion' caption conversation per scene")
    splits: SplitSpec = Field(default_factory=SplitSpec, description="split ratios and held-out object categories")
    license: str = Field("CC-BY-4.0", min_length=1, description="licence of the generated content, stated in the card")
    runner: TaskRunnerName = Field("threads", description="how scenes run in parallel: threads, dask, none (serial)")
    workers: int = Field(2, ge=1, le=1024, description="parallel scenes (threads or Dask workers)")
    dask_address: str | None = Field(None, description="a Dask scheduler address (tcp://host:8786); None starts a LocalCluster")

    @field_validator("objects", "colors", "counts", "directions", "speeds", "camera_motions")
    @classmethod
    def _no_repeats(cls, values: list, info) -> list:
        return _unique(values, {"colors": "colour", "camera_motions": "camera motion"}.get(info.field_name, info.field_name.rstrip("s")))

    @field_validator("stages")
    @classmethod
    def _needs_generation(cls, kinds: list[str] | None) -> list[str] | None:
        if kinds is not None and not {"parser", "generator"} <= set(kinds):
            raise ValueError(f"stages {kinds} must include 'parser' and 'generator'")
        return kinds

    @model_validator(mode="after")
    def _holdout_in_objects(self) -> "BatchSpec":
        unknown = [n for n in self.splits.holdout_objects if n not in self.objects]
        if unknown:
            raise ValueError(f"splits.holdout_objects: {', '.join(map(repr, unknown))} not in objects {self.objects}")
        if set(self.splits.holdout_objects) == set(self.objects) and self.splits.train > 0:
            raise ValueError("splits.holdout_objects: holds out every object; train would be empty")
        if self.ego_ratio and not self.moving_camera_motions:
            raise ValueError(f"ego_ratio {self.ego_ratio:g} needs a moving camera motion in camera_motions {self.camera_motions}")
        return self

    @property
    def moving_camera_motions(self) -> list[str]:
        return [m for m in self.camera_motions if m != "static"]

    @property
    def has_camera_motion(self) -> bool:
        """Whether any scene may have a moving camera."""
        return bool(self.moving_camera_motions) and self.ego_ratio != 0

    @model_serializer(mode="wrap")
    def _static_cameras_unsaid(self, handler):
        # Camera fields at their defaults are left out of every dump (spec.json, content(), its hash), so a spec
        # written before cameras could move keeps its content and resumes its batch folder.
        data = handler(self)
        if isinstance(data, dict):
            if data.get("camera_motions") == ["static"]:
                data.pop("camera_motions")
            if data.get("ego_ratio", 0) is None:
                data.pop("ego_ratio")
        return data

    def content(self) -> dict:
        """The fields that decide the dataset (not how it is run): equal content = resumable output folder."""
        return self.model_dump(mode="json", exclude=set(EXECUTION_FIELDS) | set(EXPORT_FIELDS))


def _unique(values: list, what: str) -> list:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} {v!r} is listed twice")
        seen.add(v)
    return values


class Scene(BaseModel):
    """One scene of a batch: its parameters, the prompt built from them, its seed and split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="stable id: index, parameters and a hash of (batch seed, index, parameters)")
    index: int = Field(ge=0, description="position in the batch; names the video file videos/<index:06d>.mp4")
    object: str
    color: str
    count: int
    direction: Direction
    speed: Speed
    prompt: str = Field(description="an English sentence the rules parser turns into exactly these parameters")
    seed: int = Field(description="the generator seed of this scene")
    split: Literal["train", "val", "test"]
    camera: CameraMove = Field("static", description="the camera motion (normal camera speed; follow and orbit: "
                               "about the scene's object); left out of the JSON when static")

    @model_serializer(mode="wrap")
    def _static_camera_unsaid(self, handler):
        # as Plan: a static scene's record keeps the bytes it had before cameras could move
        data = handler(self)
        if isinstance(data, dict) and data.get("camera") == "static":
            data.pop("camera")
        return data

    @property
    def video(self) -> str:
        return f"videos/{self.index:06d}.mp4"

    @property
    def camera_target(self) -> str | None:
        """The object noun a follow or orbit camera is about; None for the other motions."""
        return self.object if self.camera == "follow" or self.camera.startswith("orbit-") else None


class SceneRecord(BaseModel):
    """What one finished scene contributes to the dataset; `records/<scene-id>.json`, written atomically
    once its run folder is committed. Paths are relative to the batch folder."""

    model_config = ConfigDict(extra="forbid")

    scene: Scene
    run: str = Field(description="the scene's run folder, runs/<scene-id>")
    plan: dict
    generator: str
    video: str
    video_sha256: str
    fps: int
    num_frames: int
    width: int
    height: int
    questions: list[dict] = Field(default_factory=list, description="QAItem dicts")
    dense: dict | None = Field(description="per-object per-frame boxes, motion start/end seconds, per-frame mask RLE "
                               "(None for a generator without labels)")
    wall_s: float = Field(description="seconds this scene took (run + records)")


# --- what a dataset folder holds, as `worldsim dataset validate` reads it -----------------------------------
# Every file is checked against these models in strict mode (a number where text is expected is an error).
# They describe what `worldsim.io.datasets` writes; keep them next to any change of its exports.


class SceneFailure(BaseModel):
    """A scene that failed: one line of `failures.jsonl` in the batch folder (replaced when it is retried,
    removed when it succeeds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = Field(min_length=1, description="the scene id")
    index: int = Field(ge=0, description="the scene's position in the batch")
    stage: str = Field(min_length=1, description="where it failed: a stage kind (parser, generator, ...), 'run' (opening "
                       "or committing its run folder), 'export' (copying its video into videos/), 'record' (its scene "
                       "record), 'worker' or 'task' (the Dask worker or Prefect task running it died)")
    error: str = Field(min_length=1, description="one line: a worldsim error's message or 'Type: message'")


def _relative_path(rel: str) -> str:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{rel!r} is not a relative path inside the dataset folder")
    return rel


RelativePath = Annotated[str, AfterValidator(_relative_path)]


class ManifestFile(BaseModel):
    """One entry of manifest.json's `files`."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


def _video_base_url(url: str | None) -> str | None:
    if url is not None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.scheme == "file"):
            raise ValueError(f"video base URL {url!r} is not an http://, https:// or file:// URL")
        if parts.query or parts.fragment:
            raise ValueError(f"video base URL {url!r} has a query or fragment; give the folder URL the videos/ folder is under")
    return url


class ExportOptions(BaseModel):
    """How one export format of a dataset was written (manifest.json `export`, per format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_mix: QuestionMix = Field(None, description="the question mix the export keeps (BatchSpec.question_mix)")
    video_base_url: Annotated[str | None, AfterValidator(_video_base_url)] = Field(
        None, description="vlm4d only: videos are named `<url>/videos/<index>.mp4` instead of relative to the JSON file")


def default_exports(question_mix: str | dict | None = None) -> dict[str, ExportOptions]:
    return {f: ExportOptions(question_mix=question_mix) for f in EXPORT_FORMATS}


class DatasetManifest(BaseModel):
    """`manifest.json` of a batch folder (the `files` entries are checked one by one with ManifestFile)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    num_scenes: int = Field(ge=0, description="scenes in the dataset (the failed ones are not)")
    failed: int = Field(0, ge=0, description="scenes of the spec that failed, listed in failures.jsonl")
    splits: dict[Literal["train", "val", "test"], int]
    export: dict[ExportFormat, ExportOptions] = Field(default_factory=default_exports,
                                                      description="how each export format was written (absent: defaults)")
    files: dict[RelativePath, Any]


class SpecRecord(BaseModel):
    """`spec.json`: the spec a batch folder was made from (`spec` is checked as a BatchSpec)."""

    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any]
    content_sha256: str
    execution: dict[str, Any]
    worldsim: str


class ShareGPTMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class ShareGPTConversation(BaseModel):
    """One line of `sharegpt_<split>.jsonl`."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ShareGPTMessage] = Field(min_length=1)
    videos: list[str]


def _vlm4d_id(qid: str) -> str:
    head, _, number = qid.rpartition("_")
    if not head or not number.isdigit():
        raise ValueError(f"id {qid!r} is not '<prefix>_<integer>' (VLM4D's statistics read the integer after the last '_')")
    return qid


class VLM4DItem(BaseModel):
    """One item of `vlm4d_<split>.json` and of a run's `scores/qa_questions.json`: VLM4D's own record
    (docs/FORMATS.md) plus `task`, our question category."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, AfterValidator(_vlm4d_id)]
    video: str = Field(min_length=1, description="path relative to the JSON file, or a URL")
    question_type: Literal["multiple-choice"]
    question: str = Field(min_length=1)
    choices: dict[Literal["A", "B", "C", "D"], str]
    answer: str = Field(description="the text of the right choice")
    task: QuestionType

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> "VLM4DItem":
        if sorted(self.choices) != ["A", "B", "C", "D"]:
            raise ValueError(f"choices: needs the four letters A-D, got {sorted(self.choices)}")
        if list(self.choices.values()).count(self.answer) != 1:
            raise ValueError(f"answer: {self.answer!r} is not exactly one of the choices' texts")
        return self


class LLaVATurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: Literal["human", "gpt"] = Field(alias="from")
    value: str = Field(min_length=1)


class LLaVAVideoRecord(BaseModel):
    """One item of `llava_video_<split>.json` (the LLaVA-Video-178K layout LLaVA-NeXT trains on, docs/FORMATS.md)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    video: str = Field(min_length=1, description="path relative to the dataset folder (LLaVA-NeXT's --video_folder)")
    conversations: list[LLaVATurn] = Field(min_length=2)
    data_source: str = Field(min_length=1)


class MaskRLE(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: list[Annotated[int, Field(ge=0)]] = Field(min_length=2, max_length=2)
    counts: list[Annotated[int, Field(ge=0)]]


class ObjectMotion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_s: float | None
    end_s: float | None
    moving_steps: int = Field(ge=0)


class SceneMotion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_s: float | None
    end_s: float | None


class DenseObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    color: str | None
    instance: int | None
    boxes: list[Annotated[list[float], Field(min_length=4, max_length=4)] | None]
    motion: ObjectMotion
    masks: list[MaskRLE]


class DenseRecord(BaseModel):
    """`SceneRecord.dense`: what `worldsim.io.datasets.dense_record` makes of a generator's labels."""

    model_config = ConfigDict(extra="forbid")

    fps: int = Field(ge=1)
    num_frames: int = Field(ge=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    duration_s: float
    box_format: str
    mask_format: str
    motion: SceneMotion
    objects: list[DenseObject]


class DenseLine(DenseRecord):
    """One line of `dense_<split>.jsonl`: a scene's dense record with its id, video, split, prompt, seed, generator."""

    id: str
    video: str
    split: Literal["train", "val", "test"]
    prompt: str
    seed: int
    generator: str
