"""Settings from the environment and `.env`, checked once at start-up."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from payments.sources import YOOKASSA_NETWORKS, parse_networks
from services.games import load_games
from services.grace import TELEGRAM_NETWORKS, parse_ranges
from services.plans import DEFAULT_PLANS, AddonPrice, Plan, parse_addon, parse_plans
from services.routes import load_presets


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and never echoes a secret."""


class Settings(BaseSettings):
    """Everything the operator can set; names match DESIGN.md and `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    support_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_url: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_proxy: SecretStr | None = None  # http:// or socks5://, maybe with a password
    data_dir: Path = Path("data")
    encryption_key: SecretStr | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    alerts_chat_id: int | None = None
    support_chat_id: int | None = None  # a forum supergroup: a topic per user; unset: staff DMs
    health_interval: int = Field(default=60, ge=2, le=3600)
    health_failures: int = Field(default=3, ge=1, le=100)
    reconcile_interval: int = Field(default=600, ge=60, le=86400)
    default_dns: str = "1.1.1.1, 1.0.0.1"
    node_connect_timeout: float = Field(default=10.0, gt=0, le=300)
    node_command_timeout: float = Field(default=30.0, gt=0, le=3600)
    broadcast_rate: int = Field(default=25, ge=1, le=30)  # messages/s; Telegram allows 30
    backup_interval_hours: int = Field(default=24, ge=0, le=24 * 366)
    backup_keep: int = Field(default=14, ge=1, le=1000)
    throttle_rate: int = Field(default=8, ge=0, le=10_000)
    throttle_window: float = Field(default=10.0, gt=0, le=3600)
    throttle_cooldown: float = Field(default=30.0, gt=0, le=86400)
    trial_days: int = Field(default=7, ge=0, le=365)
    trial_share: float = Field(default=0.5, gt=0, le=1)  # of a node's addresses, at most
    trials_per_hour: int = Field(default=20, ge=0, le=100_000)  # new trials; 0: no cap
    reclaim_days: int = Field(default=30, ge=1, le=3650)  # without access, then addresses go
    device_limit: int = Field(default=2, ge=1, le=20)  # with invite access (a trial: one)
    plans: Annotated[tuple[Plan, ...], NoDecode] = parse_plans(DEFAULT_PLANS)
    referral_bonus_days: int = Field(default=7, ge=0, le=365)
    addon_device: Annotated[AddonPrice | None, NoDecode] = None  # rub:stars per 30 days
    addon_traffic: Annotated[AddonPrice | None, NoDecode] = None  # gb:rub:stars per 30 days
    offer_url: str | None = None  # the offer users accept before their first payment
    privacy_url: str | None = None
    trial_channel: str | None = None  # @username or -100…: the trial is for its members
    trial_channel_url: str | None = None  # where users join it (t.me/<username> by default)
    stars_enabled: bool = False
    yookassa_shop_id: str | None = None
    yookassa_secret_key: SecretStr | None = None
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    yookassa_allowed_ips: Annotated[tuple[str, ...], NoDecode] = YOOKASSA_NETWORKS
    yookassa_return_url: str | None = None
    yookassa_timeout: float = Field(default=15.0, gt=0, le=120)
    yookassa_receipt_email: str | None = None
    yookassa_vat_code: int = Field(default=1, ge=1, le=6)
    yookassa_sbp: bool = False  # a button for SBP (the Faster Payments System) next to cards
    web_trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    route_presets_file: Path | None = None  # the operator's split-tunnelling presets
    games_file: Path | None = None  # the operator's game profiles, added to the shipped ones
    game_ping_interval: int = Field(default=900, ge=0, le=86400)  # seconds; 0: no measuring
    nudge_setup_hours: int = Field(default=24, ge=0, le=24 * 30)  # 0 turns the nudge off
    nudge_silent_days: int = Field(default=14, ge=0, le=365)
    nudge_trial_hours: int = Field(default=24, ge=0, le=24 * 30)
    public_url: str | None = None  # the https origin of the personal page; unset: no page
    page_session_hours: int = Field(default=168, ge=1, le=24 * 90)
    page_init_data_max_age: int = Field(default=3600, ge=60, le=86400)  # seconds
    grace_days: int = Field(default=3, ge=0, le=90)  # after access ends: Telegram only
    grace_ranges: Annotated[tuple[str, ...], NoDecode] = TELEGRAM_NETWORKS

    bot_mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _webhook_mode(self) -> Settings:
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        self.webhook_secret = SecretStr(secret) if secret else None
        webhook = self.bot_mode == "webhook"
        shape = "1-256 characters: A-Z, a-z, 0-9, _ and -"
        problems: dict[str, str] = {}
        if self.webhook_url and not self._webhook_url_ok(self.webhook_url):
            problems["webhook_url"] = (
                "must be an https URL ending in /webhooks/telegram, on port 443, 80, 88 or 8443"
            )
        elif webhook and not self.webhook_url:
            problems["webhook_url"] = (
                "required when BOT_MODE=webhook: the https URL Telegram posts updates to"
            )
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            problems["webhook_secret"] = f"must be {shape}"
        elif webhook and not secret:
            problems["webhook_secret"] = f"required when BOT_MODE=webhook: {shape}"
        if problems:  # one line per setting; no input is kept, so the secret is never echoed
            details = [
                InitErrorDetails(type=PydanticCustomError("webhook", text), loc=(name,), input="")
                for name, text in problems.items()
            ]
            raise ValidationError.from_exception_data("Settings", details)
        return self

    @staticmethod
    def _webhook_url_ok(url: str) -> bool:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            return False
        return (
            parts.scheme == "https"
            and bool(parts.hostname)
            and port in (None, 443, 80, 88, 8443)
            and parts.path.endswith("/webhooks/telegram")
        )

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        bot_id, sep, secret = token.partition(":")
        if not (sep and bot_id.isdigit() and len(secret) >= 8):
            raise ValueError("must look like 123456:ABC-DEF… (the token from @BotFather)")
        return SecretStr(token)

    @field_validator("telegram_proxy")
    @classmethod
    def _proxy_url(cls, value: SecretStr | None) -> SecretStr | None:
        url = value.get_secret_value().strip() if value is not None else ""
        if not url:
            return None
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            parts.scheme not in ("http", "socks5")
            or not parts.hostname
            or port is None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                "must look like http://[USER:PASSWORD@]HOST:PORT or "
                "socks5://[USER:PASSWORD@]HOST:PORT"
            )
        return SecretStr(url)

    @property
    def telegram_proxy_shown(self) -> str:
        """The proxy without its user and password, for logs."""
        if self.telegram_proxy is None:
            return ""
        parts = urlsplit(self.telegram_proxy.get_secret_value())
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{parts.scheme}://{host}:{parts.port}"

    @field_validator("support_chat_id")
    @classmethod
    def _support_chat(cls, value: int | None) -> int | None:
        if value is not None and not str(value).startswith("-100"):
            raise ValueError(
                "must be the id of a supergroup with topics, such as -1001234567890 "
                "(a group's id starts with -100 once it is a supergroup)"
            )
        return value

    @field_validator("admin_ids", "support_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdigit() and int(part) > 0 for part in parts):
                raise ValueError("must be comma-separated positive Telegram user ids, e.g. 123,456")
            return frozenset(int(part) for part in parts)
        return value

    @field_validator("plans", mode="before")
    @classmethod
    def _parse_plans(cls, value: object) -> object:
        if isinstance(value, str):
            plans = parse_plans(value)
            if not plans:
                raise ValueError("name at least one plan, e.g. 1m:30:199:150:3")
            return plans
        return value

    @field_validator("addon_device", "addon_traffic", mode="before")
    @classmethod
    def _parse_addon(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            return parse_addon(value, traffic=info.field_name == "addon_traffic")
        return value

    @field_validator("offer_url", "privacy_url", "trial_channel_url", mode="before")
    @classmethod
    def _document_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and not (
            value.strip().startswith("https://") and urlsplit(value.strip()).hostname
        ):
            raise ValueError("must be an https:// address")
        return value.strip() if isinstance(value, str) else value

    @field_validator("trial_channel", mode="before")
    @classmethod
    def _channel(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and not re.fullmatch(
            r"@[A-Za-z][A-Za-z0-9_]{3,31}|-100[0-9]{6,16}", value.strip()
        ):
            raise ValueError("must be a channel's @username or its id (-100…)")
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _selling_pairs(self) -> Settings:
        if (self.offer_url is None) != (self.privacy_url is None):
            raise ValueError("OFFER_URL and PRIVACY_URL: set both or neither")
        by_id = self.trial_channel is not None and not self.trial_channel.startswith("@")
        if by_id and self.trial_channel_url is None:
            raise ValueError("TRIAL_CHANNEL_URL is required for a channel given by its id")
        return self

    @property
    def trial_channel_link(self) -> str | None:
        """Where users join TRIAL_CHANNEL: TRIAL_CHANNEL_URL, else t.me/<username>."""
        if self.trial_channel is None:
            return None
        return self.trial_channel_url or f"https://t.me/{self.trial_channel.removeprefix('@')}"

    @field_validator("yookassa_allowed_ips", "web_trusted_proxies", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(str(network) for network in parse_networks(value))
        return value

    @field_validator("grace_ranges", mode="before")
    @classmethod
    def _parse_grace_ranges(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return parse_ranges(value) if value.strip() else TELEGRAM_NETWORKS

    @field_validator("yookassa_api_url", "yookassa_return_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        parts = urlsplit(value.strip())
        if not cls._https_origin(parts):
            raise ValueError(
                "must be the https address users reach the bot's web server at, "
                "e.g. https://vpn.example.com (no path)"
            )
        return f"https://{parts.netloc}"

    @staticmethod
    def _https_origin(parts: SplitResult) -> bool:
        try:
            parts.port  # noqa: B018 (a port out of range raises)
        except ValueError:
            return False
        return (
            parts.scheme == "https"
            and bool(parts.hostname)
            and "@" not in parts.netloc
            and parts.path in ("", "/")
            and not parts.query
            and not parts.fragment
        )

    @field_validator("yookassa_receipt_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and (value.count("@") != 1 or " " in value or len(value) > 254):
            raise ValueError("must be an e-mail address for receipts")
        return value or None

    @field_validator("yookassa_shop_id", "yookassa_secret_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("route_presets_file", mode="before")
    @classmethod
    def _route_presets(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str | Path):
            load_presets(Path(value))  # PresetError (a ValueError) names the file and line
        return value

    @field_validator("games_file", mode="before")
    @classmethod
    def _games(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str | Path):
            load_games(Path(value))  # PresetError (a ValueError) names the file and the game
        return value

    @field_validator("game_ping_interval")
    @classmethod
    def _game_ping_interval(cls, value: int) -> int:
        if 0 < value < 60:
            raise ValueError("must be 0 (no measuring) or at least 60 seconds")
        return value

    @model_validator(mode="after")
    def _reclaim_after_grace(self) -> Settings:
        if self.reclaim_days <= self.grace_days:  # a device in grace still holds its address
            raise ValueError("RECLAIM_DAYS must be greater than GRACE_DAYS")
        return self

    @model_validator(mode="after")
    def _yookassa_pair(self) -> Settings:
        if bool(self.yookassa_shop_id) != (self.yookassa_secret_key is not None):
            raise ValueError("YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY: set both or neither")
        return self

    @property
    def yookassa_enabled(self) -> bool:
        return bool(self.yookassa_shop_id) and self.yookassa_secret_key is not None

    @field_validator("default_dns")
    @classmethod
    def _dns_addresses(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        try:
            for part in parts:
                ipaddress.ip_address(part)
        except ValueError:
            raise ValueError(
                "must be comma-separated IP addresses, e.g. 1.1.1.1, 1.0.0.1"
            ) from None
        if not parts:
            raise ValueError("must name at least one DNS server")
        return ", ".join(parts)

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        try:
            raw = base64.urlsafe_b64decode(value.get_secret_value())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be 32 bytes in URL-safe base64 (44 characters)")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside DATA_DIR."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'vpnservice.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = str(problem["loc"][0]).upper() if problem["loc"] else "settings"
            if problem["type"] == "missing":
                lines.append(f"{name} is required (set it in the environment or .env)")
            else:
                message = str(problem["msg"]).removeprefix("Value error, ")
                lines.append(f"{name}: {message}")
        raise SettingsError("; ".join(lines)) from None
