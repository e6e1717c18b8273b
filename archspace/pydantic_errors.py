"""The one formatter of pydantic validation errors, for genotypes and config blocks alike: pydantic's list of
errors becomes one (field path, reason) pair, e.g. ("stages[2].mixer.kernels[0]", "must be an integer, got a
string '3'") or ("evaluator.batch", "unknown field; known fields: ...")."""
from __future__ import annotations

from typing import Any, Iterable

from pydantic import ValidationError

from archspace.errors import ArchspaceError, GenotypeError, join_path

_EXPECTED = {
    "int_type": "an integer", "int_from_float": "an integer", "int_parsing": "an integer", "float_type": "a number",
    "float_parsing": "a number", "bool_type": "true or false", "string_type": "a string", "tuple_type": "a list",
    "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_JSON_TYPES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list", tuple: "a list",
               dict: "a mapping", type(None): "null"}
_WRAPPERS = ("function-", "nullable", "tagged-union")  # validator and union layers pydantic puts in a location


def shown(value: Any) -> str:
    """`a string '96'`: a value's JSON type and a short repr, for one-line messages."""
    text = repr(value)
    return f"{_JSON_TYPES.get(type(value), type(value).__name__)} {text if len(text) <= 40 else text[:37] + '...'}"


def field_path(loc: tuple, data: Any = None) -> str:
    """A pydantic error location as `stages[2].mixer.kernels[0]`: validator and union layers and the
    discriminator tag of a tagged union (a location part equal to the node's `kind`) are dropped."""
    path, node = "", data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, (list, tuple)) and part < len(node) else None
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        if not (isinstance(node, dict) and part in node) and str(part).startswith(_WRAPPERS):
            continue
        path = f"{path}.{part}" if path else str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return path


def _reason(e: dict, fields: Iterable[str]) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "union_tag_invalid":
        return f"unknown kind {e['input'].get('kind')!r}; known kinds: {ctx['expected_tags']}"
    if kind == "union_tag_not_found":
        return f"needs a `kind` ({ctx['discriminator']})"
    if kind == "extra_forbidden":
        known = list(fields) if len(e["loc"]) == 1 else []
        return "unknown field" + (f"; known fields: {', '.join(known)}" if known else "")
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        return f"{e['input']!r} is not one of {ctx['expected']}"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, got {shown(e['input'])}"
    message = e["msg"].removeprefix("Value error, ")
    return f"{message}, got {shown(e['input'])}" if ctx and "input" in e and "error" not in ctx else message


def first_error(err: ValidationError, data: Any = None, fields: Iterable[str] = ()) -> tuple[str, str]:
    """(path, reason) of the clearest of pydantic's errors: one archspace raised inside a validator if any
    (a GenotypeError's own path is placed under where it was raised), else the first. `data` is what was
    validated (to tell union tags from field names); `fields` are listed after an unknown top-level field."""
    errors = err.errors()
    for e in errors:
        original = (e.get("ctx") or {}).get("error")
        if isinstance(original, GenotypeError):
            return join_path(field_path(e["loc"], data), original.path), original.reason
        if isinstance(original, ArchspaceError):
            return field_path(e["loc"], data), str(original)
    return field_path(errors[0]["loc"], data), _reason(errors[0], fields)


def one_line(err: ValidationError, data: Any = None, prefix: str = "", fields: Iterable[str] = ()) -> ArchspaceError:
    """`first_error` as an ArchspaceError('<prefix>.<path>: <reason>')."""
    path, reason = first_error(err, data, fields)
    path = join_path(prefix, path)
    return ArchspaceError(f"{path}: {reason}" if path else reason)
