"""The plugin manager: loads every plugin (built-ins included) from the `worldsim` entry-point group."""

from __future__ import annotations

import importlib.metadata
import os
import threading

import pluggy

from worldsim import hookspecs
from worldsim.errors import ConfigError

ENTRY_POINT_GROUP = "worldsim"
_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None
_versions: dict[str, str] = {}


def _names(var: str) -> set[str]:
    return {n.strip() for n in os.environ.get(var, "").split(",") if n.strip()}


def build_manager() -> tuple[pluggy.PluginManager, dict[str, str]]:
    """A fresh manager honouring WORLDSIM_DISABLE_PLUGINS and WORLDSIM_LOAD_PLUGINS (comma lists)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    blocked, allowed = _names("WORLDSIM_DISABLE_PLUGINS"), _names("WORLDSIM_LOAD_PLUGINS")
    known = {ep.name for ep in eps}
    unknown = (blocked | allowed) - known
    if unknown:
        raise ConfigError(
            f"WORLDSIM_DISABLE_PLUGINS/WORLDSIM_LOAD_PLUGINS name unknown plugin(s) {', '.join(sorted(unknown))}; "
            f"installed: {', '.join(sorted(known)) or 'none'}"
        )
    versions: dict[str, str] = {}
    for ep in eps:
        if ep.name in blocked or (allowed and ep.name not in allowed):
            pm.set_blocked(ep.name)
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            module = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"plugin '{ep.name}' ({ep.value}) failed to load: {type(exc).__name__}: {exc}; "
                f"disable it with WORLDSIM_DISABLE_PLUGINS={ep.name}"
            ) from exc
        pm.register(module, name=ep.name)
        versions[ep.name] = ep.dist.version if ep.dist is not None else "unknown"
    pm.check_pending()  # a misspelled hookimpl fails loudly
    return pm, versions


def get_manager() -> pluggy.PluginManager:
    global _manager, _versions
    with _lock:
        if _manager is None:
            _manager, _versions = build_manager()
        return _manager


def reset() -> None:
    """Forget the loaded plugins (after the environment or installed packages changed)."""
    global _manager
    with _lock:
        _manager = None


def plugin_versions() -> dict[str, str]:
    """Loaded plugin name -> version of the distribution that provides it."""
    get_manager()
    return dict(_versions)
