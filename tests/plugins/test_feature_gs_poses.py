"""feature-4dgs with a moving camera: per-frame cameras (labels, estimators), the unchanged static path,
joint pose refinement, pose metrics and cameras.json. Tiny clips: 48x48, 6 frames, a few iterations."""

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from plugins.feature_gs.config import TrainConfig
from plugins.feature_gs.init import initialise
from plugins.feature_gs.poses import in_world_of, is_moving, resolve_cameras, se3_exp
from plugins.feature_gs.stage import FeatureGSReconstructor
from plugins.feature_gs.train import Targets, train
from worldsim.errors import ConfigError
from worldsim.pose_metrics import pose_errors
from worldsim.registry import get_stage
from worldsim.testing import TINY_GENERATOR, tiny_plan
from worldsim.types import Camera, CameraSpec, GaussianScene

SMALL = {**TINY_GENERATOR, "width": 48, "height": 48, "num_frames": 6}
RECON = {"train": {"iterations": 40, "densify": False}, "pad": 8, "eval_frames": 2, "novel_yaws": [5.0]}


def _clip(root, motion="static", seed=0):
    """(video, run folder, labels dict, arrays dict) of a tiny procedural clip filmed by `motion`."""
    plan = tiny_plan()
    if motion != "static":
        plan = plan.model_copy(update={"camera": CameraSpec(motion=motion)})
    (root / "generator").mkdir(parents=True)
    video = get_stage("generator", "procedural", SMALL).run(plan, seed=seed, out_dir=root / "generator")
    return video, root, json.loads((root / video.labels).read_text()), load_file(str(root / video.arrays))


def _reconstruct(clip, name, **config):
    video, root, _, _ = clip
    out = root / name
    out.mkdir()
    return FeatureGSReconstructor({**RECON, **config}).run(video, root, out, seed=0)


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("moving"), "orbit-left")


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("still"))


def _noisy(cameras, rng, metres, degrees):
    out = [cameras[0]]
    for c in cameras[1:]:
        xi = np.concatenate([rng.normal(0, metres, 3), np.radians(rng.normal(0, degrees, 3))])
        vm = se3_exp(torch.tensor(xi)).numpy() @ np.asarray(c.viewmat)
        out.append(c.model_copy(update={"viewmat": tuple(map(tuple, vm.tolist()))}))
    return out


def test_se3_exp_is_exact_at_zero_and_matches_rodrigues():
    assert torch.equal(se3_exp(torch.zeros(6)), torch.eye(4))
    a = 0.3
    M = se3_exp(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, a], dtype=torch.float64))
    R = torch.tensor([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]], dtype=torch.float64)
    torch.testing.assert_close(M[:3, :3], R)
    torch.testing.assert_close(se3_exp(torch.tensor([1.0, 2.0, 3.0, 0, 0, 0]))[:3, 3], torch.tensor([1.0, 2.0, 3.0]))
    xi = torch.tensor([0.1, -0.2, 0.05, 1e-5, 2e-5, -1e-5], requires_grad=True)  # the series branch has gradients
    se3_exp(xi).sum().backward()
    assert torch.isfinite(xi.grad).all()


def test_world_frame_is_frame_zeros_camera(moving):
    _, _, labels, _ = moving
    truth = [Camera.model_validate(c) for c in labels["cameras"]]
    assert truth[0] == Camera.model_validate(labels["camera"]) and is_moving(truth)
    shift = np.eye(4)
    shift[:3, 3] = (1.0, -2.0, 0.5)  # the same motion in another world frame
    other = [c.model_copy(update={"viewmat": tuple(map(tuple, (np.asarray(c.viewmat) @ shift).tolist()))}) for c in truth]
    back = in_world_of(other, truth[0])
    assert back[0] == truth[0]
    np.testing.assert_allclose([c.viewmat for c in back], [c.viewmat for c in truth], atol=1e-9)
    errors = pose_errors(back, truth, scene_depth=5.0)
    assert errors["rmse_pct"] < 1e-6 and errors["rre_deg"] < 1e-6


def test_pose_sources(still, moving):
    _, _, labels, arrays = still
    frames, depth = arrays["frames"], torch.as_tensor(arrays["depth"])
    cam = Camera.model_validate(labels["camera"])
    assert resolve_cameras("auto", labels, frames, cam, depth, None) == (None, "labels", None)  # static: no estimator
    assert resolve_cameras("labels", labels, frames, cam, depth, None)[0] is None
    assert resolve_cameras("static", None, frames, cam, depth, None) == (None, "static", None)
    with pytest.raises(ConfigError, match="no labels"):
        resolve_cameras("labels", None, frames, cam, depth, None)
    with pytest.raises(ConfigError, match="no-such-estimator"):
        resolve_cameras("no-such-estimator", labels, frames, cam, depth, None)
    _, _, mlabels, marrays = moving
    cams, source, _ = resolve_cameras("labels", mlabels, marrays["frames"], Camera.model_validate(mlabels["camera"]),
                                      torch.as_tensor(marrays["depth"]), None)
    assert source == "labels" and [c.model_dump(mode="json") for c in cams] == mlabels["cameras"]


def test_moving_camera_with_label_poses_reconstructs_and_writes_cameras(moving):
    _, root, labels, _ = moving
    rec = FeatureGSReconstructor({**RECON, "poses": "labels"}).run(moving[0], root, _mkdir(root / "rec_labels"), seed=0)
    m = rec.metrics
    assert m["psnr_train"] > 26, m
    assert m["poses"] == "labels" and m["poses_refined"] is True
    assert m["pose_ate_pct_estimated"] < 1e-6 and m["pose_rre_deg_estimated"] < 1e-6  # the truth itself
    assert m["pose_ate_pct"] < 1.0 and m["pose_rre_deg"] < 1.0  # refinement keeps it close
    assert rec.cameras == "rec_labels/cameras.json"
    saved = json.loads((root / rec.cameras).read_text())
    assert saved["source"] == "labels" and saved["refined"] is True and len(saved["cameras"]) == 6
    assert saved["cameras"][0] == labels["camera"]
    assert "cameras" in rec.model_dump(mode="json")


