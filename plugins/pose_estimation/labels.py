"""`label-poses`: the generator's ground-truth cameras (labels.json `cameras`), for generated clips.

The labels reach the estimator through the `labels` keyword of `PoseEstimator.run` (the same dict a teacher gets):
`camera` is the first frame's camera, `cameras` every frame's when the camera moves (absent for a static camera:
then the result is static, exact copies of the given camera). The given `camera` must be the labels' first camera
(to 1e-6 of its entries); the result's `cameras[0]` is the given camera itself.
"""

from __future__ import annotations

from pydantic import Field

from worldsim.errors import InputError
from worldsim.stages import PoseEstimator, StageConfig
from worldsim.types import Camera, CameraPoses


class LabelPosesConfig(StageConfig):
    tolerance: float = Field(1e-6, ge=0, le=1, description="largest difference between the given camera and the labels' "
                             "first camera (viewmat and K entries) still taken as the same camera")


class LabelPoses(PoseEstimator):
    name = "label-poses"
    description = "Ground-truth cameras from the generator's labels (labels.json `cameras`); static clips give copies"
    Config = LabelPosesConfig

    def run(self, frames, camera: Camera, depth=None, masks=None, labels: dict | None = None) -> CameraPoses:
        import numpy as np

        from worldsim.pose_metrics import static_motion

        frames, _, _ = self.check_inputs(frames, camera, depth, masks)
        T = frames.shape[0]
        who = f"pose '{self.name}'"
        if labels is None:
            raise InputError(f"{who} needs the generator's labels (labels.json with `camera`, and `cameras` for a moving "
                             f"camera); for footage without labels use the 'opencv-pnp' estimator")
        if hasattr(labels, "model_dump"):
            labels = labels.model_dump(mode="json", exclude_unset=True)
        if not isinstance(labels, dict):
            raise InputError(f"{who}: labels must be the labels.json dict; got {type(labels).__name__}")

        def camera_of(value, where: str) -> Camera:
            try:
                return value if isinstance(value, Camera) else Camera.model_validate(value)
            except Exception as exc:  # noqa: BLE001 - pydantic's error, shortened to one line
                raise InputError(f"{who}: labels {where} is not a camera ({type(exc).__name__})") from None

        def same(a: Camera, b: Camera) -> bool:
            return (a.width, a.height) == (b.width, b.height) and bool(
                np.allclose(a.viewmat, b.viewmat, rtol=0, atol=self.config.tolerance)
                and np.allclose(a.K, b.K, rtol=self.config.tolerance, atol=self.config.tolerance))

        raw = labels.get("cameras")
        if raw is None:  # a static camera writes no `cameras`
            first = labels.get("camera")
            if first is not None and not same(camera_of(first, "'camera'"), camera):
                raise InputError(f"{who}: the given camera is not the labels' camera; pass labels.json's `camera`")
            return CameraPoses.still(camera, T, self.name, {"source": "labels", "frames": T, "moving": False,
                                                              "max_translation": 0.0, "max_rotation_deg": 0.0})
        if not isinstance(raw, list) or len(raw) != T:
            got = f"{len(raw)} cameras" if isinstance(raw, list) else type(raw).__name__
            raise InputError(f"{who}: labels 'cameras' has {got} for {T} frames")
        cameras = [camera_of(c, f"'cameras[{t}]'") for t, c in enumerate(raw)]
        if not same(cameras[0], camera):
            raise InputError(f"{who}: the given camera is not the labels' first camera (cameras[0]); pass labels.json's "
                             f"`camera`")
        for t, cam in enumerate(cameras):
            if (cam.width, cam.height) != (camera.width, camera.height) or not np.allclose(cam.K, camera.K, rtol=0,
                                                                                          atol=self.config.tolerance):
                raise InputError(f"{who}: labels 'cameras[{t}]' has other intrinsics than frame 0's camera")
        cameras = [camera] + [cam.model_copy(update={"K": camera.K}) for cam in cameras[1:]]
        motion = static_motion(cameras)
        static = all(cam == camera for cam in cameras)
        return CameraPoses(cameras=cameras, static=static, estimator=self.name,
                           metrics={"source": "labels", "frames": T, "moving": True,
                                    **{k: round(v, 9) for k, v in motion.items()}})
