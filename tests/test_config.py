import pytest

from worldsim.config import available_presets, load_config
from worldsim.errors import ConfigError


def test_default_preset_lists_parser_then_generator():
    cfg = load_config("default")
    assert [s.kind for s in cfg.stages][:2] == ["parser", "generator"]
    assert cfg.step("generator").config["num_frames"] == 16
    assert "default" in available_presets()


def test_overrides_set_stage_settings_and_seed():
    cfg = load_config("default", ["generator.num_frames=8", "seed=7", "generator.backend=torch"])
    assert cfg.step("generator").config["num_frames"] == 8
    assert cfg.step("generator").config["backend"] == "torch"
    assert cfg.seed == 7


@pytest.mark.parametrize(
    "name, overrides, message",
    [
        ("nope", [], "unknown config 'nope'; available presets: default"),
        ("default", ["generator.num_frames"], "is not KEY=VALUE"),
        ("generate-only", ["editor.threshold=1"], "names stage 'editor', which this preset lacks"),
        ("default", ["stages=1"], "is not a preset field"),
        ("default", ["seed=abc"], "seed"),
    ],
)
def test_bad_config_is_one_line_error(name, overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(name, overrides)
    assert "\n" not in str(info.value)


def test_yaml_file_validation(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - kind: painter\n    name: x\n")
    with pytest.raises(ConfigError, match="painter"):
        load_config(str(bad))
    no_parser = tmp_path / "np.yaml"
    no_parser.write_text("stages:\n  - kind: generator\n    name: procedural\n")
    with pytest.raises(ConfigError, match="first stage must be a parser"):
        load_config(str(no_parser))
    broken = tmp_path / "broken.yaml"
    broken.write_text("stages: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(broken))


def test_override_picks_one_of_several_scorers_by_name():
    cfg = load_config("default", ["scorer:vlm4d-qa.modes=[cot]", "scorer.min_pixels=7"])
    qa = next(s for s in cfg.stages if s.name == "vlm4d-qa")
    conformance = next(s for s in cfg.stages if s.name == "conformance")
    assert qa.config["modes"] == ["cot"]
    assert conformance.config["min_pixels"] == 7  # a bare kind names the first stage of that kind
    with pytest.raises(ConfigError, match="scorer:nope"):
        load_config("default", ["scorer:nope.x=1"])


def test_deep_values_keys_and_files_are_one_line_errors(tmp_path):
    import pytest

    from worldsim.config import load_config
    from worldsim.errors import ConfigError

    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(ConfigError, match="nested too deeply; at most 32"):
        load_config("generate-only", [f"generator.fps={deep}"])
    with pytest.raises(ConfigError, match="has 5001 parts; at most 8"):
        load_config("generate-only", ["generator." + ".".join(["a"] * 5000) + "=1"])
    path = tmp_path / "deep.yaml"
    path.write_text("stages:\n  - kind: parser\n    name: rules\n    config: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(ConfigError, match="deep.yaml' is nested too deeply"):
        load_config(str(path))


# --- every number a user can type has bounds and is not a boolean --------------------------------------
import types
import typing

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo


def _meta(items) -> list:
    out = []
    for m in items:
        out += _meta(m.metadata) if isinstance(m, FieldInfo) else [m]
    return out


def _slots(annotation, metadata, path):
    """(path, type, constraints) of every int/float a value of `annotation` holds: the field itself, list/tuple
    elements (path ends in an index), dict values (path ends in '*'), fields of nested models."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _slots(args[0], metadata + _meta(args[1:]), path)
    elif annotation in (int, float):
        yield path, annotation, metadata
    elif origin in (typing.Union, types.UnionType):
        for a in args:
            yield from _slots(a, metadata, path)
    elif origin is tuple and args and args[-1] is not Ellipsis:
        for i, a in enumerate(args):
            yield from _slots(a, [], (*path, i))
    elif origin in (list, tuple, set, frozenset) and args:
        yield from _slots(args[0], [], (*path, 0))
    elif origin is dict and len(args) == 2:
        yield from _slots(args[1], [], (*path, "*"))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from model_slots(annotation, path)


def model_slots(model: type[BaseModel], path=()):
    for name, field in model.model_fields.items():
        yield from _slots(field.annotation, list(field.metadata), (*path, name))


def _with_true(model: type[BaseModel], path) -> dict:
    """The smallest config that puts True at `path` (an index: a list / tuple of the field's default)."""
    head, rest = path[0], path[1:]
    field = model.model_fields[head]
    if not rest:
        return {head: True}
    key = rest[0]
    if key == "*":
        return {head: {"miou" if head == "floor" else "k": True}}
    if isinstance(key, int):
        default = field.get_default(call_default_factory=True)
        value = list(default) if isinstance(default, (list, tuple)) and len(default) > key else [0] * (key + 1)
        value[key] = True
        return {head: value}
    nested = next(a for a in [field.annotation, *typing.get_args(field.annotation)]
                  if isinstance(a, type) and issubclass(a, BaseModel))
    return {head: _with_true(nested, rest)}


def _all_configs():
    from worldsim import registry

    return [(f"{kind}:{name}", info.cls) for kind, table in registry.all_stages().items()
            for name, info in sorted(table.items())]


def test_every_numeric_setting_of_every_stage_has_both_bounds_and_rejects_booleans():
    from pydantic import ValidationError

    checked, missing, accepts_bool = 0, [], []
    for label, cls in _all_configs():
        for path, kind, metadata in model_slots(cls.Config):
            where = f"{label} {'.'.join(map(str, path))} ({kind.__name__})"
            lower = any(isinstance(m, (annotated_types.Ge, annotated_types.Gt)) for m in metadata)
            upper = any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in metadata)
            if not (lower and upper):
                missing.append(where + (" no lower bound" if not lower else " no upper bound"))
            try:
                cls.Config.model_validate(_with_true(cls.Config, path))
            except ValidationError as exc:
                if not any(e["type"] == "bool_not_number" for e in exc.errors()):
                    accepts_bool.append(where)
            else:
                accepts_bool.append(where)
            checked += 1
    assert not missing, missing
    assert not accepts_bool, accepts_bool
    assert checked > 100  # the walk reaches nested models (train.*, guidance.*) and list / tuple / dict elements


@pytest.mark.parametrize(
    "override, needles",
    [
        ("reconstructor.train.iterations=true", ["train.iterations=True", "not true/false"]),
        ("reconstructor.train.iterations=1000000000000", ["train.iterations=1000000000000", "less than or equal to 1000000"]),
        ("generator.num_frames=false", ["num_frames=False", "not true/false"]),
        ("reconstructor.novel_yaws=[5, true]", ["novel_yaws", "not true/false"]),
        ("reconstructor.fov_deg=yes", ["fov_deg=True", "not true/false"]),
        ("parser.max_chars=1e9", ["max_chars"]),
    ],
)
def test_out_of_range_and_boolean_overrides_are_one_line_config_errors(override, needles):
    from worldsim import registry

    cfg = load_config("default", [override])
    kind = override.split(".")[0]
    step = cfg.step(kind)
    with pytest.raises(ConfigError) as info:
        registry.get_stage_info(kind, step.name).cls.make_config(step.config)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_nested_settings_reject_booleans_naming_the_nested_key():
    from worldsim.dmc.guidance import GuidanceSettings
    from worldsim.llm import ChatModelConfig
    from worldsim.stages import SettingsModel, bool_for_number

    assert issubclass(GuidanceSettings, SettingsModel) and issubclass(ChatModelConfig, SettingsModel)
    from plugins.tiny_t2v.stage import TinyT2VGenerator

    with pytest.raises(ConfigError, match=r"guidance\.steps=True: a number is expected, not true/false"):
        TinyT2VGenerator.make_config({"guidance": {"steps": True}})
    assert TinyT2VGenerator.make_config({"guidance": {"enabled": False}}).guidance.enabled is False  # a bool stays a bool
    assert bool_for_number(True, int | None) and not bool_for_number(True, bool | int) and not bool_for_number(1, int)
    assert bool_for_number([1.0, False], list[float]) and not bool_for_number([1.0, 2], list[float])


def test_every_shipped_preset_validates_within_the_bounds():
    from worldsim import registry

    for name in available_presets():
        cfg = load_config(name)
        for step in cfg.stages:
            registry.get_stage_info(step.kind, step.name).cls.make_config(step.config)  # every shipped preset validates
