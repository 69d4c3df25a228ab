"""aiogram's Bot API types built on first use instead of all at import: importing aiogram
builds the validators of every one of its 400-odd types (about 4 s and 100 MB here), of which
the bot meets a few dozen. `import_aiogram()` runs before anything imports aiogram: when the
bot starts (main.py) and in the tests."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

TYPES_PACKAGE = "aiogram.types"


def import_aiogram() -> None:
    """Import aiogram with its types' `model_rebuild` loop deferred: each type gets the names
    that loop would have resolved its annotations with, and pydantic builds it when it is
    first used. Nothing changes when aiogram is imported already."""
    if "aiogram" in sys.modules:
        return
    rebuild = BaseModel.__dict__["model_rebuild"]
    namespaces: list[dict[str, Any]] = []
    deferred: list[type[BaseModel]] = []

    def deferring(cls: type[BaseModel], *args: Any, **kwargs: Any) -> bool | None:
        names = kwargs.get("_types_namespace")
        if sys._getframe(1).f_globals.get("__name__") == TYPES_PACKAGE and names is not None:
            namespaces.append(names)
            deferred.append(cls)
            return None
        return rebuild.__func__(cls, *args, **kwargs)  # type: ignore[no-any-return]

    setattr(BaseModel, "model_rebuild", classmethod(deferring))  # noqa: B010
    try:
        import aiogram  # noqa: F401 - the import being made lazy
    finally:
        setattr(BaseModel, "model_rebuild", rebuild)  # noqa: B010
    if not namespaces:
        return
    for module in {sys.modules[cls.__module__] for cls in deferred}:
        for name, value in namespaces[0].items():
            module.__dict__.setdefault(name, value)
