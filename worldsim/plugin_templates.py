"""`worldsim plugins new KIND NAME`: a working plugin distribution to start from, one template per stage kind.

`write_plugin(kind, name, directory)` writes `directory/worldsim-NAME/`:

    pyproject.toml          [project.entry-points.worldsim] NAME = "worldsim_NAME"; dependencies = ["worldsim"]
    README.md               what the stage does, how to install, check and use it
    worldsim_NAME/__init__.py  the hookimpl `register_<kind>s` registering the stage class
    worldsim_NAME/stage.py  the stage class (subclasses the kind's base class in worldsim.stages), its Config
    tests/test_worldsim_NAME.py  pytest: `worldsim.testing.check_stage` passes, plus one behaviour test

Every template is small but does real work (no placeholders that return fake data):

    parser        keyword parser: colour / noun / count / direction / speed words; edits by the verbs of the
                  installed editors' ops (worldsim.edit_ops.op_verbs)
    generator     one coloured square per planned object instance, following worldsim.planning.plan_tracks,
                  written with worldsim.io.video.write_mp4; exact labels.json + masks optional
    reconstructor a static 2.5D lift of the first frame (one Gaussian per pixel block at the labelled depth, or on a
                  plane), exported with worldsim.scene.export_scene; reports the PSNR it reaches over the clip
    editor        declares a new op `brighten` (BrightenParams: factor) and scales the target object's colour
    scorer        motion and brightness measured on the decoded video, with an optional floor (passed)
    answerer      tracks the asked object's colour between the first and last frames to answer direction
                  and absent-object questions (other questions get an empty answer, judged wrong)
    teacher       mask teacher: pixels labelled by their nearest named colour (worldsim.colors), background id 0
    pose          pan/tilt estimator: the global image shift of each frame against frame 0 (phase correlation,
                  numpy FFT, moving objects masked) turned into a camera rotation; static when nothing shifts

After `pip install -e DIR/worldsim-NAME`, `worldsim plugins check NAME` passes out of the box.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from worldsim.errors import InputError

KINDS = ("parser", "generator", "reconstructor", "editor", "scorer", "answerer", "teacher", "pose")
NAME_RULE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
BASES = {"parser": "Parser", "generator": "Generator", "reconstructor": "Reconstructor", "editor": "Editor",
         "scorer": "Scorer", "answerer": "Answerer", "teacher": "Teacher", "pose": "PoseEstimator"}


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"stage kind '{kind}' is not accepted; accepted: {', '.join(KINDS)}")
    return kind


def check_name(name: str) -> str:
    if not NAME_RULE.match(name or "") or len(name) > 40:
        raise InputError(f"plugin name '{name}' is not accepted; use 1-40 lower-case letters, digits and single hyphens, "
                         f"starting with a letter (e.g. my-gen)")
    return name


def module_name(name: str) -> str:
    """'demo-gen' -> 'worldsim_demo_gen' (the package a template writes)."""
    return "worldsim_" + name.replace("-", "_")


def class_name(kind: str, name: str) -> str:
    """('generator', 'demo-gen') -> 'DemoGenGenerator'; ('editor', 'demo-editor') -> 'DemoEditor'."""
    parts = name.split("-")
    return "".join(part.capitalize() for part in parts) + ("" if parts[-1] == kind and len(parts) > 1 else BASES[kind])


def _fill(text: str, kind: str, name: str) -> str:
    text = textwrap.dedent(text).lstrip("\n")
    for key, value in (("__MODULE__", module_name(name)), ("__CLASS__", class_name(kind, name)),
                       ("__BASE__", BASES[kind]), ("__KIND__", kind), ("__NAME__", name)):
        text = text.replace(key, value)
    return text


def write_plugin(kind: str, name: str, directory: str | Path = ".") -> Path:
    """Write the template distribution `directory/worldsim-NAME/` for a `kind` stage named `name`; returns its folder.
    InputError (one line) for a bad kind or name, or when the folder already exists (nothing is overwritten)."""
    check_kind(kind)
    check_name(name)
    root = Path(directory) / f"worldsim-{name}"
    if root.exists():
        raise InputError(f"'{root}' already exists; refusing to overwrite it (choose another --dir or name)")
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README_HEAD + README[kind] + README_TAIL,
        f"{module_name(name)}/__init__.py": INIT,
        f"{module_name(name)}/stage.py": STAGES[kind],
        f"tests/test_{module_name(name)}.py": TEST_HEAD + TESTS[kind],
    }
    root.parent.mkdir(parents=True, exist_ok=True)
    root.mkdir()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(text, kind, name))
    return root


# ------------------------------------------------------------------------------------------- common files

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "worldsim-__NAME__"
version = "0.1.0"
description = "worldsim plugin: the '__NAME__' __KIND__"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["worldsim"]

[project.optional-dependencies]
test = ["pytest"]

# worldsim finds plugins through this entry-point group: name = the module holding the hookimpls.
[project.entry-points.worldsim]
__NAME__ = "__MODULE__"

[tool.setuptools]
packages = ["__MODULE__"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

INIT = '''
"""worldsim plugin '__NAME__': one __KIND__ stage (stage.py).

