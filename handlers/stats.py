"""/stats for admins: users, access, nodes and handshakes as text, new users per day as a chart."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from db.models import NodeStatus
from handlers.filters import IsAdmin
from locales import Translator
from locales.format import esc, format_amount, format_bytes, format_date
from services.charts import daily_bars_png
from services.stats import CHART_DAYS, CampaignStats, NodeStats, Stats, StatsService

router = Router(name=__name__)

CAPTION_LIMIT = 1024


def stats_text(t: Translator, stats: Stats) -> str:
    lines = [
        t("stats-title", now=format_date(stats.now)),
        t("stats-users", total=str(stats.users_total), week=str(stats.users_new_week)),
    ]
    if stats.access_now:
        lines.append(t("stats-access", count=str(sum(stats.access_now.values()))))
        lines.extend(
            t("stats-access-kind", kind=t(f"stats-kind-{kind.value}"), count=str(count))
            for kind, count in stats.access_now.items()
        )
    else:
        lines.append(t("stats-access-nobody"))
    lines.append(t("stats-handshakes", count=str(stats.handshakes_day)))
    revenue = [
        format_amount(amount, currency) for currency, amount in sorted(stats.revenue_month.items())
    ]
    lines.append(
        t("stats-revenue", amounts=" + ".join(revenue) or "0", payers=str(stats.payers_month))
    )
    if stats.trials_total:
        lines.append(
            t(
                "stats-conversion",
                trials=str(stats.trials_total),
                paid=str(stats.trials_converted),
                percent=str(round(100 * stats.trials_converted / stats.trials_total)),
            )
        )
    if stats.campaigns:
        lines.append("")
        lines.append(t("stats-campaigns"))
        lines.extend(campaign_line(t, campaign) for campaign in stats.campaigns)
    if stats.nodes:
        lines.append("")
        lines.append(t("stats-nodes"))
        lines.extend(node_line(t, node) for node in stats.nodes)
    return "\n".join(lines)


def campaign_line(t: Translator, campaign: CampaignStats) -> str:
    revenue = [
        format_amount(amount, currency) for currency, amount in sorted(campaign.revenue.items())
    ]
    return t(
        "stats-campaign",
        name=esc(campaign.name),
        registrations=str(campaign.registrations),
        trials=str(campaign.trials),
        payers=str(campaign.payers),
        revenue=" + ".join(revenue) or "0",
    )


def node_line(t: Translator, node: NodeStats) -> str:
    if node.up is None:
        state = t("stats-node-unprobed")
    elif node.up:
        state = t("stats-node-up", peers=str(node.peers))
    else:
        state = t("stats-node-down")
    return t(
        "stats-node",
        mark="🟢" if node.up else ("🔴" if node.up is False else "⚪"),
        name=esc(node.name),
        draining=t("stats-node-draining") if node.status is NodeStatus.DRAINING else "",
        state=state,
        devices=str(node.devices),
        handshakes=str(node.handshakes_day),
        received=format_bytes(t, node.sent),
        sent=format_bytes(t, node.received),
    )


@router.message(Command("stats"), IsAdmin())
async def stats_command(message: Message, t: Translator, stats: StatsService, bot: Bot) -> None:
    collected = await stats.collect()
    text = stats_text(t, collected)
    title = t("stats-chart-title", days=str(CHART_DAYS))
    png = await asyncio.to_thread(
        daily_bars_png,
        collected.new_per_day,
        title=title,
        x_label=t("stats-chart-x"),
        y_label=t("stats-chart-y"),
    )
    photo = BufferedInputFile(png, filename="stats.png")
    if len(text) <= CAPTION_LIMIT:
        await bot.send_photo(message.chat.id, photo, caption=text)
        return
    await bot.send_photo(message.chat.id, photo, caption=title)
    await message.answer(text)
