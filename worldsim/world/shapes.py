"""Object shapes as oriented surface Gaussians on superquadrics, one family per kind of object noun."""

from __future__ import annotations

import numpy as np

# Superquadric exponents (e1: latitude / vertical, e2: longitude / horizontal) per shape family.
EXPONENTS: dict[str, tuple[float, float]] = {
    "sphere": (1.0, 1.0),
    "box": (0.15, 0.15),
    "elongated": (0.45, 0.6),
    "hull": (0.7, 1.0),
    "generic": (0.7, 0.7),
}


def _inside(p: np.ndarray, half: np.ndarray, e1: float, e2: float) -> np.ndarray:
    """Superquadric inside-outside function F; the surface is F = 1. p: [M,3] -> [M]."""
    q = np.abs(p / half) + 1e-12
    return (q[:, 0] ** (2 / e2) + q[:, 2] ** (2 / e2)) ** (e2 / e1) + q[:, 1] ** (2 / e1)


def fibonacci_sphere(m: int) -> np.ndarray:
    """[m,3] nearly uniform unit directions."""
    i = np.arange(m) + 0.5
    phi = np.arccos(1 - 2 * i / m)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], axis=1)


def quat_from_z_to(normals: np.ndarray) -> np.ndarray:
    """wxyz quaternions [M,4] rotating +z onto each unit normal [M,3]."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(np.broadcast_to(z, normals.shape), normals)
    w = 1.0 + normals @ z
    q = np.concatenate([w[:, None], axis], axis=1)
    opposite = w < 1e-8
    q[opposite] = [0.0, 1.0, 0.0, 0.0]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def surface_gaussians(family: str, size: tuple[float, float, float], count: int) -> dict[str, np.ndarray]:
    """Flat Gaussians tiling the surface of a superquadric of extent `size` (x, y, z), centred at 0.

    Returns means [M,3], normals [M,3], quats [M,4] wxyz, scales [M,3] (linear).
    """
    e1, e2 = EXPONENTS[family]
    half = np.asarray(size, dtype=np.float64) / 2
    d = fibonacci_sphere(count) * half  # stretch first so points spread over the long axes
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    # Radial projection onto F = 1: F is homogeneous of degree 2/e1 in the radius.
    r = _inside(d, half, e1, e2) ** (-e1 / 2)
    means = d * r[:, None]
    eps = 1e-4 * half.min()
    grad = np.stack(
        [(_inside(means + eps * np.eye(3)[k], half, e1, e2) - _inside(means - eps * np.eye(3)[k], half, e1, e2)) for k in range(3)],
        axis=1,
    )
    normals = grad / np.linalg.norm(grad, axis=1, keepdims=True)
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    spacing = np.sort(dist, axis=1)[:, :3].mean(axis=1)  # [M] mean distance to 3 nearest neighbours
    scales = np.stack([spacing * 0.75, spacing * 0.75, spacing * 0.12], axis=1)
    return {"means": means, "normals": normals, "quats": quat_from_z_to(normals), "scales": scales}


def surface_pattern(means: np.ndarray) -> np.ndarray:
    """[M] in {0, 1}: a checker in object-local spherical coordinates, so rotation is visible."""
    d = means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-12)
    azimuth = np.arctan2(d[:, 2], d[:, 0])
    tilt = np.arctan2(d[:, 1], d[:, 0])
    return ((np.floor(azimuth / (np.pi / 3)) + np.floor(tilt / (np.pi / 2))) % 2).astype(np.float64)
