"""`worldsim` command line. Every error the user can fix is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys

from worldsim import __version__
from worldsim.errors import InputError, WorldsimError, os_error_line

EXAMPLE = "A red ball rolls quickly from left to right"


def _seed(text: str) -> int:
    from worldsim.runner import validate_seed

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed '{text}' is not an integer in [0, 4294967295]") from None
    try:
        return validate_seed(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fallback_note(parser: str, provenance) -> None:
    """One stderr line when a parser fell back to another (its provenance, e.g. the langchain parser's, says so)."""
    if isinstance(provenance, dict) and provenance.get("fallback"):
        reason = " ".join(str(provenance.get("error") or "no reason recorded").split())[:300]
        print(f"worldsim: note: parser '{parser}' fell back to '{provenance['fallback']}': {reason}", file=sys.stderr)


def cmd_parse(args) -> int:
    from worldsim import registry, sessions
    from worldsim.config import load_config
    from worldsim.stages import call_stage

    if args.config:
        step = load_config(args.config).step("parser")
    else:
        step = sessions.parser_step(None, args.parser)
    info = registry.get_stage_info("parser", step.name)
    stage = info.cls(step.config)
    plan = call_stage(stage, args.text, plugin=info.plugin)
    _fallback_note(step.name, getattr(stage, "last_provenance", None))
    if plan.mode == "edit":
        from worldsim import edit_ops

        plan = plan.model_copy(update={"edit": plan.edit.model_copy(
            update={"params": edit_ops.validate_params(plan.edit.op, dict(plan.edit.params))})})
    if args.json:
        print(json.dumps(plan.contract()))
    else:
        print(json.dumps(plan.model_dump(mode="json"), indent=2))
    return 0


def cmd_generate(args) -> int:
    from tqdm import tqdm

    from worldsim import runner
    from worldsim.pipeline import run

    bar = tqdm(desc="worldsim", unit="stage", disable=args.json or None, file=sys.stderr)

    def run_one(st, step):
        bar.total = len(st.steps)
        bar.set_postfix_str(f"{step.kind}:{step.name}" + (f" (attempt {st.attempt})" if st.attempt > 1 else ""))
        st = runner.run_step(st, step)
        bar.update(1)
        return st

    try:  # the closed loop (regenerations) and the edits run inside pipeline.run
        result = run(args.prompt, args.edit, args.config, args.seed, args.out, args.set,
                              parser=args.edit_parser, editor=args.editor, run_one=run_one)
    finally:
        bar.close()
    state, run_dir, versions = result.state, result.run_dir, result.versions
    parser = state.config.step("parser")
    _fallback_note(parser.name if parser else "parser", state.metrics.get("parser"))
    summary = {"run_dir": str(run_dir), "run_json": str(run_dir / "run.json"), "versions": [str(v) for v in versions]}
    if state.video is not None:
        summary.update(video=str(run_dir / state.video.video), labels=str(run_dir / (state.video.labels or "")))
    if args.json:
        print(json.dumps(summary))
    else:
        times = ", ".join(f"{s.kind} {s.wall_s:.2f}s" for s in state.stages)
        print(f"run folder: {run_dir}\n  {times}")
        if state.video is not None:
            print(f"  video: {summary['video']}")
        for v in versions:
            print(f"edited version: {v}")
    return 0


def cmd_edit(args) -> int:
    from worldsim import sessions

    new = sessions.apply_edit(args.run_dir, args.text, editor=args.editor, parser=args.parser, verify=not args.no_verify)
    manifest = json.loads((new / "run.json").read_text())
    if args.json:
        print(json.dumps({"run_dir": str(new), "parent": manifest.get("parent"), "metrics": manifest.get("metrics", {})}))
    else:
        print(f"new version: {new}\n  parent: {manifest.get('parent')}")
        edit = manifest.get("metrics", {}).get("edit")
        if edit:
            shown = {k: edit[k] for k in ("op", "target", "threshold", "selected_gaussians", "mask_iou", "psnr_outside", "psnr_removed_vs_gt") if k in edit}
            print("  " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()))
    return 0


