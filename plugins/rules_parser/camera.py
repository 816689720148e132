"""Camera phrases: how the camera moves (`Plan.camera`), read out of a command before its objects and motion.

The camera's clause is cut out of the token list first, so its words never reach the object's motion: in
'a ball rolls quickly left while the camera slowly pans right' the ball is fast and heads left, the camera
pans right slowly. A command without camera words keeps every token, and so the very plan it gave before.

Where a camera clause starts (the anchor), always at the start of the command or after a clause boundary
(',', 'while', 'as', 'and', ...; '.', ';', ':' are commas by then):
- the camera as subject: '[the|a] [handheld|fixed|slow ...] camera VERB ...' ('as the camera pans right'),
  also after 'with' ('with the camera panning left') or a shooting verb ('filmed with a handheld camera
  panning right', 'seen from a static camera', 'followed by the camera');
- a kind of shot: 'tracking shot (of|following) X', 'static shot of X', 'locked-off shot', 'orbit shot around X',
  also after 'in' ('... drives right in a tracking shot following the car');
- a move named as a noun or participle: 'a slow pan to the left over X', 'panning left, X ...', 'a fast
  dolly in toward X', 'zoom in on X', and the imperatives 'pan left', 'truck right' at the very start
  ('a truck drives left' is a truck: a noun with a determiner or a verb after it is an object);
- 'tripod': the clause holding it ('shot from a tripod', 'shot on a tripod:') says static.
'camera' after any other word ('rolls towards the camera', 'in front of the camera') is scene, as before.

Moves (film terms, from the camera operator's view; `CameraSpec`):
- pan / tilt / turn / swivel + left|right -> pan-left|right, + up|down -> tilt-up|down;
- dolly / push / pull / move / approach / retreat + in|forward|closer|toward X -> dolly-in, out|back|away ->
  dolly-out ('pushes in' and 'approaches' are in, 'pulls back' and 'retreats' out when no particle is said);
- truck / crab / 'tracks sideways' / slides / moves + left|right -> truck-left|right;
- orbit / circle / arc / revolve / 'moves around X' -> orbit-left unless 'right' or 'counterclockwise' is said.
  orbit-left: the camera moves to its own left around the target, which is clockwise seen from above (the
  camera south of the target looking north moves west), so 'clockwise' -> orbit-left, 'counterclockwise' /
  'anticlockwise' -> orbit-right, and nothing said -> orbit-left;
- follow / track X / chase / 'tracking shot' / 'followed by the camera' / 'pans to follow X' -> follow;
- static: 'static', 'fixed', 'locked-off', 'tripod', 'stays still', 'does not move', and the camera as the
  plain subject of a seeing verb ('the camera shows a drone flying left').
Speed words in the camera clause ('pans slowly', 'a quick pan', 'whip pan') give the camera's speed. A clause
that only names the camera ('Camera: slow pan left') or a seeing verb gives way to one that says the move; a
'moving camera' whose move is never said is refused. The objects' heading is read as before, from the object's
own words: its motion in the world as seen from the first frame's camera (`CameraSpec`), whatever the camera does.

Targets: follow needs one and orbit may take one: the noun after the verb ('follows the red car', 'orbits
it', 'circles around the ball'); 'it' / 'them' and an unsaid follow target ('tracking shot', 'followed by the
camera') are the first object. The target must be an object of the command, else a one-line ParseError
naming it ('camera target 'rider' is not an object of the command; objects: horse'). When the camera clause
opens the command ('the camera dollies in on a yellow ball'), its noun phrase is the subject of the rest.

Refused with a one-line ParseError: an unknown verb after the camera ('unknown camera motion 'wobbles';
accepted: ...'), zoom ('zooms in' changes the focal length, which a plan does not model: use 'dolly in'), a
pan / truck / dolly without its direction, contradicting directions ('pans left and right'), two moves
('pans left and tilts up'), a camera target that is not an object, and a camera move in an edit command.
"""

from __future__ import annotations

from dataclasses import dataclass

from worldsim.colors import canonical_color
from worldsim.commands import preview
from worldsim.errors import ParseError
from worldsim.objects import singular

