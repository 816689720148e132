"""Camera poses from the video (issue 13): the `opencv-pnp` pose estimator on moving-camera procedural scenes.

`--scenes` moving scenes (default 50) cycle through the motions pan, tilt, dolly, truck, orbit, follow (both
directions, slow / normal / fast) with varied prompts, seed `--seed` + scene index (default 5000: seeds the tests
do not use); `--static` more scenes (default 10) keep the camera still. Each scene is the procedural world
(worldsim.world.builder, `--frames` frames, `--size` px, the generator's defaults) rendered frame by frame from
the path's cameras (worldsim.stage_check.moving_camera_clip). Camera paths: `worldsim.camera_motion.camera_path`
(the plan's CameraSpec; follow tracks the first object) when that module is installed, else the fallback paths
below with the same magnitudes; the script prints which.

The estimator gets the frames (exact, or H.264-decoded with `--video mp4`), frame 0's camera, the depth prior of
the `label-depth` teacher (the rendered depth) and the label masks. Printed: per motion type and overall, median
ATE (% of the scene extent, similarity-aligned; worldsim.pose_metrics), median RRE (degrees), median raw ATE
(metres, no alignment), the share of scenes meeting both targets (ATE <= 2%, RRE <= 1 deg), estimator and render
wall time per scene; for the static scenes, how many were reported static with exactly zero motion.
`--json PATH` also writes every scene's figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MOTIONS = ("pan-left", "tilt-up", "dolly-in", "truck-right", "orbit-left", "follow",
           "pan-right", "tilt-down", "dolly-out", "truck-left", "orbit-right", "follow")
SPEEDS = ("slow", "normal", "fast")
PROMPTS = ("A red ball rolls to the right", "A blue cube slides to the left", "Two green balls move up slowly",
           "A yellow car drives to the left quickly", "An orange cube moves down", "A purple ball rolls to the right",
           "Two red cubes slide to the right", "A cyan cylinder moves to the left slowly")
# The fallback's totals over the clip (as worldsim.camera_motion.MAGNITUDES): degrees or metres per speed.
FALLBACK = {"pan": (3.0, 5.0, 7.0), "tilt": (3.0, 5.0, 7.0), "dolly": (0.6, 1.1, 1.6), "truck": (0.3, 0.5, 0.7),
            "orbit": (10.0, 18.0, 26.0)}
PIVOT = (0.0, 0.8, 0.0)


def _rotation(axis, deg: float) -> np.ndarray:
    a = np.radians(deg)
    x, y, z = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def fallback_path(motion: str, speed: str, first, num_frames: int, track: np.ndarray) -> list:
    """Per-frame cameras when worldsim.camera_motion is missing: linear in time, frame 0 = `first`."""
    kind = motion.split("-")[0]
    sign = -1.0 if motion.endswith(("-right", "-down", "-out")) else 1.0
    total = FALLBACK[kind][SPEEDS.index(speed)] if kind in FALLBACK else 0.0
    V = np.asarray(first.viewmat, np.float64)
    R0, C0 = V[:3, :3], first.center()
    out = [first]
    for t in range(1, num_frames):
        s = t / (num_frames - 1)
        R, C = R0, C0
        if kind == "pan":
            R = R0 @ _rotation((0, 1, 0), sign * total * s).T
        elif kind == "tilt":
            R = R0 @ _rotation(R0[0], sign * total * s).T
        elif kind == "orbit":
            Q = _rotation((0, 1, 0), -sign * total * s)
            R, C = R0 @ Q.T, np.asarray(PIVOT) + Q @ (C0 - np.asarray(PIVOT))
        elif kind == "dolly":
            C = C0 + sign * total * s * R0[2]
        elif kind == "truck":
            C = C0 - sign * total * s * R0[0]
        elif kind == "follow":
            C = C0 + (track[t] - track[0])
        W = np.eye(4)
        W[:3, :3], W[:3, 3] = R, -R @ C
        out.append(first.model_copy(update={"viewmat": tuple(map(tuple, W.tolist()))}))
    return out


def path_maker(motion: str, speed: str, num_frames: int, plan_target: str | None):
    """world -> cameras (None: world.camera in every frame), and which implementation made them."""
    try:
        from worldsim.camera_motion import camera_path
        from worldsim.types import CameraSpec
    except ImportError:
        if motion == "static":
            return None, "fallback"
        return (lambda world: fallback_path(motion, speed, world.camera, num_frames, world.instances[0].positions)), "fallback"
    if motion == "static":
        return None, "camera_motion"
    follow = motion == "follow"
    spec = CameraSpec(motion=motion, speed=speed, target=plan_target if follow else None)
    # orbits circle the default pivot (the first camera's look-at point); follow tracks the first object
    return (lambda world: camera_path(spec, world.camera, num_frames,
                                      target_track=world.instances[0].positions if follow else None)), "camera_motion"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=50)
    ap.add_argument("--static", type=int, default=10)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=5000)
    ap.add_argument("--video", choices=("exact", "mp4"), default="exact", help="exact frames or H.264-decoded ones")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write every scene's figures here")
    args = ap.parse_args()

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    from worldsim.io.video import read_mp4, write_mp4
    from worldsim.pose_metrics import median_depth, pose_errors, static_motion
    from worldsim.registry import get_stage
    from worldsim.stage_check import moving_camera_clip

    parser = get_stage("parser", "rules")
    depth_teacher = get_stage("teacher", "label-depth")
    print(f"bench_pose  {datetime.datetime.now().isoformat(timespec='seconds')}  {platform.platform()}  "
          f"cpus={os.cpu_count()} torch={torch.__version__} opencv={cv2.__version__} threads={args.threads}")
    print(f"scenes={args.scenes} static={args.static} frames={args.frames} size={args.size} seed={args.seed} "
          f"video={args.video}")
    rows, statics = [], []
    source = None
    started = time.perf_counter()
    total = args.scenes + args.static
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(total):
            seed = args.seed + i
            moving = i < args.scenes
            motion = MOTIONS[i % len(MOTIONS)] if moving else "static"
            speed = SPEEDS[(i // len(MOTIONS)) % len(SPEEDS)] if moving else "normal"
            plan = parser.run(PROMPTS[i % len(PROMPTS)])
            path, source = path_maker(motion, speed, args.frames, plan.objects[0].name)
            t0 = time.perf_counter()
            clip = moving_camera_clip(plan, seed, path, args.frames, args.size, args.size, gaussians_per_object=600)
            render_s = time.perf_counter() - t0
            frames = clip["frames"]
            if args.video == "mp4":
                frames = read_mp4(write_mp4(Path(tmp) / f"{i:03d}.mp4", frames, 8))[0]
            depth = depth_teacher.run(clip["frames"], None, {"depth": clip["depth"]}).maps  # [T,H,W,1]
            t0 = time.perf_counter()
            poses = get_stage("pose", "opencv-pnp").run(frames, clip["camera"], depth, clip["masks"])
            pose_s = time.perf_counter() - t0
            row = {"scene": i, "seed": seed, "motion": motion, "speed": speed, "prompt": plan.text,
                   "static": poses.static, "render_s": round(render_s, 3), "pose_s": round(pose_s, 3),
                   "min_inliers": poses.metrics.get("min_inliers"),
                   "median_reprojection_px": poses.metrics.get("median_reprojection_px")}
            if moving:
                errors = pose_errors(poses.cameras, clip["cameras"], median_depth(clip["depth"][0]))
                row.update(ate_pct=errors["rmse_pct"], ate_m=errors["rmse"], raw_ate_m=errors["raw_rmse"],
                           rre_deg=errors["rre_deg"], extent_m=errors["extent"], scale=errors["scale"],
                           alignment=errors["alignment"])
                rows.append(row)
                print(f"{i:3d} {motion:<11} {speed:<6} ATE {row['ate_pct']:.3f}% ({row['ate_m'] * 1000:.1f} mm, raw "
                      f"{row['raw_ate_m'] * 1000:.1f} mm)  RRE {row['rre_deg']:.3f} deg  inliers>={row['min_inliers']}  "
                      f"reproj {row['median_reprojection_px']} px  pose {pose_s:.2f} s  render {render_s:.1f} s", flush=True)
            else:
                motion_figs = static_motion(poses.cameras)
                row.update(identical=poses.cameras == [clip["camera"]] * args.frames, **motion_figs,
                           static_flow_px=poses.metrics.get("static_flow_px"))
                statics.append(row)
                print(f"{i:3d} static      static={poses.static} identical={row['identical']} motion={motion_figs} "
                      f"flow {row['static_flow_px']} px  pose {pose_s:.2f} s  render {render_s:.1f} s", flush=True)
    wall = time.perf_counter() - started

    def summary(group: list[dict]) -> str:
        med = lambda k: statistics.median(r[k] for r in group)
        ok = sum(r["ate_pct"] <= 2.0 and r["rre_deg"] <= 1.0 for r in group)
        return (f"n={len(group):2d}  median ATE {med('ate_pct'):.3f}% of extent ({med('ate_m') * 1000:.1f} mm; max "
                f"{max(r['ate_pct'] for r in group):.3f}%)  median RRE {med('rre_deg'):.3f} deg (max "
                f"{max(r['rre_deg'] for r in group):.3f})  raw ATE {med('raw_ate_m') * 1000:.1f} mm  "
                f"within targets {ok}/{len(group)}  pose {med('pose_s'):.2f} s")

    print(f"\ncamera paths: {'worldsim.camera_motion.camera_path' if source == 'camera_motion' else 'bench_pose fallback'}")
    for kind in ("pan", "tilt", "dolly", "truck", "orbit", "follow"):
        group = [r for r in rows if r["motion"].split("-")[0] == kind]
        if group:
            print(f"{kind:<7} {summary(group)}")
    if rows:
        print(f"{'all':<7} {summary(rows)}")
        print(f"targets: median ATE <= 2% -> {statistics.median(r['ate_pct'] for r in rows) <= 2.0}; "
              f"median RRE <= 1 deg -> {statistics.median(r['rre_deg'] for r in rows) <= 1.0}")
    if statics:
        good = sum(r["static"] and r["identical"] and r["max_translation"] == 0 and r["max_rotation_deg"] == 0
                   for r in statics)
        print(f"static  {good}/{len(statics)} reported static with identical cameras and zero motion; pose "
              f"{statistics.median(r['pose_s'] for r in statics):.3f} s median")
    every = rows + statics
    print(f"wall {wall:.0f} s for {len(every)} scenes: {wall / max(len(every), 1):.1f} s per scene (render median "
          f"{statistics.median(r['render_s'] for r in every):.1f} s, estimator median "
          f"{statistics.median(r['pose_s'] for r in every):.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "paths": source, "moving": rows, "static": statics},
                                              indent=1))


if __name__ == "__main__":
    main()
