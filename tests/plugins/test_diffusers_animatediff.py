import json
import os

import pytest
import torch

from plugins.diffusers_video.testing import tiny_animatediff_pipeline, tiny_sd_and_motion_adapter
from worldsim.errors import ConfigError, InputError
from worldsim.registry import get_stage
from worldsim.testing import tiny_plan
from worldsim.types import GeneratedVideo


@pytest.fixture(scope="module")
def tiny_animatediff(tmp_path_factory):
    return tiny_animatediff_pipeline(tmp_path_factory.mktemp("tiny-animatediff"))


def _config(model, **guidance):
    return {"model": model, "motion_adapter": None, "local_files_only": True, "device": "cpu", "num_inference_steps": 2,
            "height": 16, "width": 16, "num_frames": 4, "fps": 4, "guidance_scale": 7.5,
            "guidance": {"eta": 30.0, "lam": 0.0, "steps": 2, "iterations": 5, **guidance}}


def _in_box_energy(out_dir):
    rows = json.loads((out_dir / "generation.json").read_text())["attention_in_box"]
    return sum((1 - f) ** 2 for row in rows for f in row)


def test_guidance_moves_the_object_attention_into_the_boxes(tiny_animatediff, tmp_path):
    from safetensors.torch import load_file

    from worldsim.io.video import read_mp4

    stage = get_stage("generator", "diffusers-animatediff", _config(tiny_animatediff))
    plan = tiny_plan()
    guided = stage.run(plan, seed=3, out_dir=tmp_path / "guided")
    get_stage("generator", "diffusers-animatediff", _config(tiny_animatediff, enabled=False)).run(
        plan, seed=3, out_dir=tmp_path / "plain")
    e_guided, e_plain = _in_box_energy(tmp_path / "guided"), _in_box_energy(tmp_path / "plain")
    assert e_guided < 0.97 * e_plain, (e_guided, e_plain)

    assert isinstance(guided, GeneratedVideo) and guided.generator == "diffusers-animatediff"
    assert guided.attention == "guided/attention.safetensors"
    frames, fps = read_mp4(tmp_path / "guided" / "video.mp4")
    assert frames.shape == (4, 16, 16, 3) and fps == 4
    maps = load_file(str(tmp_path / "guided" / "attention.safetensors"))["maps"]
    assert maps.dtype == torch.float32 and maps.shape == (1, 4, 8, 8)
    assert torch.allclose(maps.sum((-1, -2)), torch.ones(1, 4), atol=1e-5)
    meta = json.loads((tmp_path / "guided" / "generation.json").read_text())
    assert meta["prompt"] == plan.text and meta["phrases"] == ["red ball"]
    assert [h["step"] for h in meta["guidance_history"]] == [0, 1]
    assert meta["guided_layers"] and all(n.startswith(("mid_block", "up_blocks.1")) for n in meta["guided_layers"])


def test_same_seed_same_artifacts(tiny_animatediff, tmp_path):
    from worldsim.artifacts import sha256_file

    cfg = _config(tiny_animatediff, iterations=1)
    for name in ("a", "b"):
        get_stage("generator", "diffusers-animatediff", cfg).run(tiny_plan(), seed=5, out_dir=tmp_path / name)
    for f in ("video.mp4", "attention.safetensors"):
        assert sha256_file(tmp_path / "a" / f) == sha256_file(tmp_path / "b" / f)


def test_invalid_settings_fail_before_sampling(tiny_animatediff, tmp_path):
    with pytest.raises(ConfigError, match=r"guidance\.eta"):
        get_stage("generator", "diffusers-animatediff", _config(tiny_animatediff, eta=-1.0))
    with pytest.raises(ConfigError, match=r"guidance\.steps=3 exceeds num_inference_steps=2"):
        get_stage("generator", "diffusers-animatediff", _config(tiny_animatediff, steps=3)).run(
            tiny_plan(), seed=0, out_dir=tmp_path / "k")
    cfg = {**_config(tiny_animatediff), "prompt": "a blue cube moving left"}
    with pytest.raises(InputError, match="'red ball'"):
        get_stage("generator", "diffusers-animatediff", cfg).run(tiny_plan(), seed=0, out_dir=tmp_path / "p")
    with pytest.raises(ConfigError, match=r"guidance\.layers=\['down_blocks\.9'\]"):
        get_stage("generator", "diffusers-animatediff", _config(tiny_animatediff, layers=["down_blocks.9"])).run(
            tiny_plan(), seed=0, out_dir=tmp_path / "l")
    assert not any(tmp_path.rglob("*.mp4"))


def test_sd_base_plus_motion_adapter_loads_by_path(tiny_animatediff, tmp_path):
    from safetensors.torch import load_file

    sd, adapter = tiny_sd_and_motion_adapter(tmp_path / "parts")
    cfg = {**_config(sd, iterations=1), "motion_adapter": adapter}
    stage = get_stage("generator", "diffusers-animatediff", cfg)
    stage.run(tiny_plan(), seed=3, out_dir=tmp_path / "a")
    assert type(stage.pipeline().unet).__name__ == "UNetMotionModel"
    ddim = get_stage("generator", "diffusers-animatediff", {**cfg, "scheduler": "ddim"}).pipeline().scheduler
    assert ddim.config.timestep_spacing == "linspace" and ddim.config.clip_sample is False
    get_stage("generator", "diffusers-animatediff", _config(tiny_animatediff, iterations=1)).run(
        tiny_plan(), seed=3, out_dir=tmp_path / "b")
    # same parts, same seed: the same attention as the saved whole pipeline
    a, b = (load_file(str(tmp_path / d / "attention.safetensors"))["maps"] for d in "ab")
    assert torch.allclose(a, b, atol=1e-5)


def test_missing_model_is_one_line_input_error(tmp_path):
    stage = get_stage("generator", "diffusers-animatediff", _config(str(tmp_path / "nowhere")))
    with pytest.raises(InputError, match="cannot load model="):
        stage.run(tiny_plan(), seed=0, out_dir=tmp_path / "o")


@pytest.mark.gpu
def test_real_animatediff_checkpoint(tmp_path):
    model = os.environ.get("WORLDSIM_ANIMATEDIFF_MODEL")
    if not model:
        pytest.skip("set WORLDSIM_ANIMATEDIFF_MODEL (and WORLDSIM_ANIMATEDIFF_ADAPTER) to a local or cached checkpoint")
    cfg = {"model": model, "motion_adapter": os.environ.get("WORLDSIM_ANIMATEDIFF_ADAPTER") or None,
           "dtype": "float16", "scheduler": "ddim", "num_inference_steps": 20, "num_frames": 16,
           "height": 256, "width": 256, "guidance": {"steps": 5}}
    video = get_stage("generator", "diffusers-animatediff", cfg).run(tiny_plan(), seed=0, out_dir=tmp_path / "g")
    assert video.num_frames == 16 and (tmp_path / "g" / "attention.safetensors").exists()
