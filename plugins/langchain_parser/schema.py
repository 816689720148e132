"""`CommandPlan`, the tool the chat model fills in, and `to_plan`, its conversion into a validated `Plan`.

The model's answer is data, never code. pydantic checks every field against closed vocabularies
(modes, directions, speeds, edit ops, colour names) and bounds (counts 1..16, at most 8 objects,
nouns of one lower-case word); `to_plan` then rebuilds a `Plan` from the checked values only:

- nouns must occur in the command (as written, or its singular / plural), so a model cannot invent
  objects or smuggle text into a target; 'them' / 'they' become 'it';
- colours go through `worldsim.colors.canonical_color` ('grey' -> 'gray');
- the edit's `op` must be one of the edit ops on offer (`available_ops`: the ops the installed editors
  declare, `worldsim.edit_ops.installed_ops`; the built-in ops when no editor is installed), and its
  parameters must validate against that op's `EditParams` model (e.g. scale's factor in (0.1, 10]);
- the edit is made consistent the way the `rules` parser shapes it: the target is the first object,
  a recolour gives every listed object the new colour, a move fills `plan.motion` with the edit's
  direction, other edits leave the motion still, fields that do not belong to the op are dropped;
- scene words are kept only when every word occurs in the command (otherwise dropped);
- the camera (`CameraOut`, GEN only) is one of `CameraSpec`'s moves; follow's target (and orbit's, when
  given) must be an object of the plan ('it' and an unsaid follow target are the first object), the target
  of any other move is dropped, and an unknown move ('zoom-in', 'wobble') is an invalid answer naming it,
  as in the `rules` parser. An EDIT answer with a moving camera is invalid: an edit keeps the scene's camera.

The edit's parameters are typed fields, not a free-form object: `color`, `direction` and `factor`
(the parameters of the built-in ops recolor, move and scale), because tool-calling models fill a
closed set of typed, described fields far more reliably than an open JSON object, and an enum or a
number bound is checked by the tool schema itself. An installed op with other parameters gets them
from `params` (name -> value); whatever the op's model does not declare is dropped.
`command_plan_for(ops)` is `CommandPlan` with `edit.op` an enum of the ops on offer (what the chat
model is bound to); `CommandPlan` itself takes any op name and `to_plan` checks it.

Nothing here imports LangChain: the schema is plain pydantic, so it can be tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from worldsim.colors import ALIASES, COLORS, canonical_color
from worldsim.objects import plural_of, singular
from worldsim.types.edits import BUILTIN_OPS, EditParams
from worldsim.types.plan import CAMERA_MOVES, CameraMove, CameraSpec, Direction, EditSpec, MotionSpec, ObjectSpec, Plan, Speed

TOOL_NAME = "CommandPlan"
COLOR_WORDS: tuple[str, ...] = tuple(COLORS) + tuple(ALIASES)
ColorWord = Literal[COLOR_WORDS]  # type: ignore[valid-type]
PRONOUNS = frozenset({"it", "them", "they", "itself", "themselves", "this", "that"})
MAX_NOUN_CHARS = 24
MAX_OBJECTS = 8
MAX_SCENE_CHARS = 200
_NOUN = re.compile(r"[a-z]+(?:-[a-z]+)?")
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


class InvalidOutput(ValueError):
    """The model's answer does not describe a valid plan for the command (the message is one line)."""


