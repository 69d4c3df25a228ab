"""The bot's /metrics: updates by handler, Bot API calls and 429s, SSH commands and errors by
node, payments, trials and backups; and the alert rules and dashboard under deploy/, checked
by promtool and against the metrics the bot exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import REGISTRY, MeasuredSshPool, record_database, record_intervals
from bot.web import create_web_app, start_web
from nodes import NodeError, NodeTarget, SshPool
from tests.conftest import App
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop
from tests.netlab import unavailable
from tests.test_money_flow import pay_stars

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"
NAME = re.compile(r"\bvpnservice_[a-z0-9_]+\b")
SAMPLES = {  # the series of each TYPE line's family (a counter's is already named *_total)
    "counter": ("",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(app: App) -> str:
    """GET /metrics from the bot's web server, the database totals read as a scrape reads them."""
    services = app.services
    web_app = create_web_app(
        services.engine, lambda: record_database(services.stats, services.backups)
    )
    runner = await start_web(web_app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{host}:{port}/metrics") as answer,
        ):
            assert answer.status == 200
            return await answer.text()
    finally:
        await runner.cleanup()


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def exported_names(text: str) -> set[str]:
    """Every series name /metrics can carry, from its TYPE lines (labelled metrics with no
    series yet are listed too)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            names |= {family + suffix for suffix in SAMPLES[kind]}
    return names


async def test_updates_bot_api_calls_and_429s_are_measured(app: App) -> None:
    await app.add_node("nl1")
    before = samples(await scrape(app))
    await app.say(PAYER, "/start")
    app.telegram.fail_next("sendMessage", 1, status=429, retry_after=1)
    (started,) = await app.say(PAYER, "/trial")
    assert "Пробный доступ открыт" in (started.text or ""), "the 429 was waited out"
    await app.say(PAYER, "/get_config")
    after = samples(await scrape(app))

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("vpnservice_update_seconds_count", handler="devices.get_config") == 1
    assert grew("vpnservice_update_seconds_count", handler="start.start") == 1
    assert grew("vpnservice_telegram_429_total", method="sendMessage") == 1
    assert grew("vpnservice_bot_api_seconds_count", method="sendMessage") >= 3, "each attempt"
    assert grew("vpnservice_bot_api_seconds_count", method="sendDocument") == 1
    assert value(after, "vpnservice_trials") == 1
    assert value(after, "vpnservice_backup_last_timestamp_seconds") == 0, "no backup yet"

    backup = await app.services.backups.create()
    made = samples(await scrape(app))
    assert value(made, "vpnservice_backup_last_timestamp_seconds") == pytest.approx(
        backup.path.stat().st_mtime
    )


async def test_payments_by_provider_and_state(shop: Shop) -> None:
    app = shop.app
    await app.say(PAYER, "/start")
    await pay_stars(shop, PAYER, "1m")
    card = shop.payment_id_of(await shop.card_link(PAYER))
    found = samples(await scrape(app))
    assert value(found, "vpnservice_payments", provider="stars", state="succeeded") == 1
    assert value(found, "vpnservice_payments", provider="yookassa", state="pending") == 1

    shop.yookassa.cancel(card)
    assert await shop.notify(card, forwarded_for=YOOKASSA_ADDRESS) == 200
    found = samples(await scrape(app))
    assert value(found, "vpnservice_payments", provider="yookassa", state="canceled") == 1
    assert ("vpnservice_payments", (("provider", "yookassa"), ("state", "pending"))) not in found


async def test_ssh_commands_and_node_errors_are_counted_by_node(tmp_path: Path) -> None:
    key = tmp_path / "client_ed25519"
    SshPool.ensure_client_key(key)
    pool = MeasuredSshPool(key)
    target = NodeTarget("m1", "127.0.0.1", host_key="ssh-ed25519 AAAA", interface="wg0")
    before = samples(generate_latest(REGISTRY).decode())
    pool.set_down("m1", "probe failed")
    try:
        with pytest.raises(NodeError, match="node is down"):
            await pool.run(target, "true")
    finally:
        await pool.close()
    after = samples(generate_latest(REGISTRY).decode())
    for name in ("vpnservice_ssh_errors_total", "vpnservice_ssh_command_seconds_count"):
        assert value(after, name, node="m1") - value(before, name, node="m1") == 1, name


async def test_the_bot_runs_its_nodes_through_the_measured_pool(app: App) -> None:
    assert isinstance(app.services.pool, MeasuredSshPool)


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def panel_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (Debian's prometheus package)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in checked.stdout


@pytest.mark.parametrize(
    "expressions",
    [rule_expressions, panel_expressions],
    ids=["alert rules", "dashboard panels"],
)
async def test_every_metric_named_is_one_the_bot_exports(app: App, expressions: Any) -> None:
    record_intervals(60, 24)
    exported = exported_names(await scrape(app))
    named = [(expr, set(NAME.findall(expr))) for expr in expressions()]
    assert named, "nothing to check"
    assert [expr for expr, names in named if not names] == [], "each names a bot metric"
    unknown = {name for _, names in named for name in names} - exported
    assert unknown == set()


def test_the_rules_name_the_alerts_the_operator_needs() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    assert {
        "VpnserviceNodeDown",
        "VpnserviceProbeLag",
        "VpnservicePaymentFailures",
        "VpnserviceTelegram429",
        "VpnserviceBackupsMissing",
    } <= alerts
