"""Tile-based PyTorch Gaussian rasterizer (worldsim.render.rasterize) against gsplat and dense references."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from worldsim.render.rasterize import (
    ALPHA_MAX,
    ALPHA_MIN,
    T_MIN,
    _dense_reference,
    eval_sh,
    project,
    rasterization,
)


def _scene(n=40, width=40, height=24, d=3, cameras=1, seed=0, dtype=torch.float64):
    """Random Gaussians in front of `cameras` slightly different pinhole cameras (OpenCV axes)."""
    g = torch.Generator().manual_seed(seed)
    z = 2.0 + 2.0 * torch.rand(n, generator=g, dtype=dtype)  # [N]
    xy = (torch.rand(n, 2, generator=g, dtype=dtype) * 2 - 1) * 0.6 * z[:, None]  # [N,2]
    means = torch.cat([xy, z[:, None]], dim=1)  # [N,3]
    quats = torch.randn(n, 4, generator=g, dtype=dtype)  # [N,4] unnormalised
    scales = torch.exp(torch.empty(n, 3, dtype=dtype).uniform_(math.log(0.05), math.log(0.3), generator=g))
    opacities = 0.05 + 0.9 * torch.rand(n, generator=g, dtype=dtype)  # [N]
    colors = torch.rand(n, d, generator=g, dtype=dtype)  # [N,D]
    viewmats = torch.eye(4, dtype=dtype).repeat(cameras, 1, 1)  # [C,4,4]
    for c in range(1, cameras):  # small rotation about y and a shift
        a = 0.1 * c
        viewmats[c, :3, :3] = torch.tensor(
            [[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]], dtype=dtype
        )
        viewmats[c, :3, 3] = torch.tensor([0.1 * c, -0.05 * c, 0.2 * c], dtype=dtype)
    f = 0.6 * width
    Ks = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=dtype).repeat(cameras, 1, 1)
    return means, quats, scales, opacities, colors, viewmats, Ks


def _sequential_reference(means2d, conics, opacities, colors, depths, radii, width, height):
    """A direct transcription of gsplat's per-pixel kernel loop (one camera): Python loop over
    depth-sorted Gaussians, vectorised over pixels. Returns ([H,W,D], [H,W,1], done [H*W])."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    px, py = xs.flatten().to(means2d) + 0.5, ys.flatten().to(means2d) + 0.5  # [HW]
    T = torch.ones_like(px)  # [HW]
    done = torch.zeros_like(px, dtype=torch.bool)
    out = torch.zeros(px.numel(), colors.shape[-1], dtype=means2d.dtype)  # [HW,D]
    ids = torch.nonzero((radii > 0).all(-1)).squeeze(1)
    for i in ids[torch.argsort(depths[ids])].tolist():
        dx, dy = means2d[i, 0] - px, means2d[i, 1] - py
        a, b, c = conics[i]
        sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
        alpha = torch.clamp_max(opacities[i] * torch.exp(-sigma), ALPHA_MAX)
        use = ~done & (sigma >= 0) & (alpha >= ALPHA_MIN)
        next_T = T * (1 - alpha)
        done = done | (use & (next_T <= T_MIN))
        use = use & (next_T > T_MIN)
        out = out + torch.where(use[:, None], (alpha * T)[:, None] * colors[i], 0.0)
        T = torch.where(use, next_T, T)
    return out.reshape(height, width, -1), (1 - T).reshape(height, width, 1), done


# (a) projection and SH against gsplat's PyTorch reference implementation


