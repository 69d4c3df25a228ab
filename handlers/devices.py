"""/get_config, /regen and /devices: the user's devices, their configs and QR codes; add one,
and per device its config, name, routes, new keys and removal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from db.models import Device, User
from handlers.common import acknowledge, replace
from keyboards.callbacks import (
    DeviceAction,
    DeviceCD,
    MenuAction,
    MenuCD,
    RegenAction,
    RegenCD,
    RouteCD,
)
from keyboards.devices import back_to_device, confirm, device_actions, device_list, route_choices
from keyboards.menus import regen_confirm
from locales import Translator
from locales.format import esc, format_ago, format_bytes
from services.clientconfig import ClientConfig
from services.devices import (
    DeviceConfig,
    DeviceList,
    DeviceService,
    DeviceStatus,
    InvalidDeviceName,
    handshake_age,
    probe_age,
)
from services.errors import NoDevice, NotDelivered, ServiceError
from services.notifier import Notifier

router = Router(name=__name__)


class Rename(StatesGroup):
    name = State()  # the next text is the new name of the device whose id is in the state data


# --- rendering --------------------------------------------------------------------------------


def device_label(t: Translator, device: Device, number: int) -> str:
    """The user's name for the device, or "Device N" by its place in the list (not escaped)."""
    return device.name or t("devices-default-name", number=str(number))


def activity(t: Translator, status: DeviceStatus, overview: DeviceList) -> str:
    """Last handshake and traffic as the node's latest probe read them, or why they are
    unknown."""
    if not status.node_reachable:
        return t("devices-node-unreachable")
    age = handshake_age(status.device, overview.now)
    if age is None:
        return t("devices-never-connected")
    return t(
        "devices-activity",
        ago=format_ago(t, age),
        received=format_bytes(t, status.device.tx_total),
        sent=format_bytes(t, status.device.rx_total),
    )


def probed_line(t: Translator, statuses: Sequence[DeviceStatus], now: datetime) -> list[str]:
    """When the nodes were read: the oldest of the shown devices' latest probes."""
    ages = [age for status in statuses if (age := probe_age(status.probe, now)) is not None]
    return ["", t("probed-ago", ago=format_ago(t, max(ages)))] if ages else []


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
    lines += probed_line(t, overview.devices, overview.now)
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
        t("devices-address", address=device.address4 or t("devices-no-address")),
    ]
    if routes:
        title = routes.get(device.route_preset) or t("devices-routes-all")
        lines.append(t("devices-routes-line", routes=esc(title)))
    lines.append(activity(t, status, overview))
    lines += probed_line(t, [status], overview.now)
    return "\n".join(lines), device_actions(t, device.id, routes=bool(routes))


def route_titles(t: Translator, devices: DeviceService) -> dict[str, str]:
    return {preset.key: preset.title(t.language) for preset in devices.route_presets()}


async def deliver(
    notifier: Notifier, user_id: int, config: ClientConfig, key: str | None = None, **args: str
) -> None:
    """The config file and QR code; NotDelivered (the user gets an apology) when Telegram
    refused them."""
    if not await notifier.send_config(user_id, config, key, **args):
        raise NotDelivered()


async def send_configs(
    notifier: Notifier, user_id: int, configs: Sequence[DeviceConfig], t: Translator
) -> None:
    """Each device's config and QR; with several devices, each after a line naming it."""
    for number, item in enumerate(configs, start=1):
        if len(configs) > 1:
            name = device_label(t, item.device, number)
            await deliver(notifier, user_id, item.config, "devices-config-of", name=name)
        else:
            await deliver(notifier, user_id, item.config)


# --- /get_config and /regen -------------------------------------------------------------------


@router.message(Command("get_config"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.CONFIG))
async def get_config(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    devices: DeviceService,
    notifier: Notifier,
) -> None:
    """The first device's config; a user without a device gets one added."""
    await acknowledge(event, t("config-preparing"))
    item = await devices.first(user.id)
    await deliver(notifier, user.id, item.config)


@router.message(Command("regen"))
async def regen(message: Message, user: User, t: Translator, devices: DeviceService) -> None:
    """New keys for the first device, after a confirmation bound to that device."""
    await devices.require_access(user.id)
    listing = await devices.devices_of(user.id)
    if not listing:
        raise NoDevice()
    await message.answer(t("regen-confirm"), reply_markup=regen_confirm(t, listing[0].id))


@router.callback_query(RegenCD.filter(F.action == RegenAction.CONFIRM))
async def regen_confirmed(
    query: CallbackQuery,
    callback_data: RegenCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    notifier: Notifier,
    bot: Bot,
) -> None:
    await query.answer(t("config-preparing"))
    if query.message:
        await bot.edit_message_reply_markup(
            chat_id=user.id, message_id=query.message.message_id, reply_markup=None
        )
    item = await devices.rekey(user.id, callback_data.device_id)
    await bot.send_message(user.id, t("regen-done"))
    await deliver(notifier, user.id, item.config)


@router.callback_query(RegenCD.filter(F.action == RegenAction.CANCEL))
async def regen_cancelled(query: CallbackQuery, t: Translator, bot: Bot) -> None:
    await query.answer()
    await replace(bot, query, t("regen-cancelled"))


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


