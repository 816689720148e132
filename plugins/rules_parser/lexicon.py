"""Vocabulary of the rules parser: small sets of lower-case words, grouped by the role they play."""

from __future__ import annotations

# Multi-word phrases rewritten to one canonical token (or dropped) before parsing; the longest match wins.
REWRITES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("get", "rid", "of"): ("remove",),
    ("take", "out"): ("remove",),
    ("take", "away"): ("remove",),
    ("wipe", "out"): ("remove",),
    ("keep", "only"): ("extract",),
    ("only", "keep"): ("extract",),
    ("keep", "just"): ("extract",),
    ("segment", "out"): ("extract",),
    ("cut", "out"): ("extract",),
    ("pull", "out"): ("extract",),
    ("in", "place"): ("still",),
    ("on", "the", "spot"): ("still",),
    ("does", "not", "move"): ("still",),
    ("doesn't", "move"): ("still",),
    ("turns", "around"): ("spins",),
    ("turn", "around"): ("spin",),
    ("turning", "around"): ("spinning",),
    ("a", "pair", "of"): ("two",),
    ("a", "couple", "of"): ("two",),
    ("a", "few"): ("three",),
    ("a", "dozen"): ("twelve",),
    ("at", "high", "speed"): ("fast",),
    ("at", "full", "speed"): ("fast",),
    ("at", "top", "speed"): ("fast",),
    ("at", "a", "fast", "pace"): ("fast",),
    ("at", "a", "quick", "pace"): ("fast",),
    ("at", "a", "slow", "pace"): ("slowly",),
    ("at", "a", "leisurely", "pace"): ("slowly",),
    ("at", "low", "speed"): ("slowly",),
    ("speeds", "up"): ("speeds",),
    ("speed", "up"): ("speed",),
    ("picks", "up", "speed"): ("speeds",),
    ("slows", "down"): ("slowly",),
    ("slow", "down"): ("slowly",),
    ("sits", "down"): ("sits",),
    ("lies", "down"): ("lies",),
    ("settles", "down"): ("settles",),
    ("calms", "down"): ("calms",),
    ("upside", "down"): ("upside-down",),
    ("takes", "off"): ("rises",),
    ("take", "off"): ("rise",),
    ("lifts", "off"): ("rises",),
    ("counter", "clockwise"): ("counterclockwise",),
    ("can", "you"): (),
    ("could", "you"): (),
    ("would", "you"): (),
    ("i", "want", "you", "to"): (),
    ("there", "is"): (),
    ("there", "are"): (),
    ("thank", "you"): (),
    ("in", "which"): ("where",),
}

LEADING_FILLERS = {"now", "please", "then", "ok", "okay", "also", "next", "so", "and", "just", "kindly", "hey", ","}
TRAILING_FILLERS = {"please", "instead", "again", "now", "too", "thanks", ","}

# --- noun phrases -----------------------------------------------------------------------------------
DETERMINERS = {"a", "an", "the", "this", "that", "these", "those", "some", "another", "each", "every",
               "its", "their", "my", "our", "your"}
