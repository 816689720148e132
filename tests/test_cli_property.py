"""Property-based tests of the command line (hypothesis): whatever a user types or hands over, `worldsim`
exits 0, 1 or 2, prints no traceback, writes nothing outside the output folder it was given, and leaves
its inputs (a parent run, a dataset) unchanged.

Every command runs in-process (`worldsim.cli.main`) with stdout / stderr captured, the working folder
and the temp folder (where an internal error's `worldsim-error.log` would go) moved into a sandbox that
must stay empty, and WORLDSIM_DEBUG / OPENAI_API_KEY unset (no traceback on purpose, no network).

Inputs: random and vocabulary-built command texts; random options; `--set` keys taken from the real stage
settings with random YAML values; random config files (structured, raw text, byte-flipped presets);
datasets and reconstructed runs with bytes flipped, files truncated, deleted or appended to; batch specs
made invalid on purpose. Examples are derandomized (CI is reproducible) and `deadline=None` (a loaded CI
machine is slow, not wrong). Each test notes its measured wall time for its examples on the project's 2-core
machine, quiet and (in brackets) shared with other jobs; the whole file took 60 s (about 2.5 min loaded).
`pytest --hypothesis-show-statistics` shows the spread of exit codes per test.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import string
import tempfile
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from worldsim.cli import main  # noqa: E402
from worldsim.testing import TINY_GENERATOR, tiny_batch_spec  # noqa: E402


# For a longer hunt than CI's: WORLDSIM_PROPERTY_SCALE=10 (ten times the examples), WORLDSIM_PROPERTY_RANDOM=1
# (fresh random examples instead of CI's fixed ones).
SCALE = float(os.environ.get("WORLDSIM_PROPERTY_SCALE", "1"))
RANDOM = os.environ.get("WORLDSIM_PROPERTY_RANDOM") == "1"


def examples(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=not RANDOM, database=None,
                    print_blob=RANDOM,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


CHEAP = 500  # examples per cheap command: the issue asks for >= 500 per command in CI


# --- sandbox and the properties every run must hold -----------------------------------------------------------
class Sandbox:
    def __init__(self, root: Path):
        self.root = root
        self.cwd, self.tmp, self.work = root / "cwd", root / "tmp", root / "work"
        for d in (self.cwd, self.tmp, self.work):
            d.mkdir(parents=True)
        self.count = 0

    def fresh(self) -> Path:
        """An empty folder for one example (the previous example's is removed)."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.count += 1
        folder = self.work / str(self.count)
        folder.mkdir(parents=True)
        return folder


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("cli-property"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(box.cwd)
        mp.setattr(tempfile, "tempdir", str(box.tmp))
        for var in ("WORLDSIM_DEBUG", "OPENAI_API_KEY"):
            mp.delenv(var, raising=False)
        yield box


def empty(folder: Path) -> None:
    """Remove what is inside `folder` (not the folder: it may be the working directory)."""
    for p in folder.iterdir():
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


@pytest.fixture(scope="module", autouse=True)
def _report_known_bugs():
    """Known bugs the examples ran into: a warning in pytest's summary, so they stay visible until fixed."""
    yield
    for bug, where in KNOWN_BUGS.items():
        hits = sum(bug in err for err in FOUND)
        if hits:
            import warnings

            warnings.warn(f"{hits} examples hit a known bug ({where}): internal error '{bug}'", stacklevel=1)


def tree(path: Path) -> dict[str, str]:
    """relative path -> sha256 (files) or 'dir' of everything under `path`."""
    out = {}
    if not path.exists():
        return out
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "other"
    return out


# Internal errors these tests found in code outside the tests' reach, tolerated (and counted) until fixed:
# remove an entry once its fix lands, and the test checks it again.
KNOWN_BUGS: dict[str, str] = {}
FOUND: list[str] = []


def cli(box: Sandbox, argv: list, *, inputs: list[Path] = (), outputs: list[Path] = (),
        cwd_is_output: bool = False) -> tuple[int, str, str]:
    """Run `worldsim argv` and check the properties: exit 0/1/2, no traceback, stderr one line per error, the
    inputs unchanged, nothing written outside `outputs` (the sandbox's cwd and temp folder stay empty)."""
    empty(box.cwd)  # a failed example may leave files; start every run clean
    empty(box.tmp)
    before = {p: tree(p) for p in inputs}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: usage errors exit 2
            code = exc.code
    out, err = out.getvalue(), err.getvalue()
    shown = f"argv={argv!r}\nstderr={err[-2000:]!r}"
    hypothesis.event(f"exit {code}")  # the exit codes' spread: pytest --hypothesis-show-statistics
    assert code in (0, 1, 2), shown
    assert "Traceback" not in err and "Traceback" not in out, shown
    if "internal error" in err and any(bug in err for bug in KNOWN_BUGS):
        FOUND.append(err.strip())
        empty(box.tmp)  # its worldsim-error.log
        code = None  # the tests' own checks of the exit code skip a known bug
    else:
        assert "internal error" not in err, shown  # every failure the inputs cause is a one-line, named error
    if code not in (0, None) and "usage:" not in err:
        lines = [line for line in err.splitlines() if line.startswith(("worldsim: error", "worldsim: internal error"))]
        assert len(lines) == 1, shown
    for path, was in before.items():
        assert tree(path) == was, f"{path} changed; {shown}"
    assert tree(box.tmp) == {}, f"written to the temp folder: {tree(box.tmp)}; {shown}"
    if cwd_is_output:  # relative paths the arguments named
        empty(box.cwd)
    assert tree(box.cwd) == {}, f"written to the working folder: {tree(box.cwd)}; {shown}"
    allowed = [Path(p) for p in (*inputs, *outputs)]
    for path in box.work.rglob("*"):
        assert any(path == a or a in path.parents or path in a.parents for a in allowed), f"{path} written; {shown}"
    return code, out, err


# --- strategies -------------------------------------------------------------------------------------------------
def _vocabulary() -> list[str]:
    from plugins.rules_parser import lexicon
    from worldsim.colors import COLORS

    words = set()
    for name in dir(lexicon):
        value = getattr(lexicon, name)
        if isinstance(value, (set, dict)) and all(isinstance(k, str) for k in value):
            words |= set(value)
    words |= set(COLORS) | {"ball", "balls", "car", "cube", "bird", "dragon", "it", "the", "a", "and", ",", "17",
                            "0", "1.5", "50%", "2x", "sideways", "ultraviolet", "reddish", "blue-green", "twenty-one"}
    return sorted(w for w in words if w)


VOCAB = _vocabulary()
commands = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(VOCAB), min_size=1, max_size=14).map(" ".join),
    st.lists(st.one_of(st.sampled_from(VOCAB), st.text(string.ascii_letters + "-'", max_size=8)), max_size=10).map(" ".join),
    st.sampled_from(["A red ball rolls from left to right", "make the ball blue", "delete it", "seventeen balls",
                     "a ball rolls left and right", "a ball rolls sideways", "shrink the cube by 0", "9" * 600 + " balls",
                     "make the ball " + "9" * 400 + " times bigger", "scale it by 1e999", "x" * 5000]),
)
names = st.one_of(st.sampled_from(["rules", "langchain", "procedural", "nope", "", "RULES", "../rules"]), st.text(max_size=12))
presets = st.sampled_from(["default", "generate-only", "tiny-t2v", "score-conformance", "langchain-openai-compatible",
                           "nope", "", "default.yaml", "/nonexistent/x.yaml", "configs", "."])


