"""`field-4d`: a model-free baseline that answers spatiotemporal questions from the reconstructed 4D feature field.

For each question about a target (item.target: name, colour, and for counting the asked direction):

1. Selection by language. Every Gaussian's latent feature is decoded into the label-text teacher's space
   and compared with a fixed vocabulary: every known object noun (worldsim.objects.OBJECTS, plus the
   plan's and the target's nouns), bare and with every named colour, plus background terms
   (worldsim.selection.query_probabilities, one query per text). The target's
   probability is the softmax mass of the texts that name it ("red ball"; for a colourless target every
   colour of "ball"); the selection is the Gaussians where that mass is >= `min_probability`. Nothing
   is read from labels.json but the input camera, and not even that when the reconstruction names its
   per-frame cameras (Reconstruction.cameras).
2. Presence. Fewer than `min_gaussians` selected: the target is absent (a false-positive question).
3. Instances. Selected Gaussians are linked when they stay nearer than `link_factor` x the selection's
   median nearest-neighbour distance in every frame (what moves together and touches is one object;
   copies moving side by side stay apart); the connected components are the instances, and components
   smaller than `min_group_share` of the largest (stray Gaussians) are dropped. Motion bases are not
   used to group: the reconstruction gives each instance several, and static objects drift into the
   shared static basis.
4. Per instance, the Gaussians' positions at every frame (GaussianScene.at_frame) are projected with the
   input camera (the first frame's when the camera moves, so motion is world motion as seen from where
   the camera started) into normalised image coordinates (x right, y down):
   direction  the displacement of the median point between the mean of the first and of the last
              `edge_fraction` of the frames; shorter than `still_threshold` (frame fractions) is
              "none", else one of 8 directions by 45-degree sector;
   rotation   read from the motion bases the instance's Gaussians ride on: each basis's rotation from
              frame t to t+1 (q_t+1 q_t^-1) as a world rotation vector, blended by the instance's mean
              blend weights and averaged over frame pairs (rad/frame). Shorter than `rotation_threshold`
              is "none"; else the sign of its component along the input camera's viewing axis gives the
              sense as seen (worldsim.qa.measure.seen_spin, the convention of the exact answers:
              positive = clockwise).
   Directions and senses of several instances are combined by majority.
5. Camera questions (category camera_motion) are answered from the reconstruction's per-frame cameras (the
   JSON file Reconstruction.cameras names; none: the camera is static): how the camera centre moved in the
   first camera's axes, as a fraction of the first camera's distance to the objects (the median depth of
   the Gaussians assigned to an object), and how its viewing direction turned (worldsim.qa.measure
   camera_travel / camera_turn, one threshold each: `camera_still`, `turn_still_deg`); "is the X moving,
   or only the camera?" combines the instance's direction with whether the camera moves or turns.
6. The decision (direction, sense, count of instances moving in the asked direction, "absent", or the
   camera's motion) is matched to the option texts (plugins/answerers/choices.py; the camera options by
   the texts worldsim.qa.questions writes) and answered as "B. moving right"; free-form questions get a
   sentence.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from plugins.answerers import choices as opts
from worldsim.errors import InputError
from worldsim.labels import read_labels
from worldsim.qa import measure
from worldsim.qa.questions import CAMERA_MOVE_TEXT, CAMERA_TURN_TEXT, ego_texts
from worldsim.stages import Answerer, StageConfig
from worldsim.types import QAItem, ScoreInput

PHRASES = {"up-left": "up and to the left", "up-right": "up and to the right", "down-left": "down and to the left",
           "down-right": "down and to the right"}  # how a diagonal reads in a sentence
SECTORS = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")  # by angle, y down


class Field4DConfig(StageConfig):
    teacher: str = Field("label-text", description="feature teacher whose decoder and text space the selection uses")
    temperature: float = Field(0.05, gt=0, le=10, description="softmax temperature over the vocabulary cosines")
    min_probability: float = Field(0.5, gt=0, lt=1, description="a Gaussian is the target's when the target's texts hold this much probability")
    min_gaussians: int = Field(10, ge=1, le=10_000_000, description="fewer selected Gaussians than this: the target is absent")
    min_group_share: float = Field(0.4, gt=0, le=1, description="an instance needs this share of the largest instance's Gaussians")
    link_factor: float = Field(3.0, gt=0, le=100, description="Gaussians nearer than this x the selection's median nearest-neighbour "
                               "distance in every frame belong to one instance")
    edge_fraction: float = Field(0.25, gt=0, le=0.5, description="share of frames averaged at each end for the displacement")
    still_threshold: float = Field(0.06, gt=0, lt=1, description="displacement (frame fractions) below which an object is 'not moving'")
    rotation_threshold: float = Field(0.05, gt=0, le=math.pi, description="mean rotation of the instance's motion bases (rad/frame) "
                                      "below which an object is 'not rotating'")
    camera_still: float = Field(0.025, gt=0, lt=10, description="camera-centre travel over the clip, as a fraction of the distance "
                                "to the objects, below which the camera is 'not moving' (between the question bounds 0.015 and 0.04)")
    turn_still_deg: float = Field(1.1, gt=0, lt=180, description="turn of the viewing direction over the clip (degrees) below which "
                                  "the camera is 'not turning' (between the question bounds 0.75 and 1.5)")
    background_terms: list[str] = Field(default=["background", "ground", "sky", "wall"],
                                        description="competing generic texts; 'background' is the label-text teacher's background text")


@dataclass
class Instance:
    gaussians: int
    displacement: tuple[float, float]  # normalised image units, x right, y down
    direction: str
    spin: tuple[float, float, float]  # mean world rotation vector of the instance's bases, rad/frame
    seen_spin: float  # its part about the input camera's viewing axis, rad/frame, + = clockwise as seen
    rotation: str


@dataclass
class Observation:
    target: str
    selected: int
    p_max: float
    instances: list[Instance] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return bool(self.instances)

    def direction(self) -> str:
        return _majority([i.direction for i in self.instances])

    def rotation(self) -> str:
        return _majority([i.rotation for i in self.instances])

    def count(self, direction: str | None) -> int:
        return sum(1 for i in self.instances if direction is None or i.direction == direction)


def _majority(values: list[str]) -> str:
    counts = Counter(values)
    return max(values, key=lambda v: (counts[v], -values.index(v)))


def direction_of(dx: float, dy: float, still: float) -> str:
    """8-way direction of an image displacement (x right, y down), or 'none' when shorter than `still`."""
    if math.hypot(dx, dy) < still:
        return "none"
    sector = round(math.atan2(dy, dx) / (math.pi / 4)) % 8
    return SECTORS[sector]


def step_rotation_vectors(quats):
    """World rotation vectors [...,T-1,3] (axis x angle, right-handed, angle in [0, pi]) of the rotation from
    frame t to t+1 of per-frame wxyz rotations [...,T,4]: q_t+1 * conj(q_t)."""
    import torch

    from worldsim.types.gaussians import quat_multiply

    q = torch.nn.functional.normalize(torch.as_tensor(quats, dtype=torch.float64), dim=-1)
    conj = q[..., :-1, :] * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)
    rel = quat_multiply(q[..., 1:, :], conj)  # [...,T-1,4]
    rel = torch.where(rel[..., :1] < 0, -rel, rel)  # the shorter way round
    v = rel[..., 1:]
    sin_half = v.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, rel[..., :1])
    return torch.where(sin_half > 1e-12, v / sin_half.clamp_min(1e-12) * angle, 2 * v)


def instance_spin(basis_rotations, weights) -> tuple[float, float, float]:
    """Mean world angular velocity (rad/frame, rotation vector) of Gaussians blended over motion bases:
    basis_rotations [B,T,4] wxyz, weights [S,B] (their blend weights). Each basis's per-frame rotation vectors
    are blended by the Gaussians' mean weight and averaged over frame pairs; a rigid instance on one basis
    gets exactly that basis's spin, one half on the static basis half of it."""
    import torch

    if basis_rotations.shape[1] < 2:
        return (0.0, 0.0, 0.0)
    steps = step_rotation_vectors(basis_rotations)  # [B,T-1,3]
    w = torch.as_tensor(weights, dtype=torch.float64).mean(dim=0)  # [B]
    omega = (w[:, None, None] * steps).sum(dim=0).mean(dim=0)  # [3]
    return tuple(float(x) for x in omega)


