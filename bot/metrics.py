"""Prometheus metrics of the nodes, filled from probe, reconcile and game round-trip results."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.game_pings import RoundTrip
from services.health import ProbeOutcome
from services.reconcile import ReconcileResult

REGISTRY = CollectorRegistry(auto_describe=True)

NODE_UP = Gauge(
    "vpnservice_node_up", "1 if the node answered its last probe", ["node"], registry=REGISTRY
)
NODE_PEERS = Gauge("vpnservice_node_peers", "peers on the node", ["node"], registry=REGISTRY)
NODE_HANDSHAKES = Gauge(
    "vpnservice_node_recent_handshakes",
    "peers with a handshake in the last 3 minutes",
    ["node"],
    registry=REGISTRY,
)
NODE_BYTES = Gauge(
    "vpnservice_node_bytes",
    "bytes moved through the node",
    ["node", "direction"],
    registry=REGISTRY,
)
PROBE_LATENCY = Histogram(
    "vpnservice_probe_latency_seconds", "time of one probe command", ["node"], registry=REGISTRY
)
RECONCILE_CHANGES = Counter(
    "vpnservice_reconcile_changes",
    "peers added, removed or fixed by reconcile",
    ["node"],
    registry=REGISTRY,
)
GAME_ROUND_TRIP = Gauge(
    "vpnservice_game_round_trip_seconds",
    "round trip from the node to the game's nearest probed server (absent: no answer)",
    ["node", "game"],
    registry=REGISTRY,
)
SSH_ERRORS = Counter(
    "vpnservice_ssh_errors", "failed probes and reconciles", ["node"], registry=REGISTRY
)


def record_probes(outcomes: Iterable[ProbeOutcome]) -> None:
    for outcome in outcomes:
        probe = outcome.probe
        NODE_UP.labels(outcome.node).set(1 if probe is not None and probe.interface_up else 0)
        if probe is None:
            SSH_ERRORS.labels(outcome.node).inc()
            continue
        NODE_PEERS.labels(outcome.node).set(len(probe.peers))
        NODE_HANDSHAKES.labels(outcome.node).set(probe.recent_handshakes(outcome.checked_at))
        NODE_BYTES.labels(outcome.node, "rx").set(probe.rx_bytes)
        NODE_BYTES.labels(outcome.node, "tx").set(probe.tx_bytes)
        PROBE_LATENCY.labels(outcome.node).observe(probe.latency_seconds)


def record_reconciles(results: Iterable[ReconcileResult]) -> None:
    for result in results:
        if result.error is not None:
            SSH_ERRORS.labels(result.node).inc()
        elif result.plan is not None:
            changes = len(result.plan.add) + len(result.plan.remove) + len(result.plan.update)
            RECONCILE_CHANGES.labels(result.node).inc(changes)


def record_game_round_trips(trips: Iterable[RoundTrip]) -> None:
    for trip in trips:
        if trip.rtt_ms is None:
            GAME_ROUND_TRIP.remove(trip.node, trip.game)  # no answer: no sample
        else:
            GAME_ROUND_TRIP.labels(trip.node, trip.game).set(trip.rtt_ms / 1000)
