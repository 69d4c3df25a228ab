"""The page's credentials: Telegram's initData checked as the Bot API prescribes (with aiogram's
own check as a second opinion), personal link tokens, sessions and CSRF tokens. Anything
forged, stale or malformed is refused, and refused before the database is asked."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from aiogram.utils.web_app import check_webapp_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from db.models import User
from services.pages import PageService, Session, Source, TelegramUser
from tests.page_support import sign_init_data

TOKEN = "123456:TEST-token"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAX_AGE = 3600
USER = {"id": 5005, "first_name": "Анна", "username": "anna", "language_code": "ru"}


class Unusable:
    """Stands for the database and the users: a forged credential must never reach them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was asked ({name}) about a forged credential")


def pages(*, token: str = TOKEN, link_key: bytes = b"L" * 32, now: datetime = NOW) -> PageService:
    return PageService(
        Unusable(),  # type: ignore[arg-type]
        Unusable(),  # type: ignore[arg-type]
        link_key=link_key,
        session_key=b"S" * 32,
        bot_token=token,
        public_url="https://vpn.example",
        session_lifetime=timedelta(hours=1),
        init_data_max_age=timedelta(seconds=MAX_AGE),
        clock=lambda: now,
    )


def fields(age: float = 10, **changes: str) -> dict[str, str]:
    values = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(USER, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(NOW.timestamp() - age)),
        "signature": "ZmFrZS1lZDI1NTE5LXNpZ25hdHVyZQ",
    }
    values.update(changes)
    return values


def signed(age: float = 10, token: str = TOKEN, **changes: str) -> str:
    return sign_init_data(token, fields(age, **changes))


# --- initData -----------------------------------------------------------------------------------


def test_init_data_signed_as_telegram_signs_it_names_the_user() -> None:
    init_data = signed()
    assert check_webapp_signature(TOKEN, init_data), "aiogram's check agrees it is well signed"
    assert pages().telegram_user(init_data) == TelegramUser(5005, "Анна", "anna", "ru")


def test_init_data_of_another_bot_is_refused() -> None:
    init_data = signed(token="654321:OTHER-token")
    assert check_webapp_signature("654321:OTHER-token", init_data)
    assert pages().telegram_user(init_data) is None


@pytest.mark.parametrize("name", ["query_id", "user", "auth_date", "signature"])
def test_any_field_changed_after_signing_is_refused(name: str) -> None:
    original = dict(parse_qsl(signed()))
    original[name] = original[name] + "1" if name != "user" else original[name].replace("5005", "1")
    assert pages().telegram_user(urlencode(original)) is None


def test_a_field_added_or_removed_after_signing_is_refused() -> None:
    original = dict(parse_qsl(signed()))
    assert pages().telegram_user(urlencode({**original, "start_param": "x"})) is None
    without = {name: value for name, value in original.items() if name != "query_id"}
    assert pages().telegram_user(urlencode(without)) is None


def test_a_field_given_twice_is_refused_even_when_the_hash_fits_one_of_them() -> None:
    assert pages().telegram_user(signed() + "&user=" + "x") is None


@pytest.mark.parametrize(
    "hash_value",
    ["", "0" * 64, "a" * 63, "g" * 64, "Z" * 64],
)
def test_a_missing_or_malformed_hash_is_refused(hash_value: str) -> None:
    original = dict(parse_qsl(signed()))
    assert pages().telegram_user(urlencode({**original, "hash": hash_value})) is None


def test_the_hash_in_capitals_is_not_the_hash() -> None:
    original = dict(parse_qsl(signed()))
    assert pages().telegram_user(urlencode({**original, "hash": original["hash"].upper()})) is None


def test_auth_date_is_fresh_up_to_the_max_age_and_a_minute_ahead() -> None:
    assert pages().telegram_user(signed(age=MAX_AGE)) is not None
    assert pages().telegram_user(signed(age=MAX_AGE + 1)) is None, "stale"
    assert pages().telegram_user(signed(age=-60)) is not None, "a clock a minute ahead"
    assert pages().telegram_user(signed(age=-61)) is None, "from the future"


@pytest.mark.parametrize("auth_date", ["", "soon", "-5", "1e9", "1" * 13, "１７９５４３５２００"])
def test_a_malformed_auth_date_is_refused_even_when_signed(auth_date: str) -> None:
    assert pages().telegram_user(signed(auth_date=auth_date)) is None


@pytest.mark.parametrize(
    "user",
    [
        "",
        "[]",
        "not json",
        '{"first_name":"A"}',
        '{"id":"5005","first_name":"A"}',
        '{"id":true,"first_name":"A"}',
        '{"id":0,"first_name":"A"}',
        '{"id":4503599627370496,"first_name":"A"}',
        '{"id":5,"first_name":7}',
        '{"id":5,"first_name":"' + "A" * 257 + '"}',
        '{"id":5,"first_name":"A","username":5}',
    ],
)
def test_a_signed_but_odd_user_is_refused(user: str) -> None:
    assert pages().telegram_user(signed(user=user)) is None


