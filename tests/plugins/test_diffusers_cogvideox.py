import json
import os

import pytest
import torch

from plugins.diffusers_video.testing import tiny_cogvideox_pipeline
from worldsim.errors import ConfigError
from worldsim.registry import get_stage
from worldsim.testing import tiny_plan
from worldsim.types import GeneratedVideo, MotionSpec, ObjectSpec, Plan


@pytest.fixture(scope="module")
def tiny_cogvideox(tmp_path_factory):
    return tiny_cogvideox_pipeline(tmp_path_factory.mktemp("tiny-cogvideox"))


def _config(model, **guidance):
    return {"model": model, "local_files_only": True, "device": "cpu", "num_inference_steps": 2, "height": 32,
            "width": 32, "num_frames": 9, "fps": 8, "guidance_scale": 6.0, "max_sequence_length": 16,
            "guidance": {"eta": 1.0, "lam": 0.1, "steps": 2, "iterations": 3, **guidance}}


def _in_box_energy(out_dir):
    rows = json.loads((out_dir / "generation.json").read_text())["attention_in_box"]
    return sum((1 - f) ** 2 for row in rows for f in row)


def test_guidance_moves_the_joint_attention_into_the_boxes(tiny_cogvideox, tmp_path):
    from safetensors.torch import load_file

    from worldsim.io.video import read_mp4

    plan = tiny_plan()
    video = get_stage("generator", "diffusers-cogvideox", _config(tiny_cogvideox)).run(plan, 1, tmp_path / "guided")
    get_stage("generator", "diffusers-cogvideox", _config(tiny_cogvideox, enabled=False)).run(plan, 1, tmp_path / "plain")
    e_guided, e_plain = _in_box_energy(tmp_path / "guided"), _in_box_energy(tmp_path / "plain")
    assert e_guided < 0.9 * e_plain, (e_guided, e_plain)

    assert isinstance(video, GeneratedVideo) and video.generator == "diffusers-cogvideox" and video.num_frames == 9
    frames, _ = read_mp4(tmp_path / "guided" / video.video.split("/", 1)[1])
    assert frames.shape == (9, 32, 32, 3)
    maps = load_file(str(tmp_path / "guided" / "attention.safetensors"))["maps"]
    assert maps.shape == (1, 9, 4, 4)  # 3 latent frames -> 9 video frames; 32 px / (VAE 4 * patch 2)
    assert torch.allclose(maps.sum((-1, -2)), torch.ones(1, 9), atol=1e-5)
    meta = json.loads((tmp_path / "guided" / "generation.json").read_text())
    assert meta["latent_grid"] == [3, 4, 4]
    assert meta["guided_layers"] == ["transformer_blocks.0.attn1", "transformer_blocks.1.attn1"]
    assert meta["guidance_history"][0]["sigma_t"] == 15.0  # zero-SNR first step: sigma_t = inf, capped


def test_two_objects_one_map_per_planned_instance(tiny_cogvideox, tmp_path):
    from safetensors.torch import load_file

    plan = Plan(mode="generate", text="two red balls and a blue cube moving left",
                objects=(ObjectSpec(name="ball", color="red", count=2), ObjectSpec(name="cube", color="blue")),
                motion=MotionSpec(direction="left"))
    cfg = {**_config(tiny_cogvideox, steps=1, iterations=1), "guidance_scale": 1.0}  # no CFG: batch of one
    get_stage("generator", "diffusers-cogvideox", cfg).run(plan, 0, tmp_path)
    maps = load_file(str(tmp_path / "attention.safetensors"))["maps"]
    meta = json.loads((tmp_path / "generation.json").read_text())
    assert maps.shape == (3, 9, 4, 4)
    assert [i["phrase"] for i in meta["instances"]] == ["red ball", "red ball", "blue cube"]
    assert meta["token_indices"] == [[1, 2], [6, 7]]  # ▁two ▁red ▁ball s ▁and ▁a ▁blue ▁cube
    assert torch.allclose(maps.sum((-1, -2)), torch.ones(3, 9), atol=1e-5)


def test_gradient_checkpointing_gives_the_same_guided_maps(tiny_cogvideox, tmp_path):
    """Checkpoint recompute in the guidance backward re-runs the wrapped layers (and the early stop)."""
    from safetensors.torch import load_file

    maps = {}
    for gc in (False, True):
        cfg = {**_config(tiny_cogvideox, iterations=2), "gradient_checkpointing": gc}
        get_stage("generator", "diffusers-cogvideox", cfg).run(tiny_plan(), 2, tmp_path / str(gc))
        maps[gc] = load_file(str(tmp_path / str(gc) / "attention.safetensors"))["maps"]
    assert torch.allclose(maps[False], maps[True], atol=1e-5)


def test_frame_count_must_fit_the_temporal_vae(tiny_cogvideox, tmp_path):
    cfg = {**_config(tiny_cogvideox), "num_frames": 8}
    with pytest.raises(ConfigError, match="num_frames=8"):
        get_stage("generator", "diffusers-cogvideox", cfg).run(tiny_plan(), 0, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.gpu
def test_real_cogvideox_checkpoint(tmp_path):
    model = os.environ.get("WORLDSIM_COGVIDEOX_MODEL")
    if not model:
        pytest.skip("set WORLDSIM_COGVIDEOX_MODEL to a local or cached CogVideoX checkpoint (e.g. THUDM/CogVideoX-2b)")
    cfg = {"model": model, "dtype": "bfloat16", "num_inference_steps": 20, "num_frames": 17, "height": 240,
           "width": 368, "gradient_checkpointing": True, "guidance": {"steps": 5}}
    video = get_stage("generator", "diffusers-cogvideox", cfg).run(tiny_plan(), seed=0, out_dir=tmp_path / "g")
    assert video.num_frames == 17 and (tmp_path / "g" / "attention.safetensors").exists()
