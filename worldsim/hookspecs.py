"""pluggy markers and hook specs. Each hook receives `register(stage_class)` and may call it many times."""

from __future__ import annotations

import pluggy

PROJECT = "worldsim"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

STAGE_KINDS = ("parser", "generator", "reconstructor", "editor", "answerer", "scorer", "exporter", "teacher")
# Teachers are not pipeline steps: a reconstructor picks them by name in its own config.
PIPELINE_KINDS = STAGE_KINDS[:-1]


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
def register_exporters(register):
    """Register exporters: artifacts -> dataset records."""


@hookspec
def register_teachers(register):
    """Register 2D teachers: video frames (+ labels) -> dense per-pixel features, depth or masks."""


HOOK_FOR_KIND = {kind: f"register_{kind}s" for kind in STAGE_KINDS}