worldsim loads this module through the entry point in pyproject.toml ([project.entry-points.worldsim]) and calls
the hook below; `register` checks the class against the __KIND__ contract (worldsim.stages.__BASE__).
"""

from worldsim.hookspecs import hookimpl


@hookimpl
def register___KIND__s(register):
    from __MODULE__.stage import __CLASS__

    register(__CLASS__)
'''

README_HEAD = '''
# worldsim-__NAME__

A worldsim plugin with one __KIND__ stage, `__NAME__` (class `__CLASS__` in `__MODULE__/stage.py`, a subclass of
`worldsim.stages.__BASE__`). Generated by `worldsim plugins new __KIND__ __NAME__`: edit `stage.py` to make it yours.

'''

README_TAIL = '''
## Install, check, test

```bash
pip install -e .                   # offline: pip install --no-deps --no-build-isolation -e .
worldsim plugins                   # lists '__NAME__' with its stage
worldsim plugins check __NAME__    # the __KIND__ contract on tiny inputs: class, result, files, JSON, determinism
pytest                             # tests/ runs the same check (worldsim.testing.check_stage) and a behaviour test
```

`worldsim plugins check __NAME__ --set key=value` checks other settings of the stage's `Config`.

## Files

- `pyproject.toml`: the distribution; `[project.entry-points.worldsim]` names the module worldsim loads.
- `__MODULE__/__init__.py`: the `register___KIND__s` hook.
- `__MODULE__/stage.py`: the stage: `name`, `description`, `Config` (unknown keys are errors) and `run`.
- `tests/`: pytest tests.
'''

TEST_HEAD = '''
"""Tests of the '__NAME__' __KIND__: the stage contract (worldsim.testing.check_stage on tiny inputs) and its behaviour."""

from worldsim.testing import check_stage


def test_the___KIND___passes_the_stage_contract():
    report = check_stage("__KIND__", "__NAME__")
    assert report.ok, report.format()

'''

# ------------------------------------------------------------------------------------------------- parser

README = {}
STAGES = {}
TESTS = {}

README["parser"] = '''
## What it does

Turns a command into a `Plan` with keywords: colour words (`worldsim.colors`), object nouns (`worldsim.objects`,
with counts "a", "two", "3"), a heading (left / right / up / down; "from left to right" reads the last one) and a
speed (slowly / quickly). A command starting with (or containing) a verb of an installed editor's op
(`worldsim.edit_ops.op_verbs`: "make", "delete", ...) is an edit of the first object it names; the op's params
named `color`, `direction` or `factor` are filled from the command.

Use it in a config: `stages: [{kind: parser, name: __NAME__}, ...]`, or `worldsim parse --parser __NAME__ "TEXT"`.
'''

STAGES["parser"] = '''
"""The '__NAME__' parser: command text -> Plan, by keywords (see README.md)."""

from __future__ import annotations

import re

from pydantic import Field

from worldsim.stages import Parser, StageConfig
from worldsim.types import Plan

COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
SPEEDS = {"slowly": "slow", "slow": "slow", "gently": "slow", "quickly": "fast", "fast": "fast", "quick": "fast"}
SIZES = {"bigger": 2.0, "larger": 2.0, "smaller": 0.5, "tiny": 0.5}


class __CLASS__Config(StageConfig):
    max_chars: int = Field(500, ge=1, description="longest command accepted, in characters")


class __CLASS__(Parser):
    name = "__NAME__"
    description = "Keyword parser: colours, nouns, counts, heading and speed; edits by the installed editors' verbs"
    Config = __CLASS__Config

    def run(self, text: str) -> Plan:
        from worldsim.colors import canonical_color
        from worldsim.commands import check_command, preview
        from worldsim.edit_ops import op_verbs
        from worldsim.errors import ParseError
        from worldsim.objects import singular
        from worldsim.types import EditSpec, MotionSpec, ObjectSpec

        text = check_command(text, self.config.max_chars)
        words = re.findall(r"[a-z0-9]+", text.lower())
        objects, color, count, colors = [], None, 1, []
        for word in words:
            if canonical_color(word):
                color = canonical_color(word)
                colors.append(color)
            elif word in COUNTS or word.isdigit():
                count = COUNTS.get(word) or max(1, min(16, int(word)))
            elif singular(word):
                objects.append(ObjectSpec(name=singular(word), color=color, count=count))
                color, count = None, 1
        if color is not None and objects:  # "the ball ... blue": a colour after the noun
            objects[-1] = objects[-1].model_copy(update={"color": objects[-1].color or color})
        horizontal = [w for w in words if w in ("left", "right")]
        vertical = [w for w in words if w in ("up", "down")]
        heading = "-".join(w for w in (vertical[-1:] + horizontal[-1:])) or "none"
        speed = next((SPEEDS[w] for w in words if w in SPEEDS), "normal")

        verbs = op_verbs()
        verb = next((w for w in words if w in verbs), None)
        if verb is not None and (not objects or words.index(verb) < words.index(next(
                w for w in words if singular(w) == objects[0].name))):
            target = objects[0].name if objects else ("it" if "it" in words else None)
            if target is None:
                raise ParseError(f"'{preview(text)}' is an edit ('{verb}') but names no object; e.g. 'make the ball blue'")
            params = {}
            for field in _op_fields(verbs[verb]):
                value = {"color": colors[-1] if colors else None, "direction": None if heading == "none" else heading,
                         "factor": next((SIZES[w] for w in words if w in SIZES), None)}.get(field)
                if value is None:
                    raise ParseError(f"'{preview(text)}': edit '{verbs[verb]}' needs '{field}', which the command does not give")
                params[field] = value
            return Plan(mode="edit", text=text, objects=tuple(objects[:1]),
                        edit=EditSpec(op=verbs[verb], target=target, params=params))
        if not objects:
            raise ParseError(f"no known object noun in '{preview(text)}'; e.g. 'A red ball rolls to the left'")
        return Plan(mode="generate", text=text, objects=tuple(objects), motion=MotionSpec(direction=heading, speed=speed))


def _op_fields(op: str) -> list[str]:
    """The required parameter names of an installed op."""
    from worldsim.edit_ops import params_model

    return [name for name, field in params_model(op).model_fields.items() if field.is_required()]
'''

TESTS["parser"] = '''
def test_keywords_make_the_plan():
    from worldsim.registry import get_stage

    parser = get_stage("parser", "__NAME__")
    plan = parser.run("Two blue cubes slide from right to left slowly")
    assert plan.mode == "generate" and plan.motion.direction == "left" and plan.motion.speed == "slow"
    assert [(o.name, o.color, o.count) for o in plan.objects] == [("cube", "blue", 2)]
    edit = parser.run("Make the ball red")
    assert edit.mode == "edit" and edit.edit.target == "ball" and edit.edit.params == {"color": "red"}
'''

# ---------------------------------------------------------------------------------------------- generator

README["generator"] = '''
## What it does

Draws one filled square per planned object instance (in the object's colour, or a palette colour when the command
names none) on a plain background. The squares follow the core trajectory planner
(`worldsim.planning.plan_tracks`: the plan's direction and speed become one box per instance and frame), so the
clip moves the way the command says. The clip is written with worldsim's video writer (`worldsim.io.video.write_mp4`,
H.264, bit-exact for the same frames). With `labels: true` (default) it also writes exact labels:
`labels.json` (`worldsim.types.labels.Labels`: per object and frame the measured box, centre, pixel count and planned
box) and `labels.safetensors` (`masks` [T,H,W] uint8 instance ids), which scorers such as `conformance` read.

Use it: a config YAML naming it,

```yaml
stages:
  - {kind: parser, name: rules}
  - {kind: generator, name: __NAME__, config: {num_frames: 16, width: 128, height: 128}}
```

then `worldsim generate "A red ball rolls to the left" --config that.yaml`.
'''

STAGES["generator"] = '''
"""The '__NAME__' generator: coloured squares following the planned trajectory (see README.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from worldsim.stages import Generator, StageConfig
from worldsim.types import GeneratedVideo, Plan

PALETTE = ("red", "blue", "green", "yellow", "orange", "purple", "cyan", "magenta")  # objects without a colour


class __CLASS__Config(StageConfig):
    num_frames: int = Field(16, ge=2, le=512, description="frames in the clip")
    width: int = Field(128, ge=16, le=2048, multiple_of=2, description="frame width in pixels (even)")
    height: int = Field(128, ge=16, le=2048, multiple_of=2, description="frame height in pixels (even)")
    fps: int = Field(8, ge=1, le=120, description="frames per second of video.mp4")
    background: str = Field("gray", description="background colour, a name from worldsim.colors")
    jitter: float = Field(0.02, ge=0, le=0.2, description="random shift of each square's path (frame fractions), drawn from the seed")
    labels: bool = Field(True, description="also write labels.json and labels.safetensors (masks)")


class __CLASS__(Generator):
    name = "__NAME__"
    description = "Coloured squares that follow the planned trajectory (template generator), exact labels"
    Config = __CLASS__Config

    def run(self, plan: Plan, seed: int, out_dir: Path) -> GeneratedVideo:
        import numpy as np

        from worldsim.colors import color_rgb
        from worldsim.io.video import write_mp4
        from worldsim.planning import plan_tracks

        cfg: __CLASS__Config = self.config
        out_dir = Path(out_dir)
        T, H, W = cfg.num_frames, cfg.height, cfg.width
        rng = np.random.default_rng(seed)
        tracks = plan_tracks(plan, T)  # one track per object instance: planned boxes (normalised xyxy) per frame
        frames = np.empty((T, H, W, 3), np.uint8)
        frames[:] = np.round(np.array(color_rgb(cfg.background)) * 255).astype(np.uint8)
        masks = np.zeros((T, H, W), np.uint8)
        colors = []
        for k, track in enumerate(tracks, start=1):
            obj = plan.objects[track.object_index]
            color = obj.color or PALETTE[(k - 1) % len(PALETTE)]
            colors.append(color)
            rgb = np.round(np.array(color_rgb(color)) * 255).astype(np.uint8)
            dx, dy = rng.uniform(-cfg.jitter, cfg.jitter, 2)
            for t, (x0, y0, x1, y1) in enumerate(track.track.boxes):
                c0, c1 = (int(np.clip(round((v + dx) * W), 0, W)) for v in (x0, x1))
                r0, r1 = (int(np.clip(round((v + dy) * H), 0, H)) for v in (y0, y1))
                frames[t, r0:r1, c0:c1] = rgb
                masks[t, r0:r1, c0:c1] = k
        write_mp4(out_dir / "video.mp4", frames, cfg.fps)
        rel = lambda name: f"{out_dir.name}/{name}"  # result paths are relative to the run folder
        labels = arrays = None
        if cfg.labels:
            self._write_labels(out_dir, plan, seed, tracks, colors, masks)
            labels, arrays = rel("labels.json"), rel("labels.safetensors")
        return GeneratedVideo(video=rel("video.mp4"), fps=cfg.fps, num_frames=T, width=W, height=H,
                              labels=labels, arrays=arrays, generator=self.name)

    def _write_labels(self, out_dir: Path, plan: Plan, seed: int, tracks, colors, masks) -> None:
        import numpy as np
        from safetensors.numpy import save_file

        from worldsim.artifacts import atomic_path
        from worldsim.labels import write_labels
        from worldsim.types.labels import LabelFrame, LabelObject, Labels

        cfg: __CLASS__Config = self.config
        T, H, W = masks.shape
        objects = []
        for k, (track, color) in enumerate(zip(tracks, colors), start=1):
            frames = []
            for t in range(T):
                ys, xs = np.nonzero(masks[t] == k)  # what is visible (a later square may cover an earlier one)
                seen = xs.size > 0
                frames.append(LabelFrame(
                    t=t, pixels=int(xs.size),
                    box=[xs.min() / W, ys.min() / H, (xs.max() + 1) / W, (ys.max() + 1) / H] if seen else None,
                    center=[(xs.mean() + 0.5) / W, (ys.mean() + 0.5) / H] if seen else None,
                    planned_box=list(track.track.boxes[t])))
            objects.append(LabelObject(id=k, name=plan.objects[track.object_index].name, color=color, shape="square",
                                       object_index=track.object_index, instance=track.instance,
                                       keypoints=[kp.model_dump() for kp in track.keypoints], frames=frames))
        write_labels(out_dir / "labels.json", Labels(
            generator=self.name, seed=seed, config=cfg.model_dump(), plan=plan.model_dump(mode="json"), fps=cfg.fps,
            num_frames=T, width=W, height=H, masks="labels.safetensors 'masks' [T,H,W] uint8: 0 background, k = objects[k-1].id",
            objects=objects))
        with atomic_path(out_dir / "labels.safetensors") as tmp:
            save_file({"masks": np.ascontiguousarray(masks)}, str(tmp))
'''

TESTS["generator"] = '''
def test_the_square_moves_the_planned_way(tmp_path):
    import json

    from worldsim.registry import get_stage
    from worldsim.testing import tiny_plan

    stage = get_stage("generator", "__NAME__", {"num_frames": 6, "width": 48, "height": 48})
    video = stage.run(tiny_plan(direction="left"), seed=0, out_dir=tmp_path / "generator")
    labels = json.loads((tmp_path / video.labels).read_text())
    xs = [f["center"][0] for f in labels["objects"][0]["frames"]]
    assert xs[-1] < xs[0] and labels["objects"][0]["color"] == "red"
'''

# ------------------------------------------------------------------------------------------ reconstructor

README["reconstructor"] = '''
## What it does

A static 2.5D reconstruction, the simplest honest baseline: one Gaussian per `stride` x `stride` pixel block of the
first frame, placed along its camera ray at the generator's depth (`labels.safetensors` `depth`) or on a plane
`plane_depth` metres away, coloured like the pixel, with the instance id of the labelled mask. The scene has one
identity motion basis (nothing moves), no feature field (no decoders), and is exported with
`worldsim.scene.export_scene` (scene.safetensors, one PLY per frame, point clouds, renders). The metrics say how
well a static scene explains the clip (`psnr` per frame and mean): replace `run` with real optimisation.

Use it: `{kind: reconstructor, name: __NAME__}` after a generator in a config.
'''

STAGES["reconstructor"] = '''
"""The '__NAME__' reconstructor: a static 2.5D lift of the first frame (see README.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import Field

from worldsim.stages import Reconstructor, StageConfig
from worldsim.types import GeneratedVideo, Reconstruction


class __CLASS__Config(StageConfig):
    stride: int = Field(1, ge=1, le=16, description="pixels per Gaussian along each image axis")
    plane_depth: float = Field(5.0, gt=0, description="depth (metres along camera z) when the generator gave none")
    fov_deg: float = Field(50.0, gt=5, lt=150, description="vertical field of view assumed when the video has no camera")
    opacity: float = Field(0.98, gt=0, lt=1, description="opacity of every Gaussian")


class __CLASS__(Reconstructor):
    name = "__NAME__"
    description = "Static 2.5D lift of the first frame (template reconstructor): one Gaussian per pixel block, no motion"
    Config = __CLASS__Config

    def run(self, video: GeneratedVideo, run_dir: Path, out_dir: Path, seed: int) -> Reconstruction:
        import numpy as np
        import torch

        from worldsim.decoders import DecoderSet
        from worldsim.io.ply import rgb_to_sh_dc
        from worldsim.io.video import read_mp4
        from worldsim.render.metrics import psnr
        from worldsim.render.scene import render_scene
        from worldsim.scene import default_camera, export_scene
        from worldsim.types import Camera, GaussianScene

        cfg: __CLASS__Config = self.config
        run_dir, out_dir = Path(run_dir), Path(out_dir)
        frames = read_mp4(run_dir / video.video)[0]  # [T,H,W,3] uint8
        T, H, W, _ = frames.shape
        labels = json.loads((run_dir / video.labels).read_text()) if video.labels else {}
        arrays = {}
        if video.arrays:
            from safetensors.numpy import load_file

            arrays = load_file(str(run_dir / video.arrays))
        camera = Camera.model_validate(labels["camera"]) if labels.get("camera") else default_camera(W, H, cfg.fov_deg)

        s = cfg.stride
        v, u = np.mgrid[0:H:s, 0:W:s]
        v, u = v.ravel(), u.ravel()
        depth = arrays["depth"][0][v, u].astype(np.float64) if "depth" in arrays else np.full(u.shape, cfg.plane_depth)
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, cfg.plane_depth)
        K, V = np.asarray(camera.K), np.asarray(camera.viewmat)
        rays = np.linalg.solve(K, np.stack([u + s / 2, v + s / 2, np.ones_like(u, dtype=float)]))  # camera z = 1
        points = camera.center()[None] + (V[:3, :3].T @ (rays * depth[None])).T  # [N,3] world
        footprint = s * depth / K[0, 0]  # metres one block covers at that depth
        n = points.shape[0]
        rgb = frames[0][v, u].astype(np.float32) / 255
        instance = arrays["masks"][0][v, u].astype(np.int64) if "masks" in arrays else np.zeros(n, np.int64)
        scene = GaussianScene(
            means=torch.tensor(points, dtype=torch.float32),
            quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(n, 1),
            log_scales=torch.tensor(np.log(np.stack([footprint * 0.6, footprint * 0.6, footprint * 0.1], 1)), dtype=torch.float32),
            logit_opacities=torch.full((n,), math.log(cfg.opacity / (1 - cfg.opacity))),
            sh=torch.tensor(rgb_to_sh_dc(rgb), dtype=torch.float32)[:, None, :],
            basis_rotations=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(1, T, 1),
            basis_translations=torch.zeros(1, T, 3),
            weights=torch.ones(n, 1),
            instance=torch.tensor(instance),
        )
        with torch.no_grad():
            per_frame = [psnr(render_scene(scene, camera, t)["rgb"], torch.tensor(frames[t]).float() / 255) for t in range(T)]
        paths = export_scene(scene, DecoderSet(), camera, out_dir, fps=video.fps, relative_to=run_dir)
        return Reconstruction(
            scene=paths["scene"], decoders=paths["decoders"], ply_dir=paths["ply_dir"],
            point_cloud_dir=paths.get("point_cloud_dir"), render_input=paths.get("render_input"),
            render_novel=paths.get("render_novel"), teachers=[], reconstructor=self.name,
            metrics={"psnr": round(float(np.mean(per_frame)), 4), "psnr_per_frame": [round(float(p), 4) for p in per_frame],
                     "num_gaussians": n, "depth_source": "labels" if "depth" in arrays else "plane"},
        )
'''

TESTS["reconstructor"] = '''
def test_the_first_frame_is_reproduced(tmp_path):
    from worldsim.registry import get_stage
    from worldsim.testing import tiny_clip

    video, _, _ = tiny_clip(tmp_path / "generator")
    out = tmp_path / "reconstruction"
    out.mkdir()
    rec = get_stage("reconstructor", "__NAME__").run(video, tmp_path, out, seed=0)
    assert rec.metrics["psnr_per_frame"][0] > 20  # the frame it was lifted from
    assert (tmp_path / rec.scene).is_file()
'''

# ------------------------------------------------------------------------------------------------- editor

README["editor"] = '''
## What it does

Declares a new edit op, `brighten` (`BrightenParams`: `factor`, default 1.5; verbs "brighten", "lighten"), and
implements it: the target object's Gaussians (those whose `instance` is the object's id in the scene's object
registry) get their colour multiplied by `factor`; the edited scene is exported with `worldsim.scene.export_scene`
into the new version's `edit/` folder. The input scene is never modified.

`worldsim stages --kind editor` lists the op; `worldsim edit RUN_DIR "brighten the ball" --editor __NAME__` applies
it once a parser maps the verb to the op (the rules parser and the `langchain` parser read the installed ops' verbs).
'''

STAGES["editor"] = '''
"""The '__NAME__' editor: the `brighten` op (see README.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from worldsim.stages import Editor, StageConfig
from worldsim.types import EditParams, EditResult, EditSource, EditSpec


class BrightenParams(EditParams):
    op = "brighten"
    verbs = ("brighten", "lighten")
    description = "multiply the object's colour by a factor (above 1 brighter, below 1 darker)"

    factor: float = Field(1.5, gt=0, le=4, description="colour multiplier")


class __CLASS__Config(StageConfig):
    orbit_yaws: tuple[float, float] = Field((-15.0, 15.0), description="yaw sweep (degrees) of the edited scene's render_novel.mp4")


class __CLASS__(Editor):
    name = "__NAME__"
    description = "brighten: multiply an object's colour by a factor (template editor)"
    Config = __CLASS__Config
    ops = (BrightenParams,)

    def run(self, edit: EditSpec, source: EditSource, out_dir: Path) -> EditResult:
        from dataclasses import replace

        from worldsim.decoders import DecoderSet
        from worldsim.errors import InputError
        from worldsim.io.ply import SH_C0
        from worldsim.scene import export_scene
        from worldsim.types import Camera, GaussianScene

        out_dir = Path(out_dir)
        factor = float(edit.params["factor"])  # validated against BrightenParams by the core
        obj = next((o for o in source.objects if o.name == edit.target and not o.removed), None)
        if obj is None:
            names = ", ".join(o.name for o in source.objects if not o.removed) or "none"
            raise InputError(f"editor '{self.name}': no '{edit.target}' in the scene; objects: {names}")
        scene = GaussianScene.load(source.scene)
        selected = scene.instance == obj.id
        if not bool(selected.any()):
            raise InputError(f"editor '{self.name}': no Gaussian of the scene belongs to '{edit.target}' (instance {obj.id})")
        sh = scene.sh.clone()
        rgb = (sh[selected, 0, :] * SH_C0 + 0.5) * factor
        sh[selected, 0, :] = (rgb.clamp(0, 1) - 0.5) / SH_C0
        paths = export_scene(replace(scene, sh=sh), DecoderSet.load(source.decoders), Camera.model_validate(source.camera),
                             out_dir, fps=source.fps, yaws_for_orbit=self.config.orbit_yaws, relative_to=out_dir.parent)
        return EditResult(op=edit.op, target=edit.target, scene=paths["scene"], ply_dir=paths["ply_dir"],
                          renders={"input": paths["render_input"], "novel": paths["render_novel"]},
                          metrics={"op": edit.op, "target": edit.target, "factor": factor,
                                   "selected_gaussians": int(selected.sum())},
                          editor=self.name)
'''

TESTS["editor"] = '''
def test_the_op_is_declared_with_its_params():
    from worldsim.edit_ops import installed_ops, validate_params

    assert any(name == "__NAME__" for name, _ in installed_ops()["brighten"])
    assert validate_params("brighten", {"factor": 2}, installed_ops()["brighten"][0][1]) == {"factor": 2.0}
'''

# ------------------------------------------------------------------------------------------------- scorer

README["scorer"] = '''
## What it does

Measures the generated video itself: it decodes the MP4 and reports the mean absolute difference between
consecutive frames (`motion`, 0..1, and per frame pair), the share of pixels that change (`changed_pixels`), the mean
`brightness`, and whether the decoded clip matches the size the generator reported. With `min_motion` set, `passed`
says whether the clip moves at least that much (a scorer with `max_attempts` > 1 would drive the closed loop; this one
only scores). Writes `scores/__NAME__.json`; the figures go to run.json under `metrics.__NAME__`.

Use it: `{kind: scorer, name: __NAME__, config: {min_motion: 0.001}}` after a generator in a config.
'''

STAGES["scorer"] = '''
"""The '__NAME__' scorer: motion and brightness measured on the decoded video (see README.md)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from worldsim.stages import Scorer, StageConfig
from worldsim.types import ScoreInput, ScoreResult


class __CLASS__Config(StageConfig):
    min_motion: float | None = Field(None, ge=0, le=1, description="floor on the mean absolute frame difference; None: no floor")
    change_threshold: float = Field(0.1, gt=0, le=1, description="a pixel changes between frames when a channel moves more than this")


class __CLASS__(Scorer):
    name = "__NAME__"
    description = "Motion (mean frame difference, changed pixels) and brightness of the decoded video (template scorer)"
    Config = __CLASS__Config

    def run(self, inputs: ScoreInput, out_dir: Path) -> ScoreResult:
        import numpy as np

        from worldsim.artifacts import atomic_write_json
        from worldsim.errors import InputError
        from worldsim.io.video import read_mp4

        cfg: __CLASS__Config = self.config
        if inputs.video is None:
            raise InputError(f"scorer '{self.name}' needs a generated video; put a generator before it in the config")
        run_dir = Path(inputs.run_dir)
        frames = read_mp4(run_dir / inputs.video.video)[0].astype(np.float32) / 255  # [T,H,W,3]
        diff = np.abs(np.diff(frames, axis=0))  # [T-1,H,W,3]
        per_pair = diff.mean(axis=(1, 2, 3))
        changed = (diff.max(axis=-1) > cfg.change_threshold).mean(axis=(1, 2))
        motion = float(per_pair.mean()) if per_pair.size else 0.0
        reported = (inputs.video.num_frames, inputs.video.height, inputs.video.width)
        metrics = {
            "motion": round(motion, 6), "per_pair": [round(float(m), 6) for m in per_pair],
            "changed_pixels": round(float(changed.mean()) if changed.size else 0.0, 6),
            "brightness": round(float(frames.mean()), 6),
            "frames": int(frames.shape[0]), "size_matches": tuple(frames.shape[:3]) == reported,
            "min_motion": cfg.min_motion,
        }
        passed = None if cfg.min_motion is None else motion >= cfg.min_motion
        path = atomic_write_json(Path(out_dir) / "__NAME__.json", {**metrics, "passed": passed})
        return ScoreResult(metrics=metrics, passed=passed,
                           files=[Path(os.path.relpath(path.resolve(), run_dir.resolve())).as_posix()])
'''

TESTS["scorer"] = '''
def test_a_moving_clip_has_motion(tmp_path):
    from worldsim.registry import get_stage
    from worldsim.testing import tiny_clip, tiny_plan
    from worldsim.types import ScoreInput

    video, _, _ = tiny_clip(tmp_path / "generator")
    inputs = ScoreInput(run_dir=str(tmp_path), plan=tiny_plan(), seed=0, video=video)
    (tmp_path / "scores").mkdir()
    result = get_stage("scorer", "__NAME__", {"min_motion": 0.0001}).run(inputs, tmp_path / "scores")
    assert result.metrics["motion"] > 0.0001 and result.passed is True and result.metrics["size_matches"]
'''

# ----------------------------------------------------------------------------------------------- answerer

README["answerer"] = '''
## What it does

A model-free baseline that looks at the video: for a question about a coloured object ("What direction is the red
ball moving?") it finds the pixels near that named colour (`worldsim.colors`) in the first and last frames; none
in either frame answers that the object is absent, otherwise the centroid's displacement gives the heading
(8 directions, or "not moving" below `still_threshold`). The answer is the choice with that text ("B. moving
right"), or the text itself for free-form questions. Questions it cannot answer from colour alone (rotation,
counting, objects without a colour) get an empty answer, which the judge counts as wrong.

Use it through the `vlm4d-qa` scorer: `{kind: scorer, name: vlm4d-qa, config: {answerer: __NAME__}}`.
'''

STAGES["answerer"] = '''
"""The '__NAME__' answerer: colour tracking between the first and last frames (see README.md)."""

from __future__ import annotations

import math

from pydantic import Field

from worldsim.stages import Answerer, StageConfig
from worldsim.types import QAItem, ScoreInput

SECTORS = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")  # by angle, y down


class __CLASS__Config(StageConfig):
    max_distance: float = Field(0.3, gt=0, le=2, description="RGB distance (0..1 units) within which a pixel has the asked colour")
    min_pixels: int = Field(3, ge=1, description="fewer matching pixels than this in a frame: the object is not in it")
    still_threshold: float = Field(0.03, gt=0, lt=1, description="centroid displacement (frame fractions) below which it is not moving")


class __CLASS__(Answerer):
    name = "__NAME__"
    description = "Colour tracking baseline: heading or absence of the asked coloured object (template answerer)"
    Config = __CLASS__Config

    def run(self, items: list[QAItem], inputs: ScoreInput, mode: str = "direct", free_form: bool = False) -> list[str]:
        from pathlib import Path

        from worldsim.errors import InputError
        from worldsim.io.video import read_mp4

        if inputs.video is None:
            raise InputError(f"answerer '{self.name}' needs the run's video")
        frames = read_mp4(Path(inputs.run_dir) / inputs.video.video)[0]
        return [self._answer(item, frames, free_form) for item in items]

    def _answer(self, item: QAItem, frames, free_form: bool) -> str:
        from worldsim.qa.questions import DIRECTION_TEXT, absent_text

        color = item.target.get("color")
        if item.question_type not in ("translational", "false_positive") or not color:
            return ""  # not answerable from colour alone
        first, last = self._centroid(frames[0], color), self._centroid(frames[-1], color)
        if first is None or last is None:
            text = absent_text(item.target.get("name", "object"), color)
        else:
            dx, dy = last[0] - first[0], last[1] - first[1]
            if math.hypot(dx, dy) < self.config.still_threshold:
                text = DIRECTION_TEXT["none"]
            else:
                text = DIRECTION_TEXT[SECTORS[round(math.degrees(math.atan2(dy, dx)) / 45) % 8]]
        if free_form:
            return text
        letter = next((k for k, v in item.choices.items() if v == text), None)
        return f"{letter}. {text}" if letter else text

    def _centroid(self, frame, color: str):
        """Normalised (x, y) centre of the pixels near `color`, or None."""
        import numpy as np

        from worldsim.colors import COLORS, canonical_color

        name = canonical_color(color)
        if name is None:
            return None
        rgb = frame.astype(np.float32) / 255
        near = np.linalg.norm(rgb - np.array(COLORS[name], np.float32), axis=-1) <= self.config.max_distance
        ys, xs = np.nonzero(near)
        if xs.size < self.config.min_pixels:
            return None
        h, w = near.shape
        return (xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h
'''

TESTS["answerer"] = '''
def test_direction_and_absent_questions(tmp_path):
    from worldsim.registry import get_stage
    from worldsim.testing import tiny_clip, tiny_plan
    from worldsim.types import QAItem, ScoreInput

    video, _, _ = tiny_clip(tmp_path / "generator", num_frames=8, width=64, height=64)
    inputs = ScoreInput(run_dir=str(tmp_path), plan=tiny_plan(), seed=0, video=video)
    choices = {"A": "moving left", "B": "moving right", "C": "not moving", "D": "no red ball there"}
    items = [QAItem(id="q", video="v", question_type="translational", question="What direction is the red ball moving?",
                    choices=choices, answer="B", target={"name": "ball", "color": "red"}),
             QAItem(id="f", video="v", question_type="false_positive", question="What direction is the lime kite moving?",
                    choices={**choices, "D": "no lime kite there"}, answer="D", target={"name": "kite", "color": "lime"})]
    answers = get_stage("answerer", "__NAME__").run(items, inputs)
    assert answers == ["B. moving right", "D. no lime kite there"]
'''

# ------------------------------------------------------------------------------------------------ teacher

README["teacher"] = '''
## What it does

A mask teacher (target `mask`): every pixel gets the nearest named colour of `worldsim.colors` when it is within
`max_distance`; the clip's most common colour is the background (id 0), every other colour that covers at least
`min_pixels` pixels gets an id (1, 2, ... in palette order), and `labels[id]` is its name ("red"). It needs no labels
or arrays, so it also works on real footage. Maps are [T,H,W,1] float32 ids.

Use it from a reconstructor that takes teachers, e.g. `{kind: reconstructor, name: feature-4dgs, config:
{mask_teacher: __NAME__}}`.
'''

STAGES["teacher"] = '''
"""The '__NAME__' teacher: instance-like masks from named colours (see README.md)."""

from __future__ import annotations

from pydantic import Field

from worldsim.stages import StageConfig, Teacher
from worldsim.types.teacher import TeacherMaps


class __CLASS__Config(StageConfig):
    max_distance: float = Field(0.35, gt=0, le=2, description="RGB distance (0..1 units) to the nearest named colour; farther: background")
    min_pixels: int = Field(4, ge=1, description="a colour covering fewer pixels in the clip is background")


class __CLASS__(Teacher):
    name = "__NAME__"
    description = "Masks by nearest named colour, background = the clip's dominant colour (template teacher, no labels needed)"
    Config = __CLASS__Config
    target = "mask"

    def run(self, frames, labels: dict | None = None, arrays: dict | None = None) -> TeacherMaps:
        import numpy as np
        import torch

        from worldsim.colors import COLORS
        from worldsim.errors import InputError

        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise InputError(f"teacher '{self.name}': frames must be a numpy uint8 array [T,H,W,3]; got "
                             f"{type(frames).__name__} {getattr(frames, 'dtype', '')} {tuple(getattr(frames, 'shape', ()))}")
        names = list(COLORS)
        palette = np.array([COLORS[n] for n in names], np.float32)  # [C,3]
        rgb = frames.astype(np.float32) / 255
        dist = np.linalg.norm(rgb[..., None, :] - palette, axis=-1)  # [T,H,W,C]
        nearest, close = dist.argmin(-1), dist.min(-1) <= self.config.max_distance
        counts = np.bincount(nearest[close].ravel(), minlength=len(names))
        background = int(counts.argmax())
        kept = [c for c in range(len(names)) if c != background and counts[c] >= self.config.min_pixels]
        ids = np.zeros(nearest.shape, np.float32)
        for k, c in enumerate(kept, start=1):
            ids[close & (nearest == c)] = k
        return TeacherMaps(name=self.name, target="mask", maps=torch.from_numpy(ids[..., None]),
                           labels=["background", *(names[c] for c in kept)])
'''

TESTS["teacher"] = '''
def test_a_red_square_on_gray_is_one_segment():
    import numpy as np

    from worldsim.registry import get_stage

    frames = np.full((2, 16, 16, 3), 128, np.uint8)
    frames[:, 4:8, 4:8] = (220, 25, 25)
    maps = get_stage("teacher", "__NAME__").run(frames)
    assert maps.labels == ["background", "red"] and maps.maps.shape == (2, 16, 16, 1)
    assert int(maps.maps[0, 5, 5, 0]) == 1 and int(maps.maps[0, 0, 0, 0]) == 0
'''

# --------------------------------------------------------------------------------------------------- pose

README["pose"] = '''
## What it does

A pose estimator for cameras that turn in place (pan, tilt): each frame's global image shift against frame 0 is
found by phase correlation (numpy FFT, Hann window, sub-pixel peak; moving objects, mask ids > 0, are filled with
the background's mean first) and turned into a rotation of frame 0's camera: yaw = atan(dx / fx), pitch =
-atan(dy / fy), the camera centre fixed. When no frame shifts by `static_px` or more the camera is static and every
camera is exactly the given one. It needs no depth; a camera that moves (truck, dolly) is only approximated by
the rotation that shifts the image the same way. `metrics` holds the shifts in pixels.

Use it directly, `get_stage("pose", "__NAME__").run(frames, camera)` (frames [T,H,W,3] uint8, frame 0's
camera), or name it where a reconstructor takes a pose estimator.
'''

STAGES["pose"] = '''
"""The '__NAME__' pose estimator: pan / tilt from the global image shift (see README.md)."""

from __future__ import annotations

from pydantic import Field

from worldsim.stages import PoseEstimator, StageConfig
from worldsim.types import Camera, CameraPoses


class __CLASS__Config(StageConfig):
    static_px: float = Field(0.05, ge=0, le=100, description="a clip whose frames all shift less than this (px) is static")
    window: bool = Field(True, description="Hann window before the FFT (fewer artefacts from the image border)")


class __CLASS__(PoseEstimator):
    name = "__NAME__"
    description = "Pan / tilt cameras from each frame's global image shift (phase correlation); no depth (template pose estimator)"
    Config = __CLASS__Config

    def run(self, frames, camera: Camera, depth=None, masks=None, labels: dict | None = None) -> CameraPoses:
        import numpy as np

        frames, depth, masks = self.check_inputs(frames, camera, depth, masks)  # one-line InputErrors
        T, H, W = frames.shape[:3]
        gray = frames.astype(np.float64).mean(axis=-1)
        if masks is not None:  # moving objects would pull the shift: fill them with the background's mean
            for t in range(T):
                background = masks[t] == 0
                if background.any():
                    gray[t][~background] = gray[t][background].mean()
        window = np.outer(np.hanning(H), np.hanning(W)) if self.config.window else np.ones((H, W))
        spectra = [np.fft.fft2((g - g.mean()) * window) for g in gray]
        shifts = [(0.0, 0.0)] + [_shift(spectra[0], spectra[t]) for t in range(1, T)]
        largest = max(max(abs(dx), abs(dy)) for dx, dy in shifts)
        metrics = {"shifts_px": [[round(dx, 4), round(dy, 4)] for dx, dy in shifts], "largest_shift_px": round(largest, 4)}
        if largest < self.config.static_px:
            return CameraPoses.still(camera, T, self.name, metrics)
        K, V0 = np.asarray(camera.K), np.asarray(camera.viewmat)
        cameras = [camera]
        for dx, dy in shifts[1:]:
            Q = np.eye(4)  # a rotation in camera coordinates: content moving right = the camera turning left
            Q[:3, :3] = _rot_x(-np.arctan2(dy, K[1][1])) @ _rot_y(np.arctan2(dx, K[0][0]))
            cameras.append(camera.model_copy(update={"viewmat": tuple(map(tuple, (Q @ V0).tolist()))}))
        return CameraPoses(cameras=cameras, static=False, metrics=metrics, estimator=self.name)


def _shift(reference, moved) -> tuple[float, float]:
    """(dx, dy) in pixels by which the image of spectrum `moved` is shifted against `reference` (phase correlation)."""
    import numpy as np

    cross = moved * np.conj(reference)
    surface = np.real(np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-12)))
    H, W = surface.shape
    py, px = np.unravel_index(int(np.argmax(surface)), surface.shape)

    def refine(a: float, b: float, c: float) -> float:  # vertex of the parabola through three samples
        den = a - 2 * b + c
        return 0.0 if abs(den) < 1e-12 else 0.5 * (a - c) / den

    dx = px + refine(surface[py, (px - 1) % W], surface[py, px], surface[py, (px + 1) % W])
    dy = py + refine(surface[(py - 1) % H, px], surface[py, px], surface[(py + 1) % H, px])
    return float(dx - W if dx > W / 2 else dx), float(dy - H if dy > H / 2 else dy)


def _rot_y(a):
    import numpy as np

    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def _rot_x(a):
    import numpy as np

    return np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
'''

TESTS["pose"] = '''
def test_a_shifted_texture_is_a_pan_and_a_still_one_is_static():
    import math

    import numpy as np

    from worldsim.registry import get_stage
    from worldsim.types import Camera

    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, (64, 64, 3))
    texture = ((noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1)) / 3).astype(np.uint8)  # a little smoothing
    frames = np.stack([np.roll(texture, 2 * t, axis=1) for t in range(4)])  # the content moves 2 px right per frame
    camera = Camera.look_at((0.0, 1.6, 5.5), (0.0, 0.8, 0.0), 64, 64, 42.0)
    poses = get_stage("pose", "__NAME__").run(frames, camera)
    assert len(poses.cameras) == 4 and poses.cameras[0] == camera and not poses.static
    R0, R3 = (np.asarray(c.viewmat)[:3, :3] for c in (poses.cameras[0], poses.cameras[3]))
    angle = math.degrees(math.acos(min(1.0, (np.trace(R3 @ R0.T) - 1) / 2)))
    assert abs(angle - math.degrees(math.atan(6 / camera.K[0][0]))) < 0.05
    still = get_stage("pose", "__NAME__").run(np.stack([texture] * 3), camera)
    assert still.static and still.cameras == [camera] * 3
'''
