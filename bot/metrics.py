"""Prometheus metrics: nodes (from probes, reconciles, game round trips and every SSH
command), the totals the database holds (payments, trials, the newest backup), and the
bot's own work (bot/instruments.py times updates and Bot API calls)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from nodes import NodeError, NodeTarget, SshPool
from services.backups import BackupService
from services.game_pings import RoundTrip
from services.health import ProbeOutcome
from services.reconcile import ReconcileResult
from services.stats import StatsService

REGISTRY = CollectorRegistry(auto_describe=True)
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

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
NODE_PROBED = Gauge(
    "vpnservice_node_last_probe_timestamp_seconds",
    "when the node was last probed (answered or not), Unix time",
    ["node"],
    registry=REGISTRY,
)
PROBE_INTERVAL = Gauge(
    "vpnservice_probe_interval_seconds",
    "HEALTH_INTERVAL: seconds between probes",
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
SSH_SECONDS = Histogram(
    "vpnservice_ssh_command_seconds",
    "time of one command on a node, its wait for a channel and connection included",
    ["node"],
    buckets=FAST,
    registry=REGISTRY,
)
GAME_ROUND_TRIP = Gauge(
    "vpnservice_game_round_trip_seconds",
    "round trip from the node to the game's nearest probed server (absent: no answer)",
    ["node", "game"],
    registry=REGISTRY,
)
SSH_ERRORS = Counter(
    "vpnservice_ssh_errors",
    "commands on a node that failed (refused, timed out, lost, or the node marked down)",
    ["node"],
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "vpnservice_update_seconds",
    "time to handle one update, by handler",
    ["handler"],
    buckets=FAST,
    registry=REGISTRY,
)
BOT_API_SECONDS = Histogram(
    "vpnservice_bot_api_seconds",
    "time of one request to the Bot API, by method (each attempt)",
    ["method"],
    buckets=FAST,
    registry=REGISTRY,
)
TELEGRAM_429 = Counter(
    "vpnservice_telegram_429",
    "429 (flood control) answers from the Bot API, by method",
    ["method"],
    registry=REGISTRY,
)
PAYMENTS = Gauge(
    "vpnservice_payments",
    "payments in the database by provider and state (the same from every process)",
    ["provider", "state"],
    registry=REGISTRY,
)
TRIALS = Gauge(
    "vpnservice_trials", "users who took a trial (the same from every process)", registry=REGISTRY
)
BACKUP_MADE = Gauge(
    "vpnservice_backup_last_timestamp_seconds",
    "when the newest backup in DATA_DIR/backups was written, Unix time (0: none)",
    registry=REGISTRY,
)
BACKUP_INTERVAL = Gauge(
    "vpnservice_backup_interval_seconds",
    "BACKUP_INTERVAL_HOURS in seconds (0: scheduled backups off)",
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "vpnservice_job_runs",
    "scheduled jobs run by this process (summed over processes: each interval job once a turn)",
    ["job"],
    registry=REGISTRY,
)


def record_probes(outcomes: Iterable[ProbeOutcome]) -> None:
    for outcome in outcomes:
        probe = outcome.probe
        NODE_UP.labels(outcome.node).set(1 if probe is not None and probe.interface_up else 0)
        NODE_PROBED.labels(outcome.node).set(outcome.checked_at.timestamp())
        if probe is None:
            continue
        NODE_PEERS.labels(outcome.node).set(len(probe.peers))
        NODE_HANDSHAKES.labels(outcome.node).set(probe.recent_handshakes(outcome.checked_at))
        NODE_BYTES.labels(outcome.node, "rx").set(probe.rx_bytes)
        NODE_BYTES.labels(outcome.node, "tx").set(probe.tx_bytes)
        PROBE_LATENCY.labels(outcome.node).observe(probe.latency_seconds)


def record_reconciles(results: Iterable[ReconcileResult]) -> None:
    for result in results:
        if result.plan is not None:
            changes = len(result.plan.add) + len(result.plan.remove) + len(result.plan.update)
            RECONCILE_CHANGES.labels(result.node).inc(changes)


def record_game_round_trips(trips: Iterable[RoundTrip]) -> None:
    for trip in trips:
        if trip.rtt_ms is None:
            GAME_ROUND_TRIP.remove(trip.node, trip.game)  # no answer: no sample
        else:
            GAME_ROUND_TRIP.labels(trip.node, trip.game).set(trip.rtt_ms / 1000)


def record_intervals(health_seconds: int, backup_hours: int) -> None:
    """The settings the alert rules compare ages against."""
    PROBE_INTERVAL.set(health_seconds)
    BACKUP_INTERVAL.set(backup_hours * 3600)


async def record_database(stats: StatsService, backups: BackupService) -> None:
    """Read the totals the database and DATA_DIR hold (done on each scrape)."""
    totals = await stats.totals()
    PAYMENTS.clear()  # a state no payment is in any more reads 0, not its last count
    for (provider, state), count in totals.payments.items():
        PAYMENTS.labels(provider, state).set(count)
    TRIALS.set(totals.trials)
    newest = backups.newest_at()
    BACKUP_MADE.set(0 if newest is None else newest.timestamp())


class MeasuredSshPool(SshPool):
    """The SSH pool with every command timed, and counted when it fails, by node."""

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - part of the pool's API
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        started = time.perf_counter()
        try:
            return await super().run(
                target,
                command,
                stdin=stdin,
                timeout=timeout,
                limit=limit,
                even_if_down=even_if_down,
            )
        except NodeError:
            SSH_ERRORS.labels(target.name).inc()
            raise
        finally:
            SSH_SECONDS.labels(target.name).observe(time.perf_counter() - started)
