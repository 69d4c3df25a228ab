"""Entry point: runs the bot, and the operator CLI for nodes, users and database backups."""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.container import SECRET_KEY_FILE, SSH_KEY_FILE, open_services
from bot.settings import Settings, SettingsError, load_settings
from db.cipher import SecretCipher
from db.copy import CopyError, copy_sqlite_to_postgres
from db.engine import create_engine, safe_url
from db.migrate import upgrade
from locales import translator_for
from nodes import SshPool
from services.backups import (
    BackupError,
    BackupService,
    check_sqlite_backup,
    key_fits,
    restore_postgres,
    restore_sqlite,
    sqlite_path,
)
from services.endpoints import valid_endpoint
from services.errors import InvalidInput, NodeNotFound, NodeSetupFailed, ServiceError
from services.nodes import AMNEZIA_VERSIONS, NewNode, default_mtu, parse_ssh_address
from services.sshkeys import ADVICE, KeyFilesUnexpected, SshKeyService

EXIT_USAGE = 2


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python main.py", description="vpnservice bot")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)")

    ssh_key = commands.add_parser("ssh-key", help="print the bot's SSH public key for the nodes")
    ssh_key.add_argument(
        "action", nargs="?", choices=("rotate",), help="rotate: a new key on every node"
    )
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
    add.add_argument("--subnet", default="10.8.0.1/24", help="server address (bootstrap only)")
    add.add_argument("--subnet6", help="IPv6 server address, e.g. fd08::1/64 (bootstrap only)")
    node.add_parser("list", help="list nodes")
    restore = node.add_parser("restore", help="rebuild a wiped node with its keys and peers")
    restore.add_argument("name")
    restore.add_argument("ssh", nargs="?", help="new ssh://USER@HOST[:PORT], if it moved")
    endpoint = node.add_parser("set-endpoint", help="new client address; users get new configs")
    endpoint.add_argument("name")
    endpoint.add_argument("endpoint", help="HOST:PORT clients connect to")

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    grant = user.add_parser("add", help="grant a Telegram user access")
    grant.add_argument("telegram_id", type=int)
    grant.add_argument("--days", type=int, help="days of access (default: no end date)")
    grant.add_argument("--admin", action="store_true", help="also make them an admin")

    db = commands.add_parser("db", help="database backups").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("backup", help="back the database up into DATA_DIR/backups, print the path")
    restore_db = db.add_parser(
        "restore", help="replace the database with a backup (stop the bot first)"
    )
    restore_db.add_argument("file", type=Path, help="a backup made by /backup or db backup")
    restore_db.add_argument(
        "--yes", action="store_true", help="confirm: the bot is stopped, replace the database"
    )
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
    return parser.parse_args(argv)


async def node_add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        user, host, port = parse_ssh_address(args.ssh)
    except InvalidInput:
        raise ValueError("the SSH address must look like ssh://USER@HOST[:PORT]") from None
    if args.awg_version and args.protocol != "amneziawg":
        raise ValueError("--awg-version needs --protocol amneziawg")
    services = await open_services(settings)
    try:
        node = await services.nodes.add(
            NewNode(
                name=args.name,
                ssh_host=host,
                ssh_port=port,
                ssh_user=user,
                interface=args.interface,
                endpoint=args.endpoint,
                region=args.region,
                dns=args.dns or settings.default_dns,
                mtu=args.mtu or default_mtu(args.protocol),
                listen_port=args.port,
                subnet4=args.subnet,
                subnet6=args.subnet6,
                protocol=args.protocol,
                amnezia_version=args.awg_version or "2.0",
            ),
            progress=print_step,
        )
    except NodeSetupFailed as error:
        public_key = SshPool.ensure_client_key(settings.data_dir / "ssh_ed25519")
        print(f"node {args.name}: {error.reason}", file=sys.stderr)
        print(
            f"The bot logs in with this key; put it in {user}'s ~/.ssh/authorized_keys:",
            file=sys.stderr,
        )
        print(public_key, file=sys.stderr)
        return 1
    finally:
        await services.close()
    print(
        f"node {node.name} added: endpoint {node.endpoint}, subnet {node.server_address4}"
        + (f" {node.server_address6}" if node.server_address6 else "")
        + f", public key {node.public_key}"
        + (f", {node.protocol}" if node.protocol != "wireguard" else "")
    )
    return 0


async def print_step(step: str) -> None:
    print(f"… {step}", flush=True)


async def node_restore(settings: Settings, args: argparse.Namespace) -> int:
    address = None
    if args.ssh:
        try:
            address = parse_ssh_address(args.ssh)
        except InvalidInput:
            raise ValueError("the SSH address must look like ssh://USER@HOST[:PORT]") from None
    services = await open_services(settings)
    try:
        node = await services.nodes.restore(args.name, address, progress=print_step)
        result = await services.reconcile.reconcile(node, report=False)
    except NodeSetupFailed as error:
        print(f"node {args.name}: {error.reason}", file=sys.stderr)
        return 1
    finally:
        await services.close()
    if result.error is not None:
        print(f"node {node.name} rebuilt, but its peers were not restored: {result.error}")
        return 1
    added = len(result.plan.add) if result.plan else 0
    print(f"node {node.name} restored: endpoint {node.endpoint}, {added} peers put back")
    return 0


