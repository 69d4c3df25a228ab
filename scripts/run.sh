#!/usr/bin/env bash
# Run the bot (or any operator command: scripts/run.sh node list). Reads BOT_TOKEN etc. from .env.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"  # where a user install of uv lands
scripts/bootstrap-python.sh --no-dev
umask 077  # data/, the database, keys and backups are the bot's user's alone
exec uv run --frozen --no-dev python main.py "$@"
