"""diffusers-wan: a tiny random WanPipeline saved to disk and loaded by path through the generator (CPU, 16x16, 2 steps)."""

import json
import math
import os

import pytest
import torch
from safetensors.torch import load_file

from worldsim.dmc.guidance import box_masks
from plugins.diffusers_video.tiny_dit import tiny_wan_pipeline
from plugins.diffusers_video.wan import WanGenerator
from worldsim.errors import ConfigError, InputError
from worldsim.planning import plan_tracks
from worldsim.testing import tiny_plan

TINY = {"num_inference_steps": 2, "height": 16, "width": 16, "num_frames": 4, "fps": 4, "max_sequence_length": 16,
        "guidance_scale": 3.0}
# Flow matching: sigma_t = s / (1 - s), infinite at the first step (s = 1), capped at guidance.max_sigma (15).
GUIDED = {"eta": 10.0, "steps": 2, "iterations": 3}


@pytest.fixture(scope="module")
def wan_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-wan") / "pipe"
    tiny_wan_pipeline(seed=0).save_pretrained(str(path))
    return path


def _generator(wan_dir, guidance=None, **overrides):
    return WanGenerator({"model": str(wan_dir), **TINY, **overrides, "guidance": guidance or {"enabled": False}})


def _in_box_energy(maps, plan, num_frames):
    """mean over instances and frames of (1 - attention mass inside the planned box)^2, from the artifact alone."""
    tracks = plan_tracks(plan, num_frames)
    k, t, h, w = maps.shape
    energies = []
    for i, track in enumerate(tracks):
        inside = (maps[i] * box_masks(torch.tensor(track.track.boxes), h, w)).flatten(1).sum(-1)
        energies.append((1 - inside) ** 2)
    return float(torch.stack(energies).mean())


def test_guidance_pulls_the_object_attention_into_the_boxes(wan_dir, tmp_path):
    plan = tiny_plan()
    energies = {}
    for label, guidance in [("off", {"enabled": False}), ("on", GUIDED)]:
        out = tmp_path / label
        out.mkdir()
        video = _generator(wan_dir, guidance).run(plan, seed=0, out_dir=out)
        assert video.generator == "diffusers-wan" and (video.num_frames, video.width, video.height) == (4, 16, 16)
        assert video.attention == f"{label}/attention.safetensors" and (out / "video.mp4").stat().st_size > 0
        maps = load_file(str(out / "attention.safetensors"))["maps"]
        assert maps.dtype == torch.float32 and maps.shape == (1, 4, 4, 4)  # [K, T, h, w]: 16 px / VAE 2 / patch 2
        assert torch.allclose(maps.flatten(2).sum(-1), torch.ones(1, 4), atol=1e-5)
        info = json.loads((out / "generation.json").read_text())
        assert info["guided_layers"] == ["blocks.1.attn2", "blocks.2.attn2"]  # band (0.3, 0.6) of 4 blocks
        assert info["latent_grid"] == [4, 4, 4]
        energies[label] = _in_box_energy(maps, plan, 4)
        history = info["guidance_history"]
        assert len(history) == (2 if label == "on" else 0)
    assert history[0]["sigma_t"] == 15.0  # s = 1 at the first flow-matching step: capped
    assert energies["on"] < energies["off"] - 0.05, energies


def test_same_seed_same_attention_other_seed_differs(wan_dir, tmp_path):
    runs = []
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        (tmp_path / name).mkdir()
        _generator(wan_dir).run(tiny_plan(), seed=seed, out_dir=tmp_path / name)
        runs.append(load_file(str(tmp_path / name / "attention.safetensors"))["maps"])
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_one_map_per_planned_instance(wan_dir, tmp_path):
    plan = tiny_plan(name="cube", color="blue", count=2)
    _generator(wan_dir, GUIDED).run(plan, seed=0, out_dir=tmp_path)
    maps = load_file(str(tmp_path / "attention.safetensors"))["maps"]
    assert maps.shape == (2, 4, 4, 4)
    assert torch.allclose(maps.flatten(2).sum(-1), torch.ones(2, 4), atol=1e-5)