def test_projection_matches_gsplat_torch_impl():
    from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

    means, quats, scales, _, _, viewmats, Ks = _scene(n=300, width=64, height=48, cameras=2, seed=1)
    means = means * torch.tensor([3.0, 3.0, 1.5], dtype=means.dtype) - torch.tensor([0, 0, 1.0], dtype=means.dtype)
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)  # [N,3,3]
    radii_ref, means2d_ref, depths_ref, conics_ref, comp_ref = _fully_fused_projection(
        means, covars, viewmats, Ks, 64, 48, eps2d=0.3, near_plane=0.01, far_plane=1e10, calc_compensations=True
    )
    radii, means2d, depths, conics, comp = project(
        means, quats, scales, viewmats, Ks, 64, 48, 0.3, 0.01, 1e10, calc_compensations=True
    )
    assert radii.shape == radii_ref.shape == (2, 300, 2) and radii.dtype == torch.int32
    visible = (radii > 0).all(-1)
    assert 50 < int(visible.sum()) < 550  # some culled (behind / off-screen), most not
    assert torch.equal(radii, radii_ref)
    torch.testing.assert_close(depths, depths_ref)
    torch.testing.assert_close(means2d[visible], means2d_ref[visible])
    torch.testing.assert_close(conics[visible], conics_ref[visible])
    torch.testing.assert_close(comp[visible], comp_ref[visible])
    # With opacities: gsplat's tighter box (CUDA kernel), never larger, and transparent ones culled.
    opac = torch.rand(300, dtype=means.dtype, generator=torch.Generator().manual_seed(2))
    radii_o = project(means, quats, scales, viewmats, Ks, 64, 48, opacities=opac)[0]
    assert (radii_o <= radii).all() and (radii_o[:, opac < ALPHA_MIN] == 0).all()


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_matches_gsplat_torch_impl(degree):
    from gsplat.cuda._torch_impl import _spherical_harmonics

    g = torch.Generator().manual_seed(degree)
    dirs = torch.randn(2, 50, 3, generator=g, dtype=torch.float64) * 3  # unnormalised
    coeffs = torch.randn(2, 50, 16, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(eval_sh(degree, dirs, coeffs), _spherical_harmonics(degree, dirs, coeffs))


def test_sh_colors_in_rasterization():
    means, quats, scales, opac, _, viewmats, Ks = _scene(cameras=2, seed=3)
    from gsplat.cuda._torch_impl import _spherical_harmonics

    sh = torch.randn(means.shape[0], 16, 3, dtype=means.dtype, generator=torch.Generator().manual_seed(4)) * 0.3
    campos = torch.inverse(viewmats)[:, :3, 3]  # [C,3]
    rgb = _spherical_harmonics(3, means[None] - campos[:, None], sh.expand(2, *sh.shape))  # [C,N,3]
    rgb = torch.clamp_min(rgb + 0.5, 0.0)
    a = rasterization(means, quats, scales, opac, sh, viewmats, Ks, 40, 24, sh_degree=3)[0]
    b = rasterization(means, quats, scales, opac, rgb, viewmats, Ks, 40, 24)[0]  # per-camera colours [C,N,3]
    torch.testing.assert_close(a, b)


# (b) tiled compositing against dense references


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-5), (torch.float32, 1e-4)])
@pytest.mark.parametrize("d,mode,bg", [(3, "RGB", False), (32, "RGB", False), (3, "RGB+ED", False), (3, "RGB", True)])
def test_tiled_equals_dense(dtype, atol, d, mode, bg):
    means, quats, scales, opac, colors, viewmats, Ks = _scene(n=120, d=d, cameras=2, seed=5, dtype=dtype)
    backgrounds = torch.rand(2, d, dtype=dtype) if bg else None
    args = (means, quats, scales, opac, colors, viewmats, Ks, 40, 24)
    c, a, meta = rasterization(*args, backgrounds=backgrounds, render_mode=mode, backend="torch")
    c_ref, a_ref, _ = rasterization(*args, backgrounds=backgrounds, render_mode=mode, backend="dense")
    assert c.shape == (2, 24, 40, d + (mode == "RGB+ED")) and a.shape == (2, 24, 40, 1) and c.dtype == dtype
    assert 0.3 < a.mean() < 1.0  # a scene with real overlap
    assert (c - c_ref).abs().max() <= atol and (a - a_ref).abs().max() <= atol


def test_dense_reference_equals_sequential_kernel_loop():
    # Dense, opaque, overlapping Gaussians so that pixels terminate early (T <= 1e-4).
    means, quats, scales, opac, colors, viewmats, Ks = _scene(n=150, seed=6)
    opac = torch.full_like(opac, 0.97)
    radii, m2d, depths, conics, _ = project(means, quats, scales * 2, viewmats, Ks, 40, 24, opacities=opac)
    opac_c, colors_c = opac[None].expand(1, -1), colors[None]
    ref = _sequential_reference(m2d[0], conics[0], opac_c[0], colors_c[0], depths[0], radii[0], 40, 24)
    dense = _dense_reference(m2d, conics, opac_c, colors_c, depths, radii, 40, 24)
    tiled = rasterization(means, quats, scales * 2, opac, colors, viewmats, Ks, 40, 24)
    assert ref[2].float().mean() > 0.2  # many pixels hit the transmittance cut-off
    for out in (dense, tiled):
        torch.testing.assert_close(out[0][0], ref[0], atol=1e-10, rtol=0)
        torch.testing.assert_close(out[1][0], ref[1], atol=1e-10, rtol=0)


