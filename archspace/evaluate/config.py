"""Config blocks validated into pydantic models, with one-line errors naming the field (archspace.pydantic_errors,
the formatter genotypes and the search config use too)."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from archspace.errors import ArchspaceError
from archspace.pydantic_errors import one_line

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, prefix: str) -> M:
    """`model` from `data`; a bad field raises ArchspaceError('<prefix>.<field>: <reason>')."""
    if not isinstance(data, dict):
        raise ArchspaceError(f"{prefix}: must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise one_line(err, data, prefix, model.model_fields) from None
