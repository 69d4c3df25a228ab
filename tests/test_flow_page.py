"""The personal page over HTTP (aiohttp's client against the bot's real web server), next to
the chat through the real Dispatcher: the same services, limits and texts, a real database
(SQLite and PostgreSQL), the fake Bot API, YooKassa's fake and in-memory nodes."""

from __future__ import annotations

import logging
import re
import shutil
from datetime import timedelta
from html import unescape
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.page import register_page, set_menu_button
from bot.web import create_web_app, start_web
from db.models import Device, User
from tests.conftest import App
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import decode_qr, unavailable
from tests.page_support import PAGE_USER, PUBLIC_URL, Site, csrf_of
from web.limits import Window

OTHER = PAGE_USER + 1
YOOKASSA_ADDRESS = "185.71.76.5"


# --- helpers ----------------------------------------------------------------------------------


async def mini_app(site: Site, http: aiohttp.ClientSession, user_id: int = PAGE_USER, **kw) -> str:
    """Open the page as Telegram's Mini App does: initData to POST /app/auth; the page's HTML."""
    answer = await http.post(
        "/app/auth", data={"init_data": site.init_data(user_id, **kw)}, allow_redirects=False
    )
    assert answer.status == 303, await answer.text()
    assert answer.headers["Location"] == "/app?signed-in"
    page = await http.get("/app")
    assert page.status == 200
    return await page.text()


async def by_link(site: Site, http: aiohttp.ClientSession, path: str) -> str:
    answer = await http.get(path, allow_redirects=False)
    assert answer.status == 303, await answer.text()
    page = await http.get(answer.headers["Location"])
    assert page.status == 200
    return await page.text()


async def post(
    http: aiohttp.ClientSession, path: str, page: str, **form: str
) -> aiohttp.ClientResponse:
    """A form of the page, sent as the browser sends it (with the page's CSRF token)."""
    return await http.post(path, data={"csrf": csrf_of(page), **form}, allow_redirects=False)


async def followed(http: aiohttp.ClientSession, answer: aiohttp.ClientResponse) -> str:
    assert answer.status == 303, f"{answer.status}: {await answer.text()}"
    page = await http.get(answer.headers["Location"])
    assert page.status == 200
    return await page.text()


def visible(html: str) -> str:
    """The page's text as a reader sees it (tags out, entities back, spaces squeezed)."""
    text = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&#34;", '"'), ("&#39;", "'"), ("&amp;", "&"), ("&lt;", "<")):
        text = text.replace(entity, char)
    return re.sub(r"\s+", " ", text)


async def grant(site: Site, user_id: int = PAGE_USER) -> None:
    await site.app.services.users.grant(user_id, None, create=True)


async def device_rows(app: App, user_id: int = PAGE_USER) -> list[Device]:
    async with app.services.sessions() as session:
        query = select(Device).where(Device.user_id == user_id).order_by(Device.id)
        return list((await session.scalars(query)).all())


async def user_row(app: App, user_id: int = PAGE_USER) -> User:
    user = await app.user(user_id)
    assert user is not None
    return user


def cookie_header(answer: aiohttp.ClientResponse) -> str:
    (value,) = answer.headers.getall("Set-Cookie")
    return value


# --- signing in ---------------------------------------------------------------------------------


