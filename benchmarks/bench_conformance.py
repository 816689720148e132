"""Conformance scoring on procedural scenes (issue 5): does the scorer tell agreeing plans from wrong ones?

For every direction (8) x speed (3) x colour (`--colors`), one procedural clip (`--frames` frames,
`--size` px, seed `--seed` + scene index) is scored by the `conformance` scorer with the `--boxes`
sources against (a) its own plan and (b) the plan with the opposite direction, and (c) the motion level
against each of the three speeds. Prints, per source: mean mIoU / AP50 / centroid distance / direction
accuracy for (a) and (b), the share of scenes where (a) beats (b) in mIoU, and the motion-level
confusion (measured level vs requested level per commanded speed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "up-left": "down-right",
            "down-right": "up-left", "up-right": "down-left", "down-left": "up-right"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--colors", default="red,blue,green")
    ap.add_argument("--boxes", default="labels,color")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from plugins.conformance.stage import ConformanceScorer
    from worldsim.testing import tiny_clip, tiny_plan
    from worldsim.types import ScoreInput
    from worldsim import motion

    sources = args.boxes.split(",")
    rows: dict[str, list[dict]] = {s: [] for s in sources}
    levels: dict[str, list[int]] = {s: [] for s in ("slow", "normal", "fast")}
    t0 = time.perf_counter()
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for color in args.colors.split(","):
            for direction in OPPOSITE:
                for speed in ("slow", "normal", "fast"):
                    root = Path(tmp) / f"{n:03d}"
                    plan = tiny_plan(color=color, direction=direction, speed=speed)
                    video, _, _ = tiny_clip(root / "generator", plan, seed=args.seed + n, num_frames=args.frames,
                                            width=args.size, height=args.size)
                    (root / "scores").mkdir()
                    wrong = tiny_plan(color=color, direction=OPPOSITE[direction], speed=speed)
                    for src in sources:
                        good = ConformanceScorer({"boxes": src}).run(ScoreInput(run_dir=str(root), plan=plan, seed=0, video=video), root / "scores").metrics
                        bad = ConformanceScorer({"boxes": src}).run(ScoreInput(run_dir=str(root), plan=wrong, seed=0, video=video), root / "scores").metrics
                        rows[src].append({"good": good, "bad": bad})
                    levels[speed].append(rows[sources[0]][-1]["good"]["motion"]["measured_level"])
                    n += 1
    wall = time.perf_counter() - t0

    print(f"bench_conformance  {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}  "
          f"{platform.node()} {platform.processor() or platform.machine()} cpus={os.cpu_count()}")
    print(f"config: {n} scenes ({args.colors} x 8 directions x 3 speeds), {args.frames} frames, {args.size}x{args.size} px, "
          f"seeds {args.seed}..{args.seed + n - 1}, procedural generator; wall {wall:.1f} s")
    keys = ("miou", "ap50", "centroid_distance", "direction_accuracy")
    for src in sources:
        r = rows[src]
        for which in ("good", "bad"):
            means = {k: float(np.mean([x[which][k] for x in r])) for k in keys}
            print(f"  {src:7s} {'own plan' if which == 'good' else 'opposite':9s} " + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
        wins = np.mean([x["good"]["miou"] > x["bad"]["miou"] for x in r])
        print(f"  {src:7s} own plan beats the opposite plan in mIoU: {wins:.3f} of scenes")
    for speed, got in levels.items():
        want = motion.speed_level(speed, args.frames, "right", args.size, args.size)
        hist = {lv: got.count(lv) for lv in sorted(set(got))}
        print(f"  motion {speed:6s}: requested level {want} (horizontal), measured {json.dumps(hist)}, "
              f"|error| <= 1 in {np.mean([abs(g - want) <= 1 for g in got]):.3f}")


if __name__ == "__main__":
    main()