def test_oversized_or_broken_query_strings_are_refused() -> None:
    assert pages().telegram_user("") is None
    assert pages().telegram_user(signed(query_id="q" * 5000)) is None
    assert pages().telegram_user(signed().replace("&", "&&", 1)) is None
    assert pages().telegram_user(signed() + "&%ff=1") is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=800))
def test_any_string_is_refused_as_init_data(text: str) -> None:
    assert pages().telegram_user(text) is None


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.text(max_size=40),
        max_size=6,
    ),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_any_fields_with_any_hash_are_refused(given_fields: dict[str, str], digest: str) -> None:
    given_fields = {**given_fields, "auth_date": str(int(NOW.timestamp())), "hash": digest}
    given_fields["user"] = json.dumps(USER)
    assert pages().telegram_user(urlencode(given_fields)) is None


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_one_character_changed_anywhere_is_refused_unless_the_data_is_the_same(
    data: st.DataObject,
) -> None:
    original = signed()
    at = data.draw(st.integers(0, len(original) - 1))
    char = data.draw(st.characters(codec="utf-8"))
    forged = original[:at] + char + original[at + 1 :]
    found = pages().telegram_user(forged)
    if found is not None:  # only a change that decodes to the very same fields, e.g. %2C -> %2c
        assert parse_qsl(forged) == parse_qsl(original)


# --- personal links ---------------------------------------------------------------------------


def by_link(service: PageService, token: str) -> User | None:
    return asyncio.run(service.user_by_link(token))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_any_string_is_refused_as_a_link_token_without_asking_the_database(token: str) -> None:
    assert by_link(pages(), token) is None


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=43,
        max_size=43,
    )
)
def test_any_token_of_the_right_shape_is_refused_without_asking_the_database(token: str) -> None:
    assert by_link(pages(), token) is None


def test_a_second_spelling_of_a_link_token_is_refused_without_asking_the_database() -> None:
    """The last of 43 base64 characters carries two unused bits: a token with them set
    decodes to the same bytes, yet it is not a token the bot gave out."""
    nonce = bytes(16)
    mac = hmac.new(b"L" * 32, b"link:" + nonce, hashlib.sha256).digest()[:16]
    token = base64.urlsafe_b64encode(nonce + mac).decode().rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    twin = token[:-1] + alphabet[last | 1 if last % 4 == 0 else last & ~3]
    assert twin != token
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(token + "=")
    assert by_link(pages(), twin) is None


def test_a_link_signed_with_another_key_is_refused_without_asking_the_database() -> None:
    nonce = bytes(16)
    mac = hmac.new(b"X" * 32, b"link:" + nonce, hashlib.sha256).digest()[:16]
    token = base64.urlsafe_b64encode(nonce + mac).decode().rstrip("=")
    assert len(token) == 43
    assert by_link(pages(), token) is None


# --- sessions and CSRF tokens -----------------------------------------------------------------


def user(user_id: int = 5005) -> User:
    return User(id=user_id, first_name="Анна", banned=False, link_nonce="AAAAAAAAAAAAAAAAAAAAAA")


def test_a_session_cookie_round_trips_and_its_csrf_token_is_its_own() -> None:
    service = pages()
    session, cookie = service.new_session(user(), Source.LINK)
    assert session.user_id == 5005 and session.source is Source.LINK and session.link
    other, _ = service.new_session(user(), Source.LINK)
    token = service.csrf_token(session)
    assert service.csrf_valid(session, token)
    assert not service.csrf_valid(other, token), "another session's token"
    assert len(cookie) < 200 and cookie.isascii() and ";" not in cookie and " " not in cookie


def opened(service: PageService, cookie: str) -> object:
    return asyncio.run(service.open_session(cookie))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_string_is_refused_as_a_session_without_asking_the_database(cookie: str) -> None:
    assert opened(pages(), cookie) is None


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_session_cookie_changed_anywhere_is_refused(data: st.DataObject) -> None:
    _, cookie = pages().new_session(user(), Source.TELEGRAM)
    at = data.draw(st.integers(0, len(cookie) - 1))
    char = data.draw(st.characters(codec="ascii").filter(lambda c: c != cookie[at]))
    assert opened(pages(), cookie[:at] + char + cookie[at + 1 :]) is None


def test_a_session_past_its_lifetime_or_from_the_future_is_refused() -> None:
    _, cookie = pages().new_session(user(), Source.TELEGRAM)
    assert opened(pages(now=NOW + timedelta(hours=1)), cookie) is None, "an hour old: over"
    _, early = pages(now=NOW + timedelta(minutes=2)).new_session(user(), Source.TELEGRAM)
    assert opened(pages(), early) is None, "issued two minutes from now"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_string_is_refused_as_a_csrf_token(token: str) -> None:
    session = Session(5005, Source.TELEGRAM, int(NOW.timestamp()), "c2lkLXNpZC1zaWQ")
    service = pages()
    assert service.csrf_valid(session, token) == (token == service.csrf_token(session))
