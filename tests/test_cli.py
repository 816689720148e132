import json

import numpy as np
import pytest

from worldsim.cli import main
from worldsim.testing import TINY_GENERATOR

TINY = ["--config", "generate-only", *(f"--set=generator.{k}={v}" for k, v in TINY_GENERATOR.items())]
PROMPT = "A red ball rolls quickly from left to right"


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def generate(capsys, tmp_path, prompt, *extra):
    code, out, err = run_cli(capsys, "generate", prompt, "--out", str(tmp_path), "--json", *extra)
    assert code == 0, err
    summary = json.loads(out)
    return summary, json.loads(open(summary["run_json"]).read())


# The default preset with a shortened reconstruction (same code path; the full run takes a minute).
SHORT_RECONSTRUCTION = ["--set", "reconstructor.train.iterations=10", "--set", "reconstructor.eval_frames=2",
                        "--set", "reconstructor.novel_yaws=[10]"]


def test_default_generate_twice_gives_identical_hashes(capsys, tmp_path):
    _, a = generate(capsys, tmp_path / "a", PROMPT, "--seed", "0", *SHORT_RECONSTRUCTION)
    _, b = generate(capsys, tmp_path / "b", PROMPT, "--seed", "0", *SHORT_RECONSTRUCTION)
    hashes = lambda run: {r["path"]: r["sha256"] for r in run["artifacts"]}
    assert hashes(a) == hashes(b)
    assert {"generator/video.mp4", "generator/labels.json", "generator/labels.safetensors",
            "reconstruction/scene.safetensors", "reconstruction/ply/frame_0000.ply", "scores/conformance.json",
            "scores/qa_questions.json", "scores/qa_answers.jsonl"} <= set(hashes(a))
    assert a["plan"]["motion"] == b["plan"]["motion"] and a["seed"] == 0
    assert [s["kind"] for s in a["stages"]] == ["parser", "generator", "reconstructor", "scorer", "scorer"]
    assert all(s["wall_s"] > 0 for s in a["stages"])
    assert {"conformance", "qa"} <= set(a["metrics"]) and a["metrics"]["conformance"]["passed"]
    assert a["plugins"]["rules"] == a["plugins"]["procedural"] == a["plugins"]["feature-4dgs"] == "0.1.0"
    assert a["config"]["stages"][1]["config"]["num_frames"] == 16


def _centroid_x(run_json_path):
    labels = json.loads((run_json_path.parent / "generator" / "labels.json").read_text())
    return np.array([f["center"][0] for f in labels["objects"][0]["frames"]])


