#!/usr/bin/env bash
# One generation through Prefect, end to end (run `bash scripts/setup.sh` first):
#   1. export the Prefect settings from configs/prefect/settings.yaml (loopback API, PREFECT_HOME=.prefect);
#   2. reuse a healthy Prefect server at http://127.0.0.1:4200 or start one (SQLite in .prefect/, log .prefect/server.log);
#   3. start `worldsim serve` in the background (log .prefect/serve.log) and wait until it polls worldsim/generate-4d;
#   4. `prefect deployment run worldsim/generate-4d --watch` for the prompt; print the run folder and its files.
# Exits non-zero if the flow run fails. The `worldsim serve` started here is stopped on exit; the Prefect
# server keeps running (UI: http://127.0.0.1:4200) so the run stays inspectable. Stop the server with:
#   kill "$(cat .prefect/server.pid)"
# Usage: bash scripts/demo.sh ["prompt"]    (default: "A red ball rolls quickly from left to right")
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "demo: $PY not found; run 'bash scripts/setup.sh' first" >&2; exit 1; }
PROMPT=${1:-"A red ball rolls quickly from left to right"}
OUT="$ROOT/outputs"
export PATH="$ROOT/.venv/bin:$PATH"

PREFECT_EXPORTS=$("$PY" -m worldsim.serve env)
eval "$PREFECT_EXPORTS"
mkdir -p "$PREFECT_HOME" "$OUT"
echo "[demo] Prefect API $PREFECT_API_URL, PREFECT_HOME $PREFECT_HOME"

"$PY" -m worldsim.serve ensure >/dev/null

SERVE_LOG="$PREFECT_HOME/serve.log"
started=$("$PY" -c 'import time; print(time.time())')
worldsim serve >"$SERVE_LOG" 2>&1 &
SERVE_PID=$!
cleanup() {
  if kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    echo "[demo] stopped worldsim serve (pid $SERVE_PID); the Prefect server is still running"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "[demo] worldsim serve started (pid $SERVE_PID, log $SERVE_LOG); waiting for worldsim/generate-4d"

if ! "$PY" -m worldsim.serve wait-deployment --timeout 180 --polled-since "$started" >/dev/null; then
  echo "[demo] worldsim serve did not come up; last lines of $SERVE_LOG:" >&2
  tail -n 20 "$SERVE_LOG" >&2 || true
  exit 1
fi

echo "[demo] running worldsim/generate-4d: $PROMPT"
if ! prefect deployment run worldsim/generate-4d \
    --param prompt="$PROMPT" \
    --param output_dir="$OUT" \
    --watch --watch-timeout 900; then
  echo "[demo] the flow run failed:" >&2
  grep -E "Flow run '.*' - Finished in state" "$SERVE_LOG" | tail -n 1 | sed 's/^/  /' >&2 || true
  echo "[demo] full log: $SERVE_LOG; UI: ${PREFECT_API_URL%/api}; no partial run folder is left in $OUT" >&2
  exit 1
fi

# The newest run folder (holding run.json) created since this script started serving.
RUN_DIR=$("$PY" - "$OUT" "$started" <<'EOF'
import sys
from pathlib import Path
out, since = Path(sys.argv[1]), float(sys.argv[2])
runs = [p.parent for p in out.glob("*/run.json") if p.stat().st_mtime >= since - 1]
print(max(runs, key=lambda p: p.stat().st_mtime) if runs else "")
EOF
)
if [ -z "$RUN_DIR" ]; then
  echo "[demo] the flow run completed but no new run folder with run.json is under $OUT" >&2
  exit 1
fi
echo
echo "[demo] run folder: $RUN_DIR"
(cd "$RUN_DIR" && find . -type f ! -name '.*' | sort | while read -r f; do
  printf '  %10s  %s\n' "$(wc -c <"$f" | tr -d ' ')" "${f#./}"
done)
echo "[demo] manifest: $RUN_DIR/run.json   UI: ${PREFECT_API_URL%/api}"
