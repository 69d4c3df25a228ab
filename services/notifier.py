"""What services need to tell people, without knowing Telegram: alerts and files to the admins,
texts and configs to users. The bot's TelegramNotifier is the one implementation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from services.clientconfig import ClientConfig


class Notifier(Protocol):
    async def to_admins(
        self,
        key: str,
        *,
        grant_user_id: int | None = None,
        host_key_offer: tuple[int, str] | None = None,
        **args: str,
    ) -> None:
        """A text (a locale key and its arguments) to the alerts chat or every admin; with
        `grant_user_id`, under it the buttons that grant that user access; with
        `host_key_offer` (a node id and the offered key's fingerprint), the button that
        accepts that key."""

    async def file_to_admins(self, path: Path, key: str, **args: str) -> int:
        """A file with a caption to the alerts chat or every admin; how many got it."""

    async def send_config(
        self, user_id: int, config: ClientConfig, key: str | None = None, **args: str
    ) -> bool:
        """A user's config as a `.conf` file and a QR code, after a text when `key` is given;
        False when it could not be delivered."""

    async def to_user(
        self, user_id: int, key: str, *, button: str | None = None, **args: str | datetime | None
    ) -> bool:
        """A text in the user's language, with a named button ("renew") under it; moments are
        shown as dates, None as a dash; False when it could not be delivered."""
