#!/usr/bin/env bash
# Install everything the tests need (Debian packages when root, Python packages) and run them:
# ruff, mypy, then pytest (the real-node end-to-end tests need root; with CI set they never skip).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"  # where a user install of uv lands
# postgresql: the tests start their own throwaway server from its binaries (tests/postgres.py)
# chromium: the personal page's browser tests (Playwright drives Debian's build; no download)
DEBIAN_PACKAGES=(wireguard-tools wireguard-go openssh-server openresolv zbar-tools iproute2 iputils-ping iptables nftables procps fonts-dejavu-core postgresql chromium prometheus)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
scripts/bootstrap-python.sh
uv run --frozen ruff check .
uv run --frozen ruff format --check .
uv run --frozen mypy .
uv run --frozen pytest -n 4 --dist loadgroup "$@"  # the lab tests share one worker (tests/conftest.py)
