"""Expiry, grace and renewal on a real node: the config the user imported stops when access ends
(or, in grace, reaches only Telegram and the personal page) and works again after paying, without
importing anything (wg-quick in the client namespace)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import create_bot, create_dispatcher
from bot.container import open_services
from bot.settings import load_settings
from nodes import SshPool
from tests.conftest import ADMIN_ID, App, Clock
from tests.e2e import Operator
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, LabNode, require_root_lab

USER = 5301


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


def wait_source_ip(lab: Lab, expected: str | None, within: float = 20) -> str | None:
    """Poll until the client's traffic arrives from `expected` (None: stops arriving)."""
    deadline = time.monotonic() + within
    seen = lab.client.fetch_source_ip(timeout=3)
    while seen != expected and time.monotonic() < deadline:
        seen = lab.client.fetch_source_ip(timeout=3)
    return seen


async def test_expiry_removes_the_peer_and_renewal_brings_the_same_config_back(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    node = lab.add_node("nl1", wg_subnet="10.67.1.1/24", listen_port=51831, authorized_key=bot_key)
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    added = operator.cli(
        "node", "add", "nl1", f"ssh://root@{node.ip}", "--interface", node.interface
    )
    assert added.returncode == 0, added.stderr

    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=data_dir,
        admin_ids=str(ADMIN_ID),
        stars_enabled=True,
        grace_days=0,
    )
    clock = Clock()
    services = await open_services(settings, clock=clock)
    bot = create_bot(settings)
    app = App(telegram, services, bot, create_dispatcher(services, bot), None, clock, settings)  # type: ignore[arg-type]
    try:
        (hello,) = await app.say(USER, "/start")
        await app.press(USER, hello, hello.button("Попробовать")["callback_data"])
        sent = await app.say(USER, "/get_config")
        config = next(m for m in sent if m.document is not None).document.content.decode()
        lab.client.up(config)
        assert wait_source_ip(lab, node.ip) == node.ip

        clock.advance(days=8)  # the trial is over
        run = await services.reminders.run()
        assert run.expired == 1
        assert "Доступ закончился" in (telegram.sent_to(USER)[-1].text or "")
        assert node.wg_dump().strip().count("\n") == 0, "the peer is still on the node"
        assert wait_source_ip(lab, None) is None, "traffic still flows after expiry"

        (plans,) = await app.say(USER, "/subscribe")
        (methods,) = await app.press(USER, plans, "plan:1m")
        await app.press(USER, methods, "pay:1m:stars")
        call = next(c for c in reversed(telegram.calls) if c.method == "sendInvoice")
        payload = str(call.params["payload"])
        await app.feed(telegram.successful_payment(USER, payload, 150))
        assert "Оплата получена" in (telegram.sent_to(USER)[-1].text or "")

        # the same interface, never re-imported, carries traffic again
        assert wait_source_ip(lab, node.ip) == node.ip
        lab.client.down()
    finally:
        lab.client.down()
        await bot.session.close()
        await services.close()


def grace_table(node: LabNode) -> str:
    """The node's grace firewall as nft lists it ('' when the table is absent)."""
    return node.exec("nft", "list", "table", "inet", f"vpnservice-grace-{node.interface}").stdout


async def test_grace_reaches_telegram_and_the_page_only_until_paid_and_nothing_after_it(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    node = lab.add_node("nl2", wg_subnet="10.67.2.1/24", listen_port=51832, authorized_key=bot_key)
    telegram_host = lab.target_ip  # stands for Telegram: its range is GRACE_RANGES
    page_host = lab.add_host(40)  # the personal page's host (PUBLIC_URL)
    other_host = lab.add_host(41)
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    added = operator.cli(
        "node", "add", "nl2", f"ssh://root@{node.ip}", "--interface", node.interface
    )
    assert added.returncode == 0, added.stderr

    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=data_dir,
        admin_ids=str(ADMIN_ID),
        stars_enabled=True,
        grace_days=3,
        grace_ranges=f"{telegram_host}/32",
        public_url=f"https://{page_host}",
    )
    clock = Clock()
    services = await open_services(settings, clock=clock)
    bot = create_bot(settings)
    app = App(telegram, services, bot, create_dispatcher(services, bot), None, clock, settings)  # type: ignore[arg-type]

    def reaches(host: str) -> bool:
        return lab.client.fetch_source_ip(timeout=3, host=host) == node.ip

    try:
        (hello,) = await app.say(USER, "/start")
        await app.press(USER, hello, hello.button("Попробовать")["callback_data"])
        sent = await app.say(USER, "/get_config")
        config = next(m for m in sent if m.document is not None).document.content.decode()
        lab.client.up(config)
        assert wait_source_ip(lab, node.ip) == node.ip
        assert reaches(other_host)

        clock.advance(days=8)  # the trial is over: grace
        run = await services.reminders.run()
        assert run.expired == 1
        expired = telegram.sent_to(USER)[-1].text or ""
        assert "Доступ закончился" in expired and "VPN открывает только Telegram" in expired
        assert node.wg_dump().strip().count("\n") == 1, "the peer left the node in grace"
        assert reaches(telegram_host), "Telegram is not reachable in grace"
        assert reaches(page_host), "the personal page is not reachable in grace"
        assert not reaches(other_host), "another host is reachable in grace"

        # the table wiped by hand: the next reconcile puts it back
        wiped = node.exec("nft", "delete", "table", "inet", f"vpnservice-grace-{node.interface}")
        assert wiped.returncode == 0, wiped.stderr
        assert reaches(other_host)
        (result,) = await services.reconcile.reconcile_all()
        assert result.grace is not None and result.grace.summary() == "update (table absent)"
        assert not reaches(other_host), "the wiped grace firewall was not restored"
        assert reaches(telegram_host)

        (plans,) = await app.say(USER, "/subscribe")
        (methods,) = await app.press(USER, plans, "plan:1m")
        await app.press(USER, methods, "pay:1m:stars")
        call = next(c for c in reversed(telegram.calls) if c.method == "sendInvoice")
        await app.feed(telegram.successful_payment(USER, str(call.params["payload"]), 150))
        assert "Оплата получена" in (telegram.sent_to(USER)[-1].text or "")
        assert reaches(other_host), "full access did not come back with the payment"
        assert reaches(telegram_host)

        clock.advance(days=31)  # the month is over: grace again
        await services.reminders.run()
        assert not reaches(other_host)
        assert reaches(telegram_host)
        clock.advance(days=3)  # and its grace too: the peer goes
        run = await services.reminders.run()
        assert run.grace_ended == 1
        assert node.wg_dump().strip().count("\n") == 0, "the peer is still on the node"
        assert "vpnservice-grace" in grace_table(node)  # the table stays, empty
        assert wait_source_ip(lab, None) is None, "traffic still flows after grace"
        assert lab.client.fetch_source_ip(timeout=3, host=telegram_host) is None
        assert lab.client.fetch_source_ip(timeout=3, host=other_host) is None
    finally:
        lab.client.down()
        await bot.session.close()
        await services.close()
