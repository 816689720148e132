"""Dataset exports for VLM fine-tuning (DESIGN.md "Datasets"), built from a batch's per-scene records.

Files in a batch folder (all paths inside records are relative to it):
- `videos/<index:06d>.mp4`: one clip per scene.
- `sharegpt_<split>.jsonl` + `dataset_info.json`: LLaMA-Factory ShareGPT video format, one conversation per
  line, `{"messages": [{"role": "user", "content": "<video>..."}, {"role": "assistant", "content": "..."}],
  "videos": ["videos/000123.mp4"]}`; every `<video>` token in the messages has one entry in `videos`.
- `vlm4d_<split>.json`: a JSON list of questions in VLM4D's own record format (docs/FORMATS.md): id
  `<scene-id>_<n>`, video (relative to the JSON file, or a URL with a video base URL), question_type
  "multiple-choice", question, choices A-D, answer = the text of the right choice, and `task` = our category.
- `llava_video_<split>.json`: a JSON list in the LLaVA-Video-178K layout LLaVA-NeXT trains on: id, video
  (relative to the dataset folder, LLaVA-NeXT's `--video_folder`), conversations (`from` human/gpt, `value`;
  the human turn starts with `<image>\n`), data_source (the dataset name).
- `dense_<split>.jsonl`: one line per scene for perception tasks: per object instance the per-frame box
  (normalised xyxy, null where it is not visible), the motion interval in seconds, and per-frame masks as
  RLE. RLE is COCO's uncompressed form: `{"size": [H, W], "counts": [...]}`, run lengths over the mask
  flattened in column-major (Fortran) order, alternating 0-runs and 1-runs and starting with a 0-run
  (which is 0 when the first pixel is set); pycocotools' `frPyObjects` reads it as is.
- `README.md`: the dataset card (its YAML header declares the files as `datasets` configs: vlm4d, sharegpt,
  llava_video, dense); `manifest.json`: sha256 and size of every file above, of the scene records and of
  every run's run.json (which in turn holds the sha256 of each run artifact), and `export`: per format, the
  options it was written with (question mix, video base URL).

Question mix: with a mix (BatchSpec.question_mix or `worldsim dataset export --question-mix`), each split
keeps floor(N) questions, N the largest total every category present in the split can supply at its share,
apportioned to the categories by largest remainder; which ones is drawn with a seeded RNG (spec seed, split,
category). A category the split has no question of is left out and the others keep their relative shares. The card reports the achieved mix.
- `failures.jsonl` (only while scenes of the spec failed): one `SceneFailure` per line (scene id, index,
  the stage that failed, a one-line error); the dataset is built from the other scenes and the card and
  manifest say how many failed. `worldsim batch SPEC --out DIR --retry-failed` redoes them.

Motion interval of an object: the frames between which its label centre moves at least
`MIN_STEP_PX` pixels; `start_s` = time of the frame before the first such step, `end_s` = time of the
frame after the last one (frame t is shown at t / fps); both null when it never moves.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, NoReturn, TypeVar

import numpy as np

from worldsim.artifacts import atomic_write_json, atomic_write_text, sha256_file
from worldsim.errors import InputError
from pydantic import BaseModel, ValidationError

from worldsim.types.batch import (EXPORT_FORMATS, SPLITS, BatchSpec, DatasetManifest, DenseLine, DenseRecord, ExportOptions,
                                  LLaVAVideoRecord, ManifestFile, SceneFailure, SceneRecord, ShareGPTConversation, SpecRecord,
                                  VLM4DItem, default_exports, question_mix_weights)
from worldsim.types.manifest import RunManifest
from worldsim.types.qa import QAItem

M = TypeVar("M", bound=BaseModel)

VIDEO_TOKEN = "<video>"
IMAGE_TOKEN = "<image>"  # LLaVA-NeXT's DEFAULT_IMAGE_TOKEN: its video samples use it too
CAPTION_REQUEST = "Describe the objects in this video and how they move."
CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices."
MIN_STEP_PX = 0.5
MANIFEST = "manifest.json"
SPEC_FILE = "spec.json"
CARD = "README.md"
DATASET_INFO = "dataset_info.json"
FAILURES = "failures.jsonl"
RECORDS_DIR = "records"
RUNS_DIR = "runs"
VIDEOS_DIR = "videos"


FORMAT_FILES = {"vlm4d": "vlm4d_{split}.json", "sharegpt": "sharegpt_{split}.jsonl",
                "llava-video": "llava_video_{split}.json", "dense": "dense_{split}.jsonl"}


def export_files(split: str) -> dict[str, str]:
    """The export files of one split, by format (the EXPORT_FORMATS and dense)."""
    return {fmt: pattern.format(split=split) for fmt, pattern in FORMAT_FILES.items()}


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


def choice_text(item: QAItem) -> str:
    """A multiple-choice question with its lettered options and the instruction to answer with a letter."""
    options = "\n".join(f"{letter}. {text}" for letter, text in sorted(item.choices.items()))
    return f"{item.question}\n{options}\n{CHOICE_INSTRUCTION}"


def choice_prompt(item: QAItem) -> str:
    return f"{VIDEO_TOKEN}{choice_text(item)}"


def choice_answer(item: QAItem) -> str:
    return f"{item.answer}. {item.choices[item.answer]}"


def scene_questions(record: SceneRecord) -> list[QAItem]:
    return [QAItem.model_validate(q) for q in record.questions]


def mixed_questions(records: list[SceneRecord], mix: str | dict | None, seed: int, split: str) -> list[list[QAItem]]:
    """Per record (in order), the questions an export keeps under a question mix (module docstring)."""
    items = [scene_questions(r) for r in records]
    shares = question_mix_weights(mix)
    if shares is None:
        return items
    by_category: dict[str, list[str]] = defaultdict(list)
    for its in items:
        for it in its:
            by_category[it.question_type].append(it.id)
    present = {c: w for c, w in shares.items() if by_category[c]}
    keep: set[str] = set()
    if present:
        total = sum(present.values())
        n = min(len(by_category[c]) * total / w for c, w in present.items())
        wanted = {c: n * w / total for c, w in present.items()}
        take = {c: min(len(by_category[c]), math.floor(x + 1e-9)) for c, x in wanted.items()}
        by_remainder = sorted(wanted, key=lambda c: (take[c] - wanted[c], list(present).index(c)))
        for c in by_remainder[:max(0, math.floor(n + 1e-9) - sum(take.values()))]:  # largest remainders round up
            take[c] = min(len(by_category[c]), take[c] + 1)
        for c, k in take.items():
            keep.update(random.Random(f"worldsim-question-mix:{seed}:{split}:{c}").sample(by_category[c], k))
    return [[it for it in its if it.id in keep] for its in items]


def sharegpt_records(record: SceneRecord, items: list[QAItem], captions: bool = True) -> list[dict]:
    """The ShareGPT conversations of one scene: one per question (multiple choice), and a caption one."""
    video = [record.video]
    out = [{"messages": [{"role": "user", "content": choice_prompt(item)},
                         {"role": "assistant", "content": choice_answer(item)}], "videos": video} for item in items]
    if captions:
        out.append({"messages": [{"role": "user", "content": f"{VIDEO_TOKEN}{CAPTION_REQUEST}"},
                                 {"role": "assistant", "content": record.scene.prompt}], "videos": video})
    return out


def llava_video_records(record: SceneRecord, items: list[QAItem], captions: bool, source: str) -> list[dict]:
    """The LLaVA-Video conversations of one scene: one per question, and a caption one (id `<scene-id>_caption`)."""
    def sample(sid: str, human: str, gpt: str) -> dict:
        return {"id": sid, "video": record.video, "conversations": [{"from": "human", "value": f"{IMAGE_TOKEN}\n{human}"},
                                                                    {"from": "gpt", "value": gpt}], "data_source": source}

    out = [sample(item.id, choice_text(item), choice_answer(item)) for item in items]
    if captions:
        out.append(sample(f"{record.scene.id}_caption", CAPTION_REQUEST, record.scene.prompt))
    return out


def video_reference(rel: str, base_url: str | None) -> str:
    """A video as a JSON file at the dataset's root names it: its relative path, or `<base_url>/<path>`."""
    if base_url is None:
        return rel
    from urllib.parse import quote

    return f"{base_url.rstrip('/')}/{quote(rel)}"