def yaml_values() -> st.SearchStrategy[str]:
    """Text of a `--set` value: numbers at and past every bound, booleans, null, strings, lists, maps, nesting."""
    scalars = st.one_of(
        st.integers(), st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["true", "false", "yes", "no", "on", "off", "null", "~", ".nan", ".inf", "-.inf", "1e999", "0x10",
                         "0o7", "1_000", "2**32", "[]", "{}", "[true]", "{a: 1}", "[1, [2, [3]]]", "'8'", "\"\"",
                         "-1", "0", "1000000000000", "&a [*a]", "!!python/object:os.system {}", "[" * 40 + "]" * 40]),
        st.text(max_size=20),
    )
    return st.one_of(scalars.map(str), st.lists(scalars.map(str), max_size=4).map(lambda v: "[" + ", ".join(v) + "]"))


@functools.cache
def _setting_keys() -> list[str]:
    """kind.path of every setting of the default preset's stages (nested models too), and a few wrong ones."""
    from pydantic import BaseModel

    from worldsim import registry
    from worldsim.config import load_config

    keys = []

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            keys.append(f"{prefix}.{name}")
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}.{name}")

    for step in load_config("default").stages:
        walk(registry.get_stage_info(step.kind, step.name).cls.Config, f"{step.kind}:{step.name}" if step.kind == "scorer" else step.kind)
    return keys + ["seed", "description", "name", "stages", "painter.x", "generator", "generator.", ".x", "generator.a.b.c.d.e.f.g.h.i"]


