"""Grace for a VLESS device on a real node (the xray-core wheel over SSH, a real Xray client
built from the link the bot sent): in grace the link reaches the host standing for Telegram and
the personal page's host, not the internet host; after a payment it reaches both, the same link;
routes changed on the node are put back live; another user's open connection lives through all
of it; after the grace days the link reaches nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from db.models import AccessKind, User
from nodes import SshPool
from nodes.reality import ServerOptions
from nodes.xray_grace import GraceRoutes
from services.audit import OPERATOR
from services.fleet import NewNode
from services.targets import target_of
from tests.conftest import App
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab
from tests.nodes_support import live_app
from tests.xraylab import (
    SITE_NAME,
    SOCKS_PORT,
    OpenStream,
    XrayProcess,
    add_client_address,
    add_tls_site,
    client_config,
    socks_fetch,
    start_echo,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]
USER, OTHER = 6101, 6102
ECHO_PORT = 7002


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


async def access_for(app: App, user_id: int, days: int) -> None:
    """The user started the bot and has `days` of invited access."""
    await app.say(user_id, "/start")
    async with app.services.sessions.begin() as session:
        user = await session.get_one(User, user_id)
        user.access_kind = AccessKind.INVITE
        user.access_until = app.clock() + timedelta(days=days)


async def vless_link(app: App, user_id: int) -> str:
    """The link /vless sends the user (their only device)."""
    sent = await app.say(user_id, "/vless")
    return next(str(m.text) for m in sent if (m.text or "").startswith("vless://"))


async def test_in_grace_a_vless_link_reaches_telegram_and_the_page_only_until_paid(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    site, _ = add_tls_site(lab)
    telegram_host = lab.target_ip  # stands for Telegram: its range is GRACE_RANGES
    page_host = lab.add_host(41)  # the personal page's host (PUBLIC_URL)
    other_host = lab.add_host(42)  # the internet
    port = lab.target_port
    async with live_app(
        tmp_path,
        telegram,
        None,
        grace_days=3,
        grace_ranges=f"{telegram_host}/32",
        public_url=f"https://{page_host}",
        stars_enabled=True,
    ) as app:
        services = app.services
        bot_key = SshPool.ensure_client_key(app.settings.data_dir / "ssh_ed25519")
        lab_node = lab.add_node("g1", wg_subnet="10.67.5.1/24", authorized_key=bot_key)
        server = XrayProcess(lab_node.ns, lab_node.dir / "xray.json", lab_node.dir / "xray.log")
        services.vless.xray.config_path = str(server.config)
        services.vless.options = ServerOptions(allow_networks=(f"{lab.ip(0)}/24",))
        await services.fleet.add(OPERATOR, NewNode("g1", lab_node.ip, interface=lab_node.interface))
        node = await services.vless.enable("g1", f"{site}:443", SITE_NAME, actor_id=OPERATOR)
        server.start(443, lab_node.ip)
        client = XrayProcess(lab.client.ns, lab.dir / "client.json", lab.dir / "client.log")
        other = XrayProcess(lab.client.ns, lab.dir / "other.json", lab.dir / "other.log")
        echo = start_echo(lab, ECHO_PORT)
        theirs: OpenStream | None = None

        def reaches(link: str, host: str) -> bool:
            """Whether a fresh connection through the link gets an answer from host, sent
            from the node's address."""
            client.config.write_text(client_config(link))
            client.start(SOCKS_PORT)
            return socks_fetch(lab, host, port, timeout=5) == lab_node.ip

        try:
            await access_for(app, USER, days=1)
            await access_for(app, OTHER, days=90)
            link = await vless_link(app, USER)
            their_link = await vless_link(app, OTHER)
            assert reaches(link, other_host) and reaches(link, telegram_host)

            # the other user holds a connection open from another address all along
            other.config.write_text(
                client_config(their_link, SOCKS_PORT + 1, add_client_address(lab, 5))
            )
            other.start(SOCKS_PORT + 1)
            theirs = OpenStream(lab, SOCKS_PORT + 1, telegram_host, ECHO_PORT)
            assert theirs.echoes()

            app.clock.advance(days=1, hours=1)  # access over: grace
            run = await services.reminders.run()
            assert run.expired == 1
            expired = telegram.sent_to(USER)[-1].text or ""
            assert "VPN открывает только Telegram" in expired
            assert "та же конфигурация или ссылка VLESS" in expired
            assert reaches(link, telegram_host), "Telegram is not reachable in grace"
            assert reaches(link, page_host), "the personal page is not reachable in grace"
            assert not reaches(link, other_host), "the internet is reachable in grace"
            assert theirs.echoes(), "another user's connection was cut"

            # the node's routes opened by hand: the next reconcile puts them back, live
            opened = GraceRoutes.build([f"{lab.ip(0)}/24"])
            assert await services.vless.xray.route_grace(target_of(node), opened)
            assert reaches(link, other_host)
            await services.reconcile.reconcile_all()
            assert not reaches(link, other_host), "the routes were not put back"
            assert reaches(link, telegram_host)
            assert theirs.echoes(), "putting the routes back cut another user's connection"

            # a payment: the same link reaches everything again, at once
            (plans,) = await app.say(USER, "/subscribe")
            (methods,) = await app.press(USER, plans, "plan:1m")
            await app.press(USER, methods, "pay:1m:stars")
            call = next(c for c in reversed(telegram.calls) if c.method == "sendInvoice")
            await app.feed(telegram.successful_payment(USER, str(call.params["payload"]), 150))
            assert "Оплата получена" in (telegram.sent_to(USER)[-1].text or "")
            assert await vless_link(app, USER) == link
            assert reaches(link, other_host), "full access did not come back with the payment"
            assert reaches(link, telegram_host)
            assert theirs.echoes()

            # the month, then its grace, runs out: the link reaches nothing
            app.clock.advance(days=31)
            await services.reminders.run()
            assert not reaches(link, other_host) and reaches(link, telegram_host)
            app.clock.advance(days=3)
            run = await services.reminders.run()
            assert run.grace_ended == 1
            assert not reaches(link, telegram_host) and not reaches(link, other_host)
            assert theirs.echoes()
        finally:
            if theirs is not None:
                theirs.close()
            for process in (client, other, server):
                process.stop()
            echo.terminate()
            echo.wait()
