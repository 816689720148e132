"""The scenes of a batch spec: the parameter grid, their deterministic enumeration, seeds, splits and prompts.

`enumerate_scenes(spec)` draws `spec.num_scenes` scenes from `parameter_grid(spec)` (object, colour,
count, direction, speed) with the spec's seed, without repeats until the grid is used up; each scene
gets a stable id (`content_hash` of its parameters), a generator seed (`scene_seed`), a split and an
English prompt (`build_prompt`) the rules parser reads back as exactly its parameters. Everything is a
pure function of the spec's content, so a re-run maps to the same ids. `worldsim.batch` runs the scenes;
`worldsim.io.datasets` checks a dataset's records against them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from typing import Any

from worldsim.types.batch import BatchSpec, Scene

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen")
DIRECTION_PHRASES = {"right": "from left to right", "left": "from right to left", "up": "upwards", "down": "downwards",
                     "up-left": "up and to the left", "up-right": "up and to the right",
                     "down-left": "down and to the left", "down-right": "down and to the right"}
SPEED_ADVERBS = {"slow": "slowly", "normal": "", "fast": "quickly"}


def build_prompt(noun: str, color: str, count: int, direction: str, speed: str) -> str:
    """An English sentence the rules parser reads back as exactly these parameters, e.g.
    'Two blue cars move slowly from right to left', 'A red ball stays still'."""
    from worldsim.objects import plural_of

    if count == 1:
        subject, verb, still = f"{'an' if color[0] in 'aeiou' else 'a'} {color} {noun}", "moves", "stays still"
    else:
        subject, verb, still = f"{NUMBER_WORDS[count]} {color} {plural_of(noun)}", "move", "stay still"
    words = [subject, still] if direction == "none" else [subject, verb, SPEED_ADVERBS[speed], DIRECTION_PHRASES[direction]]
    text = " ".join(w for w in words if w)
    return text[0].upper() + text[1:]


def content_hash(*parts: Any) -> str:
    """sha256 hex of the JSON of `parts` (keys sorted): stable ids and spec digests."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def scene_seed(batch_seed: int, index: int) -> int:
    """The generator seed of scene `index`: the first 4 bytes of sha256('<batch_seed>:<index>')."""
    return int.from_bytes(hashlib.sha256(f"{batch_seed}:{index}".encode()).digest()[:4], "big")


def parameter_grid(spec: BatchSpec) -> list[tuple[str, str, int, str, str]]:
    """(object, colour, count, direction, speed) combinations; a still scene ('none') has speed 'normal' only."""
    combos = []
    seen = set()
    for obj, color, count, direction, speed in itertools.product(spec.objects, spec.colors, spec.counts, spec.directions, spec.speeds):
        combo = (obj, color, count, direction, "normal" if direction == "none" else speed)
        if combo not in seen:
            seen.add(combo)
            combos.append(combo)
    return combos


def enumerate_scenes(spec: BatchSpec) -> list[Scene]:
    """`spec.num_scenes` scenes drawn from the parameter grid with the spec's seed: without repeats until
    the grid is used up, then another round. Deterministic; ids are stable for the same spec content."""
    grid = parameter_grid(spec)
    rng = random.Random(f"worldsim-batch:{spec.seed}")
    picks: list[int] = []
    while len(picks) < spec.num_scenes:
        picks += rng.sample(range(len(grid)), min(len(grid), spec.num_scenes - len(picks)))
    split_of = _assign_splits(spec, [grid[i][0] for i in picks])
    scenes = []
    for index, gi in enumerate(picks):
        obj, color, count, direction, speed = grid[gi]
        digest = content_hash(spec.seed, index, obj, color, count, direction, speed)[:8]
        sid = f"{index:06d}-{count}-{color}-{obj}-{direction}-{speed}-{digest}"
        scenes.append(Scene(id=sid, index=index, object=obj, color=color, count=count, direction=direction, speed=speed,
                            prompt=build_prompt(obj, color, count, direction, speed), seed=scene_seed(spec.seed, index),
                            split=split_of[index]))
    return scenes


def _assign_splits(spec: BatchSpec, objects: list[str]) -> list[str]:
    """Held-out object categories go to `holdout_split`; the other scenes are shuffled with the seed and
    cut by the ratios (train first, rounding to the nearest count, test takes the rest)."""
    held = set(spec.splits.holdout_objects)
    out = [spec.splits.holdout_split if o in held else "" for o in objects]
    rest = [i for i, o in enumerate(objects) if o not in held]
    random.Random(f"worldsim-batch-splits:{spec.seed}").shuffle(rest)
    n_train = round(spec.splits.train * len(rest))
    n_val = min(round(spec.splits.val * len(rest)), len(rest) - n_train)
    for k, i in enumerate(rest):
        out[i] = "train" if k < n_train else "val" if k < n_train + n_val else "test"
    return out