def camera_motion(viewmats, distance: float, still: float, turn_still_deg: float) -> tuple[str, str]:
    """(move, turn) of a camera from its per-frame world-to-camera matrices [T][4][4]: move in left, right, up,
    down, forward, backward, none (the centre's travel over the clip in the first camera's axes, as a fraction
    of `distance`, the first camera's distance to the scene; the largest axis wins); turn in left, right, up,
    down, none (the last viewing direction seen from the first camera). Fewer than 2 cameras: static."""
    if len(viewmats) < 2:
        return "none", "none"
    move = measure.camera_move_direction(measure.camera_travel(viewmats, distance), still, still, dominance=1.0)
    turn = measure.camera_turn_direction(measure.camera_turn(viewmats), turn_still_deg, turn_still_deg, dominance=1.0)
    return move, turn


def vocabulary(extra_names: list[str], background_terms: list[str]) -> list[str]:
    """Every known noun (OBJECTS + extra), bare and with every named colour, then the background terms."""
    from worldsim.colors import COLORS
    from worldsim.objects import OBJECTS

    names = list(dict.fromkeys([*OBJECTS, *(n.lower() for n in extra_names if n)]))
    texts = [*names, *(f"{c} {n}" for n in names for c in COLORS)]
    return list(dict.fromkeys([*texts, *(" ".join(t.split()) for t in background_terms if t.strip())]))


