"""Composition root: settings, services, middlewares, the Dispatcher, the web app, scheduling."""

from bot import lazytypes  # noqa: F401 - before any module imports aiogram