# --- parse -------------------------------------------------------------------------------------------------------
@examples(CHEAP)  # 500 examples: 2.4 s (4.5 s)
@given(text=commands, as_json=st.booleans(), parser=st.one_of(st.none(), names), config=st.one_of(st.none(), presets))
def test_parse_any_text(sandbox, text, as_json, parser, config):
    argv = ["parse", *(["--json"] if as_json else []), *(["--parser", parser] if parser is not None else []),
            *(["--config", config] if config is not None else []), "--", text]
    code, out, err = cli(sandbox, argv)
    assert code in (0, 2, None)
    if code == 0:
        plan = json.loads(out)
        assert all(1 <= o["count"] <= 16 for o in plan["objects"])


@examples(CHEAP)  # 500 examples: 1.7 s (4.6 s)
@given(argv=st.lists(st.one_of(st.sampled_from(["parse", "generate", "edit", "stages", "plugins", "dataset", "validate",
                                                 "card", "batch", "--json", "--set", "--seed", "--out", "--config",
                                                 "--parser", "--kind", "--debug", "-h", "--", "x", "a ball", "check"]),
                                st.text(max_size=10)), max_size=6))
def test_random_argument_lists(sandbox, argv):
    if any(len(a) >= 3 and "--debug".startswith(a) for a in argv):
        return  # --debug re-raises on purpose
    if argv[:1] in (["generate"], ["batch"], ["serve"], ["train"]):
        argv = [*argv, "--seed", "x", "--", "x"]  # never start a real run or a server: argparse stops it
    cli(sandbox, argv, cwd_is_output=True)


# --- generate with inputs that fail before any work -----------------------------------------------------------
BAD_PROMPTS = st.one_of(st.text(alphabet=string.punctuation + " \t\n", max_size=30),
                        st.sampled_from(["hello world", "rolls to the left", "seventeen balls", "a ball rolls sideways",
                                         "a ball rolls left and right", "make the ball blue", "", "   ", "x" * 600]))
TINY = [f"generator.{k}={v}" for k, v in TINY_GENERATOR.items()]


@st.composite
def failing_generate(draw):
    """generate argv where at least one input is invalid by construction, so no stage does any work."""
    bad = draw(st.sampled_from(["prompt", "seed", "config", "set", "edit"]))
    prompt = draw(BAD_PROMPTS) if bad == "prompt" else draw(commands)
    seed = draw(st.sampled_from(["-1", "4294967296", "1e3", "x", "", "0x10", "99999999999999999999"])) if bad == "seed" \
        else draw(st.one_of(st.none(), st.integers(0, 2**32 - 1).map(str)))
    config = draw(st.sampled_from(["nope", "/nonexistent.yaml", "configs", ""] if bad == "config" else ["generate-only", "default"]))
    sets = draw(st.lists(st.tuples(st.sampled_from(_setting_keys()), yaml_values()).map("=".join), max_size=3))
    if bad == "set":
        sets.append(draw(st.sampled_from(["painter.x=1", "generator.num_frames=true", "generator.num_frames=100000",
                                          "reconstructor.train.iterations=1000000000000", "seed=true", "noequals",
                                          "generator.fps=[" + "[" * 50 + "]" * 51])))
    edits = draw(st.lists(commands, max_size=2))
    if bad == "edit":
        config = "generate-only"  # no reconstructor: any edit is refused before work
        edits = edits or ["make the ball blue"]
    argv = ["generate", "--", prompt] if prompt.startswith("-") else ["generate", prompt]
    argv += ["--config", config, *(["--seed", seed] if seed is not None else [])]
    for s in (TINY if config == "generate-only" and bad != "set" else []) + sets:
        argv.append(f"--set={s}")
    for e in edits:
        argv.append(f"--edit={e}")
    argv += draw(st.sampled_from([[], ["--json"], ["--editor", "nope"], ["--edit-parser", "langchain"]]))
    return bad, argv


