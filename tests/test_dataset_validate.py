"""`worldsim dataset validate DIR` (worldsim.io.datasets.validate_dataset): any tampering fails, naming the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from worldsim import batch
from worldsim.artifacts import sha256_file
from worldsim.errors import InputError
from worldsim.io import datasets
from worldsim.testing import tiny_batch_spec


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pristine") / "ds"
    batch.run_batch(tiny_batch_spec(num_scenes=4, splits={"train": 0.5, "val": 0.25, "test": 0.25}), out)
    return out


@pytest.fixture
def ds(pristine, tmp_path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(pristine, copy)
    return copy


def _rehash(ds: Path, rel: str) -> None:
    """Tamper 'well': update the manifest too, so only the content checks can catch it."""
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["files"][rel] = {"sha256": sha256_file(ds / rel), "bytes": (ds / rel).stat().st_size}
    (ds / "manifest.json").write_text(json.dumps(manifest))


def _fails(ds: Path, rel: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        datasets.validate_dataset(ds)
    msg = str(err.value)
    assert msg.startswith(f"{ds / rel}: ") and words in msg, msg


def test_pristine_dataset_is_valid(ds):
    counts = datasets.validate_dataset(ds)
    assert counts["scenes"] == 4 and counts["dense"] == 4 and counts["conversations"] > counts["questions"] > 0
    assert counts["run_artifacts"] >= 4 * 4


def test_changed_video_byte_fails(ds):
    path = ds / "videos" / "000002.mp4"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    _fails(ds, "videos/000002.mp4", "sha256 or size differs from manifest.json")


def test_deleted_video_fails(ds):
    (ds / "videos" / "000001.mp4").unlink()
    _fails(ds, "videos/000001.mp4", "missing")


def test_stray_file_fails(ds):
    shutil.copy(ds / "videos" / "000001.mp4", ds / "videos" / "000009.mp4")
    _fails(ds, "videos/000009.mp4", "not listed in manifest.json")


def test_run_artifact_changed_fails(ds):
    run = next(p for p in (ds / "runs").iterdir())
    labels = run / "generator" / "labels.json"
    labels.write_text(labels.read_text().replace('"fps": 8', '"fps": 9', 1))
    _fails(ds, f"runs/{run.name}/generator/labels.json", "sha256 differs from runs/")


def test_conversation_without_video_token_fails_even_with_a_fixed_manifest(ds):
    rel = "sharegpt_train.jsonl"
    lines = (ds / rel).read_text().splitlines()
    row = json.loads(lines[0])
    row["messages"][0]["content"] = row["messages"][0]["content"].replace("<video>", "")
    (ds / rel).write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    _rehash(ds, rel)
    _fails(ds, rel, "line 1: 0 <video> tokens but 1 videos")


def test_duplicated_conversation_fails(ds):
    rel = "sharegpt_train.jsonl"
    text = (ds / rel).read_text()
    (ds / rel).write_text(text + text.splitlines()[0] + "\n")
    _rehash(ds, rel)
    _fails(ds, rel, "conversations differ from the")


def test_changed_answer_fails(ds):
    rel = "vlm4d_test.json"
    items = json.loads((ds / rel).read_text())
    items[0]["answer"] = next(v for v in items[0]["choices"].values() if v != items[0]["answer"])
    (ds / rel).write_text(json.dumps(items))
    _rehash(ds, rel)
    _fails(ds, rel, "questions differ from the records")


def test_mask_that_disagrees_with_its_box_fails(ds):
    rel = "dense_val.jsonl"
    row = json.loads((ds / rel).read_text().splitlines()[0])
    row["objects"][0]["masks"][0] = datasets.rle_encode(datasets.rle_decode(row["objects"][0]["masks"][0]) * False)
    (ds / rel).write_text(json.dumps(row) + "\n")
    _rehash(ds, rel)
    _fails(ds, rel, "line 1: differs from records/")


def test_missing_record_fails(ds):
    rec = sorted((ds / "records").glob("*.json"))[0]
    rec.unlink()
    _fails(ds, f"records/{rec.name}", "missing")


def test_cli_exit_2_with_one_line_naming_the_file(ds):
    cmd = [sys.executable, "-m", "worldsim.cli", "dataset", "validate", str(ds)]
    ok = subprocess.run(cmd, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith(f"valid: {ds}")
    (ds / "README.md").write_text("edited card\n")
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{ds / 'README.md'}: sha256 or size differs" in lines[0]


def test_cli_card_prints_the_card(ds):
    proc = subprocess.run([sys.executable, "-m", "worldsim.cli", "dataset", "card", str(ds)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == (ds / "README.md").read_text()
    missing = subprocess.run([sys.executable, "-m", "worldsim.cli", "dataset", "card", str(ds / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "README.md does not exist" in missing.stderr


# --- every field typed ----------------------------------------------------------------------------------


def _edit_json(ds: Path, rel: str, change) -> None:
    data = json.loads((ds / rel).read_text())
    change(data)
    (ds / rel).write_text(json.dumps(data))
    if rel != "manifest.json":
        _rehash(ds, rel)


def _edit_line(ds: Path, rel: str, n: int, change) -> None:
    lines = (ds / rel).read_text().splitlines()
    row = json.loads(lines[n])
    lines[n] = json.dumps(change(row) or row)
    (ds / rel).write_text("\n".join(lines) + "\n")
    _rehash(ds, rel)


def _first_record(ds: Path) -> str:
    return f"records/{sorted((ds / 'records').glob('*.json'))[0].name}"


def _first_run_json(ds: Path) -> str:
    return f"runs/{sorted((ds / 'runs').iterdir())[0].name}/run.json"


def _set(path: list, value):
    def change(data):
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value
    return change


@pytest.mark.parametrize("rel, tamper, words", [
    ("manifest.json", lambda ds: _edit_json(ds, "manifest.json", _set(["files", "videos/000001.mp4"], 5)),
     "entry 'videos/000001.mp4': expected a mapping (JSON object) (got 5)"),
    ("manifest.json", lambda ds: _edit_json(ds, "manifest.json", _set(["files", "videos/000001.mp4", "bytes"], "12")),
     "entry 'videos/000001.mp4': bytes: Input should be a valid integer (got '12')"),
    ("manifest.json", lambda ds: (ds / "manifest.json").write_text("[1, 2]"), "expected a mapping (JSON object) (got [1, 2])"),
    ("manifest.json", lambda ds: _edit_json(ds, "manifest.json", lambda m: m["files"].update({"../outside": m["files"]["README.md"]})),
     "'../outside' is not a relative path inside the dataset folder"),
    ("spec.json", lambda ds: _edit_json(ds, "spec.json", _set(["spec", "num_scenes"], "4")),
     "spec: num_scenes: Input should be a valid integer (got '4')"),
    (_first_record, lambda ds: _edit_json(ds, _first_record(ds), _set(["fps"], "8")), "fps: Input should be a valid integer (got '8')"),
    (_first_record, lambda ds: _edit_json(ds, _first_record(ds), _set(["questions", 0], 7)),
     "questions[0]: expected a mapping (JSON object) (got 7)"),
    (_first_record, lambda ds: _edit_json(ds, _first_record(ds), _set(["dense", "objects", 0, "masks", 0], [1, 2])),
     "dense: objects[0].masks[0]: expected a mapping (JSON object) (got [1, 2])"),
    (_first_run_json, lambda ds: _edit_json(ds, _first_run_json(ds), _set(["artifacts", 0, "sha256"], None)),
     "artifacts[0].sha256: Input should be a valid string (got None)"),
    (_first_run_json, lambda ds: _edit_json(ds, _first_run_json(ds), _set(["artifacts", 0, "path"], "../../x")),
     "artifacts[0].path: '../../x' is not a relative path inside the dataset folder"),
    ("sharegpt_train.jsonl", lambda ds: _edit_line(ds, "sharegpt_train.jsonl", 0, _set(["videos", 0], {"a": 1})),
     "line 1: videos[0]: Input should be a valid string (got {'a': 1})"),
    ("sharegpt_train.jsonl", lambda ds: _edit_line(ds, "sharegpt_train.jsonl", 0, _set(["messages", 1, "role"], "bot")),
     "line 1: messages[1].role: Input should be 'user' or 'assistant' (got 'bot')"),
    ("vlm4d_test.json", lambda ds: _edit_json(ds, "vlm4d_test.json", _set([0], "x")), "entry 0: expected a mapping (JSON object) (got 'x')"),
    ("vlm4d_test.json", lambda ds: _edit_json(ds, "vlm4d_test.json", _set([0, "question_type"], "translational")),
     "entry 0: question_type: Input should be 'multiple-choice' (got 'translational')"),
    ("vlm4d_test.json", lambda ds: _edit_json(ds, "vlm4d_test.json", _set([0, "answer"], "A")),
     "entry 0: answer: 'A' is not exactly one of the choices' texts"),
    ("vlm4d_test.json", lambda ds: _edit_json(ds, "vlm4d_test.json", _set([0, "id"], "q-1")),
     "entry 0: id: id 'q-1' is not '<prefix>_<integer>'"),
    ("llava_video_val.json", lambda ds: _edit_json(ds, "llava_video_val.json", _set([0, "conversations", 0, "from"], "user")),
     "entry 0: conversations[0].from: Input should be 'human' or 'gpt' (got 'user')"),
    ("dense_val.jsonl", lambda ds: _edit_line(ds, "dense_val.jsonl", 0, _set(["objects", 0, "boxes", 0], "box")),
     "line 1: objects[0].boxes[0]: expected a list (got 'box')"),
])
def test_wrong_field_type_is_one_line_naming_file_entry_and_field(ds, rel, tamper, words):
    rel = rel(ds) if callable(rel) else rel
    tamper(ds)
    _fails(ds, rel, words)


def test_cli_manifest_entry_that_is_a_number_is_exit_2(ds):
    _edit_json(ds, "manifest.json", _set(["files", "videos/000001.mp4"], 5))
    proc = subprocess.run([sys.executable, "-m", "worldsim.cli", "dataset", "validate", str(ds)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"worldsim: error: {ds / 'manifest.json'}: entry 'videos/000001.mp4': expected a mapping (JSON object) (got 5)"]


# --- the failures file -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_failure(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("with-failure") / "ds"
    spec = tiny_batch_spec(num_scenes=4, splits={"train": 0.5, "val": 0.25, "test": 0.25})
    (out / "videos" / "000002.mp4").mkdir(parents=True)
    assert batch.run_batch(spec, out)["failed"] == 1
    (out / "videos" / "000002.mp4").rmdir()
    return out


def test_failed_scenes_fail_validation_unless_allowed(with_failure, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(with_failure, ds)
    _fails(ds, "failures.jsonl", "1 of the spec's 4 scenes failed (first: scene 000002-")
    assert datasets.validate_dataset(ds, allow_failed=True)["failed"] == 1
    ok = subprocess.run([sys.executable, "-m", "worldsim.cli", "dataset", "validate", str(ds), "--allow-failed"], capture_output=True, text=True)
    assert ok.returncode == 0 and "failed 1" in ok.stdout


def test_failures_file_is_checked(with_failure, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(with_failure, ds)
    rel = "failures.jsonl"
    _edit_line(ds, rel, 0, _set(["index"], "2"))
    with pytest.raises(InputError, match=r"failures.jsonl: line 1: index: Input should be a valid integer \(got '2'\)"):
        datasets.validate_dataset(ds, allow_failed=True)
    _edit_line(ds, rel, 0, _set(["index"], 1))
    with pytest.raises(InputError, match="failures.jsonl: line 1: scene '000002-.*' \\(index 1\\) is not a scene of the spec"):
        datasets.validate_dataset(ds, allow_failed=True)
    (ds / rel).unlink()
    _fails(ds, rel, "listed in manifest.json but missing")
