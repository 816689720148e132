import numpy as np
import pytest

from worldsim.detect_color import color_boxes, color_mask, mask_box
from worldsim.errors import InputError
from worldsim.testing import tiny_clip, tiny_plan

# seeds whose procedural ground palettes are tiles, concrete, sand, clay
PALETTE_SEEDS = {0: "tiles", 1: "concrete", 4: "sand", 11: "clay"}
CHROMATIC = ("red", "green", "blue", "yellow", "purple", "brown", "black")


def iou(a, b):
    if a is None or b is None:
        return 0.0
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("seed", list(PALETTE_SEEDS))
def test_boxes_match_the_labels_and_the_ground_never_triggers(tmp_path, seed):
    import cv2

    for color in CHROMATIC:
        _, labels, arrays = tiny_clip(tmp_path / color, tiny_plan(color=color), seed=seed, width=48, height=48)
        assert labels["ground_palette"] == PALETTE_SEEDS[seed]
        boxes = color_boxes(arrays["frames"], color)
        ious = [iou(b, f["box"]) for b, f in zip(boxes, labels["objects"][0]["frames"])]
        assert min(ious) >= 0.6 and np.mean(ious) >= 0.75, (color, ious)
        mask = color_mask(arrays["frames"], color)
        near_object = np.stack([cv2.dilate((m == 1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for m in arrays["masks"]])
        assert not (mask & ~near_object).any(), color


def test_absent_colour_gives_no_boxes(tmp_path):
    for seed in PALETTE_SEEDS:
        _, _, arrays = tiny_clip(tmp_path / str(seed), tiny_plan(color="blue"), seed=seed)
        for color in ("red", "green", "yellow", "purple", "brown", "orange"):
            assert color_boxes(arrays["frames"], color) == [None] * 4, (seed, color)


def test_shaded_rectangle_box_is_exact():
    frame = np.full((40, 60, 3), 90, np.uint8)
    frame[10:20, 30:50] = (int(0.55 * 220), int(0.55 * 25), int(0.55 * 25))  # a dark red
    frame[12:18, 32:40] = (220, 25, 25)
    assert color_boxes(frame[None], "red") == [[30 / 60, 10 / 40, 50 / 60, 20 / 40]]
    assert color_mask(frame, "red").sum() == 200
    assert color_boxes(frame[None], "blue") == [None]


def test_speckles_below_min_pixels_are_dropped():
    frame = np.full((32, 32, 3), 90, np.uint8)
    frame[4:12, 4:12] = (30, 60, 230)
    frame[28, 28] = (30, 60, 230)
    assert color_boxes(frame[None], "blue") == [[4 / 32, 4 / 32, 12 / 32, 12 / 32]]
    assert color_boxes(frame[None], "blue", min_pixels=1) == [[4 / 32, 4 / 32, 29 / 32, 29 / 32]]


def test_mask_box_and_errors():
    assert mask_box(np.zeros((4, 4), bool)) is None
    with pytest.raises(InputError, match="unknown colour 'plaid'"):
        color_mask(np.zeros((1, 4, 4, 3), np.uint8), "plaid")
    assert color_mask(np.zeros((1, 4, 4, 3), np.uint8), "Grey").shape == (1, 4, 4)