from .lexicon import (
    BARE_X, BARE_Y, CAMERA_AROUND, CAMERA_CLOCKWISE, CAMERA_IN, CAMERA_MOTION_NOUNS, CAMERA_NOUNS, CAMERA_OUT,
    CAMERA_PREPS, CAMERA_SIDEWAYS, CAMERA_STYLE, CAMERA_VERBS, CLAUSE_BOUNDARIES, DETERMINERS, FAST_WORDS,
    FILM_VERBS, GENERATE_VERBS, INDEFINITE, LEADING_FILLERS, MEDIA, MEDIA_LINKS, MOTION_FILLERS, NUMBERS,
    PASSIVE_FOLLOW, PRONOUNS, SHOT_KINDS, SLOW_WORDS, STATIC_CAMERA_WORDS, TO_WORDS, camera_lemma, lemma,
)
from .motion import position
from .phrases import NounPhrase, noun_phrase

ACCEPTED_CAMERA = ("static (fixed, locked-off, tripod), pan left/right, tilt up/down, dolly in/out (push in, "
                   "pull back), truck left/right (slide sideways), orbit left/right (circle around), follow "
                   "(tracking shot)")
SPEED_ADJ = SLOW_WORDS | FAST_WORDS
NEGATIONS = {"not", "never", "doesn't", "don't", "won't", "cannot", "can't", "does", "do", "will"}
AUX_VERBS = {"be", "is", "are", "was", "keep", "stay", "remain"}  # + a camera verb ('keeps panning left'): that verb
CAMERA_FILLERS = MOTION_FILLERS | {"smoothly", "steadily", "slightly", "gradually", "continuously", "also", "still",
                                   "closely", "tightly", "carefully", "alongside"}
# Tokens before a command-opening camera clause that are no object ('a video where the camera ...').
_LEAD_OK = GENERATE_VERBS | MEDIA | MEDIA_LINKS | LEADING_FILLERS | INDEFINITE | {"me", "us", ",", "a", "an"}
_WITH = {"with", "using", "from", "on", "through", "via"}
_TRIPOD_LEAD = FILM_VERBS | _WITH | STATIC_CAMERA_WORDS | {"a", "the", "mounted", "set", "off", "locked"}


@dataclass
class CameraRead:
    """What a camera clause said; `grammar._camera_spec` makes the `CameraSpec` once the objects are known."""

    family: str  # a CAMERA_VERBS family while reading ('turn', 'dolly', ...); one of CameraSpec's moves after `_resolve`
    word: str  # the camera's verb or noun as written ('pans', 'tracking'), for messages
    depth: int = 0  # +1 in, -1 out
    spin: int = 0  # -1 clockwise (orbit-left), +1 counterclockwise (orbit-right)
    speed: str = "normal"
    target: NounPhrase | None = None
    leads: bool = False  # the clause opens the command: its noun phrase is the subject of the rest
    bare: bool = False  # only the camera was named ('Camera: slow pan left'): another clause says its move


@dataclass
class _Anchor:
    start: int  # first token of the clause (after its connective)
    at: int  # first token the body reads (the camera noun's next word, or the move word itself)
    family: str | None  # what the anchor itself says (a shot kind, a move noun, passive follow); None: a verb follows
    word: str


def _boundary(toks: list[str], k: int) -> bool:
    return k < 0 or toks[k] in CLAUSE_BOUNDARIES


def _is_np_start(t: str) -> bool:
    return (t in DETERMINERS or t in PRONOUNS or t in NUMBERS or t.isdigit() or singular(t) is not None
            or canonical_color(t) is not None)


def _back_over(toks: list[str], k: int, words: set[str]) -> int:
    while k >= 0 and toks[k] in words:
        k -= 1
    return k


