"""A loopback Telegram Bot API server for tests: the real aiogram Bot talks to it over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image

JsonDict = dict[str, Any]

# Params that Telegram types as String: never JSON-decoded even when they look like numbers.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "pre_checkout_query_id",
        "shipping_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "description",
        "short_description",
        "name",
        "language_code",
        "title",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
        "error_message",
        "telegram_payment_charge_id",
        "action",
        "file_id",
        "emoji",
        "business_connection_id",
    }
)
_FILE_PARAMS = ("document", "photo", "thumbnail", "certificate")
_SEND_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendinvoice",
        "sendchataction",
        "editmessagetext",
        "editmessagecaption",
        "editmessagereplymarkup",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Update types delivered when allowed_updates was never set (or set to []).
_DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_MAX_POLL_TIMEOUT = 50.0


class ApiError(Exception):
    """A Bot API error answer: HTTP status == error_code."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class UploadedFile:
    """A file the bot uploaded (multipart part)."""

    filename: str
    content: bytes
    content_type: str


@dataclass
class Call:
    """One request the bot made, with its decoded params and the answer it got."""

    method: str
    params: JsonDict
    files: dict[str, UploadedFile]
    at: float
    status: int = 200
    response: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > 160:
            text = text[:157] + "..."
        error = ""
        if not self.ok and isinstance(self.response, dict):
            error = f" -> {self.response.get('description')}"
        return f"{self.method} [{self.status}] {text}{error}"


@dataclass
class Sent:
    """A message the bot sent into a chat; keeps its latest state after edits."""

    message_id: int
    chat_id: int
    method: str
    text: str | None
    reply_markup: JsonDict | None
    document: UploadedFile | None
    photo: UploadedFile | None
    message: JsonDict
    parse_mode: str | None = None
    edits: int = 0
    deleted: bool = False

    @property
    def buttons(self) -> list[JsonDict]:
        """Inline buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button(self, text_contains: str) -> JsonDict:
        """The one inline button whose text contains `text_contains`."""
        found = [b for b in self.buttons if text_contains in b.get("text", "")]
        exact = [b for b in found if b.get("text") == text_contains]
        if len(exact) == 1:
            return exact[0]
        if len(found) != 1:
            texts = [b.get("text") for b in self.buttons]
            raise AssertionError(
                f"{len(found)} buttons contain {text_contains!r} on message "
                f"{self.message_id}; buttons: {texts}"
            )
        return found[0]


@dataclass
class FakeUser:
    """A Telegram account that talks to the bot in a private chat (chat id == user id)."""

    id: int
    first_name: str = "Test"
    username: str | None = None
    language_code: str | None = "ru"
    last_name: str | None = None

    def as_dict(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data

    def chat(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        return data


# --- formatting -------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR = re.compile(r"""\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _entities_error(message: str) -> ApiError:
    return _bad(f"can't parse entities: {message}")


def _parse_html(text: str) -> tuple[str, list[JsonDict]]:
    """Telegram's HTML parse_mode: plain text and entities, or the error Telegram gives."""
    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    stack: list[tuple[str, int, JsonDict]] = []
    entities: list[JsonDict] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            at = len(text[:i].encode())
            end = text.find(">", i)
            if end == -1:
                raise _entities_error(f"Unclosed start tag at byte offset {at}")
            inner = text[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise _entities_error(f'Unexpected end tag "{name}" at byte offset {at}')
                open_name, start, link = stack.pop()
                if name != open_name:
                    raise _entities_error(
                        f'Unmatched end tag at byte offset {at}, expected "</{open_name}>", '
                        f'found "</{name}>"'
                    )
                if pos > start and not (open_name == "a" and "url" not in link):
                    entity = {"type": _HTML_TAGS[open_name], "offset": start, "length": pos - start}
                    entities.append({**entity, **link})
            else:
                match = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", inner)
                name = match.group(1).lower() if match else ""
                if name not in _HTML_TAGS:
                    raise _entities_error(f'Unsupported start tag "{name}" at byte offset {at}')
                attrs = {
                    m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
                    for m in _HTML_ATTR.finditer(inner[len(name) :])
                    if m.group(1)
                }
                extra: JsonDict = {}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _entities_error(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {at}'
                    )
                if name == "a" and attrs.get("href"):
                    extra["url"] = attrs["href"]
                if name == "tg-emoji":
                    if not attrs.get("emoji-id"):
                        raise _entities_error(
                            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {at}'
                        )
                    extra["custom_emoji_id"] = attrs["emoji-id"]
                stack.append((name, pos, extra))
            i = end + 1
            continue
        if char == "&":
            match = re.match(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text[i:])
            if match:
                ref = match.group(1)
                decoded: str | None = _HTML_ENTITIES.get(ref)
                if ref.startswith("#x"):
                    decoded = chr(int(ref[2:], 16))
                elif ref.startswith("#"):
                    decoded = chr(int(ref[1:]))
                if decoded is not None:
                    out.append(decoded)
                    pos += _utf16_len(decoded)
                    i += len(match.group(0))
                    continue
        out.append(char)
        pos += _utf16_len(char)
        i += 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
}


