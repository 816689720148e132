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


def _records(dataset: Path):
    spec = batch.load_spec(json.loads((dataset / "spec.json").read_text())["spec"])
    return datasets.load_records(dataset, [s.id for s in batch_scenes.enumerate_scenes(spec)])


def _vlm4d(dataset: Path) -> list[dict]:
    return [q for split in ("train", "val", "test") for q in json.loads((dataset / f"vlm4d_{split}.json").read_text())]


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
    assert total == sum(len(r.questions) + 1 for r in _records(dataset))


def test_every_export_loads_with_datasets_by_its_card_config(dataset):
    import datasets as hf

    records = _records(dataset)
    questions = sum(len(r.questions) for r in records)
    expect = {"vlm4d": questions, "sharegpt": questions + len(records), "llava_video": questions + len(records), "dense": len(records)}
    for config, rows in expect.items():
        loaded = hf.load_dataset(str(dataset), config, cache_dir=str(dataset.parent / "hf-cache"))
        assert set(loaded) == {"train", "val", "test"}
        assert sum(len(split) for split in loaded.values()) == rows, config
    columns = hf.load_dataset(str(dataset), "vlm4d", cache_dir=str(dataset.parent / "hf-cache"))["train"].column_names
    assert sorted(columns) == ["answer", "choices", "id", "question", "question_type", "task", "video"]


def test_multiple_choice_conversation_answers_with_the_right_choice(dataset):
    for line in (dataset / "sharegpt_train.jsonl").read_text().splitlines():
        row = json.loads(line)
        user, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        if "\nA. " not in user:
            continue  # the caption conversation
        letter, _, text = answer.partition(". ")
        assert f"\n{letter}. {text}\n" in user


# --- VLM4D's evaluation code (docs/FORMATS.md, V1-V8), restated in our words --------------------------------


def vlm4d_prompt(record: dict) -> str:
    """V2, V3: the prompt VLM4D's code builds; a question type other than its two raises."""
    if record["question_type"] == "multiple-choice":
        return record["question"] + "\n" + "\n".join(f"{k}: {v}" for k, v in record["choices"].items())
    if record["question_type"] == "open-ended":
        return record["question"]
    raise ValueError(f"Invalid question type: {record['question_type']}")


def vlm4d_is_false_positive(answer: str) -> bool:
    """V6: the statistics' false-positive bucket."""
    text = answer.strip().lower()
    return text == "no" or text.startswith("no ")


def test_vlm4d_records_have_exactly_the_official_keys_plus_task(dataset):
    items = _vlm4d(dataset)
    assert items and len({q["id"] for q in items}) == len(items)
    for q in items:
        assert set(q) == {"id", "video", "question_type", "question", "choices", "answer", "task"}  # V1 + our category
        assert q["question_type"] == "multiple-choice"  # V2
        vlm4d_prompt(q)
        assert list(q["choices"]) == ["A", "B", "C", "D"] and list(q["choices"].values()).count(q["answer"]) == 1  # V3, V4
        assert q["answer"] not in "ABCD"  # V4: the text, not the letter
        int(q["id"].split("_")[-1])  # V5
        assert q["video"] == "videos/" + Path(q["video"]).name and (dataset / q["video"]).is_file()  # V7: relative to the JSON
    assert {"translational", "counting", "false_positive"} <= {q["task"] for q in items}


def test_vlm4d_false_positive_bucket_holds_exactly_our_false_positive_questions(dataset):
    items = _vlm4d(dataset)
    bucket = {q["id"] for q in items if vlm4d_is_false_positive(q["answer"])}
    assert bucket == {q["id"] for q in items if q["task"] == "false_positive"} and bucket
    for q in items:
        if q["task"] == "false_positive":
            assert q["answer"].startswith("no ") and q["answer"].endswith(" there")  # V8: "no <object> there"
        assert vlm4d_is_false_positive(q["answer"]) == (q["task"] == "false_positive")


def test_vlm4d_answer_text_matches_the_record_letter(dataset):
    by_id = {q["id"]: q for r in _records(dataset) for q in r.questions}
    for item in _vlm4d(dataset):
        q = by_id[item["id"]]
        assert item["answer"] == q["choices"][q["answer"]] and item["task"] == q["question_type"]


