"""diffusers-cosmos: a tiny random CosmosTextToWorldPipeline saved to disk and loaded by path (CPU, 16x16, 2 steps).

The tiny pipeline is not an NVIDIA model, so it runs with `guardrail: false` (worldsim's pass-through
checker); the guardrail path itself is tested with stand-in checkers.
"""

import importlib.util
import json
import math
import os

import pytest
import torch
from safetensors.torch import load_file

from plugins.diffusers_video.cosmos import CosmosGenerator, NoGuardrail
from worldsim.dmc.guidance import box_masks
from plugins.diffusers_video.tiny_dit import tiny_cosmos_pipeline
from worldsim.errors import ConfigError, InputError, MissingDependencyError
from worldsim.planning import plan_tracks
from worldsim.testing import tiny_plan

TINY = {"num_inference_steps": 2, "height": 16, "width": 16, "num_frames": 5, "fps": 8, "max_sequence_length": 16,
        "guidance_scale": 3.0, "guardrail": False}
# EDM: sigma_t = sigma (80 at the first step, capped at guidance.max_sigma = 15); the transformer sees
# c_in * z with c_in = 1 / sqrt(sigma^2 + sigma_data^2), which shrinks the gradient in z by about 1 / sigma.
GUIDED = {"eta": 1000.0, "steps": 2, "iterations": 3}


@pytest.fixture(scope="module")
def cosmos_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-cosmos") / "pipe"
    tiny_cosmos_pipeline(seed=0).save_pretrained(str(path))
    return path


def _generator(cosmos_dir, guidance=None, **overrides):
    return CosmosGenerator({"model": str(cosmos_dir), **TINY, **overrides, "guidance": guidance or {"enabled": False}})


def _in_box_energy(maps, plan, num_frames):
    """mean over instances and frames of (1 - attention mass inside the planned box)^2, from the artifact alone."""
    tracks = plan_tracks(plan, num_frames)
    k, t, h, w = maps.shape
    energies = [(1 - (maps[i] * box_masks(torch.tensor(tr.track.boxes), h, w)).flatten(1).sum(-1)) ** 2
                for i, tr in enumerate(tracks)]
    return float(torch.stack(energies).mean())


def test_guidance_pulls_the_object_attention_into_the_boxes(cosmos_dir, tmp_path):
    plan = tiny_plan()
    energies = {}
    for label, guidance in [("off", {"enabled": False}), ("on", GUIDED)]:
        out = tmp_path / label
        out.mkdir()
        video = _generator(cosmos_dir, guidance).run(plan, seed=0, out_dir=out)
        assert video.generator == "diffusers-cosmos" and (video.num_frames, video.width, video.height) == (5, 16, 16)
        assert (out / "video.mp4").stat().st_size > 0
        maps = load_file(str(out / "attention.safetensors"))["maps"]
        assert maps.dtype == torch.float32 and maps.shape == (1, 5, 4, 4)  # [K, T, h, w]: video frames, 4x4 tokens
        assert torch.allclose(maps.flatten(2).sum(-1), torch.ones(1, 5), atol=1e-5)
        info = json.loads((out / "generation.json").read_text())
        assert info["guided_layers"] == ["transformer_blocks.1.attn2", "transformer_blocks.2.attn2"]
        assert info["latent_grid"] == [3, 4, 4]  # 5 frames / causal VAE x2 in time; 16 px / VAE 2 / patch 2
        history = info["guidance_history"]
        assert len(history) == (2 if label == "on" else 0)
        energies[label] = _in_box_energy(maps, plan, 5)
    assert history[0]["sigma_t"] == 15.0  # sigma_max 80, capped
    assert energies["on"] < energies["off"] - 0.05, energies


def test_same_seed_same_attention_other_seed_differs(cosmos_dir, tmp_path):
    runs = []
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        (tmp_path / name).mkdir()
        _generator(cosmos_dir).run(tiny_plan(), seed=seed, out_dir=tmp_path / name)
        runs.append(load_file(str(tmp_path / name / "attention.safetensors"))["maps"])
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_cross_attention_modules_are_patched_without_set_attn_processor(cosmos_dir):
    """Cosmos has no set_attn_processor; each attn2 is patched, and the T x h x w map is its softmax per patch token."""
    from worldsim.dmc.attention import AttentionRecorder, install_recorders

    tr = _generator(cosmos_dir).pipeline().transformer
    assert not hasattr(tr, "set_attn_processor")
    torch.manual_seed(0)
    z = torch.randn(1, 4, 3, 8, 8)
    text = torch.randn(1, 16, 32)
    kwargs = dict(hidden_states=z, timestep=torch.tensor([0.5]), encoder_hidden_states=text, fps=8,
                  padding_mask=torch.zeros(1, 1, 16, 16), return_dict=False)
    reference = tr(**kwargs)[0]
    inputs = {}
    hook = tr.transformer_blocks[1].attn2.register_forward_pre_hook(
        lambda m, args, kw: inputs.update(x=args[0], text=kw["encoder_hidden_states"]), with_kwargs=True)
    rec = AttentionRecorder([[1, 2]], layout="tokens")
    with install_recorders(tr, rec) as handle, rec.recording():
        assert handle.names == [f"transformer_blocks.{i}.attn2" for i in range(4)]
        out = tr(**kwargs)[0]
        layers = dict(rec.layer_maps(3, 4, 4))
    hook.remove()
    assert torch.equal(out, reference)  # attn1 still gets its image_rotary_emb keyword
    attn = tr.transformer_blocks[1].attn2
    q = attn.norm_q(attn.to_q(inputs["x"]).unflatten(2, (attn.heads, -1)).transpose(1, 2))
    k = attn.norm_k(attn.to_k(inputs["text"]).unflatten(2, (attn.heads, -1)).transpose(1, 2))
    probs = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1).mean(1)[0]  # [T*h*w, 16]
    maps = layers["transformer_blocks.1.attn2"]
    assert maps.shape == (3, 4, 4, 1)
    assert torch.allclose(maps[..., 0], (probs[:, 1] + probs[:, 2]).reshape(3, 4, 4), atol=1e-5)


