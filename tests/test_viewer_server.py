"""The viewer's server without a browser: it binds loopback, serves only its own page and the run folders it was
given (no path traversal), answers bad requests with the CLI's one line, and moves a busy port to the next one."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from worldsim.errors import InputError


def _fake_run(base: Path, name: str, **manifest) -> Path:
    run = base / name
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"run_id": name, "outputs": {}, **manifest}))
    return run


@pytest.fixture
def runs(tmp_path):
    base = tmp_path / "outputs"
    root = _fake_run(base, "20260101-000000-root-s0-aaaa", prompt="A red ball")
    _fake_run(base, "20260101-000100-edit-s0-bbbb", parent=root.name, lineage=[root.name], edits=["make the ball blue"])
    _fake_run(base, "20260101-000200-other-s0-cccc", prompt="unrelated")
    (tmp_path / "secret.txt").write_text("not for the browser")
    return root


@pytest.fixture
def served(runs):
    from worldsim.viewer.server import serving

    with serving(runs, poll_interval=0.05) as srv:
        yield srv


def request(srv, method: str, path: str, body=None, headers=None) -> tuple[int, dict | bytes]:
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if isinstance(body, dict) else body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if r.getheader("Content-Type", "").startswith("application/json") else data


def test_binds_loopback_and_serves_the_page(served):
    assert served.server_address[0] == "127.0.0.1"
    status, page = request(served, "GET", "/")
    assert status == 200 and b"worldsim-mode" in page and b'content="live"' in page
    assert request(served, "GET", "/static/viewer.js")[0] == 200


@pytest.mark.parametrize("path", [
    "/static/../run.json", "/static/..%2Frun.json", "/static/viewer.js/../../secret.txt", "/../secret.txt",
    "/static/index.html", "/run.json", "/etc/passwd", "//etc/passwd",
])
def test_no_file_outside_the_page_is_served(served, path):
    status, body = request(served, "GET", path)
    assert status == 404 and body["error"].startswith("worldsim: error: ") and "\n" not in body["error"]


@pytest.mark.parametrize("query", [
    "version=..%2F20260101-000200-other-s0-cccc", "version=20260101-000200-other-s0-cccc", "version=..", "version=%2Fetc",
    "version=../../secret.txt",
])
def test_only_the_runs_of_this_family_are_readable(served, query):
    status, body = request(served, "GET", f"/api/scene?{query}&source=reconstruction")
    assert status == 400 and body["error"].startswith("worldsim: error: ")
    assert "secret" not in json.dumps(body) or "not a run folder name" in body["error"]


def test_versions_are_the_lineage_of_the_run(served, runs):
    status, state = request(served, "GET", "/api/state")
    assert status == 200
    names = [v["name"] for v in state["versions"]]
    assert names == [runs.name, "20260101-000100-edit-s0-bbbb"]  # the unrelated run is not served
    assert state["versions"][1]["parent"] == runs.name


@pytest.mark.parametrize("method,path,body,fragment", [
    ("GET", "/api/scene?version=20260101-000000-root-s0-aaaa&source=elsewhere", None, "scene source 'elsewhere' is not one of"),
    ("GET", "/api/scene?version=20260101-000000-root-s0-aaaa", None, "has no reconstruction"),
    ("GET", "/api/state?version=x&version=y", None, "each parameter may be given once"),
    ("GET", "/api/state?path=/etc", None, "unknown parameter 'path'"),
    ("POST", "/api/query", {"version": "20260101-000000-root-s0-aaaa"}, "needs 'text'"),
    ("POST", "/api/query", {"version": "20260101-000000-root-s0-aaaa", "text": "ball", "path": "/"}, "unknown field 'path'"),
    ("POST", "/api/edit", "{not json", "not valid JSON"),
    ("POST", "/api/edit", {"version": "nope", "text": "make the ball blue"}, "no version 'nope' in this viewer"),
    ("POST", "/api/query", {"version": "20260101-000000-root-s0-aaaa", "text": "   "}, "the query is empty"),
    ("POST", "/api/nothing", {"version": "v", "text": "t"}, "no such action"),
])
def test_bad_requests_get_one_line(served, method, path, body, fragment):
    status, out = request(served, method, path, body)
    assert 400 <= status < 500
    assert out["error"].startswith("worldsim: error: ") and fragment in out["error"] and "\n" not in out["error"]


def test_other_hosts_are_refused(served):
    status, out = request(served, "GET", "/api/state", headers={"Host": "attacker.example:80"})
    assert status == 400 and "is not this viewer's" in out["error"]


def test_busy_port_moves_to_the_next_or_says_so(runs):
    from worldsim.viewer.server import make_server

    first = make_server(runs, port=0)
    try:
        port = first.server_address[1]
        second = make_server(runs, port=port)
        try:
            assert second.server_address[1] != port and second.server_address[1] > port
        finally:
            second.server_close()
        with pytest.raises(InputError, match=r"all in use"):
            make_server(runs, port=port, tries=1)
    finally:
        first.server_close()


def test_cli_errors_are_one_line(tmp_path, runs, capsys):
    from worldsim.cli import main

    assert main(["view", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("worldsim: error: ") and "not a run folder" in err and "\n" not in err
    assert main(["view", "--outputs", str(tmp_path / "nothing-here")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["view", str(runs), "--export", str(tmp_path / "viewer.txt")]) == 2
    assert "must name an .html file" in capsys.readouterr().err
    assert main(["view", str(runs), "--port", "70000"]) == 2
    assert "port 70000 is not in [0, 65535]" in capsys.readouterr().err
    assert main(["view", str(runs), "--host", "203.0.113.7", "--port", "0"]) == 2
    assert "cannot listen on host '203.0.113.7'" in capsys.readouterr().err


def test_latest_run_is_the_newest(tmp_path, runs):
    import os

    from worldsim.viewer.data import latest_run

    newest = runs.parent / "20260101-000200-other-s0-cccc"
    os.utime(newest / "run.json", (2e9, 2e9))
    assert latest_run(runs.parent) == newest


@pytest.mark.parametrize("exc", [PermissionError(13, "Permission denied", "/x"), FileNotFoundError(2, "No such file", "/y"),
                                 OSError(28, "No space left on device"), IsADirectoryError(21, "Is a directory", "/z")])
def test_os_errors_read_like_the_cli(exc):
    from worldsim.errors import os_error_line
    from worldsim.viewer.server import error_line

    message, bad_input = os_error_line(exc)  # the CLI's wording (worldsim.cli prints it too)
    line, status = error_line(exc)
    assert line == f"worldsim: error: {message}" and (status == 400) == bad_input
    assert message.startswith("cannot use") and type(exc).__name__ in message
