"""Errors worldsim raises on purpose. Each message is one line that names the bad value and what is accepted."""

from __future__ import annotations


class WorldsimError(Exception):
    """Base class; the CLI prints the message on one line and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class InputError(WorldsimError):
    """User input (a command text, a seed, a path) that cannot be used."""


class ParseError(InputError):
    """A command the parser did not understand."""


class ConfigError(WorldsimError):
    """A preset or override that does not validate."""


class UnknownStageError(WorldsimError):
    """A stage name that no loaded plugin registered."""


class MissingDependencyError(WorldsimError):
    """An optional package a stage needs is not installed."""

    def __init__(self, package: str, needed_for: str):
        super().__init__(f"{needed_for} needs the package '{package}'; install it with: pip install {package}")


class ServerStartError(WorldsimError):
    """The local Prefect server did not become healthy; the message names its log file."""

    exit_code = 1


class StageContractError(WorldsimError):
    """A stage (or the class a plugin registered) broke its kind's contract: wrong type, missing file, ..."""

    exit_code = 1


class PluginError(WorldsimError):
    """A plugin that failed to import or registered something malformed; it is skipped, the rest keep working."""

    exit_code = 1


class StageFailedError(WorldsimError):
    """A stage raised; wraps the original error with the stage's name."""

    exit_code = 1


def one_line(values, limit: int = 12) -> str:
    """Comma-separated preview of accepted values for error messages."""
    values = sorted(values)
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


# OS errors that mean "this path cannot be used" (bad input: exit 2); any other OSError is a failure (exit 1).
PATH_ERRORS = {PermissionError: "permission denied", IsADirectoryError: "is a directory",
               NotADirectoryError: "a part of the path is not a directory", FileNotFoundError: "no such file or folder",
               FileExistsError: "already exists"}


def os_error_line(exc: OSError) -> tuple[str, bool]:
    """How worldsim words an OSError on one line, and whether it is bad input (a path that cannot be used)."""
    import errno

    what = next((text for cls, text in PATH_ERRORS.items() if isinstance(exc, cls)), None)
    if what is None:
        what = {errno.ENOSPC: "no space left on device", errno.EROFS: "read-only file system",
                errno.EDQUOT: "disk quota exceeded"}.get(exc.errno, exc.strerror or type(exc).__name__)
    where = f" '{exc.filename}'" if exc.filename else ""
    return f"cannot use{where}: {what} ({type(exc).__name__})", isinstance(exc, tuple(PATH_ERRORS)) or exc.errno == errno.EROFS
