"""Dataset exports for VLM fine-tuning (DESIGN.md "Datasets"), built from a batch's per-scene records.

Files in a batch folder (all paths inside records are relative to it):
- `videos/<index:06d>.mp4`: one clip per scene.
- `sharegpt_<split>.jsonl` + `dataset_info.json`: LLaMA-Factory ShareGPT video format, one conversation per
  line, `{"messages": [{"role": "user", "content": "<video>..."}, {"role": "assistant", "content": "..."}],
  "videos": ["videos/000123.mp4"]}`; every `<video>` token in the messages has one entry in `videos`.
- `vlm4d_<split>.json`: a JSON list of VLM4D-style questions (id, video, question_type, question, choices,
  answer, plus free_form and provenance: plan, seed, generator).
- `dense_<split>.jsonl`: one line per scene for perception tasks: per object instance the per-frame box
  (normalised xyxy, null where it is not visible), the motion interval in seconds, and per-frame masks as
  RLE. RLE is COCO's uncompressed form: `{"size": [H, W], "counts": [...]}`, run lengths over the mask
  flattened in column-major (Fortran) order, alternating 0-runs and 1-runs and starting with a 0-run
  (which is 0 when the first pixel is set); pycocotools' `frPyObjects` reads it as is.
- `README.md`: the dataset card; `manifest.json`: sha256 and size of every file above, of the scene
  records and of every run's run.json (which in turn holds the sha256 of each run artifact).

Motion interval of an object: the frames between which its label centre moves at least
`MIN_STEP_PX` pixels; `start_s` = time of the frame before the first such step, `end_s` = time of the
frame after the last one (frame t is shown at t / fps); both null when it never moves.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from worldsim.artifacts import atomic_write_json, atomic_write_text, sha256_file
from worldsim.errors import InputError
from worldsim.types.batch import SPLITS, BatchSpec, SceneRecord
from worldsim.types.qa import QAItem

VIDEO_TOKEN = "<video>"
CAPTION_REQUEST = "Describe the objects in this video and how they move."
CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices."
MIN_STEP_PX = 0.5
MANIFEST = "manifest.json"
SPEC_FILE = "spec.json"
CARD = "README.md"
DATASET_INFO = "dataset_info.json"
RECORDS_DIR = "records"
RUNS_DIR = "runs"
VIDEOS_DIR = "videos"


def export_files(split: str) -> dict[str, str]:
    """The export files of one split, by format."""
    return {"sharegpt": f"sharegpt_{split}.jsonl", "vlm4d": f"vlm4d_{split}.json", "dense": f"dense_{split}.jsonl"}


# --- masks as RLE ------------------------------------------------------------------------------------


def rle_encode(mask: np.ndarray) -> dict:
    """Boolean mask [H, W] -> {"size": [H, W], "counts": [zeros, ones, zeros, ...]} (column-major)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be [H, W], got shape {mask.shape}")
    flat = mask.astype(bool).ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(rle: dict) -> np.ndarray:
    """Inverse of `rle_encode`: a bool array [H, W]."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != h * w or (counts < 0).any():
        raise ValueError(f"RLE counts sum to {int(counts.sum())}, not {h}x{w}={h * w}")
    values = np.arange(counts.size) % 2 == 1  # runs alternate 0, 1, 0, ...
    return np.repeat(values, counts).reshape((w, h)).T


def rle_box(rle: dict) -> list[float] | None:
    """Tight normalised xyxy box of an RLE mask, None when empty (the convention of labels.json boxes)."""
    mask = rle_decode(rle)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    h, w = mask.shape
    return [xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h]


# --- dense task records --------------------------------------------------------------------------------


def motion_interval(centres: list[list[float] | None], fps: int, width: int, height: int) -> dict:
    """{start_s, end_s, moving_steps} from per-frame normalised centres (None: not visible)."""
    min_step = MIN_STEP_PX / max(width, height)
    steps = [t for t in range(1, len(centres))
             if centres[t] is not None and centres[t - 1] is not None
             and math.dist(centres[t], centres[t - 1]) >= min_step]
    if not steps:
        return {"start_s": None, "end_s": None, "moving_steps": 0}
    return {"start_s": round((steps[0] - 1) / fps, 6), "end_s": round(steps[-1] / fps, 6), "moving_steps": len(steps)}


def dense_record(labels: dict, masks: np.ndarray) -> dict:
    """Per object instance: per-frame boxes (tracking), motion start/end seconds (temporal grounding) and
    per-frame mask RLE (referring segmentation), from a generator's labels.json and its masks [T, H, W]
    (0 background, k = the object with id k)."""
    T, H, W = masks.shape
    fps = int(labels["fps"])
    if T != labels["num_frames"] or (H, W) != (labels["height"], labels["width"]):
        raise InputError(f"masks of shape {masks.shape} do not match labels ({labels['num_frames']} frames, {labels['width']}x{labels['height']})")
    objects = []
    for obj in labels["objects"]:
        frames = sorted(obj["frames"], key=lambda f: f["t"])
        objects.append({
            "id": obj["id"], "name": obj["name"], "color": obj.get("color"), "instance": obj.get("instance"),
            "boxes": [f.get("box") for f in frames],
            "motion": motion_interval([f.get("center") for f in frames], fps, W, H),
            "masks": [rle_encode(masks[t] == obj["id"]) for t in range(T)],
        })
    starts = [o["motion"]["start_s"] for o in objects if o["motion"]["start_s"] is not None]
    ends = [o["motion"]["end_s"] for o in objects if o["motion"]["end_s"] is not None]
    return {"fps": fps, "num_frames": T, "width": W, "height": H, "duration_s": round(T / fps, 6),
            "box_format": "normalised xyxy, origin top-left", "mask_format": "COCO uncompressed RLE, column-major",
            "motion": {"start_s": min(starts) if starts else None, "end_s": max(ends) if ends else None},
            "objects": objects}


# --- conversations and questions -----------------------------------------------------------------------


def choice_prompt(item: QAItem) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in sorted(item.choices.items()))
    return f"{VIDEO_TOKEN}{item.question}\n{options}\n{CHOICE_INSTRUCTION}"


def sharegpt_records(record: SceneRecord, captions: bool = True) -> list[dict]:
    """The ShareGPT conversations of one scene: one per question (multiple choice), and a caption one."""
    video = [record.video]
    out = []
    for raw in record.questions:
        item = QAItem.model_validate(raw)
        answer = f"{item.answer}. {item.choices[item.answer]}"
        out.append({"messages": [{"role": "user", "content": choice_prompt(item)},
                                 {"role": "assistant", "content": answer}], "videos": video})
    if captions:
        out.append({"messages": [{"role": "user", "content": f"{VIDEO_TOKEN}{CAPTION_REQUEST}"},
                                 {"role": "assistant", "content": record.scene.prompt}], "videos": video})
    return out


def vlm4d_records(record: SceneRecord) -> list[dict]:
    from worldsim.qa.questions import to_vlm4d

    out = []
    for raw in record.questions:
        item = QAItem.model_validate(raw)
        out.append({**to_vlm4d(item), "free_form": item.free_form, "plan": item.plan, "seed": item.seed,
                    "generator": item.generator})
    return out


def dense_line(record: SceneRecord) -> dict:
    return {"id": record.scene.id, "video": record.video, "split": record.scene.split, "prompt": record.scene.prompt,
            "seed": record.scene.seed, "generator": record.generator, **record.dense}


def dataset_info(name: str, splits: Iterable[str]) -> dict:
    """LLaMA-Factory `dataset_info.json` entries, one per split: `<name>_<split>`."""
    return {f"{name}_{split}": {
        "file_name": export_files(split)["sharegpt"],
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    } for split in splits}


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


# --- the dataset card ----------------------------------------------------------------------------------


def _table(title: str, counts: dict[str, Counter], keys: list[str]) -> str:
    splits = [s for s in SPLITS if counts.get(s)]
    head = f"| {title} | " + " | ".join(splits) + " | total |\n|---|" + "---|" * (len(splits) + 1) + "\n"
    rows = "".join(f"| {k} | " + " | ".join(str(counts[s][k]) for s in splits) + f" | {sum(counts[s][k] for s in splits)} |\n"
                   for k in keys)
    return head + rows


def dataset_card(spec: BatchSpec, records: list[SceneRecord], config: dict) -> str:
    scenes, questions, conversations = ({s: Counter() for s in SPLITS} for _ in range(3))
    for r in records:
        split = r.scene.split
        scenes[split]["(all objects)"] += 1
        scenes[split][r.scene.object] += 1
        for q in r.questions:
            questions[split][q["question_type"]] += 1
        conversations[split]["conversations"] += len(r.questions) + int(spec.captions)
    if spec.captions:
        for s in SPLITS:
            if scenes[s]["(all objects)"]:
                questions[s]["caption"] = scenes[s]["(all objects)"]
    qkeys = sorted({k for c in questions.values() for k in c})
    okeys = ["(all objects)"] + sorted({k for c in scenes.values() for k in c if k != "(all objects)"})
    generators = sorted({r.generator for r in records})
    gen_step = next((s for s in config.get("stages", []) if s["kind"] == "generator"), {})
    files = "\n".join(f"- `{f}`" for s in SPLITS if scenes[s]["(all objects)"] for f in export_files(s).values())
    holdout = ", ".join(spec.splits.holdout_objects) or "none"
    return f"""---