def short(value: object, limit: int = 60) -> str:
    """One-line, bounded text of a value for error messages (never the whole of a hostile string)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(exc: BaseException, limit: int = 240) -> str:
    """The first problem of a validation error as `where=value: message`, on one bounded line."""
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "answer"
        return short(f"{where}={short(repr(err.get('input')), 60)}: {err['msg']}", limit)
    text = " ".join(str(exc).split()).split(" For troubleshooting, visit:")[0]  # langchain's trailing docs link
    return short(text or type(exc).__name__, limit)


def _lower(value):
    return " ".join(value.split()).lower() if isinstance(value, str) else value


def _direction(value):
    return re.sub(r"[\s_]+", "-", value.strip().lower()) if isinstance(value, str) else value


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectOut(_Answer):
    """One kind of object named in the command."""

    name: str = Field(
        max_length=MAX_NOUN_CHARS,
        description="the object's noun as written in the command: one lower-case word, singular ('ball', 'bus')",
    )
    color: ColorWord | None = Field(default=None, description="its colour when the command names one, else null")
    count: int = Field(default=1, ge=1, le=16, description="how many of them, 1 to 16")

    lower_words = field_validator("name", "color", mode="before")(_lower)

    @field_validator("name")
    @classmethod
    def _one_word(cls, name: str) -> str:
        if not _NOUN.fullmatch(name):
            raise ValueError("must be one lower-case word (letters, at most one hyphen)")
        return name


class MotionOut(_Answer):
    """How the objects move (generate commands, and edits with op 'move')."""

    direction: Direction = Field(default="none", description="heading in image space; 'none' when it stays in place")
    speed: Speed = Field(default="normal")
    spin: bool = Field(default=False, description="true when the object spins or rotates")

    normalise_direction = field_validator("direction", mode="before")(_direction)
    lower_words = field_validator("speed", mode="before")(_lower)


def _camera_move(value):
    """'Pan Left', 'pan_left', 'orbit' -> 'pan-left', 'pan-left', 'orbit-left'; an unknown move is refused naming it."""
    if not isinstance(value, str):
        return value
    move = re.sub(r"[\s_]+", "-", value.strip().lower())
    move = {"orbit": "orbit-left", "none": "static", "fixed": "static", "tracking": "follow"}.get(move, move)
    if move not in CAMERA_MOVES:
        raise ValueError(f"unknown camera motion '{short(value, 30)}'; accepted: {', '.join(CAMERA_MOVES)}")
    return move


class CameraOut(_Answer):
    """How the camera moves over the clip, in film terms from the camera operator's view (GEN only)."""

    motion: CameraMove = Field(
        default="static",
        description="static; pan-left/right (turns in place); tilt-up/down (turns up/down in place); dolly-in/out "
                    "(moves forward/back; a zoom is not a dolly); truck-left/right (moves sideways); orbit-left/right "
                    "(circles the target; orbit-left = to the camera's left = clockwise seen from above, the default); "
                    "follow (moves with the target)",
    )
    speed: Speed = Field(default="normal", description="the camera's own speed words ('pans slowly' = slow), never the object's")
    target: str | None = Field(
        default=None, max_length=MAX_NOUN_CHARS,
        description="noun of the object followed (follow: required) or orbited (orbit: optional), one of the objects; else null",
    )

    check_motion = field_validator("motion", mode="before")(_camera_move)
    lower_words = field_validator("speed", "target", mode="before")(_lower)


ParamValue = str | int | float | bool
TYPED_PARAMS = ("color", "direction", "factor")  # op parameters with their own field in EditOut


class EditOut(_Answer):
    """The change an edit command asks for."""

    op: str = Field(max_length=40, pattern=r"^[a-z][a-z0-9_-]*$", description="the edit op, one of the ops the prompt lists")
    target: str = Field(
        max_length=MAX_NOUN_CHARS,
        description="noun of the object to edit, one lower-case word from the command, or 'it' for it / them",
    )
    color: ColorWord | None = Field(default=None, description="the new colour (ops with a color parameter: recolor)")
    direction: Direction | None = Field(default=None, description="the new heading (ops with a direction parameter: move)")
    factor: float | None = Field(default=None, gt=0, le=100, description="the size multiplier (ops with a factor parameter: "
                                 "scale; 2 = twice as big, 0.5 = half the size)")
    params: dict[str, ParamValue] | None = Field(default=None, max_length=8, description="other parameters of the op, by "
                                                 "name, when the prompt lists any; else null")

    lower_words = field_validator("op", "target", "color", mode="before")(_lower)
    normalise_direction = field_validator("direction", mode="before")(_direction)

    @field_validator("target")
    @classmethod
    def _one_word(cls, target: str) -> str:
        if not _NOUN.fullmatch(target):
            raise ValueError("must be one lower-case word (a noun from the command, or 'it')")
        return target