def vlm4d_records(record: SceneRecord, items: list[QAItem], base_url: str | None = None) -> list[dict]:
    from worldsim.qa.questions import to_vlm4d

    video = video_reference(record.video, base_url)
    return [to_vlm4d(item, video) for item in items]


def export_rows(fmt: str, records: list[SceneRecord], spec: BatchSpec, options: ExportOptions, split: str) -> list[dict]:
    """The rows of one export file: a format's records of one split's scenes, under the format's options."""
    kept = mixed_questions(records, options.question_mix, spec.seed, split)
    if fmt == "vlm4d":
        return [q for r, its in zip(records, kept) for q in vlm4d_records(r, its, options.video_base_url)]
    if fmt == "sharegpt":
        return [c for r, its in zip(records, kept) for c in sharegpt_records(r, its, spec.captions)]
    if fmt == "llava-video":
        return [c for r, its in zip(records, kept) for c in llava_video_records(r, its, spec.captions, spec.name)]
    raise ValueError(f"unknown export format {fmt!r}; accepted: {', '.join(EXPORT_FORMATS)}")


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


def _camera_split(spec: BatchSpec, records: list[SceneRecord]) -> tuple[str, str]:
    """The card's camera parts: the 'drawn from' addition and the ego / exo table (scenes with a moving / static
    camera per split, then per camera motion); both empty for a spec that never moves the camera, so the cards of
    such datasets read as before cameras could move."""
    if spec.camera_motions == ["static"] and spec.ego_ratio is None and all(r.scene.camera == "static" for r in records):
        return "", ""
    ratio = "" if spec.ego_ratio is None else f", ego ratio {spec.ego_ratio:g}"
    line = f", camera motions {spec.camera_motions}{ratio} (normal camera speed)"
    counts = {s: Counter() for s in SPLITS}
    for r in records:
        ego = r.scene.camera != "static"
        counts[r.scene.split]["ego (moving camera)" if ego else "exo (static camera)"] += 1
        counts[r.scene.split][r.scene.camera] += 1
    motions = [m for m in spec.moving_camera_motions if any(counts[s][m] for s in SPLITS)]
    table = _table("camera", counts, ["ego (moving camera)", "exo (static camera)", *motions])
    return line, "\n## Camera: ego-centric (moving) and exo-centric (static) scenes per split\n" + table


