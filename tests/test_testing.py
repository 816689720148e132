"""worldsim.testing.check_stage: every built-in stage passes it with tiny settings, and
stages that break the contract are caught with a one-line reason.

Stages that need model weights get the tiny random-initialised models the plugins' own tests build (loaded from those
test modules, not copied): diffusers pipelines (plugins/diffusers_video/testing.py, tiny_dit.py, and the settings of
tests/plugins/test_diffusers_*.py), transformers teachers (tests/plugins/test_teachers.py fixtures), a tiny SmolVLM
(tests/plugins/test_answerers_transformers_vlm.py), the local OpenAI-compatible chat server
(tests/plugins/test_answerers_openai_compatible.py) and, for the langchain parser, a local server answering with
tool calls."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from worldsim import plugins, registry
from worldsim.testing import (EDIT_COMMANDS, TINY_GENERATOR, TINY_RECONSTRUCTOR, CheckReport, check_stage, example_params,
                              install_plugin)

TESTS = Path(__file__).resolve().parent


def _test_module(rel: str):
    """A sibling test module, loaded once by path, to reuse its tiny-model builders and settings."""
    name = "_check_stage_reuse_" + Path(rel).stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / rel)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _fixture(rel: str, name: str, tmp_path_factory):
    """Call a module-scoped fixture of another test module (its function takes tmp_path_factory)."""
    return getattr(_test_module(rel), name).__wrapped__(tmp_path_factory)


# ----------------------------------------------------------------------------------- tiny settings per stage

TINY = {
    ("generator", "procedural"): dict(TINY_GENERATOR),
    ("generator", "tiny-t2v"): {"steps": 2, "guidance": {"steps": 1, "iterations": 1}, "upscale": 1},
    ("reconstructor", "feature-4dgs"): TINY_RECONSTRUCTOR,
    ("editor", "feature-field"): {"max_iterations": 3, "preview_frame": 0},
    ("scorer", "vlm4d-qa"): {"modes": ["direct"]},
}


@contextlib.contextmanager
def _video_file(factory):
    from worldsim.io.video import write_mp4

    import numpy as np

    frames = np.zeros((5, 32, 32, 3), np.uint8)
    for t in range(5):
        frames[t, 10:18, 4 + 4 * t:12 + 4 * t] = (220, 30, 30)
    path = write_mp4(factory.mktemp("video-file") / "clip.mp4", frames, 8)
    yield {"path": str(path), "max_frames": 4}


@contextlib.contextmanager
def _animatediff(factory):
    from plugins.diffusers_video.testing import tiny_animatediff_pipeline

    model = tiny_animatediff_pipeline(factory.mktemp("tiny-animatediff"))
    yield _test_module("plugins/test_diffusers_animatediff.py")._config(model, steps=1, iterations=1)


@contextlib.contextmanager
def _cogvideox(factory):
    from plugins.diffusers_video.testing import tiny_cogvideox_pipeline

    model = tiny_cogvideox_pipeline(factory.mktemp("tiny-cogvideox"))
    yield _test_module("plugins/test_diffusers_cogvideox.py")._config(model, steps=1, iterations=1)


@contextlib.contextmanager
def _dit(factory, family: str):
    from plugins.diffusers_video import tiny_dit

    module = _test_module(f"plugins/test_diffusers_{family}.py")
    path = factory.mktemp(f"tiny-{family}") / "pipe"
    getattr(tiny_dit, f"tiny_{family}_pipeline")(seed=0).save_pretrained(str(path))
    yield {"model": str(path), **module.TINY, "guidance": {**module.GUIDED, "steps": 1, "iterations": 1}}


@contextlib.contextmanager
def _teacher(factory, fixture: str, extra: dict | None = None):
    yield {"model": _fixture("plugins/test_teachers.py", fixture, factory), "device": "cpu", **(extra or {})}


@contextlib.contextmanager
def _transformers_vlm(factory):
    path = _test_module("plugins/test_answerers_transformers_vlm.py").build_smolvlm(factory.mktemp("tiny-smolvlm") / "m")
    yield {"model": str(path), "num_frames": 2, "max_side": 32, "max_new_tokens_direct": 3, "max_new_tokens_cot": 4}


@contextlib.contextmanager
def _openai_compatible(factory):
    chat = _test_module("plugins/test_answerers_openai_compatible.py")
    with chat.ChatServer(chat.echo_letter) as server:
        yield {"base_url": server.url, "model": "tiny-vlm", "num_frames": 2, "max_side": 32, "max_concurrency": 1}


def _command_plan(text: str) -> dict:
    """The CommandPlan tool arguments a good model would give: the rules parser's plan in the tool's shape."""
    from worldsim.registry import get_stage

    plan = get_stage("parser", "rules").run(text)
    objects = [{"name": o.name, "color": o.color, "count": o.count} for o in plan.objects]
    motion = {"direction": plan.motion.direction, "speed": plan.motion.speed, "spin": plan.motion.spin}
    if plan.mode == "generate":
        return {"mode": "GEN", "objects": objects, "motion": motion, "edit": None, "scene": None}
    params = dict(plan.edit.params)
    return {"mode": "EDIT", "objects": objects, "motion": motion if plan.edit.op == "move" else None, "scene": None,
            "edit": {"op": plan.edit.op, "target": plan.edit.target, "color": params.get("color"),
                     "direction": params.get("direction"), "factor": params.get("factor"), "params": None}}


def _tool_call(body) -> dict:
    """An assistant message calling CommandPlan with the plan the rules parser reads from the user's text."""
    text = [m for m in body["messages"] if m["role"] == "user"][0]["content"]
    call = {"id": "call_1", "type": "function",
            "function": {"name": "CommandPlan", "arguments": json.dumps(_command_plan(text))}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


@contextlib.contextmanager
def _langchain(factory):
    chat = _test_module("plugins/test_answerers_openai_compatible.py")
    with chat.ChatServer(_tool_call) as server:
        # no fallback: a plan must come from the model's tool call, not from the rules parser
        yield {"base_url": server.url, "model": "tiny-tool-caller", "fallback": None, "max_retries": 0}


SETUPS = {
    ("generator", "video-file"): _video_file,
    ("generator", "diffusers-animatediff"): _animatediff,
    ("generator", "diffusers-cogvideox"): _cogvideox,
    ("generator", "diffusers-cosmos"): lambda f: _dit(f, "cosmos"),
    ("generator", "diffusers-wan"): lambda f: _dit(f, "wan"),
    ("teacher", "transformers-depth"): lambda f: _teacher(f, "tiny_depth_model", {"batch_size": 2}),
    ("teacher", "transformers-clip"): lambda f: _teacher(f, "tiny_clip_model", {"batch_size": 2}),
    ("teacher", "transformers-sam"): lambda f: _teacher(f, "tiny_sam_model", {
        "points_per_side": 4, "points_per_batch": 8, "pred_iou_threshold": 0.0, "min_area": 1}),
    ("answerer", "transformers-vlm"): _transformers_vlm,
    ("answerer", "openai-compatible"): _openai_compatible,
    ("parser", "langchain"): _langchain,
}


def _builtin_stages() -> list[tuple[str, str]]:
    """(kind, name) of every stage a built-in plugin (this repository's plugins/ package) registers."""
    return [(kind, name) for kind, table in registry.all_stages().items() for name, info in sorted(table.items())
            if info.cls.__module__.startswith("plugins.")]


BUILTIN = _builtin_stages()


def test_no_builtin_plugin_is_broken():
    """A built-in plugin that fails to load would drop its stages from the contract test below."""
    registry.all_stages()
    broken = {p: why for p, why in plugins.broken_plugins().items() if plugins.distribution_of(p) == "worldsim"}
    assert not broken
    assert {kind for kind, _ in BUILTIN} == {"parser", "generator", "reconstructor", "editor", "scorer", "answerer", "teacher",
                                             "pose"}


@pytest.mark.parametrize("kind, name", BUILTIN, ids=[f"{k}:{n}" for k, n in BUILTIN])
def test_builtin_stage_passes_check_stage(kind, name, tmp_path_factory):
    setup = SETUPS.get((kind, name))
    with (setup(tmp_path_factory) if setup else contextlib.nullcontext(TINY.get((kind, name), {}))) as config:
        report = check_stage(kind, name, config)
    assert report.ok, report.format()
    names = [c.name for c in report.checks]
    assert names[:2] == ["class", "config"] and any(n.startswith("determinism") for n in names), names
    assert not report.skipped, report.format()  # every op of the built-in editors can be built from its params


# ---------------------------------------------------------------------------------------- what it catches

GOOD_GENERATOR = '''
import numpy as np
from pathlib import Path

from worldsim.hookspecs import hookimpl
from worldsim.io.video import write_mp4
from worldsim.stages import Generator
from worldsim.types import GeneratedVideo


class Toy(Generator):
    name = "{name}"
    description = "toy generator for check_stage tests"

    def run(self, plan, seed, out_dir):
        rng = np.random.default_rng({seed_expr})
        frames = rng.integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
        write_mp4(Path(out_dir) / "video.mp4", frames, 4)
        return GeneratedVideo(video=f"{{Path(out_dir).name}}/video.mp4", fps=4, num_frames={frames}, width=16, height=16,
                              labels={labels}, generator=self.name)


@hookimpl
def register_generators(register):
    register(Toy)
'''


def _toy_generator(tmp_path, name: str, seed_expr: str = "seed", frames: int = 3, labels: str = "None"):
    source = GOOD_GENERATOR.format(name=name, seed_expr=seed_expr, frames=frames, labels=labels)
    return install_plugin(tmp_path / "site", name, name.replace("-", "_"), source)


def test_a_good_toy_generator_passes_and_the_report_reads_well(tmp_path, capsys):
    with _toy_generator(tmp_path, "toy-good"):
        report = check_stage("generator", "toy-good", echo=True)
    assert report.ok and isinstance(report, CheckReport) and report.plugin == "toy-good"
    assert [c.name for c in report.checks] == ["class", "config", "run", "result", "json", "video", "run (again)", "determinism"]
    printed = capsys.readouterr().out
    assert "generator 'toy-good':" in printed and "  ok       determinism: two runs, same seed" in printed
    assert report.format().splitlines()[0] == "generator 'toy-good' (plugin 'toy-good'): passed"
    assert report.to_dict()["checks"][0] == {"name": "class", "status": "ok", "reason": report.checks[0].reason}
    report.assert_ok()


def test_nondeterministic_output_is_caught(tmp_path):
    with _toy_generator(tmp_path, "toy-random", seed_expr="None"):
        report = check_stage("generator", "toy-random")
    assert not report.ok and [c.name for c in report.failed] == ["determinism"]
    assert "same seed, different files: 'generator/video.mp4' differs" in report.failed[0].reason
    with pytest.raises(AssertionError, match="FAILED"):
        report.assert_ok()


def test_wrong_frame_count_and_missing_file_are_caught(tmp_path):
    with _toy_generator(tmp_path, "toy-liar", frames=5):
        liar = check_stage("generator", "toy-liar", determinism=False)
    assert [c.name for c in liar.failed] == ["video"]
    assert "decodes to (3, 16, 16, 3) [T,H,W,3]; the result says (5, 16, 16, 3)" in liar.failed[0].reason
    with _toy_generator(tmp_path / "b", "toy-missing", labels="'generator/labels.json'"):
        missing = check_stage("generator", "toy-missing")
    assert [c.name for c in missing.failed] == ["result"]
    assert "labels='generator/labels.json', but no such file was written" in missing.failed[0].reason
    assert "determinism" not in [c.name for c in missing.checks]  # nothing after a broken result


def test_unknown_stage_kind_and_bad_config_are_one_line_failures():
    unknown = check_stage("generator", "no-such-generator")
    assert [(c.name, c.ok) for c in unknown.checks] == [("class", False)]
    assert "unknown generator 'no-such-generator'; available:" in unknown.checks[0].reason
    assert "unknown stage kind 'painter'" in check_stage("painter", "x").checks[0].reason
    bad = check_stage("generator", "procedural", {"num_frames": 1})
    assert [(c.name, c.ok) for c in bad.checks] == [("class", True), ("config", False)]
    assert "num_frames=1" in bad.checks[1].reason and "\n" not in bad.checks[1].reason


WRITER_SCORER = '''
from pathlib import Path

from worldsim.hookspecs import hookimpl
from worldsim.stages import Scorer
from worldsim.types import ScoreResult


class Toy(Scorer):
    name = "toy-writer"
    description = "toy scorer that rewrites its input"

    def run(self, inputs, out_dir):
        labels = Path(inputs.run_dir) / inputs.video.labels
        labels.write_text(labels.read_text().replace("red", "blue"))
        return ScoreResult(metrics={"fine": True})


@hookimpl
def register_scorers(register):
    register(Toy)
'''


def test_a_scorer_that_changes_its_input_is_caught(tmp_path):
    with install_plugin(tmp_path / "site", "toy-writer", "toy_writer", WRITER_SCORER):
        report = check_stage("scorer", "toy-writer", reconstruct=False)
    assert [c.name for c in report.failed] == ["inputs"]
    assert "changed 'generator/labels.json' of its input run" in report.failed[0].reason


ODD_ANSWERER_AND_TEACHER = '''
import torch

from worldsim.hookspecs import hookimpl
from worldsim.stages import Answerer, Teacher
from worldsim.types.teacher import TeacherMaps


class Short(Answerer):
    name = "toy-short"
    description = "answers only the first question"

    def run(self, items, inputs, mode="direct", free_form=False):
        return ["A"]


class Flat(Teacher):
    name = "toy-flat"
    description = "a depth map without the D axis"
    target = "depth"

    def run(self, frames, labels=None, arrays=None):
        return TeacherMaps(name=self.name, target="depth", maps=torch.ones(frames.shape[:3]))


@hookimpl
def register_answerers(register):
    register(Short)


@hookimpl
def register_teachers(register):
    register(Flat)
'''


def test_wrong_answer_count_and_map_shape_are_caught(tmp_path):
    with install_plugin(tmp_path / "site", "toy-odd", "toy_odd", ODD_ANSWERER_AND_TEACHER):
        answers = check_stage("answerer", "toy-short", reconstruct=False)
        maps = check_stage("teacher", "toy-flat")
    assert [c.name for c in answers.failed] == ["result direct"]
    assert "returned 1 answers for" in answers.failed[0].reason
    assert [c.name for c in maps.failed] == ["maps"]
    assert "maps has shape (4, 32, 32); expected [T,H,W,D] = [4,32,32,D]" in maps.failed[0].reason


GENERATE_ONLY_PARSER = '''
from worldsim.hookspecs import hookimpl
from worldsim.stages import Parser
from worldsim.types import ObjectSpec, Plan


class Toy(Parser):
    name = "toy-generate-only"
    description = "every command is a red ball"

    def run(self, text):
        return Plan(mode="generate", text=text, objects=(ObjectSpec(name="ball", color="red"),))


@hookimpl
def register_parsers(register):
    register(Toy)
'''


def test_a_parser_that_cannot_parse_edits_is_caught(tmp_path):
    with install_plugin(tmp_path / "site", "toy-generate-only", "toy_generate_only", GENERATE_ONLY_PARSER):
        report = check_stage("parser", "toy-generate-only")
        only_generate = check_stage("parser", "toy-generate-only", commands=["A red ball rolls left"])
    assert [c.name for c in report.failed] == ["parser"]
    assert f"'{EDIT_COMMANDS[0]}' is an edit command but gave a generate plan" in report.failed[0].reason
    assert only_generate.ok


ODD_OP_EDITOR = '''
import shutil
from pathlib import Path

from pydantic import Field

from worldsim.hookspecs import hookimpl
from worldsim.stages import Editor
from worldsim.types import EditParams, EditResult


class TintParams(EditParams):
    op = "toy-tint"
    amount: float = Field(gt=0, le=1)


class PathParams(EditParams):
    op = "toy-path"
    points: list[int]


class Toy(Editor):
    name = "toy-editor"
    description = "copies the scene; declares an op whose params cannot be guessed"
    ops = (TintParams, PathParams)

    def run(self, edit, source, out_dir):
        out_dir = Path(out_dir)
        shutil.copy(source.scene, out_dir / "scene.safetensors")
        (out_dir / "ply").mkdir()
        return EditResult(op=edit.op, target=edit.target, scene=f"{out_dir.name}/scene.safetensors",
                          ply_dir=f"{out_dir.name}/ply", metrics=dict(edit.params), editor=self.name)


@hookimpl
def register_editors(register):
    register(Toy)
'''


def test_editor_ops_are_built_from_their_params_or_skipped_with_the_reason(tmp_path):
    with install_plugin(tmp_path / "site", "toy-editor", "toy_editor", ODD_OP_EDITOR):
        report = check_stage("editor", "toy-editor")
        given = check_stage("editor", "toy-editor", edit_params={"toy-path": {"points": [1, 2]}}, determinism=False)
    assert report.ok
    assert report.check("run toy-tint {\"amount\": 0.5}").ok
    skipped = report.check("op toy-path")
    assert skipped in report.skipped
    assert "cannot construct a value for its required parameter 'points'" in skipped.reason
    assert "edit_params" in skipped.reason
    assert given.ok and given.check('run toy-path {"points": [1, 2]}').ok and not given.skipped


def test_example_params_of_the_builtin_ops():
    from worldsim.types import MoveParams, RecolorParams, RemoveParams, ScaleParams

    assert example_params(RecolorParams, {"color": "blue"}) == ({"color": "beige"}, "")
    assert example_params(RecolorParams, {"color": "red"}) == ({"color": "blue"}, "")
    assert example_params(MoveParams, {"direction": "left"})[0] == {"direction": "right"}
    assert example_params(ScaleParams)[0] == {"factor": 2.0}
    assert example_params(RemoveParams) == ({}, "")
