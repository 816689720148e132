"""`feature-4dgs` reconstructor: monocular video -> dynamic 3D Gaussians with a language feature field.

Cameras (`poses`, plugins.feature_gs.poses): one camera for every frame when it is static (the labels have no
`cameras`, or the estimator finds it static: exactly the single-camera path), else every frame's camera from
the labels or a pose estimator (default opencv-pnp), refined with the Gaussians. A moving camera adds
reconstruction/cameras.json ({"source", "refined", "cameras": [Camera, ...]}, the cameras the scene was
fitted with), `Reconstruction.cameras`, and pose metrics against the labels' cameras when they have them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from plugins.feature_gs.config import DEFAULT_ESTIMATOR, TrainConfig
from worldsim.errors import ConfigError
from worldsim.labels import read_labels
from worldsim.artifacts import atomic_write_json, json_safe
from worldsim.stages import Reconstructor, StageConfig
from worldsim.types import GeneratedVideo, Reconstruction

log = logging.getLogger(__name__)


class FeatureGSConfig(StageConfig):
    feature_teachers: list[str] | None = Field(None, description="teachers whose features the field learns; None: label-text when the video has labels")
    depth_teacher: str | None = Field(None, description="depth prior; None: label-depth when the generator gave depth, else plane-depth")
    mask_teacher: str | None = Field(None, description="instance masks; None: label-masks when the generator gave masks, else none")
    teacher_configs: dict[str, dict] = Field(default_factory=dict, description="settings per teacher name")
    feature_dim: int = Field(32, ge=1, le=512, description="latent feature size F per Gaussian")
    stride: int = Field(2, ge=1, le=8, description="pixels per background Gaussian at initialisation")
    pad: int = Field(48, ge=0, le=512, description="pixels of planar extension beyond the image border")
    bases_per_instance: int = Field(2, ge=1, le=16, description="SE(3) motion bases per moving instance")
    object_motion: Literal["centroid", "tracks", "labels"] = Field(
        "centroid", description="how each object's motion bases start: centroid (along its lifted mask centroid, no "
        "rotation), tracks (rigid motion fitted to its pixels tracked and lifted with the depth prior), or labels (the "
        "generator's object poses); tracks and labels let the bases hold rotation (plugins/feature_gs/object_motion.py)")
    unlabelled_bases: int = Field(4, ge=1, le=64, description="free motion bases when there are no instance masks")
    train: TrainConfig = Field(default_factory=TrainConfig)
    novel_yaws: list[Annotated[float, Field(ge=-90, le=90)]] = Field(
        default=[-15, -10, -5, 5, 10, 15], max_length=64,
        description="novel views (degrees about the scene centre, each in [-90, 90], at most 64) for psnr_novel")
    eval_frames: int = Field(16, ge=1, le=4096, description="frames used by the novel-view and feature metrics")
    fov_deg: float = Field(50.0, gt=5, lt=150, description="assumed vertical field of view for videos without a camera")
    poses: str = Field("auto", min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                       description="per-frame cameras: static (one camera), labels (the generator's ground truth), or a "
                       "pose estimator stage (e.g. opencv-pnp); auto: static when the labels have no `cameras`, else opencv-pnp")
    pose_config: dict = Field(default_factory=dict, description="settings of the pose estimator stage")
    ply_sh_degree: int = Field(0, ge=0, le=3, description="SH degree of reconstruction/ply/*.ply: (d+1)^2 coefficients "
                               "per channel, zeros above the scene's degree 0; 3 for the INRIA 3DGS loader and viewers")


    @model_validator(mode="after")
    def _pose_config_fits_the_estimator(self) -> "FeatureGSConfig":
        """pose_config is checked against the estimator that would read it when the config is loaded, not only
        when a moving clip reaches it (a static clip never runs the estimator)."""
        if self.poses in ("static", "labels"):
            return self
        from worldsim.errors import UnknownStageError
        from worldsim.registry import get_stage_info

        try:
            info = get_stage_info("pose", DEFAULT_ESTIMATOR if self.poses == "auto" else self.poses)
        except UnknownStageError as exc:
            if self.poses == "auto":  # auto falls back to the labels' cameras or a static one
                return self
            raise ValueError(f"poses: {exc}") from None
        try:
            info.cls.Config(**self.pose_config)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"pose_config.{where}={first.get('input')!r} for pose estimator '{info.name}': "
                             f"{first['msg']}") from None
        return self


class FeatureGSReconstructor(Reconstructor):
    name = "feature-4dgs"
    description = "Dynamic 3D Gaussians (motion bases) with a latent feature field decoded to 2D teachers; our CPU rasterizer or gsplat"
    Config = FeatureGSConfig

    def run(self, video: GeneratedVideo, run_dir: Path, out_dir: Path, seed: int) -> Reconstruction:
        import torch
        from tqdm import tqdm

        from plugins.feature_gs.evaluate import evaluate
        from plugins.feature_gs.init import initialise
        from plugins.feature_gs.poses import resolve_cameras
        from plugins.feature_gs.train import Targets, train
        from worldsim.registry import get_stage
        from worldsim.scene import default_camera, export_scene, orbit_target
        from worldsim.types import Camera, GaussianScene

        cfg: FeatureGSConfig = self.config
        t_start = time.perf_counter()
        frames_u8, labels, arrays = _load_video(video, run_dir)
        T, H, W, _ = frames_u8.shape
        camera = Camera.model_validate(labels["camera"]) if labels and "camera" in labels else default_camera(W, H, cfg.fov_deg)
        has = lambda key: arrays is not None and key in arrays

        def teacher(name):
            return get_stage("teacher", name, cfg.teacher_configs.get(name)).run(frames_u8, labels, arrays)

        depth_name = cfg.depth_teacher or ("label-depth" if has("depth") else "plane-depth")
        mask_name = cfg.mask_teacher or ("label-masks" if has("masks") else None)
        feature_names = cfg.feature_teachers if cfg.feature_teachers is not None else (["label-text"] if labels and has("masks") else [])
        if not feature_names:
            log.warning("no feature teacher for this video: the feature field is not trained")
        depth_maps = teacher(depth_name)
        depth = depth_maps.maps[..., 0].clone()
        if depth_maps.valid is not None:
            depth[~depth_maps.valid] = 0.0
        masks = teacher(mask_name).maps[..., 0].long() if mask_name else None
        features = {}
        for name in feature_names:
            maps = teacher(name)
            if maps.target != "feature":
                raise ConfigError(f"feature_teachers lists '{name}', which gives {maps.target}, not features")
            features[name] = maps.maps

        t_pose = time.perf_counter()
        cameras, pose_source, estimator_metrics = resolve_cameras(cfg.poses, labels, frames_u8, camera, depth, masks,
                                                                  cfg.pose_config)  # None: a static camera
        pose_s = time.perf_counter() - t_pose
        frames = torch.as_tensor(frames_u8).float() / 255.0
        torch.manual_seed(seed)
        init = initialise(frames, depth, masks, camera, stride=cfg.stride, pad=cfg.pad, feature_dim=cfg.feature_dim,
                          bases_per_instance=cfg.bases_per_instance, unlabelled_bases=cfg.unlabelled_bases, seed=seed,
                          cameras=cameras, object_motion=cfg.object_motion,
                          object_poses=_object_poses(labels) if cfg.object_motion == "labels" else None)
        bar = tqdm(total=cfg.train.iterations, desc="feature-4dgs: train", unit="it", disable=None, leave=False)

        def progress(it, loss, n):
            bar.update(1)
            if it % 25 == 0:
                bar.set_postfix(loss=f"{loss:.4f}", gaussians=n)

        try:
            model, decoders, stats = train(init.model, camera, Targets(frames, depth if depth.gt(0).any() else None, masks, features),
                                           init.basis_instance, cfg.train, seed=seed, progress=progress, cameras=cameras)
        finally:
            bar.close()
        basis_instance = torch.tensor(init.basis_instance)
        scene = model.to_scene(instance=basis_instance[torch.softmax(model.splats["motion_logits"].detach(), 1).argmax(1)])
        gt_scene = GaussianScene.load(run_dir / video.scene) if video.scene else None
        # Orbit centre: on the optical axis at the objects' median depth (the whole view's when no masks).
        subject = depth * (masks > 0) if masks is not None and bool((masks > 0).any()) else depth
        target = orbit_target(camera, subject) if bool((subject > 0).any()) else orbit_target(camera, distance=5.0)
        fitted = stats.get("cameras")  # the cameras the scene was fitted with (refined), None when static
        metrics = evaluate(scene, decoders, camera, frames_u8, features, gt_scene, yaws=tuple(cfg.novel_yaws),
                           max_frames=cfg.eval_frames, target=target, cameras=fitted)
        paths = export_scene(scene, decoders, camera, out_dir, fps=video.fps, target=target, sh_degree=cfg.ply_sh_degree,
                             cameras=fitted)
        metrics.update(num_gaussians=stats["num_gaussians"], iterations=stats["iterations"], train_s=round(stats["train_s"], 3),
                       wall_s=round(time.perf_counter() - t_start, 3), depth_teacher=depth_name, mask_teacher=mask_name)
        if cfg.object_motion != "centroid":
            metrics["object_motion"] = {"source": cfg.object_motion, "objects": {str(k): v for k, v in init.object_motion.items()}}
        if fitted is not None or (labels and labels.get("cameras")):
            metrics.update(_pose_metrics(labels, arrays, camera, T, cameras, fitted, pose_source, estimator_metrics, pose_s,
                                         bool(stats.get("poses_refined"))))
        cameras_file = None
        if fitted is not None:
            atomic_write_json(out_dir / "cameras.json", {"source": pose_source, "refined": bool(stats.get("poses_refined")),
                                                         "cameras": [c.model_dump(mode="json") for c in fitted]})
            cameras_file = "cameras.json"
        rel = lambda p: f"{out_dir.name}/{p}" if p else None
        return Reconstruction(
            scene=rel(paths["scene"]), decoders=rel(paths["decoders"]), ply_dir=rel(paths["ply_dir"]),
            point_cloud_dir=rel(paths.get("point_cloud_dir")), render_input=rel(paths.get("render_input")),
            render_novel=rel(paths.get("render_novel")), cameras=rel(cameras_file), teachers=list(features),
            metrics=json_safe(metrics),
            reconstructor=self.name,
        )


def _pose_metrics(labels, arrays, camera, T, estimated, fitted, source, estimator_metrics, pose_s, refined) -> dict:
    """Pose figures: source, refinement, seconds, and against the labels' `cameras` (when they have them)
    pose_ate_pct / pose_rre_deg / pose_ate_raw_pct (no alignment) of the fitted (refined) cameras and *_estimated
    of the cameras before refinement (worldsim.pose_metrics.pose_errors, as bench_pose.py: the extent,
    pose_extent_m, is the diameter of the true camera centres + the median of frame 0's ground-truth depth)."""
    import numpy as np

    from worldsim.pose_metrics import median_depth, pose_errors
    from worldsim.types import Camera

    out = {"poses": source, "poses_refined": refined, "pose_s": round(pose_s, 3)}
    if estimator_metrics:
        out["pose_estimator"] = estimator_metrics
    truth = labels.get("cameras") if labels else None
    if truth:
        truth = [Camera.model_validate(c) for c in truth][:T]
        depth = median_depth(np.asarray(arrays["depth"][0])) if arrays is not None and "depth" in arrays else 0.0
        est = pose_errors(estimated or [camera] * T, truth, depth)
        fit = pose_errors(fitted or [camera] * T, truth, depth)
        raw = lambda e: 100.0 * e["raw_rmse"] / e["extent"] if e["extent"] > 0 else None
        out.update(pose_ate_pct=fit["rmse_pct"], pose_rre_deg=fit["rre_deg"], pose_ate_raw_pct=raw(fit),
                   pose_ate_pct_estimated=est["rmse_pct"], pose_rre_deg_estimated=est["rre_deg"],
                   pose_ate_raw_pct_estimated=raw(est), pose_extent_m=fit["extent"], pose_alignment=fit["alignment"])
    return out


def _object_poses(labels: dict | None) -> dict:
    """{instance id: (positions [T,3], wxyz [T,4])} from the labels' object frames (object_motion: labels)."""
    import numpy as np

    poses = {}
    for obj in (labels or {}).get("objects", []):
        frames = obj.get("frames") or []
        if frames and all(f.get("position") is not None and f.get("rotation") is not None for f in frames):
            poses[int(obj["id"])] = (np.array([f["position"] for f in frames], np.float64),
                                     np.array([f["rotation"] for f in frames], np.float64))
    if not poses:
        raise ConfigError("reconstructor.object_motion=labels needs labels whose objects have per-frame position and "
                          "rotation (the procedural generator writes them); accepted otherwise: centroid, tracks")
    return poses


def _load_video(video: GeneratedVideo, run_dir: Path):
    """Frames [T,H,W,3] uint8 (lossless copies when the generator kept them), labels dict, arrays dict."""
    from safetensors.numpy import load_file

    from worldsim.io.video import read_mp4

    labels = read_labels(run_dir / video.labels).to_dict() if video.labels else None
    arrays = load_file(str(run_dir / video.arrays)) if video.arrays else None
    frames = arrays["frames"] if arrays is not None and "frames" in arrays else read_mp4(run_dir / video.video)[0]
    return frames, labels, arrays
