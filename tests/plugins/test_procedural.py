import json
import logging

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from plugins.procedural.stage import ProceduralGenerator
from worldsim.artifacts import list_artifacts
from worldsim.errors import ConfigError
from worldsim.testing import TINY_GENERATOR, tiny_plan
from worldsim.types import Camera, GaussianScene, MotionSpec, ObjectSpec, Plan


def generate(tmp_path, plan, seed=0, **overrides):
    out = tmp_path / f"gen-{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    video = ProceduralGenerator({**TINY_GENERATOR, **overrides}).run(plan, seed=seed, out_dir=out)
    labels = json.loads((out.parent / video.labels).read_text())
    arrays = load_file(str(out.parent / video.arrays))
    return out, video, labels, arrays


def centers(labels, k=0):
    return np.array([f["center"] for f in labels["objects"][k]["frames"]])


@pytest.mark.parametrize("direction, axis, sign", [("right", 0, 1), ("left", 0, -1), ("up", 1, -1), ("down", 1, 1)])
def test_labelled_object_moves_in_commanded_direction(tmp_path, direction, axis, sign):
    _, _, labels, _ = generate(tmp_path, tiny_plan(direction=direction))
    c = centers(labels)
    steps = np.diff(c[:, axis])
    assert np.all(sign * steps > 0), c
    assert abs(c[-1, 1 - axis] - c[0, 1 - axis]) < 0.05


def test_fast_moves_farther_than_slow(tmp_path):
    travel = {}
    for speed in ("slow", "fast"):
        _, _, labels, _ = generate(tmp_path, tiny_plan(speed=speed))
        c = centers(labels)
        travel[speed] = c[-1, 0] - c[0, 0]
    assert travel["fast"] > 1.8 * travel["slow"] > 0


def test_labels_are_consistent_with_masks_and_plan(tmp_path):
    out, video, labels, arrays = generate(tmp_path, tiny_plan(count=2))
    T, H, W = 4, 32, 32
    assert arrays["frames"].shape == (T, H, W, 3) and arrays["masks"].shape == (T, H, W) and arrays["depth"].shape == (T, H, W)
    assert video.num_frames == T and (out / "video.mp4").stat().st_size > 0
    assert [o["id"] for o in labels["objects"]] == [1, 2]
    for obj in labels["objects"]:
        for f in obj["frames"]:
            m = arrays["masks"][f["t"]] == obj["id"]
            assert f["pixels"] == int(m.sum()) > 0
            x0, y0, x1, y1 = f["box"]
            px0, py0, px1, py1 = f["planned_box"]
            cx, cy = f["center"]
            assert x0 <= cx <= x1 and y0 <= cy <= y1
            assert abs(cx - (px0 + px1) / 2) < 0.08 and abs(cy - (py0 + py1) / 2) < 0.08
    # the named colour dominates the object's pixels
    red = arrays["frames"][arrays["masks"] == 1].mean(0)
    assert red[0] > 2 * red[1] and red[0] > 2 * red[2]
    # depth: objects are nearer than the wall behind them
    assert arrays["depth"][arrays["masks"] == 1].mean() < arrays["depth"][0, 0, :].mean()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = generate(tmp_path, tiny_plan(), seed=3)[0]
    b = generate(tmp_path, tiny_plan(), seed=3)[0]
    c = generate(tmp_path, tiny_plan(), seed=4)[0]
    hashes = lambda d: {p: h for p, h, _ in list_artifacts(d)}
    assert hashes(a) == hashes(b)
    assert hashes(a)["labels.safetensors"] != hashes(c)["labels.safetensors"]


def test_ground_truth_scene_re_renders_the_frames(tmp_path):
    from worldsim.render.scene import render_scene

    out, video, labels, arrays = generate(tmp_path, tiny_plan())
    scene = GaussianScene.load(out.parent / video.scene)
    camera = Camera.model_validate(labels["camera"])
    with torch.no_grad():
        rgb = render_scene(scene, camera, 2)["rgb"]
    frame = (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    assert np.abs(frame.astype(int) - arrays["frames"][2]).max() <= 1


def test_rolling_ball_rotates_and_spin_in_place_stays(tmp_path):
    _, _, labels, _ = generate(tmp_path, tiny_plan(direction="right"))
    obj = labels["objects"][0]
    assert obj["angular_speed_rad_per_frame"] > 0 and obj["spin_axis"][2] < -0.99  # rolling right: about -z
    spin = Plan(mode="generate", objects=(ObjectSpec(name="cube", color="blue"),), motion=MotionSpec(direction="none", spin=True))
    _, _, labels, _ = generate(tmp_path, spin)
    obj = labels["objects"][0]
    assert obj["spin_axis"] == [0.0, 1.0, 0.0]
    assert obj["frames"][0]["rotation"] != obj["frames"][-1]["rotation"]
    c = centers(labels)
    assert np.abs(c - c[0]).max() < 0.03


def test_unknown_noun_falls_back_with_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, _, labels, _ = generate(tmp_path, tiny_plan(name="dragon", color="green"))
    assert "unknown object noun 'dragon'" in caplog.text
    assert labels["objects"][0]["shape"] == "generic"


def test_ply_per_frame_opens_in_plyfile_and_open3d(tmp_path):
    import open3d as o3d
    from plyfile import PlyData

    out, *_ = generate(tmp_path, tiny_plan(), write_ply=True)
    plys = sorted((out / "ply").glob("*.ply"))
    assert len(plys) == 4
    v = PlyData.read(str(plys[0]))["vertex"]
    pcd = o3d.io.read_point_cloud(str(plys[0]))
    assert len(pcd.points) == v.count > 0


def test_config_is_validated():
    with pytest.raises(ConfigError, match="width"):
        ProceduralGenerator({"width": 33})
    with pytest.raises(ConfigError, match="fields: num_frames"):
        ProceduralGenerator({"colour": "red"})
