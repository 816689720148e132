"""Pose estimators (stage kind `pose`): the kind end to end (hook, registry, contract check, CLI), `opencv-pnp` on
small moving-camera clips of the procedural world (a truck and a pan of our own; worldsim.stage_check.moving_camera_clip
renders them), static clips, `label-poses`, bad inputs, and worldsim.pose_metrics."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim import plugins, registry
from worldsim.errors import InputError, StageContractError
from worldsim.pose_metrics import ate, median_depth, pose_errors, relative_rotation_error_deg, static_motion
from worldsim.stage_check import moving_camera_clip, truck_path
from worldsim.testing import tiny_plan
from worldsim.types import Camera, CameraPoses

SIZE, FRAMES = 64, 6


def estimator(name: str, config: dict | None = None):
    """get_stage through the plugin manager, registering the plugin module when its entry point is not installed."""
    import plugins.pose_estimation as module

    pm = plugins.get_manager()
    if not any(p is module for p in pm.get_plugins()):
        pm.register(module, name="pose-estimation")
    return registry.get_stage("pose", name, config)


def _rotation_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def pan_path(camera: Camera, num_frames: int, degrees: float) -> list[Camera]:
    """`camera` turning in place about its own vertical axis by `degrees` over the clip (the scene slides sideways)."""
    V = np.asarray(camera.viewmat)
    out = [camera]
    for t in range(1, num_frames):
        Q = np.eye(4)
        Q[:3, :3] = _rotation_y(degrees * t / (num_frames - 1))
        out.append(camera.model_copy(update={"viewmat": tuple(map(tuple, (Q @ V).tolist()))}))
    return out


@pytest.fixture(scope="module")
def truck():
    return moving_camera_clip(tiny_plan(), 7, lambda w: truck_path(w.camera, FRAMES, 0.5), FRAMES, SIZE, SIZE)


@pytest.fixture(scope="module")
def pan():
    return moving_camera_clip(tiny_plan(direction="left"), 8, lambda w: pan_path(w.camera, FRAMES, 6.0), FRAMES, SIZE, SIZE)


@pytest.fixture(scope="module")
def still():
    return moving_camera_clip(tiny_plan(), 9, None, FRAMES, 48, 48)


def run(clip, name="opencv-pnp", config=None, **kw):
    args = dict(depth=clip["depth"], masks=clip["masks"])
    args.update(kw)
    return estimator(name, config).run(clip["frames"], clip["camera"], **args)


# ---------------------------------------------------------------------------------------------------- the kind


def test_the_kind_is_declared_end_to_end():
    from worldsim.hookspecs import HOOK_FOR_KIND, PIPELINE_KINDS, STAGE_KINDS
    from worldsim.plugin_templates import KINDS
    from worldsim.stages import KIND_CLASSES, PoseEstimator

    assert "pose" in STAGE_KINDS and "pose" in KINDS and "pose" not in PIPELINE_KINDS
    assert HOOK_FOR_KIND["pose"] == "register_poses" and KIND_CLASSES["pose"] is PoseEstimator
    estimator("opencv-pnp")
    table = registry.all_stages()["pose"]
    assert {"opencv-pnp", "label-poses"} <= set(table)
    assert {table[n].plugin for n in ("opencv-pnp", "label-poses")} == {"pose-estimation"}
    assert PoseEstimator.result_type is CameraPoses


def test_plugins_check_passes_for_both_estimators(capsys):
    from worldsim.cli import main

    assert main(["plugins", "check", "pose-estimation"]) == 0
    out = capsys.readouterr().out
    for name in ("opencv-pnp", "label-poses"):
        assert f"pose '{name}' (plugin 'pose-estimation'): passed" in out
    for check in ("poses", "poses moving", "determinism", "determinism moving", "inputs moving"):
        assert f"  ok       {check}" in out, out


def test_a_malformed_pose_stage_is_caught():
    from worldsim.stages import PoseEstimator, call_stage, check_stage_class

    class Short(PoseEstimator):
        name = "short"
        description = "drops the last frame"

        def run(self, frames, camera, depth=None, masks=None, labels=None):
            return CameraPoses.still(camera, len(frames) - 1, self.name)

    class Bad(PoseEstimator):
        name = "bad"
        description = "wrong signature"

        def run(self, video, camera):
            return None

    check_stage_class(Short, "pose")
    with pytest.raises(StageContractError, match="does not match the pose signature"):
        check_stage_class(Bad, "pose")
    camera = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 16, 16, 42.0)
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(StageContractError, match=r"^pose 'short' returned 2 cameras for 3 frames; expected one per frame$"):
        call_stage(Short(), frames, camera, expected_len=3)


def test_camera_poses_keep_intrinsics_and_static_means_copies():
    camera = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 32, 32, 42.0)
    moved = truck_path(camera, 3, 0.3)
    assert CameraPoses(cameras=moved, static=False, estimator="x").num_frames == 3
    with pytest.raises(ValueError, match="static poses must repeat cameras"):
        CameraPoses(cameras=moved, static=True, estimator="x")
    wider = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 32, 32, 60.0)
    with pytest.raises(ValueError, match="every frame keeps frame 0's"):
        CameraPoses(cameras=[camera, wider], static=False, estimator="x")
    still = CameraPoses.still(camera, 4, "x")
    assert still.static and all(c == camera for c in still.cameras)
    assert np.array_equal(still.viewmats(), np.repeat(np.asarray(camera.viewmat)[None], 4, 0))


# ------------------------------------------------------------------------------------------------ opencv-pnp


def test_opencv_pnp_recovers_a_truck(truck):
    poses = run(truck)
    assert not poses.static and poses.cameras[0] == truck["camera"] and len(poses.cameras) == FRAMES
    errors = pose_errors(poses.cameras, truck["cameras"], median_depth(truck["depth"][0]))
    assert errors["rmse_pct"] < 0.5 and errors["raw_rmse"] < 0.05 and errors["rre_deg"] < 0.3, errors
    moved = np.linalg.norm(poses.centers()[-1] - poses.centers()[0])
    assert moved == pytest.approx(0.5, rel=0.1)  # the depth prior sets the metric scale
    assert poses.metrics["static"] is False and poses.metrics["min_inliers"] >= 8 and poses.metrics["failed_frames"] == []
    assert poses.metrics["median_reprojection_px"] < 0.5
    assert poses.metrics["rotation_only"] is False and poses.metrics["rotation_only_excess_px"] > 0.5


def test_opencv_pnp_recovers_a_pan(pan):
    poses = run(pan)
    errors = pose_errors(poses.cameras, pan["cameras"], median_depth(pan["depth"][0]))
    assert errors["alignment"] == "translation"  # a pan's true centres do not spread
    assert errors["raw_rmse"] < 0.05 and errors["rre_deg"] < 0.3, errors
    R = poses.viewmats()[:, :3, :3]
    turned = np.degrees(np.arccos(np.clip((np.trace(R[-1] @ R[0].T) - 1) / 2, -1, 1)))
    assert turned == pytest.approx(6.0, abs=0.3)
    # the camera only turns: its centre stays exactly at frame 0's (PnP alone drifts), unless told otherwise
    assert poses.metrics["rotation_only"] is True
    np.testing.assert_allclose(poses.centers(), np.repeat(poses.centers()[:1], FRAMES, 0), atol=1e-9)
    free = run(pan, config={"rotation_only_px": 0})
    assert free.metrics["rotation_only"] is False and np.linalg.norm(free.centers() - free.centers()[0], axis=1).max() > 1e-6


def test_without_masks_ransac_rejects_the_moving_object(truck):
    poses = run(truck, masks=None)
    errors = pose_errors(poses.cameras, truck["cameras"], median_depth(truck["depth"][0]))
    assert errors["rmse_pct"] < 1.0 and errors["rre_deg"] < 0.5, errors


def test_a_static_clip_gives_exact_copies(still, tmp_path):
    from worldsim.io.video import read_mp4, write_mp4

    poses = run(still)
    assert poses.static and poses.cameras == [still["camera"]] * FRAMES
    assert static_motion(poses.cameras) == {"max_translation": 0.0, "max_rotation_deg": 0.0}
    assert poses.metrics["static_flow_px"] == 0.0  # the background pixels are identical: the ball alone moves
    decoded = read_mp4(write_mp4(tmp_path / "still.mp4", still["frames"], 8))[0]  # H.264 noise: flow, not identity
    again = estimator("opencv-pnp").run(decoded, still["camera"], None, still["masks"])  # no depth needed when static
    assert again.static and again.cameras == [still["camera"]] * FRAMES
    assert 0 < again.metrics["static_flow_px"] < 0.05


def test_a_moving_camera_without_depth_is_refused(truck):
    with pytest.raises(InputError, match=r"the camera moves .* pass depth \[T,H,W\]"):
        run(truck, depth=None)


def test_a_lost_view_fails_or_holds(truck):
    frames = truck["frames"].copy()
    frames[4:] = 128  # a blank view from frame 4 on
    with pytest.raises(InputError, match=r"frame 4: \d+ background points tracked"):
        estimator("opencv-pnp").run(frames, truck["camera"], truck["depth"], truck["masks"])
    held = estimator("opencv-pnp", {"on_failure": "hold"}).run(frames, truck["camera"], truck["depth"], truck["masks"])
    assert held.metrics["failed_frames"] == [4, 5] and held.cameras[4] == held.cameras[5] == held.cameras[3]


def test_the_same_clip_gives_the_same_poses(truck):
    a, b = run(truck), run(truck)
    assert a.cameras == b.cameras and {k: v for k, v in a.metrics.items() if k != "wall_s"} == {
        k: v for k, v in b.metrics.items() if k != "wall_s"}


# ------------------------------------------------------------------------------------------------ label-poses


def test_label_poses_returns_the_labelled_cameras(truck, still):
    poses = run(truck, "label-poses", labels=truck["labels"])
    assert not poses.static and poses.cameras == truck["cameras"] and poses.metrics["max_translation"] == pytest.approx(0.5)
    static = run(still, "label-poses", labels=still["labels"])
    assert "cameras" not in still["labels"] and static.static and static.cameras == [still["camera"]] * FRAMES
    with pytest.raises(InputError, match=r"^pose 'label-poses' needs the generator's labels .* use the 'opencv-pnp'"):
        run(truck, "label-poses")
    other = truck["cameras"][1]
    with pytest.raises(InputError, match="the given camera is not the labels' first camera"):
        estimator("label-poses").run(truck["frames"], other, labels=truck["labels"])
    short = {**truck["labels"], "cameras": truck["labels"]["cameras"][:-1]}
    with pytest.raises(InputError, match=f"labels 'cameras' has {FRAMES - 1} cameras for {FRAMES} frames"):
        run(truck, "label-poses", labels=short)


# ------------------------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("name", ["opencv-pnp", "label-poses"])
def test_bad_inputs_are_one_line_input_errors(truck, name):
    frames, camera, depth, masks = truck["frames"], truck["camera"], truck["depth"], truck["masks"]
    cases = [
        ((frames[..., 0], camera), "frames must be uint8 [T,H,W,3] with T >= 1; got uint8 (6, 64, 64)"),
        ((frames.astype(np.float32), camera), "frames must be uint8 [T,H,W,3]"),
        ((frames.tolist(), camera), "frames must be a numpy array; got list"),
        ((frames, camera.model_dump()), "camera must be a worldsim.types.Camera"),
        ((frames[:, :32], camera), "the camera is 64x64 but the frames are 64x32"),
        ((frames, camera, depth[:-1]), "depth has 5 frames but the video has 6"),
        ((frames, camera, depth[:, :32]), "depth must be [T,H,W] = [6,64,64]; got (6, 32, 64)"),
        ((frames, camera, depth.astype(np.int32)), "depth must be float"),
        ((frames, camera, depth, masks[:-2]), "masks has 4 frames but the video has 6"),
        ((frames, camera, depth, masks + 0.5), "masks must hold integer ids (0 background); got non-integer float64"),
        ((frames, camera, depth, masks.astype(str)), "masks must hold integer ids (0 background); got <U"),
    ]
    for args, message in cases:
        with pytest.raises(InputError) as info:
            estimator(name).run(*args)
        text = str(info.value)
        assert text.startswith(f"pose '{name}': ") and message in text and "\n" not in text, text


def test_teacher_maps_are_accepted_as_depth_and_masks(truck):
    import torch

    depth = torch.from_numpy(truck["depth"])[..., None]  # [T,H,W,1] float32 like a depth teacher's maps
    masks = torch.from_numpy(truck["masks"].astype(np.float32))[..., None]  # a mask teacher's ids are floats
    poses = estimator("opencv-pnp").run(truck["frames"], truck["camera"], depth, masks)
    assert poses.cameras == run(truck).cameras


# ----------------------------------------------------------------------------------------------------- metrics


def test_metrics_are_zero_for_the_truth_and_see_through_a_similarity():
    camera = Camera.look_at((0, 1.6, 5.5), (0, 0.8, 0), 32, 32, 42.0)
    truth = [camera.orbit((0, 0.8, 0), yaw) for yaw in (0, 5, 10, 15)]
    assert ate(truth, truth, 10.0)["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert relative_rotation_error_deg(truth, truth) == pytest.approx(0.0, abs=1e-6)
    # the same path in a world scaled by 2 and shifted: a similarity away, so the aligned ATE is zero, the raw one not
    scaled = []
    for cam in truth:
        V = np.asarray(cam.viewmat).copy()
        V[:3, 3] = 2 * V[:3, 3] + V[:3, :3] @ np.array([0.0, 0.0, -1.0])
        scaled.append(cam.model_copy(update={"viewmat": tuple(map(tuple, V.tolist()))}))
    result = ate(scaled, truth, 10.0)
    assert result["rmse"] == pytest.approx(0.0, abs=1e-9) and result["scale"] == pytest.approx(0.5)
    assert result["raw_rmse"] > 1.0 and result["alignment"] == "sim3"
    assert result["extent"] == pytest.approx(10.0 + np.linalg.norm(truth[0].center() - truth[-1].center()))
    assert relative_rotation_error_deg(scaled, truth) == pytest.approx(0.0, abs=1e-6)
    # one frame turned by 1 degree: two of three consecutive pairs are off by 1 degree
    off = list(truth)
    V = np.asarray(truth[2].viewmat).copy()
    V[:3, :3] = _rotation_y(1.0) @ V[:3, :3]
    off[2] = truth[2].model_copy(update={"viewmat": tuple(map(tuple, V.tolist()))})
    assert relative_rotation_error_deg(off, truth) == pytest.approx(1.0, abs=1e-6)
    assert static_motion([camera] * 3) == {"max_translation": 0.0, "max_rotation_deg": 0.0}
    assert static_motion(truth)["max_rotation_deg"] == pytest.approx(15.0, abs=1e-6)
    with pytest.raises(ValueError, match="3 estimated cameras for 4 true ones"):
        ate(truth[:3], truth)