def target_texts(name: str, color: str | None, texts: list[str]) -> list[int]:
    """Indices of the vocabulary texts that name the target: '{color} {name}', or '{name}' in any colour."""
    from worldsim.colors import COLORS

    name = name.lower()
    if color:
        return [texts.index(f"{color.lower()} {name}")]
    return [i for i, t in enumerate(texts) if t == name or (t.endswith(" " + name) and t[: -len(name) - 1] in COLORS)]


class Field4DAnswerer(Answerer):
    name = "field-4d"
    description = ("Model-free baseline: select the target's Gaussians by text in the reconstructed feature field, "
                   "follow them through time from the input camera, classify direction, rotation and count")
    Config = Field4DConfig

    def run(self, items: list[QAItem], inputs: ScoreInput, mode: str = "direct", free_form: bool = False) -> list[str]:
        if not items:
            return []
        field4d = self.load(inputs, [str(it.target.get("name", "")) for it in items])
        answers = []
        for item in items:
            asked = camera_asked(item)
            if asked is None:
                answers.append(self.answer(item, field4d.observe(item), free_form))
            else:
                obs = field4d.observe(item) if asked == "object_or_camera" else None
                answers.append(self.answer_camera(item, asked, field4d, obs, free_form))
        return answers

    def load(self, inputs: ScoreInput, extra_names: list[str]) -> "FeatureField4D":
        import torch

        from worldsim.colors import canonical_color
        from worldsim.decoders import DecoderSet
        from worldsim.selection import Query, query_probabilities
        from worldsim.text import text_encoder_for
        from worldsim.types import Camera, GaussianScene

        cfg: Field4DConfig = self.config
        rec = inputs.reconstruction
        if rec is None:
            raise InputError("answerer 'field-4d' needs a reconstruction (a run made with a reconstructor such as "
                             "feature-4dgs); this run has none")
        run_dir = Path(inputs.run_dir)
        scene_path, dec_path = run_dir / rec.scene, run_dir / rec.decoders
        for what, path in (("scene", scene_path), ("decoders", dec_path)):
            if not path.is_file():
                raise InputError(f"answerer 'field-4d': the {what} file '{path}' does not exist; is the run folder complete?")
        scene, decoders = GaussianScene.load(scene_path), DecoderSet.load(dec_path)
        if scene.features is None:
            raise InputError(f"answerer 'field-4d': the scene '{scene_path}' has no latent features; reconstruct with a feature teacher")
        if cfg.teacher not in decoders:
            raise InputError(f"answerer 'field-4d': no decoder for teacher '{cfg.teacher}' in '{dec_path}'; "
                             f"decoders: {', '.join(decoders) or 'none'}")
        cameras = reconstruction_cameras(inputs)
        if cameras is not None and len(cameras) != scene.num_frames:
            raise InputError(f"answerer 'field-4d': the reconstruction's cameras file '{rec.cameras}' holds {len(cameras)} cameras "
                             f"for a scene of {scene.num_frames} frames")
        camera = cameras[0] if cameras else Camera.model_validate(input_camera(inputs))
        names = [*(o.name for o in inputs.plan.objects), *extra_names]
        texts = vocabulary(names, cfg.background_terms)
        probs = query_probabilities(scene.features, decoders[cfg.teacher], text_encoder_for(cfg.teacher),
                                    [Query(label=t, texts=(t,)) for t in texts], cfg.temperature)  # [N,len(texts)]
        with torch.no_grad():
            frames = [scene.at_frame(t)[0] for t in range(scene.num_frames)]  # T x [N,3]
        return FeatureField4D(cfg=cfg, scene=scene, camera=camera, texts=texts, probs=probs,
                              positions=torch.stack(frames), canonical_color=canonical_color,
                              viewmats=[c.viewmat for c in cameras] if cameras else None)

    def answer(self, item: QAItem, obs: Observation, free_form: bool) -> str:
        target = obs.target
        asked = opts.asked_kind(item.choices) if item.choices else None
        asked = asked or {"translational": "direction", "rotational": "rotation", "counting": "count"}.get(item.question_type, "direction")
        if asked == "count":
            direction = item.target.get("direction")
            decision = ("count", obs.count(direction) if obs.present else 0)
        elif not obs.present:
            decision = ("absent", None)
        elif asked == "rotation":
            decision = ("rotation", obs.rotation())
        else:
            decision = ("direction", obs.direction())
        if free_form or not item.choices:
            return sentence(target, decision)
        letter = opts.pick(item.choices, *decision)
        if letter is None and decision[0] == "absent":  # no 'there is no ...' option: the nearest is 'not moving' / 'not rotating' / 0
            letter = opts.pick(item.choices, "rotation", "none") or opts.pick(item.choices, "direction", "none") or opts.pick(item.choices, "count", 0)
        if letter is None:
            return sentence(target, decision)
        return opts.answer_text(item.choices, letter)

    def answer_camera(self, item: QAItem, asked: str, field4d: "FeatureField4D", obs: "Observation | None", free_form: bool) -> str:
        """A camera_motion question: which way the camera moves / turns, or who moves (the object, the camera)."""
        move, turn = field4d.camera_motion()
        if asked == "camera_move":
            decision, text = move, CAMERA_MOVE_TEXT[move]
            said = "The camera is not moving." if move == "none" else f"The camera is moving {move}."
        elif asked == "camera_turn":
            decision, text = turn, CAMERA_TURN_TEXT[turn]
            said = "The camera is not turning." if turn == "none" else f"The camera is turning {turn}."
        else:
            camera_moves = move != "none" or turn != "none"
            object_moves = obs is not None and obs.present and obs.direction() != "none"
            decision = measure.ego_motion("moving" if object_moves else "still", camera_moves)
            name = str(item.target.get("name") or "object")
            texts = ego_texts(name, item.target.get("color"), int(item.target.get("count") or 1))
            text = texts[decision]
            said = text[0].upper() + text[1:] + "."
        if free_form or not item.choices:
            return said
        letter = camera_letter(item.choices, text, decision)
        return opts.answer_text(item.choices, letter) if letter else said


