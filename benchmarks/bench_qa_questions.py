"""Exactness of the VLM4D questions (worldsim.qa.questions) and robustness of the judge (plugins.vlm4d_qa.judge)
over procedural scenes.

For each of --scenes seeded scenes (one or two object groups, named colours or none, 1-3 copies, a direction
among the 8 and 'none', a speed, spin on about one scene in five) the script generates the clip (procedural,
--size px, --frames frames), makes the questions from labels.json and checks their answers against two
references the questions do not use:
  translational: the heading of the instance's ground-truth Gaussians (scene.safetensors, GaussianScene.at_frame)
                 projected with the camera, first to last frame (and, as a second figure, the plan's direction);
  rotational:    the signed angular motion of those projected Gaussians about their centre (clockwise > 0).
It also counts the questions per category and the groups left out as ambiguous.

Judge: every generated question is answered in templated styles (bare letter, bold letter + text, lower-case
"Answer: c", a chain of thought that names every option before concluding, the choice text alone, a
free-form sentence with synonyms judged by choice words + MiniLM ranking, the same judged by MiniLM ranking
alone) from the correct choice, and the share of answers read back as that choice is printed per style. The
styles are written by this script, so this measures the judge on these templates, not on real model output.

Run: nice -n 10 .venv/bin/python benchmarks/bench_qa_questions.py [--scenes 100] [--seed 0] [--size 64] [--frames 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COLORS = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "white", "cyan", "magenta", None]
DIRECTIONS = ["left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right", "none"]
SPEEDS = ["slow", "normal", "fast"]
SYNONYM = {  # free-form wording of each choice meaning (none of the choice texts' own words where avoidable)
    "moving left": "It heads towards the left-hand side.",
    "moving right": "It travels towards the right side.",
    "moving up": "It rises towards the top of the frame.",
    "moving down": "It sinks towards the bottom of the frame.",
    "moving up and to the left": "It goes diagonally towards the top-left corner.",
    "moving up and to the right": "It goes diagonally towards the top-right corner.",
    "moving down and to the left": "It goes diagonally towards the bottom-left corner.",
    "moving down and to the right": "It goes diagonally towards the bottom-right corner.",
    "not moving": "It stays where it is the whole time.",
    "rotating clockwise": "It turns the same way a clock's hands do.",
    "rotating counter-clockwise": "It turns anticlockwise.",
    "not rotating": "It does not turn at all.",
}


def scene_list(n: int, seed: int) -> list[dict]:
    from worldsim.objects import OBJECTS

    rng = random.Random(seed)
    nouns = sorted(OBJECTS)
    scenes = []
    for k in range(n):
        groups = []
        for _ in range(rng.choice([1, 1, 2])):
            noun = rng.choice(nouns)
            groups.append({"name": noun, "color": rng.choice(COLORS), "count": rng.choice([1, 1, 2, 3])})
        scenes.append({"objects": groups, "direction": rng.choice(DIRECTIONS), "speed": rng.choice(SPEEDS),
                       "spin": rng.random() < 0.2, "seed": seed * 1000 + k})
    return scenes


def plan_of(scene: dict):
    from worldsim.types import MotionSpec, ObjectSpec, Plan

    objs = tuple(ObjectSpec(**g) for g in scene["objects"])
    text = " and ".join(f"{g['count']} {g['color'] or ''} {g['name']}" for g in scene["objects"])
    return Plan(mode="generate", text=f"{text} moving {scene['direction']}", objects=objs,
                motion=MotionSpec(direction=scene["direction"], speed=scene["speed"], spin=scene["spin"]))


def projected_tracks(scene_path: Path, camera, ids: list[int]):
    """{instance id: list over frames of [M,2] projected Gaussian means}."""
    from worldsim.types import GaussianScene

    scene = GaussianScene.load(scene_path)
    out = {i: [] for i in ids}
    for t in range(scene.num_frames):
        means, _ = scene.at_frame(t)
        means = means.numpy()
        for i in ids:
            xy, _ = camera.project(means[(scene.instance == i).numpy()])
            out[i].append(xy)
    return out


def gaussian_heading(track) -> str:
    from worldsim.qa.measure import direction_of

    a, b = track[0].mean(0), track[-1].mean(0)
    return direction_of(float(b[0] - a[0]), float(b[1] - a[1]))


def gaussian_sense(track) -> str:
    import numpy as np

    total = 0.0
    for a, b in zip(track, track[1:]):
        ra, rb = a - a.mean(0), b - b.mean(0)
        total += float(np.sum(ra[:, 0] * rb[:, 1] - ra[:, 1] * rb[:, 0]))
    return "clockwise" if total > 0 else "counter-clockwise"


def styles(item) -> dict[str, tuple[str, bool]]:
    """Templated answers that all mean the correct choice: style -> (text, free_form)."""
    L, text = item.answer, item.choices[item.answer]
    others = "; ".join(f"option {k} ({v}) does not match what happens" for k, v in item.choices.items() if k != L)
    ref = text if text.startswith("there ") else None
    free = (ref[0].upper() + ref[1:] + " in the video.") if ref else SYNONYM.get(text, f"I count {text}.")
    return {
        "bare letter": (L, False),
        "bold letter + text": (f"**{L}. {text}**", False),
        "Answer: lower-case": (f"Answer: {L.lower()}", False),
        "chain of thought": (f"Let me go through the options. {others}. Therefore, the answer is ({L}).", False),
        "choice text only": (text, False),
        "free form (words, then MiniLM)": (free, True),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from plugins.procedural.stage import ProceduralGenerator
    from plugins.vlm4d_qa.judge import judge_one, rank_by_embedding
    from worldsim.qa.questions import generate_questions
    from worldsim.types import Camera

    cfg = {"num_frames": args.frames, "width": args.size, "height": args.size, "gaussians_per_object": 300, "write_ply": False}
    print(f"date {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; machine {platform.platform()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, 1 thread; seed {args.seed}; scenes {args.scenes}; generator {cfg}")
    per_type = Counter()
    checks = Counter()
    misses = []
    style_ok, style_n = Counter(), Counter()
    judge_misses = []
    gen_s = q_s = 0.0
    ambiguous_groups = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k, scene in enumerate(scene_list(args.scenes, args.seed)):
            plan = plan_of(scene)
            out = Path(tmp) / f"s{k:03d}"
            out.mkdir()
            t0 = time.perf_counter()
            ProceduralGenerator(cfg).run(plan, seed=scene["seed"], out_dir=out)
            t1 = time.perf_counter()
            labels = json.loads((out / "labels.json").read_text())
            items = generate_questions(plan, labels, scene["seed"], f"videos/{k:06d}.mp4", "procedural")
            t2 = time.perf_counter()
            gen_s, q_s = gen_s + t1 - t0, q_s + t2 - t1
            per_type.update(it.question_type for it in items)
            groups = {(o["name"], o["color"]) for o in labels["objects"]}
            ambiguous_groups += len(groups) - sum(it.question_type == "translational" for it in items)
            camera = Camera.model_validate(labels["camera"])
            tracks = projected_tracks(out / "scene.safetensors", camera, [o["id"] for o in labels["objects"]])
            for it in items:
                truth = it.target.get("direction") if it.question_type == "translational" else it.target.get("rotation")
                if it.question_type == "translational":
                    ref = {gaussian_heading(tracks[i]) for i in it.target["instances"]}
                    ok = ref == {truth}
                    checks["translational vs projected Gaussians"] += ok
                    checks["translational vs plan direction"] += truth == plan.motion.direction
                elif it.question_type == "rotational":
                    ref = {gaussian_sense(tracks[i]) for i in it.target["instances"]}
                    ok = ref == {truth}
                    checks["rotational vs projected Gaussians"] += ok
                else:
                    continue
                if not ok:
                    misses.append(f"scene {k} {it.id}: answer {truth}, projected Gaussians {sorted(ref)}, plan {plan.text}")
            for it in items:
                for style, (text, free) in styles(it).items():
                    letter, how = judge_one(it, text, free_form=free)
                    style_ok[style] += letter == it.answer
                    style_n[style] += 1
                    if letter != it.answer:
                        judge_misses.append(f"{style}: {text!r} -> {letter} ({how}); intended {it.answer} {it.choices}")
                if it.choices[it.answer] in SYNONYM or it.choices[it.answer].startswith("there "):
                    text, _ = styles(it)["free form (words, then MiniLM)"]
                    style_ok["free form, MiniLM ranking alone"] += rank_by_embedding(text, it.choices, it.question) == it.answer
                    style_n["free form, MiniLM ranking alone"] += 1
            print(f"scene {k:3d} seed {scene['seed']}: {plan.text!r} spin={plan.motion.spin}: "
                  + ", ".join(f"{t} {n}" for t, n in Counter(it.question_type for it in items).items()))

    print("\nquestions per category:", dict(per_type), f"(total {sum(per_type.values())})")
    print(f"object groups without a translational question (ambiguous measurement): {ambiguous_groups}")
    for name, good in checks.items():
        n = per_type["translational" if name.startswith("translational") else "rotational"]
        print(f"{name}: {good}/{n} = {good / max(n, 1):.3f}")
    print("judge, share read back as the intended choice, per answer style:")
    for style in style_n:
        print(f"  {style}: {style_ok[style]}/{style_n[style]} = {style_ok[style] / style_n[style]:.3f}")
    print(f"time: generation {gen_s:.1f} s, question generation {1000 * q_s / args.scenes:.2f} ms per scene")
    for m in misses[:20]:
        print("MISMATCH", m)
    for m in judge_misses[:15]:
        print("JUDGE MISS", m)
    if args.json:
        args.json.write_text(json.dumps({"per_type": per_type, "checks": checks, "styles": {s: [style_ok[s], style_n[s]] for s in style_n},
                                         "misses": misses, "judge_misses": judge_misses}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
