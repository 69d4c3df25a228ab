"""Devices menu buttons: the list, one device's actions, its routes, and removal to confirm."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import DeviceAction, DeviceCD, RouteCD
from locales import Translator


def device_list(
    t: Translator, devices: Sequence[tuple[int, str]], can_add: bool
) -> InlineKeyboardMarkup:
    """One button per device (id, label), then "Add device" while the limit allows."""
    builder = InlineKeyboard()
    for device_id, label in devices:
        builder.button(
            text=t("devices-button", name=label),
            callback_data=DeviceCD(action=DeviceAction.SHOW, device_id=device_id),
        )
    if can_add:
        builder.button(text=t("devices-add"), callback_data=DeviceCD(action=DeviceAction.ADD))
    builder.adjust(1)
    return builder.as_markup()


def device_actions(t: Translator, device_id: int, routes: bool) -> InlineKeyboardMarkup:
    """Config, rename, routes (when presets exist), new keys, remove, and back to the list."""
    builder = InlineKeyboard()
    for key, action in (
        ("devices-config", DeviceAction.CONFIG),
        ("devices-rename", DeviceAction.RENAME),
        ("devices-routes", DeviceAction.ROUTES),
        ("devices-rekey", DeviceAction.REKEY),
        ("devices-remove", DeviceAction.REMOVE),
        ("devices-back-to-list", DeviceAction.LIST),
    ):
        if action is DeviceAction.ROUTES and not routes:
            continue
        builder.button(text=t(key), callback_data=DeviceCD(action=action, device_id=device_id))
    builder.adjust(1, 2 if routes else 1, 2, 1)
    return builder.as_markup()


def back_to_device(t: Translator, device_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("devices-back"),
        callback_data=DeviceCD(action=DeviceAction.SHOW, device_id=device_id),
    )
    return builder.as_markup()


def confirm(t: Translator, device_id: int, yes_key: str, yes: DeviceAction) -> InlineKeyboardMarkup:
    """A "yes" button for `yes` (remove, new keys) and Cancel back to the device."""
    builder = InlineKeyboard()
    builder.button(text=t(yes_key), callback_data=DeviceCD(action=yes, device_id=device_id))
    builder.button(
        text=t("button-cancel"),
        callback_data=DeviceCD(action=DeviceAction.SHOW, device_id=device_id),
    )
    return builder.as_markup()


def route_choices(
    t: Translator, device_id: int, presets: Sequence[tuple[str, str]], current: str
) -> InlineKeyboardMarkup:
    """Everything through the VPN, then each preset (key, title); the current one marked."""
    builder = InlineKeyboard()
    for key, title in (("", t("devices-routes-all")), *presets):
        label = t("devices-routes-current", title=title) if key == current else title
        builder.button(text=label, callback_data=RouteCD(device_id=device_id, preset=key))
    builder.button(
        text=t("devices-back"),
        callback_data=DeviceCD(action=DeviceAction.SHOW, device_id=device_id),
    )
    builder.adjust(1)
    return builder.as_markup()
