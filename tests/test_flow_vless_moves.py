"""VLESS devices through /migrate and /drain: moved with their ids to a node that runs VLESS,
their owners sent the new link, the admin told when they cannot move."""

from __future__ import annotations

import pytest

from services.audit import OPERATOR
from tests.conftest import ADMIN_ID, App
from tests.fakes.xray import FakeXray

SITE = "www.example.com"


async def with_vless(app: App, *names: str) -> FakeXray:
    """Xray on every node (a fake) and VLESS enabled on the nodes `names`."""
    xray = FakeXray()
    app.services.vless.xray = xray  # type: ignore[assignment]
    for name in names:
        await app.services.vless.enable(name, f"{SITE}:443", SITE, actor_id=OPERATOR)
    return xray


async def test_migrate_moves_vless_devices_with_their_ids_and_sends_the_new_link(
    app: App,
) -> None:
    await app.add_node("de1", subnet="10.9.0.1/24")
    nl1 = await app.add_node("nl1")
    xray = await with_vless(app, "de1", "nl1")
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(7801, None, create=True)
    await app.say(7801, "/start")
    before = await app.services.vless.add(7801)  # on de1: fewest devices, then name
    assert "@de1.example:443" in before.link

    answer = await app.say(ADMIN_ID, "/migrate de1 nl1")
    assert "VLESS → nl1: перенесено 1 (с теми же id), новую ссылку получили 1." in answer[-1].text
    [after] = await app.services.vless.accesses(7801)
    assert after.device.uuid == before.device.uuid and after.device.node_id == nl1.id
    assert "@nl1.example:443" in after.link
    assert list(xray.running["nl1"]) == [after.device.email]
    assert xray.running["de1"] == {} and xray.cut["de1"] == [after.device.email]
    *_, message, qr = app.telegram.sent_to(7801)
    notice = message.text or ""
    assert notice.startswith("🔄 Мы перенесли ваш VLESS на сервер nl1.")
    assert after.link in notice
    assert (
        qr.photo is not None
        and qr.text == "Отсканируйте этот QR-код в приложении или скопируйте ссылку выше."
    )


async def test_migrate_to_a_node_without_vless_takes_them_to_another_vless_node(
    app: App,
) -> None:
    await app.add_node("de1", subnet="10.9.0.1/24")
    await app.add_node("fi1", subnet="10.10.0.1/24")
    await app.add_node("nl1")
    xray = await with_vless(app, "de1", "nl1")
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(7802, None, create=True)
    await app.say(7802, "/start")
    before = await app.services.vless.add(7802)

    answer = await app.say(ADMIN_ID, "/migrate de1 fi1")  # fi1 runs no VLESS
    assert "VLESS → nl1: перенесено 1" in answer[-1].text
    [after] = await app.services.vless.accesses(7802)
    assert after.device.uuid == before.device.uuid
    assert list(xray.running["nl1"]) == [after.device.email]


async def test_drain_tells_the_admin_when_vless_devices_cannot_move(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    nl2 = await app.add_node("nl2", "Amsterdam", subnet="10.9.0.1/24")
    xray = await with_vless(app, "nl1")
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(7803, None, create=True)
    await app.say(7803, "/start")
    before = await app.services.vless.add(7803)

    answer = await app.say(ADMIN_ID, "/drain nl1")
    assert answer[-1].text.endswith(
        "⚠️ VLESS-устройства (1) остаются на nl1: другого сервера с VLESS нет. Включите VLESS "
        "на одном из них (scripts/run.sh node vless NAME …) и повторите команду."
    )
    assert await node_of(app, 7803) == before.device.node_id
    assert list(xray.running["nl1"]) == [before.device.email]

    await with_vless(app, "nl2")
    app.services.vless.xray.unreachable.add("nl2")  # type: ignore[attr-defined]
    answer = await app.say(ADMIN_ID, "/drain nl1")
    assert answer[-1].text.endswith(
        "⚠️ VLESS-устройства (1) остаются на nl1: nl2 не отвечает. Повторите команду, когда он "
        "вернётся."
    )
    assert await node_of(app, 7803) == before.device.node_id

    app.services.vless.xray.unreachable.clear()  # type: ignore[attr-defined]
    answer = await app.say(ADMIN_ID, "/drain nl1")
    assert "VLESS → nl2: перенесено 1" in answer[-1].text
    assert await node_of(app, 7803) == nl2.id


async def node_of(app: App, user_id: int) -> int:
    [access] = await app.services.vless.accesses(user_id)
    return access.device.node_id


async def test_a_wiped_xray_gets_its_users_back_and_a_missing_one_is_reported(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.vless.START_PAUSE", 0)
    await app.add_node("nl1")
    xray = await with_vless(app, "nl1")
    await app.say(ADMIN_ID, "/start")
    for user_id in (7804, 7805):
        await app.services.users.grant(user_id, None, create=True)
        await app.services.vless.add(user_id)
    emails = set(xray.running["nl1"])
    assert len(emails) == 2

    xray.wipe("nl1")  # restarted with an empty config: the reconcile restarts it with the users
    answer = await app.say(ADMIN_ID, "/reconcile nl1")
    assert "VLESS" not in answer[-1].text
    assert set(xray.running["nl1"]) == emails

    xray.wipe("nl1", uninstall=True)  # a reinstalled machine: no Xray at all
    answer = await app.say(ADMIN_ID, "/reconcile nl1")
    assert answer[-1].text.endswith(
        "⚠️ VLESS на nl1 не работает (xray GetInboundUsers failed: UNAVAILABLE). Установите "
        "Xray на сервере (scripts/xray-setup.sh) и выполните /reconcile nl1: пользователи VLESS "
        "вернутся с теми же ссылками."
    )
    xray.missing.clear()  # installed by scripts/xray-setup.sh
    answer = await app.say(ADMIN_ID, "/reconcile nl1")
    assert "VLESS" not in answer[-1].text
    assert set(xray.running["nl1"]) == emails
