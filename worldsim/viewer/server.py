"""The local viewer's HTTP server (standard library only): the page, its static files, and a small JSON API.

    GET  /                                      the page (static/index.html)
    GET  /static/viewer.js | viewer.css         the page's code (a fixed list: nothing else on disk is served)
    GET  /api/state?version=NAME                versions (lineage), registry, history, metrics, QA, labels, ops
    GET  /api/scene?version=NAME&source=S       packed scene (worldsim.viewer.data), S: reconstruction | ground_truth
    GET  /api/frames?version=NAME               the input video's frames as JPEG data URIs
    POST /api/query {"version", "text"}         the Gaussians the editor would select for `text` (bit mask)
    POST /api/edit  {"version", "text"}         apply an edit through worldsim.sessions.apply_edit -> new version

Every NAME is checked against the run folders the viewer was given (`Family.get`): requests never carry
paths. A bad request gets HTTP 4xx and {"error": "<the one line the CLI prints>"}; the page shows that line.
Binds 127.0.0.1 unless told otherwise; a busy port moves on to the next free one. Edits run one at a time.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from worldsim.errors import InputError, WorldsimError, os_error_line
from worldsim.viewer import data

STATIC = {"viewer.js": "text/javascript; charset=utf-8", "viewer.css": "text/css; charset=utf-8"}
MAX_BODY = 16 * 1024
PORT_TRIES = 20
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def static_text(name: str) -> str:
    return resources.files("worldsim.viewer").joinpath("static", name).read_text(encoding="utf-8")


def error_line(exc: BaseException) -> tuple[str, int]:
    """The line `worldsim` would print for `exc`, and an HTTP status (400 for bad input, 500 for a failure)."""
    if isinstance(exc, WorldsimError):
        return f"worldsim: error: {exc}", 400 if exc.exit_code == 2 else 500
    if isinstance(exc, OSError):
        message, bad_input = os_error_line(exc)
        return f"worldsim: error: {message}", 400 if bad_input else 500
    text = " ".join(str(exc).split())[:300]
    return f"worldsim: internal error: {type(exc).__name__}: {text}", 500


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # never share a port with a running viewer

    def __init__(self, address, family: data.Family):
        self.family = family
        self.edit_lock = threading.Lock()
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"


def make_server(run_dir, host: str = "127.0.0.1", port: int = 8765, tries: int = PORT_TRIES) -> ViewerServer:
    """A viewer for the family of `run_dir` bound to host:port, or the next free port up to `tries` later
    (port 0: any free port). InputError (one line) when none is free or the host cannot be bound."""
    family = data.Family.of(run_dir)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"port {port!r} is not in [0, 65535]")
    last = None
    for p in ([0] if port == 0 else range(port, min(port + tries, 65536))):
        try:
            return ViewerServer((host, p), family)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                last = exc
                continue
            if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise InputError(f"cannot listen on host '{host}': {exc.strerror or exc}") from None
            raise
    raise InputError(f"ports {port}-{min(port + tries, 65536) - 1} on {host} are all in use "
                     f"({last.strerror if last else 'busy'}); pass --port with a free one")


@contextlib.contextmanager
def serving(run_dir, port: int = 0, poll_interval: float = 0.1):
    """A viewer of `run_dir` on 127.0.0.1 (port 0: any free one) answering from a background thread while the
    block runs, then shut down: what tests and benchmarks drive a browser against."""
    srv = make_server(run_dir, port=port)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


class Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    protocol_version = "HTTP/1.1"
    server_version = "worldsim-viewer"

    def log_message(self, fmt, *args):  # quiet: the terminal shows the URL, not every request
        pass

    # --- responses ---

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _error(self, exc: BaseException) -> None:
        line, status = error_line(exc)
        if isinstance(exc, _NotFound):
            status = 404
        self._json({"error": line}, status)

    # --- request checks ---

    def _check_host(self) -> None:
        """Refuse a Host header naming another site while bound to loopback (DNS rebinding)."""
        host = self.server.server_address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            return
        sent = (self.headers.get("Host") or "").strip().lower()
        name = sent.rsplit(":", 1)[0] if not sent.startswith("[") else sent.split("]")[0] + "]"
        if name not in LOOPBACK_NAMES:
            raise InputError(f"host '{sent[:60]}' is not this viewer's; open {self.server.url}")

    def _query(self, allowed: set[str]) -> dict[str, str]:
        parts = urlsplit(self.path)
        try:
            q = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query), max_num_fields=10)
        except ValueError:
            raise InputError("the query string is malformed") from None
        unknown = sorted(set(q) - allowed)
        if unknown:
            raise InputError(f"unknown parameter '{unknown[0][:40]}'; accepted: {', '.join(sorted(allowed)) or 'none'}")
        if any(len(v) > 1 for v in q.values()):
            raise InputError("each parameter may be given once")
        return {k: v[0] for k, v in q.items()}

    def _body(self, required: tuple[str, ...]) -> dict:
        if "json" not in (self.headers.get("Content-Type") or ""):
            raise InputError("send the request body as JSON (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            raise InputError("Content-Length is not a number") from None
        if not 0 < length <= MAX_BODY:
            raise InputError(f"the request body must be 1..{MAX_BODY} bytes, got {length}")
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise InputError("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        missing = [k for k in required if not isinstance(body.get(k), str)]
        unknown = sorted(set(body) - set(required))
        if missing:
            raise InputError(f"the request body needs '{missing[0]}' (text)")
        if unknown:
            raise InputError(f"unknown field '{unknown[0][:40]}'; accepted: {', '.join(required)}")
        return body

    def _version(self, name) -> data.Version:
        return self.server.family.get(name)

    # --- routes ---

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        try:
            self._check_host()
            route = urlsplit(self.path).path
            if route in ("/", "/index.html"):
                self._query({"t", "version"})  # the page reads them itself
                page = static_text("index.html").replace("__WORLDSIM_MODE__", "live")
                return self._send(200, page.encode(), "text/html; charset=utf-8")
            if route.startswith("/static/"):
                name = route[len("/static/"):]
                if name not in STATIC:
                    raise _NotFound(f"no such file '{name[:60]}'; this viewer serves only its own page")
                return self._send(200, static_text(name).encode(), STATIC[name])
            if route == "/api/state":
                q = self._query({"version"})
                return self._json(state(self.server.family, q.get("version") or self.server.family.start))
            if route == "/api/scene":
                q = self._query({"version", "source"})
                body = data.scene_payload(self._version(q.get("version")), q.get("source", "reconstruction"))
                return self._send(200, body, "application/octet-stream")
            if route == "/api/frames":
                q = self._query({"version"})
                v = self._version(q.get("version"))
                return self._json({"root": v.root.name, "frames": data.video_frames(v.root)})
            if route == "/favicon.ico":
                return self._send(204, b"", "image/x-icon")
            raise _NotFound(f"no such page '{route[:60]}'")
        except Exception as exc:  # every failure is one line for the page
            self._error(exc)

    def do_POST(self):
        try:
            self._check_host()
            route = urlsplit(self.path).path
            self._query(set())
            if route == "/api/query":
                body = self._body(("version", "text"))
                mask, info = data.select(self._version(body["version"]), body["text"])
                return self._json({"mask": data.mask_b64(mask), **info})
            if route == "/api/edit":
                body = self._body(("version", "text"))
                return self._json(edit(self.server, body["version"], body["text"]))
            raise _NotFound(f"no such action '{route[:60]}'")
        except Exception as exc:
            self._error(exc)


class _NotFound(InputError):
    pass


def state(family: data.Family, name: str) -> dict:
    """Everything the side panel shows about version `name`, and the family's versions."""
    from worldsim import edit_ops

    v = family.get(name)
    try:
        ops = sorted(edit_ops.installed_ops())
    except Exception:
        ops = []
    return {"mode": "live", "root": family.root_name, "start": family.start, "version": v.name,
            "versions": [x.summary() for x in family.versions()], "registry": data.registry(v),
            "scores": data.scores(v), "video": data.video_meta(v.root), "video_root": v.root.name, "ops": ops}


def edit(server: ViewerServer, name: str, text: str) -> dict:
    """Apply `text` to version `name` through the normal edit path; the new version's name and parent."""
    from worldsim import sessions

    if len(text) > data.MAX_TEXT:
        raise InputError(f"the edit is {len(text)} characters long; at most {data.MAX_TEXT} are accepted")
    version = server.family.get(name)
    if not server.edit_lock.acquire(blocking=False):
        raise InputError("another edit is running; wait for it to finish")
    try:
        new = sessions.apply_edit(version.path, text)
    finally:
        server.edit_lock.release()
    manifest = json.loads((Path(new) / "run.json").read_text())
    return {"version": Path(new).name, "parent": manifest.get("parent")}


def serve(run_dir, host: str = "127.0.0.1", port: int = 8765, ready=None) -> None:
    """Serve until interrupted; `ready(server)` is called once listening (the CLI prints the URL)."""
    server = make_server(run_dir, host, port)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
