"""Viewer speed in headless Chromium: time to first frame and scrubbing frame rate.

    .venv/bin/python benchmarks/bench_viewer.py [--run RUN_DIR] [--sizes 100000] [--repeats 3]

Scenes: the given run (default: a fresh default run, `worldsim generate` with configs/default.yaml, ~8k Gaussians;
a minute or two on 2 idle cores) and, for each --sizes entry, a copy of that run whose reconstruction is
resampled to that many Gaussians (each one a jittered copy of an original Gaussian, keeping its motion basis),
so the camera, video and motion are real. For each scene:

    first_frame_ms   page navigation -> the first frame drawn (server start excluded; data served
                     from a warm server: scene packing is measured separately as pack_ms)
    scrub_fps        frames drawn per second while the slider goes first -> last -> first, repeatedly
                     (each step renders every Gaussian: project, depth-sort, composite)
    render_ms        median time of one render as the page measures it
    export_first_ms  the same, for the exported HTML opened from file://
    export_mb        size of the exported HTML

Prints one JSON line per scene. Needs chromium and chromedriver (scripts/setup.sh) and selenium.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--disable-gpu"):
        opts.add_argument(arg)
    d = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    d.set_script_timeout(600)
    return d


def wait_ready(d, timeout=600):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = d.execute_script("const V = window.worldsimViewer; return V && [V.ready && V.busy === 0, V.error];")
        if r and (r[0] or r[1]):
            if r[1]:
                raise RuntimeError(r[1])
            return
        time.sleep(0.05)
    raise TimeoutError("viewer not ready")


def measure(d, url: str, repeats: int) -> dict:
    t0 = time.perf_counter()
    d.get(url)
    wait_ready(d)
    first = d.execute_script("return window.worldsimViewer.firstFrameMs")
    wall = (time.perf_counter() - t0) * 1000
    res = d.execute_script(f"""
        const V = window.worldsimViewer, T = V.frames, ms = [];
        const seq = []; for (let r = 0; r < {repeats}; r++) {{ for (let t = 0; t < T; t++) seq.push(t); for (let t = T - 1; t >= 0; t--) seq.push(t); }}
        const t0 = performance.now();
        for (const t of seq) {{ V.setFrame(t); ms.push(V.lastRenderMs); }}
        return [seq.length, performance.now() - t0, ms];""")
    steps, total, ms = res
    return {"first_frame_ms": round(first, 1), "page_load_ms": round(wall, 1), "scrub_fps": round(steps / (total / 1000), 2),
            "render_ms": round(statistics.median(ms), 1), "frames": d.execute_script("return window.worldsimViewer.frames"),
            "gaussians": d.execute_script("return window.worldsimViewer.scene.n")}


def screenshot(d, path: Path) -> None:
    """The page at the middle frame with 'the ball' highlighted, written atomically to `path`."""
    from selenium.webdriver.common.by import By

    from worldsim.artifacts import atomic_path

    d.execute_script("const V = window.worldsimViewer; V.setFrame(Math.floor(V.frames / 2));")
    box = d.find_element(By.ID, "command")
    box.clear()
    box.send_keys("the ball")
    d.find_element(By.ID, "highlight").click()
    time.sleep(0.5)
    wait_ready(d)
    with atomic_path(path) as tmp:
        d.get_screenshot_as_file(str(tmp))


def resampled(run: Path, n: int, base: Path) -> Path:
    """A copy of `run` whose reconstruction has `n` Gaussians (jittered copies of the originals)."""
    import torch

    from worldsim.scene import load_scene
    from worldsim.types import GaussianScene

    out = base / f"{run.name}-n{n}"
    shutil.copytree(run, out, ignore=shutil.ignore_patterns("ply", "point_clouds", "*.mp4"))
    scene = load_scene(run)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(scene), (n,), generator=g)
    scale = scene.log_scales.exp()[idx].mean(dim=1, keepdim=True)
    big = GaussianScene(
        means=scene.means[idx] + torch.randn(n, 3, generator=g) * scale, quats=scene.quats[idx],
        log_scales=scene.log_scales[idx] - 0.5 * torch.log(torch.tensor(n / len(scene))).clamp_min(0) / 1.5,
        logit_opacities=scene.logit_opacities[idx], sh=scene.sh[idx], basis_rotations=scene.basis_rotations,
        basis_translations=scene.basis_translations, weights=scene.weights[idx], instance=scene.instance[idx],
        features=None if scene.features is None else scene.features[idx])
    rec = json.loads((run / "run.json").read_text())["outputs"]["reconstruction"]["scene"]
    big.save(out / rec)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="run folder (default: generate the default run in a temporary folder)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000], help="resampled scene sizes (default 100000)")
    ap.add_argument("--repeats", type=int, default=3, help="first->last->first sweeps per measurement")
    ap.add_argument("--no-export", action="store_true", help="skip the exported-HTML measurement")
    ap.add_argument("--screenshot", default=None, help="also save the live page of the first scene (middle frame, the "
                    "query 'the ball' highlighted) as this PNG, as in the README")
    args = ap.parse_args()

    from worldsim.viewer import data
    from worldsim.viewer.export import export_html
    from worldsim.viewer.server import serving

    import datetime
    import os
    import platform
    import subprocess

    chromium = subprocess.run([shutil.which("chromium") or "chromium", "--version"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": platform.platform(),
                      "cpus": os.cpu_count(), "load_average": [round(x, 1) for x in os.getloadavg()], "browser": chromium,
                      "seed": 0, "sizes": args.sizes, "repeats": args.repeats}), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    try:
        if args.run:
            run = Path(args.run)
        else:
            from worldsim import pipeline
            from worldsim.config import load_config

            t0 = time.perf_counter()
            run = pipeline.run_pipeline("A red ball rolls quickly from left to right", config=load_config("default"),
                                        seed=0, output_dir=tmp / "runs")
            print(json.dumps({"generated": str(run), "generate_s": round(time.perf_counter() - t0, 1)}), flush=True)
        scenes = [run] + [resampled(run, n, tmp) for n in args.sizes]
        d = driver()
        try:
            for scene_run in scenes:
                version = data.Family.of(scene_run).get(scene_run.name)
                t0 = time.perf_counter()
                packed = data.scene_payload(version, "reconstruction")
                pack_ms = (time.perf_counter() - t0) * 1000
                with serving(scene_run) as srv:
                    row = {"run": scene_run.name, "pack_ms": round(pack_ms, 1), "scene_mb": round(len(packed) / 2**20, 2)}
                    row.update(measure(d, srv.url, args.repeats))
                    if args.screenshot and scene_run == run:
                        screenshot(d, Path(args.screenshot))
                if not args.no_export:
                    html = tmp / f"{scene_run.name}.html"
                    t0 = time.perf_counter()
                    export_html(scene_run, html, selections=False)
                    row["export_s"] = round(time.perf_counter() - t0, 2)
                    row["export_mb"] = round(html.stat().st_size / 2**20, 2)
                    ex = measure(d, html.as_uri(), 1)
                    row["export_first_ms"], row["export_scrub_fps"] = ex["first_frame_ms"], ex["scrub_fps"]
                print(json.dumps(row), flush=True)
        finally:
            d.quit()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
