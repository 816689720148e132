"""Optimisation of the dynamic feature Gaussians against the video and its teachers.

Loss per iteration (one frame t, rendered with frame t's camera: the input camera, or `cameras[t]` when it moves):
  L = (1 - l_ssim) L1(rgb) + l_ssim (1 - SSIM(rgb)) + l_depth |1/z_hat - 1/z| + l_mask BCE(instance)
      + l_feat sum_s MSE(D^s(F_hat), E^s(I)) + l_smooth ||accel of bases||^2 + l_rigid rigidity
Densification and pruning use gsplat's DefaultStrategy with our rasterizer's meta. With per-frame cameras and
`refine_poses`, frame t >= 1's camera gets a trained se(3) correction (plugins.feature_gs.poses.PoseCorrections).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from plugins.feature_gs.config import TrainConfig
from plugins.feature_gs.model import DynamicGaussians
from worldsim.decoders import DecoderSet, FeatureDecoder
from worldsim.errors import WorldsimError
from worldsim.render.metrics import ssim
from worldsim.render.rasterize import rasterization
from worldsim.types import Camera


class ReconstructionDiverged(WorldsimError):
    exit_code = 1


@dataclass
class Targets:
    frames: torch.Tensor  # [T,H,W,3] float in [0,1]
    depth: torch.Tensor | None  # [T,H,W] camera z, <= 0 where unknown
    masks: torch.Tensor | None  # [T,H,W] instance ids
    features: dict[str, torch.Tensor] = field(default_factory=dict)  # teacher -> [T,H,W,D]


def render(model: DynamicGaussians, camera: Camera, t: int, extra: torch.Tensor | None = None, viewmat=None):
    """Colour [H,W,3], latent features [H,W,F], extra channels [H,W,C], expected depth [H,W], alpha [H,W], meta."""
    means, quats = model.warp(t)
    s = model.splats
    channels = [model.rgb(), s["features"]] + ([extra] if extra is not None else [])
    colors = torch.cat(channels, dim=1)  # [N,3+F+C]
    vm = viewmat if viewmat is not None else torch.tensor(camera.viewmat, dtype=torch.float32)
    img, alpha, meta = rasterization(
        means, quats, s["scales"].exp(), torch.sigmoid(s["opacities"]), colors, vm[None],
        torch.tensor(camera.K, dtype=torch.float32)[None], camera.width, camera.height, render_mode="RGB+ED",
    )
    img, alpha = img[0], alpha[0, ..., 0]
    f = s["features"].shape[1]
    return {"rgb": img[..., :3], "features": img[..., 3:3 + f], "extra": img[..., 3 + f:-1], "depth": img[..., -1],
            "alpha": alpha, "meta": meta}


def _rigid_pairs(model: DynamicGaussians, samples: int = 512, k: int = 6):
    """Up to `samples` dynamic Gaussians [S] and their k nearest dynamic neighbours [S,k] (canonical space)."""
    dynamic = torch.nonzero(torch.softmax(model.splats["motion_logits"].detach(), 1)[:, 0] < 0.5).squeeze(1)
    if dynamic.numel() <= k:
        return None
    pts = model.splats["means"].detach()[dynamic]
    d = torch.cdist(pts, pts)
    d.fill_diagonal_(float("inf"))
    nn_idx = d.topk(k, largest=False).indices  # [M,k]
    pick = torch.randperm(dynamic.numel())[:samples]
    return dynamic[pick], dynamic[nn_idx[pick]]


def train(model: DynamicGaussians, camera: Camera, targets: Targets, basis_instance: list[int], cfg: TrainConfig,
          seed: int = 0, progress=None, cameras: list[Camera] | None = None) -> tuple[DynamicGaussians, DecoderSet, dict]:
    """Same inputs and seed give the same result: deterministic kernels are on while training (measured
    no slower here; without them accumulating backward kernels made runs differ by ~1e-3).

    `cameras`: every frame's camera (same intrinsics as `camera`) for a moving camera, None for a static
    one (then `camera` renders every frame). With cameras, stats["cameras"] holds the cameras the scene
    was fitted with (refined when cfg.refine_poses)."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(model, camera, targets, basis_instance, cfg, seed, progress, cameras)
    finally:
        torch.use_deterministic_algorithms(previous)


