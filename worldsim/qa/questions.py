"""VLM4D-style multiple-choice questions from a plan and a generator's labels.

Categories (worldsim.types.qa.QUESTION_TYPES):
- translational: "What direction is the red ball moving?" (the heading, its opposite, not moving, absent);
- rotational: "Which way is the blue cube rotating?" (clockwise / counter-clockwise as seen in the image);
- counting: "How many balls are moving to the left?";
- false_positive: a direction question about an object that is not in the scene (answer: it is absent);
- camera_motion (moving camera only, from labels): "Which way is the camera moving?" (left, right, up, down,
  forward, backward, not moving), "Which way is the camera turning?" (left, right, up, down, not turning) and
  "Is the red ball moving, or is only the camera moving?" (only the ball / only the camera / both / neither).

Answers come from the MEASURED motion in labels.json (per-frame object centres, the spin axis seen from the
camera) when labels are given, else from the plan (`target["answer_source"] == "plan"`). Objects whose
measurement is ambiguous (see worldsim/qa/measure.py) get no question, so every stored answer is exact. Everything is
deterministic for a seed: which distractors, which absent object, and the order of the four choices.

Moving camera (labels with `cameras`, or a plan whose camera moves): an object's direction is its motion in the
world as seen from the FIRST frame's camera (labels: `center_first_view`), and the object questions say so
("... moving in the scene, as seen from where the camera started?"); rotation is seen from the first frame's
camera. The camera's own motion is measured from the per-frame cameras in the first camera's axes. A static
camera's questions are exactly those asked before cameras could move (same text, ids and choice order).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from worldsim.colors import COLORS, canonical_color
from worldsim.errors import InputError
from worldsim.objects import OBJECTS, object_kind, plural_of
from worldsim.qa.measure import (AMBIGUOUS, CAMERA_MOVES, CAMERA_TURNS, camera_move_direction, camera_travel, camera_turn,
                                 camera_turn_direction, displacement, ego_motion, measured_direction, motion_state, rotation_sense,
                                 scene_distance)
from worldsim.types.plan import DIRECTIONS, Plan
from worldsim.types.qa import LETTERS, QAItem

DIRECTION_TEXT: dict[str, str] = {
    "left": "moving left",
    "right": "moving right",
    "up": "moving up",
    "down": "moving down",
    "up-left": "moving up and to the left",
    "up-right": "moving up and to the right",
    "down-left": "moving down and to the left",
    "down-right": "moving down and to the right",
    "none": "not moving",
}
# How a direction reads after "moving" in a counting question.
DIRECTION_PHRASE: dict[str, str] = {
    "left": "to the left", "right": "to the right", "up": "up", "down": "down",
    "up-left": "up and to the left", "up-right": "up and to the right",
    "down-left": "down and to the left", "down-right": "down and to the right",
}
OPPOSITE: dict[str, str] = {
    "left": "right", "right": "left", "up": "down", "down": "up",
    "up-left": "down-right", "down-right": "up-left", "up-right": "down-left", "down-left": "up-right",
}
ROTATION_TEXT: dict[str, str] = {
    "clockwise": "rotating clockwise",
    "counter-clockwise": "rotating counter-clockwise",
    "none": "not rotating",
}
CAMERA_MOVE_TEXT: dict[str, str] = {
    "left": "moving left", "right": "moving right", "up": "moving up", "down": "moving down",
    "forward": "moving forward", "backward": "moving backward", "none": "not moving",
}
CAMERA_TURN_TEXT: dict[str, str] = {
    "left": "turning left", "right": "turning right", "up": "turning up", "down": "turning down", "none": "not turning",
}
CAMERA_OPPOSITE: dict[str, str] = {"left": "right", "right": "left", "up": "down", "down": "up",
                                   "forward": "backward", "backward": "forward"}
# Said after the object in a question when the camera moves: directions are world motion seen from the first frame's camera.
FIRST_VIEW = "in the scene, as seen from where the camera started"
MOVING = tuple(d for d in DIRECTIONS if d != "none")
# Colours an absent object may be given: no neutrals (they resemble the ground, sky and shading).
ABSENT_COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan", "magenta", "lime",
                 "teal", "brown", "navy", "maroon", "gold")
MIN_COLOR_DISTANCE = 0.55  # RGB distance an absent object's colour keeps from every colour in the scene


@dataclass
class Group:
    """Instances that one noun phrase ("the red balls") refers to."""

    name: str
    color: str | None
    ids: list[int] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)  # per instance
    rotations: list[str] = field(default_factory=list)  # per instance
    displacements: list = field(default_factory=list)  # per instance [dx, dy] or None
    states: list[str] = field(default_factory=list)  # per instance: moving / still / ambiguous (measure.motion_state)

    @property
    def count(self) -> int:
        return len(self.ids)

    def agreed(self, values: list[str]) -> str:
        return values[0] if values and all(v == values[0] for v in values) else AMBIGUOUS


def noun_phrase(name: str, color: str | None, count: int = 1) -> str:
    noun = name if count == 1 else plural_of(name)
    return f"{color} {noun}" if color else noun


def absent_text(name: str, color: str | None, count: int = 1) -> str:
    """The 'not in the scene' option, phrased as VLM4D phrases it ("no robotic arm there"): VLM4D's statistics
    count a question as a false positive exactly when its answer text starts with "no "."""
    return f"no {noun_phrase(name, color, count)} there"


def ego_texts(name: str, color: str | None, count: int = 1) -> dict[str, str]:
    """The four options of "Is the <object> moving, or is only the camera moving?" by measure.ego_motion value."""
    ref, verb = noun_phrase(name, color, count), "is" if count == 1 else "are"
    return {"object": f"only the {ref} {verb} moving", "camera": "only the camera is moving",
            "both": f"both the {ref} and the camera are moving", "neither": f"neither the {ref} nor the camera is moving"}


def _first_view_frames(frames: list[dict]) -> list[dict]:
    """A moving camera's object frames with `center` = `center_first_view` (world motion seen from the first camera)."""
    return [{**f, "center": f.get("center_first_view")} for f in frames]


