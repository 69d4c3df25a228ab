"""A database at scale: `python -m bench.seed --users 100000 --nodes 10` fills a database
(DATABASE_URL, else DATA_DIR's SQLite file) with users in every state, 1.5 devices each on
average, payments, reminders and audit entries, as a running service would have left them."""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bot.container import Services, cipher_of, open_services
from bot.settings import load_settings
from db.cipher import SecretCipher
from db.models import AccessKind, AuditEntry, Device, Node, Payment, PaymentStatus, Reminder, User
from services.clientconfig import PRESHARED_KEY, PRIVATE_KEY
from services.fleet import SERVER_KEY
from services.reminders import EXPIRED, GRACE_END

STATES = ("none", "trial", "invite", "paid", "expired", "banned", "blocked")
FIRST_USER = 100_000_000
CHUNK = 5_000
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Seeded:
    users: Counter[str]
    nodes: int
    devices: int
    payments: int
    reminders: int
    audit: int
    seconds: float


def _key() -> str:
    """A WireGuard-shaped key (32 random bytes, base64): unique, and no node ever sees it."""
    return base64.b64encode(os.urandom(32)).decode()


def _user(user_id: int, state: str, now: datetime) -> dict[str, Any]:
    n = user_id - FIRST_USER
    row: dict[str, Any] = {
        "id": user_id,
        "first_name": f"User {n}",
        "username": f"user{n}" if n % 3 else None,
        "language": "en" if n % 5 == 0 else "ru",
        "started": True,
        "created_at": now - DAY * (n % 365),
        "last_seen_at": now - DAY * (n % 30),
    }
    ends = now + DAY * (4 + n % 300)  # none due for a reminder: the sweep reads, sends nothing
    if state == "trial":
        row |= {"access_kind": AccessKind.TRIAL, "access_until": ends, "trial_used_at": now}
    elif state in ("invite", "banned", "blocked"):
        row |= {"access_kind": AccessKind.INVITE, "access_until": ends}
    elif state == "paid":
        row |= {"access_kind": AccessKind.PAID, "access_until": ends, "plan_code": "1m"}
    elif state == "expired":
        row |= {"access_kind": AccessKind.PAID, "access_until": now - DAY * (3 + n % 60)}
    row["banned"] = state == "banned"
    row["bot_blocked_at"] = now - DAY if state == "blocked" else None
    return row


async def seed(
    services: Services, cipher: SecretCipher, users: int, nodes: int, now: datetime
) -> Seeded:
    """Add `nodes` nodes (not reachable: rows only) and `users` users, round-robin over STATES,
    each with one or two devices, and their payments, reminders and audit entries."""
    started = time.perf_counter()
    async with services.sessions.begin() as session:
        node_rows = [
            Node(
                name=f"seed{k}",
                region="Seed",
                ssh_host=f"192.0.2.{k + 1}",
                host_key="ssh-ed25519 " + base64.b64encode(os.urandom(51)).decode(),
                endpoint=f"192.0.2.{k + 1}:51820",
                public_key=_key(),
                private_key_enc=cipher.encrypt(_key(), SERVER_KEY),
                listen_port=51820,
                server_address4=f"10.{100 + k}.0.1/16",
            )
            for k in range(nodes)
        ]
        session.add_all(node_rows)
        await session.flush()
        node_ids = [node.id for node in node_rows]
    states: Counter[str] = Counter()
    totals = Counter[str]()
    placed = [0] * nodes
    for first in range(0, users, CHUNK):
        ids = range(FIRST_USER + first, FIRST_USER + min(first + CHUNK, users))
        user_rows: list[dict[str, Any]] = []
        devices: list[dict[str, Any]] = []
        payments: list[dict[str, Any]] = []
        reminders: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        for user_id in ids:
            n = user_id - FIRST_USER
            state = STATES[n % len(STATES)]
            states[state] += 1
            user_rows.append(_user(user_id, state, now))
            for _ in range(1 + n % 2):
                k = (n + len(devices)) % nodes
                slot = placed[k]
                placed[k] += 1
                devices.append(
                    {
                        "user_id": user_id,
                        "node_id": node_ids[k],
                        "name": "",
                        "public_key": _key(),
                        "private_key_enc": cipher.encrypt(_key(), PRIVATE_KEY),
                        "preshared_key_enc": cipher.encrypt(_key(), PRESHARED_KEY),
                        "address4": f"10.{100 + k}.{slot // 250}.{2 + slot % 250}",
                        "rx_seen": n * 1_000,
                        "tx_seen": n * 7_000,
                        "last_handshake_at": now - timedelta(minutes=n % 10_000),
                    }
                )
            if state in ("paid", "expired"):
                payments.append(_payment(user_id, PaymentStatus.SUCCEEDED, now - DAY * 30))
            if n % 10 == 0:
                payments.append(_payment(user_id, PaymentStatus.CANCELED, now - DAY * 3))
            if state == "expired":
                period_end = user_rows[-1]["access_until"]
                # announced and out of grace on earlier runs: the sweep has nothing left to do
                for kind in (EXPIRED, GRACE_END):
                    reminders.append({"user_id": user_id, "kind": kind, "period_end": period_end})
            if n % 10 == 0:
                audit.append({"actor_id": 0, "action": "grant", "target": str(user_id), "at": now})
        async with services.sessions.begin() as session:
            await session.execute(insert(User), user_rows)
            await session.execute(insert(Device), devices)
            for table, rows in ((Payment, payments), (Reminder, reminders), (AuditEntry, audit)):
                if rows:
                    await session.execute(insert(table), rows)
        totals.update(
            devices=len(devices), payments=len(payments), reminders=len(reminders), audit=len(audit)
        )
    return Seeded(
        states,
        nodes,
        totals["devices"],
        totals["payments"],
        totals["reminders"],
        totals["audit"],
        time.perf_counter() - started,
    )


def _payment(user_id: int, status: PaymentStatus, at: datetime) -> dict[str, Any]:
    paid = status is PaymentStatus.SUCCEEDED
    return {
        "user_id": user_id,
        "provider": "yookassa" if user_id % 2 else "stars",
        "provider_payment_id": f"seed-{user_id}-{status.value}",
        "plan_code": "1m",
        "days": 30,
        "amount": 29_900 if user_id % 2 else 250,
        "currency": "RUB" if user_id % 2 else "XTR",
        "status": status,
        "created_at": at,
        "credited_at": at if paid else None,
        "access_until": at + DAY * 30 if paid else None,
        "failure": None if paid else "expired",
    }


async def _main(args: argparse.Namespace) -> None:
    settings = load_settings()
    services = await open_services(settings)
    cipher = cipher_of(settings, create=False)
    assert cipher is not None, "open_services made the key"
    try:
        done = await seed(services, cipher, args.users, args.nodes, datetime.now(UTC))
    finally:
        await services.close()
    print(
        f"seeded {sum(done.users.values())} users ({dict(done.users)}), {done.nodes} nodes, "
        f"{done.devices} devices, {done.payments} payments, {done.reminders} reminders, "
        f"{done.audit} audit entries in {done.seconds:.1f} s",
        file=sys.stderr,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=10)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
