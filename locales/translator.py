"""Fluent translations: `ru` (default) and `en`, usable inside and outside an update."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from fluent.runtime import FluentLocalization, FluentResourceLoader

LOCALES_DIR = Path(__file__).resolve().parent
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"


class Translator(Protocol):
    language: str

    def __call__(self, key: str, /, **args: Any) -> str: ...


class FluentTranslator:
    """Formats a message id in one language; a missing id is a bug caught by the tests."""

    def __init__(self, language: str) -> None:
        self.language = language
        fallbacks = [language] if language == DEFAULT_LANGUAGE else [language, DEFAULT_LANGUAGE]
        loader = FluentResourceLoader(str(LOCALES_DIR / "{locale}"))
        self._fluent = FluentLocalization(fallbacks, resource_files(), loader)

    def __call__(self, key: str, /, **args: Any) -> str:
        return str(self._fluent.format_value(key, args)).replace("\u2068", "").replace("\u2069", "")


def resource_files() -> list[str]:
    return sorted(path.name for path in (LOCALES_DIR / DEFAULT_LANGUAGE).glob("*.ftl"))


RUSSIAN_READERS = frozenset({"ru", "uk", "be", "kk", "ky", "uz", "tg", "hy", "az"})


def pick_language(language_code: str | None) -> str:
    """The bot's language for a Telegram `language_code`: Russian for the region, else English."""
    if not language_code:
        return DEFAULT_LANGUAGE
    base = language_code.lower().split("-")[0]
    return "ru" if base in RUSSIAN_READERS else "en"


@cache
def translator_for(language: str | None) -> FluentTranslator:
    return FluentTranslator(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def all_translators() -> Mapping[str, FluentTranslator]:
    return {language: translator_for(language) for language in LANGUAGES}
