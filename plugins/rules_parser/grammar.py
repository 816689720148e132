"""The `rules` parser: a deterministic grammar from an English command to a `Plan`, no ML.

A few passes over a token list:
1. normalise: lower-case tokens, multi-word phrases rewritten (`lexicon.REWRITES`), fillers dropped;
2. the first word picks the mode: an edit verb ('paint', 'delete', 'make the ...') or else generate;
3. noun phrases (`phrases.py`) give the objects, the words after them the motion and scene (`motion.py`).
Before 2., the camera's clause ('as the camera pans slowly to the right', 'tracking shot of ...') is cut out
of the tokens and read into `plan.camera` (`camera.py`), so its headings and speed words never reach the
objects' motion, nor theirs the camera's. A command without camera words keeps all its tokens and gives
the plan it gave before (camera static).

Edits with several objects ('make the fish and the seaweed black') target the first noun and list
every noun in `plan.objects`: with the new colour for a recolour, with the colour that identifies it
for remove / extract / move / scale. A move edit also fills `plan.motion`; other edits leave it still.

Scale edits ('make the ball bigger', 'shrink it', 'make the cube three times as big', 'scale the ball by
1.5') give `EditSpec(op="scale", params={"factor": F})`; the size words are read by `size.py`.

Words the grammar does not know are never dropped where they could change the plan:
- counts: number words up to 'ninety-nine', 'a dozen', 'a hundred', 'two hundred', 'hundreds of' and digits
  are read; a count outside 1-16 (ObjectSpec.count) is a ParseError naming the phrase, the value and the
  range ('seventeen balls: count 17 is more than 16; accepted 1-16');
- motion: contradicting headings ('left and right', 'left then right', 'up and down', 'rises and falls') and
  an unknown word right after a motion verb ('rolls sideways', 'runs happily') are ParseErrors naming the
  words and what is accepted (`motion.py`);
- unknown adjectives: a word before the noun that the grammar does not know is read as part of the noun's
  description and ignored ('a soccer ball' is a ball, 'a tired dog' a dog) unless it reads as a colour: a
  colour name the colour table lacks ('chartreuse', 'ultraviolet': `lexicon.COLOR_LIKE`), a colour + 'ish'
  ('reddish') or a hyphenated mix of colours ('blue-green'). Those are refused ('unknown colour ...',
  listing the accepted colours), as a colour the grammar demands is ('paint the car blurple').

Ops of installed editors the grammar does not know ('duplicate the ball', with an editor declaring an op
whose verbs include 'duplicate'): a command whose first word is such a verb, followed by an object
('the ball', 'it', 'two cars'), is an edit with that op, the first object as its target and no
parameters (`worldsim.edit_ops.op_verbs`; the registry is consulted only for such commands). The
grammar's own verbs keep their meaning, and a verb an installed editor declares for a built-in op
('keep the ball': extract) is parsed as that op.
"""

from __future__ import annotations

import re

from pydantic import Field

from worldsim.commands import EXAMPLES, check_command, preview
from worldsim.errors import ParseError
from worldsim.objects import singular
from worldsim.stages import Parser, StageConfig
from worldsim.types.plan import DIRECTIONS, CameraSpec, EditSpec, MotionSpec, ObjectSpec, Plan

from .lexicon import (
    CHANGE_VERBS, COLORED, DETERMINERS, DIRECTION_PARTS, EXTRACT_VERBS, FAST_WORDS, GENERATE_VERBS,
    INDEFINITE, LEADING_FILLERS, MEDIA, MEDIA_LINKS, MOVE_VERBS, NUMBERS, PAINT_VERBS, PRONOUNS,
    PROPERTIES, REMOVE_VERBS, REWRITES, SCALE_VERBS, SCENE_PREPS, SHADES, SIZE_NOUNS, SIZE_VERBS, SLOW_WORDS,
    TRAILING_FILLERS, lemma,
)
from .camera import CameraRead, split_camera
from .motion import read_motion, speed_of, spins, stays_still
from .phrases import NounPhrase, accepted_colors, noun_phrases, required_color
from .size import is_tail, scale_args, size_expression

# Decimals and percentages ('1.5', '50%') are one token; other punctuation becomes ','.
_TOKEN = re.compile(r"\d+\.\d+%?|\d+%|[a-z0-9]+(?:[-'][a-z0-9]+)*|[,;.!?:]")
_LONGEST_REWRITE = max(len(k) for k in REWRITES)