CAMERA_ASKED = ("camera_move", "camera_turn", "object_or_camera")


def camera_asked(item: QAItem) -> str | None:
    """Which camera question an item is (camera_move, camera_turn, object_or_camera), None for the others: its
    target's `asked`, else read from the options (a camera_motion item from elsewhere)."""
    asked = item.target.get("asked")
    if asked in CAMERA_ASKED:
        return asked
    if item.question_type != "camera_motion":
        return None
    texts = " ".join(item.choices.values()).lower()
    if "only the camera" in texts or "neither" in texts:
        return "object_or_camera"
    return "camera_turn" if "turning" in texts else "camera_move"


def camera_letter(choices: dict[str, str], text: str, decision: str) -> str | None:
    """The option that says `text` (as worldsim.qa.questions writes it), else the one naming the decision: "not ..."
    for none, "only the camera" / "both" / "neither" / "only the <object>" for who moves, the direction word else."""
    low = {letter: " ".join(option.lower().split()) for letter, option in choices.items()}
    exact = [letter for letter, option in low.items() if option == text.lower()]
    if exact:
        return exact[0]
    if decision == "none":
        found = [letter for letter, option in low.items() if "not" in option.split()]
    elif decision == "object":
        found = [letter for letter, option in low.items() if option.startswith("only") and "camera" not in option]
    else:
        key = {"camera": "only the camera", "both": "both", "neither": "neither"}.get(decision, decision)
        found = [letter for letter, option in low.items() if re.search(rf"\b{re.escape(key)}\b", option) and "not" not in option.split()]
    return found[0] if found else None


