"""Config blocks validated into pydantic models, with one-line errors naming the field."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from archspace.errors import ArchspaceError

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, prefix: str) -> M:
    """`model` from `data`; a bad field raises ArchspaceError('<prefix>.<field>: <reason>')."""
    if not isinstance(data, dict):
        raise ArchspaceError(f"{prefix}: must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        original = (e.get("ctx") or {}).get("error")
        if isinstance(original, ArchspaceError):
            reason = str(original)
        elif e["type"] == "extra_forbidden":
            reason = f"unknown field; known fields: {', '.join(model.model_fields)}"
        elif e["type"] == "literal_error":
            reason = f"{e['input']!r} is not one of {e['ctx']['expected']}"
        else:
            reason = e["msg"].removeprefix("Value error, ")
        raise ArchspaceError(f"{loc}: {reason}") from None
