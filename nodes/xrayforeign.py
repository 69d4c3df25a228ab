"""A node's Xray config the bot did not write (by hand, or a panel's): what is kept of it.

The rule: every inbound that is not the bot's (its tag is not INBOUND_TAG) is foreign and
stays as it is, with its clients, and so does what it needs: its outbounds (first, so its
traffic still leaves by the same default), its routing rules, DNS, log and any other section.
The bot adds its inbound, an outbound of its own and one routing rule sending its inbound
there, and its API (the node's own API section keeps its tag and gains the bot's services). An
inbound of the node's on the bot's port or API port is a clash: refused, nothing written.
A config with no foreign inbound (the bot's own, or the official installer's `{}`) is
replaced whole. The bot's parts are found again by their tags, so reading a merged config
back gives the same foreign part (merging is idempotent). The file is read as hostile input:
bounded, parsed, its shapes checked. Grace (nodes/xray_grace.py) needs the routing to itself,
so a node with a foreign part serves no user in grace: their names leave the bot's inbound."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nodes.reality import API_PORT, INBOUND_TAG
from nodes.xray_grace import is_grace_name

OUR_OUTBOUND = "vless-out"
CONFIG_LIMIT = 4 << 20  # bytes of the node's config file read back
MOST_INBOUNDS = 1_000
_PORTS = re.compile(r"\d{1,5}(?:-\d{1,5})?(?:,\d{1,5}(?:-\d{1,5})?)*")
_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/|#[^\n]*', re.DOTALL)


class ForeignConfigError(ValueError):
    """The node's config cannot be read or kept; the message says why, without its values."""


@dataclass(frozen=True, slots=True)
class ForeignXray:
    """What a node's Xray serves that the bot did not make: inbounds and their clients."""

    inbounds: int = 0
    clients: int = 0


NOTHING = ForeignXray()


def _strip_comments(text: str) -> str:
    """Xray reads JSON with // and /* */ comments (and #); strings are left as they are."""
    return _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)


