"""What services need to tell people, without knowing Telegram: admins' alerts, users' configs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from services.clientconfig import ClientConfig


class Notifier(Protocol):
    async def to_admins(self, key: str, **args: str) -> None:
        """Send a text (a locale key and its arguments) to the alerts chat or every admin."""

    async def file_to_admins(self, path: Path, key: str, **args: str) -> int:
        """Send a file with a caption to the alerts chat or every admin; how many got it."""

    async def send_config(self, user_id: int, key: str, config: ClientConfig, **args: str) -> bool:
        """Send a user a text and their config; False when it could not be delivered."""

    async def to_user(
        self, user_id: int, key: str, *, button: str | None = None, **args: str | datetime | None
    ) -> bool:
        """Send a user a text in their language, with a named button ("renew") under it;
        moments are shown as dates, None as a dash."""
