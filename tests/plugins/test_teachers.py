"""Teachers: label-text / label-depth / label-masks / plane-depth on a tiny procedural clip, and the transformers
teachers with tiny randomly initialised models saved to a folder and loaded back by path (CPU, offline)."""

import json

import numpy as np
import pytest
import torch

from worldsim import plugins, registry
from worldsim.errors import ConfigError, InputError
from worldsim.testing import tiny_clip

TEACHERS = ["label-text", "label-depth", "label-masks", "plane-depth", "transformers-depth", "transformers-clip",
            "transformers-sam"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A tiny generated clip: (frames [T,H,W,3] uint8, labels.json dict, arrays dict)."""
    _, labels, arrays = tiny_clip(tmp_path_factory.mktemp("teachers") / "generator")
    return arrays["frames"], labels, arrays


def teacher(name, config=None):
    """get_stage through the plugin manager, registering the teachers module when its entry point is not installed."""
    import plugins.teachers as module

    pm = plugins.get_manager()
    if not any(p is module for p in pm.get_plugins()):
        pm.register(module, name="teachers")
    return registry.get_stage("teacher", name, config)


def test_every_teacher_is_registered_with_kind_target_and_description():
    stages = {}
    for name in TEACHERS:
        stages[name] = teacher(name)
    assert registry.all_stages()["teacher"].keys() >= set(TEACHERS)
    for name, stage in stages.items():
        assert stage.kind == "teacher" and stage.name == name and stage.description
        assert stage.target in ("feature", "depth", "mask")
        assert hasattr(stage, "encode_text") == (stage.target == "feature")
    assert "crude" in stages["plane-depth"].description.lower()


def test_label_text_pixels_match_their_label_embedding(clip):
    frames, labels, arrays = clip
    t = teacher("label-text")
    maps = t.run(frames, labels=labels, arrays=arrays)
    T, H, W, _ = frames.shape
    assert maps.target == "feature" and maps.maps.shape == (T, H, W, 384) and maps.maps.dtype == torch.float32
    assert maps.valid is None
    assert torch.allclose(maps.maps.norm(dim=-1), torch.ones(T, H, W), atol=1e-5)
    q = t.encode_text(["red ball", "blue cube", "background"])  # [3,384]
    ball = torch.from_numpy(arrays["masks"] == 1)
    assert ball.sum() > 0
    cos = maps.maps[ball] @ q.T  # [N,3]
    assert torch.all(cos[:, 0] > 0.999) and torch.all(cos[:, 1] < 0.9)
    assert torch.all((maps.maps[~ball] @ q.T)[:, 2] > 0.999)
    no_bg = teacher("label-text", {"background_valid": False}).run(frames, labels=labels, arrays=arrays)
    assert torch.equal(no_bg.valid, ball)


def test_text_encoder_is_deterministic_and_cached():
    from worldsim import text as text_encoder

    a = text_encoder.embed_texts(["red ball", "two blue cubes sliding", "red ball"])
    text_encoder.clear_cache()
    b = text_encoder.embed_texts(["red ball"])
    c = text_encoder.embed_texts("two blue cubes sliding")
    assert a.shape == (3, 384) and a.dtype == torch.float32
    assert torch.equal(a[0], a[2]) and torch.allclose(a[0], b[0], atol=1e-6) and torch.allclose(a[1], c[0], atol=1e-6)
    assert torch.allclose(a.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert text_encoder.embed_texts([]).shape == (0, 384)


def test_label_masks_and_depth(clip):
    frames, labels, arrays = clip
    T, H, W, _ = frames.shape
    masks = teacher("label-masks").run(frames, labels=labels, arrays=arrays)
    assert masks.target == "mask" and masks.maps.shape == (T, H, W, 1) and masks.labels == ["background", "red ball"]
    assert torch.equal(masks.maps[..., 0].long(), torch.from_numpy(arrays["masks"]).long())
    depth = teacher("label-depth").run(frames, labels=labels, arrays=arrays)
    assert depth.target == "depth" and depth.maps.shape == (T, H, W, 1) and depth.maps.dtype == torch.float32
    assert depth.valid.dtype == torch.bool and depth.valid.shape == (T, H, W) and depth.valid.any()
    assert torch.all(depth.maps[..., 0][depth.valid] > 0)
    broken = dict(arrays, depth=np.where(arrays["masks"] == 1, np.nan, arrays["depth"]).astype(np.float32))
    partial = teacher("label-depth").run(frames, labels=labels, arrays=broken)
    assert torch.equal(partial.valid, depth.valid & torch.from_numpy(arrays["masks"] != 1))
    assert torch.all(partial.maps[~partial.valid] == 0)


@pytest.mark.parametrize("name, missing, alternative", [
    ("label-text", "arrays['masks']", "transformers-clip"),
    ("label-depth", "arrays['depth']", "plane-depth"),
    ("label-masks", "arrays['masks']", None),
])
def test_label_teachers_name_what_is_missing(clip, name, missing, alternative):
    frames, labels, _ = clip
    with pytest.raises(InputError) as err:
        teacher(name).run(frames, labels=labels, arrays=None)
    msg = str(err.value)
    assert missing in msg and "\n" not in msg and (alternative is None or alternative in msg)
    with pytest.raises(InputError, match="uint8 array"):
        teacher(name).run(frames[..., 0], labels=labels)


def test_label_text_needs_objects_and_known_ids(clip):
    frames, labels, arrays = clip
    with pytest.raises(InputError, match=r"labels\['objects'\].*transformers-clip"):
        teacher("label-text").run(frames, labels=None, arrays=arrays)
    with pytest.raises(InputError, match=r"id\(s\) \[1\]"):
        teacher("label-text").run(frames, labels={"objects": []}, arrays=arrays)
    colourless = {"objects": [{"id": 1, "name": "ball", "color": None}]}
    maps = teacher("label-masks").run(frames, labels=colourless, arrays=arrays)
    assert maps.labels == ["background", "ball"]


def test_plane_depth_grows_towards_the_horizon(clip):
    frames = clip[0]
    T, H, W, _ = frames.shape
    maps = teacher("plane-depth", {"horizon": 0.25, "far": 80.0, "camera_height": 1.5}).run(frames)
    assert maps.maps.shape == (T, H, W, 1) and maps.maps.dtype == torch.float32 and maps.valid is None
    column = maps.maps[0, :, 0, 0]
    ground = column[int(0.25 * H) + 1:]
    assert torch.all(ground[:-1] > ground[1:])  # farther towards the horizon (up the image)
    assert torch.all(column[: int(0.25 * H)] == 80.0) and torch.all(column <= 80.0)
    assert torch.equal(maps.maps[0], maps.maps[-1]) and torch.equal(maps.maps[:, :, 0], maps.maps[:, :, -1])
    # the bottom row of a level camera (horizon 0.5) sees the ground at h / tan(angle below the axis)
    level = teacher("plane-depth", {"fov_deg": 50.0, "camera_height": 2.0}).run(frames)
    y = (H - 0.5 - H / 2) / (0.5 * H / np.tan(np.radians(25.0)))
    assert level.maps[0, -1, 0, 0].item() == pytest.approx(2.0 / y, rel=1e-5)
    sky = teacher("plane-depth", {"sky_valid": False}).run(frames)
    assert sky.valid.shape == (T, H, W) and not sky.valid[0, 0, 0] and sky.valid[0, -1, 0]


# ---------------------------------------------------------------------------------------------- transformers
@pytest.fixture(scope="module")
def tiny_depth_model(tmp_path_factory):
    """A randomly initialised Depth Anything (4-layer Dinov2 backbone, ~33k parameters) saved by path."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    torch.manual_seed(0)
    backbone = Dinov2Config(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=32, out_indices=[1, 2, 3, 4], reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, patch_size=8, reassemble_hidden_size=16,
                                 neck_hidden_sizes=[4, 8, 8, 16], fusion_hidden_size=8, head_hidden_size=8)
    path = tmp_path_factory.mktemp("tiny-depth-anything")
    model = DepthAnythingForDepthEstimation(config)
    with torch.no_grad():
        model.head.conv3.bias.fill_(0.5)  # random init predicts ~1e-8 behind the final ReLU; lift it to ~0.5
    model.save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "DPTImageProcessor", "do_resize": True, "size": {"height": 40, "width": 40},
        "keep_aspect_ratio": True, "ensure_multiple_of": 8, "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    return str(path)


def test_transformers_depth_runs_end_to_end(clip, tiny_depth_model):
    frames = clip[0][:, :, :24]  # non-square: 32 x 24
    T, H, W, _ = frames.shape
    inverse = teacher("transformers-depth", {"model": tiny_depth_model, "device": "cpu", "batch_size": 3}).run(frames)
    assert inverse.target == "depth" and inverse.maps.shape == (T, H, W, 1) and inverse.maps.dtype == torch.float32
    assert inverse.valid.shape == (T, H, W) and inverse.valid.dtype == torch.bool
    assert torch.all(inverse.maps[..., 0][inverse.valid] > 0) and torch.all(inverse.maps[..., 0][~inverse.valid] == 0)
    direct = teacher("transformers-depth", {"model": tiny_depth_model, "device": "cpu", "output": "depth",
                                            "scale": 2.0}).run(frames)
    both = inverse.valid & direct.valid
    assert both.float().mean() > 0.9
    # same raw prediction p: depth mode gives 2p, inverse mode 1/p
    assert torch.allclose(direct.maps[both] * inverse.maps[both], torch.full_like(direct.maps[both], 2.0), rtol=1e-4)


def test_dpt_input_size_matches_the_dpt_image_processor():
    from transformers.models.dpt.image_processing_pil_dpt import get_resize_output_image_size

    from plugins.teachers.hf import dpt_input_size

    for h, w, size, keep, multiple in [(128, 96, 518, True, 14), (480, 640, 384, False, 32), (90, 160, 518, True, 14)]:
        ref = get_resize_output_image_size(np.zeros((3, h, w)), (size, size), keep, multiple)
        proc = {"size": {"height": size, "width": size}, "keep_aspect_ratio": keep, "ensure_multiple_of": multiple}
        assert dpt_input_size(h, w, proc, None, 14) == (ref.height, ref.width)


@pytest.fixture(scope="module")
def tiny_clip_model(tmp_path_factory):
    """A randomly initialised CLIPModel (1-layer towers, projection 8) and a character-level CLIP BPE tokenizer."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    chars = list("abcdefghijklmnopqrstuvwxyz.")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({c: i + 2 for i, c in enumerate(chars)})
    vocab.update({c + "</w>": i + 2 + len(chars) for i, c in enumerate(chars)})
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=32, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(image_size=16, patch_size=4, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2),
        projection_dim=8)
    path = tmp_path_factory.mktemp("tiny-clip")
    CLIPModel(config).save_pretrained(path)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(path)
    return str(path)


def test_transformers_clip_pixels_and_texts_share_a_space(clip, tiny_clip_model):
    frames = clip[0][:, :, :24]  # non-square: 32 x 24, position embeddings interpolated
    T, H, W, _ = frames.shape
    t = teacher("transformers-clip", {"model": tiny_clip_model, "device": "cpu", "batch_size": 3})
    maps = t.run(frames)
    assert maps.target == "feature" and maps.maps.shape == (T, H, W, 8) and maps.maps.dtype == torch.float32
    assert torch.allclose(maps.maps.norm(dim=-1), torch.ones(T, H, W), atol=1e-5)
    assert maps.maps.flatten(0, 2).std(0).sum() > 0  # not a constant map
    q = t.encode_text(["red ball", "blue cube"])
    assert q.shape == (2, 8) and torch.allclose(q.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(t.encode_text(["red ball"])[0], q[0], atol=1e-5)  # padding does not change a text
    # encode_text = CLIP text tower + projection on the prompt template, L2-normalised
    net, tokenizer, _ = t.load()
    ids = tokenizer(["a photo of a red ball."], return_tensors="pt")
    with torch.inference_mode():
        ref = net.text_projection(net.text_model(**ids).pooler_output)
    assert torch.allclose(q[0], torch.nn.functional.normalize(ref, dim=-1)[0], atol=1e-5)
    square = teacher("transformers-clip", {"model": tiny_clip_model, "device": "cpu", "keep_aspect": False}).run(frames)
    assert square.maps.shape == (T, H, W, 8)


@pytest.mark.parametrize("name", ["transformers-depth", "transformers-clip", "transformers-sam"])
def test_missing_weights_is_one_line_naming_the_model(clip, name):
    with pytest.raises(ConfigError) as err:
        teacher(name, {"model": "worldsim-tests/no-such-model", "device": "cpu"}).run(clip[0][:1])
    msg = str(err.value)
    assert "'worldsim-tests/no-such-model'" in msg and "locally" in msg and "\n" not in msg


@pytest.fixture(scope="module")
def tiny_sam_model(tmp_path_factory):
    """A randomly initialised SamModel (1-layer vision encoder on 32x32 inputs, hidden size 16) saved by path."""
    from transformers import SamConfig, SamModel

    torch.manual_seed(0)
    config = SamConfig(
        vision_config=dict(image_size=32, patch_size=8, hidden_size=16, output_channels=16, num_hidden_layers=1,
                           num_attention_heads=2, window_size=2, global_attn_indexes=[0], num_pos_feats=8,
                           mlp_dim=32),
        prompt_encoder_config=dict(image_size=32, patch_size=8, hidden_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=16, mlp_dim=32, num_hidden_layers=1, num_attention_heads=2,
                                 iou_head_hidden_dim=16))
    path = tmp_path_factory.mktemp("tiny-sam")
    SamModel(config).save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "SamImageProcessor", "size": {"longest_edge": 32}, "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "do_pad": True,
        "pad_size": {"height": 32, "width": 32}}))
    return str(path)


def test_transformers_sam_gives_integer_ids_per_frame(clip, tiny_sam_model):
    frames = clip[0][:, :, :24]  # non-square: 32 x 24, padded to the model's 32 x 32
    T, H, W, _ = frames.shape
    t = teacher("transformers-sam", {"model": tiny_sam_model, "device": "cpu", "points_per_side": 4,
                                     "points_per_batch": 5, "pred_iou_threshold": 0.0, "min_area": 1})
    maps = t.run(frames)
    assert maps.target == "mask" and maps.maps.shape == (T, H, W, 1) and maps.maps.dtype == torch.float32
    ids = maps.maps[..., 0]
    assert torch.all(ids >= 0) and torch.equal(ids, ids.round())
    assert maps.labels[0] == "background" and len(maps.labels) == int(ids.max()) + 1
    assert ids.max() >= 1  # threshold 0 keeps every candidate: something is segmented
    # every kept segment of a large min_area run covers at least min_area pixels
    fewer = teacher("transformers-sam", {"model": tiny_sam_model, "device": "cpu", "points_per_side": 4,
                                         "pred_iou_threshold": 0.0, "min_area": H * W // 4}).run(frames[:1])
    assert fewer.maps.shape == (1, H, W, 1) and len(fewer.labels) == int(fewer.maps.max()) + 1
    assert all(int((fewer.maps == k).sum()) >= H * W // 4 for k in range(1, len(fewer.labels)))


def test_sam_assign_ids_is_greedy_by_score_without_overlap():
    from plugins.teachers.sam import assign_ids

    masks = torch.zeros(3, 4, 4, dtype=torch.bool)
    masks[0, :2] = True  # top half, score 0.9
    masks[1, :3] = True  # top three rows, score 0.95: claims first
    masks[2, 3, :1] = True  # one pixel, dropped by min_area 2
    ids = assign_ids(masks, torch.tensor([0.9, 0.95, 0.99]), threshold=0.5, min_area=2)
    assert torch.equal(ids[:3], torch.ones(3, 4, dtype=torch.int64)) and torch.all(ids[3] == 0)
    assert torch.all(assign_ids(masks, torch.tensor([0.1, 0.2, 0.3]), threshold=0.5, min_area=0) == 0)