def sentence(target: str, decision: tuple[str, object]) -> str:
    kind, value = decision
    if kind == "absent":
        return f"There is no {target} in the video."
    if kind == "count":
        return f"{value}"
    if kind == "rotation":
        return f"The {target} is not rotating." if value == "none" else f"The {target} is rotating {value}."
    return f"The {target} is not moving." if value == "none" else f"The {target} is moving {PHRASES.get(value, value)}."


@dataclass
class FeatureField4D:
    cfg: Field4DConfig
    scene: object  # GaussianScene
    camera: object  # Camera
    texts: list[str]
    probs: object  # [N,V] p(text | Gaussian)
    positions: object  # [T,N,3] world positions per frame
    canonical_color: object
    viewmats: list | None = None  # per-frame world-to-camera [4][4] of the reconstruction; None: a static camera

    def camera_motion(self) -> tuple[str, str]:
        """(move, turn) of the reconstruction's cameras (module docstring, step 5)."""
        if not self.viewmats:
            return "none", "none"
        objects = self.scene.instance > 0
        pts = self.positions[0][objects] if bool(objects.any()) else self.positions[0]
        distance = measure.scene_distance(self.viewmats[0], pts.tolist())
        if distance is None:
            raise InputError("answerer 'field-4d': no Gaussian lies in front of the first camera; cannot measure the camera's motion")
        return camera_motion(self.viewmats, distance, self.cfg.camera_still, self.cfg.turn_still_deg)

    def observe(self, item: QAItem) -> Observation:
        import torch

        name = str(item.target.get("name") or "").strip()
        if not name:
            raise InputError(f"question '{item.id}' has no target name (target={item.target!r}); field-4d needs target.name")
        color = item.target.get("color")
        color = self.canonical_color(color) if color else None
        label = f"{color} {name}" if color else name
        cols = target_texts(name, color, self.texts)
        p = self.probs[:, cols].sum(dim=1)  # [N]
        selected = torch.nonzero(p >= self.cfg.min_probability).flatten()
        obs = Observation(target=label, selected=int(selected.numel()), p_max=float(p.max()))
        if selected.numel() < self.cfg.min_gaussians:
            return obs
        for members in self.instances(selected):
            obs.instances.append(self.track(members))
        return obs

    def instances(self, selected) -> list:
        """Selected Gaussian indices grouped into object instances (module docstring, step 3)."""
        import torch

        pts = self.positions[:, selected]  # [T,S,3]
        d = torch.cdist(pts, pts)  # [T,S,S]
        mid = d[d.shape[0] // 2].clone()
        mid.fill_diagonal_(float("inf"))
        link = self.cfg.link_factor * float(mid.min(dim=1).values.median())
        adjacent = (d < link).all(dim=0)  # [S,S] near each other in every frame
        labels = torch.arange(len(selected))
        while True:  # connected components: propagate the smallest label to neighbours until stable
            spread = torch.where(adjacent, labels[None, :], len(selected)).min(dim=1).values
            spread = torch.minimum(spread, labels)
            if torch.equal(spread, labels):
                break
            labels = spread
        groups = [selected[labels == k] for k in torch.unique(labels)]
        largest = max(len(g) for g in groups)
        groups = [g for g in groups if len(g) >= max(self.cfg.min_group_share * largest, 2)]
        return sorted(groups, key=lambda g: int(g.min()))

    def track(self, members) -> Instance:
        import numpy as np

        T = self.positions.shape[0]
        pts = self.positions[:, members].reshape(-1, 3).numpy()
        xy, _ = self.camera.project(pts)
        xy = xy.reshape(T, len(members), 2)  # [T,S,2] normalised image coordinates
        centre = np.median(xy, axis=1)  # [T,2]
        k = max(1, int(round(self.cfg.edge_fraction * T)))
        dx, dy = (centre[-k:].mean(0) - centre[:k].mean(0)).tolist()
        spin = instance_spin(self.scene.basis_rotations, self.scene.weights[members])
        seen = measure.seen_spin(spin, self.camera.viewmat)
        if math.sqrt(sum(v * v for v in spin)) < self.cfg.rotation_threshold:
            rotation = "none"
        else:
            rotation = "clockwise" if seen > 0 else "counter-clockwise"
        return Instance(gaussians=len(members), displacement=(dx, dy), direction=direction_of(dx, dy, self.cfg.still_threshold),
                        spin=spin, seen_spin=seen, rotation=rotation)


def reconstruction_cameras(inputs: ScoreInput) -> list | None:
    """The per-frame cameras the reconstruction was fitted with (Reconstruction.cameras, a JSON file holding
    {"cameras": [Camera, ...]} or a bare list), or None when it names none (a static camera)."""
    from worldsim.types import Camera

    rec = inputs.reconstruction
    rel = getattr(rec, "cameras", None) if rec is not None else None
    if not rel:
        return None
    path = Path(inputs.run_dir) / rel
    if not path.is_file():
        raise InputError(f"answerer 'field-4d': the reconstruction's cameras file '{path}' does not exist; is the run folder complete?")
    try:
        data = json.loads(path.read_text())
        cams = data["cameras"] if isinstance(data, dict) else data
        cameras = [Camera.model_validate(c) for c in cams]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"answerer 'field-4d': '{path}' is not a list of cameras ({type(exc).__name__}: {exc})") from exc
    if not cameras:
        raise InputError(f"answerer 'field-4d': '{path}' holds no cameras")
    return cameras


def input_camera(inputs: ScoreInput) -> dict:
    """The input camera of the run: the generator's labels.json 'camera' (the camera the reconstruction was fitted from)."""
    video = inputs.video
    if video is None or not video.labels:
        raise InputError("answerer 'field-4d' needs the input camera, from the generator's labels.json; this run's video has no labels")
    path = Path(inputs.run_dir) / video.labels
    if not path.is_file():
        raise InputError(f"answerer 'field-4d': labels file '{path}' does not exist")
    labels = read_labels(path)
    if labels.camera is None:
        raise InputError(f"answerer 'field-4d': '{path}' has no 'camera'; field-4d projects through the input camera")
    return labels.camera.model_dump(mode="json")
