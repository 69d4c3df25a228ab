"""One probe pass and one reconcile pass over real lab nodes of 10,000 peers each: the bot's CPU
seconds and wall time, the project's way (changed rows only) against a naive store (every
device written each pass), and where the probe's CPU goes (SSH, parse, database)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from bench.updates import Postgres, fetch
from bot.container import SSH_KEY_FILE, Services, open_services
from bot.settings import load_settings
from db.models import AccessKind, Device, Node, User
from nodes import SshPool, parse_dump
from services.audit import OPERATOR
from services.clientconfig import DeviceKeys
from services.fleet import NewNode
from services.targets import target_of
from tests.netlab import Lab, LabNode
from tests.postgres import PostgresServer, debian_binaries, local_server

COMMAND = "uv run python -m bench.probepass"
FIRST_USER = 7_000_000
PORT = 51824
TIMES = 3  # passes of each kind; the median is reported
GOAL_CPU_S = 6.0  # 10 % of one core at HEALTH_INTERVAL=60, for 10 nodes
GOAL_NODES = 10


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _subnet(index: int) -> str:
    return f"10.{80 + index}.0.1/16"  # room for 10,000 devices a node


async def _fill(services: Services, node: Node, index: int, peers: int) -> None:
    """`peers` users with one device each on `node`, as placement would have left them."""
    prefix = _subnet(index).split(".0.")[0]
    first = FIRST_USER + index * 100_000
    async with services.sessions.begin() as session:
        session.add_all(
            User(id=first + i, access_kind=AccessKind.INVITE, started=True) for i in range(peers)
        )
        await session.flush()
        for i in range(peers):
            device = Device(
                user_id=first + i, node_id=node.id, address4=f"{prefix}.{i // 250}.{2 + i % 250}"
            )
            services.configs.store_keys(device, DeviceKeys.fresh())
            session.add(device)


# The PostgreSQL server's CPU seconds so far (its backends are other processes); 0 on SQLite.
server_cpu: Postgres = Postgres()


async def _timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    """CPU seconds of this process (every thread: SSH, SQLite), of the PostgreSQL server, and
    wall seconds of `work`."""
    cpu, database, wall = time.process_time(), server_cpu.sample(), time.perf_counter()
    await work()
    return (
        time.process_time() - cpu,
        server_cpu.sample() - database,
        time.perf_counter() - wall,
    )


async def _median(work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """CPU and wall seconds of `work`, the median of TIMES runs."""
    runs = [await _timed(work) for _ in range(TIMES)]
    return {
        "cpu_s": statistics.median(r[0] for r in runs),
        "database_cpu_s": statistics.median(r[1] for r in runs),
        "wall_s": statistics.median(r[2] for r in runs),
    }


def naive_probe(services: Services) -> Callable[[], Awaitable[None]]:
    """The same probe, stored the simple way: every device's counters and handshake written
    on every pass, found by its public key, whether they changed or not."""
    devices = cast(Table, Device.__table__)
    statement = (
        update(devices)
        .where(devices.c.public_key == bindparam("key"))
        .values(
            rx_seen=bindparam("rx"),
            tx_seen=bindparam("tx"),
            last_handshake_at=bindparam("seen"),
        )
    )

    async def probe() -> None:
        async with services.sessions() as session:
            nodes = list(await session.scalars(select(Node).order_by(Node.name)))
        results = await asyncio.gather(*(services.wireguard.probe(target_of(n)) for n in nodes))
        for result in results:
            rows = [
                {
                    "key": p.public_key,
                    "rx": p.rx_bytes,
                    "tx": p.tx_bytes,
                    "seen": p.latest_handshake,
                }
                for p in result.peers
            ]
            async with services.sessions.begin() as session:
                connection = await session.connection()
                await connection.execute(statement, rows)

    return probe


def lean_parse(transfer: str, handshakes: str) -> dict[str, tuple[int, int, int]]:
    """What a probe would read with `wg show IFACE transfer` and `latest-handshakes` instead of
    the dump: per public key, received, sent and the handshake's Unix time, checked for shape."""
    peers: dict[str, tuple[int, int, int]] = {}
    seen = dict(line.split("\t") for line in handshakes.splitlines())
    for line in transfer.splitlines():
        key, rx, tx = line.split("\t")
        if len(key) != 44:
            raise ValueError("not a key")
        peers[key] = (int(rx), int(tx), int(seen[key]))
    return peers


def _parse_split(lab_nodes: list[LabNode]) -> dict[str, float]:
    """CPU seconds to parse every node's output: the project's full dump parse (every field
    checked, preshared keys included) and the lean two-command parse."""
    dumps = [lab_node.wg_dump() for lab_node in lab_nodes]
    lean = [
        (
            lab_node.exec("wg", "show", lab_node.interface, "transfer").stdout,
            lab_node.exec("wg", "show", lab_node.interface, "latest-handshakes").stdout,
        )
        for lab_node in lab_nodes
    ]
    started = time.process_time()
    for dump in dumps:
        parse_dump(dump)
    full = time.process_time() - started
    started = time.process_time()
    for transfer, handshakes in lean:
        lean_parse(transfer, handshakes)
    return {
        "parse_dump_cpu_s": full,
        "lean_parse_cpu_s": time.process_time() - started,
        "dump_bytes": float(sum(len(d) for d in dumps)),
        "lean_bytes": float(sum(len(t) + len(h) for t, h in lean)),
    }


