#!/usr/bin/env bash
# Make sure uv is there and the locked Python dependencies are installed in .venv.
# Usage: scripts/bootstrap-python.sh [--no-dev]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
uv sync --frozen --quiet "$@"