SINGULAR_DETERMINERS = {"a", "an", "another", "each", "every", "this", "that"}
INDEFINITE = {"a", "an", "some", "another"}
PRONOUNS = {"it", "them", "they", "itself", "themselves"}
UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
# Words that multiply the number before them ('two hundred', 'three dozen'), or stand alone after 'a' ('a hundred').
SCALES = {"dozen": 12, "hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
NUMBERS = {
    **UNITS, **TEENS, **TENS, **SCALES,
    **{f"{tens}-{unit}": tv + uv for tens, tv in TENS.items() for unit, uv in UNITS.items() if uv},  # 'twenty-one'
    "several": 3, "both": 2,
}
# Counts that say "many" without a number: always more than an object count accepts ('hundreds of balls').
VAGUE_COUNTS = {"dozens": 24, "scores": 40, "hundreds": 200, "thousands": 2_000, "millions": 2_000_000,
                "billions": 2_000_000_000, "countless": 1_000_000_000, "innumerable": 1_000_000_000}
MAX_COUNT = 16  # ObjectSpec.count's upper bound (phrases.py reads the bounds from ObjectSpec itself)
ADJECTIVES = {
    "small", "big", "large", "tiny", "little", "huge", "giant", "enormous", "shiny", "glossy", "matte",
    "old", "new", "wooden", "metal", "metallic", "plastic", "rubber", "toy", "cute", "fluffy", "furry",
    "round", "square", "fat", "thin", "long", "short", "tall", "young", "baby", "happy", "wild", "lone",
    "single", "striped", "spotted", "colorful", "colourful", "glowing", "sleek", "vintage", "modern",
    "slow", "fast", "quick", "rapid", "swift", "speedy", "gentle", "colored", "coloured", "bouncy",
    "heavy", "light", "dark", "bright", "pale", "deep", "pastel", "vivid", "neon", "solid", "transparent",
}
SHADES = {"light", "dark", "bright", "pale", "deep", "pastel", "vivid", "neon"}
# Colour words the colour table does not know: naming one is an error, never silently dropped.
COLOR_LIKE = {
    "crimson", "scarlet", "indigo", "lavender", "azure", "amber", "ivory", "khaki", "mauve", "burgundy",
    "chartreuse", "vermilion", "vermillion", "cerulean", "fuchsia", "lilac", "ochre", "periwinkle", "aquamarine",
    "olive", "ultraviolet", "infrared", "cerise", "puce", "taupe", "sepia", "viridian", "ultramarine", "aqua",
    "multicolored", "multicoloured", "rainbow-colored", "rainbow-coloured",
}
# Colour-forming suffix: a colour + 'ish' ('reddish', 'bluish') reads as a colour the table does not hold.
COLOR_SUFFIXES = ("ish",)
# A colour must follow these words ("a ball colored red").
COLORED = {"colored", "coloured", "painted"}
PROPERTIES = {"color", "colour", "direction", "motion", "movement", "paint", "size", "scale"}

# --- directions (image convention: left = decreasing x, up = decreasing y) ---------------------------
BARE_X = {"left": -1, "leftward": -1, "leftwards": -1, "west": -1, "westward": -1, "westwards": -1,
          "right": 1, "rightward": 1, "rightwards": 1, "east": 1, "eastward": 1, "eastwards": 1}
BARE_Y = {"up": -1, "upward": -1, "upwards": -1, "skyward": -1, "skywards": -1, "uphill": -1,
          "upstairs": -1, "north": -1, "northward": -1, "northwards": -1,
          "down": 1, "downward": 1, "downwards": 1, "downhill": 1, "downstairs": 1, "south": 1,
          "southward": 1, "southwards": 1}
POS_X = {"left": -1, "leftmost": -1, "west": -1, "right": 1, "rightmost": 1, "east": 1}
POS_Y = {"top": -1, "upper": -1, "topmost": -1, "north": -1, "bottom": 1, "lower": 1, "bottommost": 1,
         "south": 1}
POS_CENTER = {"center", "centre", "middle"}
POS_FILLER = {"the", "a", "of", "side", "corner", "corners", "edge", "screen", "frame", "image", "picture",
              "view", "far", "very", "hand", "part", "half", "area", "border", "diagonal"}
# Parts of hyphenated direction words ("up-left", "bottom-right") split into separate tokens.
DIRECTION_PARTS = set(BARE_X) | set(BARE_Y) | set(POS_X) | set(POS_Y) | {"hand"}
TO_WORDS = {"to", "towards", "toward", "into", "onto"}
SCENE_PREPS = {
    "in", "on", "at", "through", "over", "across", "along", "under", "beneath", "above", "below", "near",
    "beside", "by", "around", "past", "inside", "within", "among", "between", "behind", "underneath",
    "amid", "against", "of", "throughout", "atop", "upon", "outside", "with", "from",
} | TO_WORDS
# Words after which "left"/"right" name a place ("on the left"), not a heading.
PLACE_MARKERS = {"the", "a", "its", "their", "top", "bottom", "upper", "lower", "far", "very"}

# --- verbs (base forms; `lemma` maps inflections onto them) ------------------------------------------
UP_VERBS = {"rise", "ascend", "climb", "launch", "levitate", "lift"}
DOWN_VERBS = {"fall", "sink", "descend", "drop", "plummet", "dive", "plunge"}
SLOW_VERBS = {"creep", "stroll", "amble", "meander", "saunter"}
FAST_VERBS = {"speed", "race", "zoom", "dash", "rush", "sprint", "dart", "hurry", "bolt", "whiz", "whizz",
              "hurtle", "streak", "accelerate", "charge"}
SPIN_VERBS = {"spin", "rotate", "twirl", "whirl", "revolve", "pirouette", "twist", "swivel"}
STATIC_VERBS = {"sit", "stay", "rest", "remain", "stand", "stop", "halt", "freeze", "hover", "wait", "lie",
                "settle", "calm"}
VERBS = UP_VERBS | DOWN_VERBS | SLOW_VERBS | FAST_VERBS | SPIN_VERBS | STATIC_VERBS | {
    "be", "is", "are", "was", "were", "move", "roll", "fly", "swim", "crawl", "drive", "run", "walk", "go",
    "travel", "slide", "glide", "float", "bounce", "drift", "sail", "hop", "jump", "leap", "head", "soar",
    "gallop", "trot", "slither", "wander", "scurry", "scuttle", "march", "cruise", "ride", "tumble",
    "paddle", "sway", "swing", "skate", "skid", "coast", "shift", "pass", "cross", "come", "approach",
    "leave", "enter", "exit", "hang", "wobble", "shake", "rock", "circle", "orbit", "flutter", "flap",
    "waddle", "prowl", "sneak", "chase", "follow", "advance", "retreat", "return", "land", "surf",
    "turn", "steer", "push", "pull", "drag", "carry", "shoot", "buzz", "swoop", "flow", "stream",
    "migrate", "roam", "wheel", "taxi", "pedal", "bob", "start", "begin", "keep", "continue", "try",
    "appear", "emerge", "glow", "do",
}
IRREGULAR = {"went": "go", "ran": "run", "flew": "fly", "swam": "swim", "fell": "fall", "rose": "rise",
             "sank": "sink", "drove": "drive", "rode": "ride", "spun": "spin", "sat": "sit", "stood": "stand",
             "dove": "dive", "came": "come", "slid": "slide", "leapt": "leap", "crept": "creep",
             "swung": "swing", "hung": "hang", "does": "do"}

# --- speed, spin, stillness -----------------------------------------------------------------------
SLOW_WORDS = {"slowly", "slow", "gently", "gentle", "leisurely", "gradually", "lazily", "calmly",
              "unhurriedly", "carefully", "softly", "slower"}
FAST_WORDS = {"quickly", "rapidly", "fast", "swiftly", "speedily", "hastily", "hurriedly", "briskly",
              "quick", "rapid", "swift", "speedy", "faster"}
SPIN_WORDS = {"clockwise", "counterclockwise", "anticlockwise", "counter-clockwise", "anti-clockwise"}
STATIC_WORDS = {"still", "motionless", "stationary", "static", "idle", "unmoving"}
# Words that may follow a motion verb without saying a heading or speed ('rolls very slowly', 'keeps going').
MOTION_FILLERS = {"very", "really", "so", "too", "quite", "extremely", "rather", "pretty", "more", "even", "much",
                  "steadily", "smoothly", "constantly", "continuously", "evenly", "straight", "diagonally", "again",
                  "now", "also", "just", "always", "slightly"}
# Verbs after which a word says what the subject is, not how it moves ('a ball is red'): no motion slot follows.
NON_MOTION_VERBS = {"be", "is", "are", "was", "were", "do", "appear", "glow"}

# --- command verbs ----------------------------------------------------------------------------------
REMOVE_VERBS = {"remove", "delete", "erase", "eliminate"}
EXTRACT_VERBS = {"extract", "isolate", "segment", "separate"}
PAINT_VERBS = {"paint", "color", "colour", "recolor", "recolour", "repaint", "dye", "tint"}
# "make the bus yellow" recolours, "make the bus go left" moves: the words after the object decide.
CHANGE_VERBS = {"make", "turn", "have", "let", "get", "change", "switch", "set"}
MOVE_VERBS = {"move", "shift", "push", "drag", "send", "slide", "pull", "steer", "translate", "relocate"}
GENERATE_VERBS = {"generate", "create", "render", "show", "animate", "draw", "produce", "film", "depict",
                  "imagine", "visualize", "visualise", "simulate"}
MEDIA = {"video", "clip", "scene", "animation", "movie", "simulation", "sequence", "shot", "footage", "film"}
MEDIA_LINKS = {"of", "showing", "where", "with", "featuring", "that", "shows", "in"}
# Scale verbs and their factor when the command gives none (None: 'scale the ball' needs one).
SCALE_VERBS: dict[str, float | None] = {
    "enlarge": 2.0, "grow": 2.0, "expand": 2.0, "magnify": 2.0, "upscale": 2.0, "upsize": 2.0, "inflate": 2.0,
    "shrink": 0.5, "downscale": 0.5, "downsize": 0.5,
    "scale": None, "resize": None, "rescale": None,
}
# 'double the size of the ball', "halve the ball's size", 'reduce its size by 25%': scale edits only when
# the command says 'size' (or 'scale').
SIZE_VERBS = {"double": 2.0, "triple": 3.0, "quadruple": 4.0, "halve": 0.5, "reduce": 0.5, "increase": 2.0}

# --- size words (plugins/rules_parser/size.py) --------------------------------------------------
BIGGER = {"bigger", "larger", "greater", "huger"}
SMALLER = {"smaller", "tinier", "littler"}
BIG_WORDS = {"big", "large", "huge", "great"}  # 'twice as big'
SMALL_WORDS = {"small", "tiny", "little"}  # 'twice as small': half the size
MILD_WORDS = {"slightly", "somewhat", "marginally"}  # 'slightly bigger': 1.25 ('a bit', 'a little' too)
STRONG_WORDS = {"much", "way", "far", "even", "considerably", "significantly", "lots", "substantially"}  # ignored
MULTIPLIERS = {"twice": 2.0, "double": 2.0, "thrice": 3.0, "triple": 3.0, "quadruple": 4.0, "half": 0.5}
FRACTIONS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4,
             "fifth": 5, "fifths": 5, "tenth": 10, "tenths": 10}