async def test_mini_app_init_data_opens_a_session_for_that_user_in_their_language(
    site: Site,
) -> None:
    assert await site.app.user(PAGE_USER) is None
    async with site.client() as http:
        answer = await http.post(
            "/app/auth",
            data={"init_data": site.init_data(language_code="en", first_name="Anna")},
            allow_redirects=False,
        )
        assert answer.status == 303
        cookie = cookie_header(answer)
        for part in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
            assert part in cookie.split("; "), cookie
        page = await http.get("/app")
        html = await page.text()
    assert page.status == 200
    assert "Hello, Anna" in visible(html)
    assert '<html lang="en">' in html
    user = await user_row(site.app)
    assert user.first_name == "Anna" and user.language == "en"
    headers = page.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self' https://telegram.org" in csp
    assert "frame-ancestors https://web.telegram.org" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "telegram-web-app.js" in html, "inside Telegram the page takes its colours"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda site: site.init_data(token="654321:ANOTHER-bot-token"), id="other-bot"),
        pytest.param(lambda site: site.init_data(age=3601), id="stale"),
        pytest.param(lambda site: site.init_data(age=-120), id="from-the-future"),
        pytest.param(
            lambda site: site.init_data().replace(str(PAGE_USER), str(OTHER)), id="other-user"
        ),
        pytest.param(lambda site: site.init_data().split("&hash=")[0], id="no-hash"),
        pytest.param(lambda site: "user=%7B%22id%22%3A1%7D&hash=" + "0" * 64, id="made-up"),
        pytest.param(lambda site: "", id="empty"),
    ],
)
async def test_forged_or_stale_init_data_gets_401_and_changes_nothing(site: Site, forge) -> None:
    async with site.client() as http:
        answer = await http.post(
            "/app/auth",
            data={"init_data": forge(site)},
            headers={"Accept-Language": "ru-RU,ru;q=0.9"},
            allow_redirects=False,
        )
        html = await answer.text()
        assert answer.status == 401
        assert "Set-Cookie" not in answer.headers
        assert "Ссылка не работает" in visible(html)
        assert answer.headers["Content-Security-Policy"]
        assert (await http.get("/app", allow_redirects=False)).status == 401
    assert await site.app.count(User) == 0, "no user was made or touched"


async def test_without_a_session_the_page_is_401_and_explains_the_way_in(site: Site) -> None:
    async with site.client() as http:
        answer = await http.get("/app", headers={"Accept-Language": "en-GB,en;q=0.8"})
        html = await answer.text()
        assert answer.status == 401
        assert "/link" in visible(html) and "Sign in" in visible(html)
        assert 'id="telegram-sign-in"' in html, "inside Telegram its script signs in by itself"
        for path in ("/app/devices/1/config", "/app/devices/1/qr.png"):
            assert (await http.get(path)).status == 401
        refused = await http.post("/app/devices", data={"csrf": "x"}, allow_redirects=False)
        assert refused.status == 401
    assert await site.app.count(Device) == 0


async def test_personal_link_opens_the_page_and_replacing_it_ends_the_old_link_and_sessions(
    site: Site,
) -> None:
    app = site.app
    await app.say(PAGE_USER, "/start")
    (shown,) = await app.say(PAGE_USER, "/link")
    old = await site.personal_link()
    assert f"{PUBLIC_URL}{old}" in (shown.text or "")
    assert shown.button("Открыть")["url"] == f"{PUBLIC_URL}{old}"
    assert await site.personal_link() == old, "the link stays the same until replaced"

    async with site.client() as browser, site.client() as stranger:
        answer = await browser.get(old, allow_redirects=False)
        assert answer.status == 303 and answer.headers["Location"] == "/app?signed-in"
        assert "SameSite=Lax" in cookie_header(answer).split("; ")
        assert "Partitioned" not in cookie_header(answer)
        html = await (await browser.get("/app")).text()
        assert "Вы вошли по личной ссылке" in visible(html)

        await app.press(PAGE_USER, shown, shown.button("Заменить")["callback_data"])
        new = await site.personal_link()
        assert new != old
        assert "Готово: новая ссылка" in (shown.text or "") and f"{PUBLIC_URL}{new}" in shown.text

        refused = await stranger.get(old, allow_redirects=False)
        assert refused.status == 401 and "Set-Cookie" not in refused.headers
        ended = await browser.get("/app")
        assert ended.status == 401, "the session the old link opened ended with it"
        assert "Сессия закончилась" in visible(await ended.text())
        assert "Здравствуйте" in visible(await by_link(site, stranger, new))


@pytest.mark.parametrize(
    "token",
    ["x", "A" * 43, "A" * 44, "%00" * 10, "../app", "A" * 400],
)
async def test_forged_link_tokens_get_401(site: Site, token: str) -> None:
    await site.app.say(PAGE_USER, "/start")
    await site.personal_link()
    async with site.client() as http:
        answer = await http.get(f"/u/{token}", allow_redirects=False)
        assert answer.status in (401, 404)  # a token with "/" is no /u/ address at all
        assert "Set-Cookie" not in answer.headers


async def test_a_real_link_changed_by_one_character_gets_401(site: Site) -> None:
    await site.app.say(PAGE_USER, "/start")
    link = await site.personal_link()
    changed = link[:-1] + ("A" if link[-1] != "A" else "B")
    async with site.client() as http:
        assert (await http.get(changed, allow_redirects=False)).status == 401
        upper = "/u/" + link.removeprefix("/u/").upper()
        assert (await http.get(upper, allow_redirects=False)).status == 401


