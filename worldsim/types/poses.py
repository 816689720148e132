"""What a pose estimator hands a reconstructor: one camera per video frame, in the world frame of frame 0's camera.

`cameras[0]` is the camera the estimator was given (frame 0's, exactly: its viewmat defines the world frame and
its intrinsics are everyone's); `cameras[t]` is frame t's world-to-camera pose with the same size and K.
`static` says the estimator decided the camera did not move: then every camera equals `cameras[0]`, so a static
video gives bit-identical downstream results with or without pose estimation. `metrics` is JSON (inliers,
reprojection error in pixels, ...); its keys are the estimator's own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from worldsim.types.camera import Camera


class CameraPoses(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: list[Camera] = Field(min_length=1, description="one camera per frame; cameras[0] is the given frame-0 camera")
    static: bool = Field(description="the estimator decided the camera did not move (every camera equals cameras[0])")
    metrics: dict[str, JsonValue] = Field(default_factory=dict, description="JSON figures: inliers, reprojection error, ...")
    estimator: str = Field(description="the pose stage's name")

    @model_validator(mode="after")
    def _consistent(self) -> "CameraPoses":
        first = self.cameras[0]
        for t, cam in enumerate(self.cameras):
            if (cam.width, cam.height, cam.K) != (first.width, first.height, first.K):
                raise ValueError(f"cameras[{t}] has size {cam.width}x{cam.height} / K {cam.K}; every frame keeps frame 0's "
                                 f"{first.width}x{first.height} / K {first.K}")
        if self.static and any(cam != first for cam in self.cameras):
            t = next(t for t, cam in enumerate(self.cameras) if cam != first)
            raise ValueError(f"static poses must repeat cameras[0]; cameras[{t}] differs")
        return self

    @classmethod
    def still(cls, camera: Camera, num_frames: int, estimator: str, metrics: dict | None = None) -> "CameraPoses":
        """`num_frames` exact copies of `camera`, static=True."""
        return cls(cameras=[camera] * num_frames, static=True, metrics=metrics or {}, estimator=estimator)

    @property
    def num_frames(self) -> int:
        return len(self.cameras)

    def viewmats(self):
        """numpy float64 [T,4,4] world-to-camera matrices."""
        import numpy as np

        return np.asarray([cam.viewmat for cam in self.cameras], dtype=np.float64)

    def centers(self):
        """numpy float64 [T,3] camera centres in world coordinates."""
        import numpy as np

        return np.stack([cam.center() for cam in self.cameras])
