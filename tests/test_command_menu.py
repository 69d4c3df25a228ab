"""The command menus Telegram shows users, in both languages."""

from __future__ import annotations

from handlers.commands import set_commands
from tests.conftest import App


async def test_the_user_menu_offers_vless_in_both_languages(app: App) -> None:
    await set_commands(app.bot)
    for language, description in (
        ("", "Ссылка VLESS, если интернет блокирует VPN"),
        ("en", "VLESS link, for networks that block the VPN"),
    ):
        menu = {c["command"]: c["description"] for c in app.telegram.my_commands(language)}
        assert menu["vless"] == description
        assert list(menu).index("vless") == list(menu).index("server") + 1