def test_video_base_url_names_videos_as_urls(tmp_path, dataset):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    before = {p.name: p.read_bytes() for p in copy.glob("llava_video_*.json")}
    batch.export_dataset(copy, ["vlm4d"], video_base_url="http://127.0.0.1:8000/data/")
    for q in _vlm4d(copy):
        assert q["video"].startswith("http://127.0.0.1:8000/data/videos/") and q["video"].endswith(".mp4")
    assert {p.name: p.read_bytes() for p in copy.glob("llava_video_*.json")} == before  # other formats untouched
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["export"]["vlm4d"]["video_base_url"] == "http://127.0.0.1:8000/data/"
    assert datasets.validate_dataset(copy)["questions"] == len(_vlm4d(dataset))


# --- LLaVA-NeXT's loader (docs/FORMATS.md, L1-L7), restated in our words ----------------------------------------


def test_llava_video_samples_follow_llava_next_loader(dataset):
    records = _records(dataset)
    ids = set()
    for split in ("train", "val", "test"):
        samples = json.loads((dataset / f"llava_video_{split}.json").read_text())
        assert isinstance(samples, list)  # L1
        for s in samples:
            assert set(s) == {"id", "video", "conversations", "data_source"}  # L2, L6
            assert (dataset / s["video"]).is_file()  # L2, L3: video_folder = the dataset folder
            turns = s["conversations"]
            assert [t["from"] for t in turns] == ["human", "gpt"]  # L4
            assert turns[0]["value"].startswith("<image>\n") and sum(t["value"].count("<image>") for t in turns) == 1  # L5
            assert sum(len(t["value"].split()) for t in turns) > 0  # L7
            assert s["data_source"] == "tiny"
            ids.add(s["id"])
    assert len(ids) == sum(len(r.questions) + 1 for r in records)
    assert {f"{r.scene.id}_caption" for r in records} <= ids


def test_question_mix_hits_the_vlm4d_shares():
    from worldsim.types.batch import QUESTION_MIX_PRESETS
    from worldsim.types.qa import QAItem

    kinds = ["translational"] * 3 + ["rotational"] + ["counting"] + ["false_positive"]
    records = []
    for k in range(200):
        items = [QAItem(id=f"s{k}_{n + 1}", video="v", question_type=t, question="q?", choices=dict(zip("ABCD", "wxyz")),
                        answer="A").model_dump(mode="json") for n, t in enumerate(kinds)]
        records.append(type("R", (), {"questions": items})())
    kept = datasets.mixed_questions(records, "vlm4d", seed=0, split="train")
    got = [it.question_type for its in kept for it in its]
    for category, share in QUESTION_MIX_PRESETS["vlm4d"].items():
        assert abs(got.count(category) / len(got) - share) < 0.01, category
    assert got.count("false_positive") == 200 * 1 or got.count("rotational") == 200  # the scarcest category is used up
    again = datasets.mixed_questions(records, "vlm4d", seed=0, split="train")
    assert [[it.id for it in its] for its in again] == [[it.id for it in its] for its in kept]
    assert datasets.mixed_questions(records, None, seed=0, split="train") == [[QAItem.model_validate(q) for q in r.questions] for r in records]
    only = datasets.mixed_questions(records, {"counting": 1, "rotational": 0}, seed=0, split="train")
    assert {it.question_type for its in only for it in its} == {"counting"}


def test_reexport_is_deterministic_and_the_card_reports_the_mix(tmp_path, dataset):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    batch.export_dataset(copy, question_mix="vlm4d")
    first = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    batch.export_dataset(copy, question_mix="vlm4d")
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == first
    card = (copy / "README.md").read_text()
    assert "## Question mix in the exports" in card and "| vlm4d | vlm4d (translational 55%, rotational 19%" in card
    datasets.validate_dataset(copy)
    batch.export_dataset(copy, question_mix=None)
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file() and p.name != "manifest.json"} == \
        {p.name: p.read_bytes() for p in dataset.iterdir() if p.is_file() and p.name != "manifest.json"}


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
    assert "config_name: vlm4d\n  default: true" in card and "path: llava_video_train.json" in card


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