def test_static_path_is_unchanged(still):
    """poses auto on a static clip is the single-camera path: same scene tensors as poses static, no cameras.json,
    run.json outputs without `cameras`, no pose metrics."""
    _, root, _, _ = still
    recs = {p: FeatureGSReconstructor({**RECON, "train": {"iterations": 10, "densify": False}, "poses": p}).run(
        still[0], root, _mkdir(root / f"rec_{p}"), seed=0) for p in ("auto", "static")}
    scenes = {p: GaussianScene.load(root / r.scene) for p, r in recs.items()}
    for field in ("means", "quats", "log_scales", "logit_opacities", "sh", "basis_rotations", "basis_translations", "weights",
                  "features"):
        assert torch.equal(getattr(scenes["auto"], field), getattr(scenes["static"], field)), field
    for rec in recs.values():
        assert rec.cameras is None and "cameras" not in rec.model_dump(mode="json")
        assert not (root / rec.scene).parent.joinpath("cameras.json").exists()
        assert not any(k.startswith("pose") for k in rec.metrics)


def test_refinement_moves_perturbed_poses_towards_the_truth(moving):
    """Ground truth + noise (2 cm, 1 degree per axis): the rotations come back towards the truth, the centres stay
    put. (At 48x48 a 1 degree turn is a pixel and 2 cm a quarter of one; the translations trade off against the
    rotations through this narrow view, which is why they learn slowly: poses.TRANSLATION_RATE.)"""
    _, _, labels, arrays = moving
    truth = [Camera.model_validate(c) for c in labels["cameras"]]
    noisy = _noisy(truth, np.random.default_rng(1), metres=0.02, degrees=1.0)
    frames = torch.as_tensor(arrays["frames"]).float() / 255
    depth, masks = torch.as_tensor(arrays["depth"]), torch.as_tensor(arrays["masks"]).long()
    init = initialise(frames, depth, masks, truth[0], pad=8, feature_dim=4, cameras=noisy)
    _, _, stats = train(init.model, truth[0], Targets(frames, depth, masks, {}), init.basis_instance,
                        TrainConfig(iterations=150, densify=False, pose_lr=3e-3), cameras=noisy)
    refined = stats["cameras"]
    assert refined[0] == truth[0] and stats["poses_refined"]
    centre = lambda cams: np.mean([np.linalg.norm(a.center() - b.center()) for a, b in zip(cams[1:], truth[1:])])
    R = lambda c: np.asarray(c.viewmat)[:3, :3]
    angle = lambda cams: np.mean([np.degrees(np.arccos(np.clip((np.trace(R(a).T @ R(b)) - 1) / 2, -1, 1)))
                                  for a, b in zip(cams[1:], truth[1:])])
    assert angle(refined) < 0.9 * angle(noisy), (angle(noisy), angle(refined))  # measured 1.02 -> 0.80 degrees
    assert centre(refined) < 1.15 * centre(noisy), (centre(noisy), centre(refined))  # 27.4 -> 29.1 mm


def _mkdir(path):
    path.mkdir()
    return path


def test_pose_metrics_of_a_pan_whose_estimate_drifts_are_not_zero(still):
    """A pan's true centres do not spread: the ATE aligns by a translation only, so a drifting estimate keeps its
    error (a similarity would shrink it onto one point and report 0)."""
    from plugins.feature_gs.stage import _pose_metrics

    _, _, labels, arrays = still
    cam = Camera.model_validate(labels["camera"])
    truth = [cam.model_copy(update={"viewmat": tuple(map(tuple, (_turn(t) @ np.asarray(cam.viewmat)).tolist()))})
             for t in range(4)]
    drift = [c.model_copy(update={"viewmat": tuple(map(tuple, (np.asarray(c.viewmat) @ _shift(0.05 * t)).tolist()))})
             for t, c in enumerate(truth)]
    m = _pose_metrics({**labels, "cameras": [c.model_dump(mode="json") for c in truth]}, arrays, cam, 4, drift, drift,
                      "opencv-pnp", None, 0.1, True)
    assert m["pose_alignment"] == "translation" and m["pose_ate_pct"] > 0.1, m
    assert m["pose_extent_m"] > 1.0


def _turn(t):
    a = np.radians(2.0 * t)
    m = np.eye(4)
    m[0, 0], m[0, 2], m[2, 0], m[2, 2] = np.cos(a), np.sin(a), -np.sin(a), np.cos(a)
    return m


def _shift(dy):
    m = np.eye(4)
    m[1, 3] = dy
    return m


def test_pose_settings_are_checked_when_the_config_is_loaded():
    """A static clip never runs the estimator, so its settings are checked against it when the stage is built."""
    with pytest.raises(ConfigError, match=r"pose_config.rotation_only_travel=5 for pose estimator 'opencv-pnp'"):
        get_stage("reconstructor", "feature-4dgs", {"pose_config": {"rotation_only_travel": 5}})
    with pytest.raises(ConfigError, match="pose_config.nope=1 .*Extra inputs"):
        get_stage("reconstructor", "feature-4dgs", {"pose_config": {"nope": 1}})
    with pytest.raises(ConfigError, match="poses: unknown pose 'nope'"):
        get_stage("reconstructor", "feature-4dgs", {"poses": "nope"})
    assert get_stage("reconstructor", "feature-4dgs", {"poses": "static", "pose_config": {"rotation_only_px": 0.3}})
