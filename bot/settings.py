"""Settings from the environment and `.env`, checked once at start-up."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and never echoes a secret."""


class Settings(BaseSettings):
    """Everything the operator can set; names match DESIGN.md and `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    support_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_url: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    data_dir: Path = Path("data")
    encryption_key: SecretStr | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    alerts_chat_id: int | None = None
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

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        bot_id, sep, secret = token.partition(":")
        if not (sep and bot_id.isdigit() and len(secret) >= 8):
            raise ValueError("must look like 123456:ABC-DEF… (the token from @BotFather)")
        return SecretStr(token)

    @field_validator("admin_ids", "support_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdigit() and int(part) > 0 for part in parts):
                raise ValueError("must be comma-separated positive Telegram user ids, e.g. 123,456")
            return frozenset(int(part) for part in parts)
        return value

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
