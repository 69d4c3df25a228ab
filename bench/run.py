"""Runs both variants on fresh real nodes and prints the figures side by side (and as JSON)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.harness import NAIVE, PROJECT, BotUnderTest, open_bot
from bench.naive import NaiveWireGuard
from bench.nodes import NodeFigures, node_checks, node_rows, run_nodes
from bench.probe import SPLITS, install_qr_timer
from bench.scenarios import get_config_all_at_once, get_config_one_by_one, status_one_by_one
from bench.stats import Row, median, p95, table
from bench.status import StatusFigures, run_status, status_rows
from bot.telegram_calls import flow_control
from nodes import SshPool
from services.pacing import TELEGRAM_RATE_LIMIT
from services.targets import target_of
from tests.netlab import Lab

COMMAND = "uv run python -m bench"
WG_SUBNET = "10.70.0.1/16"  # room for every device of the run, like a big node
SEQUENTIAL_BASE = 10_000
CONCURRENT_BASE = 20_000
UNPACED_BASE = 30_000
WARMUP_USER = 9_999
UNPACED_RATE = 1_000_000  # Bot API calls a second: the bot's own capacity, shown beside
LABELS = {
    "ssh": "SSH to the node",
    "qr": "QR code PNG",
    "http": "HTTP to the Bot API",
    "db": "SQL statements",
    "rest": "rest (dispatcher, ORM, crypto)",
}


@dataclass
class Figures:
    """What one variant measured."""

    config_ms: list[float] = field(default_factory=list)
    splits_ms: dict[str, float] = field(default_factory=dict)
    config_failures: int = 0
    status_ms: list[float] = field(default_factory=list)
    status_per_s: float = 0.0
    status_failures: int = 0
    burst_s: float = 0.0
    burst_failures: int = 0
    burst_summed_s: dict[str, float] = field(default_factory=dict)
    unpaced_burst_s: float = 0.0
    peers: int = 0
    devices: int = 0
    ssh_command: str = ""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _variant(
    variant: str, lab: Lab, workdir: Path, key: Path, public: str, args: argparse.Namespace
) -> Figures:
    lab_node = lab.add_node(variant, wg_subnet=WG_SUBNET, listen_port=51821, authorized_key=public)
    if not args.node_home_as_is:
        lab_node.use_plain_root_home(workdir / f"{variant}-node-home")
    app = await open_bot(variant, lab_node, workdir, key)
    try:
        return await _measure(app, args)
    finally:
        await app.close()


async def _measure(app: BotUnderTest, args: argparse.Namespace) -> Figures:
    figures = Figures()
    wireguard = app.services.devices._wireguard
    if isinstance(wireguard, NaiveWireGuard):
        figures.ssh_command = wireguard.describe(target_of(app.node))
    sequential = [SEQUENTIAL_BASE + i for i in range(args.users)]
    burst = [CONCURRENT_BASE + i for i in range(args.users)]
    unpaced = [UNPACED_BASE + i for i in range(args.users)]
    for user_id in (WARMUP_USER, *sequential, *burst, *unpaced):
        await app.services.users.grant(user_id, None, create=True)
    await get_config_one_by_one(app, [WARMUP_USER])  # imports, first QR, HTTP session
    await status_one_by_one(app, [WARMUP_USER], 1)

    started = time.perf_counter()
    config = await get_config_one_by_one(app, sequential)
    figures.config_ms = [s * 1000 for s in config.latencies]
    figures.config_failures = config.failures
    if config.first_wrong:
        _log(f"{app.variant}: a wrong /get_config answer: {config.first_wrong}")
    for split in (*SPLITS, "rest"):
        figures.splits_ms[split] = median([s[split] * 1000 for s in config.splits])
    _log(f"{app.variant}: /get_config x{args.users} one by one: {config.total:.1f} s")

    status = await status_one_by_one(app, sequential, args.status)
    figures.status_ms = [s * 1000 for s in status.latencies]
    figures.status_per_s = args.status / status.total
    figures.status_failures = status.failures
    if status.first_wrong:
        _log(f"{app.variant}: a wrong /status answer: {status.first_wrong}")
    _log(f"{app.variant}: /status x{args.status} one by one: {status.total:.1f} s")

    if not args.no_burst:
        result = await get_config_all_at_once(app, burst)
        figures.burst_s, figures.burst_failures = result.total, result.failures
        figures.burst_summed_s = result.summed
        _log(f"{app.variant}: /get_config x{args.users} at once: {figures.burst_s:.1f} s")
        pacer = flow_control(app.bot).pacer
        pacer.rate = UNPACED_RATE  # as if Telegram took more than 30 messages a second
        try:
            result = await get_config_all_at_once(app, unpaced)
        finally:
            pacer.rate = TELEGRAM_RATE_LIMIT
        figures.unpaced_burst_s = result.total
        figures.burst_failures += result.failures
        _log(f"{app.variant}: the same, flood limit lifted: {figures.unpaced_burst_s:.1f} s")

    figures.peers = app.peers_on_node()
    figures.devices = await app.devices()
    _log(f"{app.variant}: done in {time.perf_counter() - started:.1f} s")
    return figures


def _rows(project: Figures, naive: Figures, args: argparse.Namespace) -> list[Row]:
    n = args.users
    rows = [
        Row(f"/get_config x{n} one by one: median (ms)",
            median(project.config_ms), median(naive.config_ms)),
        Row(f"/get_config x{n} one by one: p95 (ms)", p95(project.config_ms), p95(naive.config_ms)),
    ]  # fmt: skip
    if not args.no_burst:
        rows += [
            Row(f"/get_config x{n} at once: total (s)", project.burst_s, naive.burst_s, digits=2),
            Row(f"/get_config x{n} at once: configs/s",
                n / project.burst_s, n / naive.burst_s, lower_is_better=False),
            Row(f"/get_config x{n} at once, no 30 messages/s limit: configs/s",
                n / project.unpaced_burst_s, n / naive.unpaced_burst_s, lower_is_better=False),
        ]  # fmt: skip
    rows += [
        Row(f"/status x{args.status} one by one: updates/s",
            project.status_per_s, naive.status_per_s, lower_is_better=False),
        Row(f"/status x{args.status} one by one: median (ms)",
            median(project.status_ms), median(naive.status_ms)),
    ]  # fmt: skip
    for split in (*SPLITS, "rest"):
        rows.append(
            Row(f"  one by one, median split: {LABELS[split]} (ms)",
                project.splits_ms[split], naive.splits_ms[split], digits=2)
        )  # fmt: skip
    if not args.no_burst:
        for split in SPLITS:
            rows.append(
                Row(f"  at once, summed over updates: {LABELS[split]} (s)",
                    project.burst_summed_s[split], naive.burst_summed_s[split], digits=2)
            )  # fmt: skip
    return rows


Measured = tuple[tuple[Figures, Figures] | None, NodeFigures | None, StatusFigures | None]


async def _run(lab: Lab, args: argparse.Namespace) -> Measured:
    install_qr_timer()
    bot: tuple[Figures, Figures] | None = None
    nodes: NodeFigures | None = None
    status: StatusFigures | None = None
    with tempfile.TemporaryDirectory(prefix="vpnservice-bench-") as tmp:
        workdir = Path(tmp)
        key = workdir / "client_ed25519"
        public = SshPool.ensure_client_key(key)
        if args.only in (None, "bot"):
            project = await _variant(PROJECT, lab, workdir, key, public, args)
            naive = await _variant(NAIVE, lab, workdir, key, public, args)
            bot = project, naive
        if args.only in (None, "nodes", "add", "reconcile"):
            nodes = await run_nodes(
                lab,
                workdir,
                key,
                public,
                as_is=args.node_home_as_is,
                reconcile=args.only != "add",
                add=args.only != "reconcile",
            )
        if args.only in (None, "status"):
            status = await run_status(lab, workdir, key, public, args.status)
    return bot, nodes, status


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=200, help="users per /get_config run")
    parser.add_argument("--status", type=int, default=250, help="/status updates")
    parser.add_argument("--no-burst", action="store_true", help="skip the all-at-once run")
    parser.add_argument(
        "--node-home-as-is",
        action="store_true",
        help="keep this machine's /root (and its ~/.bashrc) as the nodes' root home",
    )
    parser.add_argument(
        "--only",
        choices=("bot", "nodes", "add", "reconcile", "status"),
        help="bot: /get_config and /status; nodes: 1,000 adds and the 10,000-peer reconcile; "
        "add: only the 1,000 adds; reconcile: only the reconciles; status: /status at 10 and at "
        "10,000 peers on the node, from "
        "the stored probe and from a dump per tap",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        with Lab() as lab:
            bot, nodes, status = asyncio.run(_run(lab, args))
    except pytest.skip.Exception as skipped:
        sys.exit(f"bench: {skipped.msg}")
    rows = _rows(*bot, args) if bot else []
    rows += node_rows(nodes) if nodes else []
    rows += status_rows(status, args.status) if status else []
    command = COMMAND + (f" --only {args.only}" if args.only else "")
    print(f"$ {command}   ({os.cpu_count()} CPUs, {time.perf_counter() - started:.0f} s)")
    print(table(rows))
    checks: dict[str, dict[str, object]] = {}
    failed = False
    if bot:
        project, naive = bot
        for variant, figures in ((PROJECT, project), (NAIVE, naive)):
            check: dict[str, object] = {
                "peers_on_node": figures.peers,
                "devices_in_db": figures.devices,
                "equal": figures.peers == figures.devices,
                "wrong_answers": figures.config_failures + figures.status_failures
                + figures.burst_failures,
            }  # fmt: skip
            checks[variant] = check
            failed |= not check["equal"] or bool(check["wrong_answers"])
            verdict = "ok" if check["equal"] else "MISMATCH"
            print(
                f"{variant}: peers on node {check['peers_on_node']}, devices in DB "
                f"{check['devices_in_db']} ({verdict}); wrong answers {check['wrong_answers']}"
            )
        print(f"naive call: {naive.ssh_command}")
    if nodes:
        for name, check in node_checks(nodes).items():
            checks[name] = check
            failed |= not check["ok"]
            print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in check.items()))
        if "project" in nodes.sync:
            failed |= not nodes.sync["project"].handshake_kept
    if status:
        checks["status"] = {"wrong_answers": status.wrong}
        failed |= bool(status.wrong)
        print(f"status: wrong answers {status.wrong}")
    report = {
        "command": command,
        "cpus": os.cpu_count(),
        "users": args.users,
        "status_updates": args.status,
        "node_root_home": "as is" if args.node_home_as_is else "empty",
        "rows": [row.as_json() for row in rows],
        "checks": checks,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if failed:
        sys.exit(1)
