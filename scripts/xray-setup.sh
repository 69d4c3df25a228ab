#!/usr/bin/env bash
# vpnservice Xray setup: installs the official Xray-core release on a Debian/Ubuntu node for
# VLESS with Reality, next to WireGuard. Idempotent. The bot writes the config and (re)starts
# the service afterwards: `python main.py node vless NAME --target HOST:PORT --sni NAME`.
#
#   xray-setup.sh            # as root on the node
#
# Environment:
#   XRAY_VERSION   the release tag to install (default v26.10.10: the version the tests run)
#   XRAY_ZIP       a release zip already on the node (no download; its .dgst next to it)
# The zip's SHA-256 is checked against the release's .dgst file before anything is installed
# (the official install script downloads the .dgst but does not check it). Prints `ok xray`
# at the end; a failure prints one message on stderr and exits non-zero.
set -euo pipefail
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

XRAY_VERSION=${XRAY_VERSION:-v26.10.10}
BIN=/usr/local/bin/xray
CONF_DIR=/usr/local/etc/xray
SHARE_DIR=/usr/local/share/xray
UNIT=/etc/systemd/system/xray.service

fail() { echo "xray-setup: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "run it as root"
[[ $XRAY_VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "XRAY_VERSION must look like v26.10.10"
case "$(uname -m)" in
  x86_64) asset=Xray-linux-64.zip ;;
  aarch64) asset=Xray-linux-arm64-v8a.zip ;;
  *) fail "unsupported machine $(uname -m)" ;;
esac
for tool in sha256sum systemctl; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
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
  url="https://github.com/XTLS/Xray-core/releases/download/$XRAY_VERSION/$asset"
  curl -fsSL --retry 3 -o "$work/$asset" "$url" || fail "cannot download $url"
  curl -fsSL --retry 3 -o "$work/$asset.dgst" "$url.dgst" || fail "cannot download $url.dgst"
fi
expected=$(awk -F '= ' '/^SHA2-256=/ {print $2; exit}' "$work/$asset.dgst")
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "the .dgst file has no SHA2-256 line"
echo "$expected  $work/$asset" | sha256sum -c --quiet - >/dev/null 2>&1 || fail "SHA-256 of $asset does not match"

unzip -q -o "$work/$asset" xray geoip.dat geosite.dat -d "$work/x" || fail "the zip holds no xray"
version=$("$work/x/xray" version | awk 'NR==1 {print $2}')
[[ "v$version" == "$XRAY_VERSION" ]] || fail "the zip holds Xray $version, not $XRAY_VERSION"
install -m 755 "$work/x/xray" "$BIN"
install -d -m 755 "$SHARE_DIR"
install -m 644 "$work/x/geoip.dat" "$work/x/geosite.dat" "$SHARE_DIR/"

getent group xray >/dev/null || groupadd --system xray
getent passwd xray >/dev/null || useradd --system --gid xray --no-create-home --shell /usr/sbin/nologin xray
install -d -m 750 -g xray "$CONF_DIR"
# The config holds the Reality private key: root writes it, the service's group reads it.
cat > "$UNIT.new" <<'UNIT'
# written by vpnservice xray-setup.sh; there is no reload: Xray exits on SIGHUP
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
ExecStart=/usr/local/bin/xray run -config /usr/local/etc/xray/config.json
Restart=on-failure
RestartPreventExitStatus=23
LimitNOFILE=1000000

[Install]
WantedBy=multi-user.target
UNIT
mv -f "$UNIT.new" "$UNIT"
systemctl daemon-reload
systemctl enable xray >/dev/null 2>&1 || fail "systemctl enable xray failed"
echo "ok xray $version"
