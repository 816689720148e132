"""Broken third-party plugins: one line naming the plugin and what it broke, a non-zero exit, no traceback,
nothing left behind, and every other plugin (the built-in parser included) keeps working."""

import json
import os
import subprocess
import sys

import pytest

from worldsim import cli
from worldsim.testing import TINY_GENERATOR, install_plugin, write_plugin_distribution

HEAD = """
from pathlib import Path

import numpy as np

from worldsim.hookspecs import hookimpl
from worldsim.stages import Generator, Parser, Scorer
from worldsim.types import GeneratedVideo, ScoreResult
"""

CASES = {
    "fails-to-import": (
        HEAD + "raise RuntimeError('boom while importing')\n",
        "generator", "bad-gen", 2, ["skipped plugin 'fails-to-import'", "failed to import", "RuntimeError: boom while importing"],
    ),
    "no-name": (
        HEAD + """
class G(Generator):
    description = "a generator without a name"

    def run(self, plan, seed, out_dir):
        raise AssertionError("never called")


@hookimpl
def register_generators(register):
    register(G)
""", "generator", "bad-gen", 2, ["skipped plugin 'no-name'", "class G has no name"]),
    "instance": (
        HEAD + """
class G(Generator):
    name = "bad-gen"
    description = "registered as an instance"

    def run(self, plan, seed, out_dir):
        raise AssertionError("never called")


@hookimpl
def register_generators(register):
    register(G())
""", "generator", "bad-gen", 2, ["skipped plugin 'instance'", "registered an instance of G, not a class"]),
    "wrong-signature": (
        HEAD + """
class G(Generator):
    name = "bad-gen"
    description = "run takes the wrong arguments"

    def run(self, prompt):
        raise AssertionError("never called")


@hookimpl
def register_generators(register):
    register(G)
""", "generator", "bad-gen", 2, ["skipped plugin 'wrong-signature'", "run(prompt) does not match the generator signature"]),
    "returns-dict": (
        HEAD + """
class G(Generator):
    name = "bad-gen"
    description = "returns a dict"

    def run(self, plan, seed, out_dir):
        return {"video": "generator/video.mp4"}


@hookimpl
def register_generators(register):
    register(G)
""", "generator", "bad-gen", 1, ["generator 'bad-gen' (plugin 'returns-dict') returned dict; expected GeneratedVideo"]),
    "missing-file": (
        HEAD + """
class G(Generator):
    name = "bad-gen"
    description = "claims a video it never wrote"

    def run(self, plan, seed, out_dir):
        return GeneratedVideo(video="generator/video.mp4", fps=8, num_frames=4, width=32, height=32, generator=self.name)


@hookimpl
def register_generators(register):
    register(G)
""", "generator", "bad-gen", 1, ["generator 'bad-gen' (plugin 'missing-file') returned video='generator/video.mp4'",
                                 "no such file was written"]),
    "numpy-scorer": (
        HEAD + """
class S(Scorer):
    name = "bad-score"
    description = "returns a numpy array"

    def run(self, inputs, out_dir):
        return np.zeros(3)


@hookimpl
def register_scorers(register):
    register(S)
""", "scorer", "bad-score", 1, ["scorer 'bad-score' (plugin 'numpy-scorer') returned ndarray; expected ScoreResult"]),
    "raising-parser": (
        HEAD + """
class P(Parser):
    name = "bad-parser"
    description = "raises on every command"

    def run(self, text):
        raise ValueError("cannot read " + text)


@hookimpl
def register_parsers(register):
    register(P)
""", "parser", "bad-parser", 1, ["parser 'bad-parser' (plugin 'raising-parser') failed: ValueError: cannot read"]),
}


def _config(tmp_path, kind: str, name: str):
    parser = name if kind == "parser" else "rules"
    generator = name if kind == "generator" else "procedural"
    stages = [{"kind": "parser", "name": parser},
              {"kind": "generator", "name": generator, "config": dict(TINY_GENERATOR) if generator == "procedural" else {}}]
    if kind == "scorer":
        stages.append({"kind": "scorer", "name": name})
    path = tmp_path / "broken.yaml"
    path.write_text(json.dumps({"stages": stages}))
    return path


@pytest.mark.parametrize("plugin", sorted(CASES))
def test_broken_plugin_is_one_line_and_leaves_nothing(plugin, tmp_path, capsys):
    source, kind, name, code, expected = CASES[plugin]
    out = tmp_path / "runs"
    with install_plugin(tmp_path / "site", f"worldsim-{plugin}", f"ws_{plugin.replace('-', '_')}", source, entry_point=plugin):
        if kind == "parser":
            rc = cli.main(["parse", "A red ball rolls left", "--parser", name])
        else:
            rc = cli.main(["generate", "A red ball rolls left", "--config", str(_config(tmp_path, kind, name)), "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == code, err
        assert "Traceback" not in err
        for part in expected:
            assert part in err, err
        assert all(len(line) < 600 for line in err.splitlines())
        assert not out.exists() or not any(out.iterdir()), list(out.iterdir())  # no run folder, no partial folder
        # every other plugin keeps working
        assert cli.main(["parse", "A red ball rolls left", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["motion"]["direction"] == "left"


def test_broken_plugin_through_a_real_process(tmp_path):
    source, *_ = CASES["fails-to-import"]
    site = write_plugin_distribution(tmp_path / "site", "worldsim-fails-to-import", "ws_fails", source, entry_point="fails-to-import")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    ok = subprocess.run([sys.executable, "-m", "worldsim.cli", "parse", "A red ball rolls left", "--json"], env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["objects"][0]["name"] == "ball"
    assert ok.stderr.count("skipped plugin 'fails-to-import'") == 1 and "Traceback" not in ok.stderr
    listed = subprocess.run([sys.executable, "-m", "worldsim.cli", "plugins", "--json"], env=env, capture_output=True, text=True)
    rows = {r["plugin"]: r for r in json.loads(listed.stdout)}
    assert rows["fails-to-import"]["status"] == "broken" and "boom while importing" in rows["fails-to-import"]["reason"]
    assert rows["procedural"]["status"] == "ok"
