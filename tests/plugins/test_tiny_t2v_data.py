import numpy as np

from plugins.tiny_t2v.data import DIRECTION_WORDS, build_dataset, caption, sample_specs


def test_specs_are_seeded_and_cover_directions():
    a, b = sample_specs(200, 5), sample_specs(200, 5)
    assert a == b and a != sample_specs(200, 6)
    assert {s.direction for s in a} >= {"left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right"}


def test_captions_carry_no_direction_and_levels_are_measured():
    data = build_dataset(3, seed=1, num_frames=8, size=16)
    assert data["frames"].shape == (3, 8, 16, 16, 3) and data["frames"].dtype == np.uint8
    for text, spec, level in zip(data["captions"], data["specs"], data["levels"]):
        assert text.startswith(f"one {spec['color']} {spec['noun']}")
        assert not DIRECTION_WORDS & set(text.split())
        assert 1 <= level <= 10
    assert caption("red", "car", "sand") == "one red car on sand"
