"""Training clips for tiny-t2v: procedural worlds with captions and measured motion-intensity levels.

Each clip is one coloured object on a ground palette, rendered by the procedural generator's world
(worldsim.world.builder) at a tiny size. The path is planned by worldsim.planning with a per-clip
planner: a random direction (the 8 moves or none), a random travel distance (so measured intensity levels
span 1..10) and a jittered centre. Captions name count, colour, object and (mostly) the scene, and never
the direction or speed: unguided direction is chance, so guided vs unguided measures the guidance.
The intensity label is measured on the rendered frames (optical flow, worldsim.motion), as Mojito does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

COLORS = ("red", "green", "blue", "yellow", "purple")
NOUNS = ("ball", "cube", "car", "bus", "horse")
SCENES = ("sand", "concrete", "tiles", "clay")
MOVES = ("left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right")
TRAVEL = (0.03, 0.6)  # fraction of the frame travelled over the clip
CENTER_JITTER = (0.1, 0.08)
SCENE_IN_CAPTION = 0.7
DIRECTION_WORDS = frozenset({"left", "right", "up", "down", "upward", "downward", "leftward", "rightward",
                             "towards", "away", "north", "south", "east", "west"})


@dataclass(frozen=True)
class ClipSpec:
    seed: int
    color: str
    noun: str
    direction: str
    travel: float
    center: tuple[float, float]
    scene_in_caption: bool


def caption(color: str, noun: str, scene: str | None = None) -> str:
    """'one red car on sand': count, colour, object, scene; no direction or speed words."""
    return f"one {color} {noun}" + (f" on {scene}" if scene else "")


def phrase(color: str | None, noun: str) -> str:
    """The object phrase whose tokens guidance steers."""
    return f"{color} {noun}" if color else noun


def sample_specs(n: int, seed: int) -> list[ClipSpec]:
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(n):
        direction = "none" if rng.random() < 1 / 9 else MOVES[int(rng.integers(len(MOVES)))]
        specs.append(ClipSpec(
            seed=int(rng.integers(2**31)), color=COLORS[int(rng.integers(len(COLORS)))],
            noun=NOUNS[int(rng.integers(len(NOUNS)))], direction=direction,
            travel=float(rng.uniform(*TRAVEL)),
            center=(0.5 + float(rng.uniform(-1, 1)) * CENTER_JITTER[0], 0.6 + float(rng.uniform(-1, 1)) * CENTER_JITTER[1]),
            scene_in_caption=bool(rng.random() < SCENE_IN_CAPTION)))
    return specs


def render_clip(spec: ClipSpec, num_frames: int, size: int) -> tuple[np.ndarray, str]:
    """(frames uint8 [T,size,size,3], ground palette name)."""
    import torch

    from worldsim.planning import PlannerConfig
    from worldsim.render.scene import render_scene
    from worldsim.types import MotionSpec, ObjectSpec, Plan
    from worldsim.world.builder import build_world, to_scene

    plan = Plan(mode="generate", text=caption(spec.color, spec.noun),
                objects=(ObjectSpec(name=spec.noun, color=spec.color, count=1),),
                motion=MotionSpec(direction=spec.direction, speed="normal"))
    planner = PlannerConfig(travel={"slow": spec.travel, "normal": spec.travel, "fast": spec.travel}, center=spec.center)
    world = build_world(plan, spec.seed, num_frames, size, size, 42.0, 300, 0.6, planner)
    scene = to_scene(world)
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    with torch.no_grad():
        for t in range(num_frames):
            rgb = render_scene(scene, world.camera, t, backend="torch")["rgb"]
            frames[t] = (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    return frames, world.palette


def build_dataset(n: int, seed: int, num_frames: int, size: int, progress: bool = False) -> dict:
    """n clips: frames uint8 [n,T,H,W,3], captions, phrases, levels int64 [n] (1..10), specs (dicts)."""
    from tqdm import tqdm

    from plugins.tiny_t2v.mim import clip_level

    frames = np.zeros((n, num_frames, size, size, 3), np.uint8)
    captions, phrases, levels, specs = [], [], np.zeros(n, np.int64), []
    for i, spec in enumerate(tqdm(sample_specs(n, seed), desc="tiny-t2v: clips", disable=not progress)):
        frames[i], palette = render_clip(spec, num_frames, size)
        captions.append(caption(spec.color, spec.noun, palette if spec.scene_in_caption else None))
        phrases.append(phrase(spec.color, spec.noun))
        levels[i] = clip_level(frames[i])
        specs.append({**asdict(spec), "palette": palette})
    return {"frames": frames, "captions": captions, "phrases": phrases, "levels": levels, "specs": specs}
