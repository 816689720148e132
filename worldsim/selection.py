"""Language selection of Gaussians: p(target | Gaussian) from decoded features, and the threshold search.

The selection the feature-field editor uses, shared with answerers and scorers that find objects in
a reconstructed feature field. Shapes: features [N,F] (N Gaussians), decoder [...,F] -> [...,D],
text embeddings [Q,D], probabilities [N,G] (G queries, column 0 the target), selections [N] bool,
rendered masks [T,H,W] bool. This module imports torch at import time: import it inside the
functions that need it.

For a target τ and competing queries (the other objects, then generic background terms), each
Gaussian j gets

    p(τ|j) = softmax_q( cos(D(f_j), e_q) / temperature )[τ]

where D is the teacher's decoder (latent [F] -> teacher space [D]), the decoded feature is L2-normalised
and e_q is the teacher's text embedding of query q. A query may stand for several texts (an object is
"{color} {name}" and, when no other object shares the name, "{name}"); its cosine is the largest over
its texts, so a registry colour changed by an earlier recolor still finds the object by its name.

The threshold search (Morpho4D's, made deterministic) walks candidate thresholds from high to low,
stops at `max_iterations` candidates or at the floor, and scores each candidate selection
S = {j : p(τ|j) >= thr} from the input camera over the frames:

    agreement   IoU between the rendered selection mask (selection channel > 0.5) and the decoded
                feature-field mask (the per-Gaussian p(τ|j) rendered as a channel, > 0.5),
                pooled over frames;
    compactness share of the selection's Gaussians within `radius_factor` x (median distance) of
                the selection's median, in canonical space;
    coverage    rendered selection area / decoded area, capped at 1;
    score       w_agreement * agreement + w_compactness * compactness + w_coverage * coverage.

The best score wins (the first, i.e. highest, threshold on ties). Then, optionally, `grow_by_motion`
adds the few Gaussians that move with the selection but whose features never learned the label
(typically densified late or always occluded, so their p stays low): those whose dominant motion
basis is almost entirely selected (>= `min_share` of that basis's Gaussians) and that lie within the
compactness radius of the selection. The static basis never qualifies, so background is never grown into. The candidates' selection channels
are composited like colour, so all of them (plus the p channel) are rendered in one pass per frame:
exactly what rendering each candidate in turn gives, without T x C renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from worldsim.errors import InputError
from worldsim.render.scene import render_scene
from worldsim.types import Camera, GaussianScene, SceneObject


@dataclass(frozen=True)
class Query:
    label: str  # what the metrics call it: "red ball", "background"
    texts: tuple[str, ...]  # texts embedded; the query's cosine is the max over them


def object_text(obj: SceneObject) -> str:
    """How the label-text teacher wrote an instance's label: '{color} {name}', or '{name}' without a colour."""
    return " ".join(f"{obj.color or ''} {obj.name}".split())


def resolve_target(target: str, objects: Sequence[SceneObject]) -> list[SceneObject]:
    """The registry entries `target` names: every present object with that name (or that 'colour name')."""
    present = [o for o in objects if not o.removed]
    key = " ".join(target.lower().split())
    hits = [o for o in present if o.name.lower() == key] or [o for o in present if object_text(o).lower() == key]
    if not hits:
        removed = [o for o in objects if o.removed and key in (o.name.lower(), object_text(o).lower())]
        if removed:
            raise InputError(f"'{target}' was already removed from this scene; objects: "
                             f"{', '.join(object_text(o) for o in present) or 'none'}")
        raise InputError(f"no '{target}' in this scene; objects: {', '.join(object_text(o) for o in present) or 'none'}")
    return hits


def build_queries(targets: Sequence[SceneObject], objects: Sequence[SceneObject],
                  background_terms: Sequence[str]) -> list[Query]:
    """Query 0 is the target (all `targets` together); then one query per other present object (by text),
    then one per background term not already used."""
    target_ids = {o.id for o in targets}
    present = [o for o in objects if not o.removed]
    others = [o for o in present if o.id not in target_ids]
    other_names = {o.name for o in others}
    target_names = {o.name for o in targets}

    def texts_of(group: Sequence[SceneObject], outside_names: set[str]) -> tuple[str, ...]:
        texts = [object_text(o) for o in group]
        texts += [o.name for o in group if o.name not in outside_names]  # bare name only when unambiguous
        return tuple(dict.fromkeys(texts))

    queries = [Query(label=" / ".join(dict.fromkeys(object_text(o) for o in targets)), texts=texts_of(targets, other_names))]
    groups: dict[str, list[SceneObject]] = {}
    for o in others:
        groups.setdefault(object_text(o), []).append(o)
    for text, group in groups.items():
        names_elsewhere = target_names | {o.name for o in others if object_text(o) != text}
        queries.append(Query(label=text, texts=texts_of(group, names_elsewhere)))
    used = {t for q in queries for t in q.texts}
    for term in background_terms:
        term = " ".join(term.split())
        if term and term not in used:
            queries.append(Query(label=term, texts=(term,)))
            used.add(term)
    return queries


