"""Grace after access ends, over the in-memory nodes: who is in it, what the node is told to allow,
the expiry message in both languages, a node that cannot limit, and the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from db.models import AccessKind, User
from services.audit import OPERATOR
from services.grace import TELEGRAM_NETWORKS, Grace
from tests.conftest import App

USER = 7101
OTHER = 7102


async def expiring(app: App, user_id: int, *, days: int = 1, language: str = "ru") -> None:
    """A user with `days` of invited access and one device."""
    await app.say(user_id, "/start", language)
    async with app.services.sessions.begin() as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.access_kind = AccessKind.INVITE
        user.access_until = app.clock() + timedelta(days=days)
    sent = await app.say(user_id, "/get_config", language)
    assert any(message.document is not None for message in sent)


async def test_english_expiry_tells_of_grace_and_the_node_limits_both_addresses(app: App) -> None:
    await app.add_node("nl1", v6="fd08::1/64")
    await expiring(app, USER, language="en")
    node = app.wireguard.nodes["nl1"]
    assert node.in_grace == set()

    app.clock.advance(days=1, hours=1)
    before = len(app.telegram.sent_to(USER))
    await app.services.reminders.run()
    (message,) = app.telegram.sent_to(USER)[before:]
    text = message.text or ""
    assert "Your access ended" in text and "the VPN opens only Telegram" in text
    assert "To pay by card, turn the VPN off" in text  # Stars are off: no word of them
    assert message.button("Renew")
    (device,) = await app.devices()
    assert node.in_grace == {device.address4, device.address6}
    assert list(node.peers) == [device.public_key]
    assert node.grace is not None
    allowed = {str(net) for net in (*node.grace.allow4, *node.grace.allow6)}
    assert {"149.154.160.0/20", "91.108.8.0/21", "2001:67c:4e8::/48"} <= allowed
    assert {str(a) for a in node.grace.dns4} == {"1.1.1.1", "1.0.0.1"}


async def test_revoked_or_banned_users_get_no_grace(app: App) -> None:
    await app.add_node("nl1")
    await expiring(app, USER, days=10)
    await expiring(app, OTHER, days=10)
    await app.services.console.revoke(OPERATOR, USER)
    await app.services.console.ban(OPERATOR, OTHER)
    node = app.wireguard.nodes["nl1"]
    assert node.peers == {} and node.in_grace == set()


async def test_a_node_that_cannot_limit_drops_the_peers_in_grace_not_the_paying_ones(
    app: App,
) -> None:
    await app.add_node("nl1")
    await expiring(app, USER)
    await expiring(app, OTHER, days=30)
    node = app.wireguard.nodes["nl1"]
    node.nft = False
    app.clock.advance(days=1, hours=1)
    await app.services.reminders.run()
    (paying,) = [d for d in await app.devices() if d.user_id == OTHER]
    assert list(node.peers) == [paying.public_key], "a peer in grace kept full access"
    (result,) = await app.services.reconcile.reconcile_all()
    assert result.error is not None and "nft is not installed" in result.error

    node.nft = True  # nft installed: the next reconcile limits the peer instead
    (result,) = await app.services.reconcile.reconcile_all()
    assert result.error is None and len(node.peers) == 2 and len(node.in_grace) == 1


def test_grace_holds_from_the_end_of_access_for_its_days() -> None:
    grace = Grace(3)
    until = datetime(2026, 12, 1, tzinfo=UTC)
    user = User(id=1, access_kind=AccessKind.PAID, access_until=until, banned=False)
    assert not grace.holds(user, until - timedelta(seconds=1))  # access still runs
    assert grace.holds(user, until)
    assert grace.holds(user, until + timedelta(days=3, seconds=-1))
    assert not grace.holds(user, until + timedelta(days=3))
    assert grace.until(user) == until + timedelta(days=3)
    assert not Grace(0).holds(user, until)
    unending = User(id=2, access_kind=AccessKind.INVITE, access_until=None, banned=False)
    assert grace.until(unending) is None


def test_grace_settings_are_checked(tmp_path: Path) -> None:
    def load(**values: object) -> Settings:
        return load_settings(
            _env_file=None,
            bot_token="123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
            data_dir=tmp_path,
            **values,
        )

    default = load()
    assert default.grace_days == 3 and default.grace_ranges == TELEGRAM_NETWORKS
    assert load(grace_ranges="").grace_ranges == TELEGRAM_NETWORKS
    assert load(grace_ranges="10.9.0.0/16, 2001:db8::/32").grace_ranges == (
        "10.9.0.0/16",
        "2001:db8::/32",
    )
    for bad, reason in (
        ("0.0.0.0/0", "open everything"),
        ("::/0", "open everything"),
        ("10.9.0.1/16", "host bits"),
        ("example.com", "not a network"),
    ):
        with pytest.raises(SettingsError, match=reason):
            load(grace_ranges=bad)
    with pytest.raises(SettingsError, match="GRACE_DAYS"):
        load(grace_days=-1)
    assert all(ip_network(net).prefixlen for net in TELEGRAM_NETWORKS)