def test_recorded_maps_are_the_cross_attention_of_the_token_grid(wan_dir):
    """The recorder's T x h x w map at (t, y, x) is attn2's softmax for patch token t*h*w + y*w + x."""
    from worldsim.dmc.attention import AttentionRecorder, install_recorders

    gen = _generator(wan_dir)
    pipe = gen.pipeline()
    tr = pipe.transformer
    assert not hasattr(tr.blocks[1].attn2.processor, "recorder")
    torch.manual_seed(0)
    z = torch.randn(1, 4, 4, 8, 8)
    text = torch.randn(1, 16, 32)
    t = torch.tensor([500.0])
    reference = tr(hidden_states=z, timestep=t, encoder_hidden_states=text, return_dict=False)[0]
    inputs = {}
    hook = tr.blocks[2].attn2.register_forward_pre_hook(lambda m, args: inputs.update(x=args[0], text=args[1]))
    rec = AttentionRecorder([[2, 3]], layout="tokens")
    with install_recorders(tr, rec, lambda n, m: n == "blocks.2.attn2"), rec.recording():
        out = tr(hidden_states=z, timestep=t, encoder_hidden_states=text, return_dict=False)[0]
        (name, maps), = rec.layer_maps(4, 4, 4)
    hook.remove()
    assert torch.equal(out, reference)  # recording leaves the model's computation alone (rotary embeddings included)
    attn = tr.blocks[2].attn2
    q = attn.norm_q(attn.to_q(inputs["x"])).unflatten(2, (attn.heads, -1)).transpose(1, 2)
    k = attn.norm_k(attn.to_k(inputs["text"])).unflatten(2, (attn.heads, -1)).transpose(1, 2)
    probs = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1).mean(1)[0]  # [T*h*w, 16]
    expected = (probs[:, 2] + probs[:, 3]).reshape(4, 4, 4)
    assert name == "blocks.2.attn2" and maps.shape == (4, 4, 4, 1)
    assert torch.allclose(maps[..., 0], expected, atol=1e-5)
    assert torch.isclose(maps[2, 1, 3, 0], probs[2 * 16 + 1 * 4 + 3, 2] + probs[2 * 16 + 1 * 4 + 3, 3], atol=1e-6)


@pytest.mark.parametrize("overrides, guidance, message", [
    ({}, {"steps": 5}, "guidance.steps=5"),
    ({}, {"layers": ["blocks.9"]}, "guidance.layers="),
    ({"height": 24}, {}, "height=24"),
    ({"prompt": "a green car"}, {}, "red ball"),
])
def test_bad_settings_fail_before_sampling(wan_dir, tmp_path, monkeypatch, overrides, guidance, message):
    from diffusers import WanPipeline

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started")

    monkeypatch.setattr(WanPipeline, "__call__", no_sampling)
    with pytest.raises((ConfigError, InputError), match=message) as info:
        _generator(wan_dir, {**GUIDED, **guidance}, **overrides).run(tiny_plan(), seed=0, out_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_invalid_config_values_name_the_setting():
    with pytest.raises(ConfigError, match="guidance.eta"):
        WanGenerator({"guidance": {"eta": -1}})
    with pytest.raises(ConfigError, match="cpu_offload"):
        WanGenerator({"cpu_offload": "disk"})


def test_missing_model_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="model="):
        _generator(tmp_path / "nope", local_files_only=True).run(tiny_plan(), seed=0, out_dir=tmp_path)


@pytest.mark.gpu
def test_real_wan_checkpoint(tmp_path):
    model = os.environ.get("WORLDSIM_WAN_MODEL")
    if not model:
        pytest.skip("set WORLDSIM_WAN_MODEL to a Wan T2V diffusers model id or folder")
    plan = tiny_plan()
    energies = {}
    for label, guidance in [("off", {"enabled": False}), ("on", {"eta": 10.0, "steps": 10})]:
        out = tmp_path / label
        out.mkdir()
        WanGenerator({"model": model, "dtype": "bfloat16", "num_frames": 17, "height": 480, "width": 832,
                      "num_inference_steps": 30, "guidance": guidance}).run(plan, seed=0, out_dir=out)
        maps = load_file(str(out / "attention.safetensors"))["maps"]
        energies[label] = _in_box_energy(maps, plan, 17)
    assert energies["on"] < energies["off"], energies


def test_loading_without_accelerate_names_the_package(wan_dir, tmp_path, monkeypatch):
    import diffusers.utils

    from worldsim.errors import MissingDependencyError

    monkeypatch.setattr(diffusers.utils, "is_accelerate_available", lambda: False)
    with pytest.raises(MissingDependencyError, match="accelerate"):
        _generator(wan_dir).run(tiny_plan(), seed=0, out_dir=tmp_path)