def _anchor_at(toks: list[str], i: int) -> _Anchor | None:
    t, n = toks[i], len(toks)
    nxt = toks[i + 1] if i + 1 < n else None
    if t in CAMERA_NOUNS:
        if nxt == "'s":
            return None
        k = _back_over(toks, i - 1, DETERMINERS | CAMERA_STYLE | STATIC_CAMERA_WORDS | SPEED_ADJ)
        if _boundary(toks, k):
            return _Anchor(k + 1, i + 1, None, t)
        verb = _back_over(toks, k - 1, CAMERA_FILLERS | SPEED_ADJ) if toks[k] == "by" else -1
        if verb >= 0 and toks[verb] in PASSIVE_FOLLOW | FILM_VERBS:  # 'followed (closely) by the camera'
            return _Anchor(verb, i + 1, "follow" if toks[verb] in PASSIVE_FOLLOW else None, toks[verb])
        if toks[k] in _WITH:
            if _boundary(toks, k - 1):
                return _Anchor(k, i + 1, None, t)
            if toks[k - 1] in FILM_VERBS:
                return _Anchor(k - 1, i + 1, None, t)
            if toks[k] == "with" and nxt is not None and camera_lemma(nxt) is not None:
                return _Anchor(k, i + 1, None, t)  # 'rolls left with the camera panning right'
        return None
    if t in ("shot", "shots") and i >= 1 and toks[i - 1] in SHOT_KINDS:
        k = _back_over(toks, i - 2, DETERMINERS | SPEED_ADJ | CAMERA_STYLE)
        if _boundary(toks, k) or (toks[k] in _WITH and _boundary(toks, k - 1)) or (toks[k] == "in" and k < i - 2):
            # 'in a tracking shot following the car' closes a sentence like a clause of its own
            return _Anchor(k + 1 if _boundary(toks, k) else k, i + 1, SHOT_KINDS[toks[i - 1]], toks[i - 1])
        return None
    if t == "tripod":  # 'shot from a tripod', 'on a tripod:'; 'a ball rolls past a tripod' is scene
        k = _back_over(toks, i - 1, _TRIPOD_LEAD)
        return _Anchor(k + 1, i + 1, "static", t) if _boundary(toks, k) else None
    if t in ("push", "pull") and nxt in CAMERA_IN | CAMERA_OUT:  # 'a slow push in on X', 'pull back from X'
        k = _back_over(toks, _back_over(toks, i - 1, SPEED_ADJ | CAMERA_STYLE), DETERMINERS)
        if _boundary(toks, k) or (toks[k] in _WITH and _boundary(toks, k - 1)):
            return _Anchor(k + 1 if _boundary(toks, k) else k, i, None, t)
        return None
    if t in CAMERA_MOTION_NOUNS or (t.startswith("zoom") and camera_lemma(t) == "zoom"):
        family = CAMERA_MOTION_NOUNS.get(t, "zoom")
        k = _back_over(toks, i - 1, SPEED_ADJ | CAMERA_STYLE | {"slow", "quick", "fast", "gentle"})
        determined = k >= 0 and toks[k] in DETERMINERS
        k = _back_over(toks, k, DETERMINERS)
        if not (_boundary(toks, k) or (toks[k] in _WITH and _boundary(toks, k - 1))):
            return None
        if nxt is not None and lemma(nxt) is not None and nxt not in CAMERA_IN | CAMERA_OUT:
            return None  # 'a pan slides left', 'a dolly rolls': an object
        says_more = nxt is not None and (nxt in BARE_X or nxt in BARE_Y or nxt in CAMERA_IN or nxt in CAMERA_OUT
                                         or nxt in SPEED_ADJ or nxt in CAMERA_PREPS or nxt in CAMERA_SIDEWAYS
                                         or nxt in ("shot", ","))
        if not says_more or (determined and (t.endswith("ing") or t == "truck")):
            return None  # 'a pan', 'A truck', 'the tilting sign': objects
        if t in ("truck", "crabbing", "trucking") and not (nxt in BARE_X or nxt in SPEED_ADJ or nxt in CAMERA_SIDEWAYS
                                                           or nxt == "to"):
            return None  # 'truck in ...': no sideways move said
        if family == "zoom" and nxt not in CAMERA_IN | CAMERA_OUT | {"into", "on", "onto", "shot", "to", "toward", "towards"}:
            return None  # 'zooming past': fast, not a lens
        start = k + 1 if _boundary(toks, k) else k
        if camera_lemma(t) is not None:  # 'pan', 'panning', 'zoom': the body reads it as a verb
            return _Anchor(start, i, None, t)
        return _Anchor(start, i + 1, family, t)  # 'whip-pan', 'push-in'

    return None


