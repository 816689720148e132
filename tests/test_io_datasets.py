"""worldsim.io.datasets: RLE, dense records, ShareGPT / VLM4D exports, dataset_info.json and the card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from worldsim import batch, batch_scenes
from worldsim.io import datasets
from worldsim.testing import tiny_batch_spec, tiny_clip, tiny_plan


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "tiny"
    batch.run_batch(tiny_batch_spec(num_scenes=8, splits={"train": 0.5, "val": 0.25, "test": 0.25}), out)
    return out


def test_rle_is_coco_column_major_starting_with_zeros():
    mask = np.array([[0, 1, 1],
                     [0, 1, 0]], bool)
    # column-major: col0 = 0,0  col1 = 1,1  col2 = 1,0  -> 0,0,1,1,1,0
    assert datasets.rle_encode(mask) == {"size": [2, 3], "counts": [2, 3, 1]}
    assert datasets.rle_encode(np.ones((2, 2), bool))["counts"] == [0, 4]
    assert datasets.rle_encode(np.zeros((2, 2), bool))["counts"] == [4]


def test_rle_round_trip_on_random_masks():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (5, 7), (32, 32), (17, 4)]:
        for p in (0.0, 0.1, 0.5, 1.0):
            mask = rng.random(shape) < p
            rle = datasets.rle_encode(mask)
            assert sum(rle["counts"]) == mask.size
            np.testing.assert_array_equal(datasets.rle_decode(rle), mask)


def test_rle_decode_rejects_counts_that_do_not_cover_the_image():
    with pytest.raises(ValueError, match="sum to 3, not 2x2=4"):
        datasets.rle_decode({"size": [2, 2], "counts": [1, 2]})


def test_motion_interval():
    c = [[0.5, 0.5], [0.5, 0.5], [0.6, 0.5], [0.7, 0.5], [0.7, 0.5]]
    assert datasets.motion_interval(c, fps=4, width=32, height=32) == {"start_s": 0.25, "end_s": 0.75, "moving_steps": 2}
    still = datasets.motion_interval([[0.5, 0.5]] * 4, fps=8, width=32, height=32)
    assert still == {"start_s": None, "end_s": None, "moving_steps": 0}
    # steps next to frames where the object is not visible are not counted
    assert datasets.motion_interval([None, [0.1, 0.1], [0.9, 0.9], None], 8, 32, 32)["moving_steps"] == 1


def test_dense_record_matches_the_generator_labels(tmp_path):
    _, labels, arrays = tiny_clip(tmp_path, tiny_plan(count=2, direction="left"))
    dense = datasets.dense_record(labels, arrays["masks"])
    assert dense["num_frames"] == 4 and len(dense["objects"]) == 2
    for obj, lab in zip(dense["objects"], labels["objects"]):
        assert obj["boxes"] == [f["box"] for f in lab["frames"]]
        for t, rle in enumerate(obj["masks"]):
            np.testing.assert_array_equal(datasets.rle_decode(rle), arrays["masks"][t] == lab["id"])
        m = obj["motion"]
        assert m["moving_steps"] > 0 and 0 <= m["start_s"] < m["end_s"] <= (4 - 1) / labels["fps"]
    with pytest.raises(Exception, match="do not match labels"):
        datasets.dense_record(labels, arrays["masks"][:2])


def test_sharegpt_loads_with_datasets_and_video_tokens_match(dataset):
    import datasets as hf

    info = json.loads((dataset / "dataset_info.json").read_text())
    assert set(info) == {"tiny_train", "tiny_val", "tiny_test"}
    total = 0
    for name, entry in info.items():
        assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages", "videos": "videos"}
        assert entry["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
        ds = hf.load_dataset("json", data_files=str(dataset / entry["file_name"]), split="train",
                             cache_dir=str(dataset.parent / "hf-cache"))
        assert ds.column_names == ["messages", "videos"] or sorted(ds.column_names) == ["messages", "videos"]
        for row in ds:
            tokens = sum(m["content"].count("<video>") for m in row["messages"])
            assert tokens == len(row["videos"]) == 1
            assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
            assert (dataset / row["videos"][0]).is_file()
        total += len(ds)
    records = datasets.load_records(dataset, [s.id for s in batch_scenes.enumerate_scenes(batch.load_spec(json.loads((dataset / "spec.json").read_text())["spec"]))])
    assert total == sum(len(r.questions) + 1 for r in records)


def test_multiple_choice_conversation_answers_with_the_right_choice(dataset):
    for line in (dataset / "sharegpt_train.jsonl").read_text().splitlines():
        row = json.loads(line)
        user, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        if "\nA. " not in user:
            continue  # the caption conversation
        letter, _, text = answer.partition(". ")
        assert f"\n{letter}. {text}\n" in user


def test_vlm4d_json_fields_and_answers(dataset):
    items = [q for split in ("train", "val", "test") for q in json.loads((dataset / f"vlm4d_{split}.json").read_text())]
    assert items and len({q["id"] for q in items}) == len(items)
    types = set()
    for q in items:
        assert {"id", "video", "question_type", "question", "choices", "answer", "plan", "seed", "generator"} <= set(q)
        assert q["answer"] in q["choices"] and sorted(q["choices"]) == ["A", "B", "C", "D"]
        types.add(q["question_type"])
    assert {"translational", "counting", "false_positive"} <= types


def test_dense_lines_one_per_scene(dataset):
    lines = [json.loads(x) for s in ("train", "val", "test") for x in (dataset / f"dense_{s}.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and len({d["id"] for d in lines}) == 8
    for d in lines:
        for obj in d["objects"]:
            assert len(obj["boxes"]) == len(obj["masks"]) == d["num_frames"]


def test_card_counts_per_category_object_and_split(dataset):
    card = (dataset / "README.md").read_text()
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert card.startswith("---\nlicense: cc-by-4.0\n") and "CC-BY-4.0" in card and "procedurally generated by worldsim" in card
    assert "spec seed 3" in card and "generator: procedural" in card
    splits = {s: manifest["splits"][s] for s in ("train", "val", "test")}
    header = "| object | " + " | ".join(splits) + " | total |"
    assert header in card
    assert "| (all objects) | " + " | ".join(str(n) for n in splits.values()) + " | 8 |" in card
    for category in ("translational", "counting", "false_positive", "caption"):
        assert f"| {category} |" in card


def test_card_and_manifest_count_failed_scenes(tmp_path, dataset):
    from worldsim.types.batch import SceneFailure

    spec = batch.load_spec(json.loads((dataset / "spec.json").read_text())["spec"])
    scenes = batch_scenes.enumerate_scenes(spec)
    records = datasets.load_records(dataset, [s.id for s in scenes])
    card = datasets.dataset_card(spec, records[:6], {"stages": []}, failed=2)
    assert "- scenes: 6; 2 of the spec's 8 scenes failed and are not included (listed in `failures.jsonl`" in card
    assert "- `failures.jsonl`: the scenes that failed" in card
    assert "failed" not in datasets.dataset_card(spec, records, {"stages": []})
    failure = SceneFailure(scene=scenes[7].id, index=7, stage="export", error="IsADirectoryError: x")
    assert datasets.failures_text([failure]) == json.dumps(failure.model_dump(), sort_keys=True) + "\n"