def _parse_markdown_v2(text: str) -> tuple[str, list[JsonDict]]:
    """Telegram's MarkdownV2 rules, approximately: reserved chars must be escaped."""
    out: list[str] = []
    open_markers: list[tuple[str, int]] = []
    i = 0
    in_link_text = False
    while i < len(text):
        char = text[i]
        at = len(text[:i].encode())
        if char == "\\":
            if i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            raise _entities_error(
                f"Character '\\' is reserved and must be escaped at byte offset {at}"
            )
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end == -1:
                raise _entities_error(f"Can't find end of Code entity at byte offset {at}")
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                body = body.split("\n", 1)[1]
            out.append(body.replace("\\`", "`").replace("\\\\", "\\"))
            i = end + len(fence)
            continue
        marker = text[i : i + 2] if text[i : i + 2] in ("__", "||") else char
        if marker in _MD2_MARKERS:
            if open_markers and open_markers[-1][0] == marker:
                open_markers.pop()
            else:
                open_markers.append((marker, at))
            i += len(marker)
            continue
        if char == "[":
            in_link_text = True
            i += 1
            continue
        if char == "]" and in_link_text:
            in_link_text = False
            if text.startswith("(", i + 1):
                end = text.find(")", i + 2)
                if end == -1:
                    raise _entities_error(f"Can't find end of a URL at byte offset {at}")
                i = end + 1
            else:
                i += 1
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if char in _MD2_RESERVED:
            raise _entities_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(char)
        i += 1
    if open_markers:
        marker, at = open_markers[-1]
        raise _entities_error(
            f"Can't find end of {_MD2_MARKERS[marker]} entity at byte offset {at}"
        )
    return "".join(out), []


