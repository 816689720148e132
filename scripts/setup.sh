#!/usr/bin/env bash
# Installs everything worldsim needs into .venv: Debian packages, then Python packages under constraints.txt.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# chromium + chromium-driver: the headless browser the viewer tests (tests/test_viewer.py) drive; no download at run time.
for pkg in libusb-1.0-0 libgomp1 chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

stamp=.venv/.worldsim-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing Python packages (first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  # torch first, from the pinned CPU wheel, so nothing later can pick a CUDA build.
  .venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
fi
echo "[setup] environment ready: .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