@dataclass(frozen=True, slots=True)
class Tap:
    """A press in the devices menu: who pressed it, and the ways to answer."""

    query: CallbackQuery
    user: User
    t: Translator
    devices: DeviceService
    notifier: Notifier
    state: FSMContext
    bot: Bot

    async def screen(self, text: str, markup: InlineKeyboardMarkup | None) -> None:
        await replace(self.bot, self.query, text, markup)

    async def device(self, device_id: int, note: str | None = None) -> None:
        """The device's screen, read afresh, in place of the pressed message."""
        overview = await self.devices.overview(self.user.id)
        routes = route_titles(self.t, self.devices)
        await self.screen(*device_screen(self.t, overview, device_id, routes, note))

    async def listing(self, note: str | None = None) -> None:
        await self.screen(*list_screen(self.t, await self.devices.overview(self.user.id), note))

    async def named(self, device_id: int) -> tuple[Device, str]:
        """The user's device and its name as shown (escaped), from the database alone."""
        number, device = await self.devices.numbered(self.user.id, device_id)
        return device, esc(device_label(self.t, device, number))

    async def config(self, item: DeviceConfig) -> None:
        await deliver(self.notifier, self.user.id, item.config)


Action = Callable[[Tap, int], Awaitable[None]]


async def open_list(tap: Tap, device_id: int) -> None:
    """From the main menu: the list as a new message."""
    text, markup = list_screen(tap.t, await tap.devices.overview(tap.user.id))
    await tap.query.answer()
    await tap.bot.send_message(tap.user.id, text, reply_markup=markup)


async def show_list(tap: Tap, device_id: int) -> None:
    await tap.query.answer()
    await tap.listing()


async def add(tap: Tap, device_id: int) -> None:
    await tap.query.answer(tap.t("config-preparing"))
    item = await tap.devices.add(tap.user.id)
    await tap.device(item.device.id, tap.t("devices-added"))
    await tap.config(item)


async def show(tap: Tap, device_id: int) -> None:
    await tap.query.answer()
    await tap.device(device_id)


async def send_config(tap: Tap, device_id: int) -> None:
    item = await tap.devices.config(tap.user.id, device_id)
    await tap.query.answer(tap.t("config-preparing"))
    await tap.config(item)


async def rename(tap: Tap, device_id: int) -> None:
    device, name = await tap.named(device_id)
    await tap.query.answer()
    await tap.state.set_state(Rename.name)
    await tap.state.set_data({"device_id": device.id})
    await tap.screen(tap.t("devices-rename-prompt", name=name), back_to_device(tap.t, device.id))


async def routes(tap: Tap, device_id: int) -> None:
    device, name = await tap.named(device_id)
    presets = list(route_titles(tap.t, tap.devices).items())
    await tap.query.answer()
    markup = route_choices(tap.t, device.id, presets, device.route_preset)
    await tap.screen(tap.t("devices-routes-choose", name=name), markup)


def confirmation(question: str, yes: str, action: DeviceAction) -> Action:
    """A step that asks `question` about the device with a `yes` button for `action`."""

    async def ask(tap: Tap, device_id: int) -> None:
        device, name = await tap.named(device_id)
        await tap.query.answer()
        markup = confirm(tap.t, device.id, yes, action)
        await tap.screen(tap.t(question, name=name), markup)

    return ask


async def rekey(tap: Tap, device_id: int) -> None:
    """New keys for one device: its old peer leaves the node before the new config is sent."""
    item = await tap.devices.rekey(tap.user.id, device_id)
    await tap.query.answer(tap.t("config-preparing"))
    await tap.device(device_id, tap.t("devices-rekeyed"))
    await tap.config(item)


async def remove(tap: Tap, device_id: int) -> None:
    device, name = await tap.named(device_id)
    removed = await tap.devices.remove(tap.user.id, device.id)
    await tap.query.answer()
    if removed:
        note = tap.t("devices-removed", name=name)
    else:
        note = tap.t("devices-removed-node-away", name=name, node=esc(device.node.name))
    await tap.listing(note)


ACTIONS: dict[DeviceAction, Action] = {
    DeviceAction.OPEN: open_list,
    DeviceAction.LIST: show_list,
    DeviceAction.ADD: add,
    DeviceAction.SHOW: show,
    DeviceAction.CONFIG: send_config,
    DeviceAction.RENAME: rename,
    DeviceAction.ROUTES: routes,
    DeviceAction.REKEY: confirmation(
        "devices-rekey-confirm", "devices-rekey-yes", DeviceAction.REKEY_CONFIRMED
    ),
    DeviceAction.REKEY_CONFIRMED: rekey,
    DeviceAction.REMOVE: confirmation(
        "devices-remove-confirm", "devices-remove-yes", DeviceAction.REMOVE_CONFIRMED
    ),
    DeviceAction.REMOVE_CONFIRMED: remove,
}


@router.callback_query(DeviceCD.filter())
async def device_button(
    query: CallbackQuery,
    callback_data: DeviceCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    notifier: Notifier,
    state: FSMContext,
    bot: Bot,
) -> None:
    tap = Tap(query, user, t, devices, notifier, state, bot)
    await ACTIONS[callback_data.action](tap, callback_data.device_id)


@router.callback_query(RouteCD.filter())
async def route_chosen(
    query: CallbackQuery,
    callback_data: RouteCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    notifier: Notifier,
    state: FSMContext,
    bot: Bot,
) -> None:
    item = await devices.set_routes(user.id, callback_data.device_id, callback_data.preset)
    tap = Tap(query, user, t, devices, notifier, state, bot)
    await query.answer(t("config-preparing"))
    await tap.device(callback_data.device_id, t("devices-routes-changed"))
    await tap.config(item)
