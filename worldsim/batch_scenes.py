"""The scenes of a batch spec: the parameter grid, their deterministic enumeration, seeds, splits and prompts.

`enumerate_scenes(spec)` draws `spec.num_scenes` scenes from `parameter_grid(spec)` (object, colour,
count, direction, speed) with the spec's seed, without repeats until the grid is used up; each scene
gets a stable id (`content_hash` of its parameters), a generator seed (`scene_seed`), a split and an
English prompt (`build_prompt`) the rules parser reads back as exactly its parameters. Everything is a
pure function of the spec's content, so a re-run maps to the same ids. `worldsim.batch` runs the scenes;
`worldsim.io.datasets` checks a dataset's records against them.

Cameras (BatchSpec.camera_motions, ego_ratio): without `ego_ratio` the camera motion is one more axis of the
grid (the innermost, so a spec listing only 'static' draws exactly the scenes it drew before cameras could
move); with it, exactly round(ego_ratio x num_scenes) scenes, at seeded positions, draw from the grid with a
moving camera and the others from the static grid, each without repeats until it is used up. A moving-camera
scene's id gains the motion and its prompt a camera phrase (`CAMERA_PHRASES`); a static scene keeps both.
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
# Appended to a scene's sentence; {target} is the scene's objects ('red ball', 'red balls'). The camera moves
# at normal speed (no adverb), so every speed word of the sentence is the objects'.
CAMERA_PHRASES = {
    "static": "",
    "pan-left": "as the camera pans to the left", "pan-right": "as the camera pans to the right",
    "tilt-up": "as the camera tilts up", "tilt-down": "as the camera tilts down",
    "dolly-in": "as the camera dollies in", "dolly-out": "as the camera dollies out",
    "truck-left": "as the camera trucks to the left", "truck-right": "as the camera trucks to the right",
    "orbit-left": "as the camera orbits the {target} to the left", "orbit-right": "as the camera orbits the {target} to the right",
    "follow": "as the camera follows the {target}",
}


def build_prompt(noun: str, color: str, count: int, direction: str, speed: str, camera: str = "static") -> str:
    """An English sentence the rules parser reads back as exactly these parameters, e.g.
    'Two blue cars move slowly from right to left', 'A red ball stays still',
    'A red ball moves from left to right as the camera pans to the left'."""
    from worldsim.objects import plural_of

    if count == 1:
        subject, verb, still = f"{'an' if color[0] in 'aeiou' else 'a'} {color} {noun}", "moves", "stays still"
    else:
        subject, verb, still = f"{NUMBER_WORDS[count]} {color} {plural_of(noun)}", "move", "stay still"
    words = [subject, still] if direction == "none" else [subject, verb, SPEED_ADVERBS[speed], DIRECTION_PHRASES[direction]]
    words.append(CAMERA_PHRASES[camera].format(target=f"{color} {noun if count == 1 else plural_of(noun)}"))
    text = " ".join(w for w in words if w)
    return text[0].upper() + text[1:]


def scene_camera(scene: Scene):
    """The CameraSpec a scene's prompt asks for (what the parser must read back): its motion at normal speed,
    about the scene's object for follow and orbit."""
    from worldsim.types.plan import CameraSpec

    return CameraSpec(motion=scene.camera, target=scene.camera_target)


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


def _draw(grid: list, n: int, rng: random.Random) -> list:
    """n items of `grid`: without repeats until it is used up, then another round."""
    picks: list = []
    while len(picks) < n:
        picks += [grid[i] for i in rng.sample(range(len(grid)), min(len(grid), n - len(picks)))]
    return picks


def scene_parameters(spec: BatchSpec) -> list[tuple[str, str, int, str, str, str]]:
    """The (object, colour, count, direction, speed, camera) of each of the spec's scenes, in order."""
    base = parameter_grid(spec)
    rng = random.Random(f"worldsim-batch:{spec.seed}")
    if spec.ego_ratio is None:  # the camera is the innermost axis: a static-only spec draws what it always drew
        return _draw([(*combo, camera) for combo in base for camera in spec.camera_motions], spec.num_scenes, rng)
    n_ego = round(spec.ego_ratio * spec.num_scenes)
    ego = set(random.Random(f"worldsim-batch-ego:{spec.seed}").sample(range(spec.num_scenes), n_ego))
    moving = _draw([(*combo, camera) for combo in base for camera in spec.moving_camera_motions], n_ego, rng)
    still = _draw([(*combo, "static") for combo in base], spec.num_scenes - n_ego,
                  random.Random(f"worldsim-batch-exo:{spec.seed}"))
    return [moving.pop(0) if i in ego else still.pop(0) for i in range(spec.num_scenes)]


def enumerate_scenes(spec: BatchSpec) -> list[Scene]:
    """`spec.num_scenes` scenes drawn from the parameter grid with the spec's seed: without repeats until
    the grid is used up, then another round (`scene_parameters`). Deterministic; ids are stable for the same
    spec content."""
    params = scene_parameters(spec)
    split_of = _assign_splits(spec, [p[0] for p in params])
    scenes = []
    for index, (obj, color, count, direction, speed, camera) in enumerate(params):
        key = (obj, color, count, direction, speed) if camera == "static" else (obj, color, count, direction, speed, camera)
        digest = content_hash(spec.seed, index, *key)[:8]
        moves = "" if camera == "static" else f"-{camera}"
        sid = f"{index:06d}-{count}-{color}-{obj}-{direction}-{speed}{moves}-{digest}"
        scenes.append(Scene(id=sid, index=index, object=obj, color=color, count=count, direction=direction, speed=speed,
                            camera=camera, prompt=build_prompt(obj, color, count, direction, speed, camera),
                            seed=scene_seed(spec.seed, index), split=split_of[index]))
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