def _lines(prompt: str):
    """Lines from a terminal prompt (until EOF / Ctrl-D) or from piped stdin."""
    if not sys.stdin.isatty():
        yield from sys.stdin
        return
    while True:
        try:
            yield input(prompt)
        except EOFError:
            return


def cmd_session(args) -> int:
    """Interactive prompt: each line is an edit of the current version; the new version becomes current."""
    from worldsim import sessions
    from worldsim.errors import WorldsimError

    current = sessions.open_version(args.run_dir, verify=not args.no_verify).path
    print(f"worldsim session on {current.name}. Type an edit ('make the ball blue', 'delete it'), "
          "'objects', 'history', or 'quit'.", file=sys.stderr)
    for line in _lines("worldsim> "):
        text = line.strip()
        if not text:
            continue
        if text in ("quit", "exit"):
            break
        version = sessions.open_version(current, verify=False)  # listing objects and history reads no scene
        if text == "objects":
            print(", ".join(f"{o.name} ({o.color or 'no colour'}{', removed' if o.removed else ''})" for o in version.objects) or "none")
            continue
        if text == "history":
            print(" -> ".join(version.lineage()))
            continue
        try:
            current = sessions.apply_edit(current, text, editor=args.editor, parser=args.parser, verify=not args.no_verify)
            print(f"new version: {current}")
        except WorldsimError as exc:  # a bad command keeps the session going
            print(f"worldsim: error: {exc}", file=sys.stderr)
    print(current)
    return 0


def cmd_plugins(args) -> int:
    from worldsim import plugins, registry

    stages = registry.all_stages()  # registering checks every class: broken plugins are known after this
    versions, broken = plugins.plugin_versions(), plugins.broken_plugins()
    rows = []
    for name in sorted({*versions, *broken}):
        mine = [f"{kind}:{s}" for kind, table in stages.items() for s, info in sorted(table.items()) if info.plugin == name]
        rows.append({"plugin": name, "version": versions.get(name, "?"), "distribution": plugins.distribution_of(name),
                     "stages": mine, "status": "broken" if name in broken else "ok", "reason": broken.get(name)})
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            shown = f"BROKEN: {r['reason']}" if r["reason"] else (", ".join(r["stages"]) or "-")
            print(f"{r['plugin']:<20} {r['version']:<10} {shown}")
    return 0


def cmd_plugins_new(args) -> int:
    """`worldsim plugins new KIND NAME [--dir DIR]`: write a working plugin distribution from a template."""
    from worldsim import plugin_templates, plugins, registry

    kind, name = plugin_templates.check_kind(args.kind), plugin_templates.check_name(args.name)
    taken = registry.all_stages()[kind].get(name)
    if taken is not None:
        raise InputError(f"a {kind} named '{name}' is already installed (plugin '{taken.plugin}'); choose another name")
    if name in {*plugins.plugin_versions(), *plugins.broken_plugins()}:
        raise InputError(f"a plugin named '{name}' is already installed (distribution '{plugins.distribution_of(name)}'); "
                         f"choose another name")
    root = plugin_templates.write_plugin(kind, name, args.dir)
    print(f"created {root}: {'an' if kind[0] in 'aeiou' else 'a'} {kind} '{name}' ({plugin_templates.module_name(name)}/stage.py)\n"
          f"next:\n  pip install -e {root}\n  worldsim plugins check {name}\n  pytest {root / 'tests'}")
    return 0


