"""/devices: the user's devices; add one, and per device its config, name, routes and removal."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from db.models import Device, User
from handlers.common import esc, format_ago, format_bytes, send_config
from keyboards.callbacks import DeviceAction, DeviceCD, RouteCD
from keyboards.devices import (
    back_to_device,
    confirm,
    device_actions,
    device_list,
    route_choices,
)
from locales import Translator
from services.devices import (
    DeviceConfig,
    DeviceList,
    DeviceService,
    DeviceStatus,
    InvalidDeviceName,
    handshake_age,
)
from services.errors import ServiceError

router = Router(name=__name__)


class Rename(StatesGroup):
    name = State()  # the next text is the new name of the device whose id is in the state data


# --- rendering --------------------------------------------------------------------------------


def device_label(t: Translator, device: Device, number: int) -> str:
    """The user's name for the device, or "Device N" by its place in the list (not escaped)."""
    return device.name or t("devices-default-name", number=str(number))


def activity(t: Translator, status: DeviceStatus, overview: DeviceList) -> str:
    """Last handshake and traffic as the node tells them, or why they are unknown."""
    if not status.node_reachable:
        return t("devices-node-unreachable")
    age = handshake_age(status.peer, overview.now)
    if age is None or status.peer is None:
        return t("devices-never-connected")
    node_received, node_sent = status.device.traffic_with(
        status.peer.rx_bytes, status.peer.tx_bytes
    )
    return t(
        "devices-activity",
        ago=format_ago(t, age),
        received=format_bytes(t, node_sent),
        sent=format_bytes(t, node_received),
    )


def list_screen(
    t: Translator, overview: DeviceList, note: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    count, limit = len(overview.devices), overview.limit
    lines = [note, ""] if note else []
    lines.append(t("devices-header", count=str(count), limit=str(limit)))
    if count > limit:
        lines.append(t("devices-over-limit"))
    elif count == limit:
        lines.append(t("devices-at-limit"))
    elif count == 0:
        lines.append(t("devices-empty"))
    buttons = []
    for number, status in enumerate(overview.devices, start=1):
        label = device_label(t, status.device, number)
        buttons.append((status.device.id, label))
        line = t("devices-line", number=str(number), name=esc(label), node=esc(status.node.label))
        lines += ["", line, activity(t, status, overview)]
    return "\n".join(lines), device_list(t, buttons, can_add=count < limit)


def device_screen(
    t: Translator,
    overview: DeviceList,
    device_id: int,
    routes: dict[str, str],
    note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """One device: name, node, address, routes, activity; `routes` maps preset keys to titles."""
    number, status = overview.find(device_id)
    device = status.device
    lines = [note, ""] if note else []
    lines += [
        t("devices-title", name=esc(device_label(t, device, number))),
        t("devices-node", node=esc(status.node.label)),
        t("devices-address", address=device.address4),
    ]
    if routes:
        title = routes.get(device.route_preset) or t("devices-routes-all")
        lines.append(t("devices-routes-line", routes=esc(title)))
    lines.append(activity(t, status, overview))
    return "\n".join(lines), device_actions(t, device.id, routes=bool(routes))


def route_titles(t: Translator, devices: DeviceService) -> dict[str, str]:
    return {preset.key: preset.title(t.language) for preset in devices.route_presets()}


async def send_configs(
    bot: Bot, chat_id: int, configs: Sequence[DeviceConfig], t: Translator
) -> None:
    """Each device's config and QR; with several devices, each after a line naming it."""
    for number, item in enumerate(configs, start=1):
        if len(configs) > 1:
            name = esc(device_label(t, item.device, number))
            await bot.send_message(chat_id, t("devices-config-of", name=name))
        await send_config(bot, chat_id, item.config, t)


async def show(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Put the screen in place of the pressed message, or send it when that cannot be edited."""
    message = query.message
    if isinstance(message, Message):
        try:
            await bot.edit_message_text(
                text, chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
            )
            return
        except TelegramBadRequest as error:
            if "not modified" in error.message:
                return
    await bot.send_message(query.from_user.id, text, reply_markup=markup)


# --- renaming: the state lets go on any command or button -------------------------------------


@router.callback_query(Rename.name)
async def button_while_renaming(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    raise SkipHandler()


@router.message(Rename.name, Command("cancel"))
async def cancel_rename(message: Message, t: Translator, state: FSMContext) -> None:
    await state.clear()
    await message.answer(t("devices-rename-cancelled"))


@router.message(Rename.name, F.text.startswith("/"))
async def command_while_renaming(message: Message, state: FSMContext) -> None:
    await state.clear()
    raise SkipHandler()  # the handlers after this one still see the old state: none takes "/"


@router.message(Rename.name, F.text, ~F.text.startswith("/"))
async def new_name(
    message: Message, user: User, t: Translator, state: FSMContext, devices: DeviceService
) -> None:
    device_id = (await state.get_data()).get("device_id")
    if not isinstance(device_id, int):
        await state.clear()
        await message.answer(t("devices-rename-cancelled"))
        return
    try:
        await devices.rename(user.id, device_id, message.text or "")
    except InvalidDeviceName:
        raise  # the state stays: the next text is another try
    except ServiceError:
        await state.clear()
        raise
    await state.clear()
    overview = await devices.overview(user.id)
    text, markup = device_screen(
        t, overview, device_id, route_titles(t, devices), t("devices-renamed")
    )
    await message.answer(text, reply_markup=markup)


@router.message(Rename.name, ~F.text)
async def name_not_text(message: Message, t: Translator) -> None:
    await message.answer(t("devices-rename-text-only"))


# --- the list and a device ----------------------------------------------------------------------


@router.message(Command("devices"))
async def devices_command(
    message: Message, user: User, t: Translator, devices: DeviceService
) -> None:
    text, markup = list_screen(t, await devices.overview(user.id))
    await message.answer(text, reply_markup=markup)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.OPEN))
async def open_button(
    query: CallbackQuery, user: User, t: Translator, devices: DeviceService, bot: Bot
) -> None:
    text, markup = list_screen(t, await devices.overview(user.id))
    await query.answer()
    await bot.send_message(user.id, text, reply_markup=markup)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.LIST))
async def list_button(
    query: CallbackQuery, user: User, t: Translator, devices: DeviceService, bot: Bot
) -> None:
    overview = await devices.overview(user.id)
    await query.answer()
    await show(bot, query, *list_screen(t, overview))


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.ADD))
async def add_button(
    query: CallbackQuery, user: User, t: Translator, devices: DeviceService, bot: Bot
) -> None:
    await query.answer(t("config-preparing"))
    device, config = await devices.add(user.id)
    overview = await devices.overview(user.id)
    routes = route_titles(t, devices)
    await show(bot, query, *device_screen(t, overview, device.id, routes, t("devices-added")))
    await send_config(bot, user.id, config, t)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.SHOW))
async def show_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    overview = await devices.overview(user.id)
    screen = device_screen(t, overview, callback_data.device_id, route_titles(t, devices))
    await query.answer()
    await show(bot, query, *screen)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.CONFIG))
async def config_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    config = await devices.device_config(user.id, callback_data.device_id)
    await query.answer(t("config-preparing"))
    await send_config(bot, user.id, config, t)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.RENAME))
async def rename_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    state: FSMContext,
    devices: DeviceService,
    bot: Bot,
) -> None:
    device, name = await named(devices, user.id, callback_data.device_id, t)
    await query.answer()
    await state.set_state(Rename.name)
    await state.set_data({"device_id": device.id})
    await show(bot, query, t("devices-rename-prompt", name=name), back_to_device(t, device.id))


async def named(
    devices: DeviceService, user_id: int, device_id: int, t: Translator
) -> tuple[Device, str]:
    """The user's device and its name as shown (escaped), without asking its node anything."""
    number, device = await devices.numbered(user_id, device_id)
    return device, esc(device_label(t, device, number))


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.ROUTES))
async def routes_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    device, name = await named(devices, user.id, callback_data.device_id, t)
    presets = list(route_titles(t, devices).items())
    await query.answer()
    markup = route_choices(t, device.id, presets, device.route_preset)
    await show(bot, query, t("devices-routes-choose", name=name), markup)


@router.callback_query(RouteCD.filter())
async def route_chosen(
    query: CallbackQuery,
    callback_data: RouteCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    config = await devices.set_routes(user.id, callback_data.device_id, callback_data.preset)
    await query.answer(t("config-preparing"))
    overview = await devices.overview(user.id)
    routes = route_titles(t, devices)
    note = t("devices-routes-changed")
    await show(bot, query, *device_screen(t, overview, callback_data.device_id, routes, note))
    await send_config(bot, user.id, config, t)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.REMOVE))