def test_render_modes_and_meta():
    args = _scene(cameras=2, seed=7)
    rgb, alpha, meta = rasterization(*args, 40, 24)
    d = rasterization(*args, 40, 24, render_mode="D")[0]
    ed = rasterization(*args, 40, 24, render_mode="ED")[0]
    rgbd = rasterization(*args, 40, 24, render_mode="RGB+D")[0]
    assert d.shape == ed.shape == (2, 24, 40, 1) and rgbd.shape == (2, 24, 40, 4)
    torch.testing.assert_close(ed, d / alpha.clamp(min=1e-10))
    torch.testing.assert_close(rgbd, torch.cat([rgb, d], -1))
    assert meta["radii"].shape == (2, 40, 2) and meta["means2d"].shape == (2, 40, 2)
    assert meta["gaussian_ids"] is None and meta["n_cameras"] == 2 and (meta["width"], meta["height"]) == (40, 24)
    assert meta["isect_offsets"].shape == (2, 2, 3) and meta["flatten_ids"].numel() == int(meta["tiles_per_gauss"].sum())
    aa = rasterization(*args, 40, 24, rasterize_mode="antialiased")
    aa_ref = rasterization(*args, 40, 24, rasterize_mode="antialiased", backend="dense")
    assert aa[1].sum() < alpha.sum()  # compensation <= 1 lowers opacities
    torch.testing.assert_close(aa[0], aa_ref[0])
    torch.testing.assert_close(aa[1], aa_ref[1])
    with pytest.raises(TypeError):
        rasterization(*args, 40, 24, no_such_option=1)
    with pytest.raises(NotImplementedError):
        rasterization(*args, 40, 24, absgrad=True)
    with pytest.raises(ValueError):
        rasterization(*args, 40, 24, render_mode="RGBD")


# (c) gradients


@pytest.mark.parametrize("opaque", [False, True])
def test_gradients_match_dense_reference(opaque):
    base = list(_scene(n=150 if opaque else 50, d=4, cameras=2, seed=8))
    if opaque:  # most pixels reach the transmittance cut-off
        base[2], base[3] = base[2] * 2, torch.full_like(base[3], 0.97)
    base[3][:5] = 1.0  # alpha clamped to 0.999 near these centres: no gradient there (as gsplat)
    target = torch.rand(2, 24, 40, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    grads = {}
    for backend in ("torch", "dense"):
        params = [t.clone().requires_grad_() for t in base[:5]]
        c, a, _ = rasterization(*params, *base[5:], 40, 24, backend=backend)
        ((c - target).square().sum() + a.sum()).backward()
        grads[backend] = [p.grad for p in params]
    for name, g, g_ref in zip(("means", "quats", "scales", "opacities", "colors"), grads["torch"], grads["dense"]):
        assert g.abs().sum() > 0, name
        torch.testing.assert_close(g, g_ref, atol=1e-9, rtol=1e-7, msg=name)


def test_gradcheck_tiny_scene():
    means, quats, scales, opac, colors, viewmats, Ks = _scene(n=10, width=16, height=16, seed=10)
    scales = scales * 4.0

    def render(means, quats, scales, opac, colors):
        c, a, _ = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 16, 16, tile_size=8)
        return torch.cat([c, a], dim=-1)

    inputs = tuple(t.clone().requires_grad_() for t in (means, quats, scales, opac, colors))
    assert render(*inputs)[..., 3].mean() > 0.2
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


# (d) means2d gradient for densification (gsplat DefaultStrategy)


def test_means2d_gradient_and_default_strategy():
    from gsplat.strategy import DefaultStrategy

    means, quats, scales, opac, colors, viewmats, Ks = _scene(n=30, cameras=2, seed=11, dtype=torch.float32)
    means[0, 2] = -1.0  # behind the camera: no gradient
    params = torch.nn.ParameterDict(
        {"means": means, "quats": quats, "scales": scales.log(), "opacities": torch.logit(opac), "colors": colors}
    )
    optimizers = {k: torch.optim.Adam([p], lr=1e-3) for k, p in params.items()}
    strategy = DefaultStrategy(refine_start_iter=1000)
    state = strategy.initialize_state()
    c, a, info = rasterization(
        params["means"], params["quats"], params["scales"].exp(), torch.sigmoid(params["opacities"]),
        params["colors"], viewmats, Ks, 40, 24,
    )  # fmt: skip
    strategy.step_pre_backward(params, optimizers, state, 0, info)  # calls info["means2d"].retain_grad()
    (c.sum() + a.sum()).backward()
    visible = (info["radii"] > 0).all(-1)  # [C,N]
    grad = info["means2d"].grad  # [C,N,2]
    assert grad is not None and grad.shape == (2, 30, 2)
    assert not visible[:, 0].any() and (grad[~visible] == 0).all()
    assert (grad[visible].abs().sum(-1) > 0).float().mean() > 0.8  # (fully hidden ones get none)
    strategy.step_post_backward(params, optimizers, state, 0, info)
    assert state["count"].sum() == visible.sum() and (state["grad2d"] > 0).sum() == visible.any(0).sum()