async def test_a_session_ends_after_its_lifetime(site: Site) -> None:
    async with site.client() as http:
        await mini_app(site, http)
        site.app.clock.advance(hours=site.app.settings.page_session_hours, seconds=1)
        answer = await http.get("/app")
        assert answer.status == 401
        assert "Сессия закончилась" in visible(await answer.text())


async def test_a_banned_user_is_refused_with_their_ban_notice(site: Site) -> None:
    await site.app.say(PAGE_USER, "/start")
    link = await site.personal_link()
    async with site.app.services.sessions.begin() as session:
        (await session.get(User, PAGE_USER)).banned = True
    async with site.client() as http:
        answer = await http.get(link, allow_redirects=False)
        assert answer.status == 403
        assert "заблокировал" in visible(await answer.text())
        assert (await http.post("/app/auth", data={"init_data": site.init_data()})).status == 403


# --- actions: the form token, and the same rules as the chat -----------------------------------


async def test_an_action_without_its_form_token_is_refused_and_changes_nothing(site: Site) -> None:
    await site.app.add_node("nl1")
    await grant(site)
    await grant(site, OTHER)
    async with site.client() as http, site.client() as other:
        page = await mini_app(site, http)
        other_page = await mini_app(site, other, OTHER)
        for form in ({}, {"csrf": ""}, {"csrf": csrf_of(other_page)}, {"csrf": "x" * 5000}):
            answer = await http.post("/app/devices", data=form, allow_redirects=False)
            assert answer.status == 403
            assert "Страница устарела" in visible(await answer.text())
        assert await site.app.count(Device) == 0
        await followed(http, await post(http, "/app/devices", page))
    assert len(await device_rows(site.app)) == 1


async def test_devices_on_the_page_follow_the_chats_limits_names_and_ownership(site: Site) -> None:
    app = site.app
    await app.add_node("nl1", "Amsterdam")
    await grant(site)
    await grant(site, OTHER)
    theirs = (await app.services.devices.add(OTHER, "чужое")).device
    async with site.client() as http:
        page = await mini_app(site, http)
        assert "Пока ни одного" in visible(page)
        page = await followed(http, await post(http, "/app/devices", page))
        assert "Устройство добавлено" in visible(page)
        page = await followed(http, await post(http, "/app/devices", page))
        assert "2 из 2" in visible(page) and 'id="add-device"' not in page
        refused = await post(http, "/app/devices", page)
        assert refused.status == 409
        assert "Больше устройств добавить нельзя: у вас 2 из 2" in visible(await refused.text())
        mine = await device_rows(app)
        assert len(mine) == 2
        first = mine[0]

        for name in ("", "   ", "x" * 33, "bad\u0000name", "line\nbreak"):
            answer = await post(http, f"/app/devices/{first.id}/rename", page, name=name)
            assert answer.status == 400, name
            assert "Имя должно быть от 1 до 32 символов" in visible(await answer.text())
        missing = await post(http, f"/app/devices/{first.id}/rename", page)
        assert missing.status == 400
        assert "Неверные данные в форме" in visible(await missing.text())
        page = await followed(
            http, await post(http, f"/app/devices/{first.id}/rename", page, name=" Телефон ")
        )
        assert "Имя сохранено" in visible(page) and "Телефон" in visible(page)

        for path in (
            f"/app/devices/{theirs.id}/config",
            f"/app/devices/{theirs.id}/qr.png",
            "/app/devices/9999999999/config",
        ):
            answer = await http.get(path)
            assert answer.status == 404
            assert "Такого устройства у вас нет" in visible(await answer.text())
        for action in ("rename", "rekey", "remove"):
            answer = await post(http, f"/app/devices/{theirs.id}/{action}", page, name="моё")
            assert answer.status == 404
        assert (await http.get("/app/devices/abc/config")).status == 404

    async with app.services.sessions() as session:
        stored = await session.get(Device, theirs.id)
        assert stored is not None and stored.name == "чужое"
        assert stored.public_key == theirs.public_key
    assert (await device_rows(app))[0].name == "Телефон"


