"""Frame sampling and encoding for the model answerers."""

import base64
import io

import numpy as np
import pytest

from plugins.answerers.frames import data_url, load_frames, resize_frames, sample_indices, to_pil
from worldsim.errors import InputError
from worldsim.types import ScoreInput


def test_sample_indices_spread_evenly_first_and_last_included():
    assert sample_indices(16, 4) == [0, 5, 10, 15]
    assert sample_indices(8, 8) == list(range(8)) and sample_indices(3, 8) == [0, 1, 2]
    assert sample_indices(9, 1) == [4] and sample_indices(9, 2) == [0, 8]
    with pytest.raises(InputError, match="num_frames must be >= 1; got 0"):
        sample_indices(8, 0)


def test_resize_keeps_aspect_and_encodes_png():
    frames = np.random.default_rng(0).integers(0, 255, (2, 20, 40, 3), dtype=np.uint8)
    small = resize_frames(frames, 20)
    assert small.shape == (2, 10, 20, 3) and small.dtype == np.uint8
    assert resize_frames(frames, 40) is frames
    from PIL import Image

    url = data_url(frames[0])
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert url.startswith("data:image/png;base64,") and np.array_equal(back, frames[0])  # PNG is lossless
    assert [im.size for im in to_pil(small)] == [(20, 10), (20, 10)]


def test_load_frames_from_a_run(tmp_path):
    from worldsim.testing import tiny_clip, tiny_plan

    video, _, _ = tiny_clip(tmp_path / "generator", num_frames=6)
    inputs = ScoreInput(run_dir=str(tmp_path), plan=tiny_plan(), seed=0, video=video)
    frames, idx, fps = load_frames(inputs, 3, max_side=16)
    assert frames.shape == (3, 16, 16, 3) and idx == [0, 2, 5] and fps == 8
    assert not np.array_equal(frames[0], frames[-1])  # the ball moved
    (tmp_path / video.video).unlink()
    with pytest.raises(InputError, match="does not exist"):
        load_frames(inputs, 3)
