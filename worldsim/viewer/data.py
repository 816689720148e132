"""What the viewer shows, read from run folders: versions, scenes as flat arrays, video frames, labels, metrics, QA.

A viewer is given one run folder. Its *family* is the generate run at the root of that folder's lineage plus
every sibling folder whose lineage starts there (edit versions and re-planned regenerations): those, and
nothing else, are what the viewer may read. Every request names a version by its folder name, which is
checked against the family (`Family.get`); no client-supplied path ever reaches the file system.

Scene payload (`scene_payload`): the GaussianScene evaluated at every frame (exactly `GaussianScene.at_frame`,
so the browser's frames are the run's frames), packed as one binary blob:

    b"WSV1" | uint32 header length | header JSON (utf-8, padded to 4 bytes) | arrays, each 4-byte aligned

    header {"n", "t", "arrays": {name: [byte offset from the start of the arrays, element count, dtype]}, ...}
    means   float32 [T,N,3]  world centres per frame
    quats   float32 [T,N,4]  wxyz per frame (normalised)
    scales  float32 [N,3]    linear (exp of log_scales)
    opacity float32 [N]      sigmoid of the logits
    rgb     float32 [N,3]    SH DC colour (max(SH0 * C0 + 0.5, 0); higher SH degrees are view-dependent
                             and ignored by the browser renderer)
    instance int32 [N]

Importing this module does not import torch.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from worldsim.errors import InputError

RUN_FILE = "run.json"
MAGIC = b"WSV1"
MAX_TEXT = 300  # characters of a query or edit typed in the page
ARTICLES = ("the ", "a ", "an ")


# --- the run folders a viewer may read -----------------------------------------------------------------


def _manifest(path: Path) -> dict:
    file = path / RUN_FILE
    if not file.is_file():
        raise InputError(f"'{path}' is not a run folder (no {RUN_FILE}); give a folder printed by `worldsim generate`")
    try:
        return json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"run folder '{path.name}' has a corrupt {RUN_FILE} ({type(exc).__name__})") from None


def latest_run(outputs_dir: str | Path) -> Path:
    """The newest run folder (by the modification time of its run.json) under `outputs_dir`."""
    base = Path(outputs_dir)
    if not base.is_dir():
        raise InputError(f"no run folder given and '{base}' does not exist; run `worldsim generate` first or give RUN")
    runs = [p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / RUN_FILE).is_file()]
    if not runs:
        raise InputError(f"no run folder under '{base}'; run `worldsim generate` first or give RUN")
    return max(runs, key=lambda p: ((p / RUN_FILE).stat().st_mtime, p.name))


@dataclass
class Version:
    name: str
    path: Path
    manifest: dict
    root: Path  # the generate run holding this version's video, labels, decoders and ground truth

    @property
    def kind(self) -> str:
        return "edit" if "edit" in self.manifest.get("outputs", {}) else "generate"

    def summary(self) -> dict:
        m = self.manifest
        return {"name": self.name, "kind": self.kind, "parent": m.get("parent"), "lineage": m.get("lineage", []),
                "edits": m.get("edits", []), "prompt": m.get("prompt"), "created": m.get("created"),
                "root": self.root.name, "has_scene": self.scene_file() is not None,
                "has_ground_truth": self.ground_truth_file() is not None}

    def scene_file(self) -> Path | None:
        from worldsim.scene import version_paths

        try:
            _, scene, _ = version_paths(self.path, self.manifest.get("outputs", {}))
        except (InputError, KeyError):
            return None
        return scene if scene.is_file() else None

    def ground_truth_file(self) -> Path | None:
        video = _manifest(self.root).get("outputs", {}).get("video") or {}
        if not video.get("scene"):
            return None
        path = self.root / video["scene"]
        return path if path.is_file() else None


@dataclass
class Family:
    """The run folders one viewer serves: a root generate run and the versions derived from it."""

    base: Path  # the folder holding them
    root_name: str
    start: str  # the folder the viewer was given
    _cache: dict = field(default_factory=dict)

    @classmethod
    def of(cls, run_dir: str | Path) -> "Family":
        path = Path(run_dir).resolve()
        manifest = _manifest(path)
        lineage = manifest.get("lineage") or []
        root = lineage[0] if lineage else path.name
        return cls(base=path.parent, root_name=root, start=path.name)

    def versions(self) -> list[Version]:
        """Every member, oldest first (the root first)."""
        out = []
        for p in sorted(self.base.iterdir()):
            if not p.is_dir() or p.name.startswith(".") or not (p / RUN_FILE).is_file():
                continue
            if p.name != self.root_name:
                try:
                    lineage = json.loads((p / RUN_FILE).read_text()).get("lineage") or []
                except (OSError, ValueError):
                    continue
                if not lineage or lineage[0] != self.root_name:
                    continue
            out.append(self._version(p))
        out.sort(key=lambda v: (v.name != self.root_name, len(v.manifest.get("lineage", [])), v.manifest.get("created") or "", v.name))
        return out

    def _version(self, path: Path) -> Version:
        stamp = (path / RUN_FILE).stat().st_mtime_ns
        hit = self._cache.get(path.name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        manifest = _manifest(path)
        outputs = manifest.get("outputs", {})
        root = path.parent / outputs["edit_root"] if "edit" in outputs and outputs.get("edit_root") else path
        version = Version(name=path.name, path=path, manifest=manifest, root=root)
        self._cache[path.name] = (stamp, version)
        return version

    def get(self, name) -> Version:
        """The member called `name` (a folder name, never a path); InputError naming the members otherwise."""
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", "..") or len(name) > 255:
            raise InputError(f"version {str(name)[:80]!r} is not a run folder name")
        for v in self.versions():
            if v.name == name:
                return v
        names = ", ".join(v.name for v in self.versions())
        raise InputError(f"no version '{name[:80]}' in this viewer; versions: {names}")


# --- scenes --------------------------------------------------------------------------------------------


def scene_arrays(scene) -> dict[str, np.ndarray]:
    """The per-frame flat arrays of a GaussianScene (module docstring)."""
    import torch

    from worldsim.render.scene import SH_C0

    with torch.no_grad():
        T = scene.num_frames
        means, quats = [], []
        for t in range(T):
            m, q = scene.at_frame(t)
            means.append(m.float())
            quats.append(torch.nn.functional.normalize(q.float(), dim=-1))
        rgb = (scene.sh[:, 0, :].float() * SH_C0 + 0.5).clamp_min(0.0)
        return {
            "means": torch.stack(means).cpu().numpy().astype(np.float32),
            "quats": torch.stack(quats).cpu().numpy().astype(np.float32),
            "scales": scene.log_scales.float().exp().cpu().numpy().astype(np.float32),
            "opacity": torch.sigmoid(scene.logit_opacities.float()).cpu().numpy().astype(np.float32),
            "rgb": rgb.cpu().numpy().astype(np.float32),
            "instance": scene.instance.cpu().numpy().astype(np.int32),
        }


def pack(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    header = dict(meta)
    header["arrays"] = {}
    blobs, offset = [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        dtype = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(np.uint8): "uint8"}[a.dtype]
        data = a.tobytes()
        data += b"\0" * (-len(data) % 4)
        header["arrays"][name] = [offset, int(a.size), dtype]
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 4)
    return MAGIC + struct.pack("<I", len(head)) + head + b"".join(blobs)


def orbit_centre(arrays: dict[str, np.ndarray], viewmat) -> list[float]:
    """World point the orbit turns about: on the camera's optical axis at the median camera depth of the
    frame-0 centres in front of it (the scene's middle, as worldsim.scene.orbit_target does with a depth)."""
    V = np.asarray(viewmat, dtype=np.float64)
    pts = arrays["means"][0].astype(np.float64)
    z = pts @ V[2, :3] + V[2, 3]
    z = z[np.isfinite(z) & (z > 0)]
    d = float(np.median(z)) if z.size else 1.0
    centre = -V[:3, :3].T @ V[:3, 3]
    return [float(x) for x in centre + d * V[2, :3]]


def scene_payload(version: Version, source: str) -> bytes:
    """The packed scene of `version`: source 'reconstruction' (its own scene) or 'ground_truth' (its root's
    generator scene)."""
    file = version.scene_file() if source == "reconstruction" else version.ground_truth_file() if source == "ground_truth" else None
    if source not in ("reconstruction", "ground_truth"):
        raise InputError(f"scene source '{str(source)[:40]}' is not one of: reconstruction, ground_truth")
    if file is None:
        what = "reconstruction" if source == "reconstruction" else "ground-truth scene"
        raise InputError(f"run folder '{version.name}' has no {what}")
    return _payload_cached(str(file), file.stat().st_mtime_ns, source, _camera_json(version))


def _camera_json(version: Version) -> str:
    return json.dumps(video_meta(version.root).get("camera"))


@lru_cache(maxsize=8)
def _payload_cached(file: str, _stamp: int, source: str, camera_json: str) -> bytes:
    from worldsim.types import GaussianScene

    try:
        scene = GaussianScene.load(file)
    except Exception as exc:  # a corrupt or foreign file: name it
        raise InputError(f"cannot read the scene '{file}': {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    arrays = scene_arrays(scene)
    camera = json.loads(camera_json)
    meta = {"n": len(scene), "t": scene.num_frames, "source": source}
    if camera:
        meta["target"] = orbit_centre(arrays, camera["viewmat"])
    return pack(arrays, meta)


# --- video, labels, scores -----------------------------------------------------------------------------


def video_meta(root: Path) -> dict:
    """Camera(s), size, fps and per-object label frames of a root run (labels.json), or {} without labels."""
    video = _manifest(root).get("outputs", {}).get("video") or {}
    if not video.get("labels") or not (root / video["labels"]).is_file():
        return {"fps": video.get("fps")}
    from worldsim.labels import read_labels

    labels = read_labels(root / video["labels"])
    objects = [{"id": o.id, "name": o.name, "color": o.color,
                "frames": [{"t": f.t, "box": f.box, "planned_box": f.planned_box} for f in o.frames]}
               for o in labels.objects]
    return {
        "fps": labels.fps, "num_frames": labels.num_frames, "width": labels.width, "height": labels.height,
        "camera": labels.camera.model_dump(mode="json") if labels.camera else None,
        "cameras": [c.model_dump(mode="json") for c in labels.cameras] if labels.cameras else None,
        "objects": objects,
    }


def video_frames(root: Path, quality: int = 90) -> list[str]:
    """The root run's input video, every frame as a JPEG data URI (frame-exact, unlike seeking a <video>)."""
    return list(_frames_cached(str(root), quality))


@lru_cache(maxsize=4)
def _frames_cached(root: str, quality: int) -> tuple[str, ...]:
    import cv2

    from worldsim.io.video import read_mp4

    video = _manifest(Path(root)).get("outputs", {}).get("video") or {}
    path = Path(root) / video.get("video", "")
    if not video.get("video") or not path.is_file():
        return ()
    frames, _ = read_mp4(path)
    out = []
    for f in frames:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(f[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out.append("data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode())
    return tuple(out)


def scores(version: Version) -> dict:
    """Metrics of the version's run.json, and the QA questions with each answer and whether it was right."""
    metrics = version.manifest.get("metrics", {})
    qa_root = version.path if (version.path / "scores").is_dir() else version.root
    questions, answers = [], []
    qfile, afile = qa_root / "scores" / "qa_questions.json", qa_root / "scores" / "qa_answers.jsonl"
    try:
        if qfile.is_file():
            data = json.loads(qfile.read_text())
            questions = data if isinstance(data, list) else data.get("questions", [])
        if afile.is_file():
            answers = [json.loads(line) for line in afile.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        questions, answers = [], []
    by_id: dict[str, list] = {}
    for a in answers:
        by_id.setdefault(str(a.get("id")), []).append(a)
    qa = []
    for q in questions[:500]:
        qid = str(q.get("id"))
        qa.append({"id": qid, "question": q.get("question"), "choices": q.get("choices"), "answer": q.get("answer"),
                   "answers": [{"mode": a.get("mode"), "free_form": a.get("free_form"), "raw": str(a.get("raw", ""))[:200],
                                "correct": bool(a.get("correct"))} for a in by_id.get(qid, [])]})
    return {"metrics": _scalars(metrics), "qa": qa, "qa_from": qa_root.name}


def _scalars(metrics: dict, depth: int = 0) -> dict:
    """The metrics tree without long lists (what fits a side panel)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict) and depth < 2:
            sub = _scalars(v, depth + 1)
            if sub:
                out[k] = sub
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = round(v, 4) if isinstance(v, float) else v
    return out


def registry(version: Version) -> dict:
    """The object registry (objects.json, else the labels' objects) and the version's edit history."""
    from worldsim import scene_objects

    reg = scene_objects.read_registry(version.path)
    if reg is not None:
        objects, last = reg.objects, reg.last_referenced
    else:
        try:
            objects, last = scene_objects.registry_from_outputs(version.path, version.manifest.get("outputs", {})), None
        except Exception:
            objects, last = [], None
    history = [*version.manifest.get("lineage", []), version.name]
    return {"objects": [o.model_dump(mode="json") for o in objects], "last_referenced": last, "history": history,
            "edits": version.manifest.get("edits", [])}


# --- selection: the editor's ---------------------------------------------------------------------------


def query_target(text) -> str:
    """'The ball.' -> 'ball': the object a typed query names (articles and end punctuation dropped)."""
    if not isinstance(text, str):
        raise InputError("the query must be text, e.g. 'the ball'")
    key = " ".join(text.split()).strip(" .!?").lower()
    for a in ARTICLES:
        if key.startswith(a):
            key = key[len(a):]
    if not key:
        raise InputError("the query is empty; type an object of the scene, e.g. 'the ball'")
    if len(text) > MAX_TEXT:
        raise InputError(f"the query is {len(text)} characters long; at most {MAX_TEXT} are accepted")
    return key


def select(version: Version, text: str) -> tuple[np.ndarray, dict]:
    """The Gaussians of `version` that the query `text` names, chosen exactly as the feature-field editor
    chooses the Gaussians of an edit's target (worldsim.selection, with the editor's config from the run's
    config): [N] bool, and a summary (target, threshold, count)."""
    import torch

    from worldsim import registry as stage_registry
    from worldsim import selection, sessions
    from worldsim.decoders import DecoderSet
    from worldsim.text import text_encoder_for
    from worldsim.types import Camera, GaussianScene

    key = query_target(text)
    opened = sessions.open_version(version.path, verify=False)
    if key in sessions.PRONOUNS:
        key = sessions.resolve_target(opened, key).name
    targets = selection.resolve_target(key, opened.objects)
    steps = [s for s in opened.config.steps_of("editor") if s.name == "feature-field"]
    info = stage_registry.get_stage_info("editor", "feature-field")
    cfg = info.cls.Config(**(steps[0].config if steps else {}))
    source = sessions.edit_source(opened)
    queries = selection.build_queries(targets, opened.objects, cfg.background_terms)
    candidates = selection.threshold_candidates(cfg.threshold_start, cfg.threshold_step, cfg.threshold_floor,
                                                cfg.max_iterations, cfg.thresholds)
    if not candidates:
        raise InputError(f"no candidate threshold: thresholds {cfg.thresholds} are all below the floor {cfg.threshold_floor}")
    scene = GaussianScene.load(source.scene)
    decoders = DecoderSet.load(source.decoders)
    if scene.features is None:
        raise InputError(f"the scene of '{version.name}' has no latent features; it cannot be queried by language")
    if source.teacher not in decoders:
        raise InputError(f"no decoder for teacher '{source.teacher}'; decoders: {', '.join(decoders) or 'none'}")
    camera = Camera.model_validate(source.camera)
    with torch.no_grad():
        search, _, _ = selection.select_target(scene, camera, decoders[source.teacher], text_encoder_for(source.teacher),
                                               queries, candidates, cfg, target_label=key, render_masks=False)
    chosen = search.selection
    mask = chosen.cpu().numpy().astype(bool)
    return mask, {"target": queries[0].label, "ids": [o.id for o in targets], "threshold": search.threshold,
                  "selected": int(mask.sum()), "gaussians": int(mask.size)}


def mask_b64(mask: np.ndarray) -> str:
    return base64.b64encode(np.packbits(mask.astype(np.uint8), bitorder="little").tobytes()).decode()
