"""Directional Motion Control on the four diffusers backends with tiny random pipelines.

For each backend a tiny random pipeline (plugins.diffusers_video.testing / tiny_dit) is saved to a
temporary folder and loaded by path through the generator; for each seed the same plan is generated with
guidance off and on, and the object attention of attention.safetensors is scored against the planned
boxes (worldsim.planning.plan_tracks, rasterised on the latent/token grid): in-box mass per frame and the
energy mean_i (1 - in-box mass_i)^2. Random weights make the frames noise, so this measures what the
guidance does to the attention, not how the video looks; real checkpoints need a GPU (tests marked gpu).

    .venv/bin/python benchmarks/bench_dmc_tiny.py --seeds 5 [--backends diffusers-wan,diffusers-cosmos]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BACKENDS = {
    # name: (generator config, guidance when on)
    "diffusers-animatediff": ({"motion_adapter": None, "num_inference_steps": 2, "height": 16, "width": 16,
                               "num_frames": 4, "fps": 4, "guidance_scale": 7.5},
                              {"eta": 30.0, "lam": 0.0, "steps": 2, "iterations": 5}),
    "diffusers-cogvideox": ({"num_inference_steps": 2, "height": 32, "width": 32, "num_frames": 9, "fps": 8,
                             "max_sequence_length": 16, "guidance_scale": 6.0},
                            {"eta": 1.0, "lam": 0.1, "steps": 2, "iterations": 3}),
    "diffusers-wan": ({"num_inference_steps": 2, "height": 16, "width": 16, "num_frames": 4, "fps": 4,
                       "max_sequence_length": 16, "guidance_scale": 3.0},
                      {"eta": 10.0, "steps": 2, "iterations": 3}),
    "diffusers-cosmos": ({"num_inference_steps": 2, "height": 16, "width": 16, "num_frames": 5, "fps": 8,
                          "max_sequence_length": 16, "guidance_scale": 3.0, "guardrail": False},
                         {"eta": 1000.0, "steps": 2, "iterations": 3}),
}


def build_backend(name: str, folder: Path) -> tuple[str, type]:
    """Save the backend's tiny random pipeline (seed 0) at `folder`; (folder, generator class)."""
    from plugins.diffusers_video import testing, tiny_dit
    from plugins.diffusers_video.animatediff import AnimateDiffGenerator
    from plugins.diffusers_video.cogvideox import CogVideoXGenerator
    from plugins.diffusers_video.cosmos import CosmosGenerator
    from plugins.diffusers_video.wan import WanGenerator

    if name == "diffusers-animatediff":
        return testing.tiny_animatediff_pipeline(folder, seed=0), AnimateDiffGenerator
    if name == "diffusers-cogvideox":
        return testing.tiny_cogvideox_pipeline(folder, seed=0), CogVideoXGenerator
    build, cls = {"diffusers-wan": (tiny_dit.tiny_wan_pipeline, WanGenerator),
                  "diffusers-cosmos": (tiny_dit.tiny_cosmos_pipeline, CosmosGenerator)}[name]
    build(seed=0).save_pretrained(str(folder))
    return str(folder), cls


def in_box(maps, plan, num_frames):
    """(mean in-box mass, energy mean_i (1 - mass_i)^2) over instances and frames; maps [K, T, h, w]."""
    import torch

    from worldsim.dmc.guidance import box_masks
    from worldsim.planning import plan_tracks

    mass = torch.stack([(maps[i] * box_masks(torch.tensor(tr.track.boxes), *maps.shape[2:])).flatten(1).sum(-1)
                        for i, tr in enumerate(plan_tracks(plan, num_frames))])
    return float(mass.mean()), float(((1 - mass) ** 2).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backends", default=",".join(BACKENDS), help=f"comma list of {', '.join(BACKENDS)}")
    args = ap.parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        ap.error(f"unknown backend {unknown[0]!r}; available: {', '.join(BACKENDS)}")

    import diffusers
    import torch
    from safetensors.torch import load_file

    from worldsim.testing import tiny_plan

    torch.set_num_threads(args.threads)
    print(f"date {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}  machine "
          f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, torch threads {args.threads}, "
          f"torch {torch.__version__}, diffusers {diffusers.__version__}")
    plan = tiny_plan()
    print(f"plan: {plan.text!r}; seeds 0..{args.seeds - 1}; tiny random pipelines built with seed 0")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            config, guided = BACKENDS[name]
            folder, cls = build_backend(name, Path(tmp) / name)
            print(f"\n{name}: config {config}; guidance on {guided} (other guidance settings at their defaults)")
            print("seed  in-box off  in-box on  energy off  energy on   s/run off  s/run on")
            deltas, wins = [], 0
            for seed in range(args.seeds):
                row = {}
                for label, guidance in [("off", {"enabled": False}), ("on", guided)]:
                    out = Path(tmp) / f"{name}-{seed}-{label}"
                    out.mkdir()
                    t0 = time.perf_counter()
                    cls({"model": folder, "device": "cpu", "local_files_only": True, **config,
                         "guidance": guidance}).run(plan, seed=seed, out_dir=out)
                    wall = time.perf_counter() - t0
                    row[label] = (*in_box(load_file(str(out / "attention.safetensors"))["maps"], plan,
                                          config["num_frames"]), wall)
                (m0, e0, w0), (m1, e1, w1) = row["off"], row["on"]
                deltas.append(e0 - e1)
                wins += e1 < e0
                print(f"{seed:>4}  {m0:10.4f}  {m1:9.4f}  {e0:10.4f}  {e1:9.4f}  {w0:9.2f}  {w1:8.2f}")
            print(f"energy drop (off - on): mean {statistics.mean(deltas):.4f}, min {min(deltas):.4f}; "
                  f"lower with guidance in {wins}/{args.seeds} seeds")


if __name__ == "__main__":
    main()
