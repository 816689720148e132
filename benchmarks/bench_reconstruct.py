"""Quality, time and memory of the feature-4dgs reconstruction of the default procedural scene, and the
speed of the rasterizer it trains with.

1. Runs the whole pipeline (parse -> generate -> reconstruct) for the prompt in a fresh subprocess,
   so the peak RSS (ru_maxrss) is that run's own, and prints `metrics.reconstruction` from run.json:
   psnr_train / ssim_train (input view vs the input frames), psnr_novel (orbited views vs the
   ground-truth scene, per yaw, and over pixels both cover), feature_cosine, Gaussians, iterations,
   wall time, with the issue-3 targets and pass/fail.
2. Times forward+backward of one render of the reconstructed scene at frame 0 from the input camera
   (RGB + latent feature channels, gradients for every Gaussian parameter): our tile-based CPU
   rasterizer vs the dense all-pixels reference (few iterations; above --dense-max-gaussians both
   run on the same seeded random subset, since dense memory grows with pixels x Gaussians), and
   gsplat CUDA vs ours on CUDA when a GPU is present.

Run: .venv/bin/python benchmarks/bench_reconstruct.py [--config default] [--seed 0] [--set KIND.KEY=VALUE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = [  # (metric, comparison, bound, unit)
    ("psnr_train", ">=", 30.0, "dB"),
    ("psnr_novel", ">=", 24.0, "dB"),
    ("feature_cosine", ">=", 0.9, ""),
    ("wall_s", "<=", 90.0, "s"),
    ("peak_rss_mb", "<=", 4096.0, "MB"),
]

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from worldsim import pipeline
run = pipeline.run_pipeline(sys.argv[1], config=sys.argv[2], seed=int(sys.argv[3]), output_dir=sys.argv[4],
                          overrides=json.loads(sys.argv[5]))
print(json.dumps({"run_dir": str(run), "total_s": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def num(value):
    """run.json writes non-finite floats as the strings 'inf' / '-inf' (strict JSON has no Infinity)."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, dict):
        return {k: num(v) for k, v in value.items()}
    return value


def fmt(value, digits: int = 2) -> str:
    value = num(value)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def find_reconstructed_scene(run_dir: Path, manifest: dict) -> Path | None:
    rec = (manifest.get("outputs") or {}).get("reconstruction") or {}
    if isinstance(rec, dict) and rec.get("scene"):
        return run_dir / rec["scene"]
    for art in manifest.get("artifacts", []):
        if art["path"].endswith("scene.safetensors") and art.get("stage") != "generator":
            return run_dir / art["path"]
    return None


def render_inputs(scene, camera, device: str):
    """Leaf tensors (with gradients) and fixed camera tensors for one render at frame 0: RGB from the SH
    DC term plus the latent features as extra channels, like the reconstructor's training renders."""
    import math

    import torch

    from worldsim.render.scene import SH_C0

    with torch.no_grad():
        means, quats = scene.at_frame(0)
        degree = int(math.isqrt(scene.sh.shape[1])) - 1
        colors = scene.sh if degree > 0 else (scene.sh[:, 0, :] * SH_C0 + 0.5).clamp_min(0.0)  # [N,K,3] | [N,3]
        if degree == 0 and scene.features is not None:
            colors = torch.cat([colors, scene.features], dim=1)  # [N,3+F]
    params = [x.detach().to(device).float().clone().requires_grad_() for x in
              (means, quats, scene.log_scales, scene.logit_opacities, colors)]
    viewmats = torch.tensor(camera.viewmat, dtype=torch.float32, device=device)[None]  # [1,4,4]
    Ks = torch.tensor(camera.K, dtype=torch.float32, device=device)[None]  # [1,3,3]
    return params, viewmats, Ks, (degree if degree > 0 else None)


def iterations_per_s(params, viewmats, Ks, sh_degree, camera, backend: str, iters: int, sync) -> float:
    import torch

    from worldsim.render.rasterize import rasterization

    means, quats, log_scales, logit_op, colors = params

    def step():
        img, alpha, _ = rasterization(means, quats, log_scales.exp(), torch.sigmoid(logit_op), colors, viewmats, Ks,
                                      camera.width, camera.height, sh_degree=sh_degree, backend=backend)
        (img.square().sum() + alpha.sum()).backward()
        for p in params:
            p.grad = None

    step()  # warm-up
    sync()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    return iters / (time.perf_counter() - t)


