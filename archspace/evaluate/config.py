"""Config blocks validated into pydantic models, with one-line errors naming the field (the one formatter
of pydantic errors for configs: evaluate blocks and the search config alike)."""
from __future__ import annotations

from typing import Any, Iterable, TypeVar

from pydantic import BaseModel, ValidationError

from archspace.errors import ArchspaceError

M = TypeVar("M", bound=BaseModel)


def one_line(err: ValidationError, prefix: str = "", fields: Iterable[str] = ()) -> ArchspaceError:
    """pydantic's first error as '<prefix>.<field>[i]...: <reason>'; `fields` are listed after an unknown top-level field."""
    e = err.errors()[0]
    loc = prefix
    for part in e["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union")):
            loc = f"{loc}.{part}" if loc else str(part)
    original = (e.get("ctx") or {}).get("error")
    if isinstance(original, ArchspaceError):
        reason = str(original)
    elif e["type"] == "extra_forbidden":
        known = list(fields) if len(e["loc"]) == 1 else []
        reason = "unknown field" + (f"; known fields: {', '.join(known)}" if known else "")
    elif e["type"] == "missing":
        reason = "is required"
    elif e["type"] == "literal_error":
        reason = f"{e['input']!r} is not one of {e['ctx']['expected']}"
    else:
        reason = e["msg"].removeprefix("Value error, ")
    return ArchspaceError(f"{loc}: {reason}" if loc else reason)


def validate(model: type[M], data: Any, prefix: str) -> M:
    """`model` from `data`; a bad field raises ArchspaceError('<prefix>.<field>: <reason>')."""
    if not isinstance(data, dict):
        raise ArchspaceError(f"{prefix}: must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise one_line(err, prefix, model.model_fields) from None
