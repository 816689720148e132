import json

import pytest

from worldsim import pipeline
from worldsim.config import load_config
from worldsim.errors import InputError
from worldsim.testing import TINY_GENERATOR

PROMPT = "A red ball rolls to the right"


def _source_video(tmp_path):
    cfg = load_config("generate-only", [f"generator.{k}={v}" for k, v in {**TINY_GENERATOR, "width": 48, "height": 48}.items()])
    run = pipeline.run_pipeline(PROMPT, config=cfg, seed=0, output_dir=tmp_path / "src")
    return run / "generator" / "video.mp4"


def test_unlabelled_video_is_reconstructed_with_fallback_priors(tmp_path):
    video = _source_video(tmp_path)
    cfg = load_config("default", ["reconstructor.train.iterations=10", "reconstructor.pad=4",
                                  "reconstructor.eval_frames=2"])
    cfg.stages[1].name = "video-file"
    cfg.stages[1].config = {"path": str(video)}
    run = pipeline.run_pipeline(PROMPT, config=cfg, seed=0, output_dir=tmp_path / "runs")
    manifest = json.loads((run / "run.json").read_text())
    rec = manifest["metrics"]["reconstruction"]
    assert rec["depth_teacher"] == "plane-depth" and rec["mask_teacher"] is None
    assert "psnr_novel" not in rec and "feature_cosine" not in rec  # no ground truth, no feature teacher
    assert rec["psnr_train"] > 15
    assert manifest["outputs"]["video"]["generator"] == "video-file"
    # the default preset's QA answerer needs a feature field, which this video has none of: skipped, said why
    assert "no decoder for teacher 'label-text'" in manifest["metrics"]["qa"]["skipped"]
    assert manifest["metrics"]["conformance"]["boxes"] == "color"


def test_missing_file_is_one_line_error(tmp_path):
    from worldsim.registry import get_stage

    with pytest.raises(InputError, match="does not exist"):
        get_stage("generator", "video-file", {"path": str(tmp_path / "nope.mp4")}).run(None, 0, tmp_path)
