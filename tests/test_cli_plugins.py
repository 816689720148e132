"""`worldsim plugins` (list), `worldsim plugins new KIND NAME`, `worldsim plugins check NAME`.

The generator template goes the whole way a plugin author goes: `plugins new`, `pip install --no-deps
--no-build-isolation -e` (a real editable install with a real entry point), `worldsim plugins check` and `worldsim
generate` in fresh processes. The install goes into a throwaway overlay environment that sees this venv's packages
(a .pth that adds its site-packages), so the project's own venv, and the tests running beside this one, never see
the template. Every kind's template is checked in-process by tests/test_plugin_templates.py."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from worldsim.cli import main
from worldsim.testing import install_plugin

WORLDSIM = str(Path(sys.executable).with_name("worldsim"))  # the console script of this venv


def run(*args, cwd=None, check=True, python=None):
    command = [python, "-m", "worldsim.cli"] if python else [WORLDSIM]
    proc = subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, timeout=600)
    if check:
        assert proc.returncode == 0, f"worldsim {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def overlay_env(folder: Path) -> str:
    """A venv in `folder` that sees this venv's packages (worldsim included) and installs into its own site-packages;
    returns its python."""
    import site
    import sysconfig

    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = str(folder / "bin" / "python")
    own = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True,
                         text=True, check=True).stdout.strip()
    base = [p for p in site.getsitepackages() if Path(p).is_dir()] or [sysconfig.get_paths()["purelib"]]
    Path(own, "_worldsim_base.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in base))
    return python


def test_pip_installed_template_is_listed_checked_and_generates(tmp_path):
    """The template through pip and real entry points, installed into an overlay environment (module docstring)."""
    name = f"demo-gen-{uuid.uuid4().hex[:6]}"
    created = run("plugins", "new", "generator", name, "--dir", str(tmp_path / "src"))
    root = tmp_path / "src" / f"worldsim-{name}"
    assert str(root) in created.stdout and f"worldsim plugins check {name}" in created.stdout
    config = tmp_path / "demo.yaml"
    config.write_text(f"description: parse and generate with the template\nseed: 0\nstages:\n"
                      f"  - {{kind: parser, name: rules}}\n"
                      f"  - {{kind: generator, name: {name}, config: {{num_frames: 8, width: 64, height: 64}}}}\n")
    python = overlay_env(tmp_path / "env")
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e",
                              str(root)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    listed = run("plugins", "--json", python=python)
    checked = run("plugins", "check", name, check=False, python=python)
    generated = run("generate", "A red ball rolls left", "--config", str(config), "--out", str(tmp_path / "runs"),
                    "--json", check=False, python=python)
    row = next(r for r in json.loads(listed.stdout) if r["plugin"] == name)
    assert row["status"] == "ok" and row["distribution"] == f"worldsim-{name}" and row["stages"] == [f"generator:{name}"]

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"generator '{name}' (plugin '{name}'): passed" in checked.stdout
    for check in ("class", "config", "run", "result", "json", "video", "labels", "determinism"):
        assert f"  ok       {check}" in checked.stdout, checked.stdout

    assert generated.returncode == 0, generated.stdout + generated.stderr
    summary = json.loads(generated.stdout)
    labels = json.loads(Path(summary["labels"]).read_text())
    assert labels["generator"] == name and labels["num_frames"] == 8
    xs = [f["center"][0] for f in labels["objects"][0]["frames"]]
    assert xs[-1] < xs[0]  # the square rolls left
    manifest = json.loads(Path(summary["run_json"]).read_text())
    assert manifest["plugins"][name] == "0.1.0" and manifest["stages"][1]["plugin"] == name
    unseen = run("plugins", "--json")  # the project's venv never saw it
    assert name not in {r["plugin"] for r in json.loads(unseen.stdout)}


def test_new_writes_every_kind_and_refuses_bad_input(tmp_path, capsys):
    for kind in ("parser", "generator", "reconstructor", "editor", "scorer", "answerer", "teacher", "pose"):
        assert main(["plugins", "new", kind, f"my-{kind}", "--dir", str(tmp_path)]) == 0
        assert (tmp_path / f"worldsim-my-{kind}" / f"worldsim_my_{kind}" / "stage.py").is_file()
    out = capsys.readouterr().out
    assert "an editor 'my-editor'" in out and "a generator 'my-generator'" in out
    for argv, message in [
        (["new", "painter", "x"], "stage kind 'painter' is not accepted; accepted: parser, generator, reconstructor, "
                                  "editor, scorer, answerer, teacher, pose"),
        (["new", "generator", "My_Gen"], "plugin name 'My_Gen' is not accepted; use 1-40 lower-case letters"),
        (["new", "generator", "my-generator", "--dir", str(tmp_path)], "already exists; refusing to overwrite it"),
        (["new", "generator", "procedural"], "a generator named 'procedural' is already installed (plugin 'procedural')"),
        (["new", "scorer", "rules"], "a plugin named 'rules' is already installed"),
    ]:
        assert main(["plugins", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_check_a_stage_by_name_with_settings(capsys):
    assert main(["plugins", "check", "procedural", "--set", "num_frames=4", "--set", "width=32", "--set", "height=32",
                 "--set", "write_ply=false", "--set", "gaussians_per_object=100", "--set", "background_spacing=0.6"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("generator 'procedural':\n") and "generator 'procedural' (plugin 'procedural'): passed" in out
    assert "num_frames" in out and "  ok       determinism" in out

    assert main(["plugins", "check", "procedural", "--set", "num_frames=1", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report[0]["ok"] is False and report[0]["checks"][1]["name"] == "config"
    assert report[0]["checks"][1]["status"] == "FAILED" and "num_frames=1" in report[0]["checks"][1]["reason"]


def test_check_every_stage_of_a_plugin_and_exit_1_when_one_fails(capsys):
    # the teachers plugin: the label teachers pass; the transformers teachers have no local weights here
    assert main(["plugins", "check", "teachers"]) == 1
    out = capsys.readouterr().out
    assert "teacher 'label-text' (plugin 'teachers'): passed" in out
    assert "teacher 'transformers-clip' (plugin 'teachers'): FAILED" in out
    assert out.rstrip().splitlines()[-1].startswith("4 of 7 stages passed; failed: teacher 'transformers-clip'")


def test_check_refuses_unknown_names_kinds_and_settings(capsys, tmp_path):
    for argv, message in [
        (["check", "no-such-stage"], "no stage or plugin named 'no-such-stage'; stages: "),
        (["check", "rules", "--kind", "generator"], "no generator stage or plugin named 'rules'; stages: "),
        (["check", "rules", "--kind", "painter"], "--kind 'painter' is not a stage kind; accepted: parser, generator"),
        (["check", "rules", "--set", "oops"], "--set 'oops' is not KEY=VALUE"),
    ]:
        assert main(["plugins", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    broken = "raise ImportError('no module named torchvision')\n"
    with install_plugin(tmp_path / "site", "toy-broken", "toy_broken", broken):
        assert main(["plugins", "check", "toy-broken"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   plugin: skipped: failed to import toy_broken: ImportError: no module named torchvision" in out


def test_plugins_without_an_action_still_lists(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[0] == "answerers" and "generator:procedural" in out
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["plugin"] for r in rows} >= {"rules", "procedural", "teachers"}
