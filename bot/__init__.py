"""Composition root: settings, services, middlewares, the Dispatcher, the web app, scheduling."""
