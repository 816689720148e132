"""Edit operations offered by the installed editors, and which editor applies an edit.

An editor declares its ops (`worldsim.stages.Editor.ops`, each an `EditParams` subclass). An edit
(`EditSpec`: op, target, params) is valid when some installed editor declares its op and the params
validate against that op's model. The editor that applies it is, in order: the one named with
`--editor`; the first editor of the run's config that declares the op; the first installed editor
(by name) that declares it.
"""

from __future__ import annotations

from pydantic import ValidationError

from worldsim import registry
from worldsim.config import StepConfig
from worldsim.errors import InputError
from worldsim.types import EditParams, EditSpec


def installed_ops() -> dict[str, list[tuple[str, type[EditParams]]]]:
    """op name -> [(editor name, params model)] over every installed editor, editors sorted by name."""
    ops: dict[str, list[tuple[str, type[EditParams]]]] = {}
    for name, info in sorted(registry.all_stages()["editor"].items()):
        for params in info.cls.ops:
            ops.setdefault(params.op, []).append((name, params))
    return ops


def op_verbs() -> dict[str, str]:
    """verb -> op for every installed op whose verbs a parser may look for (first declaration wins)."""
    verbs: dict[str, str] = {}
    for op, impls in installed_ops().items():
        for _, params in impls:
            for verb in params.verbs:
                verbs.setdefault(verb, op)
    return verbs


def params_model(op: str) -> type[EditParams]:
    impls = installed_ops().get(op)
    if not impls:
        raise InputError(f"unknown edit op '{op}'; installed editors implement: {', '.join(sorted(installed_ops())) or 'none'}")
    return impls[0][1]


def validate_params(op: str, params: dict, model: type[EditParams] | None = None) -> dict:
    """The op's params validated and normalised (e.g. 'grey' -> 'gray'); InputError naming the bad value."""
    model = model or params_model(op)
    try:
        return model.model_validate(params).model_dump(mode="json")
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "params"
        value = f"={err['input']!r}" if where != "params" and err["type"] != "missing" else ""
        accepted = ", ".join(f"{k}: {f.annotation.__name__ if hasattr(f.annotation, '__name__') else f.annotation}"
                             for k, f in model.model_fields.items()) or "no parameters"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InputError(f"edit '{op}': {where}{value}: {msg} ({op} takes {accepted})") from None


def choose_editor(op: str, config_editors: list[StepConfig], editor: str | None = None) -> StepConfig:
    """The editor step that applies `op` (module docstring for the order)."""
    declares = lambda name: any(p.op == op for p in registry.get_stage_info("editor", name).cls.ops)
    if editor is not None:
        registry.get_stage_info("editor", editor)
        if not declares(editor):
            ops = ", ".join(p.op for p in registry.get_stage_info("editor", editor).cls.ops)
            raise InputError(f"editor '{editor}' does not implement '{op}'; it implements: {ops}")
        return next((s for s in config_editors if s.name == editor), StepConfig(kind="editor", name=editor))
    for step in config_editors:
        if declares(step.name):
            return step
    impls = installed_ops().get(op)
    if not impls:
        raise InputError(f"unknown edit op '{op}'; installed editors implement: {', '.join(sorted(installed_ops())) or 'none'}")
    return StepConfig(kind="editor", name=impls[0][0])


def op_model(step: StepConfig, op: str) -> type[EditParams]:
    """The params model of `op` as the editor in `step` declares it."""
    return next(p for p in registry.get_stage_info("editor", step.name).cls.ops if p.op == op)


def validate_edit(edit: EditSpec, step: StepConfig) -> EditSpec:
    """`edit` with params checked against the op model of the editor in `step`."""
    return edit.model_copy(update={"params": validate_params(edit.op, dict(edit.params), op_model(step, edit.op))})