def tokenize(text: str) -> list[str]:
    """'The ball's color, up-left!' -> ['the', 'ball', "'s", 'color', ',', 'up', 'left', ',']."""
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        if not tok[0].isalnum():
            out.append(",")
        elif tok.endswith("'s"):
            out += [tok[:-2], "'s"]
        elif "-" in tok and all(p in DIRECTION_PARTS for p in tok.split("-")):
            out += tok.split("-")
        elif "-" in tok and tok.split("-")[0] in SHADES:  # 'dark-blue' -> 'blue'
            out.append(tok.split("-", 1)[1])
        else:
            out.append(tok)
    return out


def _rewrite(toks: list[str]) -> list[str]:
    out, i = [], 0
    while i < len(toks):
        for size in range(min(_LONGEST_REWRITE, len(toks) - i), 0, -1):
            key = tuple(toks[i : i + size])
            if key in REWRITES:
                out += REWRITES[key]
                i += size
                break
        else:
            out.append(toks[i])
            i += 1
    return out


def normalise(text: str) -> list[str]:
    toks = _rewrite(tokenize(text))
    while toks and toks[0] in LEADING_FILLERS:
        toks = toks[1:]
    while toks and toks[-1] in TRAILING_FILLERS:
        toks = toks[:-1]
    return toks


def _strip_generate_prefix(toks: list[str]) -> tuple[list[str], bool]:
    """'show a red ball ...', 'make two cubes ...', 'a video of a dog ...' -> the described scene."""
    forced = False
    starts_object = len(toks) > 1 and (toks[1] in INDEFINITE or toks[1] in NUMBERS or toks[1].isdigit())
    if toks and (toks[0] in GENERATE_VERBS or (starts_object and toks[0] in CHANGE_VERBS | MOVE_VERBS)):
        toks, forced = toks[1:], True
        if toks[:1] in (["me"], ["us"]):
            toks = toks[1:]
    media = 1 if toks[:1] in (["a"], ["an"]) else 0
    if media < len(toks) and toks[media] in MEDIA:
        toks, forced = toks[media + 1 :], True
        while toks and toks[0] in MEDIA_LINKS:
            toks = toks[1:]
    return toks, forced


def _no_object(text: str) -> ParseError:
    return ParseError(f"no object found in '{preview(text)}'; accepted: {EXAMPLES}")


def parse_command(text: str, max_chars: int = 500) -> Plan:
    """Parse one command; raises ParseError (one line) for text the grammar does not accept."""
    text = check_command(text, max_chars)
    toks, camera = split_camera(normalise(text))
    toks, forced = _strip_generate_prefix(toks)
    if not toks:
        raise _no_object(text)
    plan = None if forced else _edit(toks, text)
    if plan is not None and camera is not None:
        raise ParseError(f"camera move '{preview(camera.word)}' in an edit command; an edit keeps the scene's camera: "
                         f"say the camera's move when generating, e.g. 'A red ball rolls left as the camera pans right'")
    plan = plan or _generate(toks, text)
    return plan if camera is None else plan.model_copy(update={"camera": _camera_spec(camera, plan)})


def _camera_spec(read: CameraRead, plan: Plan) -> CameraSpec:
    """The `CameraSpec` of a camera clause: follow's target (and orbit's, when named) must be an object of the plan;
    'it' / 'them' and an unsaid follow target are its first object."""
    names = [o.name for o in plan.objects]
    target = None
    if read.family == "follow" or read.family.startswith("orbit"):
        np = read.target
        if read.leads and np is not None and names:  # 'the camera follows a dog ...': the dog is the subject
            target = names[0]
        elif np is None or np.name == "it":
            target = names[0] if names and (np is not None or read.family == "follow") else None
        elif np.name in names:
            target = np.name
        else:
            raise ParseError(f"camera target '{preview(np.name)}' is not an object of the command; objects: "
                             f"{', '.join(names) or 'none'}")
        if read.family == "follow" and target is None:
            raise ParseError(f"camera move '{preview(read.word)}' needs an object to follow; accepted: e.g. "
                             f"'the camera follows the red car as it drives right'")
    return CameraSpec(motion=read.family, speed=read.speed, target=target)


# --- generate --------------------------------------------------------------------------------------
def _generate(toks: list[str], text: str) -> Plan:
    scene: list[str] = []
    if toks[0] in SCENE_PREPS and "," in toks:  # 'In a sunny park, a dog runs to the left'
        cut = toks.index(",")
        scene, toks = [" ".join(toks[:cut])], toks[cut + 1 :]
    start = 0
    while start < len(toks) and (toks[start] in SLOW_WORDS | FAST_WORDS or toks[start] == ","):
        start += 1  # 'Slowly, a ball rolls left'
    found, end = noun_phrases(toks, start)
    if not found:
        raise _no_object(text)
    predicate = toks[end:]
    found = _colored(found, predicate)
    motion = read_motion(predicate)
    return Plan(
        mode="generate",
        text=text,
        objects=_specs(found),
        motion=MotionSpec(direction=motion.direction, speed=speed_of(toks), spin=spins(toks)),
        scene=", ".join(scene + list(motion.scene)) or None,
    )


