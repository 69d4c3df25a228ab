"""What the bot writes is its user's alone: DATA_DIR 0700, the database with its -wal and -shm,
the keys and the backups 0600, whatever the umask; scripts/run.sh runs with umask 077 and the
README's quick start makes .env private."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.container import open_services
from bot.settings import load_settings
from tests.fakes.nodes import FakeWireGuard

ROOT = Path(__file__).resolve().parents[1]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask of a login shell, under which files come out world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("open_umask")
async def test_a_fresh_data_dir_holds_only_private_files(tmp_path: Path) -> None:
    data = tmp_path / "srv" / "data"
    settings = load_settings(_env_file=None, bot_token="1:" + "a" * 35, data_dir=data)
    services = await open_services(settings, wireguard=FakeWireGuard())  # type: ignore[arg-type]
    try:
        await services.users.grant(7001, 30, create=True)  # a write: -wal and -shm exist now
        backup = await services.backups.create()
        database = data / "vpnservice.db"
        files = {
            path.name: mode(path)
            for path in (
                database,
                Path(f"{database}-wal"),
                Path(f"{database}-shm"),
                data / "secret.key",
                data / "ssh_ed25519",
                backup.path,
            )
        }
        assert files == dict.fromkeys(files, 0o600)
        assert mode(data) == 0o700
        assert mode(backup.path.parent) == 0o700
    finally:
        await services.close()


@pytest.mark.usefixtures("open_umask")
async def test_a_database_an_older_version_left_readable_is_made_private_at_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    settings = load_settings(_env_file=None, bot_token="1:" + "a" * 35, data_dir=data)
    services = await open_services(settings, wireguard=FakeWireGuard())  # type: ignore[arg-type]
    await services.users.grant(7001, 30, create=True)
    await services.close()
    database = data / "vpnservice.db"
    database.chmod(0o644)

    services = await open_services(settings, wireguard=FakeWireGuard())  # type: ignore[arg-type]
    try:
        await services.users.grant(7002, 30, create=True)
        assert mode(database) == 0o600
        assert mode(Path(f"{database}-wal")) == 0o600
    finally:
        await services.close()


def test_run_sh_sets_umask_077_before_it_starts_the_bot() -> None:
    lines = [line.strip() for line in (ROOT / "scripts" / "run.sh").read_text().splitlines()]
    umask = next(i for i, line in enumerate(lines) if line.startswith("umask "))
    start = next(i for i, line in enumerate(lines) if line.startswith("exec uv run"))
    assert lines[umask].split()[:2] == ["umask", "077"] and umask < start


def test_readme_quick_start_makes_env_private() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    set_up = readme.split("## Operator set-up", 1)[1].split("\n## ", 1)[0]
    assert "chmod 600 .env" in quick_start and "chmod 600 .env" in set_up
