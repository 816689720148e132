"""feature-4dgs evaluation and the core scene export (worldsim.scene), with the procedural ground-truth scene standing in for a reconstruction."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as load_numpy

from plugins.feature_gs.evaluate import evaluate, novel_cameras
from worldsim.decoders import DecoderSet, FeatureDecoder
from worldsim.io.ply import read_gaussian_ply, sh_dc_to_rgb
from worldsim.io.video import read_mp4
from worldsim.render.metrics import psnr
from worldsim.render.scene import render_scene
from worldsim.scene import export_scene, load_exported, orbit_target
from worldsim.testing import tiny_clip
from worldsim.types import Camera, GaussianScene, TeacherMaps

F_DIM = 32


@pytest.fixture(scope="module")
def gt(tmp_path_factory):
    """(scene with random features, decoders, camera, frames [T,H,W,3] uint8, depth [T,H,W])."""
    out = tmp_path_factory.mktemp("recon") / "generator"
    _, labels, arrays = tiny_clip(out)
    scene = GaussianScene.load(out / "scene.safetensors")
    g = torch.Generator().manual_seed(0)
    scene = replace(scene, features=torch.randn(len(scene), F_DIM, generator=g))  # [N,F]
    torch.manual_seed(0)
    decoders = DecoderSet({"clip": FeatureDecoder(F_DIM, 8), "dino": FeatureDecoder(F_DIM, 6)})
    return scene, decoders, Camera(**labels["camera"]), arrays["frames"], arrays["depth"]


def decoded_features(scene, decoders, camera, name):
    """What the decoders make of the rendered latent feature maps: [T,H,W,D]."""
    with torch.no_grad():
        return torch.stack([decoders[name](render_scene(scene, camera, t, extra=scene.features)["extra"])
                            for t in range(scene.num_frames)])


def perturbed(scene):
    g = torch.Generator().manual_seed(1)
    return replace(scene, means=scene.means + 0.08 * torch.randn(scene.means.shape, generator=g),
                   sh=scene.sh + 0.3 * torch.randn(scene.sh.shape, generator=g))


def test_orbit_target_is_on_the_optical_axis_at_the_median_depth(gt):
    _, _, camera, _, depth = gt
    target = orbit_target(camera, depth)
    (xy,), (z,) = camera.project(target[None])
    assert np.allclose(xy, [0.5, 0.5], atol=1e-6)
    assert z == pytest.approx(float(np.median(depth[depth > 0])), rel=1e-6)
    assert orbit_target(camera, None, distance=2.0) == pytest.approx(camera.center() + 2.0 * np.asarray(camera.viewmat)[2, :3])
    with pytest.raises(ValueError, match="distance"):
        orbit_target(camera, None)
    with pytest.raises(ValueError, match="no finite positive depth"):
        orbit_target(camera, np.zeros((4, 4)))


def test_novel_cameras_orbit_the_target(gt):
    _, _, camera, _, depth = gt
    target = orbit_target(camera, depth)
    cams = novel_cameras(camera, target)
    assert [y for y, _ in cams] == [-15, -10, -5, 5, 10, 15]
    radius = np.linalg.norm(camera.center() - target)
    for yaw, cam in cams:
        assert np.linalg.norm(cam.center() - target) == pytest.approx(radius, rel=1e-6)
        assert np.allclose(cam.project(target[None])[0], 0.5, atol=1e-6)
        cos = np.dot(cam.center() - target, camera.center() - target) / radius**2
        assert math.degrees(math.acos(min(1.0, cos))) == pytest.approx(abs(yaw), abs=1e-4)


def test_ground_truth_scores_near_perfect_and_a_perturbed_scene_lower(gt):
    scene, decoders, camera, frames, _ = gt
    good = evaluate(scene, decoders, camera, frames, gt_scene=scene)
    assert good["psnr_train"] >= 40 and good["ssim_train"] >= 0.99
    assert good["psnr_novel"] >= 80  # identical renders: inf
    assert set(good["psnr_novel_by_yaw"]) == {"-15", "-10", "-5", "5", "10", "15"}
    assert good["psnr_novel_covered"] >= 80 and good["novel_coverage"] == pytest.approx(1.0)
    assert good["eval_frames"] == [0, 1, 2, 3] and "feature_cosine" not in good

    bad = evaluate(perturbed(scene), decoders, camera, frames, gt_scene=scene, yaws=(-10, 10), max_frames=2)
    assert bad["eval_frames"] == [0, 3] and set(bad["psnr_novel_by_yaw"]) == {"-10", "10"}
    assert bad["psnr_train"] < good["psnr_train"] - 10 and bad["psnr_train"] < 35
    assert bad["psnr_novel"] < 35 and bad["psnr_novel"] == pytest.approx(np.mean(list(bad["psnr_novel_by_yaw"].values())))
    assert bad["psnr_novel_covered"] < 40 and 0 < bad["novel_coverage"] <= 1


def test_feature_cosine_is_one_for_the_decoded_rendered_features(gt):
    scene, decoders, camera, frames, _ = gt
    clip = decoded_features(scene, decoders, camera, "clip")  # [T,H,W,8]
    dino = decoded_features(scene, decoders, camera, "dino")  # [T,H,W,6]
    coarse = torch.nn.functional.interpolate(dino.permute(0, 3, 1, 2), size=(16, 16), mode="bilinear",
                                             align_corners=False, antialias=True).permute(0, 2, 3, 1)
    m = evaluate(scene, decoders, camera, frames, teacher_features={"clip": clip, "dino": coarse})
    assert m["feature_cosine_by_teacher"]["clip"] == pytest.approx(1.0, abs=1e-5)
    assert m["feature_cosine_by_teacher"]["dino"] == pytest.approx(1.0, abs=1e-5)
    assert m["feature_cosine"] == pytest.approx(1.0, abs=1e-5)

    valid = torch.zeros(clip.shape[:3], dtype=torch.bool)
    valid[:, :16] = True
    noisy = clip.clone()
    noisy[:, 16:] = -noisy[:, 16:]  # opposite where the teacher says nothing
    m = evaluate(scene, decoders, camera, frames, teacher_features={
        "clip": TeacherMaps("clip", "feature", noisy, valid=valid), "dino": -dino})
    assert m["feature_cosine_by_teacher"]["clip"] == pytest.approx(1.0, abs=1e-5)
    assert m["feature_cosine_by_teacher"]["dino"] == pytest.approx(-1.0, abs=1e-5)
    assert m["feature_cosine"] == pytest.approx(0.0, abs=1e-5)

    with pytest.raises(ValueError, match="no decoder for teacher"):
        evaluate(scene, decoders, camera, frames, teacher_features={"sam": clip})


@pytest.fixture(scope="module")
def exported(gt, tmp_path_factory):
    scene, decoders, camera, _, _ = gt
    run = tmp_path_factory.mktemp("run")
    paths = export_scene(scene, decoders, camera, run / "reconstructor", fps=8)
    return run, paths


def test_export_writes_every_artifact_and_loads_back(gt, exported):
    scene, decoders, camera, frames, _ = gt
    run, paths = exported
    T, N = scene.num_frames, len(scene)
    assert paths == {
        "scene": "scene.safetensors", "features": "features.safetensors", "decoders": "decoders.safetensors",
        "ply_dir": "ply", "point_cloud_dir": "point_clouds", "render_input": "render_input.mp4",
        "render_novel": "render_novel.mp4",
    }
    rec = run / "reconstructor"
    assert sorted(p.name for p in (rec / "ply").iterdir()) == [f"frame_{t:04d}.ply" for t in range(T)]
    assert sorted(p.name for p in (rec / "point_clouds").iterdir()) == [f"frame_{t:04d}.ply" for t in range(T)]
    assert not [p for p in rec.rglob(".*")], "temporary files left behind"

    loaded, dec = load_exported(rec)
    for name in ("means", "sh", "basis_translations", "weights", "instance", "features"):
        assert torch.equal(getattr(loaded, name), getattr(scene, name))
    x = torch.randn(5, F_DIM)
    assert set(dec) == {"clip", "dino"} and torch.equal(dec["clip"](x), decoders["clip"](x))
    side = load_numpy(str(rec / "features.safetensors"))
    assert side["features"].shape == (N, F_DIM) and np.array_equal(side["instance"], scene.instance.numpy())

    video, fps = read_mp4(rec / "render_input.mp4")
    assert video.shape == frames.shape and fps == 8
    assert psnr(torch.tensor(video) / 255.0, torch.tensor(frames) / 255.0) > 30  # H.264 of the same renders
    novel, _ = read_mp4(rec / "render_novel.mp4")
    assert novel.shape == frames.shape and np.abs(novel[0].astype(int) - frames[0]).mean() > 1  # a moved camera


def test_exported_plys_open_in_plyfile_and_open3d(gt, exported):
    import open3d as o3d
    from plyfile import PlyData

    scene, _, _, _, _ = gt
    run, _ = exported
    N = len(scene)
    rgb = np.clip(sh_dc_to_rgb(scene.sh[:, 0].numpy()), 0, 1)
    standard = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    for t in range(scene.num_frames):
        means = scene.at_frame(t)[0].numpy()
        ply = PlyData.read(str(run / f"reconstructor/ply/frame_{t:04d}.ply"))
        assert list(ply["vertex"].data.dtype.names) == standard and len(ply["vertex"].data) == N
        for path in (run / f"reconstructor/ply/frame_{t:04d}.ply", run / f"reconstructor/point_clouds/frame_{t:04d}.ply"):
            cloud = o3d.io.read_point_cloud(str(path))
            assert len(cloud.points) == N
            assert np.allclose(np.asarray(cloud.points), means, atol=1e-5)
        cloud = o3d.io.read_point_cloud(str(run / f"reconstructor/point_clouds/frame_{t:04d}.ply"))
        assert np.allclose(np.asarray(cloud.colors), rgb, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("t", [0, 3])
def test_ply_round_trip_renders_the_same_frame(gt, exported, t):
    scene, _, camera, _, _ = gt
    run, _ = exported
    g = {k: torch.from_numpy(v) for k, v in read_gaussian_ply(run / f"reconstructor/ply/frame_{t:04d}.ply").items()}
    n = g["means"].shape[0]
    static = GaussianScene(**g, basis_rotations=torch.tensor([[[1.0, 0, 0, 0]]]), basis_translations=torch.zeros(1, 1, 3),
                           weights=torch.ones(n, 1), instance=torch.full((n,), -1))
    with torch.no_grad():
        a = render_scene(static, camera, 0)
        b = render_scene(scene, camera, t)
    for key in ("rgb", "alpha"):
        assert (a[key] - b[key]).abs().max() <= 1e-3


@pytest.mark.parametrize("where", ["means", "features", "decoder"])
def test_export_refuses_non_finite_values_and_writes_nothing(gt, tmp_path, where):
    scene, decoders, camera, _, _ = gt
    if where == "decoder":
        decoders = DecoderSet({k: FeatureDecoder(v.latent_dim, v.out_dim, v.hidden) for k, v in decoders.items()})
        with torch.no_grad():
            decoders["clip"].net[0].weight[0, 0] = float("inf")
        match = "decoders.clip.net.0.weight"
    else:
        bad = getattr(scene, where).clone()
        bad[3, 1] = float("nan")
        scene, match = replace(scene, **{where: bad}), f"scene.{where}"
    with pytest.raises(ValueError, match=match):
        export_scene(scene, decoders, camera, tmp_path / "reconstructor", fps=8)
    assert list(tmp_path.iterdir()) == []
