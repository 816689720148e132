"""Stage registry: plugins register stage classes through callbacks; the core looks them up by kind and name.

Every registered class is checked (`worldsim.stages.check_stage_class`). A plugin whose hook raises or
that registers something malformed (an instance, a class without `name`, a wrong `run` signature, a
name another plugin already took) is skipped as a whole and reported once; every other plugin keeps
working. The table is built once per plugin manager.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict

from worldsim import plugins
from worldsim.errors import UnknownStageError, one_line
from worldsim.hookspecs import HOOK_FOR_KIND, STAGE_KINDS
from worldsim.stages import Stage, StageConfig, check_stage_class

_lock = threading.Lock()
_cache: tuple[int, dict[str, dict[str, "StageInfo"]]] | None = None


class StageInfo(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: str
    name: str
    description: str
    plugin: str
    cls: Any


def _plugin_stages(pm, plugin: str) -> list[StageInfo]:
    """Every stage one plugin registers, checked; raises on the first malformed registration."""
    found: list[StageInfo] = []
    for kind in STAGE_KINDS:
        for impl in getattr(pm.hook, HOOK_FOR_KIND[kind]).get_hookimpls():
            if impl.plugin_name != plugin:
                continue

            def register(obj, _kind=kind):
                cls = check_stage_class(obj, _kind, None)
                found.append(StageInfo(kind=_kind, name=cls.name, description=cls.description.strip(), plugin=plugin, cls=cls))

            impl.function(register=register)
    return found


def _collect() -> dict[str, dict[str, StageInfo]]:
    global _cache
    pm = plugins.get_manager()
    with _lock:
        if _cache is not None and _cache[0] == id(pm):
            return _cache[1]
        table: dict[str, dict[str, StageInfo]] = {kind: {} for kind in STAGE_KINDS}
        names = sorted({impl.plugin_name for kind in STAGE_KINDS for impl in getattr(pm.hook, HOOK_FOR_KIND[kind]).get_hookimpls()})
        for plugin in names:
            try:
                stages = _plugin_stages(pm, plugin)
                for info in stages:
                    other = table[info.kind].get(info.name)
                    if other is not None:
                        raise UnknownStageError(f"{info.kind} '{info.name}' is already registered by plugin '{other.plugin}'")
                    if sum(1 for s in stages if (s.kind, s.name) == (info.kind, info.name)) > 1:
                        raise UnknownStageError(f"{info.kind} '{info.name}' is registered twice")
            except BaseException as exc:  # noqa: BLE001 - a plugin's hook may raise anything; skip that plugin
                if isinstance(exc, KeyboardInterrupt):
                    raise
                text = " ".join(str(exc).split())
                reason = text if hasattr(exc, "exit_code") else f"its register hook raised {type(exc).__name__}: {text}"
                plugins.mark_broken(plugin, reason)
                continue
            for info in stages:
                table[info.kind][info.name] = info
        _cache = (id(pm), table)
        return table


def all_stages() -> dict[str, dict[str, StageInfo]]:
    return _collect()


def broken_note() -> str:
    """'; skipped broken plugin(s): a (why), b (why)' for 'unknown stage' errors, or ''."""
    broken = plugins.broken_plugins()
    return f"; skipped broken plugin(s): {', '.join(broken)} (see `worldsim plugins`)" if broken else ""


def get_stage_info(kind: str, name: str) -> StageInfo:
    if kind not in STAGE_KINDS:
        raise UnknownStageError(f"unknown stage kind '{kind}'; available: {', '.join(STAGE_KINDS)}")
    table = _collect()[kind]
    if name not in table:
        raise UnknownStageError(f"unknown {kind} '{name}'; available: {one_line(table) or 'none installed'}{broken_note()}")
    return table[name]


def get_stage(kind: str, name: str, config: StageConfig | dict | None = None) -> Stage:
    """Instantiate stage `name` of `kind` with a validated config."""
    return get_stage_info(kind, name).cls(config)


__all__ = ["Stage", "StageConfig", "StageInfo", "all_stages", "get_stage", "get_stage_info", "broken_note"]