def _colored(found: list[NounPhrase], predicate: list[str]) -> list[NounPhrase]:
    """'a ball colored red rolls left': the colour after 'colored' / 'painted' belongs to the last object."""
    for k, t in enumerate(predicate[:-1]):
        if t in COLORED:
            last = found[-1]
            found = found[:-1] + [NounPhrase(last.name, required_color(predicate[k + 1]), last.count)]
    return found


# --- edit ------------------------------------------------------------------------------------------
def _edit(toks: list[str], text: str) -> Plan | None:
    verb, raw = toks[0], toks[1:]
    rest = _skip_property(raw)
    says_size = any(t in SIZE_NOUNS for t in raw)
    if verb in REMOVE_VERBS:
        return _target_edit("remove", verb, rest, text)
    if verb in EXTRACT_VERBS:
        return _target_edit("extract", verb, rest, text)
    if verb in PAINT_VERBS:
        return _recolor(rest, text)
    if verb in SCALE_VERBS:  # 'shrink the cube', 'scale the ball by 2', 'enlarge it to twice its size'
        return _scale_verb(verb, rest, text)
    if verb in SIZE_VERBS and says_size:  # 'double the size of the ball', 'reduce its size by 25%'
        scaled = _scale(rest, text, lambda ts, i: scale_args(ts, i, SIZE_VERBS[verb]))
        if scaled is not None:
            return scaled
    if verb in CHANGE_VERBS:
        scaled = _scale(rest, text, lambda ts, i: _size_after_change(ts, i, says_size))
        if scaled is not None:  # 'make the ball bigger', 'make it twice as big', 'make the ball shrink'
            return scaled
        found, end = noun_phrases(rest, pronouns=True)
        return _move(rest, text) if found and _has_motion(rest[end:]) else _recolor(rest, text)
    if verb in MOVE_VERBS:  # 'move the bus left'
        return _move(rest, text)
    names_object = not rest or rest[0] in DETERMINERS or rest[0] in PRONOUNS or rest[0] in NUMBERS or rest[0].isdigit()
    if names_object and verb.isalpha() and verb not in SCENE_PREPS and verb not in DETERMINERS and verb not in NUMBERS:
        plan = _installed_op(verb, rest, text)  # 'duplicate the ball', with an editor that declares 'duplicate'
        if plan is not None:
            return plan
    imperative = lemma(verb) == verb and rest[:1] and (rest[0] in DETERMINERS or rest[0] in PRONOUNS)
    if imperative:  # 'roll the ball up'
        return _move(rest, text)
    return None


def _skip_property(toks: list[str]) -> list[str]:
    """'the color of the car to red' -> 'the car to red'."""
    for size in (3, 2):
        head = toks[:size]
        if len(head) == size and head[-1] == "of" and head[-2] in PROPERTIES and (size == 2 or head[0] == "the"):
            return toks[size:]
    return toks


def _has_motion(toks: list[str]) -> bool:
    return read_motion(toks).explicit or stays_still(toks) or spins(toks) or any(lemma(t) for t in toks)


def _targets(toks: list[str], text: str, what: str, example: str = "") -> tuple[list[NounPhrase], int]:
    found, end = noun_phrases(toks, pronouns=True)
    if not found:
        example = example or f"{what} the ball"
        raise ParseError(f"no object to {what} in '{preview(text)}'; accepted: an edit like '{example}'")
    return found, end


def _specs(found: list[NounPhrase], color: str | None = None) -> tuple[ObjectSpec, ...]:
    return tuple(ObjectSpec(name=p.name, color=color or p.color, count=p.count) for p in found if p.name != "it")


def _target_edit(op: str, verb: str, rest: list[str], text: str) -> Plan:
    found, _ = _targets(rest, text, verb)
    return Plan(mode="edit", text=text, objects=_specs(found), edit=EditSpec(op=op, target=found[0].name))


def _recolor(rest: list[str], text: str) -> Plan:
    """'paint the car white', "change the ball's color to blue": the colour is the last word."""
    while len(rest) > 1 and rest[-1] in {"one", "color", "colour", "paint", "shade"}:  # 'a blue one'
        rest = rest[:-1]
    word, body = (rest[-1], rest[:-1]) if rest else ("", [])
    while body and (body[-1] in {"to", "into", "in", "with", "'s", "a", "color", "colour", "paint"} | SHADES):
        body = body[:-1]
    if singular(word) or word in PRONOUNS:
        raise ParseError(f"no colour given in '{preview(text)}'; accepted: {accepted_colors()}")
    found, _ = _targets(body, text, "recolour", example="make the ball blue")
    color = required_color(word)
    return Plan(
        mode="edit",
        text=text,
        objects=_specs(found, color),
        edit=EditSpec(op="recolor", target=found[0].name, color=color),
    )


