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


# --- moving camera -------------------------------------------------------------------------------------

MOVING = {"num_frames": 6, "width": 48, "height": 48}
MOVING_KEYS = {"cameras", "camera_motion"}
MOVING_FRAME_KEYS = {"center_first_view", "planned_box_first_view"}


def moving_plan(motion="pan-left", direction="right", speed="normal", target=None):
    from worldsim.types import CameraSpec

    return Plan(mode="generate", text=f"a red ball moving {direction}, camera {motion}",
                objects=(ObjectSpec(name="ball", color="red"),), motion=MotionSpec(direction=direction),
                camera=CameraSpec(motion=motion, speed=speed, target=target))


def test_static_camera_labels_gain_no_keys(tmp_path):
    _, _, labels, _ = generate(tmp_path, tiny_plan())
    assert not MOVING_KEYS & set(labels) and "camera" in labels
    assert set(labels["objects"][0]["frames"][0]) == {"t", "box", "center", "pixels", "planned_box", "position", "rotation"}
    assert "camera" not in labels["plan"]


@pytest.mark.parametrize("motion, direction, target", [("pan-left", "right", None), ("orbit-right", "left", None),
                                                       ("dolly-in", "up", None), ("follow", "down-right", "ball")])
def test_moving_camera_labels_follow_the_per_frame_cameras(tmp_path, motion, direction, target):
    from plugins.conformance.metrics import nearest_direction
    from worldsim.camera_motion import camera_path

    plan = moving_plan(motion, direction, "fast", target)
    _, video, labels, arrays = generate(tmp_path, plan, **MOVING)
    T, W, H = 6, 48, 48
    cams = [Camera.model_validate(c) for c in labels["cameras"]]
    first = Camera.model_validate(labels["camera"])
    assert len(cams) == T and cams[0] == first and labels["camera_motion"] == plan.camera.model_dump(mode="json")
    assert cams[1] != first and labels["plan"]["camera"]["motion"] == motion
    obj = labels["objects"][0]
    positions = np.array([f["position"] for f in obj["frames"]])
    expected = camera_path(plan.camera, first, T, target_track=positions if target else None)  # positions: rounded
    assert np.allclose([c.viewmat for c in cams], [c.viewmat for c in expected], atol=1e-5)
    for t, (f, cam) in enumerate(zip(obj["frames"], cams)):
        assert f["pixels"] > 0 and MOVING_FRAME_KEYS <= set(f)
        projected = cam.project(np.array([f["position"]]))[0][0]
        assert np.abs((np.array(f["center"]) - projected) * [W, H]).max() < 1.5, (t, f["center"], projected)
        assert np.allclose(f["center_first_view"], first.project(np.array([f["position"]]))[0][0], atol=1e-5)
        px0, py0, px1, py1 = f["planned_box"]  # the planned box as this frame's camera sees it holds the object
        assert px0 <= f["center"][0] <= px1 and py0 <= f["center"][1] <= py1
    assert np.allclose(obj["frames"][0]["planned_box"], obj["frames"][0]["planned_box_first_view"], atol=1e-5)
    first_view = np.array([f["center_first_view"] for f in obj["frames"]])
    dx, dy = (first_view[-1] - first_view[0]) * [W, H] / np.hypot(W, H)
    assert nearest_direction(dx, dy, 0.02) == direction  # the command holds in the world, seen from the first camera
    if motion == "follow":
        c = np.array([f["center"] for f in obj["frames"]])
        assert np.abs((c - c[0]) * [W, H]).max() < 1.5
    # the ground-truth scene re-renders every frame from its own camera
    import torch

    from worldsim.render.scene import render_scene

    scene = GaussianScene.load(tmp_path / video.scene)
    with torch.no_grad():
        out = render_scene(scene, cams[-1], T - 1)
    frame = (out["rgb"].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    assert np.abs(frame.astype(int) - arrays["frames"][-1]).max() <= 1
    assert float(out["alpha"].min()) > 0.9  # the widened background leaves no hole


@pytest.mark.parametrize("motion, direction", [("orbit-left", "right"), ("pan-right", "right"), ("tilt-up", "right"),
                                               ("dolly-out", "right"), ("truck-left", "right"), ("follow", "down")])
def test_the_background_covers_every_frame_of_a_fast_camera(motion, direction):
    import torch

    from worldsim.render.scene import render_scene
    from worldsim.world.builder import build_world, to_scene

    plan = moving_plan(motion, direction, speed="fast", target="ball" if motion == "follow" else None)
    plan = plan.model_copy(update={"motion": MotionSpec(direction=direction, speed="fast")})  # follow: down to the ground
    world = build_world(plan, 0, 4, 32, 32, 42.0, 120, 0.6)
    scene = to_scene(world)
    with torch.no_grad():
        alphas = [float(render_scene(scene, world.camera_at(t), t, backend="torch")["alpha"].min()) for t in range(4)]
    assert min(alphas) > 0.9, alphas


def test_a_camera_target_that_is_not_in_the_plan_is_one_line(tmp_path):
    from worldsim.errors import InputError

    with pytest.raises(InputError, match="camera's target 'car' is not an object of the plan"):
        generate(tmp_path, moving_plan("follow", target="car"))
