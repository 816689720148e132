"""Run folders, atomic writes and content hashes.

A run is built in `<root>/.<run-id>.partial/` and renamed to `<root>/<run-id>/` only when every stage
succeeded, so a failed or interrupted run never leaves a half-written run folder behind.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from worldsim.errors import InputError

RUN_FILE = "run.json"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_umask() -> int:
    mask = os.umask(0o022)  # read once, at import (os.umask can only be read by setting it; threads later)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temporary name in the same folder, fsync, then rename over `path`. The file gets the
    mode an ordinary write would (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(obj):
    """Metrics -> JSON-ready values: tensors/numpy scalars to Python, non-finite floats to null/'inf'/'-inf'."""
    import math

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if hasattr(obj, "item"):
        return json_safe(obj.item())
    return obj


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """For writers that need a filename (encoders, safetensors, plyfile): yields a sibling temporary
    name with the same suffix, renamed onto `path` when the block succeeds and removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def slugify(text: str, max_len: int = 32) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "run"


def new_run_id(prompt: str, seed: int, now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{slugify(prompt)}-s{seed}-{uuid.uuid4().hex[:4]}"


OWNER_FILE = ".owner"  # in a partial folder: "<pid> <host>" of the process building it


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_partials(root: str | os.PathLike) -> list[Path]:
    """Remove `<root>/.<run-id>.partial/` folders whose building process (on this host) is gone, as after a
    kill -9 or a power cut; returns what was removed. Folders without an owner record are left alone."""
    import socket

    removed = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for folder in root.glob(".*.partial"):
        try:
            pid, host = (folder / OWNER_FILE).read_text().split()
            stale = host == socket.gethostname() and not _alive(int(pid))
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class RunFolder:
    """A run under construction: `path` is the partial folder until `commit()` renames it."""

    def __init__(self, root: str | os.PathLike, run_id: str):
        self.root = Path(root)
        self.run_id = run_id
        self.final_path = self.root / run_id
        self.path = self.root / f".{run_id}.partial"

    @classmethod
    def create(cls, root: str | os.PathLike, run_id: str) -> "RunFolder":
        import socket

        root = Path(root)
        if root.exists() and not root.is_dir():
            raise InputError(f"output folder '{root}' exists and is not a folder; pass a folder path to --out")
        remove_stale_partials(root)
        folder = cls(root, run_id)
        if folder.final_path.exists():
            raise InputError(f"run folder '{folder.final_path}' already exists; choose another --out or run id")
        folder.path.mkdir(parents=True, exist_ok=False)
        (folder.path / OWNER_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")
        return folder

    def stage_dir(self, kind: str) -> Path:
        d = self.path / kind
        d.mkdir(parents=True, exist_ok=True)
        return d

    def commit(self) -> Path:
        (self.path / OWNER_FILE).unlink(missing_ok=True)
        os.replace(self.path, self.final_path)
        self.path = self.final_path
        return self.final_path

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def list_artifacts(run_dir: str | os.PathLike) -> list[tuple[str, str, int]]:
    """(relative path, sha256, bytes) of every file in a run folder except run.json, sorted."""
    run_dir = Path(run_dir)
    out = []
    for p in sorted(run_dir.rglob("*")):
        if p.is_file() and p.name != RUN_FILE and not p.name.startswith("."):
            out.append((p.relative_to(run_dir).as_posix(), sha256_file(p), p.stat().st_size))
    return out


def verify_artifacts(run_dir: str | os.PathLike, records: list[dict]) -> None:
    """Check every artifact a run.json lists (`{path, sha256}`) against the files; InputError naming the first
    file that is missing or whose content changed."""
    run_dir = Path(run_dir)
    for rec in records:
        path = run_dir / rec["path"]
        if not path.is_file():
            raise InputError(f"run folder '{run_dir.name}': '{rec['path']}' listed in {RUN_FILE} is missing; "
                             f"the run is incomplete (pass --no-verify to use it anyway)")
        if sha256_file(path) != rec["sha256"]:
            raise InputError(f"run folder '{run_dir.name}': '{rec['path']}' does not match its sha256 in {RUN_FILE} "
                             f"(modified or corrupt); pass --no-verify to use it anyway")
