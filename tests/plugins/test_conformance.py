"""conformance scorer: every box source, metrics on agreeing and deliberately wrong plans, the detector
through a tiny random OWL-ViT loaded by path, and a real generate+reconstruct run scored in the pipeline."""

import json
import sys

import numpy as np
import pytest

from plugins.conformance.metrics import ap50, nearest_direction, track_metrics
from plugins.conformance.stage import ConformanceScorer
from worldsim.errors import ConfigError, InputError
from worldsim.testing import tiny_clip, tiny_plan
from worldsim.types import ScoreInput


@pytest.fixture(scope="module")
def right_clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("conformance")
    video, labels, arrays = tiny_clip(root / "generator", tiny_plan(), num_frames=8, width=48, height=48)
    (root / "scores").mkdir()
    return root, video, labels, arrays


def score(root, video, plan=None, **config):
    inputs = ScoreInput(run_dir=str(root), plan=plan or tiny_plan(), seed=0, video=video)
    return ConformanceScorer(config).run(inputs, root / "scores").metrics


@pytest.mark.parametrize("boxes", ["labels", "color"])
def test_agreeing_plan_scores_high_and_passes(right_clip, boxes):
    root, video, _, _ = right_clip
    r = score(root, video, boxes=boxes, floor={"miou": 0.5, "direction_accuracy": 1, "motion_level_error": 1})
    assert r["boxes"] == boxes and r["ap50_kind"] == "hit_rate"
    assert r["miou"] >= 0.55 and r["ap50"] == 1.0 and r["centroid_distance"] < 0.03, r
    assert r["direction_accuracy"] == 1.0 and r["instances"][0]["measured_direction"] == "right"
    assert r["motion"]["measured_level"] == r["motion"]["requested_level"] == 8
    assert r["passed"] is True and r["missed"] == {}
    assert json.loads((root / "scores" / "conformance.json").read_text())["miou"] == r["miou"]


@pytest.mark.parametrize("boxes", ["labels", "color"])
def test_wrong_plan_scores_low_and_fails(right_clip, boxes):
    root, video, _, _ = right_clip
    r = score(root, video, plan=tiny_plan(direction="left"), boxes=boxes, floor={"miou": 0.5})
    assert r["miou"] < 0.25 and r["ap50"] == 0.0 and r["centroid_distance"] > 0.1, r
    assert r["direction_accuracy"] == 0.0 and r["instances"][0]["measured_direction"] == "right"
    assert r["passed"] is False and set(r["missed"]) == {"miou"}


def test_speed_mismatch_is_a_motion_level_error(right_clip):
    root, video, _, _ = right_clip
    r = score(root, video, plan=tiny_plan(speed="fast"), floor={"motion_level_error": 1})
    assert r["motion"]["requested_level"] == 10 and r["motion"]["measured_level"] == 8
    assert r["motion"]["level_error"] == -2 and r["motion_level_error"] == 2 and r["passed"] is False


def test_two_copies_are_scored_per_instance(tmp_path):
    plan = tiny_plan(count=2, direction="down")
    video, _, _ = tiny_clip(tmp_path / "generator", plan, num_frames=6, width=48, height=48)
    (tmp_path / "scores").mkdir()
    for boxes in ("labels", "color"):
        r = score(tmp_path, video, plan=plan, boxes=boxes)
        assert [i["instance"] for i in r["instances"]] == [0, 1]
        assert all(i["miou"] > 0.45 and i["direction_correct"] for i in r["instances"]), (boxes, r["instances"])