def _train(model, camera, targets, basis_instance, cfg, seed, progress, cameras=None):
    from gsplat.strategy import DefaultStrategy

    torch.manual_seed(seed)
    rnd = random.Random(seed)
    T = targets.frames.shape[0]
    extent = float((model.splats["means"].detach() - model.splats["means"].detach().mean(0)).norm(dim=1).median()) * 2
    feat_dim = model.splats["features"].shape[1]
    decoders = DecoderSet({name: FeatureDecoder(feat_dim, maps.shape[-1], cfg.decoder_hidden) for name, maps in targets.features.items()})
    lrs = {"means": cfg.lr_means * extent, "quats": cfg.lr_quats, "scales": cfg.lr_scales, "opacities": cfg.lr_opacities,
           "sh0": cfg.lr_colors, "features": cfg.lr_features, "motion_logits": cfg.lr_motion_logits}
    optimizers = {k: torch.optim.Adam([model.splats[k]], lr=lr, eps=1e-15) for k, lr in lrs.items()}
    basis_opt = torch.optim.Adam([model.basis_rotations, model.basis_translations], lr=cfg.lr_bases) if model.basis_rotations.numel() else None
    decoder_opt = torch.optim.Adam(decoders.parameters(), lr=cfg.lr_decoders) if len(decoders) else None
    poses, pose_opt = None, None
    if cameras is not None:
        if len(cameras) != T:
            raise ValueError(f"{len(cameras)} cameras for {T} frames")
        from plugins.feature_gs.poses import PoseCorrections

        poses = PoseCorrections(cameras)
        if cfg.refine_poses and T > 1:
            pose_opt = poses.optimizer(cfg.pose_lr, scene_scale=extent / 2)
            pose_lrs = [group["lr"] for group in pose_opt.param_groups]
            warm = max(cfg.pose_warmup * cfg.iterations, 1.0)

    strategy = DefaultStrategy(refine_start_iter=cfg.refine_start, refine_stop_iter=int(cfg.iterations * cfg.refine_stop_fraction),
                               refine_every=cfg.refine_every, reset_every=10**9, grow_grad2d=cfg.grow_grad2d, verbose=False)
    strategy.check_sanity(model.splats, optimizers)
    state = strategy.initialize_state(scene_scale=extent / 2)

    num_instances = int(targets.masks.max()) + 1 if targets.masks is not None else 0
    basis_onehot = F.one_hot(torch.tensor(basis_instance), num_instances).float() if num_instances else None  # [B,K+1]
    rigid_pairs = None
    order: list[int] = []
    t0 = time.perf_counter()
    losses = []
    for it in range(cfg.iterations):
        if not order:
            order = list(range(T))
            rnd.shuffle(order)
        t = order.pop()
        extra = None
        if basis_onehot is not None:
            extra = torch.softmax(model.splats["motion_logits"], 1) @ basis_onehot  # [N,K+1] soft instance assignment
        if poses is None:
            out = render(model, camera, t, extra)
        else:
            out = render(model, cameras[t], t, extra, viewmat=poses.viewmat(t))
        strategy.step_pre_backward(model.splats, optimizers, state, it, out["meta"])

        gt = targets.frames[t]
        loss = (1 - cfg.ssim_weight) * (out["rgb"] - gt).abs().mean() + cfg.ssim_weight * (1 - ssim(out["rgb"], gt))
        if targets.depth is not None and cfg.depth_weight > 0:
            valid = (targets.depth[t] > 0) & (out["alpha"] > 0.5)
            if valid.any():
                inv_hat = 1.0 / out["depth"][valid].clamp_min(1e-3)
                loss = loss + cfg.depth_weight * (inv_hat - 1.0 / targets.depth[t][valid]).abs().mean()
        if basis_onehot is not None and cfg.mask_weight > 0:
            onehot = F.one_hot(targets.masks[t].long(), num_instances).float()  # [H,W,K+1]
            loss = loss + cfg.mask_weight * F.binary_cross_entropy(out["extra"].clamp(1e-5, 1 - 1e-5), onehot)
        for name, maps in targets.features.items():
            loss = loss + cfg.feature_weight * F.mse_loss(decoders[name](out["features"]), maps[t])
        if model.basis_rotations.shape[0] and T > 2:
            for p in (model.basis_translations, F.normalize(model.basis_rotations, dim=-1)):
                loss = loss + cfg.smooth_weight * (p[:, 2:] - 2 * p[:, 1:-1] + p[:, :-2]).pow(2).sum(-1).mean()
            if cfg.rigid_weight > 0:
                if rigid_pairs is None:
                    rigid_pairs = _rigid_pairs(model)
                if rigid_pairs is not None:
                    a, b = rigid_pairs
                    m0 = model.splats["means"]
                    mt, _ = model.warp(t)
                    loss = loss + cfg.rigid_weight * ((mt[a][:, None] - mt[b]).norm(dim=-1) - (m0[a][:, None] - m0[b]).norm(dim=-1)).abs().mean()

        if not torch.isfinite(loss):
            raise ReconstructionDiverged(f"reconstruction diverged: loss is {loss.item()} at iteration {it}; lower the learning rates or iterations")
        if pose_opt is not None:  # this step's rate (linear warm-up over pose_warmup of the steps, then decay)
            factor = min(1.0, (it + 1) / warm) * 0.1 ** (it / cfg.iterations)
            for group, lr in zip(pose_opt.param_groups, pose_lrs):
                group["lr"] = lr * factor
        for opt in (*optimizers.values(), basis_opt, decoder_opt, pose_opt):
            if opt is not None:
                opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in (*optimizers.values(), basis_opt, decoder_opt, pose_opt):
            if opt is not None:
                opt.step()
        if cfg.densify:
            n_before = model.splats["means"].shape[0]
            strategy.step_post_backward(model.splats, optimizers, state, it, out["meta"], packed=False)
            if model.splats["means"].shape[0] != n_before:
                rigid_pairs = None  # indices changed
        losses.append(loss.item())
        if progress is not None:
            progress(it, losses[-1], model.splats["means"].shape[0])
    stats = {"iterations": cfg.iterations, "train_s": time.perf_counter() - t0, "final_loss": sum(losses[-20:]) / min(20, len(losses)),
             "num_gaussians": int(model.splats["means"].shape[0])}
    if poses is not None:
        stats["cameras"] = poses.cameras(cameras) if pose_opt is not None else list(cameras)
        stats["poses_refined"] = pose_opt is not None
    return model, decoders, stats
