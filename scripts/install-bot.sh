#!/usr/bin/env bash
# Install the vpnservice bot as a systemd service on Debian/Ubuntu, from this checkout.
#
#   sudo git clone REPOSITORY /opt/vpnservice && sudo /opt/vpnservice/scripts/install-bot.sh
#   scripts/install-bot.sh --dry-run      # print what it would do, change nothing
#
# It installs the Debian packages the bot uses at run time and uv, creates the `vpnservice`
# system user, installs the locked dependencies into .venv (owned by root: the bot cannot change
# its own code), makes data/ (owned by vpnservice, mode 700) and .env from .env.example when
# there is none, installs scripts/vpnservice.service and enables it. The service starts once
# .env has a BOT_TOKEN. Running it again updates the dependencies and the unit, and restarts
# a running bot.
set -euo pipefail
umask 022  # .venv and the code must be readable by the service user

APP_DIR=$(cd "$(dirname "$0")/.." && pwd)
UNIT_NAME=vpnservice.service
UNIT_DIR=${VPNSERVICE_UNIT_DIR:-/etc/systemd/system}
SERVICE_USER=vpnservice
PACKAGES=(ca-certificates curl fonts-dejavu-core postgresql-client tzdata)
UV_VERSION=0.13.9
UV_INSTALLER=https://astral.sh/uv/$UV_VERSION/install.sh
DRY_RUN=0

usage() { echo "usage: $0 [--dry-run]" >&2; }

for arg in "$@"; do
  case $arg in
    --dry-run | -n) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
  esac
done

die() {
  echo "install-bot: $*" >&2
  exit 1
}

# Print a command; run it unless this is a dry run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "$DRY_RUN" = 0 ]; then
    "$@"
  fi
}

step() { echo "== $*"; }

case $APP_DIR in
  /home/* | /root | /root/* | /run/user/*)
    die "$APP_DIR is hidden from the service (ProtectHome=yes): clone into /opt/vpnservice"
    ;;
esac
[ -f "$APP_DIR/main.py" ] && [ -f "$APP_DIR/uv.lock" ] || die "$APP_DIR is not a vpnservice checkout"
if [ "$DRY_RUN" = 0 ]; then
  [ "$(id -u)" = 0 ] || die "run as root (sudo $0), or with --dry-run to see the steps"
  command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian and Ubuntu"
  command -v systemctl >/dev/null || die "systemctl not found: use Docker instead (docs/deploy.md)"
fi

step "packages"
run apt-get update -q
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

step "uv"
if command -v uv >/dev/null; then
  echo "uv is there: $(command -v uv)"
  UV=$(command -v uv)
else
  # The official installer, into /usr/local/bin for every user; it leaves shell profiles alone.
  run sh -c "curl -LsSf $UV_INSTALLER | env UV_UNMANAGED_INSTALL=/usr/local/bin sh"
  UV=/usr/local/bin/uv
fi

step "user $SERVICE_USER"
if id "$SERVICE_USER" >/dev/null 2>&1; then
  echo "user $SERVICE_USER exists"
else
  run useradd --system --user-group --home-dir "$APP_DIR/data" --no-create-home \
    --shell /usr/sbin/nologin "$SERVICE_USER"
fi

step "dependencies into $APP_DIR/.venv"
# A Python that uv downloads (when the system's is older than 3.11) goes inside the app
# directory, where the service user can read it.
run env UV_PYTHON_INSTALL_DIR="$APP_DIR/.python" UV_PROJECT_ENVIRONMENT="$APP_DIR/.venv" \
  "$UV" sync --project "$APP_DIR" --frozen --no-dev --compile-bytecode
# The service may not write here (ProtectSystem=strict): compile the bot's own code now.
run "$APP_DIR/.venv/bin/python" -m compileall -q "$APP_DIR/main.py" "$APP_DIR/bot" \
  "$APP_DIR/handlers" "$APP_DIR/keyboards" "$APP_DIR/services" "$APP_DIR/nodes" \
  "$APP_DIR/payments" "$APP_DIR/db" "$APP_DIR/locales" "$APP_DIR/migrations"

step "data and settings"
run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 700 "$APP_DIR/data"
if [ -e "$APP_DIR/.env" ]; then
  echo "$APP_DIR/.env exists"
else
  run install -o root -g "$SERVICE_USER" -m 640 "$APP_DIR/.env.example" "$APP_DIR/.env"
fi

step "systemd unit"
if [ "$APP_DIR" = /opt/vpnservice ]; then
  run install -m 644 "$APP_DIR/scripts/$UNIT_NAME" "$UNIT_DIR/$UNIT_NAME"
else
  echo "the unit's paths become $APP_DIR"
  if [ "$DRY_RUN" = 0 ]; then
    sed "s#/opt/vpnservice#$APP_DIR#g" "$APP_DIR/scripts/$UNIT_NAME" >"$UNIT_DIR/$UNIT_NAME"
    chmod 644 "$UNIT_DIR/$UNIT_NAME"
  fi
fi
run systemctl daemon-reload
run systemctl enable "$UNIT_NAME"

step "start"
token=""
if [ -r "$APP_DIR/.env" ]; then
  token=$(sed -n 's/^BOT_TOKEN=//p' "$APP_DIR/.env" | tail -n 1)
fi
if [ -z "$token" ] || [[ $token == *replace_with_your_token* ]]; then
  echo "Put your BOT_TOKEN (and ADMIN_IDS) in $APP_DIR/.env, then: systemctl start vpnservice"
else
  run systemctl restart "$UNIT_NAME"
  echo "started; logs: journalctl -u vpnservice -f"
fi
