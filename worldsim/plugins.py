"""The plugin manager: loads every plugin (built-ins included) from the `worldsim` entry-point group."""

from __future__ import annotations

import importlib.metadata
import os
import sys
import threading

import pluggy

from worldsim import hookspecs
from worldsim.errors import ConfigError, WorldsimError

ENTRY_POINT_GROUP = "worldsim"
_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None
_versions: dict[str, str] = {}
_distributions: dict[str, str] = {}
_broken: dict[str, str] = {}
_warned: set[str] = set()


def _names(var: str) -> set[str]:
    return {n.strip() for n in os.environ.get(var, "").split(",") if n.strip()}


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, WorldsimError) else f"{type(exc).__name__}: {text}"


def build_manager() -> tuple[pluggy.PluginManager, dict[str, str], dict[str, str], dict[str, str]]:
    """A fresh manager honouring WORLDSIM_DISABLE_PLUGINS and WORLDSIM_LOAD_PLUGINS (comma lists).

    Returns (manager, plugin -> version, plugin -> distribution, broken plugin -> reason). A plugin that
    fails to import or whose hook implementations do not match the hook specs is skipped and reported
    in the last mapping; every other plugin loads.
    """
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
    dists: dict[str, str] = {}
    broken: dict[str, str] = {}
    for ep in eps:
        if ep.name in blocked or (allowed and ep.name not in allowed):
            pm.set_blocked(ep.name)
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name) or ep.name in broken:
            continue
        dist = ep.dist.name if ep.dist is not None else "unknown"
        dists[ep.name] = dist
        try:
            module = ep.load()
        except BaseException as exc:  # noqa: BLE001 - any import failure, SystemExit included, skips the plugin
            if isinstance(exc, KeyboardInterrupt):
                raise
            broken[ep.name] = f"failed to import {ep.value}: {_reason(exc)}"
            continue
        try:
            pm.register(module, name=ep.name)
            pm.check_pending()  # a misspelled hookimpl is reported, not silently ignored
        except Exception as exc:
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            broken[ep.name] = f"its hooks in {ep.value} do not match worldsim's hook specs: {_reason(exc)}"
            continue
        versions[ep.name] = ep.dist.version if ep.dist is not None else "unknown"
    return pm, versions, dists, broken


def get_manager() -> pluggy.PluginManager:
    global _manager, _versions, _distributions, _broken
    with _lock:
        if _manager is None:
            _manager, _versions, _distributions, _broken = build_manager()
            for name, reason in _broken.items():
                warn_broken(name, reason)
        return _manager


def warn_broken(plugin: str, reason: str) -> None:
    """Say once per process, on stderr, that a plugin was skipped and why."""
    if plugin in _warned:
        return
    _warned.add(plugin)
    print(f"worldsim: warning: skipped plugin '{plugin}' (distribution '{_distributions.get(plugin, 'unknown')}'): {reason}",
          file=sys.stderr)


def mark_broken(plugin: str, reason: str) -> None:
    """Record a loaded plugin that registered something malformed (the registry skips its stages)."""
    with _lock:
        _broken[plugin] = reason
    warn_broken(plugin, reason)


def reset() -> None:
    """Forget the loaded plugins (after the environment or installed packages changed)."""
    global _manager
    with _lock:
        _manager = None
        _broken.clear()
        _warned.clear()


def plugin_versions() -> dict[str, str]:
    """Loaded plugin name -> version of the distribution that provides it (broken plugins excluded)."""
    get_manager()
    return {k: v for k, v in _versions.items() if k not in _broken}


def distribution_of(plugin: str) -> str:
    get_manager()
    return _distributions.get(plugin, "unknown")


def broken_plugins() -> dict[str, str]:
    """Plugin name -> why it was skipped (failed to import, bad hooks, malformed registrations)."""
    get_manager()
    return dict(_broken)
