#!/usr/bin/env bash
# vpnservice Xray setup: installs the official Xray-core release on a Debian/Ubuntu node for
# VLESS with Reality, next to WireGuard. Idempotent. `python main.py node vless NAME ...` runs
# it on the node over SSH, step by step, then writes the config and (re)starts the service.
#
#   xray-setup.sh [all | check | install | service]      # as root on the node
#
# Environment:
#   XRAY_VERSION       the release tag to install (default v26.10.10: the version the tests run)
#   XRAY_RELEASE_URL   where releases are downloaded from, a mirror of GitHub's layout
#                      BASE/TAG/Xray-linux-64.zip and its .dgst
#                      (default https://github.com/XTLS/Xray-core/releases/download)
#   XRAY_ZIP           a release zip already on the node (no download; its .dgst next to it)
# The zip's SHA-256 is checked against the release's .dgst file before anything is installed
# (the official install script downloads the .dgst but does not check it). An Xray already at
# /usr/local/bin/xray is kept as it is (it may serve users of its own: nothing is downloaded),
# and so is an xray.service this script did not write. Each step prints `ok STEP` (all ends
# with `ok xray VERSION`); a failure prints one message on stderr and exits non-zero.
set -euo pipefail
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

XRAY_VERSION=${XRAY_VERSION:-v26.10.10}
XRAY_RELEASE_URL=${XRAY_RELEASE_URL:-https://github.com/XTLS/Xray-core/releases/download}
BIN=/usr/local/bin/xray
CONF_DIR=/usr/local/etc/xray
SHARE_DIR=/usr/local/share/xray
UNIT=/etc/systemd/system/xray.service
MARK="# written by vpnservice xray-setup.sh"
asset=""

fail() { echo "xray-setup: $*" >&2; exit 1; }

# The version an xray binary reports (`Xray 26.10.10 (...)` → 26.10.10), empty if none.
version_of() { "$1" version 2>/dev/null | awk 'NR==1 {print $2}' || true; }

step_check() {
  [[ $(id -u) -eq 0 ]] || fail "run it as root"
  [[ $XRAY_VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "XRAY_VERSION must look like v26.10.10"
  [[ $XRAY_RELEASE_URL =~ ^https?://[A-Za-z0-9._~:/%@+=-]+$ ]] \
    || fail "XRAY_RELEASE_URL must be an http(s) URL"
  case "$(uname -m)" in
    x86_64) asset=Xray-linux-64.zip ;;
    aarch64) asset=Xray-linux-arm64-v8a.zip ;;
    *) fail "unsupported machine $(uname -m)" ;;
  esac
  for tool in sha256sum systemctl; do
    command -v "$tool" >/dev/null || fail "$tool is missing"
  done
  echo "ok check"
}

step_install() {
  if [[ -x $BIN ]]; then
    echo "xray $(version_of "$BIN") already installed: kept"
    echo "ok install"
    return
  fi
  if ! command -v unzip >/dev/null || { [[ -z ${XRAY_ZIP:-} ]] && ! command -v curl >/dev/null; }; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip curl >/dev/null; } \
      || fail "cannot install unzip and curl"
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if [[ -n ${XRAY_ZIP:-} ]]; then
    { cp "$XRAY_ZIP" "$work/$asset" && cp "$XRAY_ZIP.dgst" "$work/$asset.dgst"; } \
      || fail "XRAY_ZIP and its .dgst must both exist"
  else
    url="${XRAY_RELEASE_URL%/}/$XRAY_VERSION/$asset"
    curl -fsSL --retry 3 -o "$work/$asset" "$url" || fail "cannot download $url"
    curl -fsSL --retry 3 -o "$work/$asset.dgst" "$url.dgst" || fail "cannot download $url.dgst"
  fi
  expected=$(awk -F '= ' '/^SHA2-256=/ {print $2; exit}' "$work/$asset.dgst")
  [[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "the .dgst file has no SHA2-256 line"
  echo "$expected  $work/$asset" | sha256sum -c --quiet - >/dev/null 2>&1 \
    || fail "SHA-256 of $asset does not match"

  unzip -q -o "$work/$asset" xray geoip.dat geosite.dat -d "$work/x" || fail "the zip holds no xray"
  version=$(version_of "$work/x/xray")
  [[ "v$version" == "$XRAY_VERSION" ]] || fail "the zip holds Xray $version, not $XRAY_VERSION"
  install -d -m 755 "$SHARE_DIR" "$(dirname "$BIN")"
  install -m 644 "$work/x/geoip.dat" "$work/x/geosite.dat" "$SHARE_DIR/"
  install -m 755 "$work/x/xray" "$BIN.new"
  mv -f "$BIN.new" "$BIN"
  echo "xray $version installed"
  echo "ok install"
}

step_service() {
  if [[ -f $UNIT ]] && ! grep -qF "$MARK" "$UNIT"; then
    echo "the node's own xray.service kept"
    echo "ok service"
    return
  fi
  getent group xray >/dev/null || groupadd --system xray
  getent passwd xray >/dev/null \
    || useradd --system --gid xray --no-create-home --shell /usr/sbin/nologin xray
  # The config holds the Reality private key: root writes it, the service's group reads it.
  [[ -d $CONF_DIR ]] || install -d -m 750 -g xray "$CONF_DIR"
  install -d -m 755 "$(dirname "$UNIT")"
  cat > "$UNIT.new" <<UNIT
$MARK; there is no reload: Xray exits on SIGHUP
[Unit]
Description=Xray (vpnservice: VLESS with Reality)
After=network-online.target
Wants=network-online.target

[Service]
User=xray
Group=xray
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE
NoNewPrivileges=true
ExecStart=$BIN run -config $CONF_DIR/config.json
Restart=on-failure
RestartPreventExitStatus=23
LimitNOFILE=1000000

[Install]
WantedBy=multi-user.target
UNIT
  mv -f "$UNIT.new" "$UNIT"
  systemctl daemon-reload || fail "systemctl daemon-reload failed"
  systemctl enable xray >/dev/null 2>&1 || fail "systemctl enable xray failed"
  echo "ok service"
}

case "${1:-all}" in
  check) step_check ;;
  install) step_check >/dev/null && step_install ;;
  service) step_check >/dev/null && step_service ;;
  all)
    step_check >/dev/null
    step_install >/dev/null
    step_service >/dev/null
    echo "ok xray $(version_of "$BIN")"
    ;;
  *) fail "unknown step ${1}: all, check, install or service" ;;
esac
