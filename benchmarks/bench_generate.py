"""Wall time and peak memory of the default procedural generation on the CPU (no Prefect).

Each repetition runs in a fresh subprocess so peak RSS is that run's own. Target (issue 2): the
default generation (16 frames, 128x128) under 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from worldsim import pipeline
t_import = time.perf_counter() - t0
run = pipeline.run_pipeline(sys.argv[1], config=sys.argv[2], seed=int(sys.argv[3]), output_dir=sys.argv[4])
total = time.perf_counter() - t0
manifest = json.loads((run / "run.json").read_text())
print(json.dumps({"total_s": total, "import_s": t_import,
                  "stages": {s["kind"]: s["wall_s"] for s in manifest["stages"]},
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", default="A red ball rolls quickly from left to right")
    ap.add_argument("--config", default="default", help="preset name (default: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | cpus={os.cpu_count()} | torch {torch.__version__} threads={torch.get_num_threads()}")
    print(f"config: {args.config} | prompt: {args.prompt!r} | seed: {args.seed} | repeats: {args.repeats}")
    results = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeats):
            proc = subprocess.run([sys.executable, "-c", CHILD, args.prompt, args.config, str(args.seed), out],
                                  capture_output=True, text=True, check=True)
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    gen = [r["stages"]["generator"] for r in results]
    print(f"generator stage wall s: median {statistics.median(gen):.2f} (runs: {', '.join(f'{g:.2f}' for g in gen)})")
    print(f"parser stage wall s:    median {statistics.median(r['stages']['parser'] for r in results):.4f}")
    print(f"process total s (imports included): median {statistics.median(r['total_s'] for r in results):.2f}; imports {statistics.median(r['import_s'] for r in results):.2f}")
    print(f"peak RSS MB: max {max(r['peak_rss_mb'] for r in results):.0f}")
    print(f"target: generator < 5 s -> ratio {statistics.median(gen) / 5.0:.2f} of the budget")


if __name__ == "__main__":
    main()