def _groups_from_labels(labels: dict) -> list[Group]:
    groups: dict[tuple, Group] = {}
    viewmat = labels["camera"]["viewmat"]  # the first frame's camera when the camera moves
    moving_camera = bool(labels.get("cameras"))
    for obj in labels["objects"]:
        g = groups.setdefault((obj["name"], obj.get("color")), Group(obj["name"], obj.get("color")))
        g.ids.append(int(obj["id"]))
        frames = _first_view_frames(obj["frames"]) if moving_camera else obj["frames"]
        heading = measured_direction(frames)
        g.directions.append(heading)
        g.rotations.append(rotation_sense(obj.get("spin_axis", (0, 0, 0)), obj.get("angular_speed_rad_per_frame", 0.0), viewmat,
                                          translating=heading != "none"))
        d = displacement(frames)
        g.displacements.append(None if d is None else [round(d[0], 4), round(d[1], 4)])
        g.states.append(motion_state(d))
    return list(groups.values())


def camera_motion_truth(labels: dict) -> dict | None:
    """How a moving camera moves, measured from labels: {move, turn, travel, turn_deg, distance} (move / turn may
    be AMBIGUOUS; move is AMBIGUOUS too when no object position gives the distance to the scene); None for a
    static camera."""
    cameras = labels.get("cameras")
    if not cameras:
        return None
    viewmats = [c["viewmat"] for c in cameras]
    points = [o["frames"][0]["position"] for o in labels.get("objects", []) if o.get("frames") and o["frames"][0].get("position")]
    distance = scene_distance(viewmats[0], points) if points else None
    travel = camera_travel(viewmats, distance) if distance else None
    turn = camera_turn(viewmats)
    return {"move": camera_move_direction(travel) if travel else AMBIGUOUS, "turn": camera_turn_direction(turn),
            "travel": None if travel is None else [round(v, 4) for v in travel],
            "turn_deg": [round(v, 3) for v in turn], "distance": None if distance is None else round(distance, 4)}


