"""`worldsim export-ply` / worldsim.export_ply: a run's PLYs rewritten at a fixed SH degree, the run left untouched."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from plyfile import PlyData

from worldsim import artifacts
from worldsim.cli import main
from worldsim.errors import InputError
from worldsim.export_ply import export_ply
from worldsim.io.ply import read_gaussian_ply, write_gaussian_ply
from worldsim.testing import TINY_GENERATOR

PROMPT = "A red ball rolls to the right"
TINY_REC = {"train": {"iterations": 5}, "pad": 8, "eval_frames": 1, "novel_yaws": [5.0]}


def _make_run(root: Path, generator: dict | None = None, reconstructor: dict | None = None) -> Path:
    from worldsim.config import PipelineConfig
    from worldsim.pipeline import run_pipeline

    stages = [{"kind": "parser", "name": "rules"},
              {"kind": "generator", "name": "procedural",
               "config": {**TINY_GENERATOR, "num_frames": 2, "write_ply": True, **(generator or {})}},
              {"kind": "reconstructor", "name": "feature-4dgs", "config": {**TINY_REC, **(reconstructor or {})}}]
    config = PipelineConfig.model_validate({"name": "tiny-ply", "seed": 0, "stages": stages})
    return Path(run_pipeline(PROMPT, config=config, seed=0, output_dir=root))


@pytest.fixture(scope="module")
def made_run(tmp_path_factory) -> Path:
    return _make_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def run_dir(made_run, tmp_path) -> Path:
    return shutil.copytree(made_run, tmp_path / made_run.name)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run_files_unchanged(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "run.json").read_text())
    artifacts.verify_artifacts(run_dir, manifest["artifacts"])  # InputError on any change


def _rest_names(path: Path) -> list[str]:
    return [n for n in PlyData.read(str(path))["vertex"].data.dtype.names if n.startswith("f_rest_")]


def test_export_writes_degree_3_next_to_the_run_and_leaves_it_untouched(run_dir):
    before = _snapshot(run_dir)
    summary = export_ply(run_dir)
    out = run_dir / "exports" / "ply_sh3"
    assert summary["out"] == str(out) and summary["sh_degree"] == 3
    expected = [f"{stage}/frame_{t:04d}.ply" for stage in ("generator", "reconstruction") for t in range(2)]
    assert summary["files"] == expected
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == expected
    assert [p.name for p in (run_dir / "exports").iterdir()] == ["ply_sh3"]  # no temporary folder left
    for rel in expected:
        stage, name = rel.split("/")
        src, dst = read_gaussian_ply(run_dir / stage / "ply" / name), read_gaussian_ply(out / rel)
        assert summary["gaussians"][rel] == src["means"].shape[0] > 0
        assert _rest_names(out / rel) == [f"f_rest_{i}" for i in range(45)]
        assert dst["sh"].shape[1] == 16 and not np.any(dst["sh"][:, 1:])
        for key in ("means", "quats", "log_scales", "logit_opacities"):
            np.testing.assert_array_equal(dst[key], src[key])
        np.testing.assert_array_equal(dst["sh"][:, :1], src["sh"])
    _run_files_unchanged(run_dir)
    assert {k: v for k, v in _snapshot(run_dir).items() if not k.startswith("exports/")} == before


def test_degree_0_export_is_byte_identical_to_the_run_files(run_dir, tmp_path):
    summary = export_ply(run_dir, sh_degree=0, out=tmp_path / "sh0")
    for rel in summary["files"]:
        stage, name = rel.split("/")
        assert (tmp_path / "sh0" / rel).read_bytes() == (run_dir / stage / "ply" / name).read_bytes()
    assert not (run_dir / "exports").exists()


def test_existing_out_is_replaced_only_when_the_new_one_is_complete(run_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old export")
    export_ply(run_dir, sh_degree=1, out=out)
    assert not (out / "stale.txt").exists() and len(_rest_names(out / "generator" / "frame_0000.ply")) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", run_dir.name])
    previous = _snapshot(out)

    calls = []

    def failing(*args, **kwargs):  # the third file fails
        calls.append(args[0])
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return write_gaussian_ply(*args, **kwargs)

    monkeypatch.setattr("worldsim.io.ply.write_gaussian_ply", failing)
    with pytest.raises(OSError):
        export_ply(run_dir, sh_degree=3, out=out)
    assert _snapshot(out) == previous  # the old export is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", run_dir.name])  # no temporary sibling left
    with pytest.raises(OSError):
        calls.clear()
        export_ply(run_dir)  # default out under RUN/exports: nothing of it stays, not even exports/
    assert not (run_dir / "exports").exists()
    _run_files_unchanged(run_dir)


@pytest.mark.parametrize("target", [".", "generator", "generator/ply", ".."])
def test_out_that_holds_run_files_is_refused(run_dir, target):
    before = _snapshot(run_dir)
    with pytest.raises(InputError, match="own file"):
        export_ply(run_dir, out=run_dir / target)
    assert _snapshot(run_dir) == before


def test_lower_degree_than_the_files_hold_is_refused_and_edit_folders_are_read(tmp_path):
    """A hand-made version folder: edit/ply holds a degree-2 PLY."""
    run = tmp_path / "version"
    (run / "edit" / "ply").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    rng = np.random.default_rng(0)
    write_gaussian_ply(run / "edit" / "ply" / "frame_0000.ply", rng.normal(size=(5, 3)), rng.normal(size=(5, 4)),
                       rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(5, 9, 3)))
    with pytest.raises(InputError, match="SH degree 2; SH degree 1 would drop"):
        export_ply(run, sh_degree=1)
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == ["edit", "edit/ply", "edit/ply/frame_0000.ply", "run.json"]
    summary = export_ply(run, sh_degree=3)
    assert summary["files"] == ["edit/frame_0000.ply"] and summary["gaussians"] == {"edit/frame_0000.ply": 5}
    back = read_gaussian_ply(run / "exports" / "ply_sh3" / "edit" / "frame_0000.ply")["sh"]
    np.testing.assert_array_equal(back[:, :9], read_gaussian_ply(run / "edit" / "ply" / "frame_0000.ply")["sh"])
    assert not np.any(back[:, 9:])


def test_stage_settings_write_degree_3_plys_and_default_labels_keep_their_config(made_run, tmp_path):
    labels = json.loads((made_run / "generator" / "labels.json").read_text())
    assert "ply_sh_degree" not in labels["config"]  # a default run's labels.json is as before the setting existed
    assert _rest_names(made_run / "generator" / "ply" / "frame_0000.ply") == []
    assert _rest_names(made_run / "reconstruction" / "ply" / "frame_0000.ply") == []
    run = _make_run(tmp_path, generator={"ply_sh_degree": 3}, reconstructor={"ply_sh_degree": 3})
    for stage in ("generator", "reconstruction"):
        assert len(_rest_names(run / stage / "ply" / "frame_0001.ply")) == 45
    assert json.loads((run / "generator" / "labels.json").read_text())["config"]["ply_sh_degree"] == 3


# --- the command ---------------------------------------------------------------------------------------------


def _cli(capsys, *argv):
    code = main(["export-ply", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exports_with_json_summary(run_dir, tmp_path, capsys):
    code, out, err = _cli(capsys, run_dir, "--sh-degree", "2", "--out", tmp_path / "x", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sh_degree"] == 2 and summary["out"] == str(tmp_path / "x") and len(summary["files"]) == 4
    assert len(_rest_names(tmp_path / "x" / "reconstruction" / "frame_0001.ply")) == 24
    code, out, err = _cli(capsys, run_dir)
    assert code == 0 and "exported 4 PLY files at SH degree 3" in out
    assert (run_dir / "exports" / "ply_sh3" / "generator" / "frame_0000.ply").is_file()
    _run_files_unchanged(run_dir)


def test_cli_help_names_the_loader_and_the_default(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export-ply", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exc.value.code == 0 and "--sh-degree {0,1,2,3}" in text and "default: 3" in text and "load_ply" in text


@pytest.mark.parametrize("case", ["missing", "not-a-run", "a-file", "no-plys"])
def test_cli_bad_run_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    target = tmp_path / "target"
    if case == "not-a-run":
        (target / "generator" / "ply").mkdir(parents=True)
        (target / "generator" / "ply" / "frame_0000.ply").write_bytes(b"ply\n")
    elif case == "a-file":
        target.write_text("hello")
    elif case == "no-plys":
        (target / "generator").mkdir(parents=True)
        (target / "run.json").write_text('{"artifacts": []}')
    before = _snapshot(tmp_path)
    code, out, err = _cli(capsys, target, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("worldsim: error:") and "run folder" in lines[0], err
    assert _snapshot(tmp_path) == before and not (tmp_path / "out").exists()


def test_cli_bad_degree_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export-ply", str(tmp_path), "--sh-degree", "4"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