async def test_new_keys_and_removal_on_the_page_change_the_node_as_the_chat_does(
    site: Site,
) -> None:
    app = site.app
    await app.add_node("nl1")
    await grant(site)
    async with site.client() as http:
        page = await mini_app(site, http)
        page = await followed(http, await post(http, "/app/devices", page))
        (device,) = await device_rows(app)
        before = await (await http.get(f"/app/devices/{device.id}/config")).text()

        page = await followed(http, await post(http, f"/app/devices/{device.id}/rekey", page))
        assert "Новые ключи готовы" in visible(page)
        (rekeyed,) = await device_rows(app)
        assert rekeyed.public_key != device.public_key
        assert list(app.wireguard.nodes["nl1"].peers) == [rekeyed.public_key]
        after = await (await http.get(f"/app/devices/{device.id}/config")).text()
        assert after != before and after.splitlines()[2] == before.splitlines()[2], "same address"

        page = await followed(http, await post(http, f"/app/devices/{device.id}/remove", page))
        assert "Устройство удалено" in visible(page)
    assert await device_rows(app) == []
    assert app.wireguard.nodes["nl1"].peers == {}


async def test_the_config_and_qr_on_the_page_are_the_chats(site: Site) -> None:
    app = site.app
    await app.add_node("nl1", v6="fd00:8::1/64")
    await grant(site)
    sent = await app.say(PAGE_USER, "/get_config")
    chat_config = sent[0].document.content
    (device,) = await device_rows(app)
    async with site.client() as http:
        await mini_app(site, http)
        answer = await http.get(f"/app/devices/{device.id}/config")
        assert answer.status == 200
        assert await answer.read() == chat_config
        assert answer.headers["Content-Disposition"] == 'attachment; filename="nl1.conf"'
        assert answer.headers["Cache-Control"] == "no-store"
        qr = await http.get(f"/app/devices/{device.id}/qr.png")
        assert qr.status == 200 and qr.content_type == "image/png"
        png = await qr.read()
    if shutil.which("zbarimg") is None:
        unavailable("zbarimg (zbar-tools) not installed")
    assert decode_qr(png) == chat_config.decode()


async def test_without_access_the_page_offers_the_trial_and_refuses_devices(site: Site) -> None:
    app = site.app
    await app.add_node("nl1")
    async with site.client() as http:
        page = await mini_app(site, http)
        text = visible(page)
        assert "Доступа нет" in text and "Попробовать бесплатно — 7 дней" in text
        assert "Устройства заработают" in text
        refused = await post(http, "/app/devices", page)
        assert refused.status == 403
        assert "Сейчас у вас нет доступа" in visible(await refused.text())
        assert await app.count(Device) == 0

        page = await followed(http, await post(http, "/app/trial", page))
        assert "Пробный доступ открыт" in visible(page) and "Открыт" in visible(page)
        user = await user_row(app)
        assert user.access_until == app.clock() + timedelta(days=7)
        again = await post(http, "/app/trial", page)
        assert again.status == 409
        assert "Пробный период уже был" in visible(await again.text())


async def test_an_english_user_is_answered_in_english_and_switches_to_russian(site: Site) -> None:
    await site.app.add_node("nl1")
    await grant(site)
    async with site.client() as http:
        page = await mini_app(site, http, language_code="en")
        page = await followed(http, await post(http, "/app/devices", page))
        (device,) = await device_rows(site.app)
        answer = await post(http, f"/app/devices/{device.id}/rename", page, name="x" * 40)
        assert answer.status == 400
        assert "A name is 1 to 32 characters" in visible(await answer.text())
        bad = await post(http, "/app/language", page, language="de")
        assert bad.status == 400
        assert "Something in the form is wrong" in visible(await bad.text())

        page = await followed(http, await post(http, "/app/language", page, language="ru"))
        assert "Готово: язык — русский" in visible(page) and '<html lang="ru">' in page
    user = await user_row(site.app)
    assert user.language == "ru" and user.language_chosen
    (status,) = await site.app.say(PAGE_USER, "/status", language="en")
    assert "Доступ" in (status.text or ""), "the chat speaks the language chosen on the page"


# --- paying -------------------------------------------------------------------------------------


