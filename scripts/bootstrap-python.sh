#!/usr/bin/env bash
# Make sure uv is there and the locked Python dependencies are installed in .venv.
# Usage: scripts/bootstrap-python.sh [--no-dev]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  # A distribution's own Python refuses plain pip installs (PEP 668): then install for this user.
  python3 -m pip install --quiet --disable-pip-version-check uv 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages uv
fi
uv sync --frozen --quiet "$@"