async def node_set_endpoint(settings: Settings, args: argparse.Namespace) -> int:
    if not valid_endpoint(args.endpoint):
        raise ValueError("the endpoint must look like HOST:PORT ([IPv6]:PORT)")
    from bot.app import create_bot  # aiogram loads in seconds: only to message the users
    from bot.notifier import TelegramNotifier

    services = await open_services(settings)
    bot = create_bot(settings)
    services.set_notifier(TelegramNotifier(bot, services.users, settings.alerts_chat_id))
    try:
        report = await services.endpoints.change(args.name, args.endpoint)
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


async def ssh_key_rotate(settings: Settings) -> int:
    services = await open_services(settings)
    keys = SshKeyService(
        services.nodes,
        settings.data_dir / SSH_KEY_FILE,
        connect_timeout=settings.node_connect_timeout,
        command_timeout=settings.node_command_timeout,
    )
    try:
        rotation = await keys.rotate(print_step)
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


async def node_list(settings: Settings) -> int:
    services = await open_services(settings)
    try:
        nodes = await services.nodes.all()
        counts = await services.nodes.device_counts()
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
        user = await services.users.grant(args.telegram_id, args.days, create=True)
        if args.admin:
            await services.users.make_admin(user.id)
        await services.reconcile.reconcile_user(user.id)  # a renewed user's peers come back now
    finally:
        await services.close()
    until = user.access_until.isoformat(timespec="minutes") if user.access_until else "no end date"
    print(f"user {user.id}: access until {until}" + (", admin" if args.admin else ""))
    return 0


async def db_backup(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backups = BackupService(
        settings.effective_database_url, settings.data_dir, settings.backup_keep
    )
    backup = await backups.create()
    print(backup.path)
    print(KEY_REMINDER, file=sys.stderr)
    return 0


KEY_REMINDER = (
    "note: client keys in the backup are encrypted; the encryption key (DATA_DIR/secret.key "
    "or ENCRYPTION_KEY) is not in it: keep a copy of the key somewhere else"
)


def _current_cipher(settings: Settings) -> SecretCipher | None:
    if settings.encryption_key is not None:
        return SecretCipher(base64.urlsafe_b64decode(settings.encryption_key.get_secret_value()))
    key_file = settings.data_dir / SECRET_KEY_FILE
    if not key_file.is_file():
        return None
    return SecretCipher(base64.urlsafe_b64decode(key_file.read_text().strip()))


async def db_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Check the file and the encryption key, keep the current database, copy, migrate."""
    url = make_url(settings.effective_database_url)
    backup: Path = args.file
    if url.get_backend_name() == "sqlite":
        database = sqlite_path(url)
        revision = check_sqlite_backup(backup)
        cipher = _current_cipher(settings)
        if cipher is None:
            raise BackupError(
                "no encryption key: put the old DATA_DIR/secret.key in place or set "
                "ENCRYPTION_KEY, then run again"
            )
        if key_fits(backup, cipher) is False:
            raise BackupError(
                "the backup was made with another encryption key: put the old "
                "DATA_DIR/secret.key in place or set ENCRYPTION_KEY, then run again"
            )
        if not args.yes:
            print(
                f"{backup} is a sound backup (revision {revision}). Stop the bot, then run again "
                f"with --yes to replace {database}.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        kept = await asyncio.to_thread(restore_sqlite, backup, database)
    else:
        if not args.yes:
            print(
                "Stop the bot, then run again with --yes to replace the PostgreSQL database "
                "(pg_restore --clean).",
                file=sys.stderr,
            )
            return EXIT_USAGE
        await restore_postgres(backup, url)
        kept = None
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"database restored from {backup} and migrated")
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


async def dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command in (None, "run"):
        from bot.app import run  # aiogram loads in seconds: only when the bot runs

        await run(settings)
        return 0
    if args.command == "ssh-key":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if args.action == "rotate":
            return await ssh_key_rotate(settings)
        print(SshPool.ensure_client_key(settings.data_dir / SSH_KEY_FILE))
        return 0
    if args.command == "node":
        if args.action == "add":
            return await node_add(settings, args)
        if args.action == "restore":
            return await node_restore(settings, args)
        if args.action == "set-endpoint":
            return await node_set_endpoint(settings, args)
        return await node_list(settings)
    if args.command == "db":
        if args.action == "backup":
            return await db_backup(settings)
        if args.action == "migrate-sqlite-to-postgres":
            return await db_to_postgres(settings, args)
        return await db_restore(settings, args)
    return await user_add(settings, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    for noisy in ("asyncssh", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings()
        return asyncio.run(dispatch(settings, args))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ServiceError as error:
        field = error.args_for_text.get("field")
        text = (
            f"invalid {field}" if field else translator_for("en")(error.key, **error.args_for_text)
        )
        print(f"error: {text}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
