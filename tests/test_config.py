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
