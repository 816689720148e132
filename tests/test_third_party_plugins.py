"""Four third-party distributions written only against the documented API (worldsim.stages, worldsim.types,
worldsim.scene, worldsim.io), installed through real entry points (a dist-info on PYTHONPATH, found by
importlib.metadata) and run through the `worldsim` CLI in fresh processes: a generator, a scorer, a parser,
and an editor adding an op the core does not know (`duplicate`, which adds an object to the registry)."""

import json
import os
import subprocess
import sys

import pytest

from worldsim.testing import write_plugin_distribution

GENERATOR = '''
from pathlib import Path

import numpy as np

from worldsim.hookspecs import hookimpl
from worldsim.io.video import write_mp4
from worldsim.stages import Generator, StageConfig
from worldsim.types import GeneratedVideo
from worldsim.types.plan import DIRECTION_VECTORS


class SquareConfig(StageConfig):
    frames: int = 6
    size: int = 32


class SquareGenerator(Generator):
    name = "square"
    description = "A white square that moves the planned way on black (third-party test plugin)"
    Config = SquareConfig

    def run(self, plan, seed, out_dir):
        n, s = self.config.frames, self.config.size
        dx, dy = DIRECTION_VECTORS[plan.motion.direction]
        frames = np.zeros((n, s, s, 3), np.uint8)
        for t in range(n):
            x = int(s / 2 - 4 + dx * (t - n / 2) * 2)
            y = int(s / 2 - 4 + dy * (t - n / 2) * 2)
            frames[t, max(y, 0):y + 8, max(x, 0):x + 8] = 255
        write_mp4(Path(out_dir) / "video.mp4", frames, 8)
        return GeneratedVideo(video=f"{Path(out_dir).name}/video.mp4", fps=8, num_frames=n, width=s, height=s,
                              generator=self.name)


@hookimpl
def register_generators(register):
    register(SquareGenerator)
'''

SCORER = '''
import json
from pathlib import Path

from worldsim.hookspecs import hookimpl
from worldsim.io.video import read_mp4
from worldsim.stages import Scorer
from worldsim.types import ScoreResult


class Brightness(Scorer):
    name = "brightness"
    description = "Mean brightness of the first and last frame (third-party test plugin)"

    def run(self, inputs, out_dir):
        frames, fps = read_mp4(Path(inputs.run_dir) / inputs.video.video)
        metrics = {"frames": int(frames.shape[0]), "first": float(frames[0].mean()), "last": float(frames[-1].mean())}
        (Path(out_dir) / "brightness.json").write_text(json.dumps(metrics))
        return ScoreResult(metrics=metrics, files=[f"{Path(out_dir).name}/brightness.json"])


@hookimpl
def register_scorers(register):
    register(Brightness)
'''

PARSER = '''
from worldsim.errors import ParseError
from worldsim.hookspecs import hookimpl
from worldsim.stages import Parser
from worldsim.types import MotionSpec, ObjectSpec, Plan


class CsvParser(Parser):
    name = "csv"
    description = "'noun,colour,direction' -> a one-object plan (third-party test plugin)"

    def run(self, text):
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise ParseError(f"'{text}' is not 'noun,colour,direction'")
        noun, color, direction = parts
        return Plan(mode="generate", text=text, objects=(ObjectSpec(name=noun, color=color),),
                    motion=MotionSpec(direction=direction))


@hookimpl
def register_parsers(register):
    register(CsvParser)
'''

EDITOR = '''
from dataclasses import replace
from typing import ClassVar

from pydantic import Field

from worldsim.decoders import DecoderSet
from worldsim.hookspecs import hookimpl
from worldsim.scene import export_scene
from worldsim.stages import Editor
from worldsim.types import Camera, EditParams, EditResult, GaussianScene, SceneObject


class DuplicateParams(EditParams):
    op: ClassVar[str] = "duplicate"
    verbs: ClassVar[tuple[str, ...]] = ("duplicate", "clone")
    description: ClassVar[str] = "add a copy of the object beside it"

    offset: float = Field(0.8, gt=0, le=5, description="world x shift of the copy (metres)")


class DuplicateEditor(Editor):
    name = "duplicate"
    description = "Copy an object's Gaussians beside it as a new object (third-party test plugin)"
    ops = (DuplicateParams,)

    def run(self, edit, source, out_dir):
        import torch

        scene = GaussianScene.load(source.scene)
        target = next(o for o in source.objects if o.name == edit.target and not o.removed)
        pick = scene.instance == target.id
        new_id = max(o.id for o in source.objects) + 1
        shift = torch.tensor([edit.params["offset"], 0.0, 0.0])
        cat = lambda a, b: torch.cat([a, b], 0)
        copy = replace(
            scene,
            means=cat(scene.means, scene.means[pick] + shift), quats=cat(scene.quats, scene.quats[pick]),
            log_scales=cat(scene.log_scales, scene.log_scales[pick]),
            logit_opacities=cat(scene.logit_opacities, scene.logit_opacities[pick]), sh=cat(scene.sh, scene.sh[pick]),
            weights=cat(scene.weights, scene.weights[pick]),
            instance=cat(scene.instance, torch.full((int(pick.sum()),), new_id, dtype=scene.instance.dtype)),
            features=None if scene.features is None else cat(scene.features, scene.features[pick]),
        )
        paths = export_scene(copy, DecoderSet.load(source.decoders), Camera.model_validate(source.camera), out_dir,
                             fps=source.fps, relative_to=out_dir.parent)
        added = SceneObject(id=new_id, name=target.name, color=target.color, gaussians=int(pick.sum()))
        return EditResult(op=edit.op, target=edit.target, scene=paths["scene"], ply_dir=paths["ply_dir"],
                          renders={"render_input": paths["render_input"]}, objects=[*source.objects, added],
                          metrics={"copied_gaussians": int(pick.sum()), "new_id": new_id}, editor=self.name)


@hookimpl
def register_editors(register):
    register(DuplicateEditor)
'''

