"""Stage registry: plugins register stage classes through callbacks; the core looks them up by kind and name."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from worldsim import plugins
from worldsim.errors import ConfigError, UnknownStageError, one_line
from worldsim.hookspecs import HOOK_FOR_KIND, STAGE_KINDS


class StageConfig(BaseModel):
    """Base for a stage's `Config`: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Stage:
    """A pipeline stage. Subclasses set `kind`, `name`, `description`, `Config`, and implement `run`.

    Heavy imports (torch, diffusers, gsplat, ...) belong inside `run` or helpers it calls.
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    Config: ClassVar[type[StageConfig]] = StageConfig

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
            where = ".".join(str(p) for p in err["loc"]) or "config"
            fields = ", ".join(cls.Config.model_fields) or "none"
            raise ConfigError(
                f"{cls.kind} '{cls.name}' config: {where}={err.get('input')!r}: {err['msg']} (fields: {fields})"
            ) from None

    def run(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class StageInfo(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: str
    name: str
    description: str
    plugin: str
    cls: Any


def _collect() -> dict[str, dict[str, StageInfo]]:
    pm = plugins.get_manager()
    table: dict[str, dict[str, StageInfo]] = {kind: {} for kind in STAGE_KINDS}
    for kind in STAGE_KINDS:
        hook = getattr(pm.hook, HOOK_FOR_KIND[kind])
        for impl in hook.get_hookimpls():
            def register(cls, _kind=kind, _plugin=impl.plugin_name):
                if getattr(cls, "kind", _kind) != _kind:
                    raise ConfigError(f"plugin '{_plugin}' registered {cls.__name__} (kind {cls.kind!r}) as a {_kind}")
                cls.kind = _kind
                if cls.name in table[_kind]:
                    other = table[_kind][cls.name].plugin
                    raise ConfigError(f"{_kind} '{cls.name}' registered twice: by '{other}' and '{_plugin}'")
                table[_kind][cls.name] = StageInfo(
                    kind=_kind, name=cls.name, description=cls.description, plugin=_plugin, cls=cls
                )

            impl.function(register=register)
    return table


def all_stages() -> dict[str, dict[str, StageInfo]]:
    return _collect()


def get_stage_info(kind: str, name: str) -> StageInfo:
    if kind not in STAGE_KINDS:
        raise UnknownStageError(f"unknown stage kind '{kind}'; available: {', '.join(STAGE_KINDS)}")
    table = _collect()[kind]
    if name not in table:
        raise UnknownStageError(f"unknown {kind} '{name}'; available: {one_line(table) or 'none installed'}")
    return table[name]


def get_stage(kind: str, name: str, config: StageConfig | dict | None = None) -> Stage:
    """Instantiate stage `name` of `kind` with a validated config."""
    return get_stage_info(kind, name).cls(config)