def subset(scene, n: int, seed: int):
    import dataclasses

    import torch

    idx = torch.randperm(len(scene), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    per_gaussian = {f.name: getattr(scene, f.name)[idx] for f in dataclasses.fields(scene)
                    if f.name in ("means", "quats", "log_scales", "logit_opacities", "sh", "weights", "instance", "features")
                    and getattr(scene, f.name) is not None}
    return dataclasses.replace(scene, **per_gaussian)


def bench_rasterizer(scene, camera, args) -> None:
    import torch

    cpu_sync = lambda: None  # noqa: E731
    n = len(scene)
    print(f"\nrasterizer forward+backward, reconstructed scene at frame 0, {camera.width}x{camera.height}, "
          f"{n} Gaussians, input camera; iterations/s (higher is better)")
    params, viewmats, Ks, deg = render_inputs(scene, camera, "cpu")
    channels = params[4].shape[-1] if deg is None else f"SH degree {deg}"
    print(f"  channels: {channels}; ours {args.iters} iterations, dense {args.dense_iters}")
    ours = iterations_per_s(params, viewmats, Ks, deg, camera, "torch", args.iters, cpu_sync)
    row = lambda label, its, note="": print(f"  {label:<52} {its:9.3f} it/s{note}")  # noqa: E731
    row(f"ours (torch, CPU), all {n} Gaussians", ours)
    dense_scene, label = scene, f"all {n} Gaussians"
    if n > args.dense_max_gaussians:
        dense_scene, label = subset(scene, args.dense_max_gaussians, args.seed), f"random subset of {args.dense_max_gaussians} (seed {args.seed})"
        sub = render_inputs(dense_scene, camera, "cpu")
        ours_sub = iterations_per_s(*sub, camera, "torch", args.iters, cpu_sync)
        row(f"ours (torch, CPU), {label}", ours_sub)
    else:
        sub, ours_sub = (params, viewmats, Ks, deg), ours
    if args.dense_iters > 0:
        dense = iterations_per_s(*sub, camera, "dense", args.dense_iters, cpu_sync)
        row(f"dense reference (CPU), {label}", dense, f"  -> ours is {ours_sub / dense:.0f}x faster")
    if torch.cuda.is_available():
        try:
            import gsplat  # noqa: F401
        except ImportError:
            print("  CUDA present but gsplat is not installed: no gsplat comparison")
            return
        params, viewmats, Ks, deg = render_inputs(scene, camera, "cuda")
        sync = torch.cuda.synchronize
        ours_gpu = iterations_per_s(params, viewmats, Ks, deg, camera, "torch", args.iters, sync)
        gs = iterations_per_s(params, viewmats, Ks, deg, camera, "gsplat", args.iters, sync)
        row(f"ours (torch, CUDA {torch.cuda.get_device_name()})", ours_gpu)
        row("gsplat (CUDA)", gs, f"  -> {gs / ours_gpu:.1f}x ours on CUDA, {gs / ours:.0f}x ours on CPU")
    else:
        print("  gsplat CUDA vs ours: not measured (no CUDA device)")


def report(run_dir: Path, child: dict, args) -> int:
    """Print the run's reconstruction figures and targets, then time the rasterizer on its scene."""
    manifest = json.loads((run_dir / "run.json").read_text())
    stages = {s["kind"]: s for s in manifest["stages"]}
    rec = (manifest.get("metrics") or {}).get("reconstruction")
    if not rec or "reconstructor" not in stages:
        ran = ", ".join(f"{s['kind']} {s['name']}" for s in manifest["stages"])
        print(f"\nno reconstruction in this run (config '{args.config}' ran: {ran}); pass --config with a "
              f"reconstructor stage, e.g. feature-4dgs", file=sys.stderr)
        return 2

    print(f"run:     {run_dir if args.out else '(temporary) ' + run_dir.name}")
    print("stages:  " + ", ".join(f"{s['kind']} {s['name']} {s['wall_s']:.2f} s" for s in manifest["stages"]))
    print(f"process total (imports included): {child['total_s']:.2f} s; peak RSS {child['peak_rss_mb']:.0f} MB")
    figures = num(dict(rec))
    figures.setdefault("wall_s", stages["reconstructor"]["wall_s"])
    figures["peak_rss_mb"] = child["peak_rss_mb"]

    print("\nreconstruction (metrics.reconstruction in run.json):")
    for key in ("num_gaussians", "iterations", "wall_s", "psnr_train", "ssim_train", "psnr_novel",
                "psnr_novel_covered", "novel_coverage", "feature_cosine"):
        print(f"  {key:<20} {fmt(figures.get(key), 4 if key in ('ssim_train', 'feature_cosine', 'novel_coverage') else 2)}")
    for name, value in (figures.get("psnr_novel_by_yaw") or {}).items():
        print(f"  psnr_novel yaw {name:>5} {fmt(value)}")
    for name, value in (figures.get("feature_cosine_by_teacher") or {}).items():
        print(f"  feature_cosine {name:<6} {fmt(value, 4)}")
    other = sorted(set(figures) - {"num_gaussians", "iterations", "wall_s", "psnr_train", "ssim_train", "psnr_novel",
                                   "psnr_novel_covered", "novel_coverage", "feature_cosine", "psnr_novel_by_yaw",
                                   "feature_cosine_by_teacher", "peak_rss_mb"})
    for key in other:
        print(f"  {key:<20} {json.dumps(figures[key], default=str)[:100]}")

    print("\ntargets (issue 3):")
    passed = 0
    for key, op, bound, unit in TARGETS:
        value = figures.get(key)
        ok = isinstance(value, (int, float)) and (value >= bound if op == ">=" else value <= bound)
        passed += ok
        print(f"  {key:<15} {fmt(value):>9} {op} {bound:g} {unit:<3} {'PASS' if ok else 'FAIL'}")
    print(f"  {passed}/{len(TARGETS)} targets met")

    scene_path = find_reconstructed_scene(run_dir, manifest)
    if scene_path is None or not scene_path.is_file():
        print("\nrasterizer timing skipped: the run lists no reconstructed scene.safetensors", file=sys.stderr)
        return 0
    from worldsim.types import Camera, GaussianScene

    labels = json.loads((run_dir / "generator" / "labels.json").read_text())
    bench_rasterizer(GaussianScene.load(scene_path), Camera(**labels["camera"]), args)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", default="A red ball rolls quickly from left to right")
    ap.add_argument("--config", default="default", help="preset name or YAML path; it must list a reconstructor stage (default: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KIND.KEY=VALUE",
                    help="override one stage setting (repeatable), e.g. --set reconstructor.iterations=200")
    ap.add_argument("--out", default=None, help="keep the run folder under this folder (default: a temporary folder)")
    ap.add_argument("--iters", type=int, default=10, help="timed forward+backward iterations of our rasterizer")
    ap.add_argument("--dense-iters", type=int, default=2, help="timed iterations of the dense reference (0 = skip it)")
    ap.add_argument("--dense-max-gaussians", type=int, default=2000,
                    help="above this N, dense and ours are also timed on a random subset of this size (dense memory ~ H*W*N)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads for the rasterizer timing")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    print(f"date:    {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | cpus={os.cpu_count()} | "
          f"torch {torch.__version__} threads={torch.get_num_threads()} | CUDA {'yes: ' + torch.cuda.get_device_name() if cuda else 'no'}")
    print(f"config:  {args.config} {' '.join('--set ' + o for o in args.overrides)}".rstrip())
    print(f"prompt:  {args.prompt!r} | seed: {args.seed}")

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        proc = subprocess.run([sys.executable, "-c", CHILD, args.prompt, args.config, str(args.seed), out,
                               json.dumps(args.overrides)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"\nthe pipeline failed (exit {proc.returncode}):\n{proc.stderr.strip()[-3000:]}", file=sys.stderr)
            return 1
        child = json.loads(proc.stdout.strip().splitlines()[-1])
        run_dir = Path(child["run_dir"])
        return report(run_dir, child, args)


if __name__ == "__main__":
    sys.exit(main())
