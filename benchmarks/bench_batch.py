"""Batch synthesis throughput and kill-and-resume (issue 5).

1. Throughput: `worldsim batch SPEC --out A --runner R --workers W --json` on a fresh folder (default: the
   200-scene example spec, parse + procedural generation, no reconstruction, 2 thread workers); prints
   scenes/hour (target >= 600 on 2 cores) and the per-scene median.
2. Kill and resume: the same batch into a fresh folder B, SIGKILLed once `--kill-at` scene records exist,
   then re-run; prints the scenes found valid by `worldsim dataset validate` (target: all of them) and
   duplicates among scene records, videos, conversations and question ids (target: 0).
3. `--compare N`: N scenes with each runner (none, threads, dask) to show what parallelism adds here.

Each batch runs in a fresh subprocess (the CLI) with OMP_NUM_THREADS=1; each scene worker uses one torch thread
(worldsim.batch.TORCH_THREADS_PER_WORKER).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _cli(spec: Path, out: Path, runner: str, workers: int) -> list[str]:
    return [sys.executable, "-m", "worldsim.cli", "batch", str(spec), "--out", str(out), "--runner", runner,
            "--workers", str(workers), "--json"]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def run_batch(spec: Path, out: Path, runner: str, workers: int) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(_cli(spec, out, runner, workers), capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"batch failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _records(out: Path) -> int:
    return len(list((out / "records").glob("*.json"))) if (out / "records").is_dir() else 0


def duplicates(out: Path) -> dict:
    rows = [line for p in sorted(out.glob("sharegpt_*.jsonl")) for line in p.read_text().splitlines()]
    qids = [q["id"] for p in sorted(out.glob("vlm4d_*.json")) for q in json.loads(p.read_text())]
    recs = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]
    dense = [json.loads(line)["id"] for p in sorted(out.glob("dense_*.jsonl")) for line in p.read_text().splitlines()]
    dup = lambda xs: sum(n - 1 for n in Counter(xs).values() if n > 1)
    return {"scene_ids": dup(r["scene"]["id"] for r in recs), "scene_indices": dup(r["scene"]["index"] for r in recs),
            "videos": dup(r["video"] for r in recs), "conversations": dup(rows), "question_ids": dup(qids),
            "dense_records": dup(dense)}


def kill_and_resume(spec: Path, out: Path, runner: str, workers: int, kill_at: int) -> None:
    from worldsim.io.datasets import validate_dataset

    proc = subprocess.Popen(_cli(spec, out, runner, workers), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(), start_new_session=True)
    while _records(out) < kill_at and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = _records(out)
    partial = len(list((out / "runs").glob(".*.partial")))
    print(f"killed (SIGKILL) with {at_kill} scene records written, {partial} partial run folders, "
          f"manifest {'present' if (out / 'manifest.json').exists() else 'absent'}")
    summary, wall = run_batch(spec, out, runner, workers)
    print(f"re-run: synthesized {summary['synthesized']}, recovered {summary['recovered']}, skipped {summary['skipped']} "
          f"in {wall:.1f} s")
    counts = validate_dataset(out)
    print(f"valid scenes: {counts['scenes']} / {summary['scenes']} (validate: {counts})")
    print(f"duplicates: {duplicates(out)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default=str(REPO / "configs" / "batch" / "example.yaml"))
    ap.add_argument("--scenes", type=int, default=200, help="num_scenes (overrides the spec's)")
    ap.add_argument("--runner", default="threads", choices=("threads", "dask", "none"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-at", type=int, default=100, help="scene records before the SIGKILL (0: skip the check)")
    ap.add_argument("--compare", type=int, default=0, metavar="N", help="also time N scenes with each runner")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()

    import yaml

    from worldsim.batch import load_spec, resolve_config

    spec_data = yaml.safe_load(Path(args.spec).read_text())
    spec_data["num_scenes"] = args.scenes
    spec = load_spec(spec_data)
    gen = resolve_config(spec).step("generator")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()} | {cpu} | cpus={os.cpu_count()} | load average at start {os.getloadavg()}")
    print(f"spec: {args.spec} | scenes {spec.num_scenes} | seed {spec.seed} | stages {spec.stages} | "
          f"generator {gen.name} {json.dumps(gen.config, sort_keys=True)} | questions {spec.questions}")
    print(f"runner: {args.runner} x {args.workers}")
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(spec_data))
        if not args.skip_throughput:
            summary, wall = run_batch(spec_path, Path(tmp) / "a", args.runner, args.workers)
            rate = 3600 * summary["scenes"] / wall
            print(f"throughput: {summary['scenes']} scenes in {wall:.1f} s (process, imports included) = {rate:.0f} scenes/hour; "
                  f"inside the batch {summary['scenes_per_hour']:.0f} scenes/hour; per-scene median {summary['per_scene_median_s']:.3f} s "
                  f"(one scene on one worker: run + records)")
            print(f"target >= 600 scenes/hour -> {rate / 600:.1f}x")
        if args.kill_at:
            kill_and_resume(spec_path, Path(tmp) / "b", args.runner, args.workers, args.kill_at)
        if args.compare:
            small = {**spec_data, "num_scenes": args.compare}
            cmp_path = Path(tmp) / "compare.yaml"
            cmp_path.write_text(yaml.safe_dump(small))
            for runner, workers in (("none", 1), ("threads", args.workers), ("dask", args.workers)):
                summary, wall = run_batch(cmp_path, Path(tmp) / f"c-{runner}", runner, workers)
                print(f"compare {runner} x {workers}: {args.compare} scenes in {wall:.1f} s = {3600 * args.compare / wall:.0f} scenes/hour "
                      f"(per-scene median {summary['per_scene_median_s']:.3f} s)")
        print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
