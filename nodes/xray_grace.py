"""Grace on a node's Xray: a user in grace is served under a grace name (g and a number, same id)
and Xray's routing sends that name's traffic to the grace networks only, the rest to a blackhole.

The rules are the same for every user in grace, so putting a user in grace or out of it is a
user change (HandlerService, nobody else's sessions touched), and the rules change only when
the networks do: then the running Xray's rules are replaced at once through its RoutingService,
which keeps every open connection. Each rule's tag carries a digest of the networks, so a
reconcile sees from the tags alone whether the running Xray has the rules it should."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from nodes import protowire as pb

ROUTING = "/xray.app.router.command.RoutingService/"
ROUTER_CONFIG = "xray.app.router.Config"
IP_ON_DEMAND = 3  # Config.DomainStrategy: a domain is resolved when a rule needs its address
DIRECT = "direct"  # the freedom outbound of nodes.reality.server_config: the default route
BLACKHOLE = "grace-blocked"
GRACE_USERS = "regexp:^g[0-9]+$"
_GRACE_NAME = re.compile(r"g[0-9]{1,18}")
MOST_NETWORKS = 4096
MOST_RULES = 1000


def grace_name(number: int) -> str:
    """The name a user (device `number`) is served under while in grace."""
    return f"g{int(number)}"


def is_grace_name(name: str) -> bool:
    return _GRACE_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class GraceRoutes:
    """Where users in grace may go: networks (each checked, none of them everything)."""

    networks: tuple[str, ...]

    @classmethod
    def build(cls, addresses: Iterable[str]) -> GraceRoutes:
        """Networks or single addresses, normalised, sorted and without repeats; ValueError
        for one that is not a network, or is everything (/0)."""
        found = set()
        for text in addresses:
            network = ipaddress.ip_network(text.strip(), strict=False)
            if network.prefixlen == 0:
                raise ValueError("a grace network cannot be everything (/0)")
            found.add(network)
        if len(found) > MOST_NETWORKS:
            raise ValueError(f"more than {MOST_NETWORKS} grace networks")
        ordered = sorted(found, key=lambda net: (net.version, net))
        return cls(tuple(str(net) for net in ordered))

    @property
    def digest(self) -> str:
        return hashlib.sha256(",".join(self.networks).encode()).hexdigest()[:12]

    @property
    def listing(self) -> list[tuple[str, str]]:
        """The (outbound, rule tag) pairs Xray lists when it runs exactly these rules: the
        grace networks go out directly (when there are any), every other address of a grace
        name goes to the blackhole."""
        allow = [(DIRECT, f"grace-{self.digest}-allow")] if self.networks else []
        return [*allow, (BLACKHOLE, f"grace-{self.digest}-block")]

    def rules(self) -> list[dict[str, object]]:
        """The rules as the config file writes them."""
        out: list[dict[str, object]] = []
        for outbound, tag in self.listing:
            rule: dict[str, object] = {"ruleTag": tag, "user": [GRACE_USERS]}
            if outbound == DIRECT:
                rule["ip"] = list(self.networks)
            rule["outboundTag"] = outbound
            out.append(rule)
        return out

    def request(self) -> bytes:
        """AddRuleRequest{config 1: TypedMessage(router Config), shouldAppend 2: false}: the
        running Xray's rules replaced by these at once."""
        rules = b""
        for outbound, tag in self.listing:
            rule = pb.text(1, outbound) + pb.text(7, GRACE_USERS)
            if outbound == DIRECT:
                rule += b"".join(pb.blob(10, _cidr_rule(net)) for net in self.networks)
            rules += pb.blob(2, rule + pb.text(19, tag))
        config = pb.number(1, IP_ON_DEMAND) + rules
        return pb.blob(1, pb.typed(ROUTER_CONFIG, config))


def _cidr_rule(text: str) -> bytes:
    """IPRule{custom 2: CIDRRule{cidr 1: CIDR{ip 1, prefix 2}}} (Xray's geodata messages)."""
    network = ipaddress.ip_network(text)
    cidr = pb.blob(1, network.network_address.packed) + pb.number(2, network.prefixlen)
    return pb.blob(2, pb.blob(1, cidr))


def with_grace(config: str, routes: GraceRoutes) -> str:
    """The node's config (nodes.reality.server_config's JSON) with the grace rules, the
    blackhole they send to, and the RoutingService on the API that changes them live."""
    data = json.loads(config)
    services = data["api"]["services"]
    if "RoutingService" not in services:
        services.append("RoutingService")
    data["routing"] = {"domainStrategy": "IPOnDemand", "rules": routes.rules()}
    data["outbounds"] = [
        *(out for out in data["outbounds"] if out.get("tag") != BLACKHOLE),
        {"protocol": "blackhole", "tag": BLACKHOLE},
    ]
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def parse_rules(answer: bytes) -> list[tuple[str, str]]:
    """ListRuleResponse: repeated ListRuleItem (1){tag 1, ruleTag 2}; the result is the
    (outbound, rule tag) pairs in Xray's order."""
    items = pb.many(answer, 1, what="rules")
    if len(items) > MOST_RULES:
        raise pb.WireError(f"more than {MOST_RULES} rules")
    return [
        (
            pb.one_text(item, 1, most=200, what="outbound tag"),
            pb.one_text(item, 2, most=200, what="rule tag"),
        )
        for item in items
    ]