def parse_config(text: str) -> dict[str, Any]:
    """The node's config file as an object ({} when empty: no file)."""
    if len(text.encode()) > CONFIG_LIMIT:
        raise ForeignConfigError("the node's Xray config is too large")
    if not text.strip():
        return {}
    try:
        config = json.loads(_strip_comments(text))
    except ValueError:
        raise ForeignConfigError("the node's Xray config is not JSON") from None
    if not isinstance(config, dict):
        raise ForeignConfigError("the node's Xray config is not a JSON object")
    for name in ("inbounds", "outbounds"):
        items = config.get(name, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ForeignConfigError(f"the node's Xray config has {name} of another shape")
        if len(items) > MOST_INBOUNDS:
            raise ForeignConfigError(f"the node's Xray config has too many {name}")
    for name in ("routing", "api", "policy"):
        if not isinstance(config.get(name, {}), dict):
            raise ForeignConfigError(f"the node's Xray config has {name} of another shape")
    rules = config.get("routing", {}).get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise ForeignConfigError("the node's Xray config has routing rules of another shape")
    return config


def _is_ours(rule: dict[str, Any]) -> bool:
    return rule.get("inboundTag") == [INBOUND_TAG] and rule.get("outboundTag") == OUR_OUTBOUND


def foreign_part(config: dict[str, Any]) -> dict[str, Any]:
    """The config without the bot's parts; {} when no inbound in it is foreign."""
    inbounds = [item for item in config.get("inbounds", []) if item.get("tag") != INBOUND_TAG]
    if not any(_serves_clients(item, config) for item in inbounds):
        return {}
    part = dict(config)
    part["inbounds"] = inbounds
    outbounds = config.get("outbounds", [])
    part["outbounds"] = [item for item in outbounds if item.get("tag") != OUR_OUTBOUND]
    if "routing" in config:
        routing = dict(config["routing"])
        routing["rules"] = [rule for rule in routing.get("rules", []) if not _is_ours(rule)]
        part["routing"] = routing
    return part


def _api_tag(config: dict[str, Any]) -> str:
    tag = config.get("api", {}).get("tag", "")
    return tag if isinstance(tag, str) else ""


def _serves_clients(inbound: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether the inbound is one clients connect to (not the node's API door)."""
    tag = inbound.get("tag")
    return not (tag and tag == _api_tag(config))


def _ports(inbound: dict[str, Any]) -> set[int]:
    """The ports an inbound listens on ("443", 443, "1000-2000,3000"); none if unreadable."""
    text = str(inbound.get("port", "")).replace(" ", "")
    if not _PORTS.fullmatch(text):
        return set()
    found: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if last - first > 65535:
            return set()
        found.update(range(first, last + 1))
    return found


def summary(foreign: dict[str, Any]) -> ForeignXray:
    """How many foreign inbounds clients connect to, and how many clients they list."""
    inbounds = [item for item in foreign.get("inbounds", []) if _serves_clients(item, foreign)]
    clients = 0
    for inbound in inbounds:
        settings = inbound.get("settings")
        if isinstance(settings, dict):
            for key in ("clients", "accounts", "users"):
                value = settings.get(key)
                clients += len(value) if isinstance(value, list) else 0
    return ForeignXray(len(inbounds), clients)


def clash(foreign: dict[str, Any], port: int, api_port: int = API_PORT) -> str | None:
    """Why the bot's inbound cannot join the foreign config, or None."""
    for inbound in foreign.get("inbounds", []):
        ports = _ports(inbound)
        name = str(inbound.get("tag") or inbound.get("protocol") or "untagged")[:40]
        if port in ports:
            return f"port {port} is taken by the node's own Xray inbound {name!r}"
        if api_port in ports and _serves_clients(inbound, foreign):
            return f"port {api_port} (the bot's Xray API) is taken by the node's inbound {name!r}"
    return None


def merge(ours: str, foreign: dict[str, Any]) -> str:
    """The bot's config (server_config's JSON) joined to the foreign part (see the module)."""
    if not foreign:
        return ours
    mine = json.loads(ours)
    merged = dict(foreign)
    listen = mine["api"]["listen"]
    api_port = int(listen.rpartition(":")[2])
    theirs_api = foreign.get("api", {})
    inbounds = [  # the node's API door on the bot's API port: the bot's API serves it now
        item
        for item in foreign.get("inbounds", [])
        if _serves_clients(item, foreign) or api_port not in _ports(item)
    ]
    for inbound in mine["inbounds"]:  # no grace routes here: users in grace are left out
        settings = inbound.get("settings", {})
        settings["clients"] = [
            client
            for client in settings.get("clients", [])
            if not is_grace_name(str(client.get("email", "")))
        ]
    merged["inbounds"] = [*inbounds, *mine["inbounds"]]
    outbound = {**mine["outbounds"][0], "tag": OUR_OUTBOUND}
    merged["outbounds"] = [*foreign.get("outbounds", []), outbound]
    routing = dict(foreign.get("routing", {}))
    rule = {"type": "field", "inboundTag": [INBOUND_TAG], "outboundTag": OUR_OUTBOUND}
    routing["rules"] = [rule, *routing.get("rules", [])]
    merged["routing"] = routing
    services = theirs_api.get("services", [])
    services = services if isinstance(services, list) else []
    merged["api"] = {
        **theirs_api,
        "tag": _api_tag(foreign) or mine["api"]["tag"],
        "listen": listen,
        "services": sorted({*map(str, services), *mine["api"]["services"]}),
    }
    merged["stats"] = foreign.get("stats") if isinstance(foreign.get("stats"), dict) else {}
    policy = dict(foreign.get("policy", {}))
    levels: dict[str, Any] = policy.get("levels") or {}
    levels = levels if isinstance(levels, dict) else {}
    level: dict[str, Any] = levels.get("0") or {}
    level = level if isinstance(level, dict) else {}
    policy["levels"] = {**levels, "0": {**level, **mine["policy"]["levels"]["0"]}}
    merged["policy"] = policy
    merged.setdefault("log", mine["log"])
    return json.dumps(merged, indent=2, ensure_ascii=True) + "\n"
