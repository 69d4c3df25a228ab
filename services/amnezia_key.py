"""AmneziaVPN's one-tap `vpn://` key for an AmneziaWG client config, and its decoder."""

# The format is AmneziaVPN's own, read from its source (github.com/amnezia-vpn/amnezia-client):
#
# - Wrapping, client/ui/controllers/exportController.cpp (generateConnectionConfig) and
#   client/core/controllers/selfhosted/exportController.cpp (generateVpnUrl): the server's JSON
#   as QJsonDocument::toJson() (indented by 4, keys sorted, UTF-8, a final newline), then
#   qCompress(json, 8) (a 4-byte big-endian length of the JSON, then zlib), then base64 with
#   Base64UrlEncoding | OmitTrailingEquals, after "vpn://". The import side,
#   client/ui/controllers/importController.cpp and
#   client/core/controllers/selfhosted/importController.cpp, undoes exactly that and takes
#   the text for an AmneziaVPN profile when it contains "containers".
# - Profile, the same generateConnectionConfig and
#   client/core/models/selfhosted/selfHostedUserServerConfig.cpp: the server's own JSON minus
#   userName, password and port (the SSH login), with "containers" = [the one container],
#   "defaultContainer", "description" (the name the app shows), "hostName", "dns1", "dns2".
# - Container, client/containers/containers_defs.cpp: "amnezia-" + the container's name in
#   lower case, so "amnezia-awg" (AmneziaWG 1.0/1.5, which the app labels Legacy) or
#   "amnezia-awg2" (2.0); both keep their protocol under "awg"
#   (client/protocols/protocols_defs.h, client/core/utils/constants/configKeys.h).
# - "awg", client/ui/models/protocols/awgConfigModel.cpp and
#   client/core/models/protocols/awgProtocolConfig.cpp (AwgServerConfig::toJson): "port" as a
#   string, "transport_proto" "udp", "protocol_version" ("2", or "1.5" when I1–I5 are set,
#   constants in protocols_defs.h), the obfuscation parameters as strings, and "last_config".
# - "last_config", a JSON string, client/configurators/wireguard_configurator.cpp
#   (createConfig) and client/configurators/awg_configurator.cpp (createConfig), or
#   AwgClientConfig::toJson in the newer layout: "config" (the .conf text), "hostName",
#   "port" (a number), "client_ip", "client_priv_key", "client_pub_key", "clientId" (the
#   client's public key), "server_pub_key", "psk_key", "mtu", "persistent_keep_alive",
#   "allowed_ips" (a list), Jc, Jmin, Jmax, S1, S2, H1–H4, S3 and S4 on "amnezia-awg2", the
#   non-empty ones of I1–I5, and "protocol_version" "2" on "amnezia-awg2".
# - What the clients read back, client/mozilla/localsocketcontroller.cpp (desktop),
#   client/android/wireguard/src/main/kotlin/org/amnezia/vpn/protocol/wireguard/Wireguard.kt
#   and client/platforms/ios/ios_controller.mm: the tunnel is built from those last_config
#   fields, not from "config"; the parameters count only as non-empty strings; the desktop
#   daemon takes "client_ip" as the tunnel's single IPv4 address, which is why the app
#   exports it bare ("10.8.1.2") and so does this module (the IPv6 address stays in
#   "config"); dns1 and dns2 count only when IPv4 (getDnsPair in
#   client/core/models/selfhosted/nativeServerConfig.cpp), else the app uses its own DNS.
#
# Left out on purpose: userName, password and the top-level port (the export drops them: a
# shared key gives no SSH access); "subnet_address" (the app's own address-pool bookkeeping,
# used only when it manages the server over SSH, which a shared key cannot do);
# "isThirdPartyConfig" (set by the app only when it imports a plain .conf, not on export);
# "isObfuscationEnabled" (false, hence absent, on export). The app itself overwrites "mtu"
# with its own default when it imports a vpn:// key (processAmneziaConfig).

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import zlib
from collections.abc import Mapping
from typing import NoReturn

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "vpn://"
MAX_KEY_CHARS = 64 * 1024
MAX_JSON_BYTES = 1024 * 1024
COMPRESS_LEVEL = 8  # qCompress(json, 8) in the app's export
LEGACY_CONTAINER = "amnezia-awg"
AWG2_CONTAINER = "amnezia-awg2"

