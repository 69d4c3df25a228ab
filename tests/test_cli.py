"""Start-up errors are one clear line with exit code 2; the operator CLI manages users."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:TEST-token-for-cli"


def run_main(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "BOT_TOKEN is required"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN: must look like"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,abc"}, "ADMIN_IDS: must be comma-separated"),
        ({"BOT_TOKEN": TOKEN, "NODE_CONNECT_TIMEOUT": "-1"}, "NODE_CONNECT_TIMEOUT:"),
        ({"BOT_TOKEN": TOKEN, "DEFAULT_DNS": "not-an-ip"}, "DEFAULT_DNS:"),
        ({"BOT_TOKEN": TOKEN, "ENCRYPTION_KEY": "short"}, "ENCRYPTION_KEY: must be 32 bytes"),
        (
            {"BOT_TOKEN": TOKEN, "GRACE_DAYS": "5", "RECLAIM_DAYS": "5"},
            "RECLAIM_DAYS must be greater than GRACE_DAYS",
        ),
        (
            {"BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://bot:hunter2@127.0.0.1:1/db"},
            "DATABASE_URL: cannot open postgresql+asyncpg://bot:***@127.0.0.1:1/db",
        ),
        (
            {"BOT_TOKEN": TOKEN, "DATABASE_URL": "sqlite+aiosqlite:////nonexistent/dir/x.db"},
            "DATABASE_URL: cannot open",
        ),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = run_main(tmp_path, "node", "list", **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr and "not-a-token" not in result.stderr


def test_settings_come_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BOT_TOKEN={TOKEN}\nDATA_DIR=state\n")
    result = run_main(tmp_path, "node", "list")
    assert result.returncode == 0, result.stderr
    assert "no nodes yet" in result.stdout
    assert (tmp_path / "state" / "vpnservice.db").exists()
    assert (tmp_path / "state" / "ssh_ed25519").stat().st_mode & 0o077 == 0
    assert (tmp_path / "state" / "secret.key").stat().st_mode & 0o077 == 0


def test_user_add_grants_access(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATA_DIR": str(tmp_path / "data")}
    result = run_main(tmp_path, "user", "add", "4242", "--days", "30", "--admin", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("user 4242: access until ")
    assert result.stdout.strip().endswith(", admin")
    bad = run_main(tmp_path, "user", "add", "4242", "--days", "-3", **env)
    assert bad.returncode == 2
    assert "Invalid input." in bad.stderr


def test_node_add_rejects_a_bad_address(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATA_DIR": str(tmp_path / "data")}
    result = run_main(tmp_path, "node", "add", "nl1", "http://host", **env)
    assert result.returncode == 2
    assert "ssh://USER@HOST[:PORT]" in result.stderr


def test_ssh_key_is_created_once_and_printed(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATA_DIR": str(tmp_path / "data")}
    first = run_main(tmp_path, "ssh-key", **env)
    second = run_main(tmp_path, "ssh-key", **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ssh-ed25519 ")
    assert first.stdout == second.stdout
    assert "PRIVATE" not in first.stdout
