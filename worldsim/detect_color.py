"""An independent object detector for generated frames: segment the pixels of a named colour.

Every pixel is classified to the nearest of a set of reference colours under a shading-aware RGB
distance: for a pixel p and a reference c, d(p, c) = |p - k c| with the brightness factor
k = (p . c) / (c . c) clipped to [k_min, k_max], so a shaded red (0.5 x red) is still red. The
references are the named palette (worldsim.colors.COLORS) plus the neutral scene tones the procedural
generator paints the ground and sky with (`background_colors`), which only match at about their own
brightness. A pixel belongs to the colour when that colour is its nearest reference and
d <= `max_distance`. Connected components smaller than `min_pixels` are dropped, so isolated
compression speckles do not stretch the box. Boxes are normalised xyxy (origin top-left, x right,
y down), exclusive of the far pixel edge, like the procedural labels.

Known limit: the neutral colours white, silver and gray compete with the grey ground and the
ground-sky horizon blend (a shaded white is a grey); on procedural clips at 32 px their boxes grow
onto the horizon (IoU with the labels about 0.2 for white, 0.2-1.0 for silver and gray, depending on
the ground palette), while every chromatic colour, black and beige reach IoU 0.77-1.0 (tests/test_detect_color.py).
Use chromatic colours where the detector is the measurement.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from worldsim.colors import COLORS, canonical_color, color_rgb

OBJECT_BRIGHTNESS = (0.4, 1.15)  # shading range of an object's colour (the procedural shading spans 0.4-1)
BACKGROUND_BRIGHTNESS = (0.85, 1.15)  # the ground and sky tones vary little
MAX_DISTANCE = 0.16
MIN_PIXELS = 3


@lru_cache(maxsize=1)
def background_colors() -> tuple[tuple[float, float, float], ...]:
    """The procedural generator's ground tile tones and sky gradient end points (sRGB in [0, 1])."""
    from worldsim.world.builder import GROUND_PALETTES, SKY_BOTTOM, SKY_TOP

    tones = [tuple(float(v) for v in c) for pair in GROUND_PALETTES.values() for c in pair]
    sky = [tuple(float(v) for v in (1 - w) * SKY_BOTTOM + w * SKY_TOP) for w in (0.0, 0.5, 1.0)]
    return tuple(tones + sky)


def _distances(pixels: np.ndarray, refs: np.ndarray, brightness: np.ndarray) -> np.ndarray:
    """Shading-aware distance of pixels [P,3] to references [R,3] with brightness ranges [R,2]: [P,R]."""
    k = np.clip((pixels @ refs.T) / (refs * refs).sum(1)[None], brightness[:, 0], brightness[:, 1])  # [P,R]
    return np.linalg.norm(pixels[:, None, :] - k[..., None] * refs[None], axis=-1)


def color_mask(frames: np.ndarray, color: str, max_distance: float = MAX_DISTANCE,
               background: bool = True) -> np.ndarray:
    """Pixels of the named colour: [T,H,W] bool for frames [T,H,W,3] uint8 (or one frame [H,W,3] -> [H,W])."""
    frames = np.asarray(frames)
    single = frames.ndim == 3
    if single:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T,H,W,3], got {frames.dtype} {tuple(frames.shape)}")
    color_rgb(color)  # an unknown colour raises InputError naming the accepted ones
    names = list(COLORS)
    target = names.index(canonical_color(color))
    pixels = frames.reshape(-1, 3).astype(np.float32) / 255.0
    ranges = np.tile(np.array(OBJECT_BRIGHTNESS, np.float32), (len(names), 1))
    d = _distances(pixels, np.array([COLORS[n] for n in names], np.float32), ranges)  # [P,C]
    if background:
        bg = np.array(background_colors(), np.float32)
        d_bg = _distances(pixels, bg, np.tile(np.array(BACKGROUND_BRIGHTNESS, np.float32), (len(bg), 1)))
        d = np.concatenate([d, d_bg], axis=1)
    mask = (d.argmin(1) == target) & (d[:, target] <= max_distance)
    mask = mask.reshape(frames.shape[:3])
    return mask[0] if single else mask


def drop_small(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """The mask [H,W] less its 8-connected components of fewer than min_pixels pixels."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def mask_box(mask: np.ndarray) -> list[float] | None:
    """Tight normalised xyxy box of a boolean mask [H,W]; None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    h, w = mask.shape
    return [float(xs.min() / w), float(ys.min() / h), float((xs.max() + 1) / w), float((ys.max() + 1) / h)]


def color_boxes(frames: np.ndarray, color: str, min_pixels: int = MIN_PIXELS, max_distance: float = MAX_DISTANCE,
                background: bool = True) -> list[list[float] | None]:
    """Per frame, the normalised xyxy box of the named colour's pixels (components of >= min_pixels); None where absent."""
    masks = color_mask(frames, color, max_distance, background)
    if masks.ndim == 2:
        masks = masks[None]
    return [mask_box(drop_small(m, min_pixels)) for m in masks]
