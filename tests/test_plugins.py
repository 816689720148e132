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
from worldsim.stages import Parser, StageConfig
from worldsim.types import Plan, ObjectSpec


class ShoutConfig(StageConfig):
    noun: str = "ball"


class ShoutParser(Parser):
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
        with pytest.raises(UnknownStageError, match="unknown parser 'shout'; available: langchain, rules$"):
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


def test_misspelled_hook_is_reported_and_skipped(tmp_path, capsys):
    source = "from worldsim.hookspecs import hookimpl\n\n@hookimpl\ndef register_parser(register):\n    pass\n"
    with install_plugin(tmp_path, "worldsim-typo", "ws_typo", source, entry_point="typo"):
        assert "register_parser" in plugins.broken_plugins()["typo"]
        assert registry.get_stage_info("parser", "rules").plugin == "rules"  # the others still load
        assert "typo" not in plugins.plugin_versions()
    assert capsys.readouterr().err.count("skipped plugin 'typo'") == 1


def test_plugin_that_fails_to_import_is_skipped_and_named(tmp_path, capsys):
    with install_plugin(tmp_path, "worldsim-broken", "ws_broken", "import not_a_module_anywhere\n", entry_point="broken"):
        reason = plugins.broken_plugins()["broken"]
        assert "ModuleNotFoundError" in reason and "not_a_module_anywhere" in reason
        assert registry.get_stage_info("parser", "rules").plugin == "rules"
        with pytest.raises(UnknownStageError, match="skipped broken plugin.*broken"):
            registry.get_stage_info("generator", "nope")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipped plugin 'broken' (distribution 'worldsim-broken')" in err


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
    assert set(hookspecs.HOOK_FOR_KIND.values()) <= set(hooks)
    for hook in hooks:
        assert f"`{hook}`" in readme, f"{hook} is not documented in README.md"


def test_a_raising_command_hook_is_said_once_and_the_cli_still_works(tmp_path, capsys):
    from worldsim.cli import main

    source = ("from worldsim.hookspecs import hookimpl\n\n@hookimpl\ndef register_commands(subparsers):\n"
              "    raise RuntimeError('no commands today')\n")
    with install_plugin(tmp_path, "worldsim-cmds", "ws_cmds", source, entry_point="cmds"):
        assert main(["parse", "A red ball rolls left", "--json"]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped plugin 'cmds'") == 1 and "no commands today" in err and "Traceback" not in err
