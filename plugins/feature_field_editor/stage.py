"""`feature-field` editor: select Gaussians by language through the scene's feature field, then recolor,
extract, remove or scale them.

`FeatureFieldEditor().run(edit, source, out_dir)` reads the scene and decoders `source` names, selects
the Gaussians of `edit.target` (worldsim/selection.py: p(target | Gaussian) against
the other objects and background terms, the deterministic threshold search, then the few Gaussians
that move with the selection but never learned its label), applies the edit to
the canonical Gaussians (so every frame and every view gets the same edit), and writes into `out_dir`,
each file atomically:

    scene.safetensors, features.safetensors, decoders.safetensors, ply/frame_XXXX.ply,
    point_clouds/frame_XXXX.ply, render_input.mp4, render_novel.mp4
                          the edited scene, exactly as the reconstructor exports one
                          (worldsim.scene.export_scene), so an edited version can be edited again
    selected.safetensors  indices [S] int64 of the selected Gaussians in the input scene, p [N] float32
    before_input.png, after_input.png    the preview frame from the input camera
    before_novel.png, after_novel.png    the same frame from the input camera orbited by `novel_yaw`
    comparison.mp4        before | after side by side from the input camera, every frame

`scale` grows or shrinks the selection by `factor` about the object's contact point in every frame (its
bottom stays where it was: plugins/feature_field_editor/ops.py), through new motion bases, so every
frame and view gets the same edit and nothing else changes.

Everything is computed before the first write. The result also carries the object registry after the
edit (recolor: the targets' colour; remove: the targets marked removed; extract: every other object
marked removed; scale: unchanged).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from worldsim.errors import InputError
from worldsim.artifacts import json_safe
from worldsim.stages import Editor, StageConfig
from worldsim.types import (
    EditResult, EditSource, EditSpec, ExtractParams, RecolorParams, RemoveParams, ScaleParams, SceneObject,
)


Yaw = Annotated[float, Field(ge=-90, le=90)]  # degrees about the scene centre
Unit = Annotated[float, Field(ge=0, le=1)]


class FeatureFieldEditorConfig(StageConfig):
    temperature: float = Field(0.1, gt=0, le=10, description="softmax temperature over query cosines")
    threshold_start: float = Field(0.9, gt=0, le=1, description="first (highest) candidate threshold on p(target|Gaussian)")
    threshold_step: float = Field(0.1, gt=0, le=1, description="decrement between candidate thresholds")
    threshold_floor: float = Field(0.3, gt=0, le=1, description="lowest candidate threshold: the search stops there")
    max_iterations: int = Field(8, ge=1, le=100, description="most candidate thresholds scored")
    thresholds: list[Annotated[float, Field(gt=0, le=1)]] | None = Field(None, max_length=100, description="explicit candidates (e.g. proposed by an agent) instead of start/step; floor and max_iterations still apply")
    background_terms: list[str] = Field(default=["background", "ground", "sky", "wall"],
                                        description="generic competing queries; 'background' is the label-text teacher's background text")
    weight_agreement: float = Field(0.6, ge=0, le=100, description="score weight: IoU of the rendered selection and the decoded feature-field mask")
    weight_compactness: float = Field(0.2, ge=0, le=100, description="score weight: share of selected Gaussians near the selection's median")
    weight_coverage: float = Field(0.2, ge=0, le=100, description="score weight: rendered selection area / decoded area, capped at 1")
    radius_factor: float = Field(2.5, gt=0, le=100, description="compactness radius in multiples of the median distance to the median")
    grow_by_motion: bool = Field(True, description="add unselected Gaussians that move with the selection (their motion basis is almost all selected) within its radius")
    grow_min_share: float = Field(0.9, gt=0.5, le=1, description="share of a motion basis's Gaussians that must be selected for the basis to count as the selection's")
    mask_threshold: float = Field(0.5, gt=0, lt=1, description="a rendered selection / p channel above this is 'in the mask'")
    novel_yaw: float = Field(10.0, ge=-90, le=90, description="degrees about the scene centre for the novel-view renders")
    orbit_yaws: tuple[Yaw, Yaw] = Field((-15.0, 15.0), description="yaw sweep of the edited scene's render_novel.mp4 "
                                         "(degrees, each in [-90, 90])")
    preview_frame: int | None = Field(None, ge=0, le=100_000, description="frame of the before/after PNGs; None: the middle frame")
    contact_quantile: float = Field(0.02, ge=0, le=0.5, description="scale: the object's bottom height is this quantile of its "
                                    "Gaussians' bottoms (y - sigma_y) in each frame; the size changes about that point")
    background: tuple[Unit, Unit, Unit] = Field((0.0, 0.0, 0.0), description="render background colour (RGB in [0,1])")
    backend: str = Field("auto", description="rasterizer backend: auto (gsplat on CUDA tensors, else PyTorch), torch, dense")

    @model_validator(mode="after")
    def _floor_below_start(self):
        if self.threshold_floor > self.threshold_start and not self.thresholds:
            raise ValueError(f"threshold_floor {self.threshold_floor} is above threshold_start {self.threshold_start}")
        if self.weight_agreement + self.weight_compactness + self.weight_coverage <= 0:
            raise ValueError("at least one score weight must be positive")
        return self


class FeatureFieldEditor(Editor):
    name = "feature-field"
    description = ("Select Gaussians by language (decoded feature field vs text queries, deterministic threshold "
                   "search), then recolor, extract, remove or scale them in every frame")
    Config = FeatureFieldEditorConfig
    ops = (RecolorParams, ExtractParams, RemoveParams, ScaleParams)

    def run(self, edit: EditSpec, source: EditSource, out_dir: Path) -> EditResult:
        import torch

        from plugins.feature_field_editor import ops, outputs
        from worldsim.colors import canonical_color, color_rgb
        from worldsim.decoders import DecoderSet
        from worldsim.scene import check_finite, export_scene, orbit_target
        from worldsim.selection import build_queries, resolve_target, select_target, threshold_candidates
        from worldsim.text import text_encoder_for
        from worldsim.types import Camera, GaussianScene

        cfg: FeatureFieldEditorConfig = self.config
        t0 = time.perf_counter()
        out_dir = Path(out_dir)

        # Checks that need no tensors first.
        declared = {p.op: p for p in self.ops}
        if edit.op not in declared:
            raise InputError(f"the feature-field editor does not implement '{edit.op}'; it does: {', '.join(sorted(declared))}")
        from worldsim.edit_ops import validate_params

        params = validate_params(edit.op, dict(edit.params), declared[edit.op])
        rgb = color_rgb(params["color"]) if edit.op == "recolor" else None
        factor = float(params["factor"]) if edit.op == "scale" else None
        targets = resolve_target(edit.target, source.objects)
        queries = build_queries(targets, source.objects, cfg.background_terms)
        candidates = threshold_candidates(cfg.threshold_start, cfg.threshold_step, cfg.threshold_floor,
                                          cfg.max_iterations, cfg.thresholds)
        if not candidates:
            raise InputError(f"no candidate threshold: thresholds {cfg.thresholds} are all below the floor {cfg.threshold_floor}")

        # Inputs.
        for what, path in (("scene", source.scene), ("decoders", source.decoders)):
            if not Path(path).is_file():
                raise InputError(f"the {what} file '{path}' does not exist; is the run folder complete?")
        try:
            scene = GaussianScene.load(source.scene)
            decoders = DecoderSet.load(source.decoders)
        except Exception as exc:  # a corrupt or foreign file: name it
            raise InputError(f"cannot read the scene '{source.scene}' / decoders '{source.decoders}': {type(exc).__name__}: {exc}") from None
        try:
            check_finite(scene, decoders)
        except ValueError as exc:
            raise InputError(f"refusing to edit '{source.scene}': {str(exc).removeprefix('refusing to export: ')}") from None
        if scene.features is None:
            raise InputError(f"the scene '{source.scene}' has no latent features; reconstruct it with a feature teacher "
                             f"(e.g. label-text) to edit it by language")
        if source.teacher not in decoders:
            raise InputError(f"no decoder for teacher '{source.teacher}' in '{source.decoders}'; decoders: {', '.join(decoders) or 'none'}")
        camera = Camera.model_validate(source.camera)
        T = scene.num_frames
        frame = T // 2 if cfg.preview_frame is None else cfg.preview_frame
        if frame >= T:
            raise InputError(f"preview_frame {frame} is out of range; the scene has {T} frames")

        # Selection.
        search, p_target, grown = select_target(scene, camera, decoders[source.teacher], text_encoder_for(source.teacher),
                                                queries, candidates, cfg, target_label=edit.target)
        selection = search.selection  # [N] bool

        # Edit (per Gaussian, so consistent over frames and views).
        contact = None
        if edit.op == "recolor":
            edited = ops.recolor(scene, selection, rgb)
        elif edit.op == "extract":
            edited = ops.keep(scene, selection)
        elif edit.op == "scale":
            contact = ops.contact_points(scene, selection, cfg.contact_quantile)  # [T,3]
            edited = ops.scale(scene, selection, factor, contact)
        else:
            if bool(selection.all()):
                raise InputError(f"removing '{edit.target}' would remove every Gaussian of the scene (threshold {search.threshold:g})")
            edited = ops.keep(scene, ~selection)
        check_finite(edited)

        # Renders, then metrics: all before the first write.
        before = search.before
        after = outputs.render_frames(edited, camera, background=cfg.background, backend=cfg.backend)
        subject = torch.where((before["objects"] > 0.5) & (before["alpha"] > 0.5), before["depth"], torch.zeros(()))
        covered = torch.where(before["alpha"] > 0.5, before["depth"], torch.zeros(()))
        depth = subject if bool((subject > 0).any()) else covered
        target = orbit_target(camera, depth) if bool((depth > 0).any()) else orbit_target(camera, distance=5.0)
        novel = camera.orbit(target, cfg.novel_yaw)
        novel_before = outputs.render_frames(scene, novel, [frame], cfg.background, cfg.backend)["rgb"][0]
        novel_after = outputs.render_frames(edited, novel, [frame], cfg.background, cfg.backend)["rgb"][0]

        metrics: dict = {
            "op": edit.op, "target": edit.target, "target_ids": [o.id for o in targets],
            "color": canonical_color(params["color"]) if rgb is not None else None,
            "teacher": source.teacher, "queries": [q.label for q in queries], "temperature": cfg.temperature,
            "threshold": search.threshold, "selected_gaussians": int(selection.sum()), "grown_by_motion": grown,
            "gaussians_before": len(scene), "gaussians_after": len(edited),
            "p_target_max": round(float(p_target.max()), 6),
            "candidates": {f"{c.threshold:g}": (None if c.score is None else round(c.score, 6)) for c in search.candidates},
            "candidate_terms": {f"{c.threshold:g}": c.as_dict() for c in search.candidates},
            "novel_yaw": cfg.novel_yaw, "preview_frame": frame, "orbit_target": [round(float(x), 6) for x in target],
        }
        metrics.update(outputs.edit_metrics(edit.op, source, targets, camera, search, before, after,
                                            background=cfg.background, backend=cfg.backend))
        if edit.op == "scale":
            metrics.update(outputs.scale_metrics(scene, edited, selection, camera, search, before, after, factor, frame,
                                                 contact, cfg.contact_quantile, source, cfg.mask_threshold,
                                                 background=cfg.background, backend=cfg.backend))
        metrics["wall_s"] = round(time.perf_counter() - t0, 3)

        # Writes (each atomic; the session layer discards out_dir if anything below fails).
        paths = export_scene(edited, decoders, camera, out_dir, fps=source.fps, yaws_for_orbit=cfg.orbit_yaws,
                             target=target, background=cfg.background, relative_to=out_dir.parent)
        rel = lambda name: f"{out_dir.name}/{name}"
        outputs.save_selection(out_dir / "selected.safetensors", selection, p_target, edit, search.threshold)
        to_u8 = outputs.to_uint8
        images = {
            "before_input": to_u8(before["rgb"][frame]), "after_input": to_u8(after["rgb"][frame]),
            "before_novel": to_u8(novel_before), "after_novel": to_u8(novel_after),
        }
        renders = {}
        for name, image in images.items():
            outputs.write_png(out_dir / f"{name}.png", image)
            renders[name] = rel(f"{name}.png")
        outputs.write_comparison(out_dir / "comparison.mp4", to_u8(before["rgb"]), to_u8(after["rgb"]), source.fps)
        renders["comparison"] = rel("comparison.mp4")
        renders["render_input"] = paths["render_input"]
        renders["render_novel"] = paths["render_novel"]
        return EditResult(op=edit.op, target=edit.target, scene=paths["scene"], ply_dir=paths["ply_dir"],
                          renders=renders, selected=rel("selected.safetensors"), metrics=json_safe(metrics),
                          objects=updated_registry(source.objects, edit.model_copy(update={"params": params}),
                                                   {o.id for o in targets}), editor=self.name)


def updated_registry(objects: list[SceneObject], edit: EditSpec, target_ids: set[int]) -> list[SceneObject]:
    """The object registry after `edit` of the objects `target_ids` (scale leaves it as it is)."""
    out = []
    for o in objects:
        if o.id in target_ids and edit.op == "recolor":
            o = o.model_copy(update={"color": edit.color})
        elif o.id in target_ids and edit.op == "remove":
            o = o.model_copy(update={"removed": True})
        elif o.id not in target_ids and edit.op == "extract":
            o = o.model_copy(update={"removed": True})
        out.append(o)
    return out
