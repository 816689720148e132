import json
import os
import subprocess
import sys

import pytest

from worldsim import plugins, registry
from worldsim.errors import ConfigError, UnknownStageError
from worldsim.testing import install_plugin, write_plugin_distribution

THROWAWAY = """
from worldsim.hookspecs import hookimpl
from worldsim.registry import Stage, StageConfig
from worldsim.types import Plan, ObjectSpec


class ShoutConfig(StageConfig):
    noun: str = "ball"


class ShoutParser(Stage):
    kind = "parser"
    name = "shout"
    description = "Every command is a ball (test plugin)"
    Config = ShoutConfig

    def run(self, text):
        return Plan(mode="generate", text=text, objects=(ObjectSpec(name=self.config.noun),))


@hookimpl
def register_parsers(register):
    register(ShoutParser)
"""


def test_throwaway_plugin_adds_a_stage(tmp_path):
    with install_plugin(tmp_path, "worldsim-shout", "ws_shout", THROWAWAY, entry_point="shout"):
        info = registry.get_stage_info("parser", "shout")
        assert info.plugin == "shout"
        assert plugins.plugin_versions()["shout"] == "0.0.1"
        plan = registry.get_stage("parser", "shout", {"noun": "cube"}).run("anything at all")
        assert plan.objects[0].name == "cube"


def test_blocked_plugin_disappears(tmp_path, monkeypatch):
    with install_plugin(tmp_path, "worldsim-shout", "ws_shout", THROWAWAY, entry_point="shout"):
        monkeypatch.setenv("WORLDSIM_DISABLE_PLUGINS", "shout")
        plugins.reset()
        with pytest.raises(UnknownStageError, match="unknown parser 'shout'; available: langchain, rules"):
            registry.get_stage_info("parser", "shout")
        assert "shout" not in plugins.plugin_versions()


def test_allow_list_loads_only_named(monkeypatch):
    monkeypatch.setenv("WORLDSIM_LOAD_PLUGINS", "procedural")
    assert set(plugins.plugin_versions()) == {"procedural"}
    with pytest.raises(UnknownStageError, match="none installed"):
        registry.get_stage_info("parser", "rules")


def test_unknown_plugin_name_in_switch(monkeypatch):
    monkeypatch.setenv("WORLDSIM_DISABLE_PLUGINS", "nope")
    with pytest.raises(ConfigError, match="unknown plugin.*nope"):
        plugins.get_manager()


def test_misspelled_hook_fails_loudly(tmp_path):
    source = "from worldsim.hookspecs import hookimpl\n\n@hookimpl\ndef register_parser(register):\n    pass\n"
    with install_plugin(tmp_path, "worldsim-typo", "ws_typo", source, entry_point="typo"):
        with pytest.raises(Exception, match="register_parser"):
            plugins.get_manager()


def test_plugin_that_fails_to_import_names_itself(tmp_path):
    with install_plugin(tmp_path, "worldsim-broken", "ws_broken", "import not_a_module_anywhere\n", entry_point="broken"):
        with pytest.raises(ConfigError, match="plugin 'broken'.*WORLDSIM_DISABLE_PLUGINS=broken"):
            plugins.get_manager()


def test_unknown_stage_lists_available():
    with pytest.raises(UnknownStageError, match=r"unknown generator 'x'; available: (.*, )?procedural(, |$)"):
        registry.get_stage("generator", "x")


def test_cli_lists_throwaway_stage_and_config_selects_it(tmp_path):
    site = write_plugin_distribution(tmp_path / "site", "worldsim-shout", "ws_shout", THROWAWAY, entry_point="shout")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cli = [sys.executable, "-m", "worldsim.cli"]
    out = subprocess.run([*cli, "stages", "--json"], env=env, capture_output=True, text=True, check=True).stdout
    assert {"kind": "parser", "name": "shout", "plugin": "shout", "description": "Every command is a ball (test plugin)"} in json.loads(out)
    preset = tmp_path / "shout.yaml"
    preset.write_text("stages:\n  - kind: parser\n    name: shout\n    config: {noun: crate}\n")
    out = subprocess.run([*cli, "generate", "zzz", "--config", str(preset), "--out", str(tmp_path / "runs"), "--json"],
                         env=env, capture_output=True, text=True, check=True).stdout
    run = json.loads((tmp_path / "runs" / json.loads(out)["run_dir"].rsplit("/", 1)[1] / "run.json").read_text())
    assert run["plan"]["objects"][0]["name"] == "crate"
    assert run["stages"][0]["plugin"] == "shout"
    blocked = subprocess.run([*cli, "stages"], env={**env, "WORLDSIM_DISABLE_PLUGINS": "shout"}, capture_output=True, text=True)
    assert blocked.returncode == 0 and "shout" not in blocked.stdout


def test_every_hook_is_documented_and_has_a_stage_kind():
    from pathlib import Path

    from worldsim import hookspecs

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert sorted(hooks) == sorted(hookspecs.HOOK_FOR_KIND.values())
    for hook in hooks:
        assert f"`{hook}`" in readme, f"{hook} is not documented in README.md"
