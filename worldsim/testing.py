"""Helpers for plugin authors' tests (and ours).

`install_plugin` puts a real distribution (a package plus a `.dist-info` with an entry point in the
`worldsim` group) on `sys.path`, exactly as pip would lay it out, so the plugin manager discovers it
through `importlib.metadata` like any installed plugin.
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from pathlib import Path

from worldsim import plugins
from worldsim.types import MotionSpec, ObjectSpec, Plan

TINY_GENERATOR = {"num_frames": 4, "width": 32, "height": 32, "gaussians_per_object": 120, "background_spacing": 0.6, "write_ply": False}


def tiny_plan(name: str = "ball", color: str = "red", direction: str = "right", speed: str = "normal", count: int = 1) -> Plan:
    return Plan(mode="generate", text=f"{count} {color} {name} moving {direction}",
                objects=(ObjectSpec(name=name, color=color, count=count),),
                motion=MotionSpec(direction=direction, speed=speed))


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


def check_stage(kind: str, name: str, config: dict | None = None, **options):
    """Run a registered stage on tiny inputs and check its kind's contract: the class, the result type and files,
    JSON metrics and same-seed determinism. Returns a `CheckReport` (`.ok`, `.failed`, `.format()`,
    `.assert_ok()`); options and the checks per kind: worldsim.stage_check.check_stage."""
    from worldsim.stage_check import check_stage as _check_stage

    return _check_stage(kind, name, config, **options)
