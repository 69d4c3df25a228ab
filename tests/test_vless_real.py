"""VLESS devices end to end on a real node: the bot's services over SSH to the xray-core wheel,
a real Xray client built from the link the service returns, the database as the truth."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.page import register_page
from db.models import AccessKind, Payment, PaymentStatus, User, VlessDevice
from nodes import SshPool
from nodes.reality import ServerOptions, XrayUser, server_config
from services.audit import OPERATOR
from services.devices import DeviceLimitReached
from services.fleet import NewNode
from services.targets import target_of
from tests.e2e import button
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, decode_qr
from tests.nodes_support import live_app, with_access
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
    tls_probe,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(240)]
USER, OTHER = 6001, 6002
ECHO_PORT = 7001


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


async def test_vless_devices_follow_access_and_survive_a_wiped_xray(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    site, fingerprint = add_tls_site(lab)
    async with live_app(tmp_path, telegram, None, public_url="https://vpn.example") as app:
        services = app.services
        bot_key = SshPool.ensure_client_key(app.settings.data_dir / "ssh_ed25519")
        lab_node = lab.add_node("v1", wg_subnet="10.67.1.1/24", authorized_key=bot_key)
        server = XrayProcess(lab_node.ns, lab_node.dir / "xray.json", lab_node.dir / "xray.log")
        services.vless.xray.config_path = str(server.config)
        services.vless.options = ServerOptions(allow_networks=(f"{lab.target_ip}/32",))
        await services.fleet.add(OPERATOR, NewNode("v1", lab_node.ip, interface=lab_node.interface))
        await with_access(services, [USER, OTHER])

        node = await services.vless.enable(
            "v1", f"{site}:443", SITE_NAME, actor_id=OPERATOR
        )  # writes the config with no user yet: the node's Xray starts from it
        assert server.config.stat().st_mode & 0o777 == 0o600
        assert node.reality_private_key_enc and node.reality_private_key_enc.startswith("v1:")
        server.start(443, lab_node.ip)
        client = XrayProcess(lab.client.ns, lab.dir / "client.json", lab.dir / "client.log")

        def works(link: str) -> str | None:
            client.config.write_text(client_config(link))
            client.start(SOCKS_PORT)
            return socks_fetch(lab, lab.target_ip, lab.target_port)

        held: list[XrayProcess] = []
        streams: list[OpenStream] = []

        def hold(link: str, source: str) -> OpenStream:
            """A connection kept open through the link, from the client address source."""
            n = len(held) + 1
            process = XrayProcess(lab.client.ns, lab.dir / f"held{n}.json", lab.dir / "held.log")
            held.append(process)
            process.config.write_text(client_config(link, SOCKS_PORT + n, source))
            process.start(SOCKS_PORT + n)
            streams.append(OpenStream(lab, SOCKS_PORT + n, lab.target_ip, ECHO_PORT))
            return streams[-1]

        echo = start_echo(lab, ECHO_PORT)
        try:
            # "My internet blocks the VPN" with no AmneziaWG node: VLESS is offered at once
            await services.devices.add(USER)
            screen = (await app.say(USER, "/server"))[-1]
            offer = (await app.press(USER, screen, button(screen, "блокирует VPN")))[-1]
            assert "VLESS с Reality" in offer.text
            sent = await app.press(USER, offer, button(offer, "VLESS"))
            texts = [m.text or "" for m in sent]
            link = next(text for text in texts if text.startswith("vless://"))
            qr = next(m.photo for m in sent if m.photo is not None)
            assert decode_qr(qr.content) == link
            assert any(
                "v2rayNG" in text and "Streisand" in text and "Happ" in text for text in texts
            )
            sub_url = next(re.search(r"https://\S+/sub/\S+", t)[0] for t in texts if "/sub/" in t)
            [first] = await services.vless.accesses(USER)
            assert first.link == link

            assert works(link) == lab_node.ip
            assert tls_probe(lab, lab_node.ip, 443, SITE_NAME) == fingerprint

            # the subscription URL serves the same link, base64, as the apps import it
            web_app = web.Application()
            register_page(web_app, services, app.bot)
            async with TestClient(TestServer(web_app)) as http:
                answer = await http.get(urlsplit(sub_url).path)
                assert answer.status == 200
                assert base64.b64decode(await answer.text()).decode() == link
                assert "upload=" in answer.headers["subscription-userinfo"]
                assert (await http.get("/sub/made-up-token")).status == 404

            # a made-up id on the same node gets nothing
            made_up = link.replace(first.device.uuid, "0badc0de-0000-4000-8000-000000000000")
            assert works(made_up) is None

            # the limit counts VLESS devices with WireGuard ones (an invite allows 2)
            with pytest.raises(DeviceLimitReached):
                await services.vless.add(USER)

            # another user on the node, behind another address; both hold a connection open
            second = await services.vless.add(OTHER)
            mine = hold(link, lab.client.ip)
            theirs = hold(second.link, add_client_address(lab, 4))
            assert mine.echoes() and theirs.echoes()

            # expiry: the node's Xray drops the user, the link stops, the open connection too
            async with services.sessions.begin() as session:
                user = await session.get_one(User, USER)
                user.access_kind, user.access_until = (
                    AccessKind.PAID,
                    app.clock.now + timedelta(days=1),
                )
            app.clock.advance(days=2)
            await services.reconcile.reconcile_all()
            assert not mine.echoes()
            assert theirs.echoes() and theirs.echoes()
            assert works(link) is None

            # a payment: the same link works again
            plan = app.settings.plans[0]
            async with services.sessions.begin() as session:
                payment = Payment(
                    user_id=USER, provider="stars", plan_code=plan.code, days=plan.days,
                    amount=plan.stars, currency="XTR", status=PaymentStatus.PENDING,
                )  # fmt: skip
                session.add(payment)
            assert await services.subscriptions.credit_pending(payment.id, None) is not None
            assert works(link) == lab_node.ip

            # traffic per user, from Xray's counters
            await services.vless.count_traffic()
            async with services.sessions() as session:
                stored = await session.get_one(VlessDevice, first.device.id)
            assert stored.downlink_bytes >= len(lab_node.ip) + 1

            # a wiped Xray (restarted serving nobody): the next reconcile brings every user back
            inbound = services.vless.inbound(node)
            server.config.write_text(server_config(inbound, [], services.vless.options))
            server.start(443, lab_node.ip)
            assert works(second.link) is None
            await services.reconcile.reconcile_all()
            assert works(link) == lab_node.ip
            assert works(second.link) == lab_node.ip
            async with services.sessions() as session:
                emails = {d.email for d in await session.scalars(select(VlessDevice))}
            assert {u.email for u in await services.vless.xray.users(target_of(node))} == emails
            assert '"clients": []' not in server.config.read_text()

            # a user made on the node by hand is kept, live and in the config, like a foreign peer
            hand = XrayUser("alice@hand", "5cf8386a-7997-433f-9a4f-fcde40d04315")
            await services.vless.xray.add_user(target_of(node), hand)
            await services.reconcile.reconcile_all()
            assert hand in await services.vless.xray.users(target_of(node))
            assert hand.id in server.config.read_text()

            # /migrate to another VLESS node: the same ids, the new links through the new node
            lab_node2 = lab.add_node("v2", wg_subnet="10.67.2.1/24", authorized_key=bot_key)
            new = NewNode("v2", lab_node2.ip, interface=lab_node2.interface)
            await services.fleet.add(OPERATOR, new)
            await services.vless.enable("v2", f"{site}:443", SITE_NAME, actor_id=OPERATOR)
            server2 = XrayProcess(lab_node2.ns, lab_node2.dir / "xray.json", lab.dir / "xray2.log")
            held.append(server2)
            shutil.copy(server.config, server2.config)  # the lab's nodes share one file system
            server2.start(443, lab_node2.ip)
            report = await services.moves.migrate(OPERATOR, "v1", "v2")
            assert (report.vless.target, report.vless.moved, report.vless.stayed) == ("v2", 2, 0)
            [moved] = await services.vless.accesses(USER)
            assert moved.device.uuid == first.device.uuid
            *_, notice, qr = telegram.sent_to(USER)
            assert moved.link in (notice.text or "") and qr.photo is not None
            assert works(moved.link) == lab_node2.ip
            assert works(link) is None
        finally:
            for stream in streams:
                stream.close()
            for process in [client, *held]:
                process.stop()
            server.stop()
            echo.terminate()
            echo.wait()
