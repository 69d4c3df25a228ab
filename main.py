"""Entry point: runs the bot, and the operator CLI for nodes, users and database backups."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.cli import refusal
from bot.container import (
    backup_service,
    cipher_of,
    open_services,
    prepare_data_dir,
    ssh_public_key,
)
from bot.settings import Settings, SettingsError, load_settings
from db.copy import CopyError, copy_sqlite_to_postgres
from db.engine import safe_url
from services.audit import OPERATOR, AuditAction
from services.backups import BackupError
from services.errors import (
    HostKeyMismatch,
    HostKeyNotAccepted,
    InvalidInput,
    NodeNotFound,
    NodeSetupFailed,
    NodeUnavailable,
    NoHostKeyOffer,
    ServiceError,
)
from services.fleet import (
    AMNEZIA_VERSIONS,
    DEFAULT_SUBNET4,
    NewNode,
    default_mtu,
    parse_ssh_address,
    valid_endpoint,
)
from services.sshkeys import ADVICE, KeyFilesUnexpected
from services.vless import InvalidReality

EXIT_USAGE = 2
HOST_KEY_HELP = (
    "the node's SSH host key as an OpenSSH public key line or its SHA256 fingerprint "
    "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the node); refused if it differs"
)


Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python main.py", description="vpnservice bot")
    parser.set_defaults(run=run_bot)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)").set_defaults(run=run_bot)

    ssh_key = commands.add_parser("ssh-key", help="print the bot's SSH public key for the nodes")
    ssh_key.add_argument(
        "action", nargs="?", choices=("rotate",), help="rotate: a new key on every node"
    )
    ssh_key.set_defaults(run=ssh_key_command)
    node = commands.add_parser("node", help="manage nodes").add_subparsers(
        dest="action", required=True
    )
    add = node.add_parser(
        "add", help="adopt a node whose WireGuard interface is up, or bootstrap a bare one"
    )
    add.add_argument("name", help="short name: a-z, 0-9, '-', up to 15 characters")
    add.add_argument("ssh", help="ssh://USER@HOST[:PORT]")
    add.add_argument(
        "--endpoint", help="HOST:PORT clients connect to (default: SSH host and the listen port)"
    )
    add.add_argument("--interface", default="wg0")
    add.add_argument("--region", default="")
    add.add_argument("--dns", help="DNS servers for clients (default: DEFAULT_DNS)")
    add.add_argument("--mtu", type=int, help="tunnel MTU (default: 1420, AmneziaWG 1376)")
    add.add_argument("--protocol", choices=("wireguard", "amneziawg"), default="wireguard")
    add.add_argument(
        "--awg-version", choices=AMNEZIA_VERSIONS, help="AmneziaWG protocol version (default 2.0)"
    )
    add.add_argument("--port", type=int, default=51820, help="listen port (bootstrap only)")
    add.add_argument(
        "--subnet", default=DEFAULT_SUBNET4, help="server address and pool (bootstrap only)"
    )
    add.add_argument("--subnet6", help="IPv6 server address, e.g. fd08::1/64 (bootstrap only)")
    add.add_argument("--host-key", help=HOST_KEY_HELP)
    add.set_defaults(run=node_add)
    node.add_parser("list", help="list nodes").set_defaults(run=node_list)
    restore = node.add_parser("restore", help="rebuild a wiped node with its keys and peers")
    restore.add_argument("name")
    restore.add_argument("ssh", nargs="?", help="new ssh://USER@HOST[:PORT], if it moved")
    restore.add_argument("--host-key", help="the rebuilt machine's new host key: " + HOST_KEY_HELP)
    restore.set_defaults(run=node_restore)
    accept = node.add_parser(
        "accept-host-key", help="accept the new SSH host key a node presented (see the alert)"
    )
    accept.add_argument("name")
    accept.add_argument("--host-key", help="the key to accept: " + HOST_KEY_HELP)
    accept.set_defaults(run=node_accept_host_key)
    endpoint = node.add_parser("set-endpoint", help="new client address; users get new configs")
    endpoint.add_argument("name")
    endpoint.add_argument("endpoint", help="HOST:PORT clients connect to")
    endpoint.set_defaults(run=node_set_endpoint)
    vless = node.add_parser("vless", help="offer VLESS with Reality on the node (Xray)")
    vless.add_argument("name")
    vless.add_argument("--target", required=True, help="HOST:PORT of a real TLS site to imitate")
    vless.add_argument("--sni", required=True, help="the server name clients send (the site's)")
    vless.add_argument("--port", type=int, default=443, help="TCP port of the inbound")
    vless.add_argument(
        "--xray-release",
        help="where Xray releases are downloaded when the node has none: a mirror of "
        "GitHub's BASE/TAG/Xray-linux-64.zip and .dgst (default: GitHub)",
    )
    vless.set_defaults(run=node_vless)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    grant = user.add_parser("add", help="grant a Telegram user access")
    grant.add_argument("telegram_id", type=int)
    grant.add_argument("--days", type=int, help="days of access (default: no end date)")
    grant.add_argument("--admin", action="store_true", help="also make them an admin")
    grant.set_defaults(run=user_add)

    db = commands.add_parser("db", help="database backups").add_subparsers(
        dest="action", required=True
    )
    db.add_parser(
        "backup", help="back the database up into DATA_DIR/backups, print the path"
    ).set_defaults(run=db_backup)
    restore_db = db.add_parser(
        "restore", help="replace the database with a backup (stop the bot first)"
    )
    restore_db.add_argument("file", type=Path, help="a backup made by /backup or db backup")
    restore_db.add_argument(
        "--yes", action="store_true", help="confirm: the bot is stopped, replace the database"
    )
    restore_db.set_defaults(run=db_restore)
    to_postgres = db.add_parser(
        "migrate-sqlite-to-postgres",
        help="copy SQLITE_FILE into PostgreSQL: db migrate-sqlite-to-postgres SQLITE_FILE "
        "[POSTGRES_URL] [--yes] (stop the bot first)",
    )
    to_postgres.add_argument("sqlite_file", type=Path, metavar="SQLITE_FILE")
    to_postgres.add_argument(
        "postgres_url",
        nargs="?",
        metavar="POSTGRES_URL",
        help="postgresql+asyncpg://USER:PASSWORD@HOST[:PORT]/DB (default: DATABASE_URL)",
    )
    to_postgres.add_argument(
        "--yes", action="store_true", help="replace the rows a non-empty target already has"
    )
    to_postgres.set_defaults(run=db_to_postgres)
    return parser.parse_args(argv)


def bot_app() -> ModuleType:
    """bot.app, imported only when the bot runs (the CLI's commands never load aiogram), with
    aiogram's types built when first used."""
    from bot.lazytypes import import_aiogram

    import_aiogram()
    import bot.app

    return bot.app


async def run_bot(settings: Settings, args: argparse.Namespace) -> int:
    await bot_app().run(settings)
    return 0


def ssh_address(text: str) -> tuple[str, str, int]:
    try:
        return parse_ssh_address(text)
    except InvalidInput:
        raise ValueError("the SSH address must look like ssh://USER@HOST[:PORT]") from None


async def node_add(settings: Settings, args: argparse.Namespace) -> int:
    user, host, port = ssh_address(args.ssh)
    if args.awg_version and args.protocol != "amneziawg":
        raise ValueError("--awg-version needs --protocol amneziawg")
    new = NewNode(
        name=args.name,
        ssh_host=host,
        ssh_port=port,
        ssh_user=user,
        interface=args.interface,
        endpoint=args.endpoint,
        region=args.region,
        dns=args.dns,
        mtu=args.mtu or default_mtu(args.protocol),
        listen_port=args.port,
        subnet4=args.subnet,
        subnet6=args.subnet6,
        protocol=args.protocol,
        amnezia_version=args.awg_version or "2.0",
    )
    services = await open_services(settings)
    try:
        key = await services.fleet.scan(new)
        unchecked = "" if args.host_key else " (trusted as first seen: --host-key checks it)"
        print(f"host key of {new.name}: {key.fingerprint}{unchecked}", flush=True)
        node = await services.fleet.add(
            OPERATOR, new, progress=print_step, host_key=args.host_key or key.line
        )
        kept = await services.fleet.foreign_count(node.id)
    except HostKeyMismatch as error:
        print(f"node {args.name}: {host_key_refusal(error)}", file=sys.stderr)
        return 1
    except NodeSetupFailed as error:
        print(f"node {args.name}: {error.reason}", file=sys.stderr)
        print(
            f"The bot logs in with this key; put it in {user}'s ~/.ssh/authorized_keys:",
            file=sys.stderr,
        )
        print(services.sshkeys.public_key(), file=sys.stderr)
        return 1
    finally:
        await services.close()
    print(
        f"node {node.name} added: endpoint {node.endpoint}, subnet {node.server_address4}"
        + (f" {node.server_address6}" if node.server_address6 else "")
        + f", public key {node.public_key}"
        + (f", {node.protocol}" if node.protocol != "wireguard" else "")
    )
    if kept:
        print(
            f"kept {kept} peers that were already on {node.interface}: the bot leaves them and "
            f"their addresses alone (list or remove them in the chat: /foreign {node.name})"
        )
    return 0


def host_key_refusal(error: HostKeyMismatch | HostKeyNotAccepted) -> str:
    """One plain line for a host key the node presents that is not the one expected."""
    args = error.args_for_text
    if isinstance(error, HostKeyMismatch):
        return f"the node presents host key {args['offered']}, not {args['expected']}"
    return (
        f"the node presents another host key: pinned {args['pinned']}, now {args['offered']}. "
        f"If the machine was reinstalled, check the new key on it and run again with "
        f"--host-key {args['offered'].split()[0]}"
    )


async def print_step(step: str) -> None:
    print(f"… {step}", flush=True)


async def node_restore(settings: Settings, args: argparse.Namespace) -> int:
    address = ssh_address(args.ssh) if args.ssh else None
    services = await open_services(settings)
    try:
        restored = await services.fleet.restore(
            OPERATOR, args.name, address, print_step, host_key=args.host_key
        )
    except (HostKeyMismatch, HostKeyNotAccepted) as error:
        print(f"node {args.name}: {host_key_refusal(error)}", file=sys.stderr)
        return 1
    except NodeSetupFailed as error:
        print(f"node {args.name}: {error.reason}", file=sys.stderr)
        return 1
    finally:
        await services.close()
    node, result = restored.node, restored.reconcile
    if result.error is not None:
        print(f"node {node.name} rebuilt, but its peers were not restored: {result.error}")
        return 1
    added = len(result.plan.add) if result.plan else 0
    print(f"node {node.name} restored: endpoint {node.endpoint}, {added} peers put back")
    return 0


async def node_accept_host_key(settings: Settings, args: argparse.Namespace) -> int:
    """Show the key the node offered; with --host-key naming exactly it, pin it (audited)."""
    services = await open_services(settings)
    try:
        if args.host_key is None:
            offer = await services.fleet.host_keys.offer(args.name)
        else:
            offer = await services.fleet.host_keys.accept(OPERATOR, args.name, args.host_key)
    except HostKeyMismatch as error:
        print(f"node {args.name}: {host_key_refusal(error)}", file=sys.stderr)
        return 1
    except NoHostKeyOffer:
        print(f"node {args.name} has presented no new host key to accept", file=sys.stderr)
        return 1
    finally:
        await services.close()
    if args.host_key is None:
        print(f"node {offer.node}: pinned host key {offer.pinned}, presented {offer.offered}")
        print(
            "Check the new key on the machine, then accept it: python main.py node "
            f"accept-host-key {offer.node} --host-key SHA256:{offer.token}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"node {offer.node}: host key {offer.offered} accepted (was {offer.pinned})")
    return 0


async def node_set_endpoint(settings: Settings, args: argparse.Namespace) -> int:
    if not valid_endpoint(args.endpoint):
        raise ValueError("the endpoint must look like HOST:PORT ([IPv6]:PORT)")
    from bot.app import connect, create_bot  # aiogram loads in seconds: only to tell users

    services = await open_services(settings)
    bot = create_bot(settings)
    connect(services, bot)
    try:
        report = await services.endpoints.change(OPERATOR, args.name, args.endpoint)
    except NodeNotFound:
        print(f"error: no node {args.name}: see python main.py node list", file=sys.stderr)
        return 1
    finally:
        await bot.session.close()
        await services.close()
    print(
        f"node {report.node}: endpoint {report.old} -> {report.new}; new config sent for "
        f"{report.delivered} devices, not delivered {report.undelivered}"
    )
    return 0


async def node_vless(settings: Settings, args: argparse.Namespace) -> int:
    services = await open_services(settings)
    try:
        kept = await services.vless.install(
            args.name, args.target, args.sni, port=args.port, releases=args.xray_release,
            progress=print_step,
        )  # fmt: skip
        node = await services.vless.enable(
            args.name, args.target, args.sni, port=args.port, actor_id=OPERATOR
        )
    except NodeNotFound:
        print(f"error: no node {args.name}: see python main.py node list", file=sys.stderr)
        return 1
    except NodeSetupFailed as error:
        print(f"node {args.name}: {error.reason}; VLESS not turned on", file=sys.stderr)
        return 1
    except InvalidReality as error:
        print(f"error: {error.args_for_text.get('reason', 'invalid settings')}", file=sys.stderr)
        return 1
    except NodeUnavailable:
        print(f"node {args.name}: VLESS stored, but the node did not take it yet", file=sys.stderr)
        return 1
    finally:
        await services.close()
    print(
        f"node {node.name}: VLESS with Reality on port {node.xray_port}, via {node.reality_target}"
    )
    if kept.inbounds:
        print(
            f"kept the node's own Xray config: {kept.inbounds} inbounds with {kept.clients} "
            "clients, served as before (the bot changes only its own inbound)"
        )
    return 0


async def ssh_key_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.action != "rotate":
        print(ssh_public_key(settings))
        return 0
    services = await open_services(settings)
    try:
        rotation = await services.sshkeys.rotate(OPERATOR, print_step)
    except KeyFilesUnexpected as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await services.close()
    if not rotation.finished:
        failed = ", ".join(f"{name} ({why})" for name, why in sorted(rotation.failed.items()))
        print(f"error: stopped at step {rotation.stopped_at}: {failed}", file=sys.stderr)
        print(ADVICE[rotation.stopped_at], file=sys.stderr)
        return 1
    print(f"rotated in {rotation.seconds:.1f} s: every node takes the new key, none the old one")
    return 0


async def node_list(settings: Settings, args: argparse.Namespace) -> int:
    services = await open_services(settings)
    try:
        nodes = await services.fleet.all()
        counts = await services.fleet.device_counts()
    finally:
        await services.close()
    if not nodes:
        print("no nodes yet: python main.py node add NAME ssh://root@HOST")
    for node in nodes:
        print(
            f"{node.name}\t{node.status.value}\t{node.region or '-'}\t{node.endpoint}\t"
            f"{node.server_address4}\tssh://{node.ssh_user}@{node.ssh_host}:{node.ssh_port}\t"
            f"{counts.get(node.id, 0)} devices"
        )
    return 0


async def user_add(settings: Settings, args: argparse.Namespace) -> int:
    services = await open_services(settings)
    try:
        applied = await services.console.grant(
            OPERATOR, args.telegram_id, args.days, AuditAction.ADD_USER, create=True
        )
        if args.admin:
            await services.users.make_admin(applied.user.id)
    finally:
        await services.close()
    user = applied.user
    until = user.access_until.isoformat(timespec="minutes") if user.access_until else "no end date"
    print(f"user {user.id}: access until {until}" + (", admin" if args.admin else ""))
    return 0


async def db_backup(settings: Settings, args: argparse.Namespace) -> int:
    prepare_data_dir(settings)
    backup = await backup_service(settings).create()
    print(backup.path)
    print(KEY_REMINDER, file=sys.stderr)
    return 0


KEY_REMINDER = (
    "note: client keys in the backup are encrypted; the encryption key (DATA_DIR/secret.key "
    "or ENCRYPTION_KEY) is not in it: keep a copy of the key somewhere else"
)


async def db_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Check the file and the encryption key, keep the current database, copy, migrate."""
    backups = backup_service(settings)
    cipher = cipher_of(settings, create=False)
    replaces = backups.check_restore(args.file, cipher)
    if not args.yes:
        print(
            f"{args.file} is sound. Stop the bot, then run again with --yes to replace {replaces}.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    kept = await backups.restore(OPERATOR, args.file, cipher)
    print(f"database restored from {args.file} and migrated")
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    return 0


async def db_to_postgres(settings: Settings, args: argparse.Namespace) -> int:
    """Copy a SQLite database into PostgreSQL, print rows per table; the URL's password never."""
    url = args.postgres_url or settings.database_url
    if not url:
        raise ValueError("give POSTGRES_URL or set DATABASE_URL to the PostgreSQL database")
    try:
        result = await copy_sqlite_to_postgres(args.sqlite_file, url, replace=args.yes)
    except CopyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for table, rows in result.counts.items():
        print(f"{table}\t{rows}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"copied {sum(result.counts.values())} rows from {args.sqlite_file} to {safe_url(url)}")
    print(
        "the bot needs the same encryption key (DATA_DIR/secret.key or ENCRYPTION_KEY) "
        f"and DATABASE_URL={safe_url(url)}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    for noisy in ("asyncssh", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    command: Command = args.run
    try:
        settings = load_settings()
        return asyncio.run(command(settings, args))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ServiceError as error:
        print(f"error: {refusal(error)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
