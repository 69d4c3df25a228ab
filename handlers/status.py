"""/status: access and until when, node, device, last handshake and traffic from the node."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.db.models import User
from bot.i18n import Translator
from handlers.common import esc, format_ago, format_bytes, format_date
from keyboards.callbacks import MenuAction, MenuCD
from services.devices import DeviceService, handshake_age
from services.users import UserService

router = Router(name=__name__)


async def status_text(user: User, t: Translator, devices: DeviceService, users: UserService) -> str:
    now = users.clock()
    if not user.has_access(now):
        lines = [t("status-no-access")]
    elif user.access_until is None:
        lines = [t("status-access-forever")]
    else:
        lines = [t("status-access-until", until=format_date(user.access_until))]
    status = await devices.status(user.id)
    if status is None:
        lines.append(t("status-no-device"))
        return "\n".join(lines)
    lines.append(t("status-device", node=esc(status.node.label), address=status.device.address4))
    if not status.node_reachable:
        lines.append(t("status-node-unreachable"))
        return "\n".join(lines)
    age = handshake_age(status.peer, now)
    if age is None:
        lines.append(t("status-handshake-never"))
    else:
        lines.append(t("status-handshake", ago=format_ago(t, age)))
    if status.peer is not None:
        node_received, node_sent = status.device.traffic_with(
            status.peer.rx_bytes, status.peer.tx_bytes
        )
        lines.append(
            t(
                "status-traffic",
                received=format_bytes(t, node_sent),
                sent=format_bytes(t, node_received),
            )
        )
    return "\n".join(lines)


@router.message(Command("status"))
async def status_command(
    message: Message, user: User, t: Translator, devices: DeviceService, users: UserService
) -> None:
    await message.answer(await status_text(user, t, devices, users))


@router.callback_query(MenuCD.filter(F.action == MenuAction.STATUS))
async def status_button(
    query: CallbackQuery,
    user: User,
    t: Translator,
    devices: DeviceService,
    users: UserService,
    bot: Bot,
) -> None:
    await query.answer()
    await bot.send_message(user.id, await status_text(user, t, devices, users))
