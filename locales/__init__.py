"""Texts in Russian (the default) and English, and the Translator that reads them."""

from locales.translator import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    FluentTranslator,
    Translator,
    all_translators,
    pick_language,
    translator_for,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "FluentTranslator",
    "Translator",
    "all_translators",
    "pick_language",
    "translator_for",
]