def write_attention(root, arrays, size=12, shift=0):
    """Attention maps [K,T,h,w] from the label masks: downsampled, optionally shifted, each frame summing to 1."""
    import cv2
    from safetensors.numpy import save_file

    masks = arrays["masks"]
    K = int(masks.max())
    maps = np.zeros((K, masks.shape[0], size, size), np.float32)
    for k in range(K):
        for t, m in enumerate(masks):
            a = cv2.resize((m == k + 1).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
            a = np.roll(a, shift, axis=1) + 1e-4
            maps[k, t] = a / a.sum()
    save_file({"maps": maps}, str(root / "generator" / "attention.safetensors"))
    return "generator/attention.safetensors"


def test_attention_source_and_auto_choice(right_clip):
    root, video, _, arrays = right_clip
    att = video.model_copy(update={"attention": write_attention(root, arrays), "labels": None})
    r = score(root, att)  # auto: no labels, attention present
    assert r["boxes"] == "attention" and r["miou"] > 0.5 and r["direction_accuracy"] == 1.0, r
    assert score(root, video.model_copy(update={"labels": None}))["boxes"] == "color"
    assert score(root, video.model_copy(update={"attention": att.attention}))["boxes"] == "labels"
    shifted = video.model_copy(update={"attention": write_attention(root, arrays, shift=5)})
    assert score(root, shifted, boxes="attention")["miou"] < r["miou"] - 0.2
    bad = np.zeros((3, 8, 4, 4), np.float32)
    from safetensors.numpy import save_file

    save_file({"maps": bad}, str(root / "generator" / "bad.safetensors"))
    with pytest.raises(InputError, match=r"maps have shape \(3, 8, 4, 4\); expected \[1,8,h,w\]"):
        score(root, video.model_copy(update={"attention": "generator/bad.safetensors"}), boxes="attention")


def test_missing_sources_and_bad_config_are_one_line(right_clip):
    root, video, _, _ = right_clip
    with pytest.raises(InputError, match="wrote no labels.json"):
        score(root, video.model_copy(update={"labels": None}), boxes="labels")
    with pytest.raises(InputError, match="wrote no attention maps"):
        score(root, video, boxes="attention")
    with pytest.raises(InputError, match="has no colour"):
        score(root, video, plan=tiny_plan().model_copy(update={"objects": (tiny_plan().objects[0].model_copy(update={"color": None}),)}), boxes="color")
    with pytest.raises(InputError, match="no reconstruction"):
        score(root, video, boxes="field")
    with pytest.raises(ConfigError, match="floor key 'iou'"):
        ConformanceScorer({"floor": {"iou": 0.5}})
    with pytest.raises(ConfigError, match="boxes 'owl'"):
        ConformanceScorer({"boxes": "owl"})


def test_track_metrics_by_hand():
    planned = [(0.1 + 0.1 * t, 0.4, 0.3 + 0.1 * t, 0.6) for t in range(5)]
    same = track_metrics([list(b) for b in planned], planned, "right", 100, 100)
    assert same["miou"] == pytest.approx(1) and same["centroid_distance"] == pytest.approx(0) and same["direction_correct"]
    missing = track_metrics([list(planned[0]), None, None, None, list(planned[4])], planned, "right", 100, 100)
    assert missing["miou"] == pytest.approx(0.4) and missing["detected"] == 0.4
    assert missing["centroid_distance"] == pytest.approx(0.6) and missing["ap50"] == pytest.approx(0.4)
    # centre 0.1 of the width off on a 200 x 100 frame: 20 px over a 223.6 px diagonal
    off = track_metrics([[b[0] + 0.1, b[1], b[2] + 0.1, b[3]] for b in planned], planned, "right", 200, 100)
    assert off["centroid_distance"] == pytest.approx(20 / np.hypot(200, 100))
    still = track_metrics([list(planned[2])] * 5, planned, "none", 100, 100)
    assert still["direction_correct"] and still["measured_direction"] == "none"
    assert not track_metrics([list(planned[2])] * 5, planned, "right", 100, 100)["direction_correct"]
    up = track_metrics([list(b) for b in planned], planned, "up", 100, 100)
    assert not up["direction_correct"] and up["direction_cosine"] == pytest.approx(0, abs=1e-9)
    assert nearest_direction(0.1, -0.1, 0.02) == "up-right" and nearest_direction(0.001, 0, 0.02) == "none"


def test_ap50_ranks_by_confidence():
    # ranks: 0.9 TP, 0.8 FP, 0.7 TP over 4 frames: (1/1 + 2/3) / 4
    assert ap50([0.6, 0.1, 0.9, 0.0], [0.9, 0.8, 0.7, None]) == pytest.approx((1 + 2 / 3) / 4)
    assert ap50([0.6, 0.1, 0.9], [0.7, 0.8, 0.9]) == pytest.approx((1 + 2 / 3) / 3)  # by score: TP, FP, TP
    assert ap50([0.9, 0.9], [0.5, 0.5]) == 1.0 and ap50([], []) == 0.0


@pytest.fixture(scope="module")
def tiny_owlvit(tmp_path_factory):
    """A randomly initialised OWL-ViT (1-layer towers) with a character-level CLIP tokenizer and its image processor."""
    import torch
    from transformers import CLIPTokenizer, OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessorPil

    chars = list("abcdefghijklmnopqrstuvwxyz.")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({c: i + 2 for i, c in enumerate(chars)})
    vocab.update({c + "</w>": i + 2 + len(chars) for i, c in enumerate(chars)})
    torch.manual_seed(0)
    config = OwlViTConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2),
        projection_dim=16)
    path = tmp_path_factory.mktemp("tiny-owlvit")
    OwlViTForObjectDetection(config).save_pretrained(path)
    CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16).save_pretrained(path)
    OwlViTImageProcessorPil(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return str(path)


def test_detector_source_through_a_tiny_owlvit_loaded_by_path(right_clip, tiny_owlvit):
    from plugins.conformance.detector import detect

    root, video, _, arrays = right_clip
    r = score(root, video, boxes="detector", detector_model=tiny_owlvit, detector_threshold=0.0)
    assert r["boxes"] == "detector" and r["ap50_kind"] == "ap"
    inst = r["instances"][0]
    assert len(inst["boxes"]) == 8 and all(b is not None and 0 <= b[0] <= b[2] <= 1 and 0 <= b[1] <= b[3] <= 1 for b in inst["boxes"])
    assert 0 <= r["miou"] <= 1 and 0 <= r["ap50"] <= 1
    found = detect(arrays["frames"][:2], ["a photo of a red ball"], tiny_owlvit, top_k=3)
    assert len(found) == 1 and len(found[0]) == 2 and len(found[0][0]) == 3
    scores = [s for s, _ in found[0][0]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    # nothing passes an impossible threshold: no boxes, no hits
    none = score(root, video, boxes="detector", detector_model=tiny_owlvit, detector_threshold=1.0)
    assert none["instances"][0]["detected"] == 0.0 and none["miou"] == 0.0 and none["ap50"] == 0.0
    assert "torchvision" not in sys.modules


@pytest.mark.gpu
def test_detector_on_cuda_matches_cpu(right_clip, tiny_owlvit):
    root, video, _, _ = right_clip
    cpu = score(root, video, boxes="detector", detector_model=tiny_owlvit, detector_threshold=0.0)
    gpu = score(root, video, boxes="detector", detector_model=tiny_owlvit, detector_threshold=0.0, device="cuda")
    assert np.allclose(np.array(gpu["instances"][0]["boxes"]), np.array(cpu["instances"][0]["boxes"]), atol=1e-3)


def test_missing_detector_is_one_line(right_clip):
    root, video, _, _ = right_clip
    with pytest.raises(ConfigError) as err:
        score(root, video, boxes="detector", detector_model="worldsim-tests/no-such-owlvit")
    assert "'worldsim-tests/no-such-owlvit'" in str(err.value) and "locally" in str(err.value) and "\n" not in str(err.value)


TINY = ["generator.num_frames=4", "generator.width=48", "generator.height=48", "generator.write_ply=false",
        "generator.gaussians_per_object=150", "generator.background_spacing=0.6", "reconstructor.train.iterations=60",
        "reconstructor.pad=8", "reconstructor.eval_frames=2", "reconstructor.novel_yaws=[5]"]


def test_field_source_in_a_real_pipeline_run(tmp_path):
    from worldsim.config import StepConfig, load_config
    from worldsim.pipeline import run_pipeline

    cfg = load_config("default", TINY)
    cfg.stages.append(StepConfig(kind="scorer", name="conformance", config={"boxes": "field"}))
    run = run_pipeline("A red ball and a blue cube move to the right", config=cfg, seed=0, output_dir=tmp_path)
    manifest = json.loads((run / "run.json").read_text())
    r = manifest["metrics"]["conformance"]
    assert r["boxes"] == "field" and [i["object"] for i in r["instances"]] == ["red ball", "blue cube"]
    assert r["miou"] > 0.3 and r["direction_accuracy"] == 1.0, [(i["object"], i["miou"], i["measured_direction"]) for i in r["instances"]]
    assert any(a["path"] == "scores/conformance.json" for a in manifest["artifacts"])


# --- moving camera -------------------------------------------------------------------------------------


def camera_plan(motion, direction="right", target=None):
    from worldsim.types import CameraSpec

    return tiny_plan(direction=direction).model_copy(update={"camera": CameraSpec(motion=motion, target=target)})


@pytest.fixture(scope="module")
def moving_clips(tmp_path_factory):
    """8-frame 48x48 clips of a red ball moving right under a panning, an orbiting and a following camera."""
    clips = {}
    for motion, target in (("pan-left", None), ("orbit-right", None), ("follow", "ball")):
        root = tmp_path_factory.mktemp(motion)
        plan = camera_plan(motion, target=target)
        video, labels, arrays = tiny_clip(root / "generator", plan, num_frames=8, width=48, height=48)
        (root / "scores").mkdir()
        clips[motion] = (root, video, plan, labels)
    return clips


@pytest.mark.parametrize("motion", ["pan-left", "orbit-right", "follow"])
@pytest.mark.parametrize("boxes", ["labels", "color"])
def test_a_correct_moving_camera_clip_scores_as_well_as_a_static_one(moving_clips, right_clip, motion, boxes):
    root, video, plan, labels = moving_clips[motion]
    floor = {"miou": 0.5, "direction_accuracy": 1, "motion_level_error": 1}
    r = score(root, video, plan=plan, boxes=boxes, floor=floor)
    static = score(right_clip[0], right_clip[1], boxes=boxes)
    assert r["miou"] >= static["miou"] - 0.1 and r["ap50"] == 1.0 and r["centroid_distance"] < 0.03, r
    assert r["direction_accuracy"] == 1.0 and r["instances"][0]["measured_direction"] == "right"
    assert r["passed"] is True and r["motion"]["requested_level"] == 8 and abs(r["motion"]["level_error"]) <= 1, r["motion"]
    assert r["camera"]["motion"] == motion and "labels" in r["camera"]["planned_boxes"]
    assert "camera" not in static
    if motion == "follow":  # the ball stays put in the image, yet it moves right in the world
        c = [((b[0] + b[2]) / 2) for b in r["instances"][0]["boxes"]]
        assert max(c) - min(c) < 0.05


def test_a_moving_camera_clip_against_the_first_view_only_scores_low(moving_clips):
    root, video, plan, _ = moving_clips["pan-left"]
    fair = score(root, video, plan=plan)
    first_view_only = score(root, video, plan=tiny_plan())  # the same clip judged as if the camera stood still
    assert first_view_only["miou"] < fair["miou"] - 0.15 and "camera" not in first_view_only
    wrong = score(root, video, plan=camera_plan("pan-left", direction="left"))
    assert wrong["direction_accuracy"] == 0.0 and wrong["instances"][0]["measured_direction"] == "right"


def test_direction_centers_replace_the_boxes_for_the_direction_only():
    planned = [(0.1 + 0.1 * t, 0.4, 0.3 + 0.1 * t, 0.6) for t in range(5)]
    still = [list(planned[0])] * 5  # boxes that do not move in the image (a following camera)
    plain = track_metrics(still, planned, "right", 100, 100)
    world = track_metrics(still, planned, "right", 100, 100, direction_centers=[(0.2 + 0.1 * t, 0.5) for t in range(5)])
    assert plain["direction_correct"] is False and world["direction_correct"] is True
    assert {k: v for k, v in plain.items() if "direction" not in k and k != "travel"} == \
        {k: v for k, v in world.items() if "direction" not in k and k != "travel"}
    assert track_metrics(still, planned, "right", 100, 100, direction_centers=None) == plain