def _find(toks: list[str]) -> _Anchor | None:
    for i in range(len(toks)):
        anchor = _anchor_at(toks, i)
        if anchor is not None:
            return anchor
    return None


def _unknown(word: str) -> ParseError:
    return ParseError(f"unknown camera motion '{preview(word)}'; accepted: {ACCEPTED_CAMERA}")


def _zoom(word: str) -> ParseError:
    return ParseError(f"the camera cannot zoom ('{preview(word)}'): a zoom changes the focal length, which a plan "
                      f"does not model; to move closer say 'dolly in'; accepted camera moves: {ACCEPTED_CAMERA}")


class _Reader:
    """Reads one camera clause's body; `end` is where its words stop, `np` the noun phrase it names."""

    def __init__(self, toks: list[str], anchor: _Anchor):
        self.toks, self.anchor = toks, anchor
        self.read = CameraRead(family=anchor.family or "", word=anchor.word)
        self.steps: list[tuple[int, int, str]] = []
        self.np: tuple[int, int] | None = None  # token span of the noun phrase the clause names
        self.leads = False
        self.aux = False  # the verb read so far is an auxiliary ('is', 'keeps')
        for t in toks[anchor.start : anchor.at]:
            self._speed(t)
            if t.startswith("whip"):
                self.read.speed = "fast"

    def _speed(self, t: str) -> bool:
        if t in SLOW_WORDS or t in FAST_WORDS:
            if self.read.speed == "normal":
                self.read.speed = "slow" if t in SLOW_WORDS else "fast"
            return True
        return False

    def _verb(self, word: str) -> None:
        """A camera verb read in the body: the first sets the family (an auxiliary such as 'is', 'keeps' gives
        way to the verb after it); another family later is an error, zoom always is."""
        base = camera_lemma(word)
        family = CAMERA_VERBS.get(base) if base else None
        if family == "zoom":
            raise _zoom(word)
        if family is None:
            raise _unknown(word)
        if not self.read.family or self.aux:
            self.read.family, self.read.word, self.aux = family, word, base in AUX_VERBS
            return
        if family == "observe" or self.read.family == "observe":  # 'pans left and shows a ball'
            self.read.family = family if self.read.family == "observe" else self.read.family
            return
        if self.read.family != family:
            raise ParseError(f"the camera makes one move per command, got '{preview(self.read.word)}' and "
                             f"'{preview(word)}'; accepted: {ACCEPTED_CAMERA}")

    def body(self) -> int:
        """Read from the anchor to the clause's end; returns the index after the camera's words."""
        toks, n = self.toks, len(self.toks)
        j = self.anchor.at
        if self.anchor.family is None and self.anchor.at > 0 and toks[self.anchor.at - 1] in CAMERA_NOUNS:
            j = self._subject_verb(j)
        elif self.anchor.family is None:  # a move noun / participle that is a camera verb ('panning', 'zoom')
            self._verb(toks[j])
            j += 1
        elif self.anchor.family == "zoom":
            raise _zoom(self.anchor.word)
        elif j < n and camera_lemma(toks[j]) is not None and CAMERA_VERBS[camera_lemma(toks[j])] == "follow":
            j += 1  # 'tracking shot following the car'
        return self._slot(j)

    def _subject_verb(self, j: int) -> int:
        """After 'the camera': modifiers ('on a tripod'), adverbs, then its verb, or none ('a fixed camera,')."""
        toks, n = self.toks, len(self.toks)
        k = j + 1 if j < n and toks[j] == "mounted" else j
        if k < n and toks[k] == "on" and "tripod" in toks[k + 1 : k + 3]:  # 'a camera (mounted) on a tripod'
            j = toks.index("tripod", k) + 1
        negated = False
        while j < n:
            t = toks[j]
            if self._speed(t) or (t in CAMERA_FILLERS and t != "still"):
                j += 1
            elif t in NEGATIONS:
                negated, j = True, j + 1
            elif t in STATIC_CAMERA_WORDS:  # 'camera static': no verb, static
                j += 1
            elif t == "," and j + 1 < n and toks[j + 1] in STATIC_CAMERA_WORDS:  # 'Camera: static.'
                j += 1
            else:
                break
        if j >= n or _boundary(toks, j) or (toks[j] in CAMERA_PREPS and camera_lemma(toks[j]) is None):
            said = any(t in STATIC_CAMERA_WORDS for t in toks[self.anchor.start : j])
            if "moving" in toks[self.anchor.start : self.anchor.at] and not said:  # 'filmed with a moving camera'
                raise ParseError(f"camera move unsaid in '{preview(' '.join(toks[self.anchor.start : j]))}': say how it "
                                 f"moves; accepted: {ACCEPTED_CAMERA}")
            self.read.bare = not self.read.family and not said
            self.read.family = self.read.family or "static"
            return j
        if negated:  # 'the camera does not pan', 'the camera never moves'
            self.read.family = "static"
            return j + 1
        self._verb(toks[j])
        j += 1
        while j < n and self.read.family in ("static", "observe") and (
            toks[j] in STATIC_CAMERA_WORDS or toks[j] in CAMERA_FILLERS or toks[j] in ("off", "in", "place", "put")
            or toks[j] in NEGATIONS or self._speed(toks[j])
        ):
            j += 1  # 'stays still', 'is locked off'
        if j < n and self.aux and camera_lemma(toks[j]) is not None:
            self._verb(toks[j])  # 'keeps panning left', 'is slowly tilting up'
            j += 1
        return j

    def _slot(self, j: int) -> int:
        """Particles, headings, speeds and the noun phrase after the verb, up to a clause boundary."""
        toks, n, read = self.toks, len(self.toks), self.read
        while j < n:
            t = toks[j]
            nxt = toks[j + 1] if j + 1 < n else None
            if t in ("and", "then") and nxt is not None and (
                nxt in BARE_X or nxt in BARE_Y or nxt in SPEED_ADJ or nxt in CAMERA_FILLERS or nxt in CAMERA_IN
                or nxt in CAMERA_OUT or (camera_lemma(nxt) is not None and lemma(nxt) is None)
                or (camera_lemma(nxt) is not None and self.np is None)
            ):
                j += 1  # 'pans left and right' (refused), 'slowly and smoothly', 'pans and tilts' (refused)
                continue
            if _boundary(toks, j):
                break
            if (self.np is not None and self.leads and read.family not in ("follow", "static", "observe", "follow_purpose")
                    and t in TO_WORDS and nxt is not None and _is_np_start(nxt) and nxt not in PRONOUNS
                    and position(toks, j + 1)[0] is None):
                self.np = None  # 'tilts down from the sky to a red car': the last noun is the subject
                j = self._noun(j + 1)
                continue
            if self.np is not None and self.leads and (read.family in ("follow", "static", "observe", "follow_purpose")
                                                      or not self._camera_word(j)):
                break  # the words after the subject are its own ('the camera follows a dog running left')
            if self._speed(t) or t in CAMERA_FILLERS or t in ("'s", "own", "its"):
                j += 1
            elif t in BARE_X or t in BARE_Y:
                self.steps.append((BARE_X.get(t, 0), BARE_Y.get(t, 0), t))
                j += 1
            elif t in CAMERA_CLOCKWISE:
                read.spin = read.spin or CAMERA_CLOCKWISE[t]
                j += 1
            elif t in CAMERA_SIDEWAYS:
                read.family = "truck" if read.family in ("track", "move", "") else read.family
                j += 1
            elif t in CAMERA_AROUND:
                if read.family in ("move", "turn", "track", "follow", ""):
                    read.family = "orbit"
                j += 1
                if j < n and toks[j] == "to" and j + 1 < n and toks[j + 1] in ("the", "its"):
                    continue
                if j < n and _is_np_start(toks[j]):
                    j = self._noun(j)
            elif t in ("from", *TO_WORDS) and (place := position(toks, j + 1))[0] is not None:
                (px, py), k = place
                sign = -1 if t == "from" else 1
                self.steps.append((sign * px, sign * py, " ".join(toks[j:k])))
                j = k
            elif t == "to" and nxt is not None and camera_lemma(nxt) is not None:
                if CAMERA_VERBS[camera_lemma(nxt)] == "follow" and read.family in ("turn", "move", "track"):
                    read.family = "follow_purpose"
                j += 2  # 'pans to follow it', 'tilts up to reveal ...'
            elif (t == "to" and nxt is not None and lemma(nxt) is None and not _is_np_start(nxt)
                  and j + 2 < n and _is_np_start(toks[j + 2])):
                j += 2  # 'pans left to reveal a red car'
            elif t in CAMERA_IN and not (t == "in" and nxt is not None and _is_np_start(nxt)):
                read.depth = read.depth or 1
                j += 1
                if t in ("toward", "towards") and j < n and _is_np_start(toks[j]):
                    j = self._noun(j)
            elif t in CAMERA_OUT:
                read.depth = read.depth or -1
                j += 1
            elif t in CAMERA_PREPS:
                j += 1
                if j < n and _is_np_start(toks[j]):
                    j = self._noun(j)
                elif j < n and toks[j] not in CAMERA_PREPS and not _boundary(toks, j) and self.np is None:
                    j = self._noun(j)  # 'over the statue' without a determiner
            elif _is_np_start(t) and self.np is None:
                j = self._noun(j)
            elif self.np is not None:
                j += 1  # the rest of a later clause's noun's words ('follows the car down the road')
            elif camera_lemma(t) is not None:
                self._verb(t)
                j += 1
            else:
                raise ParseError(f"unknown camera motion word '{preview(t)}' after '{preview(read.word)}'; accepted: "
                                 f"{ACCEPTED_CAMERA}, with a heading (left, right, up, down), in / out, or a speed")
        return j

    def _camera_word(self, j: int) -> bool:
        """A heading, spin sense or speed at toks[j] ('orbits a ball to the right', 'circles it slowly')."""
        t = self.toks[j]
        if t in BARE_X or t in BARE_Y or t in CAMERA_CLOCKWISE or t in SPEED_ADJ or t in CAMERA_FILLERS:
            return True
        return t in ("from", *TO_WORDS) and position(self.toks, j + 1)[0] is not None

    def _noun(self, j: int) -> int:
        np, k = noun_phrase(self.toks, j, pronouns=True)
        if np is None:
            return j + 1
        if self.np is None:
            self.np = (j, k)
            self.read.target = np
            if self.anchor.start == 0 or _leads(self.toks[: self.anchor.start]):
                self.leads = True
        return k