def _size_after_change(toks: list[str], i: int, says_size: bool) -> tuple[float | None, int] | None:
    """The size after 'make the ball': 'bigger', 'twice as big', 'half the size', or a scale verb ('shrink')."""
    got = size_expression(toks, i, bare=says_size)
    if got is not None:
        return got
    j = i + 1 if toks[i : i + 1] == ["to"] else i  # 'get the ball to grow'
    verb = toks[j] if j < len(toks) else None
    if verb in SCALE_VERBS:
        return scale_args(toks, j + 1, SCALE_VERBS[verb])
    return None


def _scale_body(body: list[str]) -> list[str]:
    """The object words before a size: "the ball's size to" -> 'the ball', 'its size' -> 'it'."""
    body = list(body)
    while len(body) > 1 and body[-1] in {"to", "be", "by", "'s", "is", "so", "of", "until"} | SIZE_NOUNS:
        body.pop()
    if body and body[-1] in ("its", "their"):
        body[-1] = "it"
    return body


def _scale(rest: list[str], text: str, read) -> Plan | None:
    """A scale edit: the first split of `rest` into object words and size words that `read(toks, i)` -> (factor,
    end) accepts (followed only by tail words such as 'than before'); None when there is none."""
    for i in range(1, len(rest) + 1):
        got = read(rest, i)
        if got is None or got[0] is None or not is_tail(rest[got[1] :]):
            continue
        body = _scale_body(rest[:i])
        found, end = noun_phrases(body, pronouns=True)
        if not found or end < len(body):  # words between the object and the size: not this split
            continue
        return Plan(mode="edit", text=text, objects=_specs(found),
                    edit=EditSpec(op="scale", target=found[0].name, params={"factor": round(got[0], 6)}))
    return None


def _scale_verb(verb: str, rest: list[str], text: str) -> Plan:
    """'shrink the cube', 'enlarge the car by 50%', 'scale the ball by 2', 'resize it to half its size'."""
    plan = _scale(rest, text, lambda ts, i: scale_args(ts, i, SCALE_VERBS[verb]))
    if plan is not None:
        return plan
    _targets(_scale_body(rest), text, verb, example=f"{verb} the ball" + (" by 2" if SCALE_VERBS[verb] is None else ""))
    raise ParseError(f"no size factor in '{preview(text)}'; accepted: e.g. '{verb} the ball by 2', "
                     f"'{verb} it to half its size', 'make the ball bigger', 'make it three times as big'")


def _installed_op(verb: str, rest: list[str], text: str) -> Plan | None:
    """An edit with the op an installed editor declares for `verb`; None when no editor declares it."""
    from worldsim import edit_ops  # the registry loads plugins: only for commands that need it

    op = edit_ops.op_verbs().get(verb)
    if op is None:
        return None
    native = {
        "remove": lambda: _target_edit("remove", verb, rest, text),
        "extract": lambda: _target_edit("extract", verb, rest, text),
        "recolor": lambda: _recolor(rest, text),
        "move": lambda: _move(rest, text),
        "scale": lambda: _scale_verb(verb, rest, text) if verb in SCALE_VERBS else None,
    }
    if op in native:
        return native[op]()
    return _target_edit(op, verb, rest, text)


def _move(rest: list[str], text: str) -> Plan:
    """'make the ball move from right to left', 'move the bus to the left', 'make it go up'."""
    found, end = _targets(rest, text, "move", example="move the ball to the left")
    predicate = rest[end:]
    motion = read_motion(predicate)
    still, spin = stays_still(predicate), spins(predicate)
    if not (motion.explicit or still or spin):
        raise ParseError(f"no direction in '{preview(text)}'; accepted: {', '.join(DIRECTIONS)}")
    return Plan(
        mode="edit",
        text=text,
        objects=_specs(found),
        motion=MotionSpec(direction=motion.direction, speed=speed_of(predicate), spin=spin),
        edit=EditSpec(op="move", target=found[0].name, direction=motion.direction),
        scene=", ".join(motion.scene) or None,
    )


class RulesParser(Parser):
    """Offline English grammar: objects, colours, counts, heading, speed, spin, scene words and edits."""

    name = "rules"
    description = "Deterministic offline grammar: English command -> Plan (objects, motion, edits); no ML."

    class Config(StageConfig):
        max_chars: int = Field(default=500, ge=1, le=100_000, description="longest command accepted, in characters")

    def run(self, text: str) -> Plan:
        return parse_command(text, max_chars=self.config.max_chars)