def _hf_configs(splits: list[str]) -> str:
    """The card's YAML `configs`: `datasets.load_dataset(<folder>, "<config>")` reads each export by split."""
    out = "configs:\n"
    for fmt in (*EXPORT_FORMATS, "dense"):
        out += f"- config_name: {fmt.replace('-', '_')}\n" + ("  default: true\n" if fmt == "vlm4d" else "") + "  data_files:\n"
        out += "".join(f"  - split: {s}\n    path: {export_files(s)[fmt]}\n" for s in splits)
    return out


def _mix_table(spec: BatchSpec, records: list[SceneRecord], exports: dict[str, ExportOptions]) -> str:
    """Per export format: the mix asked for and the share of each category it holds (all splits)."""
    from worldsim.types.qa import QUESTION_TYPES

    head = "| export | mix asked | " + " | ".join(QUESTION_TYPES) + " | questions kept |\n|---|---|" + "---|" * (len(QUESTION_TYPES) + 1) + "\n"
    rows = ""
    everything = sum(len(r.questions) for r in records)
    for fmt in EXPORT_FORMATS:
        mix = exports[fmt].question_mix
        kept = Counter()
        for split in SPLITS:
            mine = [r for r in records if r.scene.split == split]
            kept.update(it.question_type for its in mixed_questions(mine, mix, spec.seed, split) for it in its)
        total = sum(kept.values())
        asked = question_mix_weights(mix)
        label = "all questions" if mix is None else (mix if isinstance(mix, str) else "custom")
        if asked:
            label += " (" + ", ".join(f"{c} {100 * w:.0f}%" for c, w in asked.items()) + ")"
        cells = " | ".join(f"{100 * kept[c] / total:.1f}%" if total else "-" for c in QUESTION_TYPES)
        rows += f"| {fmt} | {label} | {cells} | {total} of {everything} |\n"
    return head + rows