async def test_card_payment_with_auto_renewal_then_one_tap_cancel_is_what_status_shows(
    site: Site,
) -> None:
    app, yookassa = site.app, site.shop.yookassa
    await app.say(PAGE_USER, "/start")
    async with site.client() as http:
        page = await mini_app(site, http)
        answer = await post(http, "/app/pay/card", page, plan="1m", auto="1")
        assert answer.status == 200
        html = await answer.text()
        link = re.search(r'id="pay-link" class="button external" href="([^"]+)"', html)
        assert link, html
        assert "Вы согласились на автопродление" in visible(html)
        payment_id = site.shop.payment_id_of(unescape(link.group(1)))
        (payment,) = await site.shop.payments(PAGE_USER)
        assert payment.save_method and payment.plan_code == "1m"

        yookassa.succeed(payment_id, save_method=True)
        assert await site.shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
        page = await (await http.get("/app")).text()
        text = visible(page)
        assert "Тариф 1 месяц" in text and "Автопродление включено" in text
        assert "199 ₽ · 1 месяц" in text and "оплачен" in text, "the payment history"
        (status,) = await app.say(PAGE_USER, "/status")
        assert "🔁 Автопродление включено." in (status.text or "")

        page = await followed(http, await post(http, "/app/renewal/cancel", page))
        assert "Автопродление отключено" in visible(page)
        assert 'id="cancel-renewal"' not in page
    (status,) = await app.say(PAGE_USER, "/status")
    assert "Автопродление включено" not in (status.text or "")
    assert "Автопродление выключено." in (status.text or "")
    assert all("автопродление" not in b["text"] for b in status.buttons)
    user = await user_row(app)
    assert user.auto_renew is False and user.payment_method_enc is None


async def test_paying_for_a_plan_that_does_not_exist_or_with_odd_fields_is_refused(
    site: Site,
) -> None:
    async with site.client() as http:
        page = await mini_app(site, http)
        for form, status, words in (
            ({"plan": "99y", "auto": "0"}, 404, "Такого тарифа больше нет"),
            ({"plan": "1m", "auto": "yes"}, 400, "Неверные данные в форме"),
            ({"auto": "0"}, 400, "Неверные данные в форме"),
        ):
            answer = await post(http, "/app/pay/card", page, **form)
            assert answer.status == status
            assert words in visible(await answer.text())
    assert await site.shop.payments(PAGE_USER) == []
    assert site.shop.yookassa.payments == {}


async def test_stars_are_paid_inside_telegram_only(site: Site) -> None:
    app = site.app
    await app.say(PAGE_USER, "/start")
    link = await site.personal_link()
    async with site.client() as browser, site.client() as telegram:
        page = await by_link(site, browser, link)
        assert 'id="pay-stars"' not in page
        assert "только в Telegram" in visible(page)
        refused = await post(browser, "/app/pay/stars", page, plan="1m")
        assert refused.status == 403
        assert "только в Telegram" in visible(await refused.text())
        assert app.telegram.invoice_links == {}

        page = await mini_app(site, telegram)
        assert 'id="pay-stars"' in page
        answer = await telegram.post(
            "/app/pay/stars",
            data={"csrf": csrf_of(page), "plan": "3m"},
            headers={"Accept": "application/json"},
        )
        assert answer.status == 200
        url = (await answer.json())["url"]
        invoice = app.telegram.invoice_link(url)
        assert invoice["currency"] == "XTR" and invoice["total_amount"] == 375
        expected = await app.services.payments.stars_invoice(PAGE_USER, "3m")
        assert invoice["payload"] == expected.payload and invoice["subscription_period"] is None
        assert invoice["title"] == "VPN: 3 месяца"
        redirect = await post(telegram, "/app/pay/stars", page, plan="3m")
        assert redirect.status == 303 and redirect.headers["Location"].startswith("https://t.me/")


# --- limits, logs, plain pages -------------------------------------------------------------------


async def test_failed_sign_ins_are_limited_per_address(site: Site) -> None:
    await site.app.say(PAGE_USER, "/start")
    link = await site.personal_link()
    limit = site.limits.failures_per_address.limit
    async with site.client("198.51.100.7") as attacker, site.client("198.51.100.8") as other:
        for _ in range(limit):
            forged = {"init_data": site.init_data(token="654321:ANOTHER-bot-token")}
            assert (await attacker.post("/app/auth", data=forged)).status == 401
        answer = await attacker.get(link, allow_redirects=False)
        assert answer.status == 429, "even a good link waits once an address failed too often"
        assert "Слишком много запросов" in visible(await answer.text())
        assert (await other.get(link, allow_redirects=False)).status == 303