# (e) culled Gaussians contribute nothing; (f) occlusion


def test_behind_camera_and_offscreen_contribute_nothing():
    means, quats, scales, opac, colors, viewmats, Ks = _scene(n=20, seed=12)
    extra = torch.tensor([[0.0, 0.0, -2.0], [30.0, 0.0, 3.0], [0.0, 0.0, 0.005]], dtype=means.dtype)  # behind, off, near
    big = torch.full((3, 3), 0.3, dtype=means.dtype)
    c0, a0, _ = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 40, 24)
    c1, a1, meta = rasterization(
        torch.cat([means, extra]), torch.cat([quats, quats[:3]]), torch.cat([scales, big]),
        torch.cat([opac, torch.ones(3, dtype=opac.dtype)]), torch.cat([colors, torch.ones(3, 3, dtype=colors.dtype)]),
        viewmats, Ks, 40, 24,
    )  # fmt: skip
    assert (meta["radii"][0, 20:] == 0).all()
    assert torch.equal(c0, c1) and torch.equal(a0, a1)


@pytest.mark.parametrize("red_depth,expected", [(2.0, (1.0, 0.0, 0.0)), (4.0, (0.0, 0.0, 1.0))])
def test_opaque_front_gaussian_occludes(red_depth, expected):
    means = torch.tensor([[0.0, 0.0, red_depth], [0.0, 0.0, 3.0]])
    quats = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0]])
    scales = torch.full((2, 3), 0.5)
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    _, _, _, _, _, viewmats, Ks = _scene(width=32, height=32, dtype=torch.float32)
    c, a, _ = rasterization(means, quats, scales, torch.ones(2), colors, viewmats, Ks, 32, 32)
    # pixel centre (16.5, 16.5) is half a pixel off both means: the front one has alpha ~0.99 there
    torch.testing.assert_close(c[0, 16, 16], torch.tensor(expected), atol=0.03, rtol=0)
    assert a[0, 16, 16, 0] > 0.999


# (g) gsplat backend


def test_gsplat_backend_needs_cuda():
    args = _scene(n=5)
    with pytest.raises(RuntimeError, match="CUDA"):
        rasterization(*args, 40, 24, backend="gsplat")


def test_package_import_does_not_import_torch():
    code = "import sys, worldsim.render; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_matches_gsplat_cuda():
    args = [t.float().cuda() for t in _scene(n=400, width=96, height=64, d=3, cameras=2, seed=13)]
    args = [t.requires_grad_() if i < 5 else t for i, t in enumerate(args)]
    bg = torch.rand(2, 3, device="cuda")
    target = torch.rand(2, 64, 96, 4, device="cuda")
    outs = {}
    for backend in ("torch", "gsplat"):
        for t in args[:5]:
            t.grad = None
        c, a, meta = rasterization(*args, 96, 64, backgrounds=bg, render_mode="RGB+D", backend=backend)
        meta["means2d"].retain_grad()
        ((c - target).square().sum() + a.sum()).backward()
        outs[backend] = (c.detach(), a.detach(), meta["radii"], meta["means2d"].grad, [t.grad.clone() for t in args[:5]])
    (c, a, radii, g2d, grads), (c_ref, a_ref, radii_ref, g2d_ref, grads_ref) = outs["torch"], outs["gsplat"]
    assert (radii - radii_ref).abs().max() <= 1  # float rounding at ceil() boundaries
    torch.testing.assert_close(c, c_ref, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(a, a_ref, atol=1e-3, rtol=1e-3)
    for g, g_ref in zip([g2d, *grads], [g2d_ref, *grads_ref]):
        assert (g - g_ref).norm() <= 1e-2 * g_ref.norm()


def test_nothing_visible_gives_background_and_backward_works():
    means, quats, scales, opac, colors, viewmats, Ks = _scene(n=5, seed=14)
    means = (means * torch.tensor([1.0, 1.0, -1.0], dtype=means.dtype)).requires_grad_()  # all behind the camera
    bg = torch.tensor([[0.2, 0.3, 0.4]], dtype=means.dtype)
    c, a, meta = rasterization(means, quats, scales, opac, colors, viewmats, Ks, 40, 24, backgrounds=bg)
    assert (meta["radii"] == 0).all() and (a == 0).all() and torch.equal(c, bg[:, None, None].expand_as(c))
    (c.sum() + a.sum()).backward()
    assert (means.grad == 0).all()
