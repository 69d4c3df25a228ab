"""A loopback Telegram Bot API server for tests: the real aiogram Bot talks to it over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import math
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import unquote

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
        "document",
        "photo",
        "video",
        "icon_custom_emoji_id",
    }
)
_FILE_PARAMS = ("document", "photo", "video", "thumbnail", "cover", "certificate")
_SEND_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendvideo",
        "copymessage",
        "forwardmessage",
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
# Stars subscriptions: the only period Telegram allows, and the highest price of one.
SUBSCRIPTION_PERIOD = 30 * 24 * 60 * 60
_MAX_SUBSCRIPTION_STARS = 10000
# The topic icon colors createForumTopic documents; TDLib refuses only colors outside RGB.
TOPIC_ICON_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
# File types TDLib converts between when a file_id is re-sent as another kind; a photo is
# never one of them ("can't use file of type Photo as Document").
_DOCUMENT_LIKE = frozenset({"document", "video"})


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, format="PNG")
    return out.getvalue()


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


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _flag(value: Any) -> bool:
    """A Boolean parameter the way the Bot API's to_bool reads it; missing is false."""
    return value is True or value == 1 or (isinstance(value, str) and value.lower() == "true")


def _link_error(url: str) -> str | None:
    """Why TDLib's check_link refuses `url` where only HTTPS links are allowed (None: fine)."""
    text = url.strip()
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "http", text
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    if scheme.lower() not in ("http", "https"):
        return "Wrong HTTP URL"
    if not host:
        return "URL host is empty"
    if scheme.lower() != "https":
        return "Only HTTPS links are allowed"
    return None


def _clean_name(name: str, limit: int) -> str:
    """TDLib's clean_name: control characters become spaces, ends are trimmed, then truncated."""
    cleaned = "".join(" " if ord(char) < 32 or 127 <= ord(char) < 160 else char for char in name)
    return cleaned.strip()[:limit].strip()


def _field_error(data: JsonDict, name: str, kind: str) -> str:
    """TDLib's JSON error for a required field that is missing or of the wrong type."""
    if name not in data:
        return f'Can\'t find field "{name}"'
    return f'Field "{name}" must be of type {kind}'


def _without_reply(message: JsonDict) -> JsonDict:
    """A copy of a message to nest as reply_to_message: Telegram never nests replies deeper."""
    copy: JsonDict = json.loads(json.dumps(message))
    copy.pop("reply_to_message", None)
    return copy


_DISPOSITION_PARAM = re.compile(r';\s*(name|filename)="((?:[^"\\]|\\.)*)"')


