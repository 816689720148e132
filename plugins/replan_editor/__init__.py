"""Built-in plugin: the `replan` editor, for edits that change what happens rather than how the scene looks.

`move` ("now make the ball move to the left"): the root generation's plan with the new heading (and the
trajectory keypoints cleared so they are planned again). It returns a `ReplanResult`; the core generates
the root run again with that plan, the same seed and config, as a new version linked to the edited one.

Entry point (pyproject.toml, group `worldsim`): `replan = "plugins.replan_editor"`.
"""

from __future__ import annotations

from pathlib import Path

from worldsim.errors import InputError
from worldsim.hookspecs import hookimpl
from worldsim.stages import Editor
from worldsim.types import EditSource, EditSpec, MoveParams, ReplanResult


class ReplanEditor(Editor):
    name = "replan"
    description = "Change an object's motion: re-plan the root generation's trajectory and regenerate with the same seed"
    ops = (MoveParams,)

    def run(self, edit: EditSpec, source: EditSource, out_dir: Path) -> ReplanResult:
        if source.plan is None or source.plan.mode != "generate":
            raise InputError("the replan editor needs the root generation's plan; this run folder has none")
        motion = source.plan.motion.model_copy(update={"direction": edit.params["direction"], "keypoints": ()})
        plan = source.plan.model_copy(update={"motion": motion})
        return ReplanResult(op=edit.op, target=edit.target, plan=plan, editor=self.name,
                            metrics={"op": edit.op, "target": edit.target, "direction": edit.params["direction"]})


@hookimpl
def register_editors(register):
    register(ReplanEditor)
