"""`worldsim export-ply RUN`: a run's 3DGS PLY files rewritten at a fixed SH degree, for other tools.

Our scenes have SH degree 0 (colour only), so their PLYs carry no `f_rest_*` properties. INRIA's 3DGS
loader (`GaussianModel.load_ply`, default `sh_degree=3`) and viewers built on it assert exactly
3*(d+1)^2 - 3 of them (45 for degree 3). `export_ply(run_dir, sh_degree=3)` reads every
`<stage>/ply/*.ply` of a run folder or edit version (generator/ply, reconstruction/ply, edit/ply) with
worldsim.io.ply.read_gaussian_ply and writes it again with write_gaussian_ply(sh_degree=d): the same
means, rotations, scales, opacities and DC colour, the higher coefficients zero. Layout of the output:

    <out>/generator/frame_0000.ply        from RUN/generator/ply/frame_0000.ply
    <out>/reconstruction/frame_0000.ply   from RUN/reconstruction/ply/frame_0000.ply

`out` defaults to RUN/exports/ply_sh<d>/. The run's own files (run.json records their sha256) are only
read. The output folder is built under a temporary sibling name and renamed into place when every file is
written; an existing `out` is replaced only then, and a failure leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from worldsim.artifacts import RUN_FILE
from worldsim.errors import InputError

PLY_SUBDIR = "ply"
DEFAULT_OUT = "exports"  # RUN/exports/ply_sh<d>/
ACCEPTED = "a run folder printed by `worldsim generate` or `worldsim edit` (it holds run.json)"


def default_out(run_dir: str | os.PathLike, sh_degree: int) -> Path:
    return Path(run_dir) / DEFAULT_OUT / f"ply_sh{sh_degree}"


def _check_degree(sh_degree) -> int:
    if isinstance(sh_degree, bool) or not isinstance(sh_degree, int) or not 0 <= sh_degree <= 3:
        raise InputError(f"SH degree {sh_degree!r} is not accepted; give 0, 1, 2 or 3")
    return sh_degree


def _run_manifest(run_dir: Path) -> dict:
    if not run_dir.exists():
        raise InputError(f"'{run_dir}' does not exist; give {ACCEPTED}")
    if not run_dir.is_dir():
        raise InputError(f"'{run_dir}' is not a folder; give {ACCEPTED}")
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise InputError(f"'{run_dir}' is not a run folder (no {RUN_FILE}); give {ACCEPTED}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"run folder '{run_dir}' has a corrupt {RUN_FILE} ({type(exc).__name__}); give {ACCEPTED}") from None
    if not isinstance(manifest, dict):
        raise InputError(f"run folder '{run_dir}' has a corrupt {RUN_FILE} (not a JSON object); give {ACCEPTED}")
    return manifest


def find_plys(run_dir: str | os.PathLike) -> list[tuple[str, Path]]:
    """(stage folder name, file) of every `<stage>/ply/*.ply` in the run folder, sorted; hidden names skipped."""
    run_dir = Path(run_dir)
    found = []
    for stage in sorted(p for p in run_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = stage / PLY_SUBDIR
        if folder.is_dir():
            found += [(stage.name, f) for f in sorted(folder.glob("*.ply")) if f.is_file() and not f.name.startswith(".")]
    return found


def _check_out(out: Path, run_dir: Path, manifest: dict, sources: list[Path]) -> None:
    """InputError when replacing `out` would remove or overwrite a file of the run."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out '{out}' exists and is not a folder; give a folder path (default: RUN/{DEFAULT_OUT}/ply_sh<d>)")
    target = out.resolve()
    records = manifest.get("artifacts") if isinstance(manifest.get("artifacts"), list) else []
    own = [run_dir / RUN_FILE, *sources, *(run_dir / r["path"] for r in records if isinstance(r, dict) and isinstance(r.get("path"), str))]
    for path in own:
        resolved = path.resolve()
        if target == resolved or target in resolved.parents:
            raise InputError(f"--out '{out}' holds the run's own file '{path}', which must not be replaced; choose "
                             f"another folder (default: RUN/{DEFAULT_OUT}/ply_sh<d>)")


def export_ply(run_dir: str | os.PathLike, sh_degree: int = 3, out: str | os.PathLike | None = None,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Rewrite the run's PLYs at `sh_degree` into `out` (module docstring). Returns {run_dir, out, sh_degree,
    files: [paths relative to out], gaussians: {path relative to out: N}}. `progress(done, total)` after each file."""
    from worldsim.io.ply import read_gaussian_ply, sh_degree_of, write_gaussian_ply

    sh_degree = _check_degree(sh_degree)
    run_dir = Path(run_dir)
    manifest = _run_manifest(run_dir)
    found = find_plys(run_dir)
    if not found:
        raise InputError(f"run folder '{run_dir}' has no PLY files (looked for <stage>/{PLY_SUBDIR}/*.ply, e.g. "
                         f"generator/{PLY_SUBDIR}/frame_0000.ply or reconstruction/{PLY_SUBDIR}/frame_0000.ply); "
                         f"a run made with write_ply: false and no reconstructor has none")
    out = Path(out) if out is not None else default_out(run_dir, sh_degree)
    _check_out(out, run_dir, manifest, [f for _, f in found])

    missing = [p for p in [out.parent, *out.parent.parents] if not p.exists()]  # created here, removed on failure
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.old")
    files, gaussians = [], {}
    try:
        tmp.mkdir()
        for i, (stage, src) in enumerate(found):
            rel = f"{stage}/{src.name}"
            try:
                data = read_gaussian_ply(src)
                have = sh_degree_of(data["sh"].shape[1])
            except Exception as exc:  # plyfile raises several types for a damaged file
                text = " ".join(str(exc).split())[:200]
                raise InputError(f"'{src}' is not a readable 3DGS PLY ({type(exc).__name__}: {text})") from None
            if have > sh_degree:
                raise InputError(f"'{src}' holds SH degree {have}; SH degree {sh_degree} would drop coefficients; "
                                 f"give a degree of at least {have}")
            write_gaussian_ply(tmp / stage / src.name, **data, sh_degree=sh_degree)
            files.append(rel)
            gaussians[rel] = int(data["means"].shape[0])
            if progress is not None:
                progress(i + 1, len(found))
        if out.exists():
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in missing:  # innermost first
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return {"run_dir": str(run_dir), "out": str(out), "sh_degree": sh_degree, "files": files, "gaussians": gaussians}
