"""Read and write `labels.json` (`worldsim.types.labels.Labels`): the only reader and writer."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from worldsim import artifacts
from worldsim.errors import InputError
from worldsim.types.labels import Labels


def read_labels(path: str | Path) -> Labels:
    """The labels in `path`; InputError naming the file and the first bad field."""
    path = Path(path)
    try:
        return Labels.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise InputError(f"labels file '{path}' does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"labels file '{path}' is not JSON ({type(exc).__name__})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "labels"
        raise InputError(f"labels file '{path}': {where}: {err['msg']}") from None


def write_labels(path: str | Path, labels: Labels) -> Path:
    return artifacts.atomic_write_json(path, labels.to_dict())
