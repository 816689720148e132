import numpy as np
import pytest
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


# --- fixed SH degree (the INRIA 3DGS loader assumes degree 3) ---------------------------------------------------

REST_45 = [f"f_rest_{i}" for i in range(45)]
LAYOUT_SH3 = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", *REST_45,
              "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]


def _gaussians(n=40, k=1, seed=0):
    rng = np.random.default_rng(seed)
    return dict(means=rng.normal(size=(n, 3)), quats=rng.normal(size=(n, 4)), log_scales=rng.normal(size=(n, 3)),
                logit_opacities=rng.normal(size=n), sh=rng.normal(size=(n, k, 3)).astype(np.float32))


def _by_suffix(names, prefix):
    return sorted((p for p in names if p.startswith(prefix)), key=lambda p: int(p.split("_")[-1]))


def load_like_3dgs(path, max_sh_degree=3):
    """Our own restatement of what graphdeco-inria's GaussianModel.load_ply checks and how it lays out the data:
    x/y/z, opacity and f_dc_0..2 read by name; every f_rest_* sorted by its number, their count asserted to be
    3*(degree+1)^2 - 3, then viewed as [N, 3 channels, coefficients-1]; scale_* and rot_* sorted by number."""
    v = PlyData.read(str(path)).elements[0]
    names = [p.name for p in v.properties]
    xyz = np.stack([np.asarray(v[a]) for a in ("x", "y", "z")], axis=1)
    opacity = np.asarray(v["opacity"])[:, None]
    dc = np.stack([np.asarray(v[f"f_dc_{c}"]) for c in range(3)], axis=1)[:, :, None]  # [N,3,1]
    rest = _by_suffix(names, "f_rest_")
    assert len(rest) == 3 * (max_sh_degree + 1) ** 2 - 3
    extra = np.zeros((xyz.shape[0], len(rest)))
    for i, name in enumerate(rest):
        extra[:, i] = np.asarray(v[name])
    extra = extra.reshape(xyz.shape[0], 3, (max_sh_degree + 1) ** 2 - 1)
    scales = np.stack([np.asarray(v[p]) for p in _by_suffix(names, "scale_")], axis=1)
    rots = np.stack([np.asarray(v[p]) for p in _by_suffix(names, "rot_")], axis=1)
    return dict(xyz=xyz, opacity=opacity, dc=dc, extra=extra, scales=scales, rots=rots)


def test_degree_3_has_the_3dgs_writer_layout_zero_padded_and_round_trips(tmp_path):
    data = _gaussians(k=1)
    path = write_gaussian_ply(tmp_path / "g.ply", **data, sh_degree=3)
    ply = PlyData.read(str(path))
    dtype = ply["vertex"].data.dtype
    assert list(dtype.names) == LAYOUT_SH3
    assert all(dtype[name] == np.dtype("<f4") for name in dtype.names)
    assert ply.header.count("binary_little_endian 1.0") == 1 and ply.header.count("property float ") == len(LAYOUT_SH3)
    for name in REST_45:
        assert not np.any(ply["vertex"][name])
    back = read_gaussian_ply(path)
    assert back["sh"].shape == (40, 16, 3) and not np.any(back["sh"][:, 1:])
    np.testing.assert_array_equal(back["sh"][:, :1], data["sh"])
    for key in ("means", "quats", "log_scales", "logit_opacities"):
        np.testing.assert_array_equal(back[key], np.asarray(data[key], np.float32))


def test_a_3dgs_style_loader_accepts_degree_3_and_rejects_degree_0(tmp_path):
    data = _gaussians(k=4)  # degree 1: padded to 3, the coefficients it has land where the loader expects them
    loaded = load_like_3dgs(write_gaussian_ply(tmp_path / "sh3.ply", **data, sh_degree=3))
    sh = data["sh"]
    assert loaded["extra"].shape == (40, 3, 15)
    for c in range(3):
        np.testing.assert_array_equal(loaded["extra"][:, c, :3], sh[:, 1:, c])
    assert not np.any(loaded["extra"][:, :, 3:])
    np.testing.assert_array_equal(loaded["dc"][:, :, 0], sh[:, 0, :])
    np.testing.assert_array_equal(loaded["rots"], np.asarray(data["quats"], np.float32))
    np.testing.assert_array_equal(loaded["scales"], np.asarray(data["log_scales"], np.float32))
    with pytest.raises(AssertionError):
        load_like_3dgs(write_gaussian_ply(tmp_path / "sh0.ply", **_gaussians(k=1)))
    load_like_3dgs(tmp_path / "sh0.ply", max_sh_degree=0)  # a degree-0 loader reads it


@pytest.mark.parametrize("k", [1, 4])
def test_default_and_own_degree_write_identical_bytes(tmp_path, k):
    data = _gaussians(k=k)
    plain = write_gaussian_ply(tmp_path / "plain.ply", **data).read_bytes()
    assert write_gaussian_ply(tmp_path / "none.ply", **data, sh_degree=None).read_bytes() == plain
    assert write_gaussian_ply(tmp_path / "own.ply", **data, sh_degree=int(np.sqrt(k)) - 1).read_bytes() == plain


@pytest.mark.parametrize("degree", [0, 1, 2])
def test_lower_degree_than_the_data_is_refused(tmp_path, degree):
    with pytest.raises(ValueError, match=rf"sh_degree={degree} .*SH degree 3"):
        write_gaussian_ply(tmp_path / "g.ply", **_gaussians(k=16), sh_degree=degree)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("degree", [4, -1, True, 1.0, "3"])
def test_bad_degree_is_refused(tmp_path, degree):
    with pytest.raises(ValueError, match="0..3"):
        write_gaussian_ply(tmp_path / "g.ply", **_gaussians(), sh_degree=degree)
    assert list(tmp_path.iterdir()) == []


def test_coefficient_count_that_is_no_degree_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not \\(degree\\+1\\)\\^2"):
        write_gaussian_ply(tmp_path / "g.ply", **_gaussians(k=2), sh_degree=3)