def _check_settings(pairs: list[str]) -> dict:
    """`--set key=value` (dotted keys nest: train.iterations=20; values read as YAML) -> a stage config dict."""
    import yaml

    config: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(p.strip() for p in parts):
            raise InputError(f"--set '{pair}' is not KEY=VALUE (e.g. --set num_frames=8 or --set train.iterations=20)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        target = config
        for p in parts[:-1]:
            target = target.setdefault(p.strip(), {})
            if not isinstance(target, dict):
                raise InputError(f"--set '{pair}': '{p}' was already set to a value, not a mapping")
        target[parts[-1].strip()] = value
    return config


def cmd_plugins_check(args) -> int:
    """`worldsim plugins check NAME`: worldsim.testing.check_stage on the stage(s) named NAME, else every stage of
    plugin NAME; exit 0 when every check passes, 1 otherwise, 2 for an unknown name."""
    from worldsim import plugins, registry
    from worldsim.hookspecs import STAGE_KINDS
    from worldsim.testing import check_stage

    if args.kind is not None and args.kind not in STAGE_KINDS:
        raise InputError(f"--kind '{args.kind}' is not a stage kind; accepted: {', '.join(STAGE_KINDS)}")
    config = _check_settings(args.set)
    table = registry.all_stages()
    wanted = lambda kind: args.kind in (None, kind)
    targets = [(kind, args.name) for kind in STAGE_KINDS if wanted(kind) and args.name in table[kind]]
    if not targets:
        targets = [(kind, s) for kind in STAGE_KINDS if wanted(kind) for s, info in sorted(table[kind].items())
                   if info.plugin == args.name]
    broken = plugins.broken_plugins()
    if not targets and args.name in broken:
        print(f"plugin '{args.name}': FAILED\n  FAILED   plugin: skipped: {broken[args.name]}")
        return 1
    if not targets:
        names = sorted({s for kind, t in table.items() if wanted(kind) for s in t})
        owners = sorted({i.plugin for kind, t in table.items() if wanted(kind) for i in t.values()})
        what = f"{args.kind} stage" if args.kind else "stage"
        raise InputError(f"no {what} or plugin named '{args.name}'; stages: {', '.join(names) or 'none'}; "
                         f"plugins: {', '.join(owners) or 'none'}")
    reports = []
    for kind, name in targets:
        report = check_stage(kind, name, config or None, echo=None if args.json else print)
        reports.append(report)
    if args.json:
        print(json.dumps([r.to_dict() for r in reports]))
    elif len(reports) > 1:
        failed = [r.title for r in reports if not r.ok]
        print(f"{len(reports) - len(failed)} of {len(reports)} stages passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 0 if all(r.ok for r in reports) else 1


def cmd_stages(args) -> int:
    from worldsim import registry

    rows = [
        {"kind": kind, "name": name, "plugin": info.plugin, "description": info.description,
         **({"ops": [p.op for p in info.cls.ops]} if kind == "editor" else {})}
        for kind, table in registry.all_stages().items() if args.kind in (None, kind)
        for name, info in sorted(table.items())
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            ops = f" [ops: {', '.join(r['ops'])}]" if "ops" in r else ""
            print(f"{r['kind']:<14} {r['name']:<22} {r['plugin']:<16} {r['description']}{ops}")
    return 0


def cmd_serve(args) -> int:
    from worldsim.serve import ensure_server, serve_deployments

    ensure_server()
    serve_deployments()
    return 0


def cmd_batch(args) -> int:
    from tqdm import tqdm

    from worldsim.batch import run_batch

    bar = tqdm(desc="worldsim batch", unit="scene", disable=args.json or None, file=sys.stderr)

    def progress(result, done, total):
        bar.total = total
        bar.n = done
        bar.set_postfix_str(result["status"] if result["id"] else "resumed", refresh=False)
        bar.refresh()

    try:
        summary = run_batch(args.spec, args.out, progress=progress, retry_failed=args.retry_failed, runner=args.runner,
                            workers=args.workers, dask_address=args.dask_address)
    finally:
        bar.close()
    failed = summary["failed"]
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"dataset: {args.out}\n  {summary['scenes']} scenes {summary['splits']}; synthesized {summary['synthesized']}, "
              f"recovered {summary['recovered']}, already done {summary['skipped']}"
              + (f", failed {failed} (see {summary['failures_file']})" if failed else "") + f"; {summary['wall_s']:.1f} s"
              + (f", {summary['scenes_per_hour']:.0f} scenes/hour" if summary["scenes_per_hour"] else ""))
    if failed:
        print(f"worldsim: error: {failed} of {summary['scenes'] + failed} scenes failed; the dataset holds the other "
              f"{summary['scenes']}. Each failure (scene, stage, error) is in {summary['failures_file']}; remove the cause "
              f"and run `worldsim batch {args.spec} --out {args.out} --retry-failed`", file=sys.stderr)
        return 1
    return 0


def cmd_dataset_validate(args) -> int:
    from worldsim.io.datasets import validate_dataset

    counts = validate_dataset(args.dir, allow_failed=args.allow_failed)
    print(json.dumps(counts) if args.json else f"valid: {args.dir} ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 0


def _question_mix_arg(text: str):
    """--question-mix: a preset name, 'all' (every question) or a JSON mapping of category to weight."""
    from worldsim.types.batch import QUESTION_MIX_PRESETS

    if text in ("all", "none"):
        return None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise InputError(f"--question-mix {text!r} is not valid JSON; give a preset ({', '.join(QUESTION_MIX_PRESETS)}), "
                             "'all', or a mapping like '{\"translational\": 2, \"counting\": 1}'") from None
    return text


def cmd_dataset_export(args) -> int:
    from worldsim.batch import export_dataset

    mix = {} if args.question_mix is None else {"question_mix": _question_mix_arg(args.question_mix)}
    manifest = export_dataset(args.dir, formats=args.format, video_base_url=args.video_base_url, **mix)
    written = {f: manifest["export"][f] for f in (args.format or manifest["export"])}
    print(json.dumps({"dataset": args.dir, "export": written}) if args.json else
          f"exported: {args.dir} ({', '.join(written)}); check with `worldsim dataset validate {args.dir}`")
    return 0


def cmd_dataset_card(args) -> int:
    from pathlib import Path

    card = Path(args.dir) / "README.md"
    if not card.is_file():
        raise InputError(f"{card} does not exist; is '{args.dir}' a folder written by `worldsim batch`?")
    print(card.read_text(), end="")
    return 0


def cmd_export_ply(args) -> int:
    from tqdm import tqdm

    from worldsim.export_ply import export_ply

    bar = tqdm(desc="worldsim export-ply", unit="file", disable=args.json or None, file=sys.stderr)

    def progress(done, total):
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = export_ply(args.run, args.sh_degree, args.out, progress=progress)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"exported {len(summary['files'])} PLY files at SH degree {summary['sh_degree']} to {summary['out']}")
    return 0


def cmd_view(args) -> int:  # `worldsim view`: the interactive 4D viewer (worldsim/viewer/)
    from worldsim.viewer import data, server

    run = args.run if args.run is not None else data.latest_run(args.outputs)
    if args.export:
        from worldsim.viewer.export import export_html

        path = export_html(run, args.export)
        print(f"viewer: {path.resolve()}\n  open it in a browser (file://{path.resolve()}#t=0); add #t=FRAME to open at a frame")
        return 0

    def ready(srv):
        moved = f" (port {args.port} was in use)" if args.port and srv.server_address[1] != args.port else ""
        print(f"viewing {srv.family.start} at {srv.url}{moved}; Ctrl-C stops", flush=True)

    server.serve(run, host=args.host, port=args.port, ready=ready)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from worldsim.hookspecs import STAGE_KINDS

    p = argparse.ArgumentParser(
        prog="worldsim",
        description="Generative 4D world simulation: command -> plan -> video -> 4D Gaussian scene, every stage a plugin.",
        epilog=f"Example: worldsim generate \"{EXAMPLE}\" --seed 0",
    )
    p.add_argument("--version", action="version", version=f"worldsim {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error (also: WORLDSIM_DEBUG=1)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    g = sub.add_parser("generate", help="run the configured stages on a prompt (no server needed)",
                       description="Parse PROMPT, generate a labelled video and every later stage the config lists; "
                                   "writes a run folder under --out and prints its path.",
                       epilog="The prompt may also say how the camera moves (\"... as the camera pans slowly to the left\", "
                              "\"a tracking shot follows the red car\"; `worldsim parse --help` lists the moves); the camera is "
                              "static unless the prompt moves it. An object's direction is its motion in the world as seen "
                              "from the first frame's camera, whatever the camera does.")
    g.add_argument("prompt", metavar="PROMPT", help=f"scene description, e.g. \"{EXAMPLE}\"")
    g.add_argument("--edit", action="append", default=[], metavar="TEXT", help="an edit command applied after generation (repeatable); each writes a new version")
    g.add_argument("--edit-parser", default=None, metavar="NAME", help="parser stage for the --edit commands (default: the config's parser)")
    g.add_argument("--editor", default=None, metavar="NAME", help="editor stage for the --edit commands (default: the config's editor that implements the op, else any installed one)")
    g.add_argument("--config", default="default", metavar="NAME", help="preset name from configs/ or a path to a YAML file (default: default)")
    g.add_argument("--set", action="append", default=[], metavar="KIND.KEY=VALUE", help="override a stage setting, e.g. generator.num_frames=8 (repeatable)")
    g.add_argument("--seed", type=_seed, default=None, metavar="N", help="random seed, integer in [0, 4294967295] (default: the preset's)")
    g.add_argument("--out", default="outputs", metavar="DIR", help="folder that receives the run folder (default: outputs)")
    g.add_argument("--json", action="store_true", help="print a JSON summary instead of text, no progress bar")
    g.set_defaults(func=cmd_generate)

    pa = sub.add_parser("parse", help="turn a command into a plan and print it",
                        description="Parse a generate or edit command. With --json prints {mode, objects, motion, edit, camera}.",
                        epilog="camera: {motion, speed, target}, how the camera moves, in film terms from the camera "
                               "operator's view: static (the default when the command says nothing about the camera), "
                               "pan-left/right, tilt-up/down, dolly-in/out, truck-left/right, orbit-left/right "
                               "(orbit-left = to the camera's left, clockwise seen from above) or follow (target: the "
                               "object followed or orbited). An object's direction is its motion in the world as seen "
                               "from the first frame's camera, whatever the camera does; zoom is not a camera move. "
                               "Example: worldsim parse \"A red ball rolls left as the camera pans slowly right\" --json")
    pa.add_argument("text", metavar="TEXT", help="the command, e.g. \"Make the ball blue\"")
    pa.add_argument("--json", action="store_true", help="print the stable one-line JSON contract")
    pa.add_argument("--parser", default=None, metavar="NAME", help="parser stage to use (default: rules)")
    pa.add_argument("--config", metavar="NAME", help="use the parser (and its settings) of this preset, e.g. one naming a langchain model")
    pa.set_defaults(func=cmd_parse)

    pl = sub.add_parser("plugins", help="list loaded plugins, their versions and stages; write (new) or check (check) a plugin",
                        description="Without an action: list the loaded plugins, their versions and stages (and broken "
                                    "plugins with the reason). `new` writes a plugin distribution to start from; `check` "
                                    "runs a stage on tiny inputs against its kind's contract.")
    pl.add_argument("--json", action="store_true", help="print JSON")
    pl.set_defaults(func=cmd_plugins)
    plsub = pl.add_subparsers(dest="plugins_command", metavar="ACTION")
    pn = plsub.add_parser("new", help="write a working plugin distribution (worldsim-NAME/) for one stage kind",
                          description="Writes DIR/worldsim-NAME/: pyproject.toml with the worldsim entry point, a package with "
                                      "the stage class and its register hook, a README and a pytest test using "
                                      "worldsim.testing.check_stage. `pip install -e` it, then `worldsim plugins check NAME`.")
    pn.add_argument("kind", metavar="KIND", help=f"stage kind: {', '.join(STAGE_KINDS)}")
    pn.add_argument("name", metavar="NAME", help="the stage and plugin name: lower-case letters, digits, hyphens (e.g. my-gen)")
    pn.add_argument("--dir", default=".", metavar="DIR", help="folder that receives worldsim-NAME/ (default: the current folder)")
    pn.set_defaults(func=cmd_plugins_new)
    pc = plsub.add_parser("check", help="run a stage (or every stage of a plugin) on tiny inputs and check its contract",
                          description="Runs worldsim.testing.check_stage on the stage(s) named NAME, or on every stage of the "
                                      "plugin NAME: the class, the result type and files, JSON metrics and same-seed "
                                      "determinism. Prints each check; exit 0 when all pass, 1 otherwise.")
    pc.add_argument("name", metavar="NAME", help="a stage name or a plugin name")
    pc.add_argument("--kind", default=None, metavar="KIND", help=f"only stages of this kind ({', '.join(STAGE_KINDS)})")
    pc.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting of the checked stage's Config, e.g. num_frames=8 or train.iterations=20 (repeatable)")
    pc.add_argument("--json", action="store_true", help="print the reports as JSON (no progress lines)")
    pc.set_defaults(func=cmd_plugins_check)

    st = sub.add_parser("stages", help="list available stages by kind")
    st.add_argument("--kind", choices=STAGE_KINDS, help="only this stage kind")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_stages)

    ed = sub.add_parser("edit", help="edit a generated scene by language; writes a new version linked to its parent",
                        description="Apply one edit command (recolor, remove, extract, move, scale, or any op an installed "
                                    "editor declares; `worldsim stages --kind editor` lists them) to the scene in RUN_DIR. "
                                    "The parent is never modified; the new version is a sibling run folder whose run.json "
                                    "names its parent and lineage. 'it' refers to the object edited last.")
    ed.add_argument("run_dir", metavar="RUN_DIR", help="a run folder printed by `worldsim generate` or `worldsim edit`")
    ed.add_argument("text", metavar="TEXT", help="the edit, e.g. \"Make the ball blue\", \"Delete the ball\"")
    ed.add_argument("--parser", default=None, metavar="NAME", help="parser stage for the command (default: the run's config's parser)")
    ed.add_argument("--editor", default=None, metavar="NAME", help="editor stage (default: the config's editor that implements the op, else any installed one)")
    ed.add_argument("--no-verify", action="store_true", help="skip checking RUN_DIR's files against the sha256 in its run.json (recorded in the new version)")
    ed.add_argument("--json", action="store_true", help="print a JSON summary")
    ed.set_defaults(func=cmd_edit)

    se = sub.add_parser("session", help="interactive prompt of edits over a scene (each line a new version)",
                        description="Reads edit commands line by line (stdin or a prompt); each applies to the newest "
                                    "version. Also: 'objects', 'history', 'quit'. Prints the last version at the end.")
    se.add_argument("run_dir", metavar="RUN_DIR", help="the run folder to start from")
    se.add_argument("--parser", default=None, metavar="NAME", help="parser stage for the commands (default: the run's config's parser)")
    se.add_argument("--editor", default=None, metavar="NAME", help="editor stage (default: the config's editor that implements the op, else any installed one)")
    se.add_argument("--no-verify", action="store_true", help="skip checking RUN_DIR's files against the sha256 in its run.json")
    se.set_defaults(func=cmd_session)

    sv = sub.add_parser("serve", help="start (or reuse) the local Prefect server and serve worldsim/generate-4d and worldsim-batch/synthesize",
                        description="Reuses a healthy Prefect server at the configured URL (127.0.0.1) or starts one with "
                                    "SQLite under .prefect/, then serves deployments until interrupted.")
    sv.set_defaults(func=cmd_serve)

    ba = sub.add_parser("batch", help="synthesize a dataset from a batch spec (resumable; no server needed)",
                        description="Draws the spec's scenes, runs each as a worldsim run under DIR/runs/, and writes videos/, "
                                    "ShareGPT JSONL + dataset_info.json, VLM4D JSON, LLaVA-Video JSON, dense records, README.md card and manifest.json. "
                                    "Re-running skips finished scenes and redoes interrupted and failed ones. A scene that fails "
                                    "is listed in DIR/failures.jsonl (scene, stage, error) and the others go on; the exports hold "
                                    "the scenes that succeeded and the exit status is 1.")
    ba.add_argument("spec", metavar="SPEC", help="batch spec YAML, e.g. configs/batch/example.yaml")
    ba.add_argument("--out", required=True, metavar="DIR", help="the dataset folder (created; reused to resume)")
    ba.add_argument("--runner", choices=("threads", "dask", "none"), default=None, help="parallel scenes on threads, a Dask cluster, or none (default: the spec's)")
    ba.add_argument("--workers", type=int, default=None, metavar="N", help="parallel scenes (default: the spec's)")
    ba.add_argument("--dask-address", default=None, metavar="URL", help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster)")
    ba.add_argument("--retry-failed", action="store_true", help="run only the scenes listed in DIR/failures.jsonl (after "
                    "removing the cause), then rebuild the exports")
    ba.add_argument("--json", action="store_true", help="print a JSON summary, no progress bar")
    ba.set_defaults(func=cmd_batch)

    ds = sub.add_parser("dataset", help="check, show or re-export a dataset made by `worldsim batch`")
    dsub = ds.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    dv = dsub.add_parser("validate", help="check every record, file and sha256; exit 2 naming the first bad file")
    dv.add_argument("dir", metavar="DIR", help="the dataset folder")
    dv.add_argument("--allow-failed", action="store_true", help="accept a dataset whose failures.jsonl lists failed scenes "
                    "(the scenes that succeeded are still checked)")
    dv.add_argument("--json", action="store_true", help="print the counts as JSON")
    dv.set_defaults(func=cmd_dataset_validate)
    dx = dsub.add_parser("export", help="rewrite export files (vlm4d, sharegpt, llava-video) of a finished dataset, without regenerating it",
                         description="Rewrites the files of each --format (default: all) from the scene records, with the options "
                                     "given; formats not named keep their files and options. The folder is validated first. "
                                     "Re-exporting with the same options writes the same bytes.")
    dx.add_argument("dir", metavar="DIR", help="the dataset folder")
    dx.add_argument("--format", action="append", choices=("vlm4d", "sharegpt", "llava-video"), default=None,
                    help="an export to rewrite (repeatable; default: all three). vlm4d: VLM4D's own question records; "
                         "sharegpt: LLaMA-Factory; llava-video: the LLaVA-Video-178K layout LLaVA-NeXT trains on")
    dx.add_argument("--video-base-url", default=None, metavar="URL",
                    help="vlm4d only: name each video as URL/videos/NNNNNN.mp4 (e.g. a file server over this folder, so "
                         "VLM4D's own loader can download it); default: paths relative to the JSON file")
    dx.add_argument("--question-mix", default=None, metavar="MIX",
                    help="per-category question weights: a preset (vlm4d: translational 55%%, rotational 19%%, counting 17%%, "
                         "false positive 9%%), 'all' for every question, or JSON like '{\"translational\": 2, \"counting\": 1}'; "
                         "default: keep each format's current mix")
    dx.add_argument("--json", action="store_true", help="print the options written as JSON")
    dx.set_defaults(func=cmd_dataset_export)
    dc = dsub.add_parser("card", help="print the dataset card (README.md)")
    dc.add_argument("dir", metavar="DIR", help="the dataset folder")
    dc.set_defaults(func=cmd_dataset_card)

    xp = sub.add_parser("export-ply", help="rewrite a run's 3DGS PLY files at a fixed SH degree (default 3) for other tools",
                        description="Reads every <stage>/ply/*.ply of RUN (generator/, reconstruction/, edit/) and writes "
                                    "it again with exactly (d+1)^2 SH coefficients per channel, the ones above the scene's "
                                    "own degree (0) as zeros: INRIA's 3DGS loader (GaussianModel.load_ply, sh_degree=3) and "
                                    "viewers assuming degree 3 need 45 f_rest properties. Output: OUT/generator/frame_0000.ply, "
                                    "OUT/reconstruction/frame_0000.ply, ...; OUT is built under a temporary name and "
                                    "replaces an existing OUT only when complete. The run's own files are not modified.")
    xp.add_argument("run", metavar="RUN", help="a run folder printed by `worldsim generate` or `worldsim edit`")
    xp.add_argument("--sh-degree", type=int, choices=(0, 1, 2, 3), default=3, metavar="{0,1,2,3}",
                    help="SH degree of the written files (default: 3, what the 3DGS loader expects)")
    xp.add_argument("--out", default=None, metavar="DIR", help="output folder (default: RUN/exports/ply_sh<degree>)")
    xp.add_argument("--json", action="store_true", help="print a JSON summary (out, files, sh_degree, gaussians per file), no progress bar")
    xp.set_defaults(func=cmd_export_ply)

    vw = sub.add_parser("view", help="open an interactive 4D viewer of a run folder in the browser (local web page)",
                        description="Serves a local web page (127.0.0.1 unless --host says otherwise) showing the run's "
                                    "dynamic Gaussian scene with a time slider, the input video with its planned and "
                                    "measured boxes, metrics and QA; type a query ('the ball') to highlight what the "
                                    "editor selects, or an edit ('make the ball blue') to write a new version. "
                                    "--export writes a self-contained HTML file instead.")
    vw.add_argument("run", nargs="?", default=None, metavar="RUN", help="a run folder or edit version (default: the newest under --outputs)")
    vw.add_argument("--port", type=int, default=8765, metavar="N", help="port (default 8765; a busy port moves on to the next free one; 0: any)")
    vw.add_argument("--host", default="127.0.0.1", metavar="HOST", help="address to bind (default 127.0.0.1: this machine only)")
    vw.add_argument("--export", default=None, metavar="HTML", help="write a self-contained viewer to HTML (opens offline from file://) and exit")
    vw.add_argument("--outputs", default="outputs", metavar="DIR", help="where to look for the newest run when RUN is not given (default: outputs)")
    vw.set_defaults(func=cmd_view)
    from worldsim import plugins  # plugin commands (`worldsim train tiny-t2v`): one broken plugin cannot break the CLI

    try:
        impls = plugins.get_manager().hook.register_commands.get_hookimpls()
    except Exception:
        impls = []  # the plugin setup itself is broken: the stage commands report it when they load plugins
    for impl in impls:
        try:
            impl.function(subparsers=sub)
        except Exception as exc:  # said once, like a plugin whose stages are malformed
            plugins.warn_broken(impl.plugin_name, f"its register_commands hook raised {type(exc).__name__}: "
                                                  f"{' '.join(str(exc).split())[:200]}; its commands are skipped")
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM (what `timeout`, systemd and container stops send): unwinds like Ctrl-C, so partial folders go."""


def _terminate(signum, frame):
    raise Terminated()


def _keep_traceback(args) -> str:
    """Write the current exception's traceback to a log file (in the output folder when there is one)."""
    import tempfile
    import traceback
    from pathlib import Path

    text = traceback.format_exc()
    for folder in (getattr(args, "out", None), tempfile.gettempdir()):
        if not folder:
            continue
        try:
            path = Path(folder) / "worldsim-error.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return str(path)
        except OSError:
            continue
    return "nowhere (no writable folder)"


def main(argv: list[str] | None = None) -> int:
    """Every error that reaches the user is one line: exit 2 for bad input, 1 for a failure, 130 on Ctrl-C,
    143 on SIGTERM. Unexpected exceptions keep their traceback in `worldsim-error.log` (in --out when the
    command has one), or print it with --debug / WORLDSIM_DEBUG=1."""
    import os
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False) or bool(os.environ.get("WORLDSIM_DEBUG"))
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except WorldsimError as exc:
        print(f"worldsim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("worldsim: terminated (SIGTERM); unfinished run folders were removed", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("worldsim: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if debug:
            raise
        message, bad_input = os_error_line(exc)
        code = 2 if bad_input else 1
        print(f"worldsim: error: {message}", file=sys.stderr)
        return code
    except RecursionError:
        if debug:
            raise
        print(f"worldsim: error: the input is nested too deeply to process (traceback: {_keep_traceback(args)})", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line, the traceback in a log file or with --debug
        if debug:
            raise
        text = " ".join(str(exc).split())[:300]
        print(f"worldsim: internal error: {type(exc).__name__}: {text} (traceback: {_keep_traceback(args)}; "
              f"--debug shows it)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