class CommandPlan(_Answer):
    """Record the structured form of one command about a video scene.

    mode GEN: the command describes a new scene (objects, motion). mode EDIT: it changes an existing
    scene (edit op, target and the op's parameters).
    """

    mode: Literal["GEN", "EDIT"] = Field(description="GEN for a new scene, EDIT for a change to an existing one")
    objects: list[ObjectOut] = Field(default_factory=list, max_length=MAX_OBJECTS, description="the objects named, in order")
    motion: MotionOut | None = Field(default=None, description="the motion (GEN, or EDIT with op 'move')")
    edit: EditOut | None = Field(default=None, description="the edit (EDIT only; null for GEN)")
    scene: str | None = Field(
        default=None, max_length=MAX_SCENE_CHARS,
        description="the command's words about the setting ('in a sunny park'), else null",
    )
    camera: CameraOut | None = Field(
        default=None, description="how the camera moves (GEN only); null or static when the command says nothing about it",
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, mode):
        if isinstance(mode, str):
            mode = mode.strip().upper()
            return {"GENERATE": "GEN", "GENERATION": "GEN", "EDITING": "EDIT"}.get(mode, mode)
        return mode


def available_ops() -> dict[str, type[EditParams]]:
    """op name -> params model of every op an installed editor declares (the first editor by name wins), in the
    order built-in ops first; the built-in ops when no editor is installed."""
    from worldsim import edit_ops  # the registry loads plugins: only when a plan is checked or a prompt written

    installed = {op: impls[0][1] for op, impls in edit_ops.installed_ops().items()}
    if not installed:
        return {p.op: p for p in BUILTIN_OPS}
    order = [p.op for p in BUILTIN_OPS if p.op in installed] + sorted(op for op in installed if op not in {p.op for p in BUILTIN_OPS})
    return {op: installed[op] for op in order}


def command_plan_for(ops: Sequence[str]) -> type[CommandPlan]:
    """`CommandPlan` whose `edit.op` is an enum of `ops` (the tool the chat model is bound to)."""
    if not ops:
        return CommandPlan
    op_type = Literal[tuple(ops)]  # type: ignore[valid-type]
    edit = create_model("EditOut", __base__=EditOut, __doc__=EditOut.__doc__,
                        op=(op_type, Field(description=f"the edit op: {', '.join(ops)}")))
    return create_model(TOOL_NAME, __base__=CommandPlan, __doc__=CommandPlan.__doc__,
                        edit=(edit | None, Field(default=None, description="the edit (EDIT only; null for GEN)")))


# --- conversion ------------------------------------------------------------------------------------
def command_words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower().replace("\u2019", "'")))


def _noun(name: str) -> str:
    """'buses' -> 'bus' for known nouns; pronouns -> 'it'; other words unchanged."""
    if name in PRONOUNS:
        return "it"
    return singular(name) or name


def _occurs(noun: str, words: frozenset[str]) -> bool:
    forms = {noun, plural_of(noun), noun + "s", noun + "es"}
    return any(w in forms or singular(w) == noun for w in words) or any(
        noun in w.split("-") for w in words if "-" in w
    )


def _grounded_noun(name: str, words: frozenset[str], where: str) -> str:
    noun = _noun(name)
    if noun != "it" and not _occurs(noun, words):
        raise InvalidOutput(f"{where}={short(name, 30)!r} does not occur in the command; use a noun the command names")
    return noun


def _scene(scene: str | None, words: frozenset[str]) -> str | None:
    if not scene:
        return None
    scene = " ".join(scene.split()).lower()
    scene_words = _WORD.findall(scene)
    if not scene_words or any(w not in words for w in scene_words) or not re.fullmatch(r"[a-z0-9 ,'-]+", scene):
        return None  # not the command's own words: drop it rather than carry model text into captions
    return scene


