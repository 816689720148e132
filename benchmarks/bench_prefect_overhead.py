"""What Prefect adds to one default generation: direct `pipeline.run_pipeline` vs the deployment round trip.

Measures the same generation (prompt, config, seed) three ways:
  direct, in-process     `worldsim.pipeline.run_pipeline(...)` in this process after one warm-up call
  direct, fresh process  the same call in a new Python process, imports included (what each flow
                         run of a served deployment pays too, since the runner starts a process per run)
  deployment round trip  `prefect.deployments.run_deployment("worldsim/generate-4d", ...)` against a
                         `python -m worldsim.serve serve` subprocess, from creating the flow run until
                         it is Completed (scheduling, runner pickup, process start, tasks, artifact)
It reuses (or starts) the local Prefect server of configs/prefect/settings.yaml and checks that both
paths wrote byte-identical artifacts. Target: deployment overhead over the direct in-process call < 10 s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_OVERHEAD_S = 10.0

CHILD = r"""
import sys, time
t0 = time.perf_counter()
from worldsim import pipeline, runner
pipeline.run_pipeline(sys.argv[1], config=sys.argv[2], seed=int(sys.argv[3]), output_dir=sys.argv[4])
print(time.perf_counter() - t0)
"""


def stage_seconds(run_dir: Path) -> float:
    return sum(s["wall_s"] for s in json.loads((run_dir / "run.json").read_text())["stages"])


def artifact_hashes(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "run.json").read_text())
    return {a["path"]: a["sha256"] for a in manifest["artifacts"]}


def only_run(folder: Path) -> Path:
    runs = [p.parent for p in folder.glob("*/run.json")]
    if len(runs) != 1:
        raise SystemExit(f"expected one run folder under {folder}, found {len(runs)}")
    return runs[0]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", default="A red ball rolls quickly from left to right")
    ap.add_argument("--config", default="default", help="preset name or .yaml path (default: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="runs per path (default: 3)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for one deployment run")
    ap.add_argument("--keep", action="store_true", help="keep the run folders (printed) instead of deleting them")
    args = ap.parse_args()

    from worldsim import serve as ws_serve

    env = ws_serve.apply_prefect_env()  # before prefect is imported: its settings come from the environment
    work = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    serve_proc = None
    try:
        t0 = time.perf_counter()
        ws_serve.ensure_server(quiet=True)
        server_s = time.perf_counter() - t0

        import torch
        from prefect import __version__ as prefect_version

        print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
        print(f"machine: {platform.node()} | {platform.platform()} | {cpu_model()} | cpus={os.cpu_count()} | "
              f"python {platform.python_version()} | torch {torch.__version__} threads={torch.get_num_threads()} | prefect {prefect_version}")
        print(f"config: {args.config} | prompt: {args.prompt!r} | seed: {args.seed} | repeats: {args.repeats}")
        print(f"prefect server: {env['PREFECT_API_URL']} (ensure_server {server_s:.1f} s)")

        # Serve first and wait until it polls, so its start-up does not compete with the direct runs for CPUs.
        serve_log = Path(env["PREFECT_HOME"]) / "bench-serve.log"
        started = time.time()
        with open(serve_log, "wb") as log:
            serve_proc = subprocess.Popen([sys.executable, "-m", "worldsim.serve", "serve", "--output-dir", str(work / "unused")],
                                          stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        ws_serve.wait_for_deployment(timeout=180, polled_since=started)
        print(f"worldsim serve: deployment {ws_serve.DEPLOYMENT} polled {time.time() - started:.1f} s after start (log {serve_log})")

        from worldsim import pipeline

        direct_dir = work / "direct"
        t0 = time.perf_counter()
        pipeline.run_pipeline(args.prompt, config=args.config, seed=args.seed, output_dir=direct_dir / "warmup")
        warmup_s = time.perf_counter() - t0
        direct, direct_rest = [], []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            run = pipeline.run_pipeline(args.prompt, config=args.config, seed=args.seed, output_dir=direct_dir / f"r{i}")
            direct.append(time.perf_counter() - t0)
            direct_rest.append(direct[-1] - stage_seconds(run))
        fresh = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", CHILD, args.prompt, args.config, str(args.seed), str(work / "fresh" / f"r{i}")],
                           check=True, capture_output=True, text=True)
            fresh.append(time.perf_counter() - t0)
        reference = artifact_hashes(only_run(direct_dir / "r0"))

        from prefect.deployments import run_deployment

        rounds, rounds_rest, identical = [], [], True
        for i in range(args.repeats):
            out = work / "deployment" / f"r{i}"
            params = {"prompt": args.prompt, "config": args.config, "seed": args.seed, "output_dir": str(out)}
            t0 = time.perf_counter()
            flow_run = run_deployment(ws_serve.DEPLOYMENT, parameters=params, timeout=args.timeout, poll_interval=0.2)
            rounds.append(time.perf_counter() - t0)
            state = flow_run.state
            if state is None or not state.is_completed():
                print(f"deployment run {flow_run.name} ended {state.name if state else 'unknown'}: {state.message if state else ''}; "
                      f"see {serve_log}", file=sys.stderr)
                return 1
            identical &= artifact_hashes(only_run(out)) == reference
            rounds_rest.append(rounds[-1] - stage_seconds(only_run(out)))

        med = statistics.median
        fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
        overhead = med(rounds) - med(direct)  # the target's figure; noisy on a loaded machine, see below
        print(f"direct, in-process:    median {med(direct):.2f} s (runs: {fmt(direct)}; first call incl. imports {warmup_s:.2f} s)")
        print(f"direct, fresh process: median {med(fresh):.2f} s (runs: {fmt(fresh)})")
        print(f"deployment round trip: median {med(rounds):.2f} s (runs: {fmt(rounds)})")
        print(f"overhead vs in-process: {overhead:.2f} s; vs fresh process: {med(rounds) - med(fresh):.2f} s; "
              f"ratio {med(rounds) / med(direct):.1f}x")
        # Stage work varies with machine load; time outside the stages isolates what each path adds.
        print(f"outside the stages:    direct in-process median {med(direct_rest):.2f} s; deployment median "
              f"{med(rounds_rest):.2f} s (runs: {fmt(rounds_rest)}) -> Prefect adds {med(rounds_rest) - med(direct_rest):.2f} s")
        print(f"artifacts identical (same seed, direct vs deployment): {'yes' if identical else 'NO'}")
        print(f"target: overhead < {TARGET_OVERHEAD_S:.0f} s -> {'met' if overhead < TARGET_OVERHEAD_S else 'NOT met'} "
              f"({overhead / TARGET_OVERHEAD_S:.2f} of the budget)")
        return 0 if identical else 1
    finally:
        if serve_proc is not None and serve_proc.poll() is None:
            serve_proc.terminate()
            try:
                serve_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                serve_proc.kill()
        if args.keep:
            print(f"run folders kept under {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
