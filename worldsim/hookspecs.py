"""pluggy markers and hook specs. Each hook receives `register(stage_class)` and may call it many times."""

from __future__ import annotations

import pluggy

PROJECT = "worldsim"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

STAGE_KINDS = ("parser", "generator", "reconstructor", "editor", "answerer", "scorer", "teacher", "pose")
# The kinds a config's `stages` list may name. Answerers, teachers and pose estimators are not pipeline steps:
# a scorer picks its answerer and a reconstructor its teachers and pose estimator by name in their own configs.
PIPELINE_KINDS = ("parser", "generator", "reconstructor", "editor", "scorer")


@hookspec
def register_parsers(register):
    """Register command parsers: text -> Plan."""


@hookspec
def register_generators(register):
    """Register video generators: Plan -> GeneratedVideo."""


@hookspec
def register_reconstructors(register):
    """Register 4D reconstructors: video -> Gaussian scene."""


@hookspec
def register_editors(register):
    """Register scene editors: scene + edit plan -> edited scene."""


@hookspec
def register_answerers(register):
    """Register question answerers: video or scene + question -> answer."""


@hookspec
def register_scorers(register):
    """Register scorers: artifacts -> metrics."""


@hookspec
def register_teachers(register):
    """Register 2D teachers: video frames (+ labels) -> dense per-pixel features, depth or masks."""


@hookspec
def register_poses(register):
    """Register camera pose estimators: video frames (+ frame 0's camera, depth prior, masks) -> every frame's camera."""


@hookspec
def register_commands(subparsers):
    """Add sub-commands to the `worldsim` CLI: `subparsers` is its argparse sub-parsers action; each command's
    parser sets `func` (args -> exit code) with `set_defaults`. A hookimpl that raises is skipped."""


HOOK_FOR_KIND = {kind: f"register_{kind}s" for kind in STAGE_KINDS}