def _leads(before: list[str]) -> bool:
    """The tokens before a camera clause hold no object ('', 'a video where', 'show me'): the clause opens the
    command, and its noun phrase is the subject of the rest."""
    return all(t in _LEAD_OK or t in CLAUSE_BOUNDARIES for t in before)


def _strip(toks: list[str]) -> list[str]:
    """Drop connectives left at either end, and doubled commas, after a clause was cut out."""
    out: list[str] = []
    for t in toks:
        if t == "," and out and out[-1] == ",":
            continue
        out.append(t)
    while out and out[0] in CLAUSE_BOUNDARIES | {"with"}:
        out = out[1:]
    while out and out[-1] in CLAUSE_BOUNDARIES:
        out = out[:-1]
    return out


def _contradiction(steps: list[tuple[int, int, str]]) -> None:
    for axis in (0, 1):
        pos = next((s for s in steps if s[axis] > 0), None)
        neg = next((s for s in steps if s[axis] < 0), None)
        if pos is not None and neg is not None:
            first, second = sorted((pos, neg), key=steps.index)
            raise ParseError(f"contradicting camera motion '{preview(first[2])}' and '{preview(second[2])}': the camera "
                             f"makes one move, e.g. 'pans left' or 'tilts up'")


def _sign(v: int) -> int:
    return (v > 0) - (v < 0)


