"""worldsim.plugin_templates: every kind's template is a working distribution. Each is written, installed on
sys.path with a dist-info (entry point in the `worldsim` group, found by importlib.metadata like a pip install),
and passes worldsim.testing.check_stage and its own generated tests. (The pip + CLI path: tests/test_cli_plugins.py.)"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import shutil
import sys
import tomllib

import pytest

from worldsim import plugins
from worldsim.errors import InputError
from worldsim.plugin_templates import KINDS, check_name, class_name, module_name, write_plugin
from worldsim.testing import check_stage


@contextlib.contextmanager
def installed(root, site):
    """The template distribution at `root` importable and registered: its package and a dist-info in `site`."""
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    dist, (entry, module) = meta["project"]["name"], next(iter(meta["project"]["entry-points"]["worldsim"].items()))
    site.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root / module, site / module)
    info = site / f"{dist.replace('-', '_')}-{meta['project']['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {meta['project']['version']}\n")
    (info / "entry_points.txt").write_text(f"[worldsim]\n{entry} = {module}\n")
    sys.path.insert(0, str(site))
    plugins.reset()
    try:
        yield entry
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[name]
        plugins.reset()


def test_layout_and_pyproject(tmp_path):
    root = write_plugin("generator", "demo-gen", tmp_path)
    assert root == tmp_path / "worldsim-demo-gen"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "tests/test_worldsim_demo_gen.py", "worldsim_demo_gen/__init__.py",
                     "worldsim_demo_gen/stage.py"]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "worldsim-demo-gen" and meta["project"]["dependencies"] == ["worldsim"]
    assert meta["project"]["entry-points"]["worldsim"] == {"demo-gen": "worldsim_demo_gen"}
    assert meta["build-system"]["requires"] == ["setuptools>=61"]  # nothing else to fetch (--no-build-isolation works offline)
    stage = (root / "worldsim_demo_gen/stage.py").read_text()
    assert "class DemoGenGenerator(Generator):" in stage and 'name = "demo-gen"' in stage and "write_mp4" in stage
    assert "def register_generators(register):" in (root / "worldsim_demo_gen/__init__.py").read_text()
    assert "check_stage(\"generator\", \"demo-gen\")" in (root / "tests/test_worldsim_demo_gen.py").read_text()
    assert "worldsim plugins check demo-gen" in (root / "README.md").read_text()
    for text in [p.read_text() for p in root.rglob("*") if p.is_file()]:
        assert "__NAME__" not in text and "__CLASS__" not in text and "__KIND__" not in text and "__MODULE__" not in text


def test_names_kinds_and_existing_folders_are_refused(tmp_path):
    for bad in ("Demo", "demo_gen", "1gen", "-gen", "gen-", "de--mo", "", "a" * 41):
        with pytest.raises(InputError, match=f"plugin name '{bad}' is not accepted; use 1-40 lower-case letters"):
            check_name(bad)
    with pytest.raises(InputError, match="stage kind 'painter' is not accepted; accepted: parser, generator, reconstructor"):
        write_plugin("painter", "x", tmp_path)
    root = write_plugin("scorer", "demo", tmp_path)
    (root / "README.md").write_text("mine")
    with pytest.raises(InputError, match="already exists; refusing to overwrite it"):
        write_plugin("teacher", "demo", tmp_path)
    assert (root / "README.md").read_text() == "mine"
    assert module_name("my-2d-gen") == "worldsim_my_2d_gen"
    assert class_name("generator", "my-gen") == "MyGenGenerator" and class_name("editor", "demo-editor") == "DemoEditor"


@pytest.mark.parametrize("kind", KINDS)
def test_template_passes_check_stage_and_its_own_tests(kind, tmp_path):
    name = f"tpl-{kind}"
    root = write_plugin(kind, name, tmp_path / "src")
    with installed(root, tmp_path / "site") as entry:
        assert entry == name and name in plugins.plugin_versions()
        report = check_stage(kind, name)
        assert report.ok, report.format()
        assert not report.skipped, report.format()
        # the generated tests: the same contract check plus one behaviour test
        path = root / "tests" / f"test_{module_name(name)}.py"
        spec = importlib.util.spec_from_file_location(f"generated_{module_name(name)}", path)
        tests = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tests)
        ran = []
        for test_name, fn in vars(tests).items():
            if test_name.startswith("test_") and callable(fn):
                (tmp_path / test_name).mkdir()
                fn(**({"tmp_path": tmp_path / test_name} if "tmp_path" in inspect.signature(fn).parameters else {}))
                ran.append(test_name)
        assert len(ran) == 2 and f"test_the_{kind}_passes_the_stage_contract" in ran


def test_generated_tests_pass_under_pytest(tmp_path):
    """The generated test file as a plugin author runs it: pytest in a fresh process, the plugin found through its
    dist-info on PYTHONPATH."""
    import os
    import subprocess

    root = write_plugin("generator", "tpl-pytest", tmp_path / "src")
    with installed(root, tmp_path / "site"):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                              capture_output=True, text=True, cwd=root, env=env, timeout=600)
    assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout + proc.stderr
