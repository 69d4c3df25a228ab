"""A throwaway PostgreSQL server for the tests, and the `backend` each database test runs on.

`TEST_POSTGRES_URL` (a role that may CREATE DATABASE) is used when set; otherwise, where
Debian's server binaries exist, one server is started for the session on loopback (initdb,
pg_ctl, as the `postgres` user when we are root) and removed at the end. Each test gets a
fresh database. Without either, PostgreSQL tests skip, or fail when CI is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import URL, make_url

from db.engine import create_engine
from db.migrate import upgrade

T = TypeVar("T")

BACKENDS = ("sqlite", "postgresql")
# The database tests of these modules and of every test_flow_* module also run on PostgreSQL
# (TEST_POSTGRES=all: of every module), except those in TIME_SAVERS, which would only add
# minutes: they wait on the clock or check input parsing, not what the database does.
POSTGRES_MODULES = frozenset(
    {
        "test_admin_console",
        "test_broadcast",
        "test_stats",
        "test_migrations",
        "test_postgres",
        "test_money_yookassa",
    }
)
TIME_SAVERS = frozenset(
    {
        "test_flow_bad_input",  # module: garbage commands answered, nothing written
        "test_2000_users_at_30_per_second_with_a_kill_and_restart",  # 70 s of pacing;
        # test_postgres runs two processes over one broadcast queue on PostgreSQL instead
    }
)
SQLITE_BY_NATURE = frozenset({"test_backups"})  # SQLite's own backup files: never PostgreSQL
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}
START_TIMEOUT = 60
FILE_COPY_SINCE = 150000  # CREATE DATABASE ... STRATEGY FILE_COPY: PostgreSQL 15
SUPERUSER = "vpn"
_names = itertools.count(1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Database tests of the chosen modules run once per backend; the rest on SQLite alone."""
    if "backend" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        given = marker.args[0]
        if "backend" in (given.replace(" ", "").split(",") if isinstance(given, str) else given):
            return  # the test chose its backends itself
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    names = {module, metafunc.function.__name__}
    chosen = module in POSTGRES_MODULES or module.startswith("test_flow_")
    chosen = (chosen and not names & TIME_SAVERS) or os.environ.get("TEST_POSTGRES") == "all"
    if chosen and not names & SQLITE_BY_NATURE:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The DATABASE_URL a test's bot uses: None means the default SQLite file in DATA_DIR;
    on PostgreSQL a fresh database already migrated to head."""
    if backend != "postgresql":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database(server.migrated_template())
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def any_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's backend, as a URL."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        server = PostgresServer(make_url(given).set(drivername="postgresql+asyncpg"))
        yield server
        server.close()
        return
    binaries = debian_binaries()
    if binaries is None:
        reason = "PostgreSQL: set TEST_POSTGRES_URL or install Debian's postgresql package"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    with local_server(binaries) as url:
        yield PostgresServer(url)


@dataclass
class PostgresServer:
    """A server we may create databases on; `admin` names a database to connect to for that."""

    admin: URL
    _template: str | None = None
    _version: int = 0

    def url(self, database: str) -> str:
        return self.admin.set(database=database).render_as_string(hide_password=False)

    def create_database(self, template: str = "template0") -> str:
        """A new database copied from `template` (the file copy is the fast way here)."""
        name = f"vpntest_{os.getpid()}_{next(_names)}_{secrets.token_hex(3)}"
        if not self._version:
            self._version = int(run_async(self._fetch("SHOW server_version_num")))
        strategy = " STRATEGY FILE_COPY" if self._version >= FILE_COPY_SINCE else ""
        self._execute(
            f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\' '
            f"LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'{strategy}"
        )
        return name

    def migrated_template(self) -> str:
        """A database at head, made once per session, that test databases are copied from."""
        if self._template is None:
            name = self.create_database()
            run_async(_migrate(self.url(name)))
            self._template = name
        return self._template

    def drop_database(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._template is not None:
            self.drop_database(self._template)

    def _execute(self, sql: str) -> None:
        run_async(self._fetch(sql))

    async def _fetch(self, sql: str) -> Any:
        admin = self.admin.set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, whether or not a loop runs in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def debian_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin that has initdb, pg_ctl and postgres."""
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists() and (path.parent / "postgres").exists()
    ]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def local_server(binaries: Path) -> Iterator[URL]:
    """initdb into a temporary directory, start on a free loopback port, remove at the end.

    initdb refuses to run as root: then the server runs as Debian's `postgres` user."""
    as_user: list[str] = []
    owner: str | None = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.fail("PostgreSQL: running as root needs runuser to start the server")
        as_user, owner = ["runuser", "-u", "postgres", "--"], "postgres"
    root = Path(tempfile.mkdtemp(prefix="vpntest-pg-"))
    data, log = root / "data", root / "server.log"
    password = secrets.token_urlsafe(16)
    (root / "password").write_text(password + "\n")
    if owner is not None:
        for path in (root, root / "password"):
            shutil.chown(path, owner, owner)
    try:
        _run(
            [
                *as_user,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={root / 'password'}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        port = free_port()
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
        options += f" -p {port} -c unix_socket_directories='{root}'"
        _run(
            [
                *as_user,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                str(START_TIMEOUT),
                "-o",
                options,
                "start",
            ],
            log,
        )
        try:
            yield URL.create(
                "postgresql+asyncpg",
                username=SUPERUSER,
                password=password,
                host="127.0.0.1",
                port=port,
                database="postgres",
            )
        finally:
            subprocess.run(
                [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str], log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{' '.join(command)}: {done.stdout}{done.stderr}{server_log}")
