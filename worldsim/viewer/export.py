"""`worldsim view RUN --export viewer.html`: one self-contained HTML file that opens offline from file://.

Embedded (as JSON in a <script type="application/json"> element): the page's code and style, the version's
packed scene (worldsim.viewer.data) and, when the run has one, the ground-truth scene, the input video's
frames (JPEG data URIs), labels, metrics, QA, the object registry and history, and for every object of the
registry the selection the editor's selection code makes for it, so typing an object's name highlights it
offline too. Edits need the live viewer (they run worldsim.sessions). `?t=FRAME` or `#t=FRAME` opens it at
that frame.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from worldsim.errors import InputError
from worldsim.viewer import data
from worldsim.viewer.server import state, static_text


def _section(page: str, name: str, replacement: str) -> str:
    start, end = f"<!--{name}-->", f"<!--/{name}-->"
    i, j = page.index(start), page.index(end) + len(end)
    return page[:i] + replacement + page[j:]


def _selections(version: data.Version) -> list[dict]:
    """Per present object of the registry: the names a query may use, and the editor's selection for it."""
    from worldsim import sessions
    from worldsim.errors import WorldsimError
    from worldsim.selection import object_text

    try:
        opened = sessions.open_version(version.path, verify=False)
    except WorldsimError:
        return []
    out = []
    for name in dict.fromkeys(o.name for o in opened.objects if not o.removed):
        try:
            mask, info = data.select(version, name)
        except WorldsimError:
            continue  # e.g. a scene without a feature field: no highlights offline
        objs = [o for o in opened.objects if o.name == name and not o.removed]
        names = {name.lower(), *(object_text(o).lower() for o in objs)}
        if opened.last_referenced == name or len({o.name for o in opened.objects if not o.removed}) == 1:
            names |= set(sessions.PRONOUNS)
        out.append({"names": sorted(names), "mask": data.mask_b64(mask), **info})
    return out


def export_html(run_dir: str | os.PathLike, out: str | os.PathLike, selections: bool = True) -> Path:
    """Write the self-contained viewer of `run_dir` to `out` (atomically); returns its path."""
    from worldsim.artifacts import atomic_path

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--export '{out}' must name an .html file")
    if out.is_dir():
        raise InputError(f"--export '{out}' is a folder; name an .html file")
    family = data.Family.of(run_dir)
    version = family.get(family.start)
    st = state(family, version.name)
    st["mode"] = "offline"
    for v in st["versions"]:  # only this version's scenes travel with the file
        if v["name"] != version.name:
            v["has_scene"] = v["has_ground_truth"] = False
    scenes = {"reconstruction": base64.b64encode(data.scene_payload(version, "reconstruction")).decode()}
    if version.ground_truth_file() is not None:
        scenes["ground_truth"] = base64.b64encode(data.scene_payload(version, "ground_truth")).decode()
    payload = {
        "start": version.name,
        "states": {version.name: st},
        "scenes": {version.name: scenes},
        "frames": {version.root.name: data.video_frames(version.root)},
        "selections": {version.name: _selections(version) if selections else []},
    }
    js, css = static_text("viewer.js"), static_text("viewer.css")
    if "</script" in js.lower():
        raise AssertionError("viewer.js must not contain '</script'")
    page = static_text("index.html").replace("__WORLDSIM_MODE__", "offline")
    page = _section(page, "CSS", f"<style>\n{css}</style>")
    blob = json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")
    page = _section(page, "DATA", f'<script type="application/json" id="ws-data">{blob}</script>')
    page = _section(page, "JS", f"<script>\n{js}</script>")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return out
