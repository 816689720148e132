"""feature-field editor on a real tiny generate+reconstruct run: language selection, recolor / remove / extract /
scale, ground-truth metrics, determinism and its errors."""

import colorsys
import dataclasses
import json

import numpy as np
import pytest
import torch

from worldsim.selection import build_queries, grow_by_motion, threshold_candidates
from worldsim.sessions import edit_source, open_version
from plugins.feature_field_editor.stage import FeatureFieldEditor
from worldsim.artifacts import sha256_file
from worldsim.errors import InputError
from worldsim.types import EditSpec, GaussianScene, SceneObject

TINY = ["generator.num_frames=4", "generator.width=48", "generator.height=48", "generator.write_ply=false",
        "generator.gaussians_per_object=150", "generator.background_spacing=0.6", "reconstructor.train.iterations=60",
        "reconstructor.pad=8", "reconstructor.eval_frames=2", "reconstructor.novel_yaws=[5]"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from worldsim.config import load_config
    from worldsim.pipeline import run_pipeline

    return run_pipeline("A red ball and a blue cube move to the right", config=load_config("default", TINY), seed=0,
                        output_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def source(run_dir):
    return edit_source(open_version(run_dir))


@pytest.fixture(scope="module")
def gt_masks(run_dir):
    from safetensors.numpy import load_file

    return load_file(str(run_dir / "generator" / "labels.safetensors"))["masks"]  # [T,H,W] ids


@pytest.fixture(scope="module")
def edited(source, tmp_path_factory):
    """op -> (EditResult, out_dir) for recolor ball yellow, remove cube, extract ball."""
    root = tmp_path_factory.mktemp("edits")
    editor = FeatureFieldEditor()
    out = {}
    for op, target, color in (("recolor", "ball", "yellow"), ("remove", "cube", None), ("extract", "ball", None)):
        out_dir = root / op
        out[op] = editor.run(EditSpec(op=op, target=target, color=color), source, out_dir), out_dir
    return out


def object_id(source, name):
    return next(o.id for o in source.objects if o.name == name)


def after_frames(result, out_dir):
    from worldsim.io.video import read_mp4

    frames, _ = read_mp4(out_dir.parent / result.renders["comparison"])  # [T,H,2W,3]: before | after
    w = frames.shape[2] // 2
    return frames[..., :w, :].astype(np.float32) / 255, frames[..., w:, :].astype(np.float32) / 255


def test_source_lists_the_generated_objects(source):
    assert [(o.name, o.color) for o in source.objects] == [("ball", "red"), ("cube", "blue")]
    assert source.teacher == "label-text" and source.gt_scene and source.gt_arrays


def test_queries_put_the_target_first_then_objects_then_background():
    objects = [SceneObject(id=1, name="ball", color="red"), SceneObject(id=2, name="cube", color="blue"),
               SceneObject(id=3, name="car", removed=True)]
    queries = build_queries([objects[0]], objects, ["background", "ground"])
    assert [q.label for q in queries] == ["red ball", "blue cube", "background", "ground"]
    assert queries[0].texts == ("red ball", "ball")
    two_balls = [SceneObject(id=1, name="ball", color="red"), SceneObject(id=2, name="ball", color="green")]
    assert build_queries([two_balls[0]], two_balls, [])[1].texts == ("green ball",)  # bare 'ball' is ambiguous
    assert threshold_candidates(0.9, 0.1, 0.3, 8) == [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    assert threshold_candidates(0.9, 0.1, 0.3, 3) == [0.9, 0.8, 0.7]
    assert threshold_candidates(0.9, 0.1, 0.5, 8, explicit=[0.2, 0.95, 0.6]) == [0.95, 0.6]


def test_grow_by_motion_adds_what_moves_with_the_selection_never_background(source):
    scene = GaussianScene.load(source.scene)
    ball = scene.instance == object_id(source, "ball")  # the reconstructor's own ids: dominant motion basis
    partial = ball.clone()
    partial[torch.nonzero(ball).flatten()[:2]] = False
    assert torch.equal(grow_by_motion(scene, partial, 0.9, 2.5), ball)
    few_background = torch.zeros(len(scene), dtype=torch.bool)
    few_background[torch.nonzero(scene.instance == 0).flatten()[:20]] = True
    assert torch.equal(grow_by_motion(scene, few_background, 0.9, 2.5), few_background)


def test_recolor_turns_the_ball_yellow_and_leaves_the_rest(edited, source, gt_masks, run_dir):
    result, out_dir = edited["recolor"]
    m = result.metrics
    assert m["op"] == "recolor" and m["target"] == "ball" and m["selected_gaussians"] > 0
    assert m["threshold"] in [float(k) for k in m["candidates"]]
    assert m["mask_iou"] >= 0.6, m
    assert m["psnr_outside"] >= 30, m
    before, after = after_frames(result, out_dir)
    ball = torch.from_numpy((gt_masks == object_id(source, "ball")).astype(np.float32))
    ball = (-torch.nn.functional.max_pool2d(-ball[:, None], 3, 1, 1)[:, 0]).numpy() > 0  # eroded by 1 px
    hue = lambda rgb: colorsys.rgb_to_hsv(*rgb.mean(0))[0] * 360
    assert hue(before[ball]) < 20 or hue(before[ball]) > 340  # red before
    assert 40 <= hue(after[ball]) <= 70, hue(after[ball])  # yellow after (named yellow: ~53 degrees)
    # Only SH DC of selected Gaussians changed; files are where the result says.
    scene_in = GaussianScene.load(source.scene)
    scene_out = GaussianScene.load(out_dir.parent / result.scene)
    from safetensors.torch import load_file

    idx = load_file(str(out_dir.parent / result.selected))["indices"]
    keep = torch.ones(len(scene_in), dtype=torch.bool)
    keep[idx] = False
    assert torch.equal(scene_in.sh[keep], scene_out.sh[keep]) and torch.equal(scene_in.means, scene_out.means)
    assert not torch.equal(scene_in.sh[idx], scene_out.sh[idx])
    assert result.scene == f"{out_dir.name}/scene.safetensors"
    assert len(list((out_dir.parent / result.ply_dir).glob("frame_*.ply"))) == scene_in.num_frames
    for key in ("before_input", "after_input", "before_novel", "after_novel", "comparison"):
        assert (out_dir.parent / result.renders[key]).is_file()
    json.dumps(m)  # JSON-safe for run.json


def test_remove_drops_the_cube_and_reveals_the_background(edited, source, gt_masks):
    result, out_dir = edited["remove"]
    m = result.metrics
    assert m["psnr_removed_vs_gt"] is not None and m["psnr_removed_vs_gt"] >= 25, m
    assert m["mask_iou"] >= 0.6 and m["revealed_alpha"] >= 0.9, m  # no hole where the cube was
    before, after = after_frames(result, out_dir)
    cube = gt_masks == object_id(source, "cube")
    blue = lambda f: (f[..., 2] > f[..., 0] + 0.25) & (f[..., 2] > f[..., 1] + 0.25)  # colour segmentation
    assert blue(before)[cube].sum() >= 0.5 * cube.sum()
    assert blue(after)[cube].sum() <= 0.02 * cube.sum()
    assert m["gaussians_after"] == m["gaussians_before"] - m["selected_gaussians"]


def test_extract_keeps_only_the_ball(edited, source, gt_masks):
    from worldsim.render.scene import render_scene
    from worldsim.types import Camera

    result, out_dir = edited["extract"]
    assert result.metrics["alpha_outside"] < 0.02 and result.metrics["alpha_inside"] > 0.7, result.metrics
    scene = GaussianScene.load(out_dir.parent / result.scene)
    assert len(scene) == result.metrics["selected_gaussians"]
    ball = torch.from_numpy(gt_masks == object_id(source, "ball"))
    near = torch.nn.functional.max_pool2d(ball.float()[:, None], 5, 1, 2)[:, 0] > 0  # the ball grown by 2 px
    camera = Camera.model_validate(source.camera)
    for t in range(scene.num_frames):
        alpha = render_scene(scene, camera, t)["alpha"]
        assert float(alpha[~near[t]].max()) < 0.05


def test_same_input_same_selection_and_files(edited, source, tmp_path):
    first, first_dir = edited["recolor"]
    again = FeatureFieldEditor().run(EditSpec(op="recolor", target="ball", color="yellow"), source, tmp_path / "again")
    from safetensors.torch import load_file

    a = load_file(str(first_dir.parent / first.selected))["indices"]
    b = load_file(str(tmp_path / again.selected))["indices"]
    assert torch.equal(a, b)
    for rel in ("scene.safetensors", "ply/frame_0000.ply", "selected.safetensors", "after_input.png"):
        assert sha256_file(first_dir / rel) == sha256_file(tmp_path / "again" / rel)


def test_errors_are_one_line_and_write_nothing(source, tmp_path):
    editor = FeatureFieldEditor()
    out = tmp_path / "edit"
    with pytest.raises(InputError, match="unknown colour 'plaid'"):
        editor.run(EditSpec(op="recolor", target="ball", color="plaid"), source, out)
    with pytest.raises(InputError, match="does not implement 'move'; it does: extract, recolor, remove, scale"):
        editor.run(EditSpec(op="move", target="ball", direction="left"), source, out)
    with pytest.raises(InputError, match="factor=20: .*less than or equal to 10"):
        editor.run(EditSpec(op="scale", target="ball", params={"factor": 20}), source, out)
    with pytest.raises(InputError, match="no 'car' in this scene; objects: red ball, blue cube"):
        editor.run(EditSpec(op="remove", target="car"), source, out)
    strict = FeatureFieldEditor({"thresholds": [0.99999], "threshold_floor": 0.99999})
    with pytest.raises(InputError, match=r"no Gaussians match 'ball': the highest p\(ball\|Gaussian\) is 0\.\d+"):
        strict.run(EditSpec(op="extract", target="ball"), source, out)
    scene = GaussianScene.load(source.scene)
    bad = dataclasses.replace(scene, means=scene.means.clone())
    bad.means[3, 1] = float("nan")
    bad.save(tmp_path / "nan.safetensors")
    with pytest.raises(InputError, match=r"refusing to edit .*scene.means .* NaN"):
        editor.run(EditSpec(op="remove", target="ball"), source.model_copy(update={"scene": str(tmp_path / "nan.safetensors")}), out)
    assert not out.exists()


def test_registered_as_an_editor():
    import plugins.feature_field_editor as plugin

    seen = []
    plugin.register_editors(register=seen.append)
    assert [(c.kind, c.name) for c in seen] == [("editor", "feature-field")]
    from worldsim.errors import ConfigError

    with pytest.raises(ConfigError, match="threshold_floor"):
        FeatureFieldEditor({"threshold_floor": 0.95})


# --- scale -----------------------------------------------------------------------------------------
def test_scale_op_is_exact_about_the_contact_point_and_touches_nothing_else(tmp_path):
    """On the generator's exact scene: x'(t) = p(t) + f (x(t) - p(t)) for the selection in every frame, the bottom
    height kept, and every other Gaussian, basis and field bit-identical."""
    from plugins.feature_field_editor import ops
    from worldsim.testing import tiny_clip

    tiny_clip(tmp_path / "clip")
    scene = GaussianScene.load(tmp_path / "clip" / "scene.safetensors")
    sel = scene.instance == 1
    B = scene.weights.shape[1]
    for factor in (2.0, 0.5):
        contact = ops.contact_points(scene, sel)
        edited = ops.scale(scene, sel, factor, contact)
        for t in range(scene.num_frames):
            (x, q), (x2, q2) = scene.at_frame(t), edited.at_frame(t)
            expected = contact[t].float() + factor * (x[sel] - contact[t].float())
            assert torch.allclose(x2[sel], expected, atol=1e-5)
            assert torch.equal(x2[~sel], x[~sel]) and torch.equal(q2, q)  # orientations unchanged
        assert torch.allclose(ops.bottom_heights(edited, sel), ops.bottom_heights(scene, sel), atol=1e-6)
        assert torch.allclose(edited.log_scales[sel], scene.log_scales[sel] + np.log(factor))
        for name in ("means", "log_scales"):
            assert torch.equal(getattr(edited, name)[~sel], getattr(scene, name)[~sel])
        for name in ("quats", "logit_opacities", "sh", "instance", "features"):
            a, b = getattr(edited, name), getattr(scene, name)
            assert (a is None and b is None) or torch.equal(a, b)
        assert torch.equal(edited.basis_rotations[:B], scene.basis_rotations)
        assert torch.equal(edited.basis_translations[:B], scene.basis_translations)
        assert torch.equal(edited.weights[:, :B][~sel], scene.weights[~sel]) and not edited.weights[~sel, B:].any()
        assert torch.allclose(edited.weights.sum(1), torch.ones(len(scene)))


@pytest.fixture(scope="module")
def scaled(run_dir):
    """'Make the ball bigger' through the session layer: parser, editor, registry, new version."""
    from worldsim.sessions import apply_edit

    return apply_edit(run_dir, "Make the ball bigger")


def test_make_the_ball_bigger(scaled, run_dir, source):
    from safetensors.torch import load_file

    version = open_version(scaled)
    assert version.manifest["parent"] == run_dir.name and version.manifest["plan"]["edit"] == {
        "op": "scale", "target": "ball", "params": {"factor": 2.0}}
    assert [(o.name, o.color, o.removed) for o in version.objects] == [("ball", "red", False), ("cube", "blue", False)]
    assert version.last_referenced == "ball"
    m = version.manifest["metrics"]["edit"]
    assert m["op"] == "scale" and m["factor"] == 2.0
    assert abs(m["mask_area_ratio"] / 4.0 - 1) <= 0.15, m  # area grows by factor^2
    assert abs(m["mask_area_ratio_all_frames"] / 4.0 - 1) <= 0.15, m
    assert m["bottom_height_error_max"] < 1e-4, m  # the bottom stays on the ground in every frame
    assert len(m["bottom_height_after"]) == len(m["bottom_height_before"]) == 4
    assert m["psnr_outside_object"] >= 35, m  # nothing else changes
    assert m["mask_iou"] >= 0.5, m
    # Only the selected Gaussians moved; the stored scene keeps every other parameter bit for bit.
    before = GaussianScene.load(source.scene)
    after = GaussianScene.load(version.scene)
    idx = load_file(str(scaled / "edit" / "selected.safetensors"))["indices"]
    rest = torch.ones(len(before), dtype=torch.bool)
    rest[idx] = False
    assert torch.equal(after.means[rest], before.means[rest]) and torch.equal(after.sh, before.sh)
    assert torch.allclose(after.means[idx], 2 * before.means[idx])
    B = before.weights.shape[1]
    assert torch.equal(after.basis_translations[:B], before.basis_translations) and after.weights.shape[1] > B


def test_shrink_it_edits_the_scaled_version_again(scaled, run_dir):
    from worldsim.sessions import apply_edit

    shrunk = open_version(apply_edit(scaled, "shrink it"))
    assert shrunk.manifest["lineage"] == [run_dir.name, scaled.name] and shrunk.manifest["parent"] == scaled.name
    m = shrunk.manifest["metrics"]["edit"]
    assert m["factor"] == 0.5 and m["target"] == "ball"
    assert abs(m["mask_area_ratio_all_frames"] / 0.25 - 1) <= 0.25, m
    assert m["bottom_height_error_max"] < 1e-4 and m["psnr_outside_object"] >= 35, m
