import hashlib

import numpy as np
import pytest

from worldsim.errors import InputError
from worldsim.io.video import read_mp4, write_mp4


def _frames():
    x = np.linspace(0, 255, 32, dtype=np.float32)
    f = np.zeros((6, 32, 32, 3), np.uint8)
    for t in range(6):
        f[t, :, :, 0] = np.roll(x, 3 * t)[None, :]
        f[t, :, :, 2] = 128
    return f


def test_mp4_round_trip_and_bit_exact(tmp_path):
    f = _frames()
    a, b = write_mp4(tmp_path / "a.mp4", f, 8), write_mp4(tmp_path / "b.mp4", f, 8)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    g, fps = read_mp4(a)
    assert g.shape == f.shape and fps == 8
    assert np.abs(g.astype(int) - f).mean() < 4
    assert b"avc1" in a.read_bytes()[:4096]  # H.264 sample entry
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_odd_size_is_rejected(tmp_path):
    with pytest.raises(InputError, match="must be even"):
        write_mp4(tmp_path / "c.mp4", np.zeros((2, 31, 32, 3), np.uint8), 8)
    assert not (tmp_path / "c.mp4").exists()