async def run(lab: Lab, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    key = workdir / "client_ed25519"
    public = SshPool.ensure_client_key(key)
    data_dir = workdir / "data"
    data_dir.mkdir(mode=0o700)
    shutil.copy2(key, data_dir / SSH_KEY_FILE)
    settings = load_settings(
        _env_file=None,
        bot_token="123456:TEST-token",
        data_dir=data_dir,
        admin_ids="",
        node_command_timeout=120,
        **({"database_url": args.database_url} if args.database_url else {}),
    )
    services = await open_services(settings)
    figures: dict[str, Any] = {"nodes": args.nodes, "peers": args.peers}
    try:
        lab_nodes = []
        for index in range(args.nodes):
            lab_node = lab.add_node(
                f"pp{index}", wg_subnet=_subnet(index), listen_port=PORT, authorized_key=public
            )
            lab_node.use_plain_root_home(workdir / f"pp{index}-home")
            lab_nodes.append(lab_node)
            node = await services.fleet.add(
                OPERATOR,
                NewNode(
                    name=f"pp{index}",
                    ssh_host=lab_node.ip,
                    interface=lab_node.interface,
                    endpoint=lab_node.endpoint,
                ),
            )
            started = time.perf_counter()
            await _fill(services, node, index, args.peers)
            took = time.perf_counter() - started
            _log(f"node pp{index}: {args.peers} devices stored in {took:.1f} s")
        cpu, database, wall = await _timed(services.reconcile.reconcile_all)
        figures["fill_reconcile"] = {"cpu_s": cpu, "database_cpu_s": database, "wall_s": wall}
        live = [len(parse_dump(lab_node.wg_dump())) for lab_node in lab_nodes]
        if live != [args.peers] * args.nodes:
            raise RuntimeError(f"bench: peers on the nodes {live}, {args.peers} each wanted")
        _log(f"nodes filled by one reconcile pass: {wall:.1f} s, {cpu:.1f} CPU-s")

        await services.health.probe_all()  # the first pass stores what is new
        figures["probe"] = await _median(services.health.probe_all)
        figures["probe_naive"] = await _median(naive_probe(services))
        figures["parse"] = _parse_split(lab_nodes)
        figures["reconcile"] = await _median(services.reconcile.reconcile_all)
        figures["wireguard_go_rss_mb"] = _wireguard_go_rss_mb()
    finally:
        await services.close()
    return figures


def _wireguard_go_rss_mb() -> float:
    """Resident memory of every wireguard-go on the machine (the lab's nodes, mostly)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if text.startswith("Name:\twireguard-go\n"):
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def report(figures: dict[str, Any]) -> None:
    nodes, peers = figures["nodes"], figures["peers"]
    scale = GOAL_NODES / nodes
    probe, naive, recon = figures["probe"], figures["probe_naive"], figures["reconcile"]
    parse = figures["parse"]
    print(
        f"$ {COMMAND} --nodes {nodes} --peers {peers}   "
        f"({figures['database']}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"| pass over {nodes} nodes x {peers:,} peers | CPU s | PostgreSQL CPU s | wall s "
        "| CPU s (both) scaled to 10 nodes |"
    )
    print("| --- | --- | --- | --- | --- |")
    for label, row in (
        ("probe pass, project (rows that changed)", probe),
        ("probe pass, naive (every device written)", naive),
        ("reconcile pass, nothing to change", recon),
        ("reconcile pass from empty nodes (fills them)", figures["fill_reconcile"]),
    ):
        cpu, database, wall = row["cpu_s"], row["database_cpu_s"], row["wall_s"]
        both = (cpu + database) * scale
        print(f"| {label} | {cpu:.2f} | {database:.2f} | {wall:.2f} | {both:.2f} |")
    print(
        f"parse alone: full dump {parse['parse_dump_cpu_s']:.2f} CPU-s "
        f"({parse['dump_bytes'] / 1e6:.1f} MB), lean transfer+handshakes "
        f"{parse['lean_parse_cpu_s']:.2f} CPU-s ({parse['lean_bytes'] / 1e6:.1f} MB)"
    )
    print(
        f"goal: a probe pass over 10 nodes < {GOAL_CPU_S} CPU-s; scaled: "
        f"{(probe['cpu_s'] + probe['database_cpu_s']) * scale:.2f} CPU-s "
        f"(naive {(naive['cpu_s'] + naive['database_cpu_s']) * scale:.2f}); "
        f"wireguard-go RSS {figures['wireguard_go_rss_mb']:.0f} MB"
    )
    print(json.dumps(figures, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.probepass", description=__doc__)
    parser.add_argument("--nodes", type=int, default=10, help="real lab nodes")
    parser.add_argument("--peers", type=int, default=10_000, help="peers on each node")
    parser.add_argument("--database-url", default="", help="PostgreSQL; else SQLite")
    parser.add_argument(
        "--postgres", action="store_true", help="start a PostgreSQL server for the run (Debian's)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        if args.postgres:
            binaries = debian_binaries()
            if binaries is None:
                sys.exit("PostgreSQL: install Debian's postgresql package")
            admin = stack.enter_context(local_server(binaries))
            server = PostgresServer(admin)
            args.database_url = server.url(server.create_database())
            global server_cpu
            server_cpu = Postgres(Path(asyncio.run(fetch(admin, "SHOW data_directory"))))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="vpnservice-probepass-"))
        lab = stack.enter_context(Lab())
        figures = asyncio.run(run(lab, args, Path(tmp)))
    figures["database"] = "postgresql" if args.database_url else "sqlite"
    report(figures)


if __name__ == "__main__":
    main()
