import numpy as np
import pytest

from worldsim import motion
from worldsim.errors import InputError
from worldsim.testing import tiny_clip, tiny_plan

SPEEDS = ("slow", "normal", "fast")
RESOLUTIONS = (32, 64, 128)


@pytest.fixture(scope="module")
def procedural_frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion")
    clips = {}
    for res in RESOLUTIONS:
        for speed in SPEEDS:
            _, _, arrays = tiny_clip(root / f"{res}-{speed}", tiny_plan(speed=speed), seed=0, num_frames=16, width=res, height=res)
            clips[res, speed] = arrays["frames"]
    return clips


def square_clip(size: int, step_px: float, frames: int = 5) -> np.ndarray:
    """A red square translating right by step_px per frame on a grey background."""
    out = np.full((frames, size, size, 3), 128, np.uint8)
    side = size // 5
    for t in range(frames):
        x0 = int(round(size * 0.2 + t * step_px))
        out[t, size // 2 - side // 2: size // 2 + side // 2, x0:x0 + side] = (220, 30, 30)
    return out


def test_procedural_clips_measure_their_commanded_level_at_every_resolution(procedural_frames):
    for speed in SPEEDS:
        expected = motion.speed_level(speed, 16, "right")
        measured = [motion.video_intensity_level(procedural_frames[res, speed]) for res in RESOLUTIONS]
        assert measured == [expected] * len(RESOLUTIONS), (speed, measured, expected)
    assert motion.speed_level("slow", 16) < motion.speed_level("normal", 16) < motion.speed_level("fast", 16)


def test_magnitude_is_resolution_independent_and_tracks_true_speed(procedural_frames):
    for speed in SPEEDS:
        m = [float(motion.flow_magnitudes(procedural_frames[res, speed]).mean()) for res in RESOLUTIONS]
        truth = motion.expected_magnitude(speed, 16) / motion.FLOW_RESPONSE
        assert max(m) / min(m) < 1.1, m
        for v in m:
            assert 0.85 < v / truth < 1.12, (speed, v, truth)


def test_translating_square_magnitude_in_diagonal_fractions():
    for size, step in ((64, 2.0), (128, 4.0)):
        frames = square_clip(size, step)
        m = motion.flow_magnitudes(frames)
        assert m.shape == (4,)
        truth = step / (size * np.sqrt(2))
        assert np.all(np.abs(m / truth - 1) < 0.2), (m, truth)
        d = motion.flow_magnitudes(frames, method="dis")
        assert np.all(np.abs(d / truth - 1) < 0.35), (d, truth)


def test_static_clip_is_level_one(tmp_path):
    _, _, arrays = tiny_clip(tmp_path, tiny_plan(direction="none"), num_frames=6)
    assert motion.flow_magnitudes(arrays["frames"]).max() < 0.002
    assert motion.video_intensity_level(arrays["frames"]) == 1
    assert motion.speed_level("fast", 16, "none") == 1


def test_levels_are_clipped_and_monotonic():
    levels = [motion.intensity_level(m) for m in np.linspace(0, 0.2, 200)]
    assert levels[0] == 1 and levels[-1] == 10 and levels == sorted(levels) and set(levels) == set(range(1, 11))
    assert motion.intensity_level(0.02, scale=0.01) == 2


def test_speed_level_follows_frames_and_aspect():
    assert motion.speed_level("normal", 8) > motion.speed_level("normal", 32)
    # a horizontal motion across a wide frame covers more of the diagonal than across a tall one
    assert motion.expected_magnitude("fast", 16, "right", 320, 180) > motion.expected_magnitude("fast", 16, "right", 180, 320)


def test_bad_input_names_the_value():
    with pytest.raises(InputError, match="optical flow method 'lk'"):
        motion.flow_magnitudes(square_clip(32, 1), method="lk")
    with pytest.raises(InputError, match="at least 2 frames"):
        motion.flow_magnitudes(square_clip(32, 1, frames=1))
    with pytest.raises(InputError, match="uint8"):
        motion.flow_magnitudes(np.zeros((3, 8, 8, 3), np.float32))
    with pytest.raises(InputError, match="speed 'warp'"):
        motion.speed_level("warp", 16)
    with pytest.raises(InputError, match="magnitude"):
        motion.intensity_level(float("nan"))
