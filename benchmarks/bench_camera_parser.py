"""Field accuracy of a parser on camera phrasings (issue 13): the held-out set benchmarks/camera_parser_heldout.jsonl.

Each line of the set is a command with what a correct parse gives:
  {"text", "camera": {motion, speed, target}, "objects": [{name, color, count}], "motion": {direction, speed}}
or a command the parser must refuse with a one-line ParseError containing every needle:
  {"text", "error": [needle, ...]}   (e.g. 'the camera zooms in': zoom is a focal-length change, not a dolly)

Scored fields: a plan line gives six (camera.motion, camera.speed, camera.target, objects, motion.direction,
motion.speed); a parse error on a plan line fails all six. An error line gives one field (error): right when
the parser raises a one-line ParseError holding every needle. Field accuracy = right fields / all fields.

Two parts, never edited to fit the parser (training phrasings live in tests/plugins/test_rules_parser.py):
  first: the 66 lines without a "set" key, written before the grammar learnt camera phrases (the grammar's
         design walked through them, so their score is optimistic);
  after: the lines with "set": "after", written once the grammar was done and scored once before any fix.
The script prints the figures for each part and for both together.

Run: .venv/bin/python benchmarks/bench_camera_parser.py [--parser rules] [--set FILE] [--json FILE] [--quiet]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HERE = Path(__file__).resolve().parent
DEFAULT_SET = HERE / "camera_parser_heldout.jsonl"
PLAN_FIELDS = ("camera.motion", "camera.speed", "camera.target", "objects", "motion.direction", "motion.speed")
FIELDS = (*PLAN_FIELDS, "error")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _got(contract: dict) -> dict:
    cam = contract.get("camera") or {"motion": "static", "speed": "normal", "target": None}
    return {"camera.motion": cam["motion"], "camera.speed": cam["speed"], "camera.target": cam["target"],
            "objects": contract["objects"], "motion.direction": contract["motion"]["direction"],
            "motion.speed": contract["motion"]["speed"]}


def _want(row: dict) -> dict:
    return {"camera.motion": row["camera"]["motion"], "camera.speed": row["camera"]["speed"],
            "camera.target": row["camera"]["target"], "objects": row["objects"],
            "motion.direction": row["motion"]["direction"], "motion.speed": row["motion"]["speed"]}


def score(rows: list[dict], parse) -> dict:
    """Per-field right/total counts and the failures: (text, field, wanted, got)."""
    from worldsim.errors import ParseError

    right, total, failures = Counter(), Counter(), []
    for row in rows:
        text = row["text"]
        try:
            contract, error = parse(text).contract(), None
        except ParseError as exc:
            contract, error = None, str(exc)
        if "error" in row:
            total["error"] += 1
            ok = error is not None and "\n" not in error and all(n in error for n in row["error"])
            right["error"] += ok
            if not ok:
                failures.append((text, "error", row["error"], error if error is not None else _got(contract)))
            continue
        want = _want(row)
        got = _got(contract) if contract is not None else None
        for field in PLAN_FIELDS:
            total[field] += 1
            if got is not None and got[field] == want[field]:
                right[field] += 1
            else:
                failures.append((text, field, want[field], got[field] if got is not None else f"ParseError: {error}"))
    return {"right": right, "total": total, "failures": failures}


def report(result: dict, quiet: bool = False) -> dict:
    right, total = result["right"], result["total"]
    summary = {f: {"right": right[f], "total": total[f], "accuracy": right[f] / total[f]} for f in FIELDS if total[f]}
    all_right, all_total = sum(right.values()), sum(total.values())
    summary["all"] = {"right": all_right, "total": all_total, "accuracy": all_right / all_total}
    print(f"{'field':<18}{'right':>7}{'total':>7}{'accuracy':>10}")
    for field, s in summary.items():
        print(f"{field:<18}{s['right']:>7}{s['total']:>7}{s['accuracy']:>10.1%}")
    if not quiet and result["failures"]:
        print(f"\nfailures ({len(result['failures'])}):")
        for text, field, want, got in result["failures"]:
            print(f"  {text!r}: {field}: want {json.dumps(want)}, got {json.dumps(got) if not isinstance(got, str) else got}")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parser", default="rules", help="parser stage (default: rules)")
    ap.add_argument("--set", type=Path, default=DEFAULT_SET, help="held-out JSONL file")
    ap.add_argument("--json", type=Path, default=None, help="also write the per-field summary here")
    ap.add_argument("--quiet", action="store_true", help="do not list the failures")
    args = ap.parse_args(argv)

    from worldsim.registry import get_stage

    rows = load(args.set)
    stage = get_stage("parser", args.parser, {})
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M} UTC, {platform.node()}, python {platform.python_version()}")
    print(f"{len(rows)} commands ({sum('error' in r for r in rows)} expected errors) from {args.set.name}, parser '{args.parser}'")
    parts = {"first": [r for r in rows if r.get("set", "first") == "first"],
             "after": [r for r in rows if r.get("set") == "after"], "both": rows}
    summaries = {}
    for name, part in parts.items():
        if part:
            print(f"\n== {name}: {len(part)} commands ({sum('error' in r for r in part)} expected errors)")
            summaries[name] = report(score(part, stage.run), quiet=args.quiet or name == "both")
    if args.json:
        args.json.write_text(json.dumps({"parser": args.parser, "set": str(args.set), "parts": summaries}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