def _parse_markdown(text: str) -> tuple[str, list[JsonDict]]:
    """Legacy Markdown: *bold* _italic_ `code` [text](url); unclosed entities are an error."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "*_`":
            end = text.find(char, i + 1)
            if end == -1:
                at = len(text[:i].encode())
                raise _entities_error(f"Can't find end of the entity starting at byte offset {at}")
            out.append(text[i + 1 : end])
            i = end + 1
            continue
        out.append(char)
        i += 1
    return "".join(out), []


def _format(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JsonDict]]:
    if isinstance(entities, list):
        return text, [e for e in entities if isinstance(e, dict)]
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise _bad(f"unsupported parse_mode: {parse_mode}")


# --- the server -------------------------------------------------------------------------------

Handler = Callable[[JsonDict, dict[str, UploadedFile]], Any]


class FakeTelegram:
    """A loopback Bot API: hands out updates, records every call, answers like Telegram."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_id: int = 123456,
        bot_username: str = "vpnservice_test_bot",
        rate_limit: int | None = None,
    ) -> None:
        self.token = token
        # Like Telegram's flood control: at most `rate_limit` send/edit calls in any 1 s window
        # (all chats together); above it a 429 with retry_after. None: no limit.
        self.rate_limit = rate_limit
        self.too_many_requests = 0
        self._send_times: deque[float] = deque()
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.base_url = ""
        self.calls: list[Call] = []
        self.blocked: set[int] = set()
        self.users: dict[int, FakeUser] = {}
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.menu_buttons: dict[int | None, JsonDict | None] = {}
        self.webhook: JsonDict | None = None
        self.webhook_error: str | None = None  # setWebhook answers 400 with it, e.g. a bad host
        self._failing: dict[str, list[tuple[int, int | None]]] = {}  # see fail_next
        self.answered_callbacks: dict[str, JsonDict] = {}
        self.answered_pre_checkouts: dict[str, JsonDict] = {}
        self.refunded: set[str] = set()
        self._updates: list[JsonDict] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], Sent | JsonDict] = {}
        self._sent: dict[int, list[Sent]] = {}
        self._arrivals: dict[int, list[Sent]] = {}
        self._arrival_cursor: dict[int, int] = {}
        self._call_cursor = 0
        self._files: dict[str, tuple[UploadedFile, str, str]] = {}
        self._callback_ids: set[str] = set()
        self._pre_checkout_ids: set[str] = set()
        self._charges: dict[str, int] = {}
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "close": lambda p, f: True,
            "logout": lambda p, f: True,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "sendmessage": self._send_message,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendinvoice": self._send_invoice,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
            "answerprecheckoutquery": self._answer_pre_checkout_query,
            "refundstarpayment": self._refund_star_payment,
            "getfile": self._get_file,
        }

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- driving a chat -----------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "ru",
    ) -> FakeUser:
        """Register (or replace) a user; the bot may message only users it knows."""
        user = FakeUser(user_id, first_name, username, language_code)
        self.users[user_id] = user
        return user

    def _as_user(self, user: FakeUser | JsonDict | int) -> FakeUser:
        if isinstance(user, FakeUser):
            found = user
        elif isinstance(user, int):
            found = self.users.get(user) or FakeUser(user)
        else:
            found = FakeUser(
                id=int(user["id"]),
                first_name=str(user.get("first_name", "Test")),
                username=user.get("username"),
                language_code=user.get("language_code"),
                last_name=user.get("last_name"),
            )
        self.users[found.id] = found
        return found

    def add_update(self, update: JsonDict) -> JsonDict:
        """Queue a raw update for getUpdates; assigns update_id."""
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self._notify()
        return update

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def send_text(self, user: FakeUser | JsonDict | int, text: str) -> JsonDict:
        """The user writes `text` to the bot; commands get a bot_command entity."""
        return self.add_update(self.text_update(user, text))

    def text_update(self, user: FakeUser | JsonDict | int, text: str) -> JsonDict:
        """The update for the user writing `text`, not queued: for post_update (webhooks)."""
        sender = self._as_user(user)
        message: JsonDict = {
            "message_id": self._next_message_id(sender.id),
            "from": sender.as_dict(),
            "chat": sender.chat(),
            "date": int(time.time()),
            "text": text,
        }
        command = _BOT_COMMAND.match(text)
        if command:
            length = _utf16_len(command.group(0))
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self._messages[(sender.id, message["message_id"])] = message
        return {"message": message}

    async def post_update(self, url: str, update: JsonDict | bytes, secret: str | None) -> int:
        """Deliver to a webhook the way Telegram does: POST the update as JSON, with the
        secret (None: no header) in X-Telegram-Bot-Api-Secret-Token; returns the HTTP status.
        `url` is where the bot listens (a proxy would stand between it and the https URL)."""
        if isinstance(update, dict):
            update.setdefault("update_id", next(self._update_ids))
            body = json.dumps(update).encode()
        else:
            body = update
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            return response.status

    def press(self, user: FakeUser | JsonDict | int, message: Sent, callback_data: str) -> JsonDict:
        """The user presses a button with `callback_data` (may be forged) on the bot's message."""
        sender = self._as_user(user)
        query_id = str(next(self._ids) * 1_000_003 + sender.id)
        self._callback_ids.add(query_id)
        query: JsonDict = {
            "id": query_id,
            "from": sender.as_dict(),
            "message": json.loads(json.dumps(message.message)),
            "chat_instance": f"ci{message.chat_id}",
            "data": callback_data,
        }
        return self.add_update({"callback_query": query})

    def press_button(
        self, user: FakeUser | JsonDict | int, message: Sent, text_contains: str
    ) -> JsonDict:
        """Press the inline button whose text contains `text_contains`."""
        button = message.button(text_contains)
        data = button.get("callback_data")
        if not isinstance(data, str):
            raise AssertionError(f"button {button.get('text')!r} has no callback_data: {button}")
        return self.press(user, message, data)

    def pre_checkout(
        self,
        user: FakeUser | JsonDict | int,
        payload: str,
        total_amount: int,
        currency: str = "XTR",
    ) -> JsonDict:
        """The user confirms paying an invoice: queue a pre_checkout_query."""
        sender = self._as_user(user)
        query_id = f"pcq{next(self._ids)}"
        self._pre_checkout_ids.add(query_id)
        query = {
            "id": query_id,
            "from": sender.as_dict(),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        return self.add_update({"pre_checkout_query": query})

    def successful_payment(
        self,
        user: FakeUser | JsonDict | int,
        payload: str,
        total_amount: int,
        currency: str = "XTR",
    ) -> JsonDict:
        """Telegram took the money: queue the service message with successful_payment."""
        sender = self._as_user(user)
        charge_id = f"stxFAKE{next(self._ids)}"
        self._charges[charge_id] = sender.id
        message = {
            "message_id": self._next_message_id(sender.id),
            "from": sender.as_dict(),
            "chat": sender.chat(),
            "date": int(time.time()),
            "successful_payment": {
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "" if currency == "XTR" else f"prov{charge_id}",
            },
        }
        return self.add_update({"message": message})

    # --- what the bot did ---------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[Sent]:
        """Messages the bot sent into that chat, in order, each in its latest state."""
        return list(self._sent.get(chat_id, []))

    def mark(self, chat_id: int | None = None) -> None:
        """Forget what came before: later waits see only newer calls/messages."""
        chats = self._arrivals.keys() if chat_id is None else [chat_id]
        for chat in list(chats):
            self._arrival_cursor[chat] = len(self._arrivals.get(chat, []))
        if chat_id is None:
            self._call_cursor = len(self.calls)

    def _recent(self) -> str:
        lines = [c.summary() for c in self.calls if c.method.lower() != "getupdates"][-15:]
        return "\n  ".join(lines) or "(no calls)"

    async def _wait_change(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10) -> Call:
        """Wait for a call (after the last one wait_for returned) that matches."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._call_cursor, len(self.calls)):
                if predicate(self.calls[index]):
                    self._call_cursor = index + 1
                    return self.calls[index]
            if not await self._wait_change(deadline):
                raise AssertionError(
                    f"no matching call within {timeout}s; recent calls:\n  {self._recent()}"
                )

    async def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 10) -> list[Sent]:
        """Wait for `count` more messages (sends or edits) in that chat; returns exactly those."""
        deadline = time.monotonic() + timeout
        while True:
            arrived = self._arrivals.get(chat_id, [])
            start = self._arrival_cursor.get(chat_id, 0)
            if len(arrived) - start >= count:
                self._arrival_cursor[chat_id] = start + count
                return arrived[start : start + count]
            if not await self._wait_change(deadline):
                raise AssertionError(
                    f"chat {chat_id}: {len(arrived) - start} of {count} messages within "
                    f"{timeout}s; recent calls:\n  {self._recent()}"
                )

    def my_commands(self, language_code: str = "", scope: JsonDict | None = None) -> list[JsonDict]:
        return self.commands.get((self._scope_key(scope), language_code), [])

    # --- HTTP ---------------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> tuple[JsonDict, dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, UploadedFile] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = UploadedFile(
                        filename=value.filename or key,
                        content=value.file.read(),
                        content_type=value.content_type,
                    )
                else:
                    raw[key] = value
        params: JsonDict = {}
        for key, value in raw.items():
            if isinstance(value, str) and key not in _STRING_PARAMS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
            else:
                params[key] = value
        files: dict[str, UploadedFile] = {}
        for key in _FILE_PARAMS:
            reference = params.get(key)
            if isinstance(reference, str) and reference.startswith("attach://"):
                upload = uploads.pop(reference.removeprefix("attach://"), None)
                if upload is not None:
                    files[key] = upload
            elif key in uploads:
                files[key] = uploads.pop(key)
        files.update(uploads)
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            unauthorized = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return web.json_response(unauthorized, status=401)
        method = request.match_info["method"]
        at = time.monotonic()
        params, files = await self._read(request)
        call = Call(method=method, params=params, files=files, at=at)
        try:
            name = method.lower()
            chat_id = params.get("chat_id")
            if name in _SEND_METHODS and self.rate_limit is not None:
                self._limit_rate()
            if self._failing.get(name):
                self._fail(name)
            if name in _SEND_METHODS and isinstance(chat_id, int) and chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if name == "getupdates":
                result = await self._get_updates(params, request)
            else:
                handler = self._handlers.get(name)
                if handler is None:
                    raise ApiError(404, "Not Found")
                result = handler(params, files)
            body: JsonDict = {"ok": True, "result": result}
        except ApiError as error:
            call.status = error.code
            body = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
        call.response = body
        self.calls.append(call)
        self._notify()
        return web.json_response(body, status=call.status)

    def fail_next(
        self, method: str, count: int = 1, status: int = 500, retry_after: int | None = None
    ) -> None:
        """The next `count` calls of `method` get HTTP `status` (with `retry_after`, as a 429
        carries it) and change nothing."""
        self._failing.setdefault(method.lower(), []).extend([(status, retry_after)] * count)

    def _fail(self, name: str) -> None:
        status, retry_after = self._failing[name].pop(0)
        if status == 429:
            raise ApiError(status, f"Too Many Requests: retry after {retry_after}", retry_after)
        raise ApiError(status, "Internal Server Error" if status >= 500 else "Bad Request")

    def _limit_rate(self) -> None:
        assert self.rate_limit is not None
        now = time.monotonic()
        window = self._send_times
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.rate_limit:
            self.too_many_requests += 1
            retry_after = max(1, math.ceil(window[0] + 1.0 - now))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        window.append(now)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        for upload, _, file_path in self._files.values():
            if file_path == path:
                return web.Response(body=upload.content, content_type=upload.content_type)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found: file not found"}, status=404
        )

    # --- updates ------------------------------------------------------------------------------

    async def _get_updates(self, params: JsonDict, request: web.Request) -> list[JsonDict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # wakes an older long poll, which then answers 409
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._updates = self._updates[offset:]
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else _DEFAULT_UPDATE_TYPES
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout")
        wait = min(float(timeout), _MAX_POLL_TIMEOUT) if isinstance(timeout, int | float) else 0.0
        deadline = time.monotonic() + wait
        while True:
            self._updates = [u for u in self._updates if self._allowed(u)]
            if self._updates or self._closing:
                return self._updates[:limit]
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            transport = request.transport
            if transport is None or transport.is_closing():
                return []
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            # Wake on news, and now and then to notice a client that went away.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def _allowed(self, update: JsonDict) -> bool:
        kinds = [key for key in update if key != "update_id"]
        return any(kind in self._allowed_updates for kind in kinds)

    def _get_me(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _bot_user(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "VPN Service",
            "username": self.bot_username,
        }

    def _set_webhook(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        url = params.get("url")
        if not url:
            self.webhook = None
            return True
        if not isinstance(url, str) or not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if self.webhook_error is not None:
            raise _bad(self.webhook_error)
        self.webhook = dict(params)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else _DEFAULT_UPDATE_TYPES
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        info: JsonDict = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if isinstance(self.webhook.get("allowed_updates"), list):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    # --- commands and menu --------------------------------------------------------------------

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    @staticmethod
    def _language(params: JsonDict) -> str:
        language = params.get("language_code") or ""
        if not isinstance(language, str) or (language and not re.fullmatch(r"[a-z]{2}", language)):
            raise _bad("invalid language code specified")
        return language

    def _set_my_commands(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand: object expected")
            name = command.get("command")
            if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(params.get("scope")), self._language(params))
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: JsonDict, files: dict[str, UploadedFile]) -> list[JsonDict]:
        key = (self._scope_key(params.get("scope")), self._language(params))
        return self.commands.get(key, [])

    def _delete_my_commands(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        key = (self._scope_key(params.get("scope")), self._language(params))
        self.commands.pop(key, None)
        return True

    def _set_chat_menu_button(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        chat_id = params.get("chat_id")
        button = params.get("menu_button")
        self.menu_buttons[chat_id if isinstance(chat_id, int) else None] = (
            button if isinstance(button, dict) else None
        )
        return True

    def _get_chat_menu_button(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat_id = params.get("chat_id")
        button = self.menu_buttons.get(chat_id if isinstance(chat_id, int) else None)
        return button or {"type": "commands"}

    # --- messages -----------------------------------------------------------------------------

    def _chat(self, params: JsonDict) -> FakeUser:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self.users:
            raise _bad("chat not found")
        return self.users[chat_id]

    @staticmethod
    def _validate_markup(markup: Any) -> JsonDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup  # reply keyboard, remove_keyboard, force_reply
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > 100:
            raise _bad("BUTTONS_TOO_MUCH")
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise _bad(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                text = button.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise _bad("can't parse inline keyboard button: Text must be non-empty")
                actions = [a for a in _INLINE_BUTTON_ACTIONS if a in button]
                if not actions:
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if len(actions) > 1:
                    raise _bad("BUTTON_DATA_INVALID")
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= 64
                ):
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in button and (
                    not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url)
                ):
                    raise _bad("BUTTON_URL_INVALID")
        return markup

    def _text(self, params: JsonDict, key: str, limit: int) -> tuple[str, list[JsonDict]]:
        raw = params.get(key)
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raw = json.dumps(raw)
        entities_key = "entities" if key == "text" else "caption_entities"
        parse_mode = params.get("parse_mode")
        plain, entities = _format(
            raw, parse_mode if isinstance(parse_mode, str) else None, params.get(entities_key)
        )
        if key == "text" and not plain.strip():
            raise _bad("message text is empty")
        if _utf16_len(plain) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return plain, entities

    def _store_file(self, upload: UploadedFile, kind: str) -> tuple[str, str]:
        number = next(self._ids)
        file_id = f"FAKE-{kind}-{number}-{secrets.token_hex(4)}"
        unique_id = f"U{number}"
        suffix = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else "bin"
        self._files[file_id] = (upload, unique_id, f"{kind}s/file_{number}.{suffix}")
        return file_id, unique_id

    def _input_file(
        self, params: JsonDict, files: dict[str, UploadedFile], key: str
    ) -> tuple[UploadedFile, str | None]:
        """The uploaded file for `key`; the second item is a re-used file_id, if any."""
        if key in files:
            upload = files[key]
            if not upload.content:
                raise _bad("file must be non-empty")
            return upload, None
        value = params.get(key)
        if isinstance(value, str) and value in self._files:
            return self._files[value][0], value
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        if isinstance(value, str) and value:
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {key} in the request")

    def _new_message(
        self, chat: FakeUser, method: str, content: JsonDict, markup: JsonDict | None
    ) -> Sent:
        message_id = self._next_message_id(chat.id)
        message: JsonDict = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": chat.chat(),
            "date": int(time.time()),
            **content,
        }
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        sent = Sent(
            message_id=message_id,
            chat_id=chat.id,
            method=method,
            text=content.get("text", content.get("caption")),
            reply_markup=markup,
            document=None,
            photo=None,
            message=message,
        )
        self._messages[(chat.id, message_id)] = sent
        self._sent.setdefault(chat.id, []).append(sent)
        self._arrived(sent)
        return sent

    def _arrived(self, sent: Sent) -> None:
        self._arrivals.setdefault(sent.chat_id, []).append(sent)

    def _send_message(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        text, entities = self._text(params, "text", 4096)
        markup = self._validate_markup(params.get("reply_markup"))
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        sent = self._new_message(chat, "sendMessage", content, markup)
        sent.parse_mode = params.get("parse_mode")
        return sent.message

    def _send_document(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        upload, file_id = self._input_file(params, files, "document")
        if len(upload.content) > 50 * 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        caption, entities = self._text(params, "caption", 1024)
        markup = self._validate_markup(params.get("reply_markup"))
        unique_id = ""
        if file_id is None:
            file_id, unique_id = self._store_file(upload, "document")
        else:
            unique_id = self._files[file_id][1]
        document = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_name": upload.filename,
            "mime_type": upload.content_type or "application/octet-stream",
            "file_size": len(upload.content),
        }
        content: JsonDict = {"document": document}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        sent = self._new_message(chat, "sendDocument", content, markup)
        sent.document = upload
        return sent.message

    def _send_photo(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        upload, file_id = self._input_file(params, files, "photo")
        if len(upload.content) > 10 * 1024 * 1024:
            raise _bad("PHOTO_SAVE_FILE_INVALID")
        try:
            with Image.open(io.BytesIO(upload.content)) as image:
                width, height = image.size
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise _bad("IMAGE_PROCESS_FAILED") from error
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        caption, entities = self._text(params, "caption", 1024)
        markup = self._validate_markup(params.get("reply_markup"))
        if file_id is None:
            file_id, unique_id = self._store_file(upload, "photo")
        else:
            unique_id = self._files[file_id][1]
        sizes: list[JsonDict] = []
        scale = 90 / max(width, height)
        if scale < 1:
            thumb_id, thumb_unique = self._store_file(upload, "photo")
            sizes.append(
                {
                    "file_id": thumb_id,
                    "file_unique_id": thumb_unique,
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": len(upload.content),
                }
            )
        sizes.append(
            {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "width": width,
                "height": height,
                "file_size": len(upload.content),
            }
        )
        content: JsonDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        sent = self._new_message(chat, "sendPhoto", content, markup)
        sent.photo = upload
        return sent.message

    def _send_invoice(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        title = params.get("title")
        description = params.get("description")
        payload = params.get("payload")
        currency = params.get("currency")
        prices = params.get("prices")
        if not isinstance(title, str) or not 1 <= len(title) <= 32:
            raise _bad("INVOICE_TITLE_INVALID" if title else "title is empty")
        if not isinstance(description, str) or not 1 <= len(description) <= 255:
            raise _bad("INVOICE_DESCRIPTION_INVALID" if description else "description is empty")
        if not isinstance(payload, str) or not 1 <= len(payload.encode()) <= 128:
            raise _bad("INVOICE_PAYLOAD_INVALID" if payload else "payload is empty")
        if not isinstance(currency, str) or not currency:
            raise _bad("currency is empty")
        if not isinstance(prices, list) or not prices:
            raise _bad("prices is empty")
        amounts = [p.get("amount") for p in prices if isinstance(p, dict)]
        if len(amounts) != len(prices) or not all(isinstance(a, int) for a in amounts):
            raise _bad("can't parse prices JSON object")
        if currency == "XTR" and (len(prices) != 1 or params.get("provider_token")):
            raise _bad("CURRENCY_TOTAL_AMOUNT_INVALID")
        total = sum(a for a in amounts if isinstance(a, int))
        if total <= 0:
            raise _bad("CURRENCY_TOTAL_AMOUNT_INVALID")
        markup = self._validate_markup(params.get("reply_markup"))
        invoice = {
            "title": title,
            "description": description,
            "start_parameter": params.get("start_parameter") or "",
            "currency": currency,
            "total_amount": total,
        }
        sent = self._new_message(chat, "sendInvoice", {"invoice": invoice}, markup)
        sent.text = description
        return sent.message

    def _find(self, params: JsonDict, missing: str) -> Sent:
        if params.get("inline_message_id"):
            raise _bad(missing)
        chat = self._chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad("message identifier is not specified")
        found = self._messages.get((chat.id, message_id))
        if found is None or (isinstance(found, Sent) and found.deleted):
            raise _bad(missing)
        if not isinstance(found, Sent):
            raise _bad("message can't be edited")
        return found

    def _apply_edit(
        self, sent: Sent, method: str, changes: JsonDict, markup: JsonDict | None
    ) -> JsonDict:
        before = {k: sent.message.get(k) for k in (*changes, "reply_markup")}
        after = {**changes, "reply_markup": markup}
        if json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True):
            raise _bad(_NOT_MODIFIED.removeprefix("Bad Request: "))
        for key, value in after.items():
            if value is None or value == []:
                sent.message.pop(key, None)
            else:
                sent.message[key] = value
        sent.message["edit_date"] = int(time.time())
        sent.reply_markup = markup
        sent.text = sent.message.get("text", sent.message.get("caption"))
        sent.method = method
        sent.edits += 1
        self._arrived(sent)
        return sent.message

    def _edit_message_text(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        sent = self._find(params, "message to edit not found")
        if "text" not in sent.message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._text(params, "text", 4096)
        markup = self._validate_markup(params.get("reply_markup"))
        sent.parse_mode = params.get("parse_mode")
        changes = {"text": text, "entities": entities or None}
        return self._apply_edit(sent, "editMessageText", changes, markup)

    def _edit_message_caption(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        sent = self._find(params, "message to edit not found")
        if "text" in sent.message:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._text(params, "caption", 1024)
        markup = self._validate_markup(params.get("reply_markup"))
        changes = {"caption": caption or None, "caption_entities": entities or None}
        return self._apply_edit(sent, "editMessageCaption", changes, markup)

    def _edit_message_reply_markup(
        self, params: JsonDict, files: dict[str, UploadedFile]
    ) -> JsonDict:
        sent = self._find(params, "message to edit not found")
        markup = self._validate_markup(params.get("reply_markup"))
        return self._apply_edit(sent, "editMessageReplyMarkup", {}, markup)

    def _delete_message(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        chat = self._chat(params)
        message_id = params.get("message_id")
        found = self._messages.get((chat.id, message_id)) if isinstance(message_id, int) else None
        if found is None or (isinstance(found, Sent) and found.deleted):
            raise _bad("message to delete not found")
        if isinstance(found, Sent):
            found.deleted = True
        else:
            del self._messages[(chat.id, found["message_id"])]
        return True

    # --- queries, actions, payments -----------------------------------------------------------

    def _answer_callback_query(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or query_id not in self._callback_ids:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._callback_ids.discard(query_id)
        self.answered_callbacks[query_id] = dict(params)
        return True

    def _send_chat_action(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _answer_pre_checkout_query(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        query_id = params.get("pre_checkout_query_id")
        if not isinstance(query_id, str) or query_id not in self._pre_checkout_ids:
            raise _bad("QUERY_ID_INVALID")
        if "ok" not in params:
            raise _bad('parameter "ok" is required')
        if params.get("ok") is not True and not params.get("error_message"):
            raise _bad("ERROR_MESSAGE_EMPTY")
        self._pre_checkout_ids.discard(query_id)
        self.answered_pre_checkouts[query_id] = dict(params)
        return True

    def _refund_star_payment(self, params: JsonDict, files: dict[str, UploadedFile]) -> bool:
        charge_id = params.get("telegram_payment_charge_id")
        user_id = params.get("user_id")
        if not isinstance(charge_id, str) or self._charges.get(charge_id) != user_id:
            raise _bad("CHARGE_NOT_FOUND")
        if charge_id in self.refunded:
            raise _bad("CHARGE_ALREADY_REFUNDED")
        self.refunded.add(charge_id)
        return True

    def _get_file(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self._files:
            raise _bad("invalid file_id")
        upload, unique_id, path = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_size": len(upload.content),
            "file_path": path,
        }
