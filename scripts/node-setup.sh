#!/usr/bin/env bash
# vpnservice node setup: turns a bare Debian/Ubuntu machine into a WireGuard (or AmneziaWG)
# node. Idempotent.
#
#   node-setup.sh all | check | packages | forwarding | nat | grace | interface | start
#
# Environment:
#   WG_INTERFACE   interface name                               (default wg0)
#   WG_PORT        UDP listen port                              (default 51820)
#   WG_ADDRESS     node address(es): "10.8.0.1/20" or "10.8.0.1/20, fd00:8::1/64"
#   WG_MTU         interface MTU                                (default 1420)
#   WG_NAT_INTERFACE   outgoing interface for NAT (default: the default route's)
#   WG_PROTOCOL    wireguard (default) or amneziawg: awg, awg-quick and /etc/amnezia/amneziawg
#   AWG_PARAMS     amneziawg only: the [Interface] lines "Jc = 4" … "I2 = <c><t><r 32>"
#                  (AmneziaWG comes from the Amnezia PPA, on Ubuntu only; elsewhere install
#                  amneziawg-tools and the amneziawg module by hand first)
#   VPNSERVICE_SKIP_PACKAGES=1   skip apt-get when the tools are already there
#   VPNSERVICE_NAT_BACKEND       nft or iptables (default: nft when installed)
#   VPNSERVICE_CONF_DIR          where the interface config goes (default: wg-quick's or awg-quick's)
# The interface's private key is read from stdin (steps interface and all); without one the
# key already in the config is kept, or a new one is generated. Each step prints `ok STEP`;
# a failure prints one message on stderr and exits non-zero. Running it twice changes nothing.
set -euo pipefail
umask 077
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

STEPS=(check packages forwarding nat grace interface start)
WG_INTERFACE=${WG_INTERFACE:-wg0}
WG_PORT=${WG_PORT:-51820}
WG_ADDRESS=${WG_ADDRESS:-10.8.0.1/20}
WG_MTU=${WG_MTU:-1420}
WG_PROTOCOL=${WG_PROTOCOL:-wireguard}
AWG_PARAMS=${AWG_PARAMS:-}
WG=wg WG_QUICK=wg-quick WG_DIR=/etc/wireguard
if [[ $WG_PROTOCOL == amneziawg ]]; then WG=awg WG_QUICK=awg-quick WG_DIR=/etc/amnezia/amneziawg; fi
WG_DIR=${VPNSERVICE_CONF_DIR:-$WG_DIR}
SYSCTL_FILE=/etc/sysctl.d/90-vpnservice.conf
GRACE_DIR=/etc/vpnservice
LOCK_DIR=/run/vpnservice
OS_RELEASE=${VPNSERVICE_OS_RELEASE:-/etc/os-release}
ADDRESSES=()
PRIVATE_KEY=""

die() {
  local code=$1
  shift
  echo "$*" >&2
  exit "$code"
}

# Last lines of a command's output, on one line, for an error message.
tail_of() { tail -n 3 <<<"$1" | tr '\n' ' '; }

amnezia() { [[ $WG_PROTOCOL == amneziawg ]]; }

# AWG_PARAMS: only the AmneziaWG keys, each with a value of its shape; nothing else.
validate_amnezia() {
  local line
  if ! amnezia; then
    [[ $WG_PROTOCOL == wireguard ]] || die 2 "invalid WG_PROTOCOL (wireguard or amneziawg)"
    [[ -z $AWG_PARAMS ]] || die 2 "AWG_PARAMS is for WG_PROTOCOL=amneziawg only"
    return 0
  fi
  grep -q '^Jc = ' <<<"$AWG_PARAMS" || die 2 "AWG_PARAMS has no Jc line"
  while IFS= read -r line; do
    [[ $line =~ ^(Jc|Jmin|Jmax|S[1-4])\ =\ [0-9]{1,4}$ ||
      $line =~ ^H[1-4]\ =\ [0-9]{1,10}(-[0-9]{1,10})?$ ||
      $line =~ ^I[1-5]\ =\ [\<\>a-zA-Z0-9\ ]{1,3000}$ ]] || die 2 "invalid AWG_PARAMS line: $line"
  done <<<"$AWG_PARAMS"
}

