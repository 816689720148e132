import numpy as np
from plyfile import PlyData

from worldsim.io.ply import read_gaussian_ply, rgb_to_sh_dc, sh_dc_to_rgb, write_gaussian_ply


def test_ply_has_3dgs_layout_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    n = 50
    sh = rng.normal(size=(n, 4, 3)).astype(np.float32)  # degree 1
    data = dict(means=rng.normal(size=(n, 3)), quats=rng.normal(size=(n, 4)), log_scales=rng.normal(size=(n, 3)),
                logit_opacities=rng.normal(size=n), sh=sh)
    path = write_gaussian_ply(tmp_path / "g.ply", **data)
    ply = PlyData.read(str(path))
    names = list(ply["vertex"].data.dtype.names)
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[9:18] == [f"f_rest_{i}" for i in range(9)]
    assert names[18:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    assert ply.header.count("binary_little_endian") == 1
    # channel-major f_rest: f_rest_0..2 are the red coefficients of bands 1..3
    np.testing.assert_allclose(ply["vertex"]["f_rest_1"], sh[:, 2, 0], rtol=1e-6)
    back = read_gaussian_ply(path)
    for key, value in data.items():
        np.testing.assert_allclose(back[key], np.asarray(value, np.float32), rtol=1e-6, atol=1e-6)


def test_sh_dc_colour_conversion():
    rgb = np.array([[0.2, 0.5, 0.9]])
    np.testing.assert_allclose(sh_dc_to_rgb(rgb_to_sh_dc(rgb)), rgb)
