"""The personal page's credentials, signed and checked here only: Telegram Mini App `initData`,
personal links (revocable), page sessions and their CSRF tokens."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Role, User
from services.clock import Clock, system_clock
from services.errors import UserNotFound
from services.users import TELEGRAM_ID_MAX, UserService

INIT_DATA_MAX = 4096  # Telegram's initData is well under 1 KB
CLOCK_SKEW = 60  # seconds a signed moment may lie in the future
NONCE_BYTES = 16
MAC_BYTES = 16
LINK_TOKEN_LENGTH = 43  # NONCE_BYTES + MAC_BYTES in unpadded URL-safe base64
SESSION_MAX = 256
NAME_MAX = 256
ALLOWED_TOKEN_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


class Source(enum.StrEnum):
    """How a session was opened: from Telegram (the Mini App) or by the personal link."""

    TELEGRAM = "tg"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class TelegramUser:
    """The user a valid `initData` names (language_code as Telegram sent it)."""

    id: int
    first_name: str
    username: str | None
    language_code: str | None


@dataclass(frozen=True, slots=True)
class Session:
    """A signed page session: whose, opened how and when; `link` ties a link session to the
    link it was opened by (a fingerprint of its nonce), so replacing the link ends it."""

    user_id: int
    source: Source
    issued: int  # Unix seconds
    sid: str
    link: str = ""


class PageService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        users: UserService,
        *,
        link_key: bytes,
        session_key: bytes,
        bot_token: str,
        public_url: str | None,
        session_lifetime: timedelta,
        init_data_max_age: timedelta,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._users = users
        self._link_key = link_key
        self._session_key = session_key
        # the Bot API's secret for initData: HMAC-SHA256 of the token, keyed with "WebAppData"
        self._init_data_key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
        self.public_url = public_url
        self.session_lifetime = session_lifetime
        self._init_data_max_age = init_data_max_age
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """Whether there is a page at all (PUBLIC_URL is set)."""
        return self.public_url is not None

    @property
    def app_url(self) -> str | None:
        """The Mini App's address (the page's entry); None without a page."""
        return f"{self.public_url}/app" if self.public_url is not None else None

    def admits(self, user: User) -> bool:
        """Whether the user may use the page: anyone but a banned user (an admin always)."""
        return not user.banned or self._users.role_of(user) is Role.ADMIN

    # --- Telegram Mini App ----------------------------------------------------------------------

    def telegram_user(self, init_data: str) -> TelegramUser | None:
        """The user of a Mini App's `initData` when Telegram signed it for this bot and it is
        fresh; None for anything else. Checked as the Bot API prescribes: the hash is the
        HMAC-SHA256 of the other fields sorted by name, one `key=value` a line, keyed with the
        bot's WebAppData secret, compared in constant time; then `auth_date` is checked."""
        fields = _query_fields(init_data)
        if fields is None:
            return None
        received = fields.pop("hash", "")
        if len(received) != 64 or not all(char in "0123456789abcdef" for char in received):
            return None
        check_string = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
        expected = hmac.new(self._init_data_key, check_string.encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), received):
            return None
        auth_date = _whole_number(fields.get("auth_date", ""))
        now = int(self._clock().timestamp())
        max_age = self._init_data_max_age.total_seconds()
        if auth_date is None or not now - max_age <= auth_date <= now + CLOCK_SKEW:
            return None
        return _telegram_user(fields.get("user", ""))

    # --- personal links -------------------------------------------------------------------------

    async def personal_link(self, user_id: int) -> str:
        """The user's personal link, made on first use."""
        nonce = await self._link_nonce(user_id, replace=False)
        return self._link_url(nonce)

    async def subscription_link(self, user_id: int) -> str:
        """The user's VLESS subscription link: the same token as the personal link, so
        replacing that one replaces this one too."""
        nonce = await self._link_nonce(user_id, replace=False)
        return self._link_url(nonce, "sub")

    async def replace_link(self, user_id: int) -> str:
        """A new personal link; the old one (and every page session it opened) stops at once."""
        nonce = await self._link_nonce(user_id, replace=True)
        return self._link_url(nonce)

    async def user_by_link(self, token: str) -> User | None:
        """The owner of a personal link token, if it is one this bot signed and still current."""
        raw = _unpadded_b64(token, LINK_TOKEN_LENGTH)
        if raw is None:
            return None
        nonce, mac = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        if not hmac.compare_digest(self._link_mac(nonce), mac):
            return None
        async with self._sessions() as session:
            return await session.scalar(select(User).where(User.link_nonce == _b64(nonce)))

    def _link_url(self, nonce: str, path: str = "u") -> str:
        raw = base64.urlsafe_b64decode(nonce + "==")
        return f"{self.public_url}/{path}/{_b64(raw + self._link_mac(raw))}"

    def _link_mac(self, nonce: bytes) -> bytes:
        return hmac.new(self._link_key, b"link:" + nonce, hashlib.sha256).digest()[:MAC_BYTES]

    async def _link_nonce(self, user_id: int, *, replace: bool) -> str:
        for _ in range(3):
            try:
                async with self._sessions.begin() as session:
                    user = await session.get(User, user_id, with_for_update=True)
                    if user is None:
                        raise UserNotFound(user_id=user_id)
                    if replace or user.link_nonce is None:
                        user.link_nonce = _b64(secrets.token_bytes(NONCE_BYTES))
                    return user.link_nonce
            except IntegrityError:  # 128 random bits met another user's: draw again
                continue
        raise RuntimeError("no free link nonce")

    # --- sessions -------------------------------------------------------------------------------

    def new_session(self, user: User, source: Source) -> tuple[Session, str]:
        """A session for the user and its signed cookie value."""
        link = _fingerprint(user.link_nonce) if source is Source.LINK and user.link_nonce else ""
        session = Session(
            user_id=user.id,
            source=source,
            issued=int(self._clock().timestamp()),
            sid=_b64(secrets.token_bytes(12)),
            link=link,
        )
        payload = f"{session.user_id}.{session.source}.{session.issued}.{session.sid}.{link}"
        return session, f"{payload}.{_b64(self._session_mac(payload))}"

    async def open_session(self, cookie: str) -> tuple[User, Session] | None:
        """The user and session of a cookie this bot signed, still within its lifetime, whose
        user may use the page and, for a link session, whose link is still the current one."""
        session = self._checked_session(cookie)
        if session is None:
            return None
        user = await self._users.get(session.user_id)
        if user is None or not self.admits(user):
            return None
        if session.source is Source.LINK and (
            user.link_nonce is None
            or not hmac.compare_digest(_fingerprint(user.link_nonce), session.link)
        ):
            return None
        return user, session

    def _checked_session(self, cookie: str) -> Session | None:
        if len(cookie) > SESSION_MAX or not cookie.isascii():
            return None
        payload, _, mac = cookie.rpartition(".")
        signature = _unpadded_b64(mac, 43)
        if signature is None or not hmac.compare_digest(self._session_mac(payload), signature):
            return None
        try:
            user_id, source, issued, sid, link = payload.split(".")
            session = Session(int(user_id), Source(source), int(issued), sid, link)
        except ValueError:  # signed by us, so only a cookie of another shape gets here
            return None
        now = int(self._clock().timestamp())
        if not now - self.session_lifetime.total_seconds() < session.issued <= now + CLOCK_SKEW:
            return None
        return session

    def _session_mac(self, payload: str) -> bytes:
        return hmac.new(self._session_key, b"session:" + payload.encode(), hashlib.sha256).digest()

    def csrf_token(self, session: Session) -> str:
        """The token every form of this session carries; useless to anyone without the cookie."""
        mac = hmac.new(self._session_key, b"csrf:" + session.sid.encode(), hashlib.sha256)
        return _b64(mac.digest()[:MAC_BYTES])

    def csrf_valid(self, session: Session, token: str) -> bool:
        return token.isascii() and hmac.compare_digest(self.csrf_token(session), token)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpadded_b64(text: str, length: int) -> bytes | None:
    """The bytes of unpadded URL-safe base64 of exactly `length` characters, written as we
    write them (so no second spelling of one token passes), else None."""
    if len(text) != length or not set(text) <= ALLOWED_TOKEN_CHARACTERS:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None


def _fingerprint(nonce: str) -> str:
    return _b64(hashlib.sha256(nonce.encode()).digest()[:9])


def _query_fields(text: str) -> dict[str, str] | None:
    """The fields of a query string, each named once; None when it is not one."""
    if not 0 < len(text) <= INIT_DATA_MAX:
        return None
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=32
        )
    except (ValueError, UnicodeDecodeError):
        return None
    fields = dict(pairs)
    return fields if len(fields) == len(pairs) else None


def _whole_number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _telegram_user(text: str) -> TelegramUser | None:
    """The `user` field's JSON, within bounds (signed by Telegram, but checked all the same)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    user_id, first_name = data.get("id"), data.get("first_name", "")
    username, language = data.get("username"), data.get("language_code")
    if type(user_id) is not int or not 0 < user_id < TELEGRAM_ID_MAX:
        return None
    if not isinstance(first_name, str) or len(first_name) > NAME_MAX:
        return None
    if username is not None and not (isinstance(username, str) and len(username) <= NAME_MAX):
        return None
    if language is not None and not (isinstance(language, str) and len(language) <= 35):
        return None
    return TelegramUser(user_id, first_name, username or None, language or None)