def dataset_card(spec: BatchSpec, records: list[SceneRecord], config: dict, failed: int = 0,
                 exports: dict[str, ExportOptions] | None = None) -> str:
    exports = exports or default_exports(spec.question_mix)
    scenes, questions, conversations = ({s: Counter() for s in SPLITS} for _ in range(3))
    for r in records:
        split = r.scene.split
        scenes[split]["(all objects)"] += 1
        scenes[split][r.scene.object] += 1
        for q in r.questions:
            questions[split][q["question_type"]] += 1
    for split in SPLITS:
        mine = [r for r in records if r.scene.split == split]
        if mine:
            conversations[split]["conversations"] = len(export_rows("sharegpt", mine, spec, exports["sharegpt"], split))
    if spec.captions:
        for s in SPLITS:
            if scenes[s]["(all objects)"]:
                questions[s]["caption"] = scenes[s]["(all objects)"]
    qkeys = sorted({k for c in questions.values() for k in c})
    okeys = ["(all objects)"] + sorted({k for c in scenes.values() for k in c if k != "(all objects)"})
    generators = sorted({r.generator for r in records})
    gen_step = next((s for s in config.get("stages", []) if s["kind"] == "generator"), {})
    splits = [s for s in SPLITS if scenes[s]["(all objects)"]]
    files = "\n".join(f"- `{f}`" for s in splits for f in export_files(s).values())
    holdout = ", ".join(spec.splits.holdout_objects) or "none"
    failed_note = (f"; {failed} of the spec's {len(records) + failed} scenes failed and are not included "
                   f"(listed in `{FAILURES}`; `worldsim batch SPEC --out <this folder> --retry-failed` redoes them)") if failed else ""
    failed_file = f"\n- `{FAILURES}`: the scenes that failed (scene id, stage, error)" if failed else ""
    base_url = exports["vlm4d"].video_base_url
    vlm4d_videos = f"as URLs under `{base_url}`" if base_url else "relative to the JSON file"
    cameras_line, cameras_section = _camera_split(spec, records)
    return f"""---
license: {spec.license.lower()}
pretty_name: {spec.name}
task_categories: [video-text-to-text]
tags: [synthetic, worldsim, vlm4d]
{_hf_configs(splits)}---
# {spec.name}

{spec.description or "Synthetic videos with exact labels, generated by worldsim."}

Content: procedurally generated by worldsim ({', '.join(generators)}); no real-world footage or people.
Licence of the content: **{spec.license}**.

- scenes: {len(records)}{failed_note} (spec seed {spec.seed}; scene k's generator seed = first 4 bytes of sha256("<seed>:<k>"), listed per record)
- generator: {gen_step.get('name', '?')} with settings `{json.dumps(gen_step.get('config', {}), sort_keys=True)}`; pipeline preset `{config.get('name')}` (stages: {', '.join(s['kind'] + ':' + s['name'] for s in config.get('stages', []))})
- drawn from: objects {spec.objects}, colours {spec.colors}, counts {spec.counts}, directions {spec.directions}, speeds {spec.speeds}{cameras_line}
- splits: train {spec.splits.train:g} / val {spec.splits.val:g} / test {spec.splits.test:g}; held-out object categories (all in {spec.splits.holdout_split}): {holdout}

## Files
- `videos/`: one MP4 (H.264) per scene
- `vlm4d_<split>.json`: VLM4D's record format (answer = the right choice's text, `task` = category), videos {vlm4d_videos}
- `llava_video_<split>.json`: LLaVA-Video layout; train LLaVA-NeXT with `--data_path <this folder>/llava_video_train.json --video_folder <this folder>`
- `sharegpt_<split>.jsonl` + `dataset_info.json`: LLaMA-Factory ShareGPT video format
- `dense_<split>.jsonl`: per-object per-frame boxes, motion start/end, mask RLE
{files}
- `records/`, `runs/`: per-scene records and the worldsim run folders they came from
- `manifest.json`: sha256 of every file; check with `worldsim dataset validate <this folder>`; re-export with `worldsim dataset export <this folder> --format ...`{failed_file}

Load any export with `datasets.load_dataset("<this folder>", "<config>")`, config one of vlm4d, sharegpt, llava_video, dense.

## Scenes per object and split
{_table("object", scenes, okeys)}{cameras_section}
## Questions per category and split
{_table("category", questions, qkeys)}
## Question mix in the exports
{_mix_table(spec, records, exports)}
## Conversations per split (ShareGPT)
{_table("split", conversations, ["conversations"])}"""