def to_plan(answer: CommandPlan, text: str, ops: Mapping[str, type[EditParams]] | None = None) -> Plan:
    """The validated `Plan` for `text`; raises `InvalidOutput` (one line) when the answer does not fit.
    `ops`: the edit ops on offer (default `available_ops()`)."""
    words = command_words(text)
    objects: list[ObjectSpec] = []
    for k, o in enumerate(answer.objects):
        noun = _grounded_noun(o.name, words, f"objects.{k}.name")
        if noun != "it":
            objects.append(ObjectSpec(name=noun, color=canonical_color(o.color) if o.color else None, count=o.count))
    motion = answer.motion or MotionOut()
    scene = _scene(answer.scene, words)
    try:
        if answer.mode == "GEN":
            if answer.edit is not None:
                raise InvalidOutput("mode=GEN but an edit was given; a new scene has edit=null")
            if not objects:
                raise InvalidOutput("mode=GEN needs at least one object from the command")
            return Plan(
                mode="generate", text=text, objects=tuple(objects), scene=scene,
                motion=MotionSpec(direction=motion.direction, speed=motion.speed, spin=motion.spin),
                camera=_camera(answer.camera, objects, words),
            )
        if answer.camera is not None and answer.camera.motion != "static":
            raise InvalidOutput(f"mode=EDIT with camera.motion={answer.camera.motion}: an edit keeps the scene's camera; "
                                "camera is null for EDIT")
        if answer.edit is None:
            raise InvalidOutput("mode=EDIT needs an edit {op, target, and the op's parameters}")
        return _edit_plan(answer.edit, objects, motion, scene, text, words, available_ops() if ops is None else ops)
    except ValidationError as exc:
        raise InvalidOutput(describe(exc)) from None


def _camera(camera: CameraOut | None, objects: list[ObjectSpec], words: frozenset[str]) -> CameraSpec:
    """The plan's camera: follow's target (and orbit's, when given) is an object of the plan; 'it' and an unsaid
    follow target are the first object; other moves take no target."""
    if camera is None:
        return CameraSpec()
    names = [o.name for o in objects]
    target = None
    if camera.motion == "follow" or camera.motion.startswith("orbit"):
        noun = _grounded_noun(camera.target, words, "camera.target") if camera.target else None
        if noun == "it" or (noun is None and camera.motion == "follow"):
            noun = names[0]
        if noun is not None and noun not in names:
            raise InvalidOutput(f"camera.target={short(camera.target, 30)!r} is not an object of the plan; objects: "
                                f"{', '.join(names)}")
        target = noun
    return CameraSpec(motion=camera.motion, speed=camera.speed, target=target)


def _edit_plan(
    edit: EditOut, objects: list[ObjectSpec], motion: MotionOut, scene: str | None, text: str, words: frozenset[str],
    ops: Mapping[str, type[EditParams]],
) -> Plan:
    model = ops.get(edit.op)
    if model is None:
        raise InvalidOutput(f"edit.op={short(edit.op, 30)!r} is not an edit op on offer; accepted: {', '.join(ops) or 'none'}")
    target = _grounded_noun(edit.target, words, "edit.target")
    if target != "it":  # the target leads the object list, as the rules parser lists it
        first = next((o for o in objects if o.name == target), ObjectSpec(name=target))
        objects = [first, *(o for o in objects if o is not first)]
    typed = {name: getattr(edit, name) for name in TYPED_PARAMS}
    given = {**(edit.params or {}), **{k: v for k, v in typed.items() if v is not None}}
    if "direction" in model.model_fields and "direction" not in given and motion.direction != "none":
        given["direction"] = motion.direction  # 'make it drive left': the heading given as the motion only
    params = {k: v for k, v in given.items() if k in model.model_fields}  # fields that do not belong to the op: dropped
    for name, field in model.model_fields.items():
        if field.is_required() and name not in params:
            hint = " (use 'none' for staying in place)" if name == "direction" else ""
            where = name if name in TYPED_PARAMS else f"params.{name}"
            raise InvalidOutput(f"edit.op={edit.op} needs edit.{where}: {short(field.description or name, 80)}{hint}")
    try:
        params = model.model_validate(params).model_dump(mode="json")
    except ValidationError as exc:  # described with the value bounded: a hostile string is never echoed in full
        raise InvalidOutput(f"edit.{describe(exc)} ({edit.op} takes {', '.join(model.model_fields) or 'no parameters'})") from None
    spec = EditSpec(op=edit.op, target=target, params=params)
    still = MotionSpec()
    if edit.op == "recolor" and params.get("color"):
        objects = [o.model_copy(update={"color": params["color"]}) for o in objects]
    elif edit.op == "move":
        still = MotionSpec(direction=params.get("direction", motion.direction), speed=motion.speed, spin=motion.spin)
    return Plan(mode="edit", text=text, objects=tuple(objects), motion=still, edit=spec, scene=scene)