def _resolve(read: CameraRead, steps: list[tuple[int, int, str]]) -> CameraRead:
    """The family and heading of a read clause -> one of CameraSpec's moves (read.family becomes it)."""
    _contradiction(steps)
    dx = _sign(sum(s[0] for s in steps))
    dy = _sign(sum(s[1] for s in steps))
    fam, word = read.family, read.word
    needs = f"camera move '{preview(word)}' needs a direction; accepted: {ACCEPTED_CAMERA}"
    if fam == "follow_purpose":
        fam = "follow" if not (dx or dy) else "turn"
    if fam == "track":
        fam = "truck" if dx else "follow"
    if fam == "move":
        fam = "orbit" if read.spin else "truck" if dx and not dy else "dolly" if read.depth else fam
    if fam in ("push", "approach"):
        read.depth, fam = read.depth or 1, "dolly"
    if fam in ("pull", "retreat"):
        read.depth, fam = read.depth or -1, "dolly"
    if fam == "turn":
        if dx and dy:
            said = " and ".join(f"'{preview(st[2])}'" for st in steps)
            raise ParseError(f"camera move '{preview(word)}' turns two ways at once ({said}); the camera makes one "
                             f"move per command: pan left/right or tilt up/down")
        if dx:
            read.family = "pan-left" if dx < 0 else "pan-right"
        elif dy:
            read.family = "tilt-up" if dy < 0 else "tilt-down"
        else:
            raise ParseError(needs)
    elif fam == "dolly":
        if not read.depth:
            raise ParseError(needs.replace("a direction", "in or out"))
        read.family = "dolly-in" if read.depth > 0 else "dolly-out"
    elif fam == "truck":
        if not dx or dy:
            raise ParseError(needs.replace("a direction", "left or right"))
        read.family = "truck-left" if dx < 0 else "truck-right"
    elif fam == "orbit":
        read.family = "orbit-right" if dx > 0 or read.spin > 0 else "orbit-left"
    elif fam in ("follow", "static", "observe"):
        read.bare = read.bare or fam == "observe"
        read.family = "static" if fam == "observe" else fam
    elif dy:  # 'moves up': a crane / pedestal move, not modelled
        raise _unknown(f"{word} {'up' if dy < 0 else 'down'}")
    else:  # 'moves' with no heading
        raise ParseError(f"camera move '{preview(word)}' needs a direction: left / right (truck), in / closer or back / "
                         f"away (dolly), or around an object (orbit); accepted: {ACCEPTED_CAMERA}")
    if read.family in ("follow", "static") or read.family.startswith("orbit"):
        return read
    read.target = None  # pan / tilt / dolly / truck take no target: the noun they name is a place
    return read