# --- writing and validating ----------------------------------------------------------------------------


def _where(loc: tuple) -> str:
    """A pydantic error location as a field path: messages[0].role, files['videos/000001.mp4']."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).isidentifier():
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)!r}]"
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_problem(exc: ValidationError) -> str:
    """The first error of a pydantic ValidationError as one line: `field: problem (got value)`."""
    err = exc.errors(include_url=False)[0]
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        msg = "expected a mapping (JSON object)"
    elif kind == "list_type":
        msg = "expected a list"
    elif kind == "extra_forbidden":
        msg = "unexpected field"
    elif kind == "missing":
        msg = "required field missing"
    if kind not in ("missing", "value_error", "assertion_error"):
        msg += f" (got {_shown(err.get('input'))})"
    field = _where(err["loc"])
    return f"{field}: {msg}" if field else msg


def load_records(out_dir: Path, scene_ids: Iterable[str]) -> list[SceneRecord]:
    out_dir = Path(out_dir)
    records = []
    for sid in scene_ids:
        path = out_dir / RECORDS_DIR / f"{sid}.json"
        try:
            records.append(SceneRecord.model_validate_json(path.read_text()))
        except ValidationError as exc:
            raise InputError(f"{path}: not a valid scene record ({validation_problem(exc)})") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a valid scene record ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    return records


def failures_text(failures: Iterable[SceneFailure]) -> str:
    """The failures file's content: one SceneFailure per line, by scene index."""
    return _jsonl([f.model_dump(mode="json") for f in sorted(failures, key=lambda f: f.index)])


def read_failures(out_dir: str | Path) -> list[SceneFailure]:
    """The scenes listed in `<out_dir>/failures.jsonl` ([] without the file); InputError naming the file and
    line for an entry that is not a SceneFailure."""
    root = Path(out_dir)
    if not (root / FAILURES).exists():
        return []
    check = _Check(root)
    try:
        rows = check.jsonl(FAILURES, SceneFailure)
        out, seen = [], set()
        for n, row in enumerate(rows, start=1):
            failure = SceneFailure.model_validate(row)
            if failure.scene in seen:
                check.fail(FAILURES, f"line {n}: scene {failure.scene!r} is listed twice")
            seen.add(failure.scene)
            out.append(failure)
    except InputError as exc:
        raise InputError(f"{exc}; delete the file to start over (a re-run redoes every unfinished scene)") from None
    return out


def write_dataset(out_dir: str | Path, spec: BatchSpec, records: list[SceneRecord], config: dict,
                  failures: Iterable[SceneFailure] = (), exports: dict[str, ExportOptions] | None = None) -> dict:
    """Rebuild every export, the card and the manifest from the scene records (so no record can appear
    twice); `failures` are the spec's scenes that failed (their failures file is written by the caller and
    listed in the manifest); `exports`: per format, its options (default: the spec's question mix, videos
    relative to the JSON files). Returns the manifest."""
    out_dir = Path(out_dir)
    failures = list(failures)
    exports = {**default_exports(spec.question_mix), **(exports or {})}
    records = sorted(records, key=lambda r: r.scene.index)
    ids = [r.scene.id for r in records]
    if len(set(ids)) != len(ids):
        raise InputError(f"{out_dir}: scene records repeat an id: {sorted(i for i, n in Counter(ids).items() if n > 1)[:3]}")
    splits = [s for s in SPLITS if any(r.scene.split == s for r in records)]
    for split in SPLITS:
        for name in export_files(split).values():
            if split not in splits:
                (out_dir / name).unlink(missing_ok=True)
    for split in splits:
        mine = [r for r in records if r.scene.split == split]
        files = export_files(split)
        atomic_write_text(out_dir / files["sharegpt"], _jsonl(export_rows("sharegpt", mine, spec, exports["sharegpt"], split)))
        atomic_write_json(out_dir / files["vlm4d"], export_rows("vlm4d", mine, spec, exports["vlm4d"], split))
        atomic_write_json(out_dir / files["llava-video"], export_rows("llava-video", mine, spec, exports["llava-video"], split))
        atomic_write_text(out_dir / files["dense"], _jsonl([dense_line(r) for r in mine if r.dense is not None]))
    atomic_write_json(out_dir / DATASET_INFO, dataset_info(spec.name, splits))
    atomic_write_text(out_dir / CARD, dataset_card(spec, records, config, failed=len(failures), exports=exports))
    listed = [SPEC_FILE, DATASET_INFO, CARD, *(f for s in splits for f in export_files(s).values())]
    listed += [r.video for r in records] + [f"{RECORDS_DIR}/{i}.json" for i in ids] + [f"{RUNS_DIR}/{i}/run.json" for i in ids]
    if failures:
        listed.append(FAILURES)
    files = {rel: {"sha256": sha256_file(out_dir / rel), "bytes": (out_dir / rel).stat().st_size} for rel in sorted(listed)}
    manifest = {"name": spec.name, "num_scenes": len(records), "failed": len(failures),
                "splits": {s: sum(r.scene.split == s for r in records) for s in splits},
                "export": {f: exports[f].model_dump(mode="json") for f in EXPORT_FORMATS}, "files": files}
    atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