def _no_sampling(monkeypatch):
    from diffusers import CosmosTextToWorldPipeline

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started")

    monkeypatch.setattr(CosmosTextToWorldPipeline, "__call__", no_sampling)


@pytest.mark.parametrize("overrides, guidance, message", [
    ({}, {"steps": 3}, "guidance.steps=3"),
    ({}, {"layers": ["transformer_blocks.7"]}, "guidance.layers="),
    ({"num_frames": 4}, {}, "num_frames=4"),
    ({"width": 40}, {}, "width=40"),
])
def test_bad_settings_fail_before_sampling(cosmos_dir, tmp_path, monkeypatch, overrides, guidance, message):
    _no_sampling(monkeypatch)
    with pytest.raises((ConfigError, InputError), match=message) as info:
        _generator(cosmos_dir, {**GUIDED, **guidance}, **overrides).run(tiny_plan(), seed=0, out_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_guardrail_on_needs_cosmos_guardrail(cosmos_dir, tmp_path):
    if importlib.util.find_spec("cosmos_guardrail") is not None:
        pytest.skip("cosmos_guardrail is installed here")
    with pytest.raises(MissingDependencyError, match="cosmos_guardrail"):
        _generator(cosmos_dir, guardrail=True).run(tiny_plan(), seed=0, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


class _Guardrail(NoGuardrail):
    """Stand-in guardrail that records its checks and rejects prompts containing `blocked`."""

    def __init__(self, blocked="forbidden"):
        self.blocked, self.texts, self.videos = blocked, [], []

    def check_text_safety(self, prompt):
        self.texts.append(prompt)
        return self.blocked not in prompt

    def check_video_safety(self, frames):
        self.videos.append(frames.shape)
        return frames


def test_guardrail_checks_the_prompt_before_sampling_and_the_video_after(cosmos_dir, tmp_path, monkeypatch):
    checker = _Guardrail()
    monkeypatch.setattr(CosmosGenerator, "safety_checker", lambda self: checker)
    _generator(cosmos_dir, guardrail=True).run(tiny_plan(), seed=0, out_dir=tmp_path)
    assert checker.texts == ["1 red ball moving right"] and checker.videos == [(5, 16, 16, 3)]

    _no_sampling(monkeypatch)
    gen = _generator(cosmos_dir, guardrail=True, prompt="a forbidden red ball")
    with pytest.raises(InputError, match="Guardrail rejected the prompt 'a forbidden red ball'"):
        gen.run(tiny_plan(), seed=0, out_dir=tmp_path / "blocked")
    assert not (tmp_path / "blocked").exists()


@pytest.mark.gpu
def test_real_cosmos_checkpoint(tmp_path):
    model = os.environ.get("WORLDSIM_COSMOS_MODEL")
    if not model:
        pytest.skip("set WORLDSIM_COSMOS_MODEL to a Cosmos text-to-world diffusers model id or folder")
    plan = tiny_plan()
    energies = {}
    for label, guidance in [("off", {"enabled": False}), ("on", {"eta": 1000.0, "steps": 10})]:
        out = tmp_path / label
        out.mkdir()
        CosmosGenerator({"model": model, "dtype": "bfloat16", "num_frames": 33, "height": 704, "width": 1280,
                         "num_inference_steps": 36, "guidance": guidance}).run(plan, seed=0, out_dir=out)
        energies[label] = _in_box_energy(load_file(str(out / "attention.safetensors"))["maps"], plan, 33)
    assert energies["on"] < energies["off"], energies


def test_padding_mask_checkpoints_need_torchvision(monkeypatch):
    """Real Cosmos checkpoints concatenate a padding mask that the transformer resizes with torchvision."""
    import importlib.util as util
    from types import SimpleNamespace

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "torchvision" else real(name, *a))
    pipe = SimpleNamespace(transformer=SimpleNamespace(config=SimpleNamespace(concat_padding_mask=True)))
    with pytest.raises(MissingDependencyError, match="torchvision"):
        CosmosGenerator({"guardrail": False}).denoiser(pipe)
    pipe.transformer.config.concat_padding_mask = False
    assert CosmosGenerator({"guardrail": False}).denoiser(pipe) is pipe.transformer
