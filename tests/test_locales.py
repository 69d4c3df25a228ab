"""Both languages define the same texts, and every text the code asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

from fluent.runtime import FluentBundle, FluentResource
from fluent.syntax import FluentParser, ast, visitor

from locales.translator import LANGUAGES, LOCALES_DIR

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("bot", "handlers", "keyboards", "services", "web", "locales")
TEMPLATES = ROOT / "web" / "templates"  # the page's Jinja2 templates ask for texts too
JINJA_CODE = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)  # where, not in HTML's own ids
KEY_IN_CODE = re.compile(r"""["']((?:[a-z0-9]+-)+[a-z0-9]+)["']""")


def message_ids(language: str) -> set[str]:
    ids: set[str] = set()
    for path in (LOCALES_DIR / language).glob("*.ftl"):
        resource = FluentParser().parse(path.read_text())
        junk = [entry for entry in resource.body if isinstance(entry, ast.Junk)]
        assert not junk, f"{path}: syntax error near {junk[0].content[:60]!r}"
        ids |= {entry.id.name for entry in resource.body if isinstance(entry, ast.Message)}
    return ids


def test_languages_define_the_same_keys() -> None:
    ru, en = message_ids("ru"), message_ids("en")
    assert ru - en == set(), "missing in en"
    assert en - ru == set(), "missing in ru"


def test_every_key_used_in_code_exists() -> None:
    defined = message_ids("ru")
    used: set[str] = set()
    code = [path.read_text() for folder in CODE_DIRS for path in (ROOT / folder).rglob("*.py")]
    templates = [
        " ".join(JINJA_CODE.findall(path.read_text())) for path in TEMPLATES.glob("*.html")
    ]
    for text in [*code, *templates]:
        used |= {key for key in KEY_IN_CODE.findall(text) if key.split("-")[0] in PREFIXES}
    assert used, "the scan found no keys at all"
    assert used - defined == set()


PREFIXES = {m.split("-")[0] for m in message_ids("ru")}


class _Variables(visitor.Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_VariableReference(self, node: ast.VariableReference) -> None:
        self.names.add(node.id.name)


def test_every_message_formats_in_both_languages_without_errors() -> None:
    for language in LANGUAGES:
        bundle = FluentBundle([language], use_isolating=False)
        for path in (LOCALES_DIR / language).glob("*.ftl"):
            bundle.add_resource(FluentResource(path.read_text()))
        for key in message_ids(language):
            message = bundle.get_message(key)
            assert message.value is not None, (language, key)
            found = _Variables()
            found.visit(message.value)
            text, errors = bundle.format_pattern(message.value, dict.fromkeys(found.names, "x"))
            assert not errors, (language, key, errors)
            assert text.strip(), (language, key)