class _Check:
    """Raises InputError("<file>: <problem>") for the first problem found; entries are typed with the
    models of worldsim.types.batch in strict mode: `<file>: line N: <field>: <problem>`."""

    def __init__(self, root: Path):
        self.root = root

    def fail(self, rel: str | Path, problem: str) -> NoReturn:
        raise InputError(f"{self.root / rel}: {problem}")

    def text(self, rel: str) -> str:
        try:
            return (self.root / rel).read_text(encoding="utf-8")
        except FileNotFoundError:
            self.fail(rel, "missing")
        except (IsADirectoryError, NotADirectoryError):
            self.fail(rel, "is not a file")
        except UnicodeDecodeError:
            self.fail(rel, "is not UTF-8 text")

    def json(self, rel: str) -> Any:
        text = self.text(rel)
        try:
            return json.loads(text)
        except ValueError as exc:
            self.fail(rel, f"not valid JSON ({exc})")

    def typed(self, rel: str, model: type[M], data: Any, entry: str | None = None) -> M:
        """`data` as a `model` (strict types); fails with `<file>: <entry>: <field>: <problem>`."""
        try:
            return model.model_validate(data, strict=True)
        except ValidationError as exc:
            self.fail(rel, f"{entry}: {validation_problem(exc)}" if entry else validation_problem(exc))

    def jsonl(self, rel: str, model: type[BaseModel]) -> list[dict]:
        """The lines of a JSONL file, each checked as a `model`; returns the raw rows."""
        rows = []
        for n, line in enumerate(self.text(rel).splitlines(), start=1):
            try:
                row = json.loads(line)
            except ValueError as exc:
                self.fail(rel, f"line {n} is not valid JSON ({exc})")
            self.typed(rel, model, row, f"line {n}")
            rows.append(row)
        return rows


def _check_conversation(check: _Check, rel: str, n: int, row: dict, videos: set[str]) -> None:
    msgs, vids = row["messages"], row["videos"]  # typed as a ShareGPTConversation already
    if len(msgs) % 2:
        check.fail(rel, f"line {n}: messages must be user/assistant pairs, got {len(msgs)} messages")
    for k, m in enumerate(msgs):
        want = "user" if k % 2 == 0 else "assistant"
        if m["role"] != want:
            check.fail(rel, f"line {n}: message {k} must be {{role: {want}, content: non-empty text}}")
    tokens = sum(m["content"].count(VIDEO_TOKEN) for m in msgs)
    if tokens != len(vids):
        check.fail(rel, f"line {n}: {tokens} {VIDEO_TOKEN} tokens but {len(vids)} videos")
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


def _json_list(check: _Check, rel: str, model: type[BaseModel]) -> list[dict]:
    rows = check.json(rel)
    if not isinstance(rows, list):
        check.fail(rel, f"expected a JSON list, got {type(rows).__name__}")
    for k, row in enumerate(rows):
        check.typed(rel, model, row, f"entry {k}")
    return rows


