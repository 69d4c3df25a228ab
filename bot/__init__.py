"""Composition root: settings, database, middlewares, i18n, the app factory."""