@examples(CHEAP)  # 500 examples: 5.1 s (11.6 s)
@given(case=failing_generate())
def test_generate_with_a_bad_input_fails_before_any_work(sandbox, case):
    bad, argv = case
    out = sandbox.fresh() / "out"
    code, _, err = cli(sandbox, [*argv, "--out", out], outputs=[out])
    assert code in (2, None), (bad, argv, err)
    assert not [p for p in out.rglob("*") if p.name != "worldsim-error.log"], "a failed run left files behind"


# --- --set values ----------------------------------------------------------------------------------------------
@examples(CHEAP)  # 500 examples, every stage's settings validated each time: 3.8 s (9 s)
@given(sets=st.lists(st.tuples(st.sampled_from(_setting_keys()), yaml_values()).map(lambda kv: f"{kv[0]}={kv[1]}"),
                     min_size=1, max_size=4))
def test_set_values_are_validated_or_refused_in_one_line(sandbox, sets):
    out = sandbox.fresh() / "out"
    argv = ["generate", "hello world", "--config", "default", *(f"--set={s}" for s in sets), "--out", out]
    code, _, err = cli(sandbox, argv, outputs=[out])
    assert code in (2, None), err  # a bad setting is a ConfigError; good ones reach the parser, which refuses 'hello world'


# --- config files ------------------------------------------------------------------------------------------------
@functools.cache
def _stage_names() -> list[str]:
    from worldsim import registry

    return sorted({n for table in registry.all_stages().values() for n in table} - {"langchain"})  # no network


settings_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def config_files(draw) -> bytes:
    kind = draw(st.sampled_from(["structured", "text", "flipped"]))
    if kind == "text":
        return draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
    if kind == "flipped":
        from worldsim.config import available_presets

        presets = sorted(p for n, p in available_presets().items() if "langchain" not in n)
        data = bytearray(draw(st.sampled_from(presets)).read_bytes())
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    kinds = st.sampled_from(["parser", "generator", "reconstructor", "scorer", "editor", "teacher", "answerer", "pose", "painter",
                             ""])
    stage = st.fixed_dictionaries({"kind": kinds, "name": st.one_of(st.sampled_from(_stage_names()), st.text(max_size=8))},
                                  optional={"config": st.dictionaries(st.text(max_size=10), settings_values, max_size=3),
                                            "extra": settings_values})
    doc = draw(st.fixed_dictionaries({}, optional={"stages": st.one_of(st.lists(stage, max_size=4), settings_values),
                                                   "seed": settings_values, "name": settings_values,
                                                   "description": settings_values, "surprise": settings_values}))
    return yaml.safe_dump(doc).encode()


@examples(CHEAP)  # 500 examples: 3.5 s (12.7 s)
@given(data=config_files(), command=st.sampled_from(["parse", "generate"]), text=commands)
def test_config_files(sandbox, data, command, text):
    folder = sandbox.fresh()
    path = folder / "in" / "config.yaml"
    path.parent.mkdir()
    path.write_bytes(data)
    out = folder / "out"
    if command == "parse":
        argv = ["parse", "--config", path, "--json", "--", text]
    else:  # an unparseable prompt: a config that validates costs one parser call, nothing more
        argv = ["generate", "hello world", "--config", path, "--out", out]
    code, _, _ = cli(sandbox, argv, inputs=[path.parent], outputs=[out])
    assert code in ((0, 2, None) if command == "parse" else (2, None))


