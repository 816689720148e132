import json

import pytest

from worldsim import pipeline, sessions
from worldsim.artifacts import list_artifacts
from worldsim.config import load_config
from worldsim.errors import InputError

SMALL = ["generator.num_frames=4", "generator.width=48", "generator.height=48", "generator.write_ply=false",
         "generator.gaussians_per_object=150", "generator.background_spacing=0.6", "reconstructor.train.iterations=60",
         "reconstructor.pad=8", "reconstructor.eval_frames=2", "reconstructor.novel_yaws=[5]"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run = pipeline.run_pipeline("A yellow bus moves from right to left", config=load_config("default", SMALL), seed=0, output_dir=out)
    return run


def test_generate_run_has_an_object_registry(scene):
    version = sessions.open_version(scene)
    assert [(o.id, o.name, o.color) for o in version.objects] == [(1, "bus", "yellow")]
    assert version.objects[0].gaussians > 0
    assert "objects.json" in {p for p, _, _ in list_artifacts(scene)}


def test_absent_object_and_generate_command_are_refused(scene):
    with pytest.raises(InputError, match="no 'car' in this scene; objects: bus"):
        sessions.apply_edit(scene, "Make the car red")
    with pytest.raises(InputError, match="is a generate command"):
        sessions.apply_edit(scene, "A red ball rolls to the left")
    with pytest.raises(InputError, match="unknown colour 'blurple'"):
        sessions.apply_edit(scene, "Make the bus blurple")
    assert sorted(p.name for p in scene.parent.iterdir()) == [scene.name]  # nothing written


def test_motion_edit_regenerates_with_the_same_seed(scene):
    before = {p: h for p, h, _ in list_artifacts(scene)}
    new = sessions.apply_edit(scene, "Now make it drive to the right")
    manifest = json.loads((new / "run.json").read_text())
    assert manifest["parent"] == scene.name and manifest["lineage"] == [scene.name]
    assert manifest["plan"]["motion"]["direction"] == "right" and manifest["seed"] == 0
    assert manifest["edits"] == ["Now make it drive to the right"]
    labels = json.loads((new / "generator" / "labels.json").read_text())
    xs = [f["center"][0] for f in labels["objects"][0]["frames"]]
    assert xs[-1] > xs[0]
    assert {p: h for p, h, _ in list_artifacts(scene)} == before  # the parent is untouched


def test_not_a_run_folder_or_corrupt_or_without_reconstruction(tmp_path):
    with pytest.raises(InputError, match="not a run folder"):
        sessions.open_version(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(InputError, match="corrupt run.json"):
        sessions.open_version(tmp_path)
    plain = pipeline.run_pipeline("A red ball rolls to the left", config=load_config("generate-only", SMALL[:6]), seed=0,
                                output_dir=tmp_path / "runs")
    with pytest.raises(InputError, match="has no reconstruction"):
        sessions.apply_edit(plain, "Make the ball blue")


def test_recolor_then_remove_it_makes_linked_versions(scene, capsys):
    from worldsim.cli import main

    before = {p: h for p, h, _ in list_artifacts(scene)}
    assert main(["edit", str(scene), "Make the bus red", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    v1 = sessions.open_version(first["run_dir"])
    assert v1.manifest["parent"] == scene.name and v1.manifest["metrics"]["edit"]["op"] == "recolor"
    assert v1.objects[0].color == "red" and v1.last_referenced == "bus"
    assert v1.manifest["metrics"]["edit"]["mask_iou"] > 0.5
    v2_path = sessions.apply_edit(v1.path, "Delete it")
    v2 = sessions.open_version(v2_path)
    assert v2.objects[0].removed and v2.manifest["lineage"] == [scene.name, v1.path.name]
    assert v2.root == scene.resolve()
    with pytest.raises(InputError, match="no 'bus' in this scene; objects: none"):
        sessions.apply_edit(v2_path, "Make the bus blue")
    assert {p: h for p, h, _ in list_artifacts(scene)} == before


def test_interactive_session_reads_edits_line_by_line(scene, capsys, monkeypatch):
    import io

    from worldsim.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("objects\nMake the car blue\nMake the bus white\nhistory\nquit\n"))
    assert main(["session", str(scene)]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0] == "bus (yellow)"
    assert "no 'car' in this scene" in err  # a bad line keeps the session going
    assert lines[1].startswith("new version: ")
    assert lines[2].startswith(scene.name + " -> ")
    last = sessions.open_version(lines[-1])
    assert last.objects[0].color == "white" and last.manifest["parent"] == scene.name


def test_a_modified_scene_is_refused_unless_no_verify(scene, tmp_path, capsys):
    import shutil

    from worldsim.cli import main

    copy = tmp_path / scene.name
    shutil.copytree(scene, copy)
    target = copy / "reconstruction" / "scene.safetensors"
    data = bytearray(target.read_bytes())
    data[-64:] = bytes(64)  # valid structure, different tensor data
    target.write_bytes(bytes(data))
    before = {p: h for p, h, _ in list_artifacts(copy)}
    assert main(["edit", str(copy), "Make the bus red"]) == 2
    err = capsys.readouterr().err
    assert "'reconstruction/scene.safetensors' does not match its sha256" in err and "--no-verify" in err
    assert {p: h for p, h, _ in list_artifacts(copy)} == before and sorted(p.name for p in tmp_path.iterdir()) == [copy.name]
    assert main(["edit", str(copy), "Make the bus red", "--no-verify", "--json"]) == 0
    new = json.loads(capsys.readouterr().out)["run_dir"]
    assert json.loads((tmp_path / new.rsplit("/", 1)[1] / "run.json").read_text())["parent_verified"] is False
