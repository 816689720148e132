"""feature-4dgs with a moving camera: quality, pose error and wall time against the same scene filmed static.

For each scene (a fixed seed, object, colour, direction and camera motion at normal speed; seeds the tests
do not use), the procedural generator (default settings: 16 frames, 128x128) films the plan twice: with a
static camera, and with the plan's camera moving (worldsim.camera_motion). Both clips are reconstructed back to back
with the default reconstructor settings (configs/default.yaml: 300 iterations) and the same seed: the
static clip with `poses: auto` (the single-camera path), the moving one with `--poses` (default auto:
the opencv-pnp estimator when installed, else the labels' ground-truth cameras; the table says which).

Printed per scene: psnr_train, psnr_novel, feature_cosine, pose_ate_pct / pose_rre_deg of the estimated
and the refined cameras (ATE after similarity alignment in % of the median ground-truth depth of frame 0,
median relative rotation error of consecutive frames), Gaussians, the reconstructor's wall time (its
wall_s, pose estimation included) and this process's CPU time moving vs static, and their ratios (CPU time
is the steadier of the two on a shared machine). Targets: psnr_train >= 30 dB, psnr_novel >= 24 dB, feature_cosine >= 0.9, wall ratio <= 1.3.

Run: .venv/bin/python benchmarks/bench_moving_camera_recon.py [--scenes 6] [--poses auto] [--iterations N]
     [--json out.json] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (seed, object, colour, direction, camera motion)
SCENES = [
    (101, "ball", "red", "right", "orbit-left"),
    (102, "car", "blue", "left", "pan-right"),
    (103, "ball", "green", "left", "dolly-in"),
    (104, "cube", "yellow", "right", "truck-left"),
    (105, "car", "red", "right", "orbit-right"),
    (106, "ball", "blue", "up", "tilt-up"),
    (107, "cube", "red", "left", "dolly-out"),
    (108, "ball", "yellow", "right", "pan-left"),
]
TARGETS = {"psnr_train": 30.0, "psnr_novel": 24.0, "feature_cosine": 0.9}
MAX_WALL_RATIO = 1.3


def reconstructor_config(iterations: int | None) -> dict:
    from worldsim.config import load_config

    cfg = load_config("default")
    rec = next(s for s in cfg.stages if s.kind == "reconstructor")
    out = json.loads(json.dumps(rec.config))
    if iterations is not None:
        out.setdefault("train", {})["iterations"] = iterations
    return out


def generator_config() -> dict:
    from worldsim.config import load_config

    gen = next(s for s in load_config("default").stages if s.kind == "generator")
    return dict(gen.config)


def reconstruct(video, run_dir: Path, config: dict, seed: int) -> tuple[dict, str | None]:
    """The reconstructor's metrics (plus cpu_s, this process's CPU seconds for the call) and its cameras file."""
    from plugins.feature_gs.stage import FeatureGSReconstructor

    out = run_dir / "reconstruction"
    out.mkdir(exist_ok=True)
    cpu = time.process_time()
    rec = FeatureGSReconstructor(config).run(video, run_dir, out, seed)
    return {**rec.metrics, "cpu_s": time.process_time() - cpu}, rec.cameras


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=6, help=f"how many of the {len(SCENES)} scenes (at least 1)")
    ap.add_argument("--only", type=int, nargs="*", default=None, help="run only these scene indices (0-based), e.g. to "
                    "spread the scenes over processes; then --json and merge with --summary")
    ap.add_argument("--summary", type=Path, nargs="*", default=None, help="print the summary of these --json files only")
    ap.add_argument("--poses", default="auto", help="reconstructor.poses for the moving clips")
    ap.add_argument("--iterations", type=int, default=None, help="training iterations (default: configs/default.yaml)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--smoke", action="store_true", help="48x48, 6 frames, 20 iterations: checks the script runs")
    args = ap.parse_args(argv)

    if args.summary:
        rows = [row for path in args.summary for row in json.loads(path.read_text())]
        for row in rows:
            print_row(row)
        print_summary(rows)
        return 0
    from worldsim.registry import get_stage
    from worldsim.testing import tiny_plan
    from worldsim.types import CameraSpec

    gen_cfg, rec_cfg = generator_config(), reconstructor_config(args.iterations)
    if args.smoke:
        gen_cfg.update(width=48, height=48, num_frames=6, gaussians_per_object=120, background_spacing=0.6)
        rec_cfg.update(train={"iterations": 20}, pad=8, eval_frames=2, novel_yaws=[5.0])
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_moving_"))
    try:
        picked = [SCENES[i] for i in args.only] if args.only is not None else SCENES[:max(args.scenes, 1)]
        for seed, name, color, direction, motion in picked:
            plan = tiny_plan(name, color, direction, "normal")
            static_dir, moving_dir = tmp / f"{seed}_static", tmp / f"{seed}_moving"
            (static_dir / "generator").mkdir(parents=True)
            (moving_dir / "generator").mkdir(parents=True)
            generator = get_stage("generator", "procedural", gen_cfg)
            video_s = generator.run(plan, seed=seed, out_dir=static_dir / "generator")
            video_m = generator.run(plan.model_copy(update={"camera": CameraSpec(motion=motion)}), seed=seed,
                                    out_dir=moving_dir / "generator")
            static, _ = reconstruct(video_s, static_dir, {**rec_cfg, "poses": "auto"}, seed)
            moving, cams = reconstruct(video_m, moving_dir, {**rec_cfg, "poses": args.poses}, seed)
            row = {"seed": seed, "scene": f"{color} {name} {direction}", "motion": motion,
                   "poses": moving.get("poses"), "refined": moving.get("poses_refined"), "cameras_json": cams,
                   **{k: moving.get(k) for k in ("psnr_train", "ssim_train", "psnr_novel", "psnr_novel_covered",
                                                 "feature_cosine", "pose_ate_pct_estimated", "pose_rre_deg_estimated",
                                                 "pose_ate_pct", "pose_rre_deg", "pose_ate_raw_pct_estimated", "pose_ate_raw_pct", "pose_s", "num_gaussians", "wall_s",
                                                 "cpu_s")},
                   "static": {k: static.get(k) for k in ("psnr_train", "psnr_novel", "feature_cosine", "num_gaussians", "wall_s",
                                                         "cpu_s")}}
            row["wall_ratio"] = row["wall_s"] / row["static"]["wall_s"]
            row["cpu_ratio"] = row["cpu_s"] / row["static"]["cpu_s"]
            rows.append(row)
            print_row(row)
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_summary(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def f(x, d=2):
    return "-" if x is None else (f"{x:.{d}f}" if isinstance(x, float) else str(x))


def print_row(r):
    s = r["static"]
    print(f"seed {r['seed']} {r['scene']:<18} {r['motion']:<10} poses={r['poses']}{'+refined' if r['refined'] else ''}  "
          f"psnr_train {f(r['psnr_train'])} (static {f(s['psnr_train'])})  psnr_novel {f(r['psnr_novel'])} "
          f"(static {f(s['psnr_novel'])})  feature_cosine {f(r['feature_cosine'], 3)}  "
          f"ATE% est {f(r['pose_ate_pct_estimated'], 3)} -> {f(r['pose_ate_pct'], 3)}  "
          f"RRE deg est {f(r['pose_rre_deg_estimated'], 3)} -> {f(r['pose_rre_deg'], 3)}  "
          f"raw ATE% est {f(r['pose_ate_raw_pct_estimated'], 3)} -> {f(r['pose_ate_raw_pct'], 3)}  "
          f"gaussians {r['num_gaussians']} (static {s['num_gaussians']})  "
          f"wall {f(r['wall_s'], 1)} s vs static {f(s['wall_s'], 1)} s = x{f(r['wall_ratio'])}  "
          f"cpu {f(r['cpu_s'], 1)} s vs {f(s['cpu_s'], 1)} s = x{f(r['cpu_ratio'])}")


def print_summary(rows):
    if not rows:
        return
    import numpy as np

    print("\nmean over", len(rows), "scenes:")
    for key, bound in TARGETS.items():
        vals = [r[key] for r in rows if r[key] is not None]
        mean = float(np.mean(vals)) if vals else None
        ok = mean is not None and mean >= bound
        print(f"  {key:<16} {f(mean, 3):>8}  min {f(min(vals) if vals else None, 3):>8}  target >= {bound:g}  "
              f"{'PASS' if ok else 'FAIL'}  (static mean {f(float(np.mean([r['static'][key] for r in rows])), 3)})")
    for key in ("pose_ate_pct_estimated", "pose_ate_pct", "pose_ate_raw_pct_estimated", "pose_ate_raw_pct",
                "pose_rre_deg_estimated", "pose_rre_deg"):
        vals = [r[key] for r in rows if r[key] is not None]
        print(f"  {key:<24} mean {f(float(np.mean(vals)) if vals else None, 3)}  max {f(max(vals) if vals else None, 3)}")
    for key in ("wall_ratio", "cpu_ratio"):
        ratio = float(np.median([r[key] for r in rows]))
        print(f"  {key} moving/static: median x{ratio:.2f} (each: {', '.join(f(r[key]) for r in rows)})  "
              f"target <= x{MAX_WALL_RATIO}  {'PASS' if ratio <= MAX_WALL_RATIO else 'FAIL'}")


if __name__ == "__main__":
    raise SystemExit(main())
