"""The public scene API (worldsim.scene): a run folder's scene and decoders, default camera; and which core
modules stay importable without torch (the export itself is tested in tests/plugins/test_feature_gs_eval_export.py)."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from worldsim.decoders import DecoderSet, FeatureDecoder
from worldsim.errors import InputError
from worldsim.scene import default_camera, load_decoders, load_scene, orbit_target
from worldsim.types import GaussianScene


def _scene(n: int, frames: int = 3) -> GaussianScene:
    g = torch.Generator().manual_seed(n)
    return GaussianScene(
        means=torch.randn(n, 3, generator=g), quats=torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        log_scales=torch.full((n, 3), -3.0), logit_opacities=torch.zeros(n), sh=torch.rand(n, 1, 3, generator=g),
        basis_rotations=torch.tensor([1.0, 0, 0, 0]).repeat(1, frames, 1), basis_translations=torch.zeros(1, frames, 3),
        weights=torch.ones(n, 1), instance=torch.zeros(n, dtype=torch.int64), features=torch.randn(n, 4, generator=g),
    )


@pytest.fixture
def runs(tmp_path):
    """A generate run with a reconstruction and an edit version of it (run.json as worldsim writes them)."""
    gen, edit = tmp_path / "gen", tmp_path / "gen-edit"
    (gen / "reconstruction").mkdir(parents=True)
    (edit / "edit").mkdir(parents=True)
    _scene(5).save(gen / "reconstruction" / "scene.safetensors")
    DecoderSet({"label-text": FeatureDecoder(4, 8, 6)}).save(gen / "reconstruction" / "decoders.safetensors")
    _scene(3).save(edit / "edit" / "scene.safetensors")
    (gen / "run.json").write_text(json.dumps({"outputs": {"reconstruction": {
        "scene": "reconstruction/scene.safetensors", "decoders": "reconstruction/decoders.safetensors"}}}))
    (edit / "run.json").write_text(json.dumps({"outputs": {"edit": {"scene": "edit/scene.safetensors"}, "edit_root": "gen"}}))
    return gen, edit


def test_load_scene_and_decoders_of_a_generate_run_and_an_edit_version(runs):
    gen, edit = runs
    assert len(load_scene(gen)) == 5 and len(load_scene(edit)) == 3
    for run in (gen, edit):
        decoders = load_decoders(run)
        assert list(decoders) == ["label-text"] and decoders["label-text"].out_dim == 8


def test_load_scene_names_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="not a run folder"):
        load_scene(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"outputs": {"video": {}}}))
    with pytest.raises(InputError, match="has no reconstruction"):
        load_decoders(tmp_path)


def test_default_camera_looks_down_z_with_the_field_of_view():
    cam = default_camera(64, 48, 90.0)
    assert cam.K[0][0] == pytest.approx(24.0) and cam.K[1][2] == 24.0 and np.allclose(cam.center(), 0.0)
    target = orbit_target(cam, distance=2.0)
    assert np.allclose(target, [0.0, 0.0, 2.0])
    (xy,), (z,) = cam.project(target[None])
    assert np.allclose(xy, [0.5, 0.5]) and math.isclose(z, 2.0)


@pytest.mark.parametrize("module", ["worldsim.scene", "worldsim.text", "worldsim.devices", "worldsim.llm", "worldsim.commands",
                                    "worldsim.dmc.guidance", "worldsim.dmc.attention", "worldsim.world.builder",
                                    "worldsim.qa.questions", "worldsim.batch_scenes"])
def test_core_modules_import_without_heavy_packages(module):
    code = (f"import sys, {module}; print(sorted(m for m in ('torch', 'transformers', 'diffusers', 'gsplat', 'langchain', "
            f"'langchain_core') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing {module} imported {out}"