@torch.no_grad()
def query_probabilities(features: torch.Tensor,  # [N,F] latent features
                        decoder: torch.nn.Module,  # [...,F] -> [...,D]
                        encode_text: Callable[[list[str]], torch.Tensor],  # Q texts -> [Q,D]
                        queries: Sequence[Query], temperature: float) -> torch.Tensor:
    """p(query | Gaussian) [N,G] (rows sum to 1), G = len(queries); column 0 is the target."""
    texts = list(dict.fromkeys(t for q in queries for t in q.texts))
    emb = torch.nn.functional.normalize(torch.as_tensor(encode_text(texts)).float().cpu(), dim=-1)  # [Q,D]
    dec_device = next(decoder.parameters()).device
    decoded = decoder(features.float().to(dec_device)).float().cpu()  # [N,D]
    if decoded.shape[-1] != emb.shape[-1]:
        raise InputError(f"the decoder gives {decoded.shape[-1]}-d features but the teacher's text embeddings "
                         f"are {emb.shape[-1]}-d; is the decoder from the same teacher?")
    cos = torch.nn.functional.normalize(decoded, dim=-1) @ emb.T  # [N,Q]
    col = {t: i for i, t in enumerate(texts)}
    per_query = torch.stack([cos[:, [col[t] for t in q.texts]].max(dim=1).values for q in queries], dim=1)  # [N,G]
    return torch.softmax(per_query / temperature, dim=1)


def threshold_candidates(start: float, step: float, floor: float, max_iterations: int,
                         explicit: Sequence[float] | None = None) -> list[float]:
    """Candidates from high to low: `explicit` (sorted, deduplicated) or start, start-step, ...; never below
    `floor`, at most `max_iterations`."""
    if explicit:
        values = sorted({round(float(v), 6) for v in explicit}, reverse=True)
    else:
        values = [round(start - i * step, 6) for i in range(max_iterations)]
    return [v for v in values if v >= floor - 1e-9][:max_iterations]


def compactness(points: torch.Tensor, radius_factor: float) -> float:
    """Share of points [S,3] within radius_factor x (median distance to the median point) of that point."""
    if points.shape[0] <= 2:
        return 1.0
    centre = points.median(dim=0).values  # [3]
    d = (points - centre).norm(dim=1)  # [S]
    radius = radius_factor * d.median() + 1e-9
    return float((d <= radius).float().mean())


@dataclass
class Candidate:
    threshold: float
    selected: int
    score: float | None = None  # None: empty selection
    agreement: float = 0.0
    compactness: float = 0.0
    coverage: float = 0.0

    def as_dict(self) -> dict:
        return {"selected": self.selected, "score": self.score, "agreement": self.agreement,
                "compactness": self.compactness, "coverage": self.coverage}


@dataclass
class SearchResult:
    threshold: float
    selection: torch.Tensor  # [N] bool
    candidates: list[Candidate]
    selection_masks: torch.Tensor  # [T,H,W] bool, the chosen selection rendered from the input camera
    decoded_masks: torch.Tensor  # [T,H,W] bool, rendered p(target) > 0.5
    before: dict[str, torch.Tensor] = field(default_factory=dict)  # rgb [T,H,W,3], alpha [T,H,W], depth [T,H,W], objects [T,H,W]