# --- dataset validate on corrupted copies --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from worldsim import batch

    out = tmp_path_factory.mktemp("dataset") / "ds"
    batch.run_batch(tiny_batch_spec(num_scenes=2, splits={"train": 0.5, "val": 0.5, "test": 0.0, "holdout_objects": []}), out)
    return out


corruptions = st.lists(st.tuples(st.sampled_from(["flip", "flip", "flip", "truncate", "delete", "append", "empty", "dir"]),
                                 st.integers(0, 10**6), st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=3)


def corrupt(root: Path, ops) -> None:
    for op, which, where, value in ops:
        files = sorted(p for p in root.rglob("*") if p.is_file())
        if not files:
            return
        path = files[which % len(files)]
        data = bytearray(path.read_bytes())
        if op == "flip" and data:
            data[where % len(data)] ^= value
        elif op == "truncate":
            data = data[: where % (len(data) + 1)]
        elif op == "append":
            data += bytes([value]) * (1 + where % 64)
        elif op == "empty":
            data = bytearray()
        if op == "delete":
            path.unlink()
        elif op == "dir":
            path.unlink()
            path.mkdir()
        else:
            path.write_bytes(bytes(data))


@examples(CHEAP)  # 500 examples, each a copy + full check of a 2-scene dataset: 10.4 s (24 s), + 2 s to build it
@given(ops=corruptions, as_json=st.booleans())
def test_dataset_validate_names_any_corruption(sandbox, dataset, ops, as_json):
    copy = sandbox.fresh() / "ds"
    shutil.copytree(dataset, copy)
    corrupt(copy, ops)
    visible = lambda t: {k: v for k, v in t.items() if not Path(k).name.startswith(".")}  # .batch.lock: no content
    changed = visible(tree(copy)) != visible(tree(dataset))
    code, _, err = cli(sandbox, ["dataset", "validate", copy, *(["--json"] if as_json else [])], inputs=[copy])
    assert code in (2 if changed else 0, None), err  # validate is read-only, and every change is caught


# --- batch with invalid specs ----------------------------------------------------------------------------------------
INVALID_FIELDS = {
    "num_scenes": [0, -1, 10**7, "many", None, [], 1.5],
    "objects": [[], ["ball", "ball"], ["unicorn-x"], "ball", [1], None],
    "colors": [[], ["red", "red"], ["blurple"], "red", None],
    "counts": [[0], [17], ["one"], [], [1, 1]],
    "directions": [["sideways"], [], "left", [None]],
    "speeds": [["warp"], []],
    "seed": [-1, 2**32, "x", [0]],
    "config": ["nope", "/nonexistent.yaml", 3, None],
    "stages": [["generator"], ["parser"], "parser", [1]],
    "settings": [{"painter": {"x": 1}}, {"generator": {"num_frames": 10**6}}, {"generator": {"num_frames": True}},
                 {"generator": {"nope": 1}}, {"generator": 3}, {"reconstructor": {"train": {"iterations": 10**12}}}],
    "splits": [{"train": 0.9, "val": 0.9, "test": 0.0}, {"train": -1, "val": 1, "test": 1}, {"holdout_objects": ["dragon"]},
               {"nope": 1}, "x"],
    "runner": ["warp", 3],
    "workers": [0, -3, 10**9, "x"],
    "name": ["", None, []],
    "license": [""],
    "surprise_key": [1],
}


@st.composite
def invalid_specs(draw) -> bytes:
    spec = tiny_batch_spec(num_scenes=1, splits={"train": 1.0, "val": 0.0, "test": 0.0, "holdout_objects": []},
                           questions=False, captions=False)
    spec["settings"] = {"generator": {**TINY_GENERATOR, "num_frames": 2}}
    fields = draw(st.lists(st.sampled_from(sorted(INVALID_FIELDS)), min_size=1, max_size=3, unique=True))
    for f in fields:
        spec[f] = draw(st.sampled_from(INVALID_FIELDS[f]))
    for f in draw(st.lists(st.sampled_from(["num_scenes", "objects", "colors", "directions"]), max_size=1)):
        spec.pop(f, None)  # a required field missing
    text = yaml.safe_dump(spec).encode()
    if draw(st.booleans()):
        data = bytearray(text)
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        text = bytes(data)
    return draw(st.one_of(st.just(text), st.binary(max_size=200)))


@examples(CHEAP)  # 500 examples: 5.7 s (13.5 s); a spec a byte flip makes valid again would run one 2-frame scene
@given(spec=invalid_specs(), options=st.sampled_from([[], ["--json"], ["--workers", "0"], ["--workers", "2"],
                                                      ["--runner", "none"], ["--runner", "threads", "--json"]]))
def test_batch_refuses_invalid_specs(sandbox, spec, options):
    folder = sandbox.fresh()
    path = folder / "in" / "spec.yaml"
    path.parent.mkdir()
    path.write_bytes(spec)
    out = folder / "out"
    cli(sandbox, ["batch", path, "--out", out, *options], inputs=[path.parent], outputs=[out])


# --- edits on byte-flipped copies of a reconstructed run ---------------------------------------------------------------
SMALL = ["generator.num_frames=4", "generator.width=48", "generator.height=48", "generator.write_ply=false",
         "generator.gaussians_per_object=150", "generator.background_spacing=0.6", "reconstructor.train.iterations=20",
         "reconstructor.pad=8", "reconstructor.eval_frames=2", "reconstructor.novel_yaws=[5]"]


@pytest.fixture(scope="module")
def reconstructed(tmp_path_factory) -> Path:
    from worldsim import pipeline
    from worldsim.config import load_config

    out = tmp_path_factory.mktemp("parent-run")
    return pipeline.run_pipeline("A yellow bus moves from right to left", config=load_config("default", SMALL), seed=0,
                                 output_dir=out)


EDITS = ["make the bus red", "delete the bus", "isolate the bus", "make the bus bigger", "move the bus up",
         "make the ball blue", "a red ball rolls left", "hello", "make it ultraviolet", "make the bus 0 times bigger"]


# The expensive path. Each example copies the run (~1 MB) and flips bytes; verification (sha256 of every listed
# file against run.json) rejects most flips before any work, while flips it cannot see (inside run.json, or with
# --no-verify) run the editor for 1-4 s (about 3% of the examples). 500 examples: 22 s, + 6 s to build the run
# (60 examples took 31 s under load); that fits the suite's budget, so it keeps the 500 of the cheap commands.
@examples(CHEAP)
@given(ops=st.lists(st.tuples(st.sampled_from(["flip", "flip", "flip", "truncate", "delete", "append", "empty"]),
                              st.integers(0, 10**6), st.integers(0, 10**9), st.integers(1, 255)), max_size=2),
       text=st.sampled_from(EDITS), verify=st.sampled_from([True, True, True, False]), as_json=st.booleans())
def test_edit_on_a_flipped_copy_never_touches_the_parent(sandbox, reconstructed, ops, text, verify, as_json):
    folder = sandbox.fresh()
    copy = folder / reconstructed.name
    shutil.copytree(reconstructed, copy)
    corrupt(copy, ops)
    listed = {a["path"] for a in json.loads((reconstructed / "run.json").read_text()).get("artifacts", [])}
    pristine, now = tree(reconstructed), tree(copy)
    tampered = {rel for rel in set(pristine) | set(now) if pristine.get(rel) != now.get(rel)}
    argv = ["edit", copy, text, *([] if verify else ["--no-verify"]), *(["--json"] if as_json else [])]
    code, _, err = cli(sandbox, argv, inputs=[copy], outputs=[folder])
    if verify and tampered & listed:
        assert code in (2, None), err  # a changed file the manifest lists is refused, never edited
