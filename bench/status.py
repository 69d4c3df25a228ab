"""/status at 10 and at 10,000 peers on the node, one tap at a time: the project reads what the
periodic probe stored; the variant kept from before reads the node's whole dump on every tap."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import PROJECT, BotUnderTest, open_bot
from bench.scenarios import get_config_one_by_one, status_one_by_one
from bench.stats import Row, median, p95
from db.models import AccessKind, Device, User, traffic_bases
from services.clientconfig import DeviceKeys
from services.devices import DeviceService, DeviceStatus
from services.health import LastProbe
from services.targets import target_of
from tests.netlab import Lab

SIZES = (10, 10_000)
SUBNET = "10.73.0.1/16"  # room for 10,000 devices
FILLER_BASE = 5_000_000  # user ids of the devices that only fill the node
TAPPER = 4_999_999


@dataclass
class StatusFigures:
    """Per-tap latencies (ms) by peers on the node: from the stored probe and from a dump."""

    stored_ms: dict[int, list[float]] = field(default_factory=dict)
    dump_ms: dict[int, list[float]] = field(default_factory=dict)
    wrong: int = 0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _fill(app: BotUnderTest, count: int) -> None:
    """`count` users with one device each, in the database and live on the node (by the
    project's reconcile), as placement would have left them."""
    services = app.services
    prefix = SUBNET.split(".0.")[0]
    async with services.sessions.begin() as session:
        session.add_all(
            User(id=FILLER_BASE + i, access_kind=AccessKind.INVITE, started=True)
            for i in range(count)
        )
        await session.flush()
        for i in range(count):
            device = Device(
                user_id=FILLER_BASE + i,
                node_id=app.node.id,
                address4=f"{prefix}.{1 + i // 250}.{2 + i % 250}",
            )
            services.configs.store_keys(device, DeviceKeys.fresh())
            session.add(device)
    (result,) = await services.reconcile.reconcile_all()
    if result.error is not None:
        raise RuntimeError(f"bench: reconcile of {count} peers failed: {result.error}")


def read_the_dump(devices: DeviceService, app: BotUnderTest) -> None:
    """/status as it was: the node's whole dump read on every tap, the device's peer found in
    it, its live handshake and counters shown."""

    async def status(user_id: int) -> DeviceStatus | None:
        found = await devices.devices_of(user_id)
        if not found:
            return None
        device = found[0]
        peers = await app.services.wireguard.peers(target_of(device.node))
        peer = next((p for p in peers if p.public_key == device.public_key), None)
        if peer is not None:  # shown, never stored
            counters = (peer.rx_bytes, peer.tx_bytes)
            device.rx_base, device.tx_base = traffic_bases(
                (device.rx_base, device.tx_base), (device.rx_seen, device.tx_seen), counters
            )
            device.rx_seen, device.tx_seen = counters
            device.last_handshake_at = peer.latest_handshake or device.last_handshake_at
        return DeviceStatus(device, device.node, LastProbe(True, None))

    devices.status = status  # type: ignore[method-assign]


async def _one_size(
    lab: Lab, workdir: Path, key: Path, public: str, peers: int, taps: int
) -> tuple[list[float], list[float], int]:
    name = f"st{peers}"
    lab_node = lab.add_node(name, wg_subnet=SUBNET, listen_port=51823, authorized_key=public)
    lab_node.use_plain_root_home(workdir / f"{name}-node-home")
    # one user taps 250 times in a few seconds: the per-user throttle is off
    app = await open_bot(PROJECT, lab_node, workdir, key, name=f"status{peers}", throttle_rate=0)
    try:
        started = time.perf_counter()
        await _fill(app, peers - 1)
        await app.services.users.grant(TAPPER, None, create=True)
        config = await get_config_one_by_one(app, [TAPPER])
        live = app.peers_on_node()
        if live != peers or config.failures:
            raise RuntimeError(f"bench: {live} peers on the node, {peers} wanted")
        _log(f"status at {peers} peers: node filled in {time.perf_counter() - started:.1f} s")
        await app.services.health.probe_all()  # what the periodic probe stores
        await status_one_by_one(app, [TAPPER], 5)  # warm-up
        stored = await status_one_by_one(app, [TAPPER], taps)
        read_the_dump(app.services.devices, app)
        await status_one_by_one(app, [TAPPER], 5)
        dump = await status_one_by_one(app, [TAPPER], taps)
        for run in (stored, dump):
            if run.first_wrong:
                _log(f"status at {peers} peers: a wrong answer: {run.first_wrong}")
        return (
            [s * 1000 for s in stored.latencies],
            [s * 1000 for s in dump.latencies],
            stored.failures + dump.failures,
        )
    finally:
        await app.close()


async def run_status(lab: Lab, workdir: Path, key: Path, public: str, taps: int) -> StatusFigures:
    figures = StatusFigures()
    for peers in SIZES:
        stored, dump, wrong = await _one_size(lab, workdir, key, public, peers, taps)
        figures.stored_ms[peers], figures.dump_ms[peers] = stored, dump
        figures.wrong += wrong
    return figures


def status_rows(figures: StatusFigures, taps: int) -> list[Row]:
    """Project: the stored probe; naive: the whole dump on every tap."""
    rows = []
    for peers in SIZES:
        stored, dump = figures.stored_ms[peers], figures.dump_ms[peers]
        rows += [
            Row(f"/status x{taps} at {peers:,} peers (stored probe vs dump): median (ms)",
                median(stored), median(dump)),
            Row(f"/status x{taps} at {peers:,} peers (stored probe vs dump): p95 (ms)",
                p95(stored), p95(dump)),
        ]  # fmt: skip
    return rows
