"""What services need of Telegram, without knowing it: alerts and files to the admins, texts
and configs to users, deep links, channel membership, Stars refunds and subscriptions. The
bot's TelegramNotifier is the one implementation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from services.clientconfig import ClientConfig


@dataclass(frozen=True, slots=True)
class GrantButtons:
    """Under an access request: the buttons that grant the user access."""

    user_id: int


@dataclass(frozen=True, slots=True)
class HostKeyButton:
    """Under a changed host key: the button that accepts exactly the key the node offered."""

    node_id: int
    fingerprint: str


AdminButtons = GrantButtons | HostKeyButton


class Notifier(Protocol):
    async def to_admins(
        self, key: str, *, buttons: AdminButtons | None = None, **args: str
    ) -> None:
        """A text (a locale key and its arguments) to the alerts chat or every admin, with
        `buttons` under it (then in each admin's own chat: buttons work only there)."""

    async def file_to_admins(self, path: Path, key: str, **args: str) -> int:
        """A file with a caption to the alerts chat or every admin; how many got it."""

    async def send_config(
        self,
        user_id: int,
        config: ClientConfig,
        key: str | None = None,
        *,
        guide: bool = False,
        **args: str,
    ) -> bool:
        """A user's config as a `.conf` file and a QR code (and, for AmneziaWG, its vpn:// key),
        after a text when `key` is given, with the set-up platforms under it when `guide`
        (a new device); False when it could not be delivered."""

    async def send_link(self, user_id: int, link: str, key: str, **args: str) -> bool:
        """A text with a VLESS link in it (the locale key gets it as `link`), then the link as
        a QR code; False when it could not be delivered."""

    async def to_user(
        self, user_id: int, key: str, *, button: str | None = None, **args: str | datetime | None
    ) -> bool:
        """A text in the user's language, with named buttons under it: "renew", or a nudge's
        (services.nudges: "setup", "silent", "offer"); moments are shown as dates, None
        as a dash; False when it could not be delivered."""

    async def start_link(self, parameter: str) -> str:
        """The bot's deep link that opens the chat with /start `parameter`."""

    async def is_member(self, chat: str, user_id: int) -> bool | None:
        """Whether the user is in a channel or group (`chat`: @username or id); None when
        Telegram would not say (the bot cannot read its members)."""

    async def refund_stars(self, user_id: int, charge_id: str) -> str | None:
        """Give a Stars payment back; None when done, else Telegram's reason."""

    async def set_stars_subscription(self, user_id: int, charge_id: str, *, renewing: bool) -> bool:
        """Turn a Stars subscription's renewal off or back on; False when Telegram refused."""