validate() {
  validate_amnezia
  [[ $WG_INTERFACE =~ ^[a-zA-Z0-9_=+.-]{1,15}$ ]] || die 2 "invalid WG_INTERFACE"
  { [[ $WG_PORT =~ ^[0-9]{1,5}$ ]] && ((10#$WG_PORT >= 1 && 10#$WG_PORT <= 65535)); } || die 2 "invalid WG_PORT"
  { [[ $WG_MTU =~ ^[0-9]{3,4}$ ]] && ((10#$WG_MTU >= 576 && 10#$WG_MTU <= 9000)); } || die 2 "invalid WG_MTU"
  local item
  ADDRESSES=()
  IFS=',' read -r -a items <<<"$WG_ADDRESS"
  for item in "${items[@]}"; do
    item=${item//[[:space:]]/}
    [[ -n $item ]] || continue
    if [[ $item =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]]; then
      ((10#${BASH_REMATCH[1]} < 256 && 10#${BASH_REMATCH[2]} < 256 && 10#${BASH_REMATCH[3]} < 256 &&
        10#${BASH_REMATCH[4]} < 256 && 10#${BASH_REMATCH[5]} <= 32)) || die 2 "invalid WG_ADDRESS"
    elif [[ $item =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:]*/([0-9]{1,3})$ ]]; then
      ((10#${BASH_REMATCH[1]} <= 128)) || die 2 "invalid WG_ADDRESS"
    else
      die 2 "invalid WG_ADDRESS"
    fi
    ADDRESSES+=("${item,,}")
  done
  ((${#ADDRESSES[@]})) || die 2 "WG_ADDRESS is empty"
}

# write_file PATH MODE CONTENT: atomically, and only when the content differs.
write_file() {
  local path=$1 mode=$2 content=$3 tmp
  if [[ -f $path ]] && cmp -s "$path" <(printf '%s' "$content"); then
    chmod "$mode" "$path"
    return 0
  fi
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXXXX")
  printf '%s' "$content" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
}

systemd_running() { [[ -d /run/systemd/system ]]; }

# The lock the bot's `wg-quick save` runs under: never write the config in the middle of one.
# It lives in a directory only root may enter (the bot makes it the same way), so no local user
# can take it first or swap it for a link.
lock_config() {
  [[ -d $LOCK_DIR ]] || mkdir -m 700 "$LOCK_DIR" 2>/dev/null || [[ -d $LOCK_DIR ]] ||
    die 9 "cannot create $LOCK_DIR"
  [[ ! -L $LOCK_DIR && -O $LOCK_DIR && $(stat -c %a "$LOCK_DIR") == 700 ]] ||
    die 9 "unsafe $LOCK_DIR: it must be a 0700 directory of root"
  exec 9>"$LOCK_DIR/wg-$WG_INTERFACE.lock"
  flock -w 30 9 || die 9 "timed out waiting for the lock on $WG_INTERFACE's config"
}

step_check() {
  [[ -r $OS_RELEASE ]] || die 3 "unsupported system: no /etc/os-release"
  local id like
  # shellcheck source=/dev/null
  id=$(. "$OS_RELEASE" && echo "${ID:-unknown}")
  # shellcheck source=/dev/null
  like=$(. "$OS_RELEASE" && echo "${ID_LIKE:-}")
  case " $id $like " in
    *" debian "* | *" ubuntu "*) ;;
    *) die 3 "unsupported system: $id (Debian or Ubuntu needed)" ;;
  esac
  [[ $(id -u) == 0 ]] || die 4 "not running as root: run as root or through sudo"
  validate
  if amnezia && ! { command -v awg && command -v awg-quick; } >/dev/null 2>&1 &&
    [[ " $id $like " != *" ubuntu "* ]]; then
    die 3 "AmneziaWG is not packaged for $id: install amneziawg-tools and the amneziawg module" \
      "(github.com/amnezia-vpn/amneziawg-linux-kernel-module) by hand, then add the node again"
  fi
  echo "ok check"
}

tools_present() {
  command -v "$WG" && command -v "$WG_QUICK" && command -v ip && command -v sysctl && command -v nft
} >/dev/null 2>&1

step_packages() {
  if [[ ${VPNSERVICE_SKIP_PACKAGES:-} == 1 ]] && tools_present; then
    echo "ok packages"
    return
  fi
  local wanted=(wireguard-tools iproute2 procps iputils-ping) missing=() package out
  if amnezia; then wanted=(amneziawg-tools amneziawg iproute2 procps iputils-ping); fi
  command -v nft >/dev/null 2>&1 || wanted+=(nftables) # NAT, and the grace firewall
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef
      -o Dpkg::Options::=--force-confold)
    out=$("${apt[@]}" update 2>&1 </dev/null) || die 5 "apt-get update failed: $(tail_of "$out")"
    if amnezia && ! apt-cache policy amneziawg-tools 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      # Ubuntu (step check refused the rest): the Amnezia PPA; its module builds with DKMS.
      out=$("${apt[@]}" install --no-install-recommends software-properties-common gnupg 2>&1 </dev/null) ||
        die 5 "installing add-apt-repository failed: $(tail_of "$out")"
      out=$(add-apt-repository -y ppa:amnezia/ppa 2>&1 </dev/null) ||
        die 5 "adding the Amnezia PPA failed: $(tail_of "$out")"
      out=$("${apt[@]}" update 2>&1 </dev/null) || die 5 "apt-get update failed: $(tail_of "$out")"
    fi
    if amnezia && apt-cache show "linux-headers-$(uname -r)" >/dev/null 2>&1; then
      missing+=("linux-headers-$(uname -r)")
    fi
    out=$("${apt[@]}" install --no-install-recommends "${missing[@]}" 2>&1 </dev/null) ||
      die 5 "apt-get install ${missing[*]} failed: $(tail_of "$out")"
  fi
  tools_present || die 5 "$WG, $WG_QUICK or nft still missing after installing packages"
  echo "ok packages"
}

step_forwarding() {
  local content out available=/proc/sys/net/ipv4/tcp_available_congestion_control
  content="# written by vpnservice node-setup: route WireGuard clients to the internet"$'\n'
  content+="net.ipv4.ip_forward = 1"$'\n'
  [[ -e /proc/sys/net/ipv6 ]] && content+="net.ipv6.conf.all.forwarding = 1"$'\n'
  grep -qw bbr "$available" 2>/dev/null || modprobe tcp_bbr >/dev/null 2>&1 || true
  if grep -qw bbr "$available" 2>/dev/null; then
    # default_qdisc is global: a network namespace (a container) has none of its own.
    [[ -w /proc/sys/net/core/default_qdisc ]] && content+="net.core.default_qdisc = fq"$'\n'
    content+="net.ipv4.tcp_congestion_control = bbr"$'\n'
  fi
  write_file "$SYSCTL_FILE" 644 "$content"
  out=$(sysctl -q -p "$SYSCTL_FILE" 2>&1) || die 6 "sysctl failed: $(tail_of "$out")"
  echo "ok forwarding"
}

nat_hook() { echo "$WG_DIR/$WG_INTERFACE-nat.sh"; }

# shellcheck disable=SC2016 # the hook's own "$1" and "$0", expanded when it runs
step_nat() {
  validate
  local out_if=${WG_NAT_INTERFACE:-} table text address rules="" out
  if [[ -z $out_if ]]; then
    out_if=$(ip -o -4 route show default 2>/dev/null |
      awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
  fi
  if [[ -z $out_if ]]; then
    out_if=$(ip -o -6 route show default 2>/dev/null |
      awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
  fi
  [[ -n $out_if ]] || die 7 "no default route: set WG_NAT_INTERFACE to the outgoing interface"
  [[ $out_if =~ ^[a-zA-Z0-9_.-]{1,15}$ ]] || die 7 "invalid outgoing interface name"
  table="vpnservice_${WG_INTERFACE//[^a-zA-Z0-9_]/_}"
  text="#!/bin/sh"$'\n'"# NAT for WireGuard $WG_INTERFACE out of $out_if; written by vpnservice node-setup,"
  text+=$'\n'"# run by wg-quick (PostUp/PostDown) and by node-setup.sh nat. Safe to run twice."$'\n'
  local backend=${VPNSERVICE_NAT_BACKEND:-auto}
  case $backend in
    auto) backend=iptables && command -v nft >/dev/null 2>&1 && backend=nft ;;
    nft | iptables) command -v "$backend" >/dev/null 2>&1 || die 7 "$backend is not installed" ;;
    *) die 2 "invalid VPNSERVICE_NAT_BACKEND (nft, iptables or auto)" ;;
  esac
  if [[ $backend == nft ]]; then
    for address in "${ADDRESSES[@]}"; do
      if [[ $address == *:* ]]; then
        rules+=$'\t\t'"ip6 saddr $address oifname \"$out_if\" masquerade"$'\n'
      else
        rules+=$'\t\t'"ip saddr $address oifname \"$out_if\" masquerade"$'\n'
      fi
    done
    text+='case "$1" in'$'\n'"up) nft -f - <<'EOF'"$'\n'
    text+="add table inet $table"$'\n'"delete table inet $table"$'\n'"table inet $table {"$'\n'
    text+=$'\t'"chain postrouting {"$'\n'
    text+=$'\t\t'"type nat hook postrouting priority 100; policy accept;"$'\n'
    text+="$rules"$'\t'"}"$'\n'"}"$'\n'"EOF"$'\n'";;"$'\n'
    text+="down) nft delete table inet $table 2>/dev/null || true ;;"$'\n'
  else
    local up="" down="" tool rule
    for address in "${ADDRESSES[@]}"; do
      tool=iptables
      [[ $address == *:* ]] && tool=ip6tables
      rule="POSTROUTING -s $address -o $out_if -m comment --comment $table -j MASQUERADE"
      up+="  $tool -w -t nat -C $rule 2>/dev/null || $tool -w -t nat -A $rule"$'\n'
      down+="  while $tool -w -t nat -D $rule 2>/dev/null; do :; done"$'\n'
    done
    text+='set -e'$'\n''case "$1" in'$'\n'"up)"$'\n'"$up;;"$'\n'"down)"$'\n'"$down;;"$'\n'
  fi
  text+='*) echo "usage: $0 up|down" >&2; exit 2 ;;'$'\n'"esac"$'\n'
  write_file "$(nat_hook)" 700 "$text"
  out=$("$(nat_hook)" up 2>&1) || die 7 "applying NAT failed: $(tail_of "$out")"
  echo "ok nat"
}

grace_hook() { echo "$WG_DIR/$WG_INTERFACE-grace.sh"; }

# The grace firewall is the bot's own (nodes/firewall.py): it keeps the nft file in GRACE_DIR.
# This hook loads it before the interface comes up (wg-quick's PreUp), so a reboot never lets
# an address in grace out further than Telegram; a file that fails to load never keeps the
# interface down, and the bot's next reconcile writes it again.
step_grace() {
  validate
  local text file="$GRACE_DIR/grace-$WG_INTERFACE.nft"
  text="#!/bin/sh"$'\n'"# Loads the vpnservice grace firewall of $WG_INTERFACE; written by vpnservice"
  text+=$'\n'"# node-setup, run by wg-quick (PreUp) before the interface comes up."$'\n'
  text+="PATH=/usr/sbin:/usr/bin:/sbin:/bin"$'\n'"f=$file"$'\n'
  # shellcheck disable=SC2016 # expanded by the hook, not here
  text+='[ ! -f "$f" ] || nft -f "$f" || echo "grace firewall not loaded from $f" >&2'$'\n'
  write_file "$(grace_hook)" 700 "$text"
  echo "ok grace"
}

step_interface() {
  validate
  lock_config
  local conf=$WG_DIR/$WG_INTERFACE.conf key=$PRIVATE_KEY content address peers
  if [[ -z $key && -f $conf ]]; then
    key=$(sed -n 's/^[[:space:]]*PrivateKey[[:space:]]*=[[:space:]]*//p' "$conf" | head -n 1)
  fi
  [[ -n $key ]] || key=$("$WG" genkey)
  [[ $key =~ ^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$ ]] || die 2 "the private key is not a WireGuard key"
  # The [Interface] section in the layout `wg-quick save` writes, so saves and reruns agree;
  # the [Peer] sections already in the file are kept: peers are the bot's business.
  content="[Interface]"$'\n'
  for address in "${ADDRESSES[@]}"; do
    content+="Address = $address"$'\n'
  done
  content+="MTU = $WG_MTU"$'\n'
  [[ ! -x $(grace_hook) ]] || content+="PreUp = $(grace_hook)"$'\n'
  if [[ -x $(nat_hook) ]]; then
    content+="PostUp = $(nat_hook) up"$'\n'"PostDown = $(nat_hook) down"$'\n'
  fi
  content+="ListenPort = $WG_PORT"$'\n'"PrivateKey = $key"$'\n'
  [[ -z $AWG_PARAMS ]] || content+="$AWG_PARAMS"$'\n'  # where awg-quick save puts them
  if [[ -f $conf ]]; then
    peers=$(sed -n '/^[[:space:]]*\[Peer\]/,$p' "$conf")
    [[ -z $peers ]] || content+=$'\n'"$peers"$'\n'
  fi
  mkdir -p "$WG_DIR"
  chmod 700 "$WG_DIR"
  write_file "$conf" 600 "$content"
  echo "ok interface"
}

# Make the running interface match the config without a restart: keys, port, peers, addresses.
sync_running() {
  local stripped out current address wanted mtu
  stripped=$("$WG_QUICK" strip "$WG_INTERFACE" 2>&1) || die 8 "$WG_QUICK strip failed: $(tail_of "$stripped")"
  # Endpoints in a saved config may be stale: a roaming client's live endpoint is kept.
  out=$("$WG" syncconf "$WG_INTERFACE" <(grep -v '^[[:space:]]*Endpoint[[:space:]]*=' <<<"$stripped") 2>&1) ||
    die 8 "$WG syncconf failed: $(tail_of "$out")"
  current=$(ip -o addr show dev "$WG_INTERFACE" | awk '$3 == "inet" || $3 == "inet6" { print $4 }')
  wanted=" ${ADDRESSES[*]} "
  for address in "${ADDRESSES[@]}"; do
    grep -qxF "$address" <<<"$current" || ip addr add "$address" dev "$WG_INTERFACE"
  done
  for address in $current; do
    [[ $address == fe80:* || $wanted == *" $address "* ]] || ip addr del "$address" dev "$WG_INTERFACE"
  done
  mtu=$(ip -o link show dev "$WG_INTERFACE" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
  [[ $mtu == "$WG_MTU" ]] || ip link set dev "$WG_INTERFACE" mtu "$WG_MTU"
  ip link set dev "$WG_INTERFACE" up
}

step_start() {
  validate
  lock_config
  local out unit="$WG_QUICK@$WG_INTERFACE"
  [[ -f $WG_DIR/$WG_INTERFACE.conf ]] || die 8 "no $WG_DIR/$WG_INTERFACE.conf: run the interface step first"
  if ip link show dev "$WG_INTERFACE" >/dev/null 2>&1; then
    sync_running
    if systemd_running && ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
      out=$(systemctl enable "$unit" 2>&1) || die 8 "systemctl enable $unit failed: $(tail_of "$out")"
    fi
  elif systemd_running; then
    # a unit still "active" whose interface vanished would not start again: stop it first
    if systemctl is-active --quiet "$unit"; then systemctl stop "$unit" >/dev/null 2>&1 || true; fi
    systemctl reset-failed "$unit" >/dev/null 2>&1 || true
    out=$(systemctl enable --now "$unit" 2>&1 9>&-) ||
      die 8 "systemctl enable --now $unit failed: $(tail_of "$out") (see journalctl -u $unit)"
  else
    # 9>&-: the lock must not live on in the wireguard-go daemon wg-quick may start
    out=$("$WG_QUICK" up "$WG_INTERFACE" 2>&1 </dev/null 9>&-) || die 8 "$WG_QUICK up failed: $(tail_of "$out")"
  fi
  ip link show dev "$WG_INTERFACE" >/dev/null 2>&1 || die 8 "interface $WG_INTERFACE did not come up"
  echo "ok start"
}

main() {
  local step=${1:-}
  case $step in
    all | interface)
      # Read the key before anything else can consume stdin (apt-get, dpkg).
      if [[ ! -t 0 ]]; then IFS= read -r PRIVATE_KEY || true; fi
      ;;
  esac
  case $step in
    all) for step in "${STEPS[@]}"; do "step_$step"; done ;;
    check | packages | forwarding | nat | grace | interface | start) "step_$step" ;;
    *) die 2 "usage: $0 all|check|packages|forwarding|nat|grace|interface|start" ;;
  esac
}

main "$@"