async def test_actions_are_limited_per_user(site: Site) -> None:
    site.limits.actions_per_user = Window(3, 60)
    async with site.client() as http:
        page = await mini_app(site, http)
        for _ in range(3):
            await followed(http, await post(http, "/app/language", page, language="en"))
        await site.app.services.users.set_language(PAGE_USER, "ru")
        answer = await post(http, "/app/language", page, language="en")
        assert answer.status == 429
        assert "Слишком много запросов" in visible(await answer.text())
    assert (await user_row(site.app)).language == "ru", "the refused action changed nothing"


async def test_no_link_token_or_init_data_reaches_the_logs(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the bot runs at INFO (main.py); every line of ours counts
    caplog.set_level(logging.INFO, logger="aiosqlite")  # its DEBUG lines echo each SQL parameter
    await site.app.say(PAGE_USER, "/start")
    link = await site.personal_link()
    token = link.rsplit("/", 1)[1]
    init_data = site.init_data()
    async with site.client() as http:
        await by_link(site, http, link)
        await mini_app(site, http)
        await http.get(link[:-2] + "xy")
        await http.post("/app/auth", data={"init_data": init_data + "0"})
    logged = caplog.text
    assert token not in logged and token[:20] not in logged
    assert init_data.split("hash=")[1] not in logged
    assert "vpn_session=" not in logged
    assert not [r for r in caplog.records if r.name == "aiohttp.access"], "access log is off"
    assert "page sign-in refused (link)" in logged and "page sign-in refused (telegram)" in logged


async def test_static_files_and_unknown_addresses(site: Site) -> None:
    async with site.client() as http:
        css = await http.get("/app/static/page.css")
        assert css.status == 200 and css.content_type == "text/css"
        assert css.headers["Cache-Control"] == "public, max-age=86400"
        assert css.headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/app/static/nothing.js", "/app/nothing", "/app/devices/1/other"):
            answer = await http.get(path, headers={"Accept-Language": "en"})
            assert answer.status == 404
            assert "There is no such page" in visible(await answer.text())


# --- in the chat ----------------------------------------------------------------------------------


async def test_start_status_and_the_menu_button_open_the_mini_app(site: Site) -> None:
    app = site.app
    mini_app_url = f"{PUBLIC_URL}/app"
    (start,) = await app.say(PAGE_USER, "/start")
    assert start.buttons[-1] == {"text": "🗂 Личный кабинет", "web_app": {"url": mini_app_url}}
    await grant(site)
    (start,) = await app.say(PAGE_USER, "/start")
    assert start.buttons[-1]["web_app"] == {"url": mini_app_url}
    (status,) = await app.say(PAGE_USER, "/status")
    assert status.buttons[-1]["web_app"] == {"url": mini_app_url}

    await set_menu_button(app.bot, app.services)
    assert app.telegram.menu_buttons[None] == {
        "type": "web_app",
        "text": "Кабинет",
        "web_app": {"url": mini_app_url},
    }
    await app.say(OTHER, "/start", language="en")
    assert app.telegram.menu_buttons[OTHER]["text"] == "Account"


async def test_without_public_url_there_is_no_page_and_no_button(
    app: App, telegram: FakeTelegram, tmp_path: Path
) -> None:
    await app.services.users.grant(PAGE_USER, None, create=True)
    (start,) = await app.say(PAGE_USER, "/start")
    assert all("web_app" not in button for button in start.buttons)
    (link,) = await app.say(PAGE_USER, "/link")
    assert "Личный кабинет пока не настроен" in (link.text or "")
    await set_menu_button(app.bot, app.services)
    assert telegram.menu_buttons == {}
    web_app = create_web_app(app.services.engine)
    register_page(web_app, app.services, app.bot)
    runner = await start_web(web_app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            assert (await http.get(f"http://{host}:{port}/app")).status == 404
            assert (await http.get(f"http://{host}:{port}/healthz")).status == 200
    finally:
        await runner.cleanup()


async def test_a_failure_inside_shows_an_apology_in_the_users_language_and_is_logged(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(user_id: int) -> None:
        raise RuntimeError("the database went away")

    async with site.client() as http:
        await mini_app(site, http, language_code="en")
        monkeypatch.setattr(site.app.services.account, "account", broken)
        answer = await http.get("/app")
        html = await answer.text()
    assert answer.status == 500
    assert "Something went wrong" in visible(html) and "database" not in html
    assert answer.headers["Content-Security-Policy"]
    assert "page request page.home failed" in caplog.text and "went away" in caplog.text