license: {spec.license.lower()}
pretty_name: {spec.name}
task_categories: [video-text-to-text]
tags: [synthetic, worldsim, vlm4d]
---
# {spec.name}

{spec.description or "Synthetic videos with exact labels, generated by worldsim."}

Content: procedurally generated by worldsim ({', '.join(generators)}); no real-world footage or people.
Licence of the content: **{spec.license}**.

- scenes: {len(records)} (spec seed {spec.seed}; scene k's generator seed = first 4 bytes of sha256("<seed>:<k>"), listed per record)
- generator: {gen_step.get('name', '?')} with settings `{json.dumps(gen_step.get('config', {}), sort_keys=True)}`; pipeline preset `{config.get('name')}` (stages: {', '.join(s['kind'] + ':' + s['name'] for s in config.get('stages', []))})
- drawn from: objects {spec.objects}, colours {spec.colors}, counts {spec.counts}, directions {spec.directions}, speeds {spec.speeds}
- splits: train {spec.splits.train:g} / val {spec.splits.val:g} / test {spec.splits.test:g}; held-out object categories (all in {spec.splits.holdout_split}): {holdout}

## Files
- `videos/`: one MP4 (H.264) per scene
- `dataset_info.json`: LLaMA-Factory entries (ShareGPT video format)
{files}
- `records/`, `runs/`: per-scene records and the worldsim run folders they came from
- `manifest.json`: sha256 of every file; check with `worldsim dataset validate <this folder>`

## Scenes per object and split
{_table("object", scenes, okeys)}
## Questions per category and split
{_table("category", questions, qkeys)}
## Conversations per split
{_table("split", conversations, ["conversations"])}"""


# --- writing and validating ----------------------------------------------------------------------------


def load_records(out_dir: Path, scene_ids: Iterable[str]) -> list[SceneRecord]:
    out_dir = Path(out_dir)
    records = []
    for sid in scene_ids:
        path = out_dir / RECORDS_DIR / f"{sid}.json"
        try:
            records.append(SceneRecord.model_validate_json(path.read_text()))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a valid scene record ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    return records


def write_dataset(out_dir: str | Path, spec: BatchSpec, records: list[SceneRecord], config: dict) -> dict:
    """Rebuild every export, the card and the manifest from the scene records (so no record can appear
    twice); returns the manifest."""
    out_dir = Path(out_dir)
    records = sorted(records, key=lambda r: r.scene.index)
    ids = [r.scene.id for r in records]
    if len(set(ids)) != len(ids):
        raise InputError(f"{out_dir}: scene records repeat an id: {sorted(i for i, n in Counter(ids).items() if n > 1)[:3]}")
    splits = [s for s in SPLITS if any(r.scene.split == s for r in records)]
    for split in SPLITS:
        for name in export_files(split).values():
            (out_dir / name).unlink(missing_ok=True)
    for split in splits:
        mine = [r for r in records if r.scene.split == split]
        files = export_files(split)
        atomic_write_text(out_dir / files["sharegpt"], _jsonl([c for r in mine for c in sharegpt_records(r, spec.captions)]))
        atomic_write_json(out_dir / files["vlm4d"], [q for r in mine for q in vlm4d_records(r)])
        atomic_write_text(out_dir / files["dense"], _jsonl([dense_line(r) for r in mine if r.dense is not None]))
    atomic_write_json(out_dir / DATASET_INFO, dataset_info(spec.name, splits))
    atomic_write_text(out_dir / CARD, dataset_card(spec, records, config))
    listed = [SPEC_FILE, DATASET_INFO, CARD, *(f for s in splits for f in export_files(s).values())]
    listed += [r.video for r in records] + [f"{RECORDS_DIR}/{i}.json" for i in ids] + [f"{RUNS_DIR}/{i}/run.json" for i in ids]
    files = {rel: {"sha256": sha256_file(out_dir / rel), "bytes": (out_dir / rel).stat().st_size} for rel in sorted(listed)}
    manifest = {"name": spec.name, "num_scenes": len(records), "splits": {s: sum(r.scene.split == s for r in records) for s in splits},
                "files": files}
    atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


class _Check:
    """Raises InputError("<file>: <problem>") for the first problem found."""

    def __init__(self, root: Path):
        self.root = root

    def fail(self, rel: str | Path, problem: str):
        raise InputError(f"{self.root / rel}: {problem}")

    def json(self, rel: str) -> Any:
        try:
            return json.loads((self.root / rel).read_text())
        except FileNotFoundError:
            self.fail(rel, "missing")
        except ValueError as exc:
            self.fail(rel, f"not valid JSON ({exc})")

    def jsonl(self, rel: str) -> list[dict]:
        rows = []
        for n, line in enumerate((self.root / rel).read_text().splitlines(), start=1):
            try:
                row = json.loads(line)
            except ValueError as exc:
                self.fail(rel, f"line {n} is not valid JSON ({exc})")
            if not isinstance(row, dict):
                self.fail(rel, f"line {n} is not a JSON object")
            rows.append(row)
        return rows


def _check_conversation(check: _Check, rel: str, n: int, row: dict, videos: set[str]) -> None:
    if set(row) != {"messages", "videos"}:
        check.fail(rel, f"line {n} has keys {sorted(row)}, expected messages and videos")
    msgs, vids = row["messages"], row["videos"]
    if not isinstance(msgs, list) or not msgs or len(msgs) % 2:
        check.fail(rel, f"line {n}: messages must be a non-empty list of user/assistant pairs")
    for k, m in enumerate(msgs):
        want = "user" if k % 2 == 0 else "assistant"
        if not isinstance(m, dict) or set(m) != {"role", "content"} or m["role"] != want or not isinstance(m["content"], str) or not m["content"]:
            check.fail(rel, f"line {n}: message {k} must be {{role: {want}, content: non-empty text}}")
    tokens = sum(m["content"].count(VIDEO_TOKEN) for m in msgs)
    if not isinstance(vids, list) or tokens != len(vids):
        check.fail(rel, f"line {n}: {tokens} {VIDEO_TOKEN} tokens but {len(vids) if isinstance(vids, list) else vids!r} videos")
    for v in vids:
        if v not in videos:
            check.fail(rel, f"line {n}: video {v!r} is not a video of this dataset")


def _check_dense(check: _Check, rel: str, n: int, row: dict, record: SceneRecord | None) -> None:
    if record is None:
        check.fail(rel, f"line {n}: scene {row.get('id')!r} has no record in this split")
    if row != dense_line(record):
        check.fail(rel, f"line {n}: differs from records/{record.scene.id}.json")
    T, W, H = row["num_frames"], row["width"], row["height"]
    for obj in row["objects"]:
        if len(obj["boxes"]) != T or len(obj["masks"]) != T:
            check.fail(rel, f"line {n}: object {obj['id']} has {len(obj['boxes'])} boxes and {len(obj['masks'])} masks for {T} frames")
        for t, (box, rle) in enumerate(zip(obj["boxes"], obj["masks"])):
            if rle["size"] != [H, W]:
                check.fail(rel, f"line {n}: object {obj['id']} frame {t}: mask size {rle['size']} is not [{H}, {W}]")
            try:
                mbox = rle_box(rle)
            except ValueError as exc:
                check.fail(rel, f"line {n}: object {obj['id']} frame {t}: {exc}")
            if (mbox is None) != (box is None) or (box is not None and not np.allclose(mbox, box, atol=1e-5)):
                check.fail(rel, f"line {n}: object {obj['id']} frame {t}: box {box} does not match its mask's box {mbox}")


def validate_dataset(out_dir: str | Path) -> dict:
    """Check every record, file and hash of a batch folder; raises InputError naming the first bad file.
    Returns counts: scenes, files, conversations, questions, dense records, run artifacts."""
    from worldsim.batch_scenes import enumerate_scenes

    root = Path(out_dir)
    check = _Check(root)
    if not root.is_dir():
        raise InputError(f"dataset folder '{root}' does not exist")
    manifest = check.json(MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        check.fail(MANIFEST, "has no 'files' mapping")
    files = manifest["files"]
    for rel, entry in files.items():
        path = root / rel
        if not path.is_file():
            check.fail(rel, "listed in manifest.json but missing")
        if path.stat().st_size != entry.get("bytes") or sha256_file(path) != entry.get("sha256"):
            check.fail(rel, f"sha256 or size differs from manifest.json (sha256 {entry.get('sha256', '?')[:12]}..., {entry.get('bytes')} bytes)")
    extra = [p.relative_to(root).as_posix() for d in (root, root / VIDEOS_DIR, root / RECORDS_DIR) if d.is_dir()
             for p in sorted(d.iterdir()) if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")]
    for rel in extra:
        if rel not in files:
            check.fail(rel, "not listed in manifest.json (a stray or duplicate file)")

    try:
        spec = BatchSpec.model_validate(check.json(SPEC_FILE)["spec"])
    except (KeyError, TypeError, ValueError) as exc:
        check.fail(SPEC_FILE, f"not a batch spec ({str(exc).splitlines()[0]})")
    scenes = enumerate_scenes(spec)
    records = []
    for scene in scenes:
        rel = f"{RECORDS_DIR}/{scene.id}.json"
        if rel not in files:
            check.fail(rel, f"scene {scene.index} of the spec has no record")
        try:
            rec = SceneRecord.model_validate_json((root / rel).read_text())
        except ValueError as exc:
            check.fail(rel, f"not a valid scene record ({str(exc).splitlines()[0]})")
        if rec.scene != scene:
            check.fail(rel, "the record's scene differs from the spec's scene with this id")
        if rec.video != scene.video or files.get(rec.video, {}).get("sha256") != rec.video_sha256:
            check.fail(rel, f"video {rec.video} or its sha256 differs from the manifest")
        records.append(rec)
    extra_records = [r for r in files if r.startswith(f"{RECORDS_DIR}/")]
    if len(extra_records) != len(scenes):
        check.fail(MANIFEST, f"lists {len(extra_records)} scene records for {len(scenes)} scenes")

    artifacts_checked = 0
    for rec in records:
        run_json = f"{rec.run}/run.json"
        run = check.json(run_json)
        for art in run.get("artifacts", []):
            p = root / rec.run / art["path"]
            if not p.is_file() or sha256_file(p) != art["sha256"]:
                check.fail(f"{rec.run}/{art['path']}", f"missing or sha256 differs from {run_json}")
            artifacts_checked += 1

    by_split = {s: [r for r in records if r.scene.split == s] for s in SPLITS}
    info = check.json(DATASET_INFO)
    if info != dataset_info(spec.name, [s for s in SPLITS if by_split[s]]):
        check.fail(DATASET_INFO, "entries differ from the splits of this dataset")
    videos = {r.video for r in records}
    counts = Counter()
    for split, mine in by_split.items():
        if not mine:
            continue
        names = export_files(split)
        rows = check.jsonl(names["sharegpt"])
        for n, row in enumerate(rows, start=1):
            _check_conversation(check, names["sharegpt"], n, row, videos)
        expected = [c for r in mine for c in sharegpt_records(r, spec.captions)]
        if rows != expected:
            check.fail(names["sharegpt"], f"{len(rows)} conversations differ from the {len(expected)} the records give")
        questions = check.json(names["vlm4d"])
        if not isinstance(questions, list):
            check.fail(names["vlm4d"], "is not a JSON list")
        for k, q in enumerate(questions):
            try:
                item = QAItem.model_validate({key: q.get(key) for key in ("id", "video", "question_type", "question", "choices", "answer")})
            except (ValueError, AttributeError) as exc:
                check.fail(names["vlm4d"], f"item {k} is not a VLM4D question ({str(exc).splitlines()[0]})")
            if item.video not in videos:
                check.fail(names["vlm4d"], f"item {k}: video {item.video!r} is not a video of this dataset")
        if questions != [q for r in mine for q in vlm4d_records(r)]:
            check.fail(names["vlm4d"], "questions differ from the records")
        ids = [q["id"] for q in questions]
        if len(set(ids)) != len(ids):
            check.fail(names["vlm4d"], "repeats a question id")
        dense = check.jsonl(names["dense"])
        by_id = {r.scene.id: r for r in mine if r.dense is not None}
        if len(dense) != len(by_id) or {d.get("id") for d in dense} != set(by_id):
            check.fail(names["dense"], f"{len(dense)} lines for the {len(by_id)} scenes with labels")
        for n, row in enumerate(dense, start=1):
            _check_dense(check, names["dense"], n, row, by_id.get(row.get("id")))
        counts["conversations"] += len(rows)
        counts["questions"] += len(questions)
        counts["dense"] += len(dense)
    return {"scenes": len(records), "files": len(files), "run_artifacts": artifacts_checked, **counts}
