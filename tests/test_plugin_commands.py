"""Plugins add `worldsim` sub-commands through the `register_commands` hook; one that fails is skipped."""

from worldsim.cli import build_parser, main
from worldsim.testing import install_plugin

HELLO = """
from worldsim.hookspecs import hookimpl


def hello(args):
    print(f"hello {args.name}")
    return 0


@hookimpl
def register_commands(subparsers):
    p = subparsers.add_parser("hello", help="say hello (test plugin)")
    p.add_argument("name")
    p.set_defaults(func=hello)
"""

BROKEN = """
from worldsim.hookspecs import hookimpl


@hookimpl
def register_commands(subparsers):
    raise RuntimeError("this plugin's command cannot be added")
"""


def test_a_plugin_command_runs_through_the_cli(tmp_path, capsys):
    with install_plugin(tmp_path, "worldsim-hello", "ws_hello", HELLO, entry_point="hello"):
        assert main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"


def test_a_failing_command_hook_does_not_break_the_cli(tmp_path):
    with install_plugin(tmp_path / "a", "worldsim-broken-cmd", "ws_broken_cmd", BROKEN, entry_point="broken-cmd"), \
            install_plugin(tmp_path / "b", "worldsim-hello", "ws_hello", HELLO, entry_point="hello"):
        parser = build_parser()
        assert parser.parse_args(["hello", "x"]).name == "x"
        assert parser.parse_args(["train", "tiny-t2v", "--steps", "3"]).steps == 3  # the built-in plugin's command


def test_tiny_t2v_train_is_registered_by_its_plugin():
    from plugins.tiny_t2v.cli import run_train

    args = build_parser().parse_args(["train", "tiny-t2v", "--seed", "2"])
    assert (args.model, args.seed, args.func) == ("tiny-t2v", 2, run_train)