def _check_llava_sample(check: _Check, rel: str, k: int, sample: dict, videos: set[str]) -> None:
    turns = sample["conversations"]  # typed as a LLaVAVideoRecord already
    for t, turn in enumerate(turns):
        want = "human" if t % 2 == 0 else "gpt"
        if turn["from"] != want:
            check.fail(rel, f"entry {k}: conversations[{t}]: from must be {want!r}, got {turn['from']!r}")
    if len(turns) % 2 or not turns[0]["value"].startswith(IMAGE_TOKEN + "\n"):
        check.fail(rel, f"entry {k}: needs human/gpt pairs and a first human turn starting with {IMAGE_TOKEN!r} and a newline")
    if sum(turn["value"].count(IMAGE_TOKEN) for turn in turns) != 1:
        check.fail(rel, f"entry {k}: needs exactly one {IMAGE_TOKEN} token (one video)")
    if sample["video"] not in videos:
        check.fail(rel, f"entry {k}: video: {sample['video']!r} is not a video of this dataset")


def _inside(check: _Check, rel: str, path: str, where: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        check.fail(rel, f"{where}: {path!r} is not a relative path inside the dataset folder")
    return path


def validate_dataset(out_dir: str | Path, allow_failed: bool = False) -> dict:
    """Check every record, file and hash of a batch folder, every field typed (worldsim.types.batch models,
    strict); raises InputError naming the first bad file (`<file>: line N: <field>: <problem>`). A folder
    whose failures.jsonl lists failed scenes fails too, unless `allow_failed` (the scenes that succeeded are
    checked either way). Returns counts: scenes, files, conversations, questions, dense records, run
    artifacts (and failed scenes, when there are)."""
    from worldsim.batch_scenes import enumerate_scenes

    root = Path(out_dir)
    check = _Check(root)
    if not root.is_dir():
        raise InputError(f"dataset folder '{root}' does not exist" if not root.exists() else f"'{root}' is not a folder; give a dataset folder written by `worldsim batch`")
    manifest = check.typed(MANIFEST, DatasetManifest, check.json(MANIFEST))
    files = {rel: check.typed(MANIFEST, ManifestFile, entry, f"entry {rel!r}") for rel, entry in manifest.files.items()}
    for rel, entry in files.items():
        path = root / rel
        if not path.is_file():
            check.fail(rel, "listed in manifest.json but missing")
        if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            check.fail(rel, f"sha256 or size differs from manifest.json (sha256 {entry.sha256[:12]}..., {entry.bytes} bytes)")
    extra = [p.relative_to(root).as_posix() for d in (root, root / VIDEOS_DIR, root / RECORDS_DIR) if d.is_dir()
             for p in sorted(d.iterdir()) if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")]
    for rel in extra:
        if rel not in files:
            check.fail(rel, "not listed in manifest.json (a stray or duplicate file)")

    spec_record = check.typed(SPEC_FILE, SpecRecord, check.json(SPEC_FILE))
    spec = check.typed(SPEC_FILE, BatchSpec, spec_record.spec, "spec")
    scenes = enumerate_scenes(spec)
    by_id = {s.id: s for s in scenes}
    failures = read_failures(root)
    for n, failure in enumerate(failures, start=1):
        scene = by_id.get(failure.scene)
        if scene is None or scene.index != failure.index:
            check.fail(FAILURES, f"line {n}: scene {failure.scene!r} (index {failure.index}) is not a scene of the spec")
    failed = {f.scene for f in failures}
    if manifest.failed != len(failures):
        check.fail(MANIFEST, f"failed: says {manifest.failed} scenes failed, {FAILURES} lists {len(failures)}")

    records = []
    for scene in scenes:
        rel = f"{RECORDS_DIR}/{scene.id}.json"
        if scene.id in failed:
            if rel in files:
                check.fail(rel, f"scene {scene.index} has a record but is listed as failed in {FAILURES}")
            continue
        if rel not in files:
            check.fail(rel, f"scene {scene.index} of the spec has no record")
        rec = check.typed(rel, SceneRecord, check.json(rel))
        if rec.scene != scene:
            check.fail(rel, "the record's scene differs from the spec's scene with this id")
        if rec.run != f"{RUNS_DIR}/{scene.id}":
            check.fail(rel, f"run: {rec.run!r} is not {RUNS_DIR}/{scene.id}")
        if rec.video != scene.video or rec.video not in files or files[rec.video].sha256 != rec.video_sha256:
            check.fail(rel, f"video {rec.video} or its sha256 differs from the manifest")
        for k, q in enumerate(rec.questions):
            check.typed(rel, QAItem, q, f"questions[{k}]")
        if rec.dense is not None:
            check.typed(rel, DenseRecord, rec.dense, "dense")
        records.append(rec)
    listed_records = [r for r in files if r.startswith(f"{RECORDS_DIR}/")]
    if len(listed_records) != len(records):
        check.fail(MANIFEST, f"lists {len(listed_records)} scene records for {len(records)} scenes"
                   + (f" ({len(failures)} more failed)" if failures else ""))
    splits = {s: n for s in SPLITS if (n := sum(r.scene.split == s for r in records))}
    if manifest.num_scenes != len(records) or manifest.splits != splits:
        check.fail(MANIFEST, f"num_scenes {manifest.num_scenes} and splits {manifest.splits} differ from the "
                   f"{len(records)} scene records {splits}")

    artifacts_checked = 0
    for rec in records:
        run_json = f"{rec.run}/run.json"
        if run_json not in files:
            check.fail(run_json, "not listed in manifest.json")
        run = check.typed(run_json, RunManifest, check.json(run_json))
        for k, art in enumerate(run.artifacts):
            rel = f"{rec.run}/{_inside(check, run_json, art.path, f'artifacts[{k}].path')}"
            p = root / rel
            if not p.is_file() or sha256_file(p) != art.sha256:
                check.fail(rel, f"missing or sha256 differs from {run_json}")
            artifacts_checked += 1

    by_split = {s: [r for r in records if r.scene.split == s] for s in SPLITS}
    exports = {**default_exports(None), **manifest.export}
    info = check.json(DATASET_INFO)
    if info != dataset_info(spec.name, [s for s in SPLITS if by_split[s]]):
        check.fail(DATASET_INFO, "entries differ from the splits of this dataset")
    videos = {r.video for r in records}
    counts = Counter()
    for split, mine in by_split.items():
        if not mine:
            continue
        names = export_files(split)
        rows = check.jsonl(names["sharegpt"], ShareGPTConversation)
        for n, row in enumerate(rows, start=1):
            _check_conversation(check, names["sharegpt"], n, row, videos)
        expected = export_rows("sharegpt", mine, spec, exports["sharegpt"], split)
        if rows != expected:
            check.fail(names["sharegpt"], f"{len(rows)} conversations differ from the {len(expected)} the records give")
        options = exports["vlm4d"]
        questions = _json_list(check, names["vlm4d"], VLM4DItem)
        for k, item in enumerate(questions):
            if item["video"] not in {video_reference(v, options.video_base_url) for v in videos}:
                check.fail(names["vlm4d"], f"entry {k}: video: {item['video']!r} is not a video of this dataset")
        if questions != export_rows("vlm4d", mine, spec, options, split):
            check.fail(names["vlm4d"], "questions differ from the records")
        ids = [item["id"] for item in questions]
        if len(set(ids)) != len(ids):
            check.fail(names["vlm4d"], "repeats a question id")
        samples = _json_list(check, names["llava-video"], LLaVAVideoRecord)
        for k, sample in enumerate(samples):
            _check_llava_sample(check, names["llava-video"], k, sample, videos)
        if samples != export_rows("llava-video", mine, spec, exports["llava-video"], split):
            check.fail(names["llava-video"], "samples differ from the records")
        dense = check.jsonl(names["dense"], DenseLine)
        by_id = {r.scene.id: r for r in mine if r.dense is not None}
        if len(dense) != len(by_id) or {d["id"] for d in dense} != set(by_id):
            check.fail(names["dense"], f"{len(dense)} lines for the {len(by_id)} scenes with labels")
        for n, row in enumerate(dense, start=1):
            _check_dense(check, names["dense"], n, row, by_id.get(row["id"]))
        counts["conversations"] += len(rows)
        counts["questions"] += len(questions)
        counts["llava_samples"] += len(samples)
        counts["dense"] += len(dense)
    if failures and not allow_failed:
        first = failures[0]
        check.fail(FAILURES, f"{len(failures)} of the spec's {len(scenes)} scenes failed (first: scene {first.scene} at "
                   f"{first.stage}: {first.error}); the {len(records)} others check out. Remove the cause and run "
                   f"`worldsim batch SPEC --out {root} --retry-failed`, or pass --allow-failed to accept the dataset without them")
    extra_counts = {"failed": len(failures)} if failures else {}
    return {"scenes": len(records), "files": len(files), "run_artifacts": artifacts_checked, **counts, **extra_counts}