SIZE_NOUNS = {"size", "scale", "dimensions"}
SIZE_OWNERS = {"its", "the", "their", "his", "her"}
SIZE_ADJECTIVES = {"original", "current", "present", "old", "normal", "usual", "initial", "actual"}
# Words after a size that add nothing to it ('than before', 'than it is now', 'in every frame').
SIZE_TAIL = {"than", "as", "it", "they", "is", "are", "was", "were", "now", "currently", "before", "originally",
             "original", "usual", "normal", "in", "across", "throughout", "over", "for", "every", "each", "all",
             "the", "whole", "entire", "frame", "frames", "video", "clip", "scene", "time", "always"}


def lemma(word: str) -> str | None:
    """Base form of a known verb ('flies' -> 'fly', 'rolling' -> 'roll'); None for any other word."""
    if word in IRREGULAR:
        return IRREGULAR[word]
    for stem in _stems(word):
        if stem in VERBS:
            return stem
    return None


def _stems(w: str):
    yield w
    if w.endswith("ies"):
        yield w[:-3] + "y"
    if w.endswith("es"):
        yield w[:-2]
    if w.endswith("s"):
        yield w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            s = w[: -len(suffix)]
            yield from (s, s + "e")
            if s[-1] == s[-2]:  # running -> run
                yield s[:-1]
            if s.endswith("y"):  # lying -> lie
                yield s[:-1] + "ie"
            if s.endswith("i"):  # carried -> carry
                yield s[:-1] + "y"


