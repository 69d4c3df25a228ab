"""Database backups (SQLite online backup or pg_dump) kept in DATA_DIR/backups, and restore."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from db.cipher import CipherError, SecretCipher
from db.engine import create_engine, create_session_factory
from db.migrate import alembic_config, upgrade
from services.audit import AuditAction, record
from services.clientconfig import PRIVATE_KEY
from services.clock import Clock, system_clock
from services.notifier import Notifier

log = logging.getLogger(__name__)

BACKUP_DIR = "backups"
TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024
BUSY_TIMEOUT_SECONDS = 15.0
PG_DUMP_TIMEOUT_SECONDS = 3600.0
FIRST_BACKUP_DELAY = timedelta(minutes=5)
_NAME = re.compile(r"^vpnservice-\d{8}-\d{6}(?:-\d+)?\.(?:db|dump)$")
_REQUIRED_TABLES = frozenset({"alembic_version", "users", "nodes", "devices"})


class BackupError(Exception):
    """A backup or restore cannot be done; the message is safe to show and never holds a secret."""


NO_KEY = (
    "no encryption key: put the old DATA_DIR/secret.key in place or set ENCRYPTION_KEY, "
    "then run again"
)
OTHER_KEY = (
    "the backup was made with another encryption key: put the old DATA_DIR/secret.key in "
    "place or set ENCRYPTION_KEY, then run again"
)


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    size: int

    @property
    def sendable(self) -> bool:
        """Whether Telegram accepts it from a bot (uploads are limited to 50 MB)."""
        return self.size <= TELEGRAM_UPLOAD_LIMIT


def sqlite_path(url: URL) -> Path:
    """The database file of a SQLite URL; in-memory databases have none."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("only a SQLite database in a file can be backed up")
    return Path(url.database)


class BackupService:
    """Makes a backup now and keeps only the last `keep`; tells the admins when one is ready."""

    def __init__(
        self, database_url: str, data_dir: Path, keep: int, clock: Clock = system_clock
    ) -> None:
        self._url = make_url(database_url)
        self.directory = data_dir / BACKUP_DIR
        self._keep = keep
        self._clock = clock
        self._lock = asyncio.Lock()
        self.notifier: Notifier | None = None

    @property
    def is_sqlite(self) -> bool:
        return self._url.get_backend_name() == "sqlite"

    async def create(self) -> Backup:
        """A consistent copy of the database as a new file (mode 0600), then old ones pruned."""
        async with self._lock:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self._new_path()
            try:
                if self.is_sqlite:
                    await asyncio.to_thread(_sqlite_backup, sqlite_path(self._url), path)
                else:
                    await _pg_dump(self._url, path)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            self._prune()
            backup = Backup(path, path.stat().st_size)
        log.info("backup %s written (%d bytes)", path.name, backup.size)
        return backup

    async def run_scheduled(self) -> Backup | None:
        """The scheduled job: make a backup and send it to the admins (or say why it was not)."""
        try:
            backup = await self.create()
        except BackupError as error:
            log.error("scheduled backup failed: %s", error)
            if self.notifier is not None:
                await self.notifier.to_admins("backup-failed", reason=str(error))
            return None
        if self.notifier is None:
            return backup
        megabytes = f"{backup.size / 1024 / 1024:.1f}"
        if backup.sendable:
            await self.notifier.file_to_admins(
                backup.path, "backup-caption", name=backup.path.name, size=megabytes
            )
        else:
            await self.notifier.to_admins(
                "backup-too-big", name=backup.path.name, size=megabytes, path=str(backup.path)
            )
        return backup

    def check_restore(self, backup: Path, cipher: SecretCipher | None) -> str:
        """What restoring `backup` would replace; BackupError unless it is safe: a sound
        SQLite backup of this project at a known revision, whose keys the current key opens
        (a PostgreSQL dump is checked by pg_restore itself)."""
        if not self.is_sqlite:
            return "the PostgreSQL database (pg_restore --clean)"
        database = sqlite_path(self._url)
        revision = check_sqlite_backup(backup)
        if cipher is None:
            raise BackupError(NO_KEY)
        if key_fits(backup, cipher) is False:
            raise BackupError(OTHER_KEY)
        return f"{database} with a backup at revision {revision}"

    async def restore(
        self, actor_id: int, backup: Path, cipher: SecretCipher | None
    ) -> Path | None:
        """Check the backup, replace the database with it (the bot must be stopped), migrate
        it to this code's revision and record who did it in the restored database. Returns
        where the replaced SQLite database is kept (None for PostgreSQL or when there was
        none)."""
        self.check_restore(backup, cipher)
        kept = None
        if self.is_sqlite:
            kept = await asyncio.to_thread(restore_sqlite, backup, sqlite_path(self._url))
        else:
            await restore_postgres(backup, self._url)
        engine = create_engine(self._url.render_as_string(hide_password=False))
        try:
            await upgrade(engine)
            async with create_session_factory(engine).begin() as session:
                record(session, self._clock, actor_id, AuditAction.DB_RESTORE, backup.name)
        finally:
            await engine.dispose()
        return kept

    def next_due(self, interval: timedelta) -> datetime:
        """When the next scheduled backup is due: `interval` after the newest one, or soon."""
        soon = self._clock() + FIRST_BACKUP_DELAY
        newest = self.newest_at()
        return soon if newest is None else max(newest + interval, soon)

    def newest_at(self) -> datetime | None:
        """When the newest backup was written; None when there is none."""
        files = self.backups()
        return datetime.fromtimestamp(files[-1].stat().st_mtime, UTC) if files else None

    def backups(self) -> list[Path]:
        """Our backup files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if _NAME.match(p.name) and p.is_file())

    def _new_path(self) -> Path:
        suffix = "db" if self.is_sqlite else "dump"
        stem = f"vpnservice-{self._clock():%Y%m%d-%H%M%S}"
        path = self.directory / f"{stem}.{suffix}"
        number = 1
        while path.exists():
            path = self.directory / f"{stem}-{number}.{suffix}"
            number += 1
        _create_private(path)
        return path

    def _prune(self) -> None:
        files = self.backups()
        for old in files[: max(len(files) - self._keep, 0)]:
            old.unlink(missing_ok=True)
            log.info("old backup %s removed", old.name)


def _create_private(path: Path) -> None:
    """An empty file only the bot's user can read, before anything is written into it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True))


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"the database file {source} does not exist")
    with (
        contextlib.closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal


async def _pg_dump(url: URL, target: Path) -> None:
    """`pg_dump -Fc` into `target`; the password goes in PGPASSWORD, never on the command line."""
    argv, env = pg_command(_client_tool("pg_dump"), url, "--format=custom", f"--file={target}")
    await _run(argv, env, "pg_dump")


def _client_tool(name: str) -> str:
    """The path of a PostgreSQL client tool; BackupError saying how to install it."""
    program = shutil.which(name)
    if program is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client "
            "(apt install postgresql-client)"
        )
    return program