def _plan_rotation(plan: Plan, name: str) -> str:
    """What the plan says about rotation: rolling objects turn with their heading; a plan's spin has no sense."""
    if plan.motion.spin:
        return AMBIGUOUS
    if object_kind(name).spins and plan.motion.direction in ("left", "right"):
        return "clockwise" if plan.motion.direction == "right" else "counter-clockwise"
    return "none"


def _groups_from_plan(plan: Plan) -> list[Group]:
    groups: dict[tuple, Group] = {}
    next_id = 1
    for spec in plan.objects:
        g = groups.setdefault((spec.name, spec.color), Group(spec.name, spec.color))
        for _ in range(spec.count):
            g.ids.append(next_id)
            g.directions.append(plan.motion.direction)
            g.rotations.append(_plan_rotation(plan, spec.name))
            g.displacements.append(None)
            g.states.append("still" if plan.motion.direction == "none" else "moving")
            next_id += 1
    return list(groups.values())


def _referable(groups: list[Group]) -> list[Group]:
    """Groups a noun phrase names unambiguously: a colourless group is dropped when another shares its noun."""
    names = [g.name for g in groups]
    return [g for g in groups if g.color or names.count(g.name) == 1]


def _choices(texts: list[str], answer: str, rng: random.Random) -> tuple[dict[str, str], str]:
    if len(set(texts)) != len(LETTERS) or answer not in texts:  # an internal bug, never the user's input
        raise ValueError(f"choices {texts!r} must be {len(LETTERS)} distinct texts including the answer {answer!r}")
    order = list(texts)
    rng.shuffle(order)
    choices = dict(zip(LETTERS, order))
    return choices, LETTERS[order.index(answer)]


def _absent_object(groups: list[Group], rng: random.Random) -> tuple[str, str]:
    """A (noun, colour) that is certainly not in the scene: a noun of another shape family than every object
    (when one is left) and a colour far from every named colour there."""
    names = {g.name for g in groups}
    families = {object_kind(g.name).family for g in groups}
    nouns = sorted(n for n in OBJECTS if n not in names and OBJECTS[n].family not in families)
    if not nouns:  # every family is in the scene: at least no noun of the same kind ('plane' for 'airplane')
        kinds = {(object_kind(n).family, object_kind(n).size) for n in names}
        nouns = sorted(n for n in OBJECTS if n not in names and (OBJECTS[n].family, OBJECTS[n].size) not in kinds)
    scene_rgb = [COLORS[c] for c in (canonical_color(g.color) for g in groups if g.color) if c]
    dist = lambda a, b: sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5
    colors = [c for c in ABSENT_COLORS if all(dist(COLORS[c], s) >= MIN_COLOR_DISTANCE for s in scene_rgb)]
    colors = colors or [c for c in ABSENT_COLORS if c not in {g.color for g in groups}]
    return rng.choice(nouns), rng.choice(colors)