SMALL = ["generator.num_frames=4", "generator.width=48", "generator.height=48", "generator.write_ply=false",
         "generator.gaussians_per_object=150", "generator.background_spacing=0.6", "reconstructor.train.iterations=60",
         "reconstructor.pad=8", "reconstructor.eval_frames=2", "reconstructor.novel_yaws=[5]"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    for dist, module, source, ep in (("worldsim-square", "ws_square", GENERATOR, "square"),
                                     ("worldsim-brightness", "ws_brightness", SCORER, "brightness"),
                                     ("worldsim-csv", "ws_csv", PARSER, "csv"),
                                     ("worldsim-duplicate", "ws_duplicate", EDITOR, "duplicate")):
        write_plugin_distribution(site, dist, module, source, entry_point=ep)
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def run(*args, check=True):
        done = subprocess.run([sys.executable, "-m", "worldsim.cli", *args], env=env, capture_output=True, text=True)
        assert "Traceback" not in done.stderr, done.stderr
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


def test_plugins_are_listed_with_their_distributions(cli):
    rows = {r["plugin"]: r for r in json.loads(cli("plugins", "--json").stdout)}
    assert rows["square"]["stages"] == ["generator:square"] and rows["square"]["distribution"] == "worldsim-square"
    assert rows["duplicate"]["status"] == "ok"
    editors = {r["name"]: r for r in json.loads(cli("stages", "--kind", "editor", "--json").stdout)}
    assert editors["duplicate"]["ops"] == ["duplicate"]


def test_third_party_parser_generator_and_scorer_run_through_the_cli(cli, tmp_path):
    config = tmp_path / "third-party.yaml"
    config.write_text(json.dumps({"stages": [
        {"kind": "parser", "name": "csv"}, {"kind": "generator", "name": "square", "config": {"frames": 5}},
        {"kind": "scorer", "name": "brightness"}]}))
    out = json.loads(cli("generate", "cube,red,right", "--config", str(config), "--out", str(tmp_path / "runs"), "--json").stdout)
    run = json.loads((tmp_path / "runs" / out["run_dir"].rsplit("/", 1)[1] / "run.json").read_text())
    assert [s["plugin"] for s in run["stages"]] == ["csv", "square", "brightness"]
    assert run["plan"]["motion"]["direction"] == "right"
    assert run["metrics"]["brightness"]["frames"] == 5 and run["metrics"]["brightness"]["first"] > 0
    assert {"generator/video.mp4", "scores/brightness.json"} <= {a["path"] for a in run["artifacts"]}
    bad = cli("generate", "no commas here", "--config", str(config), "--out", str(tmp_path / "bad"), check=False)
    assert bad.returncode == 2 and "is not 'noun,colour,direction'" in bad.stderr


def test_third_party_editor_adds_an_op_and_an_object(cli, tmp_path):
    sets = [a for s in SMALL for a in ("--set", s)]
    out = json.loads(cli("generate", "A red ball rolls to the right", *sets, "--out", str(tmp_path), "--json").stdout)
    parsed = json.loads(cli("parse", "Duplicate the ball", "--json").stdout)
    assert parsed["edit"] == {"op": "duplicate", "target": "ball", "color": None, "direction": None, "params": {"offset": 0.8}}
    edited = json.loads(cli("edit", out["run_dir"], "Duplicate the ball", "--json").stdout)
    version = tmp_path / edited["run_dir"].rsplit("/", 1)[1]
    registry = json.loads((version / "objects.json").read_text())
    assert [(o["id"], o["name"]) for o in registry["objects"]] == [(1, "ball"), (2, "ball")]
    run = json.loads((version / "run.json").read_text())
    assert run["parent"] == out["run_dir"].rsplit("/", 1)[1] and run["stages"][0]["plugin"] == "duplicate"
    assert run["metrics"]["edit"]["copied_gaussians"] > 0
    # the built-in editor still serves its own ops on the new version
    recolored = json.loads(cli("edit", str(version), "Make the ball blue", "--json").stdout)
    assert recolored["metrics"]["edit"]["op"] == "recolor"