async def _run(argv: Sequence[str], env: dict[str, str], name: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), PG_DUMP_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BackupError(f"{name} did not finish in {PG_DUMP_TIMEOUT_SECONDS:.0f} s") from None
    if process.returncode != 0:
        last = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise BackupError(f"{name} failed: {last[0][:300]}")


def pg_command(program: str, url: URL, *extra: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment for a PostgreSQL client tool (pg_dump, pg_restore) on `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    if url.host:
        env["PGHOST"] = url.host
    if url.port:
        env["PGPORT"] = str(url.port)
    if url.username:
        env["PGUSER"] = url.username
    sslmode = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(sslmode, str):
        env["PGSSLMODE"] = sslmode
    if not url.database:
        raise BackupError("DATABASE_URL names no database")
    env["PGDATABASE"] = url.database
    return [program, "--no-password", *extra], env


# --- restore (operator CLI, the bot stopped) ------------------------------------------------


def check_sqlite_backup(path: Path) -> str:
    """The alembic revision of a backup file; BackupError unless it is a sound backup of ours."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with _read_only(path) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if not tables >= _REQUIRED_TABLES:
                raise BackupError(f"{path}: not a vpnservice database (tables are missing)")
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError(f"{path}: the database is damaged")
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        raise BackupError(f"{path}: not a SQLite database") from None
    if row is None:
        raise BackupError(f"{path}: no alembic_version: not a vpnservice database")
    revision = str(row[0])
    from alembic.script import ScriptDirectory  # only a restore needs Alembic's list

    script = ScriptDirectory.from_config(alembic_config())
    if revision not in {rev.revision for rev in script.walk_revisions()}:
        raise BackupError(
            f"{path}: made by another version of the bot (revision {revision} is unknown here)"
        )
    return revision


def key_fits(backup: Path, cipher: SecretCipher) -> bool | None:
    """Whether `cipher` decrypts the client keys in a backup; None when it holds no device."""
    with _read_only(backup) as db:
        row = db.execute("SELECT private_key_enc FROM devices LIMIT 1").fetchone()
    if row is None:
        return None
    try:
        cipher.decrypt(str(row[0]), PRIVATE_KEY)
    except CipherError:
        return False
    return True


def restore_sqlite(backup: Path, database: Path) -> Path | None:
    """Copy a checked backup over the database; the old one is kept next to it.

    Returns the `*.before-restore` copy of the replaced database (None when there was none).
    The copy goes through SQLite's backup API under its locks, so WAL files stay consistent;
    a bot in the middle of a write makes this wait, then fail with "database is locked".
    """
    check_sqlite_backup(backup)
    if database.exists() and backup.resolve() == database.resolve():
        raise BackupError("that file is the database itself")
    if backup.resolve() == database.with_name(database.name + ".before-restore").resolve():
        raise BackupError(f"the restore overwrites {backup}: copy it elsewhere, restore the copy")
    database.parent.mkdir(parents=True, exist_ok=True)
    kept: Path | None = None
    if database.exists():
        kept = database.with_name(database.name + ".before-restore")
        kept.unlink(missing_ok=True)
        _create_private(kept)
        _sqlite_backup(database, kept)
    else:
        _create_private(database)
    try:
        with (
            contextlib.closing(sqlite3.connect(backup, timeout=BUSY_TIMEOUT_SECONDS)) as src,
            contextlib.closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_SECONDS)) as dst,
        ):
            dst.execute("BEGIN EXCLUSIVE")  # waits for, then fails on, a bot that is writing
            dst.rollback()
            src.backup(dst)
    except sqlite3.OperationalError as error:
        raise BackupError(f"cannot write {database}: {error} (stop the bot first)") from None
    return kept


async def restore_postgres(backup: Path, url: URL) -> None:
    """`pg_restore --clean` of a `pg_dump -Fc` file into the database of `url`."""
    program = _client_tool("pg_restore")
    if not await asyncio.to_thread(backup.is_file):
        raise BackupError(f"{backup}: no such file")
    argv, env = pg_command(
        program,
        url,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={url.database}",
        str(backup),
    )
    await _run(argv, env, "pg_restore")