def generate_questions(plan: Plan, labels: dict | None, seed: int, video: str, generator: str,
                       scene_id: str | None = None) -> list[QAItem]:
    """The questions one clip supports, in category order; ids are f"{scene_id}_{n}" (n = 1, 2, ... over the
    clip's questions: VLM4D's statistics read the number after the last underscore).

    plan: the generate plan the clip was made from. labels: the generator's labels.json (None for a generator
    without labels: answers then follow the plan). video: the clip's path as the dataset stores it.
    scene_id: defaults to the video file's stem.
    """
    if plan.mode != "generate":
        raise InputError(f"questions need a generate plan; got a plan with mode '{plan.mode}'")
    scene = scene_id or Path(video).stem
    source = "labels" if labels else "plan"
    moving_camera = bool(labels.get("cameras")) if labels else plan.camera.moving
    frame_ref = f" {FIRST_VIEW}" if moving_camera else ""  # static camera: the questions asked before cameras moved
    every = _groups_from_labels(labels) if labels else _groups_from_plan(plan)
    groups = _referable(every)
    pick = random.Random(f"vlm4d-qa:{seed}")
    plan_json = plan.model_dump(mode="json")
    items: list[QAItem] = []

    def add(qtype: str, question: str, free_form: str, texts: list[str], answer: str, target: dict) -> None:
        qid = f"{scene}_{len(items) + 1}"
        choices, letter = _choices(texts, answer, random.Random(f"vlm4d-qa:{seed}:{qid}:{question}"))
        items.append(QAItem(id=qid, video=video, question_type=qtype, question=question, choices=choices,
                            answer=letter, free_form=free_form, target={**target, "answer_source": source},
                            plan=plan_json, seed=seed, generator=generator))

    def ask_direction(qtype: str, name: str, color: str | None, count: int, truth: str, target: dict) -> None:
        ref = noun_phrase(name, color, count)
        verb = "is" if count == 1 else "are"
        absent = absent_text(name, color, count)
        if qtype == "false_positive":
            moving = [d for d in (g.agreed(g.directions) for g in every) if d in MOVING]
            shown = moving[0] if moving else pick.choice(MOVING)
            texts, answer = [absent, DIRECTION_TEXT[shown], DIRECTION_TEXT[OPPOSITE[shown]], DIRECTION_TEXT["none"]], absent
        elif truth == "none":
            other = pick.choice(MOVING)
            texts, answer = [DIRECTION_TEXT["none"], DIRECTION_TEXT[other], DIRECTION_TEXT[OPPOSITE[other]], absent], DIRECTION_TEXT["none"]
        else:
            texts, answer = [DIRECTION_TEXT[truth], DIRECTION_TEXT[OPPOSITE[truth]], DIRECTION_TEXT["none"], absent], DIRECTION_TEXT[truth]
        where = frame_ref or " in the video"
        add(qtype, f"What direction {verb} the {ref} moving{frame_ref}?",
            f"In which direction {verb} the {ref} moving{where}? Answer in a few words; if there {verb} no {ref} in the video, say so.",
            texts, answer, target)

    for g in groups:  # translational: one question per referable group whose instances agree
        d = g.agreed(g.directions)
        if d != AMBIGUOUS:
            ask_direction("translational", g.name, g.color, g.count, d,
                          {"name": g.name, "color": g.color, "count": g.count, "instances": g.ids, "present": True,
                           "direction": d, "plan_direction": plan.motion.direction, "displacements": g.displacements})

    for g in groups:  # rotational: groups that turn, with a sense the image shows unambiguously
        r = g.agreed(g.rotations)
        if r in ("clockwise", "counter-clockwise"):
            ref, verb = noun_phrase(g.name, g.color, g.count), "is" if g.count == 1 else "are"
            absent = absent_text(g.name, g.color, g.count)
            seen = "as seen from where the camera started" if moving_camera else "as seen in the video"
            add("rotational", f"Which way {verb} the {ref} rotating, {seen}?",
                f"Which way {verb} the {ref} rotating {seen}? Answer in a few words; if there {verb} no {ref} in the video, say so.",
                [ROTATION_TEXT["clockwise"], ROTATION_TEXT["counter-clockwise"], ROTATION_TEXT["none"], absent], ROTATION_TEXT[r],
                {"name": g.name, "color": g.color, "count": g.count, "instances": g.ids, "present": True, "rotation": r,
                 "plan_spin": plan.motion.spin})

    for noun in dict.fromkeys(g.name for g in every):  # counting: every instance of the noun, any colour, needs a clear heading
        dirs = [d for g in every if g.name == noun for d in g.directions]
        if AMBIGUOUS in dirs:
            continue
        asked = max(dict.fromkeys(dirs), key=dirs.count)
        if pick.random() < 0.25:  # now and then ask about a heading nobody has: the answer is 0
            asked = OPPOSITE[asked] if asked in OPPOSITE else pick.choice(MOVING)
        n = dirs.count(asked)
        others = pick.sample([c for c in range(0, max(n + 3, 4) + 1) if c != n], 3)
        plural = plural_of(noun)
        how = "are not moving" if asked == "none" else f"are moving {DIRECTION_PHRASE[asked]}"
        add("counting", f"How many {plural} {how}{frame_ref}?",
            f"How many {plural} {how}{frame_ref or ' in the video'}? Answer with a number.",
            [str(n)] + [str(c) for c in others], str(n),
            {"name": noun, "color": None, "direction": asked, "count": n, "present": n > 0})

    name, color = _absent_object(every, pick)  # false positive: an object that is not there
    ask_direction("false_positive", name, color, 1, "absent",
                  {"name": name, "color": color, "count": 0, "instances": [], "present": False, "direction": None})

    camera = camera_motion_truth(labels) if labels else None
    if camera is not None:  # moving camera: the camera's own motion, then who moves
        shuffle = random.Random(f"vlm4d-qa:{seed}:camera")

        def options(truth: str, values: tuple[str, ...], text: dict[str, str]) -> list[str]:
            if truth == "none":
                return [text["none"], *shuffle.sample([text[v] for v in values], 3)]
            across = [v for v in values if v not in (truth, CAMERA_OPPOSITE[truth])]
            return [text[truth], text[CAMERA_OPPOSITE[truth]], text["none"], text[shuffle.choice(across)]]

        info = {"camera": True, "travel": camera["travel"], "turn_deg": camera["turn_deg"], "distance": camera["distance"]}
        if camera["move"] != AMBIGUOUS:
            add("camera_motion", "Which way is the camera moving?",
                "Which way is the camera moving in the video (left, right, up, down, forward or backward)? Answer in a few words.",
                options(camera["move"], CAMERA_MOVES, CAMERA_MOVE_TEXT), CAMERA_MOVE_TEXT[camera["move"]],
                {**info, "asked": "camera_move", "move": camera["move"]})
        if camera["turn"] != AMBIGUOUS:
            add("camera_motion", "Which way is the camera turning?",
                "Which way is the camera turning in the video (left, right, up or down)? Answer in a few words.",
                options(camera["turn"], CAMERA_TURNS, CAMERA_TURN_TEXT), CAMERA_TURN_TEXT[camera["turn"]],
                {**info, "asked": "camera_turn", "turn": camera["turn"]})
        if AMBIGUOUS not in (camera["move"], camera["turn"]):
            camera_moving = camera["move"] != "none" or camera["turn"] != "none"
            for g in groups:
                who = ego_motion(g.agreed(g.states), camera_moving)
                if who == AMBIGUOUS:
                    continue
                ref, verb = noun_phrase(g.name, g.color, g.count), "is" if g.count == 1 else "are"
                texts = ego_texts(g.name, g.color, g.count)
                add("camera_motion", f"{verb.capitalize()} the {ref} moving, or is only the camera moving?",
                    f"{verb.capitalize()} the {ref} moving in the scene, or is only the camera moving? Answer in a few words.",
                    list(texts.values()), texts[who],
                    {**info, "asked": "object_or_camera", "name": g.name, "color": g.color, "count": g.count, "instances": g.ids,
                     "present": True, "ego": who, "object_moving": who in ("object", "both"), "camera_moving": camera_moving})
    return items


VLM4D_QUESTION_TYPE = "multiple-choice"


def to_vlm4d(item: QAItem, video: str | None = None) -> dict:
    """The record of a question in VLM4D's own format (docs/FORMATS.md): id, video, question_type
    "multiple-choice", question, choices, answer (the TEXT of the right choice), plus `task`, our category.
    `video`: the clip as the JSON file that holds the record names it (default: `item.video`)."""
    return {"id": item.id, "video": item.video if video is None else video, "question_type": VLM4D_QUESTION_TYPE,
            "question": item.question, "choices": dict(item.choices), "answer": item.choices[item.answer],
            "task": item.question_type}
