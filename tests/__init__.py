"""Tests: the bot's own aiogram import (types built on first use), before any test imports it."""

from bot.lazytypes import import_aiogram

import_aiogram()
