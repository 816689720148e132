import os

import pytest

from worldsim import artifacts
from worldsim.errors import InputError


def test_atomic_write_leaves_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    artifacts.atomic_write_json(target, {"x": 1})
    assert target.read_text().strip().startswith("{")

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        artifacts.atomic_write_json(target, {"x": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    assert '"x": 1' in target.read_text()


def test_run_folder_is_partial_until_commit(tmp_path):
    folder = artifacts.RunFolder.create(tmp_path, "r1")
    assert folder.path.name == ".r1.partial" and not folder.final_path.exists()
    (folder.stage_dir("generator") / "f.bin").write_bytes(b"abc")
    final = folder.commit()
    assert final == tmp_path / "r1" and (final / "generator" / "f.bin").exists()
    [(rel, digest, size)] = artifacts.list_artifacts(final)
    assert rel == "generator/f.bin" and size == 3
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(InputError, match="already exists"):
        artifacts.RunFolder.create(tmp_path, "r1")


def test_discard_removes_partial(tmp_path):
    folder = artifacts.RunFolder.create(tmp_path, "r2")
    (folder.path / "x").write_text("1")
    folder.discard()
    assert list(tmp_path.iterdir()) == []


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(InputError, match="not a folder"):
        artifacts.RunFolder.create(f, "r")


def test_run_id_is_slugged():
    rid = artifacts.new_run_id("A red ball, rolls!", 3)
    assert "-a-red-ball-rolls-s3-" in rid


def test_atomic_writes_honour_the_umask(tmp_path):
    import os

    from worldsim.artifacts import atomic_write_json

    path = atomic_write_json(tmp_path / "x.json", {"a": 1})
    ordinary = tmp_path / "plain.txt"
    ordinary.write_text("x")
    assert os.stat(path).st_mode & 0o777 == os.stat(ordinary).st_mode & 0o777


def test_stale_partial_folders_of_dead_processes_are_removed(tmp_path):
    import socket
    import subprocess

    from worldsim.artifacts import OWNER_FILE, RunFolder

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / ".old-run.partial"
    stale.mkdir()
    (stale / OWNER_FILE).write_text(f"{dead.pid} {socket.gethostname()}\n")
    unknown = tmp_path / ".foreign.partial"  # no owner record: left alone
    unknown.mkdir()
    live = RunFolder.create(tmp_path, "live-run")  # our own process: kept while it builds
    again = RunFolder.create(tmp_path, "second")
    assert not stale.exists() and unknown.exists() and live.path.exists() and again.path.exists()
    final = live.commit()
    assert not (final / OWNER_FILE).exists()