REQUIRED_PARAMS = ("Jc", "Jmin", "Jmax", "S1", "S2", "H1", "H2", "H3", "H4")
PACKET_PARAMS = ("I1", "I2", "I3", "I4", "I5")
PARAMS = (*REQUIRED_PARAMS, "S3", "S4", *PACKET_PARAMS)
_CANONICAL = {name.casefold(): name for name in PARAMS}

_SECTION = re.compile(r"\[\s*([A-Za-z]+)\s*\]")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_DIGITS = re.compile(r"[0-9]{1,10}")
_HEADER = re.compile(r"[0-9]{1,10}(?:-[0-9]{1,10})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY_CHARS = 44  # 32 bytes in standard base64, as `wg` writes them


def amnezia_key(
    config_text: str,
    *,
    host: str,
    port: int,
    dns: tuple[str, ...],
    description: str,
    obfuscation: Mapping[str, str],
) -> str:
    """The `vpn://` key that imports `config_text`, an AmneziaWG client config, into AmneziaVPN.

    `obfuscation` holds the node's parameters by config name (Jc … H4, S3, S4, I1 … I5) and
    must agree with the config's own lines; S3, S4 or H ranges make it an AmneziaWG 2.0 key.
    `host` and `port` must be the config's Endpoint. Of `dns`, the first two IPv4 servers go
    in (AmneziaVPN ignores any other kind there). ValueError, naming the field but never a
    key, for anything AmneziaVPN could not use."""
    interface, peer = _sections(config_text)
    params = _params(interface, obfuscation)
    version = _version(params)
    host = _host(host)
    _check_endpoint(peer, host, port)

    private_key = _key(interface, "PrivateKey")
    last_config: dict[str, object] = {
        "config": config_text,
        "hostName": host,
        "port": port,
        "client_ip": _client_ip(interface),
        "client_priv_key": private_key,
        "client_pub_key": _public_key(private_key),
        "server_pub_key": _key(peer, "PublicKey"),
        "allowed_ips": _allowed_ips(peer),
        **params,
    }
    last_config["clientId"] = last_config["client_pub_key"]
    if "presharedkey" in peer:
        last_config["psk_key"] = _key(peer, "PresharedKey")
    mtu = _number(interface, "MTU")
    if mtu:
        last_config["mtu"] = mtu
    keepalive = _number(peer, "PersistentKeepalive")
    if keepalive:
        last_config["persistent_keep_alive"] = keepalive
    if version == "2":
        last_config["protocol_version"] = version

    awg: dict[str, object] = {
        **params,
        "last_config": _qt_json(last_config),
        "port": str(port),
        "transport_proto": "udp",
    }
    if version:
        awg["protocol_version"] = version
    container = AWG2_CONTAINER if version == "2" else LEGACY_CONTAINER
    profile: dict[str, object] = {
        "containers": [{"container": container, "awg": awg}],
        "defaultContainer": container,
        "description": _text("description", description),
        "hostName": host,
        **_dns(dns),
    }
    return _wrap(_qt_json(profile))


def decode_amnezia_key(key: str) -> dict[str, object]:
    """The JSON object inside a `vpn://` key; ValueError, with a short reason, for anything else.

    Refuses keys over 64 KiB and JSON over 1 MiB; the length prefix must match the data."""
    if not isinstance(key, str):
        raise ValueError("the key is not text")
    if len(key) > MAX_KEY_CHARS:
        raise ValueError("the key is longer than 64 KiB")
    text = key.strip()
    if not text.startswith(PREFIX):
        raise ValueError("the key does not start with vpn://")
    raw = _base64url(text[len(PREFIX) :])
    if raw is None:
        raise ValueError("the key is not URL-safe base64")
    if len(raw) < 5:
        raise ValueError("the key is too short")
    size = int.from_bytes(raw[:4], "big")
    if size == 0:
        raise ValueError("the key's length prefix is zero")
    if size > MAX_JSON_BYTES:
        raise ValueError("the key's data is larger than 1 MiB")
    data, problem = _inflate(raw[4:], size)
    if problem:
        raise ValueError(problem)
    if len(data) != size:
        raise ValueError("the key's length prefix does not match its data")
    value = _json_object(data)
    if value is None:
        raise ValueError("the key's data is not a JSON object")
    return value


# --- the config text -----------------------------------------------------------------------


def _sections(config_text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The [Interface] and [Peer] fields, keyed by lower-case name, comments removed."""
    if not isinstance(config_text, str):
        raise ValueError("the config is not text")
    sections: list[tuple[str, dict[str, str]]] = []
    for line in config_text.splitlines():
        stripped = line.partition("#")[0].strip()
        if not stripped:
            continue
        section = _SECTION.fullmatch(stripped)
        if section:
            sections.append((section.group(1).casefold(), {}))
            continue
        name, equals, value = stripped.partition("=")
        name = name.strip()
        if not equals or not sections or not name:
            raise ValueError("the config has a line outside `key = value` in a section")
        fields = sections[-1][1]
        if name.casefold() in fields:
            raise ValueError(f"the config sets {name[:20]} twice in one section")
        fields[name.casefold()] = value.strip()
    if [name for name, _ in sections] != ["interface", "peer"]:
        raise ValueError("the config needs one [Interface] and then one [Peer]")
    return sections[0][1], sections[1][1]


def _params(interface: Mapping[str, str], obfuscation: Mapping[str, str]) -> dict[str, str]:
    """The obfuscation parameters by canonical name, non-empty, the same in both places."""
    given: dict[str, str] = {}
    for name, value in obfuscation.items():
        canonical = _CANONICAL.get(name.casefold()) if isinstance(name, str) else None
        if canonical is None:
            raise ValueError("obfuscation has an unknown parameter")
        if not isinstance(value, str) or _CONTROL.search(value):
            raise ValueError(f"obfuscation's {canonical} is not a one-line string")
        if value.strip():
            given[canonical] = value.strip()
    in_config = {
        _CANONICAL[name]: value for name, value in interface.items() if name in _CANONICAL and value
    }
    for name in PARAMS:
        if (name in given) != (name in in_config):
            where = "obfuscation" if name in given else "the config"
            raise ValueError(f"{name} is only in {where}")
        if given.get(name) != in_config.get(name):
            raise ValueError(f"{name} differs between the config and obfuscation")
    for name in REQUIRED_PARAMS:
        if name not in given:
            raise ValueError(f"{name} is missing")
    for name in ("Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4"):
        if name in given and not _DIGITS.fullmatch(given[name]):
            raise ValueError(f"{name} is not a number")
    for name in ("H1", "H2", "H3", "H4"):
        if not _HEADER.fullmatch(given[name]):
            raise ValueError(f"{name} is not a number or a range")
    return {name: given[name] for name in PARAMS if name in given}


def _version(params: Mapping[str, str]) -> str:
    """AmneziaVPN's protocol_version: "2" for S3, S4 or H ranges, "1.5" for I1–I5, else ""."""
    if "S3" in params or "S4" in params or any("-" in params[h] for h in ("H1", "H2", "H3", "H4")):
        return "2"
    if any(name in params for name in PACKET_PARAMS):
        return "1.5"
    return ""


def _key(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name.casefold(), "")
    if len(value) != _KEY_CHARS or _decode_key(value) is None:
        raise ValueError(f"{name} is missing or not a 32-byte base64 key")
    return value


def _decode_key(value: str) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _public_key(private_key: str) -> str:
    """The client's public key, as `wg pubkey` derives it; the app exports it and clientId."""
    raw = _decode_key(private_key)
    assert raw is not None  # checked by _key
    public = X25519PrivateKey.from_private_bytes(raw).public_key()
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def _client_ip(interface: Mapping[str, str]) -> str:
    """The first IPv4 tunnel address, bare, as the app's own export writes client_ip."""
    addresses = [part.strip() for part in interface.get("address", "").split(",") if part.strip()]
    if not addresses:
        raise ValueError("Address is missing")
    v4 = []
    for address in addresses:
        try:
            parsed = ipaddress.ip_interface(address)
        except ValueError:
            raise ValueError("Address is not a list of IP addresses") from None
        if parsed.version == 4:
            v4.append(str(parsed.ip))
    if not v4:
        raise ValueError("Address has no IPv4 address, which AmneziaVPN's client_ip needs")
    return v4[0]


def _allowed_ips(peer: Mapping[str, str]) -> list[str]:
    networks = [part.strip() for part in peer.get("allowedips", "").split(",") if part.strip()]
    if not networks:
        raise ValueError("AllowedIPs is missing")
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError("AllowedIPs is not a list of networks") from None
    return networks


def _number(fields: Mapping[str, str], name: str) -> str:
    """A numeric field as the app keeps it (a string), "" when absent or off."""
    value = fields.get(name.casefold(), "")
    if value in ("", "off"):
        return ""
    if not _DIGITS.fullmatch(value):
        raise ValueError(f"{name} is not a number")
    return str(int(value))


def _check_endpoint(peer: Mapping[str, str], host: str, port: int) -> None:
    """The key's host and port must be where the config's Endpoint points."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError("port is not a UDP port number")
    endpoint_host, colon, endpoint_port = peer.get("endpoint", "").rpartition(":")
    if not colon or not _DIGITS.fullmatch(endpoint_port):
        raise ValueError("Endpoint is missing or not host:port")
    if endpoint_host.strip("[]").casefold() != host.casefold() or int(endpoint_port) != port:
        raise ValueError("Endpoint does not match host and port")


def _host(host: str) -> str:
    host = _text("host", host).strip().strip("[]")
    if not host or any(char.isspace() for char in host) or "/" in host:
        raise ValueError("host is not a host name or an IP address")
    return host


def _dns(dns: tuple[str, ...]) -> dict[str, str]:
    """dns1 and dns2: the first two IPv4 servers, the only kind AmneziaVPN takes from a key."""
    if not isinstance(dns, tuple):
        raise ValueError("dns is not a tuple of addresses")
    v4 = []
    for server in dns:
        try:
            address = ipaddress.ip_address(server.strip() if isinstance(server, str) else "")
        except ValueError:
            raise ValueError("dns is not a tuple of IP addresses") from None
        if address.version == 4:
            v4.append(str(address))
    return {f"dns{n}": server for n, server in enumerate(v4[:2], 1)}


def _text(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        valid = False
    else:
        valid = True
    if not valid:  # raised outside the except block: no exception chain holds the text
        raise ValueError(f"{name} is not valid Unicode")
    return value


# --- the wrapping --------------------------------------------------------------------------


def _qt_json(value: Mapping[str, object]) -> str:
    """What QJsonDocument::toJson() writes: indented by 4, keys sorted, a final newline."""
    return json.dumps(value, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def _wrap(text: str) -> str:
    """qCompress(text, 8), URL-safe base64 without "=", after "vpn://"."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = None
    if data is None:
        raise ValueError("the key's text is not valid Unicode")
    if len(data) > MAX_JSON_BYTES:
        raise ValueError("the key's data would be larger than 1 MiB")
    packed = len(data).to_bytes(4, "big") + zlib.compress(data, COMPRESS_LEVEL)
    key = PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")
    if len(key) > MAX_KEY_CHARS:
        raise ValueError("the key would be longer than 64 KiB")
    return key


def _base64url(body: str) -> bytes | None:
    if not _BASE64URL.fullmatch(body):
        return None
    body = body.rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None


def _inflate(compressed: bytes, size: int) -> tuple[bytes, str]:
    """At most size + 1 bytes out of one whole zlib stream, or b"" and what is wrong with it."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, size + 1)
    except zlib.error:
        return b"", "the key's data is not zlib"
    if len(data) > size:
        return b"", "the key's length prefix does not match its data"
    if not inflater.eof:
        return b"", "the key's zlib data is cut short"
    if inflater.unused_data:
        return b"", "the key has bytes after its zlib data"
    return data, ""


def _json_object(data: bytes) -> dict[str, object] | None:
    """The JSON object in data (strict UTF-8, no NaN), else None: no exception carries data."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _no_constant(name: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")
