import json

import pytest
import torch
from safetensors.torch import load_file

from worldsim.dmc.guidance import GuidanceSettings, box_masks, dmc_energy
from plugins.tiny_t2v.sampling import CHECKPOINT, generate_clip, load_model
from plugins.tiny_t2v.stage import TinyT2VGenerator, plan_prompt
from worldsim import registry
from worldsim.errors import ConfigError, InputError
from worldsim.planning import plan_tracks
from worldsim.testing import tiny_plan
from worldsim.types import EditSpec, Plan

FAST = {"steps": 6, "guidance": {"steps": 3}}


def test_registered_and_the_shipped_checkpoint_generates_a_valid_clip(tmp_path):
    assert (CHECKPOINT / "model.safetensors").stat().st_size < 20e6
    stage = registry.get_stage("generator", "tiny-t2v", FAST)
    video = stage.run(tiny_plan("car", "red", "left"), seed=1, out_dir=tmp_path / "generator")
    assert video.attention == "generator/attention.safetensors" and video.video == "generator/video.mp4"
    assert (video.num_frames, video.width, video.height) == (8, 128, 128)
    maps = load_file(str(tmp_path / "generator" / "attention.safetensors"))["maps"]
    assert maps.shape == (1, 8, 8, 8) and maps.dtype == torch.float32
    assert torch.allclose(maps.sum((-1, -2)), torch.ones(1, 8), atol=1e-4)
    meta = json.loads((tmp_path / "generator" / "generation.json").read_text())
    assert meta["prompt"] == "one red car" and len(meta["guidance_history"]) == 3
    assert (tmp_path / "generator" / "video.mp4").stat().st_size > 0


def test_prompt_has_no_direction_and_one_phrase_per_object():
    plan = tiny_plan("ball", "blue", "up-right", count=2)
    assert plan_prompt(plan) == ("two blue balls", ["blue balls"])


def test_guided_attention_energy_is_below_unguided_at_the_same_seed():
    model = load_model()
    plan = tiny_plan("bus", "green", "right", speed="fast")
    prompt, phrases = plan_prompt(plan)
    boxes = torch.tensor([t.track.boxes for t in plan_tracks(plan, 8)])
    masks = box_masks(boxes, model.config.grid, model.config.grid)
    energies = {}
    for enabled in (False, True):
        s = generate_clip(model, prompt, phrases, [boxes], 8, seed=3, steps=8,
                          guidance=GuidanceSettings(enabled=enabled, eta=100.0, steps=4))
        energies[enabled] = float(dmc_energy(s.phrase_maps[0], masks, lam=0.0)[0])
    assert energies[True] < energies[False]


@pytest.mark.parametrize("config, error, words", [
    ({"guidance": {"eta": -1}}, ConfigError, "guidance.eta"),
    ({"intensity": 11}, ConfigError, "intensity"),
    ({"steps": 4, "guidance": {"steps": 5}}, ConfigError, "guidance.steps=5"),
    ({"guidance": {"layers": ["blocks.9"]}}, ConfigError, "guidance.layers"),
])
def test_bad_settings_fail_before_sampling(tmp_path, config, error, words):
    with pytest.raises(error, match=words.replace(".", r"\.")):
        TinyT2VGenerator(config).run(tiny_plan(), seed=0, out_dir=tmp_path / "generator")
    assert not (tmp_path / "generator" / "video.mp4").exists()


def test_edit_plans_are_refused(tmp_path):
    plan = Plan(mode="edit", edit=EditSpec(op="recolor", target="ball", color="blue"))
    with pytest.raises(InputError, match="generate"):
        TinyT2VGenerator(FAST).run(plan, seed=0, out_dir=tmp_path / "generator")


def test_absent_phrase_is_refused_before_sampling():
    model = load_model()
    with pytest.raises(InputError, match="does not occur"):
        generate_clip(model, "one red car", ["blue car"], [torch.zeros(1, 8, 4)], 5, 0, 4, GuidanceSettings(steps=2))


def test_tiny_t2v_preset_runs_the_whole_pipeline_offline(tmp_path):
    from worldsim import pipeline
    from worldsim.config import load_config

    cfg = load_config("tiny-t2v", ["generator.steps=4", "generator.guidance.steps=2"])
    assert [(s.kind, s.name) for s in cfg.stages] == [("parser", "rules"), ("generator", "tiny-t2v")]
    run_dir = pipeline.run_pipeline("A blue ball rolls quickly to the left", config=cfg, seed=0, output_dir=tmp_path)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["plan"]["motion"]["direction"] == "left"
    assert (run_dir / "generator" / "attention.safetensors").is_file()
    assert (run_dir / "generator" / "video.mp4").is_file()
