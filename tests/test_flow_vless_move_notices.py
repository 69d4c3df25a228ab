"""The "we moved your VLESS" message is recorded with the move: a process that dies before it is
sent sends it at its next start, with the link and its QR code, once."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from db.models import VlessDevice
from services.audit import OPERATOR
from tests.conftest import ADMIN_ID, App
from tests.fakes.xray import FakeXray
from tests.netlab import decode_qr, unavailable

SITE = "www.example.com"
USER = 7901
QR_CAPTION = "Отсканируйте этот QR-код в приложении или скопируйте ссылку выше."


class Crash(BaseException):
    """The process dies here (no handler catches it)."""


async def due(app: App) -> list[bool]:
    async with app.services.sessions() as session:
        query = select(VlessDevice.move_notice_due).order_by(VlessDevice.id)
        return list(await session.scalars(query))


async def test_a_move_cut_short_by_a_crash_sends_the_new_link_and_qr_once_at_start(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await app.add_node("de1", subnet="10.9.0.1/24")
    await app.add_node("nl1")
    xray = FakeXray()
    app.services.vless.xray = xray  # type: ignore[assignment]
    for name in ("de1", "nl1"):
        await app.services.vless.enable(name, f"{SITE}:443", SITE, actor_id=OPERATOR)
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/start")
    before = await app.services.vless.add(USER)
    assert await due(app) == [False]

    async def crash(device_id: int) -> bool:
        raise Crash

    monkeypatch.setattr(app.services.vless, "tell_moved", crash)
    sent = len(app.telegram.sent_to(USER))
    with pytest.raises(Crash):
        await app.services.moves.migrate(ADMIN_ID, "de1", "nl1")
    assert len(app.telegram.sent_to(USER)) == sent, "told before the crash"
    assert await due(app) == [True]  # the device is on nl1, its owner not told yet
    assert list(xray.running["nl1"]) == [before.device.email]
    monkeypatch.undo()

    assert await app.services.moves.send_due_notices() == 1  # the next start
    [after] = await app.services.vless.accesses(USER)
    assert after.device.uuid == before.device.uuid and "@nl1.example:443" in after.link
    message, qr = app.telegram.sent_to(USER)[sent:]
    assert (message.text or "").startswith("🔄 Мы перенесли ваш VLESS на сервер nl1.")
    assert after.link in (message.text or "")
    assert qr.photo is not None and qr.text == QR_CAPTION
    assert await due(app) == [False]

    assert await app.services.moves.send_due_notices() == 0  # once: a second start sends nothing
    assert len(app.telegram.sent_to(USER)) == sent + 2
    if shutil.which("zbarimg") is None:
        unavailable("zbarimg (zbar-tools) not installed")
    assert decode_qr(qr.photo.content) == after.link


async def test_a_user_who_blocked_the_bot_is_not_tried_again(app: App) -> None:
    await app.add_node("de1", subnet="10.9.0.1/24")
    await app.add_node("nl1")
    app.services.vless.xray = FakeXray()  # type: ignore[assignment]
    for name in ("de1", "nl1"):
        await app.services.vless.enable(name, f"{SITE}:443", SITE, actor_id=OPERATOR)
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/start")
    await app.services.vless.add(USER)
    app.telegram.blocked.add(USER)

    answer = await app.say(ADMIN_ID, "/migrate de1 nl1")
    assert "VLESS → nl1: перенесено 1 (с теми же id), новую ссылку получили 0." in answer[-1].text
    assert await due(app) == [False]
    assert await app.services.moves.send_due_notices() == 0