# --- camera (plugins/rules_parser/camera.py) --------------------------------------------------------
CAMERA_NOUNS = {"camera", "cam", "camcorder"}
# Words that may stand between a clause boundary and the camera noun ('the handheld camera', 'a fixed camera').
CAMERA_STYLE = {"handheld", "hand-held", "steadicam", "moving", "virtual", "main", "film", "video", "our", "single",
                "drone", "gimbal", "whip"}
# The camera does not move: 'a fixed camera', 'camera static', 'static shot', 'shot on a tripod'.
STATIC_CAMERA_WORDS = {"static", "still", "fixed", "locked", "locked-off", "locked-down", "stationary", "tripod",
                       "steady", "motionless", "unmoving", "immobile", "stable"}
# Camera verbs (base forms; `camera_lemma` maps inflections onto them) -> the family of moves they name.
CAMERA_VERBS = {
    # turn in place: left/right -> pan, up/down -> tilt
    "pan": "turn", "tilt": "turn", "turn": "turn", "swivel": "turn", "swing": "turn", "rotate": "turn", "whip": "turn",
    # move forward (in) / back (out)
    "dolly": "dolly", "push": "push", "pull": "pull", "approach": "approach", "retreat": "retreat",
    "recede": "retreat", "withdraw": "retreat", "back": "retreat",
    # move sideways
    "truck": "truck", "crab": "truck", "strafe": "truck",
    # move: left/right -> truck, in/closer -> dolly in, back/away -> dolly out, around X -> orbit
    "move": "move", "slide": "move", "glide": "move", "drift": "move", "shift": "move", "travel": "move",
    "roll": "move", "go": "move", "sweep": "move", "float": "move", "cruise": "move",
    # circle the target (or the scene centre)
    "orbit": "orbit", "circle": "orbit", "arc": "orbit", "revolve": "orbit", "encircle": "orbit",
    # move with the target
    "follow": "follow", "chase": "follow", "trail": "follow", "shadow": "follow", "tail": "follow",
    "accompany": "follow", "pursue": "follow", "track": "track",
    # no move
    "stay": "static", "remain": "static", "hold": "static", "rest": "static", "stand": "static", "sit": "static",
    "freeze": "static", "stop": "static", "keep": "static", "be": "static", "is": "static", "are": "static",
    "was": "static", "linger": "static", "settle": "static",
    # seeing, not moving: static unless another clause says the move ('Tilting down, the camera shows ...')
    "show": "observe", "capture": "observe", "film": "observe", "record": "observe", "watch": "observe",
    "see": "observe", "view": "observe", "observe": "observe", "frame": "observe", "look": "observe",
    "point": "observe", "face": "observe", "shoot": "observe", "depict": "observe", "focus": "observe",
    "stare": "observe",
    # a focal-length change: refused (a plan has no lens)
    "zoom": "zoom",
}
# Verbs that say a shot was made ('filmed with a static camera', 'followed by the camera').
FILM_VERBS = {"filmed", "shot", "seen", "captured", "recorded", "viewed", "watched", "taken", "framed", "observed",
              "photographed"}
