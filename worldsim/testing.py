"""Helpers for plugin authors' tests (and ours).

`install_plugin` puts a real distribution (a package plus a `.dist-info` with an entry point in the
`worldsim` group) on `sys.path`, exactly as pip would lay it out, so the plugin manager discovers it
through `importlib.metadata` like any installed plugin.

`check_stage(kind, name, config)` runs a registered stage on tiny inputs and checks its kind's contract
(the class, the result type and files, JSON metrics, inputs left untouched, same-seed determinism) and
returns a `CheckReport`; `worldsim plugins check NAME` prints one. What it checks per kind: the comment
at the top of worldsim/stage_check.py, where it lives.
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from pathlib import Path

from worldsim import plugins
from worldsim.stage_check import (  # noqa: F401 - the plugin author's API, re-exported
    EDIT_COMMANDS, GENERATE_COMMANDS, TINY_GENERATOR, TINY_RECONSTRUCTOR, CheckReport, check_stage, example_params, tiny_plan,
    tiny_run,
)
from worldsim.types import Plan

__all__ = ["EDIT_COMMANDS", "GENERATE_COMMANDS", "TINY_GENERATOR", "TINY_RECONSTRUCTOR", "CheckReport", "check_stage",
           "example_params", "install_plugin", "tiny_batch_spec", "tiny_clip", "tiny_plan", "tiny_run",
           "write_plugin_distribution"]


def write_plugin_distribution(site: Path, dist_name: str, module: str, source: str, entry_point: str | None = None,
                              version: str = "0.0.1") -> Path:
    """Write `module.py` and `<dist>-<version>.dist-info` (METADATA, entry_points.txt) into `site`."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[worldsim]\n{entry_point or dist_name} = {module}\n")
    return site


@contextlib.contextmanager
def install_plugin(site: Path, dist_name: str, module: str, source: str, entry_point: str | None = None):
    """Make a throwaway plugin importable and discoverable for the duration of the block."""
    write_plugin_distribution(site, dist_name, module, source, entry_point)
    sys.path.insert(0, str(site))
    plugins.reset()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(module, None)
        plugins.reset()


def tiny_clip(out_dir: Path, plan: Plan | None = None, seed: int = 0, **overrides):
    """Generate a tiny procedural clip into `out_dir` (created): (GeneratedVideo, labels dict, arrays dict)."""
    import json

    from safetensors.numpy import load_file

    from worldsim.registry import get_stage

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = get_stage("generator", "procedural", {**TINY_GENERATOR, **overrides}).run(plan or tiny_plan(), seed=seed, out_dir=out_dir)
    labels = json.loads((out_dir / "labels.json").read_text())
    return video, labels, load_file(str(out_dir / "labels.safetensors"))


def tiny_batch_spec(**fields) -> dict:
    """A batch spec (worldsim.types.batch.BatchSpec fields) with the tiny generator settings: seconds for a few scenes."""
    spec = {"name": "tiny", "seed": 3, "num_scenes": 6, "objects": ["ball", "car"], "colors": ["red", "blue"],
            "counts": [1, 2], "directions": ["left", "right", "none"], "speeds": ["slow", "fast"],
            "stages": ["parser", "generator"], "settings": {"generator": dict(TINY_GENERATOR)},
            "splits": {"train": 0.5, "val": 0.25, "test": 0.25, "holdout_objects": ["car"]}, "runner": "none", "workers": 1}
    spec.update(fields)
    return spec
