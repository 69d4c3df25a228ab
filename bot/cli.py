"""What the operator's command line shows of a refusal: one line in English, no secret."""

from __future__ import annotations

from locales import translator_for
from services.errors import ServiceError


def refusal(error: ServiceError) -> str:
    field = error.args_for_text.get("field")
    if field:
        return f"invalid {field}"
    return translator_for("en")(error.key, **error.args_for_text)
