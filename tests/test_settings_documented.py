"""Every setting the bot reads is documented in .env.example and in the README's table."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    names = [name.upper() for name in Settings.model_fields]
    assert "BOT_TOKEN" in names
    assert [n for n in names if f"\n{n}=" not in example] == [], ".env.example"
    assert [n for n in names if f"`{n}`" not in readme] == [], "README"