@torch.no_grad()
def threshold_search(scene: GaussianScene, camera: Camera, p_target: torch.Tensor,  # [N]
                     candidates: Sequence[float], *, weights: tuple[float, float, float], radius_factor: float,
                     mask_threshold: float = 0.5, background=(0.0, 0.0, 0.0), backend: str = "auto",
                     target_label: str = "target") -> SearchResult:
    """Score every candidate (module docstring) and keep the best. InputError when every candidate is empty."""
    sels = [(p_target >= thr) for thr in candidates]  # C x [N] bool
    sizes = [int(s.sum()) for s in sels]
    if not candidates or not any(sizes):
        floor = min(candidates) if candidates else float("nan")
        raise InputError(f"no Gaussians match '{target_label}': the highest p({target_label}|Gaussian) is "
                         f"{float(p_target.max()) if p_target.numel() else 0.0:.3f}, below the lowest threshold {floor:g}")
    objects = (scene.instance > 0).float()  # [N] for the orbit centre (objects' depth)
    extra = torch.stack([p_target.float(), objects, *[s.float() for s in sels]], dim=1)  # [N,2+C]
    T = scene.num_frames
    rgb, alpha, depth, obj, dec, sel = [], [], [], [], [], []
    for t in range(T):
        out = render_scene(scene, camera, t, extra=extra, background=background, backend=backend)
        rgb.append(out["rgb"].clamp(0, 1))
        alpha.append(out["alpha"])
        depth.append(out["depth"])
        ch = out["extra"]  # [H,W,2+C]
        dec.append(ch[..., 0] > mask_threshold)
        obj.append(ch[..., 1])
        sel.append(ch[..., 2:].permute(2, 0, 1) > mask_threshold)  # [C,H,W]
    decoded = torch.stack(dec)  # [T,H,W]
    selected = torch.stack(sel, dim=1)  # [C,T,H,W]
    dec_area = int(decoded.sum())
    w_agree, w_compact, w_cover = weights
    results: list[Candidate] = []
    best = None
    for c, thr in enumerate(candidates):
        cand = Candidate(threshold=float(thr), selected=sizes[c])
        if sizes[c]:
            m = selected[c]
            inter, union, area = int((m & decoded).sum()), int((m | decoded).sum()), int(m.sum())
            cand.agreement = inter / union if union else 0.0
            cand.coverage = min(1.0, area / dec_area) if dec_area else 0.0
            cand.compactness = compactness(scene.means[sels[c]].float(), radius_factor)
            cand.score = w_agree * cand.agreement + w_compact * cand.compactness + w_cover * cand.coverage
            if best is None or cand.score > results[best].score:
                best = c
        results.append(cand)
    return SearchResult(
        threshold=float(candidates[best]), selection=sels[best], candidates=results,
        selection_masks=selected[best].clone(), decoded_masks=decoded,
        before={"rgb": torch.stack(rgb), "alpha": torch.stack(alpha), "depth": torch.stack(depth), "objects": torch.stack(obj)},
    )


def grow_by_motion(scene: GaussianScene, selection: torch.Tensor, min_share: float, radius_factor: float) -> torch.Tensor:
    """selection [N] bool -> selection plus the Gaussians that move with it (module docstring)."""
    if not bool(selection.any()) or scene.weights.shape[1] == 0:
        return selection
    dominant = scene.weights.argmax(dim=1)  # [N]
    B = scene.weights.shape[1]
    total = torch.bincount(dominant, minlength=B)  # [B]
    inside = torch.bincount(dominant[selection], minlength=B)  # [B]
    own = (total > 0) & (inside.double() >= min_share * total.double())  # [B] bases that belong to the selection
    pts = scene.means[selection].float()
    centre = pts.median(dim=0).values
    radius = radius_factor * (pts - centre).norm(dim=1).median() + 1e-9
    near = (scene.means.float() - centre).norm(dim=1) <= radius  # [N]
    return selection | (own[dominant] & near)


@torch.no_grad()
def render_selection(scene: GaussianScene, camera: Camera, selection: torch.Tensor, mask_threshold: float = 0.5,
                     background=(0.0, 0.0, 0.0), backend: str = "auto") -> torch.Tensor:
    """The selection rendered from `camera` over every frame: [T,H,W] bool (selection channel > mask_threshold)."""
    extra = selection.float()[:, None]  # [N,1]
    return torch.stack([render_scene(scene, camera, t, extra=extra, background=background, backend=backend)["extra"][..., 0]
                        > mask_threshold for t in range(scene.num_frames)])


def select_target(scene: GaussianScene, camera: Camera, decoder: Callable, encode_text: Callable,
                  queries: Sequence[Query], candidates: Sequence[float], settings, target_label: str,
                  render_masks: bool = True) -> tuple[SearchResult, torch.Tensor, int]:
    """Query 0's Gaussians, the one way the editor and the viewer select: p(target|Gaussian), the threshold
    search, then (settings.grow_by_motion) the Gaussians that move with the selection. `settings` carries the
    feature-field editor's fields (temperature, weight_agreement/compactness/coverage, radius_factor,
    mask_threshold, background, backend, grow_by_motion, grow_min_share). Returns the search (its `selection`
    grown, and with render_masks its `selection_masks` re-rendered when it grew), p_target [N] and how many
    Gaussians growing added."""
    probs = query_probabilities(scene.features, decoder, encode_text, queries, settings.temperature)  # [N,G]
    p_target = probs[:, 0].contiguous()
    search = threshold_search(
        scene, camera, p_target, candidates,
        weights=(settings.weight_agreement, settings.weight_compactness, settings.weight_coverage),
        radius_factor=settings.radius_factor, mask_threshold=settings.mask_threshold, background=settings.background,
        backend=settings.backend, target_label=target_label)
    grown = 0
    if settings.grow_by_motion:
        final = grow_by_motion(scene, search.selection, settings.grow_min_share, settings.radius_factor)
        grown = int(final.sum()) - int(search.selection.sum())
        if grown:
            search.selection = final
            if render_masks:
                search.selection_masks = render_selection(scene, camera, final, settings.mask_threshold,
                                                          settings.background, settings.backend)
    return search, p_target, grown