def test_quick_ball_moves_right_faster_than_slow(capsys, tmp_path):
    from pathlib import Path

    fast, _ = generate(capsys, tmp_path, PROMPT, *TINY)
    slow, _ = generate(capsys, tmp_path, "A red ball rolls slowly from left to right", *TINY)
    xf, xs = _centroid_x(Path(fast["run_json"])), _centroid_x(Path(slow["run_json"]))
    assert np.all(np.diff(xf) > 0) and np.all(np.diff(xs) > 0)
    assert (xf[-1] - xf[0]) > 1.5 * (xs[-1] - xs[0])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "qwerty zxcv"], "qwerty zxcv"),
        (["generate", ""], "empty"),
        (["generate", "Make the ball blurple"], "blurple"),
        (["generate", "Make the ball blue"], "is an edit command"),
        (["generate", PROMPT, "--config", "nope"], "unknown config 'nope'"),
        (["generate", PROMPT, "--set", "generator.width=33"], "width"),
        (["generate", PROMPT, "--config", "generate-only", "--edit", "Make the ball blue"], "has no reconstructor stage"),
        (["parse", "x" * 10_000], "10000 characters"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(capsys, tmp_path, argv, message):
    out_dir = tmp_path / "runs"
    extra = ["--out", str(out_dir)] if argv[0] == "generate" else []
    code, out, err = run_cli(capsys, *argv, *extra)
    assert code == 2
    assert message in err and err.count("\n") == 1 and err.startswith("worldsim: error: ")
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_unknown_stage_in_config_file(capsys, tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text("stages:\n  - kind: parser\n    name: rules\n  - kind: generator\n    name: sora\n")
    code, _, err = run_cli(capsys, "generate", PROMPT, "--config", str(preset), "--out", str(tmp_path / "runs"))
    assert code == 2 and "unknown generator 'sora'; available: " in err and "procedural" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("seed", ["-1", "abc", "4294967296", "1.5"])
def test_bad_seed_exits_2(capsys, seed):
    with pytest.raises(SystemExit) as info:
        main(["generate", PROMPT, "--seed", seed])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"seed {seed}" in err or f"seed '{seed}'" in err


def test_failure_mid_run_removes_partial_folder(capsys, tmp_path, monkeypatch):
    from plugins.procedural.stage import ProceduralGenerator

    def explode(self, plan, seed, out_dir):
        (out_dir / "half.bin").write_bytes(b"x")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(ProceduralGenerator, "run", explode)
    code, _, err = run_cli(capsys, "generate", PROMPT, "--out", str(tmp_path))
    assert code == 1 and "generator 'procedural' (plugin 'procedural') failed: RuntimeError: renderer crashed" in err
    assert list(tmp_path.iterdir()) == []


def test_parse_json_contract(capsys):
    code, out, _ = run_cli(capsys, "parse", "Now have the car drive to the right", "--json")
    assert code == 0
    assert json.loads(out) == {"mode": "edit", "objects": [{"name": "car", "color": None, "count": 1}],
                               "motion": {"direction": "right", "speed": "normal"},
                               "edit": {"op": "move", "target": "car", "color": None, "direction": "right",
                                        "params": {"direction": "right"}},
                               "camera": {"motion": "static", "speed": "normal", "target": None}}
    code, out, _ = run_cli(capsys, "parse", "A red ball rolls left as the camera pans slowly to the right", "--json")
    assert code == 0 and json.loads(out)["camera"] == {"motion": "pan-right", "speed": "slow", "target": None}


def test_stages_and_plugins_listing(capsys):
    code, out, _ = run_cli(capsys, "stages", "--json")
    assert code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(out)}
    assert rows[("parser", "rules")]["plugin"] == "rules" and ("generator", "procedural") in rows
    code, out, _ = run_cli(capsys, "plugins")
    assert "rules" in out and "parser:rules" in out and "generator:procedural" in out


def test_help_explains_each_command(capsys):
    for cmd in ("generate", "parse", "plugins", "stages", "serve"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        assert "usage: worldsim" in capsys.readouterr().out


def test_sigterm_removes_the_partial_run_folder(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "worldsim.cli", "generate", "A red ball rolls left", "--out", str(tmp_path)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_folder_is_a_one_line_error(tmp_path, capsys):
    import subprocess

    ro = tmp_path / "RO"
    ro.mkdir()
    if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        assert main(["generate", "A red ball rolls left", "--config", "generate-only", "--out", str(ro)]) == 2
        err = capsys.readouterr().err
        assert "permission denied (PermissionError)" in err and err.count("\n") == 1 and "Traceback" not in err
    finally:
        subprocess.run(["chattr", "-i", str(ro)])
    assert list(ro.iterdir()) == []


def test_unexpected_errors_keep_their_traceback_in_a_log(tmp_path, capsys, monkeypatch):
    from worldsim import cli

    def boom(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_stages", boom)
    assert cli.main(["stages"]) == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: a bug" in err and "Traceback" not in err
    log = err.split("traceback: ", 1)[1].split(";", 1)[0]
    assert "ZeroDivisionError" in open(log).read()


def test_llm_credentials_never_reach_the_run_folder_and_a_fallback_is_said(tmp_path, capsys, monkeypatch):
    import yaml

    monkeypatch.setenv("OPENAI_API_KEY", "dummy")
    config = tmp_path / "lc.yaml"
    config.write_text(yaml.safe_dump({"stages": [
        {"kind": "parser", "name": "langchain", "config": {
            "base_url": "http://user:SECRETPASS@127.0.0.1:9/v1?token=TOPSECRET", "model": "m",
            "api_key_env": "OPENAI_API_KEY", "fallback": "rules", "timeout_s": 2}},
        {"kind": "generator", "name": "procedural", "config": dict(TINY_GENERATOR)}]}))
    assert main(["generate", PROMPT, "--config", str(config), "--out", str(tmp_path / "runs")]) == 0
    assert "note: parser 'langchain' fell back to 'rules'" in capsys.readouterr().err
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"SECRETPASS" not in data and b"TOPSECRET" not in data, path
