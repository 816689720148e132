"""Batch synthesis: the spec file (`worldsim batch SPEC`), the scenes it enumerates, and the per-scene record."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from worldsim.types.plan import Direction, Speed

SPLITS: tuple[str, ...] = ("train", "val", "test")
TaskRunnerName = Literal["threads", "dask", "none"]
# Fields that say how to run a batch, not what it contains: they may change between a run and its resume.
EXECUTION_FIELDS: tuple[str, ...] = ("runner", "workers", "dask_address")


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
    config: str = Field("generate-only", description="pipeline preset (configs/ name or YAML path): the stages each scene runs")
    stages: list[str] | None = Field(None, description="stage kinds of the preset to run (default: all it lists); "
                                     "must include parser and generator")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per stage kind, settings merged "
                                                "into the preset's, e.g. {generator: {num_frames: 8}}")
    questions: bool = Field(True, description="write VLM4D-style questions (worldsim.qa.questions) for each scene")
    captions: bool = Field(True, description="also write one 'describe the motion' caption conversation per scene")
    splits: SplitSpec = Field(default_factory=SplitSpec, description="split ratios and held-out object categories")
    license: str = Field("CC-BY-4.0", min_length=1, description="licence of the generated content, stated in the card")
    runner: TaskRunnerName = Field("threads", description="how scenes run in parallel: threads, dask, none (serial)")
    workers: int = Field(2, ge=1, le=1024, description="parallel scenes (threads or Dask workers)")
    dask_address: str | None = Field(None, description="a Dask scheduler address (tcp://host:8786); None starts a LocalCluster")

    @field_validator("objects", "colors", "counts", "directions", "speeds")
    @classmethod
    def _no_repeats(cls, values: list, info) -> list:
        return _unique(values, {"colors": "colour"}.get(info.field_name, info.field_name.rstrip("s")))

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
        return self

    def content(self) -> dict:
        """The fields that decide the dataset (not how it is run): equal content = resumable output folder."""
        return self.model_dump(mode="json", exclude=set(EXECUTION_FIELDS))


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

    @property
    def video(self) -> str:
        return f"videos/{self.index:06d}.mp4"


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