PASSIVE_FOLLOW = {"followed", "tracked", "chased", "trailed", "tailed", "shadowed", "pursued"}
# A kind of shot named before 'shot' ('tracking shot', 'static shot') -> its family.
SHOT_KINDS = {
    "tracking": "follow", "follow": "follow", "following": "follow", "chase": "follow",
    "static": "static", "still": "static", "fixed": "static", "locked": "static", "locked-off": "static",
    "locked-down": "static", "stationary": "static", "tripod": "static", "steady": "static",
    "orbit": "orbit", "orbiting": "orbit", "orbital": "orbit", "circling": "orbit", "arc": "orbit",
    "pan": "turn", "panning": "turn", "tilt": "turn", "tilting": "turn", "dolly": "dolly", "truck": "truck",
    "trucking": "truck", "zoom": "zoom", "push-in": "push", "pullback": "pull", "pull-back": "pull",
}
# Camera moves named as nouns or participles at the start of a clause ('a slow pan to the left', 'panning left,').
CAMERA_MOTION_NOUNS = {"pan": "turn", "tilt": "turn", "dolly": "dolly", "zoom": "zoom", "push-in": "push",
                       "pullback": "pull", "pull-back": "pull", "whip-pan": "turn", "panning": "turn",
                       "tilting": "turn", "dollying": "dolly", "trucking": "truck", "zooming": "zoom",
                       "truck": "truck", "crabbing": "truck"}
CAMERA_IN = {"in", "forward", "forwards", "closer", "nearer", "inward", "inwards", "ahead", "toward", "towards"}
CAMERA_OUT = {"out", "back", "backward", "backwards", "away", "outward", "outwards", "further", "farther"}
CAMERA_AROUND = {"around", "round"}
CAMERA_SIDEWAYS = {"sideways", "laterally", "sidewards"}
CAMERA_CLOCKWISE = {"clockwise": -1, "counterclockwise": 1, "anticlockwise": 1, "counter-clockwise": 1,
                    "anti-clockwise": 1}
CAMERA_PREPS = {"on", "onto", "at", "over", "across", "past", "around", "round", "toward", "towards", "to", "from",
                "alongside", "along", "behind", "beside", "by", "with", "through", "of", "above", "below", "into",
                "in", "near", "under", "after", "upon", "about", "down", "up"}
# Words that end a camera clause ('... as the camera pans right, a ball rolls left').
CLAUSE_BOUNDARIES = {",", "while", "whilst", "as", "and", "then", "when", "where", "but", "so", "meanwhile", "until",
                     "before", "after", "whereas", "because", "though", "although", "once"}


def camera_lemma(word: str) -> str | None:
    """Base form of a camera verb ('pans' -> 'pan', 'dollies' -> 'dolly', 'circling' -> 'circle'); None otherwise."""
    for stem in _stems(word):
        if stem in CAMERA_VERBS:
            return stem
    return None
