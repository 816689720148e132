"""A local Prefect server and the `worldsim/generate-4d` deployment, for `worldsim serve`.

- `prefect_env()`: the Prefect settings from `configs/prefect/settings.yaml` as environment variables
  (loopback API URL, PREFECT_HOME = `<repo>/.prefect` holding the SQLite database and logs).
- `ensure_server()`: reuse a server that is already healthy at that URL, or start
  `prefect server start --host H --port P` in the background (its own session, so it outlives the
  caller; log in `.prefect/server.log`, pid in `.prefect/server.pid`, stop it with
  `prefect server stop` or `kill $(cat .prefect/server.pid)`) and wait until `/api/health` answers.
- `serve_deployments()`: serve flow `worldsim` as deployment `generate-4d` (full name
  `worldsim/generate-4d`); blocks until interrupted. Each flow run executes in a child process.

Prefect is imported inside the functions that need it: importing this module costs only yaml.
`python -m worldsim.serve {env,ensure,serve,wait-deployment}` exposes the same steps to shell
scripts (scripts/demo.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from worldsim.errors import ConfigError, ServerStartError, WorldsimError

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = REPO_ROOT / "configs" / "prefect" / "settings.yaml"
FLOW_NAME = "worldsim"
DEPLOYMENT_NAME = "generate-4d"
DEPLOYMENT = f"{FLOW_NAME}/{DEPLOYMENT_NAME}"
BATCH_DEPLOYMENT = "worldsim-batch/synthesize"
SERVER_START_TIMEOUT_S = 120.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

__all__ = ["ensure_server", "serve_deployments", "prefect_env"]


def _log(msg: str) -> None:
    print(f"[worldsim] {msg}", file=sys.stderr, flush=True)


def prefect_env(environ: dict[str, str] | None = None, settings_file: str | Path | None = None) -> dict[str, str]:
    """Prefect settings as environment variables: `configs/prefect/settings.yaml`, with a relative
    PREFECT_HOME resolved against the repository root; a variable already set in `environ`
    (default: os.environ) wins over the file."""
    environ = os.environ if environ is None else environ
    path = Path(settings_file) if settings_file else SETTINGS_FILE
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"Prefect settings file '{path}' is missing; it should hold PREFECT_API_URL and PREFECT_HOME") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Prefect settings file '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Prefect settings file '{path}' must hold a mapping of PREFECT_* names to values")
    env: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.startswith("PREFECT_"):
            raise ConfigError(f"Prefect settings file '{path}': key {key!r} is not a PREFECT_* setting name")
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"Prefect settings file '{path}': {key}={value!r} must be a string, number or boolean")
        env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if "PREFECT_HOME" in env:
        env["PREFECT_HOME"] = str((REPO_ROOT / Path(env["PREFECT_HOME"]).expanduser()).resolve())
    for key in env:
        if environ.get(key):
            env[key] = environ[key]
    if "PREFECT_API_URL" not in env:
        raise ConfigError(f"Prefect settings file '{path}' lacks PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
    return env


def apply_prefect_env() -> dict[str, str]:
    """Export prefect_env() into os.environ (child processes inherit it) and return it."""
    env = prefect_env()
    os.environ.update(env)
    return env


@contextlib.contextmanager
def _prefect_settings(env: dict[str, str]):
    """Make `env` the active Prefect settings, also when prefect was imported before os.environ changed."""
    if "prefect" not in sys.modules:
        yield
        return
    import prefect.settings as ps

    updates = {getattr(ps, k): v for k, v in env.items() if hasattr(ps, k)}
    with ps.temporary_settings(updates=updates):
        yield


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


def _get_json(url: str, timeout: float = 2.0):
    with _opener().open(url, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def server_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """True when `<api_url>/health` answers 200 with `true`."""
    try:
        return _get_json(api_url.rstrip("/") + "/health", timeout) is True
    except (OSError, ValueError):
        return False


def _host_port(api_url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(api_url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"PREFECT_API_URL '{api_url}' is not an http://HOST:PORT/api URL")
    return parts.hostname, parts.port or 80


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def ensure_server(timeout: float = SERVER_START_TIMEOUT_S, quiet: bool = False) -> str:
    """Return the API URL of a healthy Prefect server, starting one in the background if needed.

    Only a loopback URL is started here; any other URL must already be healthy. Concurrent callers
    are serialised by a lock file so only one server is started.
    """
    env = apply_prefect_env()
    api_url = env["PREFECT_API_URL"]
    if server_healthy(api_url):
        quiet or _log(f"Prefect server already running at {api_url}")
        return api_url
    host, port = _host_port(api_url)
    if host not in LOOPBACK_HOSTS:
        raise ServerStartError(f"no healthy Prefect server at PREFECT_API_URL={api_url}; worldsim starts servers only on loopback (127.0.0.1)")
    home = Path(env.get("PREFECT_HOME", REPO_ROOT / ".prefect"))
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    import fcntl

    with open(home / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another caller may be starting it right now
        if server_healthy(api_url):
            return api_url
        prefect_exe = Path(sys.executable).with_name("prefect")
        cmd = [str(prefect_exe)] if prefect_exe.exists() else [sys.executable, "-m", "prefect"]
        cmd += ["server", "start", "--host", host, "--port", str(port)]
        t0 = time.perf_counter()
        with open(log_path, "ab") as log:
            log.write(f"\n--- {_dt.datetime.now().isoformat(timespec='seconds')} {shlex.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, **env}, cwd=str(REPO_ROOT), start_new_session=True)
        (home / "server.pid").write_text(str(proc.pid))  # where `prefect server stop` looks
        quiet or _log(f"starting Prefect server at {api_url} (pid {proc.pid}, log {log_path})")
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if server_healthy(api_url):
                quiet or _log(f"Prefect server healthy after {time.perf_counter() - t0:.1f} s; UI at {api_url.rsplit('/api', 1)[0]}")
                return api_url
            if proc.poll() is not None:
                (home / "server.pid").unlink(missing_ok=True)
                raise ServerStartError(f"the Prefect server exited with code {proc.returncode} before becoming healthy at {api_url}; see {log_path}: {_tail(log_path)}")
            time.sleep(0.5)
        raise ServerStartError(f"the Prefect server did not become healthy at {api_url} within {timeout:.0f} s (pid {proc.pid} still running); see {log_path}: {_tail(log_path)}")


def make_deployment(output_dir: str | Path | None = None):
    """The `generate-4d` RunnerDeployment of flow `worldsim`; output_dir defaults to `<cwd>/outputs`."""
    from prefect.types.entrypoint import EntrypointType

    from flows.generate_4d import generate_4d

    out = Path(output_dir or "outputs").expanduser().resolve()
    return generate_4d.to_deployment(
        name=DEPLOYMENT_NAME,
        description="Text -> plan -> 4D world: runs the stages of a worldsim config preset, one task per stage; writes outputs/<run-id>/run.json.",
        tags=["worldsim"],
        parameters={"output_dir": str(out)},
        entrypoint_type=EntrypointType.MODULE_PATH,  # `flows` is an installed package; no cwd dependence
    )


def make_batch_deployment(output_dir: str | Path | None = None):
    """The `synthesize` RunnerDeployment of flow `worldsim-batch`; output_dir defaults to `<cwd>/datasets/worldsim`."""
    from prefect.types.entrypoint import EntrypointType

    from flows.batch import worldsim_batch

    out = Path(output_dir or "datasets/worldsim").expanduser().resolve()
    return worldsim_batch.to_deployment(
        name=BATCH_DEPLOYMENT.split("/")[1],
        description="Batch spec -> dataset: one worldsim run per scene (threads, Dask or none), then ShareGPT/VLM4D/dense "
                    "exports, card and manifest; resumable (re-running skips finished scenes).",
        tags=["worldsim", "batch"],
        parameters={"output_dir": str(out)},
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve_deployments(output_dir: str | Path | None = None, limit: int | None = None) -> None:
    """Serve `worldsim/generate-4d` against the configured server; blocks until Ctrl-C / SIGTERM."""
    import warnings

    env = apply_prefect_env()
    # Prefect 3.8.8's SIGTERM handler calls the async Runner.stop without awaiting it; the runner still
    # exits cleanly (code 0), so hide the resulting "never awaited" warning.
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited", category=RuntimeWarning)
    with _prefect_settings(env):
        from prefect import serve

        deployment = make_deployment(output_dir)
        _log(f"serving {DEPLOYMENT} and {BATCH_DEPLOYMENT} at {env['PREFECT_API_URL']} (runs write to {deployment.parameters['output_dir']})")
        # pause_on_shutdown=False: the deployment has no schedule to pause, and a "paused" deployment in
        # the UI after `worldsim serve` stops would only confuse.
        serve(deployment, make_batch_deployment(), limit=limit, print_starting_message=True, pause_on_shutdown=False)


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wait_for_deployment(name: str = DEPLOYMENT, timeout: float = 120.0, polled_since: float | None = None) -> dict:
    """Poll the API until deployment `name` exists (and, with `polled_since` as a Unix time, until a
    runner has polled for its work since then, i.e. `worldsim serve` is up). Returns the deployment."""
    api_url = prefect_env()["PREFECT_API_URL"].rstrip("/")
    flow, _, dep = name.partition("/")
    url = f"{api_url}/deployments/name/{urllib.parse.quote(flow)}/{urllib.parse.quote(dep)}"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            data = _get_json(url)
            polled = _parse_time(data.get("last_polled"))
            if polled_since is None or (polled is not None and polled >= polled_since):
                return data
            last = f"exists, last polled {data.get('last_polled')}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise WorldsimError(f"deployment '{name}' not ready at {api_url} after {timeout:.0f} s ({last}); is `worldsim serve` running?")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m worldsim.serve", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("env", help="print `export NAME=VALUE` lines for the Prefect settings (eval them in a shell)")
    e = sub.add_parser("ensure", help="start the local Prefect server unless one is healthy; print its API URL")
    e.add_argument("--timeout", type=float, default=SERVER_START_TIMEOUT_S)
    s = sub.add_parser("serve", help="serve worldsim/generate-4d (blocks)")
    s.add_argument("--output-dir", default=None, help="default output_dir of the deployment (default: ./outputs)")
    w = sub.add_parser("wait-deployment", help="wait until a deployment exists and a runner polls it")
    w.add_argument("--name", default=DEPLOYMENT)
    w.add_argument("--timeout", type=float, default=120.0)
    w.add_argument("--polled-since", type=float, default=None, help="Unix time the runner must have polled after")
    args = p.parse_args(argv)
    try:
        if args.cmd == "env":
            for k, v in prefect_env().items():
                print(f"export {k}={shlex.quote(v)}")
        elif args.cmd == "ensure":
            print(ensure_server(timeout=args.timeout))
        elif args.cmd == "serve":
            ensure_server()
            serve_deployments(args.output_dir)
        elif args.cmd == "wait-deployment":
            dep = wait_for_deployment(args.name, args.timeout, args.polled_since)
            print(dep.get("id", ""))
    except WorldsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
