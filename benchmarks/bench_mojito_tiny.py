"""Mojito Table 10.1 in miniature on the self-trained tiny-t2v model (thesis ch. 10.4).

For each prompt ("one red car", one colour, one object; direction and speed only in the plan, never in
the prompt, which is also how the model was trained), generate unguided and guided (Directional Motion
Control along the planned boxes) at the same seed and step count. Boxes are measured on the generated
frames by colour segmentation of the named colour (worldsim.detect_color), never read from the plan:

- mIoU: per-frame IoU of the detected box with the planned box (0 where nothing is detected), averaged.
- AP50: all frames of all clips pooled; a frame's detection is ranked by its colour-pixel count and is
  a true positive at IoU >= 0.5; all-point interpolated average precision (one planned box per frame).
- CD: distance of detected and planned box centres (image fractions), over frames with a detection.
- direction accuracy: the detected centre's displacement (mean of the last 3 detected frames minus the
  first 3) snapped to the nearest of the 8 directions, vs the planned direction (chance: 12.5%).
- motion alignment (intensity, on unguided runs): |measured flow level - requested level| / 10 with
  the Motion Intensity Modulator (requested level) and without it (level 0, the unconditioned model).
- wall time: guided / unguided sampling time at the same step count.

    .venv/bin/python benchmarks/bench_mojito_tiny.py --prompts 104 --json outputs/bench_mojito_tiny.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MOVES = ("left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right")
SPEEDS = ("slow", "normal", "fast")


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def centre(b):
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def snap_direction(dx: float, dy: float, min_move: float = 0.03) -> str:
    """Nearest of the 8 image directions (x right, y down); 'none' below `min_move`."""
    from worldsim.types.plan import DIRECTION_VECTORS

    if math.hypot(dx, dy) < min_move:
        return "none"
    return max(MOVES, key=lambda d: DIRECTION_VECTORS[d][0] * dx + DIRECTION_VECTORS[d][1] * dy)


def measure(frames: np.ndarray, color: str, planned) -> dict:
    """Per-clip measurements of the colour detector's boxes vs the planned boxes [T,4]."""
    from worldsim.detect_color import color_boxes, color_mask

    boxes = color_boxes(frames, color)
    pixels = color_mask(frames, color).reshape(len(frames), -1).sum(1)
    ious = [iou(b, p) if b is not None else 0.0 for b, p in zip(boxes, planned)]
    dets = [(int(n), i) for b, n, i in zip(boxes, pixels, ious) if b is not None]
    cds = [math.dist(centre(b), centre(p)) for b, p in zip(boxes, planned) if b is not None]
    found = [centre(b) for b in boxes if b is not None]
    if len(found) >= 2:
        k = min(3, len(found) // 2 or 1)
        a, z = np.mean(found[:k], axis=0), np.mean(found[-k:], axis=0)
        direction = snap_direction(z[0] - a[0], z[1] - a[1])
    else:
        direction = "none"
    return {"miou": float(np.mean(ious)), "detections": dets, "frames": len(frames), "cd": cds,
            "detected_frames": len(found), "direction": direction}


def average_precision(detections: list[tuple[int, float]], num_gt: int, threshold: float = 0.5) -> float:
    if not num_gt:
        return 0.0
    ranked = sorted(detections, key=lambda d: -d[0])
    tp = np.cumsum([1.0 if i >= threshold else 0.0 for _, i in ranked])
    fp = np.cumsum([0.0 if i >= threshold else 1.0 for _, i in ranked])
    if not len(ranked):
        return 0.0
    recall = tp / num_gt
    precision = tp / np.maximum(tp + fp, 1e-12)
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def summarise(rows: list[dict]) -> dict:
    dets = [d for r in rows for d in r["detections"]]
    cds = [c for r in rows for c in r["cd"]]
    return {
        "mIoU": 100 * float(np.mean([r["miou"] for r in rows])),
        "AP50": 100 * average_precision(dets, sum(r["frames"] for r in rows)),
        "CD": float(np.mean(cds)) if cds else float("nan"),
        "detection_rate": sum(r["detected_frames"] for r in rows) / max(sum(r["frames"] for r in rows), 1),
        "direction_accuracy": 100 * float(np.mean([r["direction"] == r["planned_direction"] for r in rows])),
        "seconds_mean": float(np.mean([r["seconds"] for r in rows])),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=104, help="prompts (cycled over 8 directions, 5 colours, 5 objects, 3 speeds)")
    ap.add_argument("--mim-prompts", type=int, default=50, help="prompts for the intensity comparison (levels 1..10 cycled)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20, help="DDIM steps (same for guided and unguided)")
    ap.add_argument("--cfg-scale", type=float, default=3.0)
    ap.add_argument("--eta", type=float, default=None, help="guidance strength (default: configs/tiny-t2v.yaml)")
    ap.add_argument("--lam", type=float, default=None)
    ap.add_argument("--guidance-steps", type=int, default=None, help="K: guided denoising steps")
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--layers", default=None, help="comma-separated attention-module prefixes")
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures and per-prompt rows here")
    args = ap.parse_args(argv)

    import torch
    import yaml

    from worldsim.dmc.guidance import GuidanceSettings
    from plugins.tiny_t2v.data import COLORS, NOUNS
    from plugins.tiny_t2v.mim import plan_level
    from plugins.tiny_t2v.sampling import CHECKPOINT, generate_clip, load_model
    from plugins.tiny_t2v.stage import plan_prompt
    from worldsim.motion import video_intensity_level
    from worldsim.planning import plan_tracks
    from worldsim.types import MotionSpec, ObjectSpec, Plan

    torch.set_num_threads(args.threads)
    preset = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "tiny-t2v.yaml").read_text())
    gen_cfg = next(s for s in preset["stages"] if s["kind"] == "generator")["config"]
    g = dict(gen_cfg["guidance"])
    for key, val in (("eta", args.eta), ("lam", args.lam), ("steps", args.guidance_steps), ("iterations", args.iterations)):
        if val is not None:
            g[key] = val
    if args.layers:
        g["layers"] = args.layers.split(",")
    guided = GuidanceSettings(**{**g, "enabled": True})
    unguided = GuidanceSettings(**{**g, "enabled": False})
    ckpt = Path(args.checkpoint or CHECKPOINT)
    model = load_model(ckpt)
    c = model.config
    training = json.loads((ckpt / "training.json").read_text()) if (ckpt / "training.json").is_file() else {}

    print("# Mojito in miniature: tiny-t2v, guided vs unguided")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f} at start")
    print(f"seed: {args.seed} (prompt i uses seed + i)")
    print(f"checkpoint: {ckpt} sha256 {hashlib.sha256((ckpt / 'model.safetensors').read_bytes()).hexdigest()[:16]} "
          f"({training.get('steps_done', '?')} training steps, {training.get('clips', '?')} clips, data seed "
          f"{training.get('data_seed', '?')}); model {c.num_frames} frames {c.size}x{c.size}, patch {c.patch}")
    print(f"sampling: DDIM {args.steps} steps, cfg {args.cfg_scale}; guidance {guided.model_dump()}")

    rows = {"unguided": [], "guided": []}
    start = time.time()
    for i in range(args.prompts):
        color, noun = COLORS[i % len(COLORS)], NOUNS[(i // len(COLORS)) % len(NOUNS)]
        direction, speed = MOVES[i % len(MOVES)], SPEEDS[(i // len(MOVES)) % len(SPEEDS)]
        plan = Plan(mode="generate", objects=(ObjectSpec(name=noun, color=color),), motion=MotionSpec(direction=direction, speed=speed))
        prompt, phrases = plan_prompt(plan)
        boxes = torch.tensor([t.track.boxes for t in plan_tracks(plan, c.num_frames)], dtype=torch.float32)
        level = plan_level(plan, c.num_frames, c.size, c.size)
        for name, settings in (("unguided", unguided), ("guided", guided)):
            s = generate_clip(model, prompt, phrases, [boxes], level, args.seed + i, args.steps, settings, args.cfg_scale)
            row = measure(s.frames, color, boxes[0].tolist())
            row.update({"prompt": prompt, "planned_direction": direction, "speed": speed, "seconds": s.seconds,
                        "seed": args.seed + i})
            rows[name].append(row)
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{args.prompts} prompts ({time.time() - start:.0f} s)", file=sys.stderr)

    mim_rows = []
    for i in range(args.mim_prompts):
        color, noun = COLORS[i % len(COLORS)], NOUNS[(i // len(COLORS)) % len(NOUNS)]
        requested = 1 + i % 10
        prompt = f"one {color} {noun}"
        row = {"prompt": prompt, "requested": requested, "seed": args.seed + 1000 + i}
        for name, level in (("with_mim", requested), ("without_mim", 0)):
            s = generate_clip(model, prompt, [f"{color} {noun}"], [torch.zeros(1, c.num_frames, 4)], level,
                              args.seed + 1000 + i, args.steps, unguided, args.cfg_scale)
            row[name] = video_intensity_level(s.frames)
        mim_rows.append(row)

    summary = {k: summarise(v) for k, v in rows.items()}
    ratio = summary["guided"]["seconds_mean"] / summary["unguided"]["seconds_mean"]
    print(f"\nprompts: {args.prompts} ({args.prompts // len(MOVES)}+ per direction), wall {time.time() - start:.0f} s")
    print("| method | mIoU ↑ | AP50 ↑ | CD ↓ | direction acc. ↑ | detected frames | s / clip |")
    print("|---|---|---|---|---|---|---|")
    for k in ("unguided", "guided"):
        s = summary[k]
        print(f"| {k} | {s['mIoU']:.1f} | {s['AP50']:.1f} | {s['CD']:.3f} | {s['direction_accuracy']:.1f}% | "
              f"{100 * s['detection_rate']:.0f}% | {s['seconds_mean']:.2f} |")
    miou_x = summary["guided"]["mIoU"] / max(summary["unguided"]["mIoU"], 1e-9)
    print(f"guided / unguided mIoU: {miou_x:.2f}x (target >= 2x); guided direction accuracy "
          f"{summary['guided']['direction_accuracy']:.1f}% (target >= 90%); wall-time ratio {ratio:.2f}x (target <= 1.5x)")
    if mim_rows:
        with_mim = float(np.mean([abs(r["with_mim"] - r["requested"]) / 10 for r in mim_rows]))
        without = float(np.mean([abs(r["without_mim"] - r["requested"]) / 10 for r in mim_rows]))
        corr = float(np.corrcoef([r["requested"] for r in mim_rows], [r["with_mim"] for r in mim_rows])[0, 1]) \
            if len({r["with_mim"] for r in mim_rows}) > 1 else float("nan")
        print(f"motion alignment ↓ (|measured - requested level| / 10, {len(mim_rows)} prompts, levels 1..10): "
              f"with MIM {with_mim:.3f}, without MIM {without:.3f}; corr(requested, measured with MIM) {corr:.2f}")
        summary["motion_alignment"] = {"with_mim": with_mim, "without_mim": without, "correlation": corr}
    summary["time_ratio"] = ratio
    if args.json:
        from worldsim.artifacts import atomic_write_json

        atomic_write_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary,
                                      "rows": rows, "mim_rows": mim_rows, "guidance": guided.model_dump()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