def split_camera(toks: list[str]) -> tuple[list[str], CameraRead | None]:
    """(the command's tokens without its camera clause, what the clause said) or (toks, None) when there is none."""
    anchor = _find(toks)
    if anchor is None:
        return toks, None
    reader = _Reader(toks, anchor)
    end = reader.body()
    if not reader.read.family:
        reader.read.family = "static"
    read = _resolve(reader.read, reader.steps)
    start = anchor.start
    if reader.leads and reader.np is not None:
        read.leads = True
        rest = toks[:start] + toks[reader.np[0] : reader.np[1]] + toks[end:]
    elif _leads(toks[:start]):
        read.leads = True
        rest = toks[:start] + toks[end:]
    else:
        cut = start - 1 if start > 0 and toks[start - 1] in CLAUSE_BOUNDARIES else start
        rest = toks[:cut] + toks[end:]
    rest = _strip(rest)
    if len(rest) >= len(toks):
        return rest, read
    more, again = split_camera(rest)
    if again is not None and read.bare:
        return more, again  # 'Camera: slow pan to the left'
    if again is not None and not again.bare:
        if again.family != read.family:
            raise ParseError(f"the camera makes one move per command, got '{preview(read.word)}' and "
                             f"'{preview(again.word)}'; accepted: {ACCEPTED_CAMERA}")
        read.target = read.target or again.target
        read.speed = read.speed if read.speed != "normal" else again.speed
    return more, read