async def remove_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    device, name = await named(devices, user.id, callback_data.device_id, t)
    await query.answer()
    await show(
        bot,
        query,
        t("devices-remove-confirm", name=name),
        confirm(t, device.id, "devices-remove-yes", DeviceAction.REMOVE_CONFIRMED),
    )


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.REMOVE_CONFIRMED))
async def remove_confirmed(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    device, name = await named(devices, user.id, callback_data.device_id, t)
    removed = await devices.revoke(user.id, device.id)
    await query.answer()
    if removed:
        note = t("devices-removed", name=name)
    else:
        note = t("devices-removed-node-away", name=name, node=esc(device.node.name))
    await show(bot, query, *list_screen(t, await devices.overview(user.id), note))


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.REKEY))
async def rekey_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    device, name = await named(devices, user.id, callback_data.device_id, t)
    await query.answer()
    markup = confirm(t, device.id, "devices-rekey-yes", DeviceAction.REKEY_CONFIRMED)
    await show(bot, query, t("devices-rekey-confirm", name=name), markup)


@router.callback_query(DeviceCD.filter(F.action == DeviceAction.REKEY_CONFIRMED))
async def rekey_confirmed(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    """New keys for one device: its old peer leaves the node before the new config is sent."""
    config = await devices.regenerate(user.id, callback_data.device_id)
    await query.answer(t("config-preparing"))
    overview = await devices.overview(user.id)
    note = t("devices-rekeyed")
    routes = route_titles(t, devices)
    await show(bot, query, *device_screen(t, overview, callback_data.device_id, routes, note))
    await send_config(bot, user.id, config, t)
