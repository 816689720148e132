"""Benchmark worldsim's tile-based PyTorch Gaussian rasterizer against a dense PyTorch reference
(every pixel x every Gaussian) and, when CUDA is available, gsplat's CUDA rasterizer.

Run: .venv/bin/python benchmarks/bench_rasterizer.py [--gaussians 2000 8000] [--repeats 9]
Reports the median (and min) wall time of forward and forward+backward passes in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import statistics
import time

import torch

from worldsim.render.rasterize import rasterization


def make_scene(n: int, size: int, channels: int, seed: int, device: str = "cpu"):
    """n Gaussians filling the view frustum of one 60-degree pinhole camera, depths 2.5..4."""
    g = torch.Generator().manual_seed(seed)
    z = 2.5 + 1.5 * torch.rand(n, generator=g)  # [N]
    xy = (torch.rand(n, 2, generator=g) * 2 - 1) * 0.55 * z[:, None]  # [N,2]
    means = torch.cat([xy, z[:, None]], dim=1)  # [N,3]
    quats = torch.randn(n, 4, generator=g)  # [N,4]
    scales = torch.exp(torch.empty(n, 3).uniform_(math.log(0.015), math.log(0.08), generator=g))  # [N,3]
    opacities = 0.05 + 0.9 * torch.rand(n, generator=g)  # [N]
    colors = torch.rand(n, channels, generator=g)  # [N,D]
    viewmats = torch.eye(4)[None]  # [1,4,4]
    f = 0.5 * size / math.tan(math.radians(30))
    Ks = torch.tensor([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]])[None]  # [1,3,3]
    return [t.to(device) for t in (means, quats, scales, opacities, colors, viewmats, Ks)]


def time_ms(fn, repeats: int, sync) -> tuple[float, float]:
    fn(), fn()  # warm-up (allocator, caches)
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times)


def bench(scene, size: int, backend: str, repeats: int, sync) -> dict[str, tuple[float, float]]:
    params = [t.clone().requires_grad_() for t in scene[:5]]

    def forward():
        with torch.no_grad():
            rasterization(*params, *scene[5:], size, size, backend=backend)

    def forward_backward():
        c, a, _ = rasterization(*params, *scene[5:], size, size, backend=backend)
        (c.square().sum() + a.sum()).backward()

    return {"fwd": time_ms(forward, repeats, sync), "fwd+bwd": time_ms(forward_backward, repeats, sync)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gaussians", type=int, nargs="+", default=[2000, 8000], help="scene sizes N")
    ap.add_argument("--channels", type=int, nargs="+", default=[3, 32], help="feature channels D (3 = RGB)")
    ap.add_argument("--size", type=int, default=128, help="image width = height in pixels")
    ap.add_argument("--repeats", type=int, default=9, help="timed runs per measurement (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    ap.add_argument(
        "--dense-max-gaussians", type=int, default=2000,
        help="run the dense reference only up to this N (it needs O(H*W*N) memory)",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cuda = torch.cuda.is_available()
    print(f"date:    {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}; {platform.processor() or platform.machine()}; python {platform.python_version()}")
    print(f"torch:   {torch.__version__}; CPU threads {torch.get_num_threads()}; CUDA {'yes: ' + torch.cuda.get_device_name() if cuda else 'no'}")
    print(f"seed:    {args.seed}")
    print(f"config:  {args.size}x{args.size}, 1 camera, N={args.gaussians}, D={args.channels}, median of {args.repeats} runs (min in brackets)")
    print("scene:   means in the 60-degree frustum at depth 2.5..4, log-uniform scales 0.015..0.08, opacity 0.05..0.95")
    print()
    header = f"{'N':>6} {'D':>3} {'backend':<14} {'Gauss/tile':>10} {'fwd ms':>16} {'fwd+bwd ms':>16} {'speed-up vs dense':>18}"
    print(header)
    print("-" * len(header))
    cpu_sync = lambda: None  # noqa: E731
    warm = make_scene(args.gaussians[0], args.size, args.channels[0], args.seed)
    time_ms(lambda: bench(warm, args.size, "torch", 3, cpu_sync), 2, cpu_sync)  # process warm-up (thread pool, allocator)

    for n in args.gaussians:
        for d in args.channels:
            scene = make_scene(n, args.size, d, args.seed)
            with torch.no_grad():
                _, alphas, meta = rasterization(*scene, args.size, args.size)
            per_tile = meta["flatten_ids"].numel() / (meta["tile_width"] * meta["tile_height"])
            rows = [("torch (CPU)", bench(scene, args.size, "torch", args.repeats, cpu_sync))]
            if n <= args.dense_max_gaussians:
                rows.append(("dense (CPU)", bench(scene, args.size, "dense", max(3, args.repeats // 3), cpu_sync)))
            if cuda:
                gpu_scene = [t.cuda() for t in scene]
                rows.append(("torch (CUDA)", bench(gpu_scene, args.size, "torch", args.repeats, torch.cuda.synchronize)))
                rows.append(("gsplat (CUDA)", bench(gpu_scene, args.size, "gsplat", args.repeats, torch.cuda.synchronize)))
            dense = dict(rows).get("dense (CPU)")
            for name, r in rows:
                ratio = ""
                if dense is not None and name == "torch (CPU)":
                    ratio = f"{dense['fwd'][0] / r['fwd'][0]:.0f}x / {dense['fwd+bwd'][0] / r['fwd+bwd'][0]:.0f}x"
                cells = [f"{r[k][0]:8.1f} ({r[k][1]:5.1f})" for k in ("fwd", "fwd+bwd")]
                print(f"{n:>6} {d:>3} {name:<14} {per_tile:>10.0f} {cells[0]:>16} {cells[1]:>16} {ratio:>18}")
            print(f"{'':>10} mean alpha {alphas.mean():.2f}; {meta['flatten_ids'].numel()} tile intersections")


if __name__ == "__main__":
    main()
