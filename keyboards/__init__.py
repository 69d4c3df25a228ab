"""Inline keyboards and the typed callback data their buttons carry."""
