"""Presets from `configs/*.yaml`: which stages run, in order, with which settings.

A preset is chosen by name (`default`) or by a path to a YAML file; `--set kind.key=value` overrides
a stage setting. Stage settings are validated by the stage's own pydantic `Config`.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worldsim.errors import ConfigError, one_line
from worldsim.hookspecs import PIPELINE_KINDS

# Several scorers may score one run (conformance, QA, ...) and several editors may serve edits (each edit
# goes to the first that declares its op); every other kind appears at most once.
REPEATABLE_KINDS = ("scorer", "editor")


class StepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    name: str
    config: dict = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in PIPELINE_KINDS:
            raise ValueError(f"stage kind '{kind}' is not one of {', '.join(PIPELINE_KINDS)}")
        return kind


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    description: str = ""
    seed: int = Field(0, ge=0, le=2**32 - 1, strict=True, description="the run's seed when none is given")
    stages: list[StepConfig]

    @field_validator("stages")
    @classmethod
    def _starts_with_parser(cls, stages: list[StepConfig]) -> list[StepConfig]:
        if not stages or stages[0].kind != "parser":
            raise ValueError("the first stage must be a parser")
        kinds = [s.kind for s in stages]
        dupes = {k for k in kinds if kinds.count(k) > 1 and k not in REPEATABLE_KINDS}
        if dupes:
            raise ValueError(f"each stage kind except {', '.join(REPEATABLE_KINDS)} may appear once; repeated: {', '.join(sorted(dupes))}")
        return stages

    def step(self, kind: str) -> StepConfig | None:
        """The first stage of `kind`, or None."""
        return next((s for s in self.stages if s.kind == kind), None)

    def steps_of(self, kind: str) -> list[StepConfig]:
        return [s for s in self.stages if s.kind == kind]


def config_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("WORLDSIM_CONFIG_PATH", "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parent.parent / "configs")
    return dirs


def available_presets() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in config_dirs():
        for p in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            found.setdefault(p.stem, p)
    return found


MAX_KEY_DEPTH = 8  # `--set kind.a.b.c=...`: stage settings nest a few levels at most
MAX_VALUE_DEPTH = 32  # nesting of a value ([[...]] or {a: {b: ...}}) in an override or a preset


def _depth(value, limit: int) -> int:
    """Nesting depth of lists/dicts in `value`, counting no further than `limit` + 1 (no recursion)."""
    stack, deepest = [(value, 0)], 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            break
        if isinstance(item, dict):
            stack += [(v, d + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, d + 1) for v in item]
    return deepest


def _load_yaml(text: str, what: str):
    """yaml.safe_load with a bound on nesting: deeper documents are a ConfigError, not a RecursionError."""
    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply; at most {MAX_VALUE_DEPTH} levels are accepted") from None
    if _depth(value, MAX_VALUE_DEPTH) > MAX_VALUE_DEPTH:
        raise ConfigError(f"{what} is nested too deeply; at most {MAX_VALUE_DEPTH} levels are accepted")
    return value


def _parse_value(text: str):
    try:
        value = _load_yaml(text, f"value '{text[:40]}'")
    except yaml.YAMLError:
        return text  # not YAML: the text itself
    return text if value is None and text.strip() not in ("null", "~") else value


def apply_override(data: dict, override: str) -> None:
    """`generator.num_frames=8` sets stages[generator].config.num_frames (the first stage of that kind;
    `scorer:vlm4d-qa.modes=[cot]` names the stage); `seed=3` sets a top-level key."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override '{override}' is not KEY=VALUE (e.g. generator.num_frames=8)")
    parts = key.strip().split(".")
    if len(parts) == 1:
        if parts[0] not in PipelineConfig.model_fields or parts[0] == "stages":
            raise ConfigError(f"override key '{parts[0]}' is not a preset field; use seed, description, or KIND.FIELD")
        data[parts[0]] = _parse_value(raw)
        return
    if len(parts) > MAX_KEY_DEPTH:
        raise ConfigError(f"override key '{key[:60]}...' has {len(parts)} parts; at most {MAX_KEY_DEPTH} are accepted (KIND.FIELD[.FIELD...])")
    kind, *path = parts
    kind, _, name = kind.partition(":")  # `scorer:vlm4d-qa.modes=[cot]` picks one of several scorers by name
    step = next((s for s in data.get("stages", []) if s.get("kind") == kind and name in ("", s.get("name"))), None)
    if step is None:
        stages = [f"{s.get('kind')}:{s.get('name')}" for s in data.get("stages", [])]
        raise ConfigError(f"override '{override}' names stage '{kind}{':' + name if name else ''}', which this preset lacks; it has: {', '.join(stages)}")
    target = step.setdefault("config", {})
    for i, p in enumerate(path[:-1]):
        target = target.setdefault(p, {}) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            where = ".".join([kind, *path[:i + 1]])
            raise ConfigError(f"override '{override[:80]}': '{where}' holds a value, not settings; set '{where}' itself or its fields, not both")
    if not isinstance(target, dict):
        raise ConfigError(f"override '{override[:80]}': '{kind}' config is not a mapping")
    target[path[-1]] = _parse_value(raw)


def load_config(name_or_path: str = "default", overrides: list[str] | tuple[str, ...] = ()) -> PipelineConfig:
    presets = available_presets()
    path = Path(name_or_path)
    if name_or_path in presets:
        path = presets[name_or_path]
    elif not (path.suffix in (".yaml", ".yml") and path.is_file()):
        raise ConfigError(f"unknown config '{name_or_path}'; available presets: {one_line(presets) or 'none'} (or a path to a .yaml file)")
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"), f"config file '{path}'") or {}
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not UTF-8 text; a preset is a YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping with 'stages'")
    data.setdefault("name", path.stem)
    for o in overrides:
        apply_override(data, o)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"config '{name_or_path}': {where}: {err['msg']}") from None