def _form_parts(body: bytes, content_type: str) -> Iterator[FormPart]:
    """The parts of a multipart/form-data body, split by hand (aiohttp's own form reader
    spent more CPU than the bot on each upload it answered). Names and file names come
    percent-encoded, as aiohttp's client writes them."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if boundary is None:
        return
    for chunk in (b"\r\n" + body).split(b"\r\n--" + boundary[1].encode())[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            return
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in head.decode().split("\r\n")[1:]:  # [0]: the end of the delimiter line
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = dict(_DISPOSITION_PARAM.findall(headers.get("content-disposition", "")))
        filename = params.get("filename")
        yield FormPart(
            name=unquote(params.get("name", "")),
            filename=None if filename is None else unquote(filename),
            content_type=headers.get("content-type", "application/octet-stream"),
            content=content,
        )


@dataclass
class FormPart:
    """One field of a multipart/form-data body: a file when it has a file name."""

    name: str
    filename: str | None
    content_type: str
    content: bytes


@dataclass
class UploadedFile:
    """A file the bot uploaded (multipart part)."""

    filename: str
    content: bytes
    content_type: str


@dataclass
class StoredFile:
    """A file the fake holds under a file_id: what the bot uploaded or a user sent."""

    upload: UploadedFile
    unique_id: str
    path: str
    kind: str  # "photo", "document" or "video"
    meta: JsonDict = field(default_factory=dict)  # video width/height/duration


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
    video: UploadedFile | None = None
    message_thread_id: int | None = None  # the forum topic it went to
    source: tuple[int, int] | None = None  # (chat_id, message_id) copied or forwarded

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


@dataclass
class FakeChat:
    """A channel or supergroup (with topics when is_forum); `members` maps user id to status."""

    id: int
    type: str = "channel"  # "channel" or "supergroup"
    title: str = "Test chat"
    username: str | None = None
    is_forum: bool = False
    can_manage_topics: bool = True  # the bot's administrator right to create topics
    members: dict[int, str] = field(default_factory=dict)
    topics: dict[int, JsonDict] = field(default_factory=dict)  # message_thread_id -> ForumTopic

    def chat(self) -> JsonDict:
        """The Chat object Telegram shows for it."""
        data: JsonDict = {"id": self.id, "type": self.type, "title": self.title}
        if self.username is not None:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class StarSubscription:
    """A Stars subscription: keyed by its first payment's charge id, renewed by later ones."""

    charge_id: str
    user_id: int
    payload: str
    amount: int
    expires_at: int
    canceled: bool = False  # set by editUserStarSubscription
    charges: list[str] = field(default_factory=list)  # every payment, the first included


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
        self.chats: dict[int, FakeChat] = {}  # channels and supergroups, see channel()/forum()
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.menu_buttons: dict[int | None, JsonDict | None] = {}
        self.webhook: JsonDict | None = None
        self.webhook_error: str | None = None  # setWebhook answers 400 with it, e.g. a bad host
        self._failing: dict[str, list[tuple[int, int | None]]] = {}  # see fail_next
        self.answered_callbacks: dict[str, JsonDict] = {}
        self.answered_pre_checkouts: dict[str, JsonDict] = {}
        self.refunded: set[str] = set()
        self.invoice_links: dict[str, JsonDict] = {}  # createInvoiceLink: url -> the invoice
        self.star_subscriptions: dict[str, StarSubscription] = {}  # by first charge id
        self.star_transactions: list[JsonDict] = []  # getStarTransactions, oldest first
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
        self._files: dict[str, StoredFile] = {}
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
            "sendvideo": self._send_video,
            "copymessage": self._copy_message,
            "forwardmessage": self._forward_message,
            "sendinvoice": self._send_invoice,
            "createinvoicelink": self._create_invoice_link,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
            "answerprecheckoutquery": self._answer_pre_checkout_query,
            "refundstarpayment": self._refund_star_payment,
            "edituserstarsubscription": self._edit_user_star_subscription,
            "getstartransactions": self._get_star_transactions,
            "getchatmember": self._get_chat_member,
            "createforumtopic": self._create_forum_topic,
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

    def send_text(
        self, user: FakeUser | JsonDict | int, text: str, *, reply_to: Sent | int | None = None
    ) -> JsonDict:
        """The user writes `text` to the bot (replying to one of the chat's messages when
        `reply_to` names it); commands get a bot_command entity."""
        return self.add_update(self.text_update(user, text, reply_to=reply_to))

    def text_update(
        self, user: FakeUser | JsonDict | int, text: str, *, reply_to: Sent | int | None = None
    ) -> JsonDict:
        """The update for the user writing `text`, not queued: for post_update (webhooks)."""
        sender = self._as_user(user)
        message: JsonDict = {
            "message_id": self._next_message_id(sender.id),
            "from": sender.as_dict(),
            "chat": sender.chat(),
            "date": int(time.time()),
            "text": text,
        }
        if reply_to is not None:
            reply_id = reply_to.message_id if isinstance(reply_to, Sent) else reply_to
            replied = self._message_dict(sender.id, reply_id)
            if replied is None:
                raise ValueError(f"chat {sender.id} has no message {reply_id} to reply to")
            message["reply_to_message"] = _without_reply(replied)
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
        *,
        subscription_expiration_date: int | None = None,
        is_recurring: bool = False,
        is_first_recurring: bool = False,
        charge_id: str | None = None,
    ) -> JsonDict:
        """Telegram took the money: queue the service message with successful_payment.

        A subscription's first payment has is_recurring and is_first_recurring and starts a
        StarSubscription; a renewal has is_recurring only and extends the user's latest
        subscription with this payload. The expiration defaults to now + 30 days."""
        sender = self._as_user(user)
        if charge_id is None:
            charge_id = f"stxFAKE{next(self._ids)}"
        if charge_id in self._charges:
            raise ValueError(f"charge id {charge_id!r} was already used")
        if is_first_recurring and not is_recurring:
            raise ValueError("is_first_recurring needs is_recurring")
        if (is_recurring or subscription_expiration_date is not None) and currency != "XTR":
            raise ValueError("only Telegram Stars payments can be subscriptions")
        if subscription_expiration_date is not None and not is_recurring:
            raise ValueError("subscription_expiration_date is only for is_recurring payments")
        now = int(time.time())
        paid: JsonDict = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        if is_recurring:
            expires = subscription_expiration_date or now + SUBSCRIPTION_PERIOD
            if is_first_recurring:
                subscription = StarSubscription(
                    charge_id, sender.id, payload, total_amount, expires, charges=[charge_id]
                )
                self.star_subscriptions[charge_id] = subscription
            else:
                subscription = self._renewed_subscription(sender.id, payload)
                subscription.charges.append(charge_id)
                subscription.expires_at = expires
            paid["subscription_expiration_date"] = expires
            paid["is_recurring"] = True
            if is_first_recurring:
                paid["is_first_recurring"] = True
        paid["telegram_payment_charge_id"] = charge_id
        paid["provider_payment_charge_id"] = "" if currency == "XTR" else f"prov{charge_id}"
        self._charges[charge_id] = sender.id
        if currency == "XTR":
            partner: JsonDict = {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": sender.as_dict(),
                "invoice_payload": payload,
            }
            if is_recurring:
                partner["subscription_period"] = SUBSCRIPTION_PERIOD
            self.star_transactions.append(
                {"id": charge_id, "amount": total_amount, "date": now, "source": partner}
            )
        message = {
            "message_id": self._next_message_id(sender.id),
            "from": sender.as_dict(),
            "chat": sender.chat(),
            "date": now,
            "successful_payment": paid,
        }
        self._messages[(sender.id, message["message_id"])] = message
        return self.add_update({"message": message})

    def _renewed_subscription(self, user_id: int, payload: str) -> StarSubscription:
        found = [
            s
            for s in self.star_subscriptions.values()
            if s.user_id == user_id and s.payload == payload
        ]
        if not found:
            raise ValueError(
                f"user {user_id} has no subscription for {payload!r} to renew; "
                "build its first payment with is_first_recurring=True"
            )
        if found[-1].canceled:
            raise ValueError(
                f"subscription {found[-1].charge_id} was canceled: Telegram does not renew it"
            )
        return found[-1]

    def star_subscription(self, charge_id: str) -> StarSubscription:
        """The subscription that payment `charge_id` (its first or a renewal) belongs to."""
        for subscription in self.star_subscriptions.values():
            if charge_id in subscription.charges:
                return subscription
        raise AssertionError(f"no subscription has payment {charge_id!r}")

    def invoice_link(self, url: str) -> JsonDict:
        """The invoice behind a link createInvoiceLink returned (payload, amount, period)."""
        if url not in self.invoice_links:
            raise AssertionError(f"no invoice link {url!r}; created: {list(self.invoice_links)}")
        return self.invoice_links[url]

    # --- channels, forums and what users send there --------------------------------------------

    def channel(
        self,
        chat_id: int,
        title: str = "Test channel",
        username: str | None = None,
        bot_status: str = "administrator",
    ) -> FakeChat:
        """Register (or replace) a channel; `bot_status` "member" makes its member list
        inaccessible to getChatMember, "left"/"kicked" shut the bot out."""
        return self._add_chat(FakeChat(chat_id, "channel", title, username), bot_status)

    def forum(
        self,
        chat_id: int,
        title: str = "Support",
        username: str | None = None,
        bot_status: str = "administrator",
        can_manage_topics: bool = True,
    ) -> FakeChat:
        """Register (or replace) a supergroup with topics, the bot an administrator there."""
        chat = FakeChat(chat_id, "supergroup", title, username, is_forum=True)
        chat.can_manage_topics = can_manage_topics
        return self._add_chat(chat, bot_status)

    def _add_chat(self, chat: FakeChat, bot_status: str) -> FakeChat:
        if chat.id >= 0:
            raise ValueError(f"channel and supergroup ids are negative, not {chat.id}")
        if bot_status not in MEMBER_STATUSES:
            raise ValueError(f"unknown status {bot_status!r}; one of {sorted(MEMBER_STATUSES)}")
        chat.members[self.bot_id] = bot_status
        self.chats[chat.id] = chat
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Set a user's (or, with bot_id, the bot's) status in a chat; an unknown chat id
        becomes a channel where the bot is an administrator."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {sorted(MEMBER_STATUSES)}")
        chat = self.chats.get(chat_id) or self.channel(chat_id)
        chat.members[user_id] = status

    def add_topic(
        self, chat_id: int, name: str, icon_color: int = TOPIC_ICON_COLORS[0]
    ) -> JsonDict:
        """A topic created in the forum by someone else (not the bot); returns its ForumTopic."""
        chat = self.chats.get(chat_id)
        if chat is None or not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum; register it with forum()")
        return self._new_topic(chat, name, icon_color, None, FakeUser(777000, "Telegram"))

    def forum_topics(self, chat_id: int) -> list[JsonDict]:
        """The forum's topics (ForumTopic objects), oldest first."""
        return [dict(topic) for topic in self.chats[chat_id].topics.values()]

    def send_topic(
        self,
        chat_id: int,
        user: FakeUser | JsonDict | int,
        text: str,
        *,
        message_thread_id: int,
        reply_to: Sent | int | None = None,
    ) -> JsonDict:
        """A member (say staff) writes `text` in a forum topic, optionally replying to a message."""
        return self.add_update(
            self.topic_update(
                chat_id, user, text, message_thread_id=message_thread_id, reply_to=reply_to
            )
        )

    def topic_update(
        self,
        chat_id: int,
        user: FakeUser | JsonDict | int,
        text: str,
        *,
        message_thread_id: int,
        reply_to: Sent | int | None = None,
    ) -> JsonDict:
        """The update for send_topic, not queued: for post_update (webhooks)."""
        content: JsonDict = {"text": text}
        command = _BOT_COMMAND.match(text)
        if command:
            length = _utf16_len(command.group(0))
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        chat = self._forum_chat(chat_id, message_thread_id)
        return self._incoming(self._as_user(user), chat, content, message_thread_id, reply_to)

    def send_media(
        self,
        user: FakeUser | JsonDict | int,
        kind: str,
        content: bytes | None = None,
        *,
        caption: str | None = None,
        filename: str | None = None,
        chat_id: int | None = None,
        message_thread_id: int | None = None,
        reply_to: Sent | int | None = None,
    ) -> JsonDict:
        """The user sends a "photo", "document" or "video" (private chat unless chat_id and
        message_thread_id name a forum topic); its files are then known to getFile."""
        return self.add_update(
            self.media_update(
                user,
                kind,
                content,
                caption=caption,
                filename=filename,
                chat_id=chat_id,
                message_thread_id=message_thread_id,
                reply_to=reply_to,
            )
        )

    def media_update(
        self,
        user: FakeUser | JsonDict | int,
        kind: str,
        content: bytes | None = None,
        *,
        caption: str | None = None,
        filename: str | None = None,
        chat_id: int | None = None,
        message_thread_id: int | None = None,
        reply_to: Sent | int | None = None,
    ) -> JsonDict:
        """The update for send_media, not queued: for post_update (webhooks)."""
        sender = self._as_user(user)
        chat: FakeUser | FakeChat = sender
        if chat_id is not None:
            if message_thread_id is None:
                raise ValueError("a message in a forum needs its message_thread_id")
            chat = self._forum_chat(chat_id, message_thread_id)
        elif message_thread_id is not None:
            raise ValueError("message_thread_id needs the forum's chat_id")
        media = self._user_media(kind, content, filename)
        if caption:
            media["caption"] = caption
        return self._incoming(sender, chat, media, message_thread_id, reply_to)

    def _forum_chat(self, chat_id: int, message_thread_id: int) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None or not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum; register it with forum()")
        if message_thread_id not in chat.topics:
            raise ValueError(f"forum {chat_id} has no topic {message_thread_id}")
        return chat

    def _user_media(self, kind: str, content: bytes | None, filename: str | None) -> JsonDict:
        if kind == "photo":
            image = content if content is not None else _png(640, 480)
            upload = UploadedFile(filename or "photo.jpg", image, "image/jpeg")
            with Image.open(io.BytesIO(image)) as opened:
                width, height = opened.size
            file_id, unique_id = self._store_file(upload, "photo")
            return {"photo": self._photo_sizes(upload, file_id, unique_id, width, height)}
        if kind == "document":
            name = filename or "document.pdf"
            data = content if content is not None else b"%PDF-1.4\n% a document a user sent\n"
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            file_id, unique_id = self._store_file(UploadedFile(name, data, mime), "document")
            document = {"file_id": file_id, "file_unique_id": unique_id, "file_name": name}
            return {"document": {**document, "mime_type": mime, "file_size": len(data)}}
        if kind == "video":
            name = filename or "video.mp4"
            data = content if content is not None else b"\x00\x00\x00\x18ftypmp42" + bytes(64)
            mime = mimetypes.guess_type(name)[0] or "video/mp4"
            meta = {"width": 640, "height": 360, "duration": 5}
            file_id, unique_id = self._store_file(UploadedFile(name, data, mime), "video", meta)
            video = {"file_id": file_id, "file_unique_id": unique_id, **meta}
            return {
                "video": {**video, "file_name": name, "mime_type": mime, "file_size": len(data)}
            }
        raise ValueError(f"kind is photo, document or video, not {kind!r}")

    def _incoming(
        self,
        sender: FakeUser,
        chat: FakeUser | FakeChat,
        content: JsonDict,
        thread: int | None,
        reply_to: Sent | int | None,
    ) -> JsonDict:
        message: JsonDict = {
            "message_id": self._next_message_id(chat.id),
            "from": sender.as_dict(),
            "chat": chat.chat(),
            "date": int(time.time()),
        }
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        replied: JsonDict | None = None
        if reply_to is not None:
            reply_id = reply_to.message_id if isinstance(reply_to, Sent) else reply_to
            replied = self._message_dict(chat.id, reply_id)
            if replied is None:
                raise ValueError(f"chat {chat.id} has no message {reply_id} to reply to")
        elif thread is not None:
            replied = self._message_dict(chat.id, thread)  # the topic's creation message
        if replied is not None:
            message["reply_to_message"] = _without_reply(replied)
        message.update(content)
        self._messages[(chat.id, message["message_id"])] = message
        return {"message": message}

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
        """The commands set for that scope and language."""
        return self.commands.get((self._scope_key(scope), language_code), [])

    # --- HTTP ---------------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> tuple[JsonDict, dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, UploadedFile] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        elif request.content_type == "multipart/form-data":
            for part in _form_parts(await request.read(), request.headers["Content-Type"]):
                if part.filename is None:
                    raw[part.name] = part.content.decode()
                else:
                    uploads[part.name] = UploadedFile(
                        part.filename, part.content, part.content_type
                    )
        elif request.can_read_body:
            raw.update(await request.post())
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
        for stored in self._files.values():
            if stored.path == path:
                upload = stored.upload
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
        button = self._menu_button(params.get("menu_button"))
        chat_id = params.get("chat_id")
        self.menu_buttons[chat_id if isinstance(chat_id, int) else None] = button
        return True

    @staticmethod
    def _menu_button(button: Any) -> JsonDict | None:
        """The Bot API's get_bot_menu_button, then TDLib's set_menu_button checks."""
        if button is None:
            return None
        if not isinstance(button, dict):
            raise _bad("can't parse menu button: MenuButton must be an Object")
        kind = button.get("type")
        if not isinstance(kind, str):
            raise _bad(f"can't parse menu button: {_field_error(button, 'type', 'String')}")
        if kind in ("default", "commands"):
            return {"type": kind}
        if kind != "web_app":
            raise _bad("can't parse menu button: MenuButton has unsupported type")
        text = button.get("text")
        if not isinstance(text, str):
            raise _bad(f"can't parse menu button: {_field_error(button, 'text', 'String')}")
        web_app = button.get("web_app")
        if not isinstance(web_app, dict):
            raise _bad(f"can't parse menu button: {_field_error(button, 'web_app', 'Object')}")
        url = web_app.get("url")
        if not isinstance(url, str):
            raise _bad(f"can't parse menu button: {_field_error(web_app, 'url', 'String')}")
        if not text:
            raise _bad("menu button text must be non-empty")
        reason = _link_error(url)
        if reason is not None:
            raise _bad(f"menu button Web App URL '{url}' is invalid: {reason}")
        return {"type": "web_app", "text": text, "web_app": {"url": url}}

    def _get_chat_menu_button(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat_id = params.get("chat_id")
        button = self.menu_buttons.get(chat_id if isinstance(chat_id, int) else None)
        return button or {"type": "commands"}

    # --- chats --------------------------------------------------------------------------------

    def _lookup_chat(self, chat_id: Any) -> FakeUser | FakeChat | None:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            found = [c for c in self.chats.values() if (c.username or "").lower() == name]
            return found[0] if found else None
        if _is_int(chat_id):
            return self.users.get(chat_id) or self.chats.get(chat_id)
        return None

    def _chat(self, params: JsonDict, key: str = "chat_id") -> FakeUser | FakeChat:
        """The chat the bot acts in: a known user's private chat, or a chat it may write to."""
        chat_id = params.get(key)
        if chat_id is None or chat_id == "":
            raise _bad(f"{key} is empty")
        chat = self._lookup_chat(chat_id)
        if chat is None:
            raise _bad("chat not found")
        self._check_access(chat, write=True)
        return chat

    def _check_access(self, chat: FakeUser | FakeChat, write: bool) -> None:
        if isinstance(chat, FakeUser):
            return
        status = chat.members.get(self.bot_id, "left")
        kind = "channel" if chat.type == "channel" else "supergroup"
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if write and kind == "channel" and status not in ("administrator", "creator"):
            raise _bad("need administrator rights in the channel chat")

    def _get_chat_member(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        user_id = params.get("user_id")
        if not _is_int(user_id) or user_id <= 0:
            raise _bad("invalid user_id specified")
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        chat = self._lookup_chat(chat_id)
        if chat is None:
            raise _bad("chat not found")
        if isinstance(chat, FakeUser):
            status = "member" if user_id in (chat.id, self.bot_id) else "left"
            return self._chat_member(user_id, status, None)
        bot_status = chat.members.get(self.bot_id, "left")
        if user_id != self.bot_id or bot_status == "kicked":
            # The Bot API asks for the right to read members, except about the bot itself.
            self._check_access(chat, write=False)
            if chat.type == "channel" and bot_status not in ("administrator", "creator"):
                raise _bad("member list is inaccessible")
        return self._chat_member(user_id, chat.members.get(user_id, "left"), chat)

    def _chat_member(self, user_id: int, status: str, chat: FakeChat | None) -> JsonDict:
        if user_id == self.bot_id:
            user = self._bot_user()
        else:
            user = (self.users.get(user_id) or FakeUser(user_id)).as_dict()
            user.pop("language_code", None)  # only updates from the user carry it
        member: JsonDict = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            is_bot = user_id == self.bot_id
            rights = (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
                "can_send_welcome_messages",
            )
            member.update({"can_be_edited": False, "is_anonymous": False})
            member.update(dict.fromkeys(rights, True))
            member["can_promote_members"] = False
            if chat is not None and chat.type == "channel":
                member.update({"can_post_messages": True, "can_edit_messages": True})
            elif chat is not None:
                topics = chat.can_manage_topics if is_bot else True
                member.update({"can_pin_messages": True, "can_manage_topics": topics})
        elif status == "restricted":
            restrictions = (
                "can_send_messages",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_send_polls",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_react_to_messages",
                "can_edit_tag",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_manage_topics",
            )
            member.update({"is_member": True, **dict.fromkeys(restrictions, False)})
            member["until_date"] = 0
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # --- forum topics -------------------------------------------------------------------------

    def _create_forum_topic(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        if not isinstance(chat, FakeChat) or not chat.is_forum:
            raise _bad("the chat is not a forum")
        status = chat.members.get(self.bot_id)
        if status != "creator" and not (status == "administrator" and chat.can_manage_topics):
            raise _bad("not enough rights to create a topic")
        raw = params.get("name")
        name = _clean_name(raw if isinstance(raw, str) else "", 128)
        if not name:
            raise _bad("title must be non-empty")
        color = params.get("icon_color", 0)
        color = color if _is_int(color) else 0
        if not 0 <= color <= 0xFFFFFF:
            raise _bad("invalid icon color specified")
        if color not in TOPIC_ICON_COLORS:
            # The Bot API sends 0 when the bot gives no color; Telegram then picks one itself.
            color = TOPIC_ICON_COLORS[0]
        emoji = params.get("icon_custom_emoji_id")
        return self._new_topic(chat, name, color, emoji or None, None)

    def _new_topic(
        self,
        chat: FakeChat,
        name: str,
        color: int,
        emoji: str | None,
        creator: FakeUser | None,
    ) -> JsonDict:
        thread = self._next_message_id(chat.id)
        topic: JsonDict = {"message_thread_id": thread, "name": name, "icon_color": color}
        created: JsonDict = {"name": name, "icon_color": color}
        if emoji:
            topic["icon_custom_emoji_id"] = emoji
            created["icon_custom_emoji_id"] = emoji
        self._messages[(chat.id, thread)] = {
            "message_id": thread,
            "from": creator.as_dict() if creator is not None else self._bot_user(),
            "chat": chat.chat(),
            "date": int(time.time()),
            "message_thread_id": thread,
            "is_topic_message": True,
            "forum_topic_created": created,
        }
        chat.topics[thread] = topic
        return dict(topic)

    def _thread(self, chat: FakeUser | FakeChat, params: JsonDict) -> int | None:
        """The forum topic named by message_thread_id; 0 or garbage means none, as in the
        Bot API's get_message_id."""
        thread = params.get("message_thread_id")
        if not _is_int(thread) or thread <= 0:
            return None
        if not isinstance(chat, FakeChat) or thread not in chat.topics:
            raise _bad("message thread not found")
        return thread

    def _reply_to(
        self, chat: FakeUser | FakeChat, params: JsonDict, thread: int | None
    ) -> JsonDict | None:
        """reply_to_message for a send: the message in reply_parameters, else a topic's root."""
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, allow = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            message_id = params.get("reply_to_message_id")
            allow = params.get("allow_sending_without_reply")
        if _is_int(message_id) and message_id > 0:
            found = self._message_dict(chat.id, message_id)
            if found is not None:
                return _without_reply(found)
            if not _flag(allow):
                raise _bad("message to be replied not found")
        if thread is not None:
            root = self._message_dict(chat.id, thread)
            return _without_reply(root) if root is not None else None
        return None

    def _message_dict(self, chat_id: int, message_id: int) -> JsonDict | None:
        found = self._messages.get((chat_id, message_id))
        if isinstance(found, Sent):
            return None if found.deleted else found.message
        return found

    # --- messages -----------------------------------------------------------------------------

    @staticmethod
    def _validate_markup(markup: Any, private: bool = True) -> JsonDict | None:
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
                if "web_app" in button:
                    FakeTelegram._validate_web_app_button(button["web_app"], private)
        return markup

    @staticmethod
    def _validate_web_app_button(web_app: Any, private: bool) -> None:
        if not isinstance(web_app, dict):
            raise _bad(
                'can\'t parse inline keyboard button: Field "web_app" must be of type Object'
            )
        url = web_app.get("url")
        if not isinstance(url, str):
            error = _field_error(web_app, "url", "String")
            raise _bad(f"can't parse inline keyboard button: {error}")
        reason = _link_error(url)
        if reason is not None:
            raise _bad(f"inline keyboard button Web App URL '{url}' is invalid: {reason}")
        if not private:
            raise _bad("BUTTON_TYPE_INVALID")  # Web App buttons work in private chats only

    def _markup(self, chat: FakeUser | FakeChat, params: JsonDict) -> JsonDict | None:
        return self._validate_markup(params.get("reply_markup"), isinstance(chat, FakeUser))

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

    def _caption(self, params: JsonDict) -> JsonDict:
        """caption and caption_entities for a media message (1024 characters at most)."""
        caption, entities = self._text(params, "caption", 1024)
        content: JsonDict = {}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    def _store_file(
        self, upload: UploadedFile, kind: str, meta: JsonDict | None = None
    ) -> tuple[str, str]:
        number = next(self._ids)
        file_id = f"FAKE-{kind}-{number}-{secrets.token_hex(4)}"
        unique_id = f"U{number}"
        suffix = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else "bin"
        path = f"{kind}s/file_{number}.{suffix}"
        self._files[file_id] = StoredFile(upload, unique_id, path, kind, dict(meta or {}))
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
        if isinstance(value, str) and value.strip() in self._files:
            stored = self._files[value.strip()]
            if stored.kind != key and not {stored.kind, key} <= _DOCUMENT_LIKE:
                raise _bad(f"can't use file of type {stored.kind.title()} as {key.title()}")
            return stored.upload, value.strip()
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        if isinstance(value, str) and value:
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {key} in the request")

    def _new_message(
        self,
        chat: FakeUser | FakeChat,
        method: str,
        content: JsonDict,
        markup: JsonDict | None,
        *,
        thread: int | None = None,
        reply_to: JsonDict | None = None,
    ) -> Sent:
        message_id = self._next_message_id(chat.id)
        message: JsonDict = {"message_id": message_id}
        if isinstance(chat, FakeChat) and chat.type == "channel":
            message["sender_chat"] = chat.chat()
        else:
            message["from"] = self._bot_user()
        message.update({"chat": chat.chat(), "date": int(time.time())})
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
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
            message_thread_id=thread,
        )
        for kind in ("photo", "document", "video"):
            media = content.get(kind)
            if isinstance(media, list):
                media = media[-1] if media else None
            stored = self._files.get(media["file_id"]) if isinstance(media, dict) else None
            if stored is not None:
                setattr(sent, kind, stored.upload)
        self._messages[(chat.id, message_id)] = sent
        self._sent.setdefault(chat.id, []).append(sent)
        self._arrived(sent)
        return sent

    def _arrived(self, sent: Sent) -> None:
        self._arrivals.setdefault(sent.chat_id, []).append(sent)

    def _send(
        self,
        chat: FakeUser | FakeChat,
        params: JsonDict,
        method: str,
        content: JsonDict,
        markup: JsonDict | None,
    ) -> Sent:
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params, thread)
        return self._new_message(chat, method, content, markup, thread=thread, reply_to=reply_to)

    def _send_message(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        text, entities = self._text(params, "text", 4096)
        markup = self._markup(chat, params)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        sent = self._send(chat, params, "sendMessage", content, markup)
        sent.parse_mode = params.get("parse_mode")
        return sent.message

    def _keep_file(
        self, upload: UploadedFile, file_id: str | None, kind: str, meta: JsonDict | None = None
    ) -> tuple[str, str]:
        """file_id and file_unique_id: those of a re-sent file, or a new upload stored."""
        if file_id is None:
            return self._store_file(upload, kind, meta)
        return file_id, self._files[file_id].unique_id

    def _send_document(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        upload, file_id = self._input_file(params, files, "document")
        if len(upload.content) > 50 * 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        caption = self._caption(params)
        markup = self._markup(chat, params)
        self._thread(chat, params)
        file_id, unique_id = self._keep_file(upload, file_id, "document")
        document = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_name": upload.filename,
            "mime_type": upload.content_type or "application/octet-stream",
            "file_size": len(upload.content),
        }
        sent = self._send(chat, params, "sendDocument", {"document": document, **caption}, markup)
        return sent.message

    def _photo_sizes(
        self, upload: UploadedFile, file_id: str, unique_id: str, width: int, height: int
    ) -> list[JsonDict]:
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
        return sizes

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
        caption = self._caption(params)
        markup = self._markup(chat, params)
        self._thread(chat, params)
        file_id, unique_id = self._keep_file(upload, file_id, "photo")
        sizes = self._photo_sizes(upload, file_id, unique_id, width, height)
        sent = self._send(chat, params, "sendPhoto", {"photo": sizes, **caption}, markup)
        return sent.message

    def _send_video(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        upload, file_id = self._input_file(params, files, "video")
        if len(upload.content) > 50 * 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        caption = self._caption(params)
        markup = self._markup(chat, params)
        self._thread(chat, params)
        if file_id is not None:
            meta = dict(self._files[file_id].meta)
        else:
            meta = {}
            for key in ("width", "height", "duration"):
                value = params.get(key)
                meta[key] = max(value, 0) if _is_int(value) else 0
        file_id, unique_id = self._keep_file(upload, file_id, "video", meta)
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename)[0] or "video/mp4"
        video = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "width": meta.get("width", 0),
            "height": meta.get("height", 0),
            "duration": meta.get("duration", 0),
            "file_name": upload.filename,
            "mime_type": mime,
            "file_size": len(upload.content),
        }
        sent = self._send(chat, params, "sendVideo", {"video": video, **caption}, markup)
        return sent.message

    def _source(self, params: JsonDict, what: str) -> tuple[FakeUser | FakeChat, JsonDict]:
        """The message copyMessage/forwardMessage take: from_chat_id and message_id."""
        from_chat_id = params.get("from_chat_id")
        if from_chat_id is None or from_chat_id == "":
            raise _bad("from_chat_id is empty")
        chat = self._lookup_chat(from_chat_id)
        if chat is None:
            raise _bad("chat not found")
        self._check_access(chat, write=False)
        message_id = params.get("message_id")
        if not _is_int(message_id) or message_id <= 0:
            raise _bad("message identifier is not specified")
        message = self._message_dict(chat.id, message_id)
        if message is None:
            raise _bad(f"message to {what} not found")
        return chat, message

    @staticmethod
    def _copyable(message: JsonDict) -> JsonDict | None:
        """The content a copy or forward repeats; None for service messages and invoices."""
        keys = ("text", "entities", "photo", "document", "video", "caption", "caption_entities")
        content = {k: json.loads(json.dumps(message[k])) for k in keys if k in message}
        return (
            content if any(k in content for k in ("text", "photo", "document", "video")) else None
        )

    def _copy_message(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        self._validate_markup(params.get("reply_markup"))  # parsed before anything else
        _, message = self._source(params, "copy")
        content = self._copyable(message)
        if content is None:
            raise _bad("message can't be copied")
        chat = self._chat(params)
        markup = self._markup(chat, params)
        if "text" not in content and params.get("caption") is not None:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(params))
        sent = self._send(chat, params, "copyMessage", content, markup)
        sent.source = (message["chat"]["id"], message["message_id"])
        return {"message_id": sent.message_id}

    def _forward_message(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        source_chat, message = self._source(params, "forward")
        content = self._copyable(message)
        if content is None:
            raise _bad("message can't be forwarded")
        chat = self._chat(params)
        origin = message.get("forward_origin")
        if origin is None and isinstance(source_chat, FakeChat) and source_chat.type == "channel":
            origin = {
                "type": "channel",
                "chat": source_chat.chat(),
                "message_id": message["message_id"],
                "date": message["date"],
            }
        elif origin is None:
            origin = {"type": "user", "sender_user": message["from"], "date": message["date"]}
        content["forward_origin"] = origin
        sent = self._send(chat, params, "forwardMessage", content, None)
        sent.source = (source_chat.id, message["message_id"])
        return sent.message

    def _invoice(self, params: JsonDict) -> JsonDict:
        """The checks sendInvoice and createInvoiceLink share; the invoice's fields."""
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
        return {
            "title": title,
            "description": description,
            "payload": payload,
            "currency": currency,
            "prices": prices,
            "total_amount": total,
        }

    def _send_invoice(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params)
        fields = self._invoice(params)
        markup = self._markup(chat, params)
        invoice = {
            "title": fields["title"],
            "description": fields["description"],
            "start_parameter": params.get("start_parameter") or "",
            "currency": fields["currency"],
            "total_amount": fields["total_amount"],
        }
        sent = self._send(chat, params, "sendInvoice", {"invoice": invoice}, markup)
        sent.text = fields["description"]
        return sent.message

    def _create_invoice_link(self, params: JsonDict, files: dict[str, UploadedFile]) -> str:
        invoice = self._invoice(params)
        period = params.get("subscription_period")
        # The Bot API reads it as an integer of at least 0, where 0 means no subscription.
        period = period if _is_int(period) and period > 0 else None
        if period is not None:
            if period != SUBSCRIPTION_PERIOD or invoice["currency"] != "XTR":
                raise _bad("SUBSCRIPTION_PERIOD_INVALID")
            if invoice["total_amount"] > _MAX_SUBSCRIPTION_STARS:
                raise _bad("CURRENCY_TOTAL_AMOUNT_INVALID")
        url = f"https://t.me/${secrets.token_urlsafe(12)}"
        self.invoice_links[url] = {**invoice, "url": url, "subscription_period": period}
        return url

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

    def _edit_markup(self, sent: Sent, params: JsonDict) -> JsonDict | None:
        return self._validate_markup(params.get("reply_markup"), sent.chat_id in self.users)

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
        markup = self._edit_markup(sent, params)
        sent.parse_mode = params.get("parse_mode")
        changes = {"text": text, "entities": entities or None}
        return self._apply_edit(sent, "editMessageText", changes, markup)

    def _edit_message_caption(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        sent = self._find(params, "message to edit not found")
        if "text" in sent.message:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._text(params, "caption", 1024)
        markup = self._edit_markup(sent, params)
        changes = {"caption": caption or None, "caption_entities": entities or None}
        return self._apply_edit(sent, "editMessageCaption", changes, markup)

    def _edit_message_reply_markup(
        self, params: JsonDict, files: dict[str, UploadedFile]
    ) -> JsonDict:
        sent = self._find(params, "message to edit not found")
        markup = self._edit_markup(sent, params)
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
        paid = next((t for t in self.star_transactions if t["id"] == charge_id), None)
        if paid is not None:
            refund = {**paid["source"]}
            refund.pop("subscription_period", None)
            self.star_transactions.append(
                {
                    "id": charge_id,
                    "amount": paid["amount"],
                    "date": int(time.time()),
                    "receiver": refund,
                }
            )
        return True

    def _edit_user_star_subscription(
        self, params: JsonDict, files: dict[str, UploadedFile]
    ) -> bool:
        user_id = params.get("user_id")
        if not _is_int(user_id) or user_id <= 0:
            raise _bad("invalid user_id specified")
        charge_id = params.get("telegram_payment_charge_id")
        found = self.star_subscriptions.get(charge_id) if isinstance(charge_id, str) else None
        if found is None or found.user_id != user_id:
            raise _bad("CHARGE_ID_INVALID")
        found.canceled = _flag(params.get("is_canceled"))
        return True

    def _get_star_transactions(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        offset = params.get("offset")
        offset = max(offset, 0) if _is_int(offset) else 0
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if _is_int(limit) else 100
        return {"transactions": self.star_transactions[offset : offset + limit]}

    def _get_file(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self._files:
            raise _bad("invalid file_id")
        stored = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.upload.content),
            "file_path": stored.path,
        }
