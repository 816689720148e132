import argparse

import pytest

from plugins.tiny_t2v.cli import add_train_parser, run_train
from worldsim.errors import ConfigError


def _parser():
    p = argparse.ArgumentParser()
    add_train_parser(p.add_subparsers(dest="command"))
    return p


def test_train_parser_options(tmp_path):
    args = _parser().parse_args(["train", "tiny-t2v", "--out", str(tmp_path), "--seed", "3", "--steps", "5"])
    assert (args.model, args.seed, args.steps, args.out) == ("tiny-t2v", 3, 5, tmp_path)
    assert args.func is run_train


def test_bad_steps_fail_before_training(tmp_path):
    args = _parser().parse_args(["train", "tiny-t2v", "--out", str(tmp_path / "x"), "--steps", "0"])
    with pytest.raises(ConfigError, match="steps"):
        run_train(args)
    assert not (tmp_path / "x").exists()
