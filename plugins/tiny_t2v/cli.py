"""`worldsim train tiny-t2v`: reproduce the shipped tiny-t2v checkpoint from a seed."""

from __future__ import annotations

import argparse
from pathlib import Path

CHECKPOINT = Path(__file__).parent / "checkpoint"


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Add `train tiny-t2v` to the CLI's subparsers (the `train` group is created when missing)."""
    train = subparsers.add_parser("train", help="train a model the project ships (tiny-t2v)")
    models = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = models.add_parser("tiny-t2v", help="train the tiny text-to-video model on procedural clips (CPU)",
                          description="Render procedural clips from --seed, train TinyVideoDiT, write config.json + "
                                      "model.safetensors + training.json to --out.")
    p.add_argument("--out", type=Path, default=Path("outputs/tiny-t2v"), help="checkpoint folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="data and training seed (default: %(default)s)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the shipped checkpoint's)")
    p.add_argument("--clips", type=int, default=None, help="procedural training clips (default: the shipped checkpoint's)")
    p.add_argument("--batch", type=int, default=None, help="batch size")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    p.set_defaults(func=run_train)
    return p


def shipped_train_config() -> dict:
    import json

    path = CHECKPOINT / "training.json"
    return json.loads(path.read_text())["train_config"] if path.is_file() else {}


def run_train(args) -> int:
    from pydantic import ValidationError

    from plugins.tiny_t2v.train import TrainConfig, train
    from worldsim.errors import ConfigError

    overrides = {k: v for k, v in {"seed": args.seed, "steps": args.steps, "clips": args.clips, "batch": args.batch,
                                   "threads": args.threads}.items() if v is not None}
    try:
        cfg = TrainConfig(**{**shipped_train_config(), **overrides})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"tiny-t2v training config: {where}={err.get('input')!r}: {err['msg']}") from None
    _, summary = train(cfg, args.out)
    print(f"tiny-t2v: {summary['steps_done']} steps, final loss {summary['losses'][-1]['loss']:.4f}, "
          f"{summary['wall_seconds']} s -> {args.out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.tiny_t2v.cli")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
