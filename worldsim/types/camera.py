"""Pinhole camera: world-to-camera 4x4 (OpenCV: x right, y down, z forward) and pixel intrinsics K."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class Camera(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    viewmat: tuple[tuple[float, ...], ...] = Field(description="[4][4] world-to-camera")
    K: tuple[tuple[float, ...], ...] = Field(description="[3][3] pixel intrinsics")

    @classmethod
    def look_at(cls, eye, target, width: int, height: int, fov_y_deg: float, up=(0.0, 1.0, 0.0)) -> "Camera":
        """OpenCV camera at `eye` looking at `target`; `up` is the world direction that appears up in the image."""
        import numpy as np

        eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, up)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])  # rows: camera x, y, z axes in world coordinates
        viewmat = np.eye(4)
        viewmat[:3, :3], viewmat[:3, 3] = R, -R @ eye
        f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        K = ((f, 0.0, width / 2), (0.0, f, height / 2), (0.0, 0.0, 1.0))
        return cls(width=width, height=height, viewmat=tuple(map(tuple, viewmat.tolist())), K=K)

    def center(self):
        """Camera centre in world coordinates, numpy [3]."""
        import numpy as np

        V = np.asarray(self.viewmat)
        return -V[:3, :3].T @ V[:3, 3]

    def ray(self, x: float, y: float):
        """Unit world direction through normalised image point (x, y) (origin top-left, y down)."""
        import numpy as np

        V, K = np.asarray(self.viewmat), np.asarray(self.K)
        d_cam = np.linalg.solve(K, np.array([x * self.width, y * self.height, 1.0]))
        d = V[:3, :3].T @ d_cam
        return d / np.linalg.norm(d)

    def project(self, points):
        """World points [N,3] -> normalised image points [N,2] and camera depths [N]."""
        import numpy as np

        V, K = np.asarray(self.viewmat), np.asarray(self.K)
        p = np.asarray(points, dtype=np.float64) @ V[:3, :3].T + V[:3, 3]
        uv = p @ K.T
        xy = uv[:, :2] / uv[:, 2:3]
        return xy / np.array([self.width, self.height]), p[:, 2]

    def orbit(self, target, yaw_deg: float, pitch_deg: float = 0.0) -> "Camera":
        """The same camera moved on a sphere around `target` (world [3]): yaw about the camera's up axis,
        pitch about its right axis, still looking at `target`, same intrinsics."""
        import numpy as np

        V = np.asarray(self.viewmat)
        R = V[:3, :3]
        right, down = R[0], R[1]
        target = np.asarray(target, dtype=np.float64)
        offset = self.center() - target

        def rotate(v, axis, deg):  # Rodrigues
            a = np.radians(deg)
            return v * np.cos(a) + np.cross(axis, v) * np.sin(a) + axis * np.dot(axis, v) * (1 - np.cos(a))

        offset = rotate(rotate(offset, -down, yaw_deg), right, pitch_deg)
        eye = target + offset
        forward = (target - eye) / np.linalg.norm(target - eye)
        new_right = np.cross(forward, -down)
        new_right /= np.linalg.norm(new_right)
        new_down = np.cross(forward, new_right)
        Rn = np.stack([new_right, new_down, forward])
        Vn = np.eye(4)
        Vn[:3, :3], Vn[:3, 3] = Rn, -Rn @ eye
        return Camera(width=self.width, height=self.height, viewmat=tuple(map(tuple, Vn.tolist())), K=self.K)
